//! Known-answer tests for the primitives under both cipher suites, read from the published
//! vectors in `testdata/kat/*.txt`. Each data file names its source document and holds that
//! document's published values, so the expected answers are independent of the code under test.
//!
//! Every test also asserts how many records it read, so a truncated or damaged data file fails
//! instead of quietly testing less.

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, Payload};
use des::Des;
use des::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit,
};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

mod katfile;

type DesBlock = Array<u8, des::cipher::consts::U8>;

fn blocks(data: &[u8], at: &katfile::Record) -> Vec<DesBlock> {
    assert_eq!(data.len() % 8, 0, "{at}: not a whole number of DES blocks");
    data.chunks_exact(8).map(|c| DesBlock::try_from(c).unwrap()).collect()
}

fn flat(blocks: &[DesBlock]) -> Vec<u8> {
    blocks.iter().flat_map(|b| b.iter().copied()).collect()
}

fn flip_bit(data: &[u8], bit: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

#[test]
fn des_ecb_known_answers() {
    for r in katfile::load("des-ecb.txt", 172) {
        let des = Des::new_from_slice(&r.hex("key")).unwrap_or_else(|e| panic!("{r}: {e}"));
        let (pt, ct) = (r.hex("plaintext"), r.hex("ciphertext"));
        let mut buf = blocks(&pt, &r);
        des.encrypt_blocks(&mut buf);
        assert_eq!(hex::encode(flat(&buf)), hex::encode(&ct), "{r}: encrypt");
        let mut buf = blocks(&ct, &r);
        des.decrypt_blocks(&mut buf);
        assert_eq!(hex::encode(flat(&buf)), hex::encode(&pt), "{r}: decrypt");
    }
}

#[test]
fn des_cbc_known_answers() {
    type Enc = cbc::Encryptor<Des>;
    type Dec = cbc::Decryptor<Des>;
    for r in katfile::load("des-cbc.txt", 3) {
        let (key, iv) = (r.hex("key"), r.hex("iv"));
        let (pt, ct) = (r.hex("plaintext"), r.hex("ciphertext"));
        let mut buf = blocks(&pt, &r);
        Enc::new_from_slices(&key, &iv).unwrap().encrypt_blocks(&mut buf);
        assert_eq!(hex::encode(flat(&buf)), hex::encode(&ct), "{r}: encrypt");
        let mut buf = blocks(&ct, &r);
        Dec::new_from_slices(&key, &iv).unwrap().decrypt_blocks(&mut buf);
        assert_eq!(hex::encode(flat(&buf)), hex::encode(&pt), "{r}: decrypt");
    }
}

#[test]
fn md5_known_answers() {
    for r in katfile::load("md5.txt", 7) {
        let (data, digest) = (r.input("data"), r.hex("digest"));
        assert_eq!(hex::encode(Md5::digest(&data)), hex::encode(&digest), "{r}: one shot");
        // Byte-at-a-time updates cross every block boundary the one-shot call does not.
        let mut h = Md5::new();
        data.iter().for_each(|b| h.update([*b]));
        assert_eq!(hex::encode(h.finalize()), hex::encode(&digest), "{r}: incremental");
    }
}

fn check_hmac<M: Mac + KeyInit>(file: &str, expected: usize) {
    for r in katfile::load(file, expected) {
        let (key, data, mac) = (r.hex("key"), r.input("data"), r.hex("mac"));
        let new = || {
            let mut m = <M as KeyInit>::new_from_slice(&key).unwrap();
            m.update(&data);
            m
        };
        let full = new().finalize().into_bytes();
        match r.number("truncate") {
            Some(n) => {
                assert_eq!(mac.len(), n, "{r}: `truncate` disagrees with the stored mac");
                assert_eq!(hex::encode(&full[..n]), hex::encode(&mac), "{r}: compute");
                new().verify_truncated_left(&mac).unwrap_or_else(|_| panic!("{r}: verify"));
            }
            None => {
                assert_eq!(hex::encode(&full), hex::encode(&mac), "{r}: compute");
                new().verify_slice(&mac).unwrap_or_else(|_| panic!("{r}: verify"));
            }
        }
        for bit in [0, mac.len() * 8 - 1] {
            let bad = flip_bit(&mac, bit);
            let rejected = if r.number("truncate").is_some() {
                new().verify_truncated_left(&bad).is_err()
            } else {
                new().verify_slice(&bad).is_err()
            };
            assert!(rejected, "{r}: a mac with bit {bit} flipped was accepted");
        }
    }
}

#[test]
fn hmac_md5_known_answers() {
    check_hmac::<Hmac<Md5>>("hmac-md5.txt", 7);
}

#[test]
fn hmac_sha256_known_answers() {
    check_hmac::<Hmac<Sha256>>("hmac-sha256.txt", 7);
}

#[test]
fn chacha20_poly1305_known_answers() {
    for r in katfile::load("chacha20-poly1305.txt", 2) {
        let aead = ChaCha20Poly1305::new_from_slice(&r.hex("key")).unwrap();
        let nonce = chacha20poly1305::Nonce::try_from(&r.hex("nonce")[..]).unwrap();
        let (aad, pt) = (r.hex("aad"), r.input("plaintext"));
        let sealed = [r.hex("ciphertext"), r.hex("tag")].concat();

        let out = aead.encrypt(&nonce, Payload { msg: &pt, aad: &aad }).unwrap();
        assert_eq!(hex::encode(&out), hex::encode(&sealed), "{r}: encrypt");
        let out = aead
            .decrypt(&nonce, Payload { msg: &sealed, aad: &aad })
            .unwrap_or_else(|_| panic!("{r}: decrypt"));
        assert_eq!(hex::encode(&out), hex::encode(&pt), "{r}: decrypt");

        // The tag is the last 16 bytes; flip one bit in it, in the ciphertext, and in the AAD.
        let tag_bit = (sealed.len() - 16) * 8 + 5;
        for (what, msg, aad) in [
            ("tag", flip_bit(&sealed, tag_bit), aad.clone()),
            ("ciphertext", flip_bit(&sealed, 3), aad.clone()),
            ("aad", sealed.clone(), flip_bit(&aad, 0)),
        ] {
            let res = aead.decrypt(&nonce, Payload { msg: &msg, aad: &aad });
            assert!(res.is_err(), "{r}: decrypted despite a flipped bit in the {what}");
        }
    }
}

#[test]
fn parser_reads_fields_and_rejects_malformed_input() {
    let recs = katfile::parse("t", "# source: x\n\ncount = 1\nascii =\n\n# note\ncount = 2\ndata = 00ff\n");
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].input("data"), b"");
    assert_eq!(recs[1].input("data"), [0, 255]);
    assert_eq!(recs[1].number("count"), Some(2));
    for bad in ["count = 1\n", "# source: x\ncount 1\n", "# source: x\nkey = 00\nkey = 01\n"] {
        assert!(std::panic::catch_unwind(|| katfile::parse("t", bad)).is_err(), "accepted {bad:?}");
    }
}
