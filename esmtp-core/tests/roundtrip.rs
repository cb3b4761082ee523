//! Round trips for every suite and recipient type, streaming edge cases, and tamper detection.

mod common;

use std::io::{Read, Write};

use esmtp_core::{
    Argon2Params, KeySlip, OpenError, Opener, Passphrase, SealError, Sealer, Signature, Suite, X25519Identity,
};
use proptest::prelude::*;

const CHEAP: Argon2Params = Argon2Params { m_cost: 256, t_cost: 1, p_cost: 1 };

fn cheap(p: &str) -> Passphrase {
    Passphrase::new(p).with_params(CHEAP).unwrap()
}

#[test]
fn every_suite_and_recipient_type_round_trips() {
    let msg = common::pattern(100_000, 1);
    for suite in Suite::ALL {
        let bob = X25519Identity::generate().unwrap();
        let carol = X25519Identity::generate().unwrap();
        let sealed = Sealer::new()
            .suite(suite)
            .recipient(bob.to_public())
            .recipient(carol.to_public())
            .recipient(cheap("hunter2"))
            .key_slip()
            .seal(&msg)
            .unwrap();
        let slip: KeySlip = sealed.key_slip.as_ref().unwrap().to_token().parse().unwrap();
        let openers = [
            Opener::new().identity(bob),
            Opener::new().identity(carol),
            Opener::new().identity(cheap("hunter2")),
            Opener::new().identity(slip),
        ];
        for opener in openers {
            let opened = opener.open(&sealed.envelope).unwrap();
            assert_eq!(opened.plaintext(), &msg[..]);
            assert_eq!(opened.suite(), suite);
            assert_eq!(opened.envelope_id(), sealed.envelope_id);
            assert_eq!(opened.md5(), common::md5(&msg));
            assert_eq!(opened.signature(), &Signature::Unsigned);
        }
        let armored = esmtp_core::armor(&sealed.envelope);
        let opened = Opener::new().identity(cheap("hunter2")).open(armored.as_bytes()).unwrap();
        assert_eq!(opened.plaintext(), &msg[..]);
    }
}

#[test]
fn default_suite_is_modern_and_legacy_only_on_request() {
    let bob = X25519Identity::generate().unwrap();
    let sealed = Sealer::new().recipient(bob.to_public()).seal(b"x").unwrap();
    assert_eq!(esmtp_core::inspect(&sealed.envelope).unwrap().suite, Suite::ChaCha20Poly1305);
    let sealed = Sealer::new().suite(Suite::LegacyDesCbcMd5).recipient(bob.to_public()).seal(b"x").unwrap();
    assert_eq!(esmtp_core::inspect(&sealed.envelope).unwrap().suite, Suite::LegacyDesCbcMd5);
}

#[test]
fn wrong_keys_are_no_matching_recipient_never_garbage() {
    for suite in Suite::ALL {
        let bob = X25519Identity::generate().unwrap();
        let eve = X25519Identity::generate().unwrap();
        let sealed = Sealer::new()
            .suite(suite)
            .recipient(bob.to_public())
            .recipient(cheap("right"))
            .seal(b"secret")
            .unwrap();
        let other = Sealer::new().suite(suite).key_slip().seal(b"other").unwrap();
        for opener in [
            Opener::new().identity(eve),
            Opener::new().identity(cheap("wrong")),
            Opener::new().identity(other.key_slip.unwrap()),
            Opener::new(),
        ] {
            assert!(matches!(opener.open(&sealed.envelope), Err(OpenError::NoMatchingRecipient)));
        }
    }
}

#[test]
fn at_most_one_passphrase_per_envelope() {
    let two = Sealer::new().recipient(cheap("one")).recipient(cheap("two")).seal(b"x");
    assert!(matches!(two, Err(SealError::TwoPassphrases)));
}

#[test]
fn sealing_for_nobody_is_refused() {
    assert!(matches!(Sealer::new().seal(b"x"), Err(SealError::NoRecipients)));
}

#[test]
fn des_keys_have_odd_parity_and_are_never_weak() {
    for _ in 0..200 {
        let sealed = Sealer::new().suite(Suite::LegacyDesCbcMd5).key_slip().seal(b"").unwrap();
        let token = sealed.key_slip.unwrap().to_token();
        let (_, data) = bech32::decode(&token).unwrap();
        let key = data[16..24].to_vec();
        assert!(key.iter().all(|b| b.count_ones() % 2 == 1), "{key:02x?}");
        assert!(des::weak_key_test(&key).is_ok());
    }
}

/// Sizes around chunk boundaries, given the prefix (1 or 65 bytes) and suffix (0, 16, 64 or 80
/// bytes) of the chunk stream (SPEC.md section 5).
fn edge_sizes() -> Vec<usize> {
    let c = common::C;
    let mut sizes = vec![0, 1, 15, 16, 17, 2 * c + 5];
    for framing in [1, 17, 65, 81, 129, 145] {
        for delta in [-1i64, 0, 1] {
            sizes.push((c as i64 - framing + delta) as usize);
            sizes.push((2 * c as i64 - framing + delta) as usize);
        }
    }
    sizes
}

#[test]
fn streaming_matches_one_shot_at_chunk_edges() {
    let alice = X25519Identity::generate().unwrap();
    for (suite, signed) in Suite::ALL.into_iter().flat_map(|s| [(s, false), (s, true)]) {
        for len in edge_sizes() {
            let msg = common::pattern(len, 7);
            let mut sealer = Sealer::new().suite(suite).key_slip();
            if signed {
                sealer = sealer.sign_with(alice.clone());
            }
            let mut writer = sealer.seal_writer(Vec::new()).unwrap();
            let slip = writer.take_key_slip().unwrap();
            // Odd write sizes exercise the buffering.
            for piece in msg.chunks(9_999) {
                writer.write_all(piece).unwrap();
            }
            let envelope = writer.finish().unwrap();
            let mut reader = Opener::new().identity(slip.clone()).open_reader(&envelope[..]).unwrap();
            assert_eq!(reader.signature().signer().is_some(), signed, "the signer is known from chunk 0");
            let one_chunk = envelope.len() - 78 <= suite_wire_len(suite);
            assert_eq!(reader.is_verified(), one_chunk, "only a one-chunk envelope is verified at once");
            let mut out = Vec::new();
            let mut buf = [0u8; 3_333];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(out, msg, "{suite} len {len} signed {signed}");
            assert!(reader.is_verified());
            assert_eq!(reader.carried_md5().is_some(), suite == Suite::LegacyDesCbcMd5);
            let opened = Opener::new().identity(slip).open(&envelope).unwrap();
            assert_eq!(opened.plaintext(), &msg[..]);
            assert_eq!(opened.signature().signer(), signed.then(|| alice.to_public()).as_ref());
        }
    }
}

#[test]
fn streaming_releases_only_authenticated_chunks() {
    for suite in Suite::ALL {
        let msg = common::pattern(3 * common::C, 3);
        let sealed = Sealer::new().suite(suite).key_slip().seal(&msg).unwrap();
        let mut envelope = sealed.envelope.clone();
        // Damage the second chunk: the first is released, nothing of the second.
        let header_len = 27 + 3 + 16 + 32;
        envelope[header_len + suite_wire_len(suite) + 10] ^= 1;
        let mut reader =
            Opener::new().identity(sealed.key_slip.clone().unwrap()).open_reader(&envelope[..]).unwrap();
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        assert!(matches!(OpenError::from_io(err), OpenError::DecryptionFailed));
        // Chunk 0 holds the prefix byte; des-cbc-md5 holds back the last 16 bytes, which might
        // have been the digest.
        let released = if suite == Suite::LegacyDesCbcMd5 { common::C - 1 - 16 } else { common::C - 1 };
        assert_eq!(out, &msg[..released]);
        // The failure is sticky.
        assert!(reader.read(&mut [0u8; 16]).is_err());
        // The one-shot API releases nothing at all.
        assert!(matches!(
            Opener::new().identity(sealed.key_slip.unwrap()).open(&envelope),
            Err(OpenError::DecryptionFailed)
        ));
    }
}

/// `OpenReader::hash_released` asked for before reading gives the message's MD5; asked for
/// once reading has begun it gives none, rather than the digest of what was left.
#[test]
fn the_released_md5_is_whole_or_absent() {
    let message = common::pattern(3 * 65_536 + 17, 2);
    let sealed = Sealer::new().key_slip().seal(&message).unwrap();
    let opener = Opener::new().identity(sealed.key_slip.unwrap());

    let mut early = opener.open_reader(&sealed.envelope[..]).unwrap();
    early.hash_released();
    assert!(std::io::copy(&mut early, &mut std::io::sink()).unwrap() == message.len() as u64);
    assert_eq!(early.md5(), Some(common::md5(&message)));

    let mut late = opener.open_reader(&sealed.envelope[..]).unwrap();
    late.read_exact(&mut [0u8; 100]).unwrap();
    late.hash_released();
    std::io::copy(&mut late, &mut std::io::sink()).unwrap();
    assert!(late.is_verified());
    assert_eq!(late.md5(), None);
}

fn suite_wire_len(suite: Suite) -> usize {
    match suite {
        Suite::LegacyDesCbcMd5 => 65560,
        _ => 65552,
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for suite in Suite::ALL {
        let bob = X25519Identity::generate().unwrap();
        let sealed =
            Sealer::new().suite(suite).recipient(bob.to_public()).key_slip().seal(b"attack at dawn").unwrap();
        let opener = Opener::new().identity(bob).identity(sealed.key_slip.unwrap());
        assert!(opener.open(&sealed.envelope).is_ok());
        for bit in 0..sealed.envelope.len() * 8 {
            let mut e = sealed.envelope.clone();
            e[bit / 8] ^= 1 << (bit % 8);
            assert!(opener.open(&e).is_err(), "{suite}: flip of bit {bit} accepted");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_plaintexts_round_trip(len in 0usize..(1 << 20), seed in any::<u8>(), legacy in any::<bool>()) {
        let suite = if legacy { Suite::LegacyDesCbcMd5 } else { Suite::ChaCha20Poly1305 };
        let msg = common::pattern(len, seed);
        let sealed = Sealer::new().suite(suite).key_slip().seal(&msg).unwrap();
        let opened = Opener::new().identity(sealed.key_slip.unwrap()).open(&sealed.envelope).unwrap();
        prop_assert_eq!(opened.plaintext(), &msg[..]);
    }
}
