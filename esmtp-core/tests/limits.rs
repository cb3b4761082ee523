//! SPEC.md section 5.2: a `des-cbc-md5` envelope has at most 4096 chunks (256 MiB), far below the
//! birthday bound of DES's 64-bit blocks. Encoders refuse longer messages with a typed error;
//! decoders fail at chunk 4096.

mod common;

use std::io::{self, Read, Write};

use esmtp_core::{OpenError, Opener, SealError, Sealer, Suite, X25519Identity};

const CHUNKS: usize = 4096;
const C: usize = common::C;

#[test]
fn the_limit_is_what_the_spec_says() {
    let des = Sealer::new().suite(Suite::LegacyDesCbcMd5).key_slip();
    assert_eq!(des.max_message_len(), Some((CHUNKS * C - 17) as u64), "F and D: 17 bytes");
    let signed = Sealer::new().suite(Suite::LegacyDesCbcMd5).sign_with(X25519Identity::generate().unwrap());
    assert_eq!(signed.max_message_len(), Some((CHUNKS * C - 145) as u64), "F, A, D and SIG: 145 bytes");
    assert_eq!(Sealer::new().max_message_len(), None, "chacha20-poly1305 has no such limit");
}

#[test]
fn one_shot_sealing_refuses_a_message_over_the_limit_before_any_work() {
    let sealer = Sealer::new().suite(Suite::LegacyDesCbcMd5).key_slip();
    let limit = sealer.max_message_len().unwrap() as usize;
    // Zeroed memory costs nothing until written: the refusal must come before any encryption.
    let message = vec![0u8; limit + 1];
    let err = sealer.seal(&message).unwrap_err();
    assert!(
        matches!(err, SealError::MessageTooLarge { suite: "des-cbc-md5", limit: l } if l == limit as u64)
    );
    assert!(err.to_string().contains("268435439"), "{err}");
}

/// Zeros, `n` bytes, without holding them.
fn zeros(n: usize) -> impl Read {
    io::repeat(0).take(n as u64)
}

/// 256 MiB of DES, three passes: run by `scripts/test` with the other ignored tests.
#[test]
#[ignore = "768 MiB of DES work: run by scripts/test"]
fn des_envelopes_stop_at_4096_chunks_on_both_sides() {
    let sealer = Sealer::new().suite(Suite::LegacyDesCbcMd5).key_slip();
    let limit = sealer.max_message_len().unwrap() as usize;

    // Streaming one byte too many fails with the typed error, carried through io::Error.
    let mut writer = sealer.seal_writer(io::sink()).unwrap();
    io::copy(&mut zeros(limit), &mut writer).unwrap();
    let err = writer.write_all(&[0]).and_then(|()| writer.finish().map(drop)).unwrap_err();
    let inner = err.into_inner().and_then(|e| e.downcast::<SealError>().ok()).expect("a SealError");
    assert!(matches!(*inner, SealError::MessageTooLarge { .. }));

    // Exactly the limit: 4096 chunks.
    let mut writer = sealer.seal_writer(Vec::with_capacity(CHUNKS * (C + 24) + 200)).unwrap();
    let slip = writer.take_key_slip().unwrap();
    io::copy(&mut zeros(limit), &mut writer).unwrap();
    let envelope = writer.finish().unwrap();
    let wire = C + 8 + 16;
    let header = envelope.len() - CHUNKS * wire;
    assert_eq!(envelope.len(), header + CHUNKS * wire);

    // A key holder appends chunk 4096: chunk 4095 re-encrypted as non-final, then a final one.
    // The reader accepts chunks 0 to 4095 and stops at 4096.
    let opener = Opener::new().identity(slip.clone());
    let token = slip.to_token();
    let (_, data) = bech32::decode(&token).unwrap();
    let key: [u8; 32] = data[16..48].try_into().unwrap();
    let mut last_plain = vec![0u8; C - 16];
    last_plain.extend_from_slice(&common::md5(&vec![0u8; limit]));
    let mut forged = envelope[..header + (CHUNKS - 1) * wire].to_vec();
    drop(envelope);
    forged.extend(common::des_chunk_raw(&key, (CHUNKS - 1) as u64, false, &common::pkcs7(&last_plain)));
    forged.extend(common::des_chunk_raw(&key, CHUNKS as u64, true, &common::pkcs7(b"x")));
    // One thread releases every chunk as it verifies; several release a batch of chunks once all
    // of it verified, so the batch holding chunk 4096 is never released.
    let released_with = |opener: Opener| {
        let mut reader = opener.open_reader(&forged[..]).unwrap();
        let mut released = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        let err = loop {
            match reader.read(&mut buf) {
                Ok(0) => panic!("chunk 4096 was accepted"),
                Ok(n) => released += n as u64,
                Err(e) => break e,
            }
        };
        assert!(matches!(OpenError::from_io(err), OpenError::DecryptionFailed));
        released
    };
    let one = released_with(Opener::new().identity(slip.clone()).threads(1));
    assert_eq!(one, limit as u64, "chunks 0 to 4095 released, all but the held-back digest");
    let two = released_with(opener.threads(2));
    assert!(two <= one && two + 32 * C as u64 >= one, "{two} of {one}: at most one batch held back");
}
