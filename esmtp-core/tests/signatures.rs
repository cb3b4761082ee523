//! Sender signatures (SPEC.md section 5.4) through the streaming reader, where a failure can only
//! be reported at the end, and the checks that happen before any plaintext is released.

mod common;

use std::io::Read;

use esmtp_core::{KeySlip, OpenError, Opener, Sealer, Signature, Suite, X25519Identity, X25519Recipient};

fn slip_token(id: &[u8; 16], key: &[u8; 32]) -> KeySlip {
    let mut data = id.to_vec();
    data.extend_from_slice(key);
    bech32::encode_upper::<bech32::Bech32>(bech32::Hrp::parse("ESMTP-SLIP-").unwrap(), &data)
        .unwrap()
        .parse()
        .unwrap()
}

/// A three-chunk envelope signed by `signer` over another header than its own (as when a
/// co-recipient re-wraps it): every chunk is authentic, the signature is not.
fn rewrapped(message: &[u8]) -> (Vec<u8>, KeySlip, Vec<u8>) {
    let (id, key) = ([9u8; 16], [8u8; 32]);
    let alice = common::Signer::from_seed(1);
    let original = common::header(0x01, &id, &[common::slip_stanza(&key, &[1; 16])], &key);
    let stream = common::chunk_stream(message, false, Some((&alice, &original)));
    let envelope = common::envelope(0x01, &id, &[common::slip_stanza(&key, &id)], &key, &stream);
    (envelope, slip_token(&id, &key), alice.public())
}

#[test]
fn streaming_releases_authentic_chunks_and_reports_a_bad_signature_at_the_end() {
    let message = common::pattern(3 * common::C, 2);
    let (envelope, slip, _) = rewrapped(&message);
    let mut reader = Opener::new().identity(slip.clone()).open_reader(&envelope[..]).unwrap();
    assert!(reader.signature().signer().is_some(), "claimed from chunk 0");
    let mut out = Vec::new();
    let err = reader.read_to_end(&mut out).unwrap_err();
    assert!(matches!(OpenError::from_io(err), OpenError::BadSignature));
    assert!(!reader.is_verified());
    // Released: authentic chunks only, never the held-back tail that holds the signature.
    assert!(!out.is_empty() && out.len() < message.len());
    assert_eq!(out, &message[..out.len()]);
    assert!(reader.read(&mut [0u8; 8]).is_err(), "the failure is sticky");
    // The one-shot call releases nothing.
    assert!(matches!(Opener::new().identity(slip).open(&envelope), Err(OpenError::BadSignature)));
}

#[test]
fn a_required_signer_is_checked_before_any_plaintext() {
    let alice = X25519Identity::generate().unwrap();
    let carol = X25519Identity::generate().unwrap();
    for suite in Suite::ALL {
        let signed =
            Sealer::new().suite(suite).key_slip().sign_with(alice.clone()).seal(b"from alice").unwrap();
        let unsigned = Sealer::new().suite(suite).key_slip().seal(b"from anyone").unwrap();
        let open = |sealed: &esmtp_core::Sealed, required: &X25519Recipient| {
            Opener::new()
                .identity(sealed.key_slip.clone().unwrap())
                .require_signer(required.clone())
                .open_reader(&sealed.envelope[..])
                .map(drop)
        };
        match open(&signed, &carol.to_public()) {
            Err(OpenError::UnexpectedSigner(Some(found))) => assert_eq!(found, alice.to_public()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(open(&unsigned, &alice.to_public()), Err(OpenError::UnexpectedSigner(None))));
        assert!(open(&signed, &alice.to_public()).is_ok());
        let err = open(&signed, &carol.to_public()).unwrap_err().to_string();
        assert!(err.contains(&alice.to_public().to_string()), "the message names who did sign: {err}");
    }
}

#[test]
fn signatures_with_every_recipient_type_and_the_signer_as_recipient() {
    let alice = X25519Identity::generate().unwrap();
    let bob = X25519Identity::generate().unwrap();
    for suite in Suite::ALL {
        let cheap = esmtp_core::Argon2Params { m_cost: 64, t_cost: 1, p_cost: 1 };
        let sealed = Sealer::new()
            .suite(suite)
            .recipient(bob.to_public())
            .recipient(alice.to_public())
            .recipient(esmtp_core::Passphrase::new("pw").with_params(cheap).unwrap())
            .key_slip()
            .sign_with(alice.clone())
            .seal(b"signed, to four")
            .unwrap();
        for opener in [
            Opener::new().identity(bob.clone()),
            Opener::new().identity(alice.clone()),
            Opener::new().identity(esmtp_core::Passphrase::new("pw")),
            Opener::new().identity(sealed.key_slip.clone().unwrap()),
        ] {
            let opened = opener.require_signer(alice.to_public()).open(&sealed.envelope).unwrap();
            assert_eq!(opened.signature(), &Signature::Signed { signer: alice.to_public() });
            assert_eq!(opened.plaintext(), b"signed, to four");
        }
    }
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let alice = X25519Identity::generate().unwrap();
    let secret = alice.to_secret_string();
    let sealer = Sealer::new().key_slip().sign_with(alice.clone());
    for text in [format!("{alice:?}"), format!("{sealer:?}")] {
        assert!(!text.contains(&secret[20..50]), "{text}");
    }
}
