//! An independent, minimal encoder written from SPEC.md alone (not from the crate's code), used to
//! build vectors the crate's own sealer never produces: weak keys, bad padding, bad digests.
#![allow(dead_code)]

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};

pub const C: usize = 65536;

pub fn hkdf<const N: usize>(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), ikm).expand(info, &mut out).unwrap();
    out
}

/// SPEC.md section 3: serialize a header with its MAC.
pub fn header(suite: u8, id: &[u8; 16], stanzas: &[(u8, Vec<u8>)], key: &[u8; 32]) -> Vec<u8> {
    let mut h = b"ESMTPENV".to_vec();
    h.push(1);
    h.push(suite);
    h.extend_from_slice(id);
    h.push(stanzas.len() as u8);
    for (kind, body) in stanzas {
        h.push(*kind);
        h.extend_from_slice(&(body.len() as u16).to_be_bytes());
        h.extend_from_slice(body);
    }
    let header_key: [u8; 32] = hkdf(key, id, b"esmtp/v1 header");
    let mut mac = <Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(&header_key).unwrap();
    mac.update(&h);
    h.extend_from_slice(&mac.finalize().into_bytes());
    h
}

/// SPEC.md section 4.3: the key-slip stanza for `key`.
pub fn slip_stanza(key: &[u8; 32], id: &[u8; 16]) -> (u8, Vec<u8>) {
    let slip_id: [u8; 16] = hkdf(key, id, b"esmtp/v1 key-slip");
    (0x03, slip_id.to_vec())
}

/// SPEC.md section 5.1: one chacha20-poly1305 chunk.
pub fn chacha_chunk(key: &[u8; 32], id: &[u8; 16], index: u64, last: bool, plain: &[u8]) -> Vec<u8> {
    let payload_key: [u8; 32] = hkdf(key, id, b"esmtp/v1 payload");
    let aead = ChaCha20Poly1305::new(&Key::from(payload_key));
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    let mut buf = plain.to_vec();
    let tag = aead.encrypt_inout_detached(&Nonce::from(nonce), b"", buf.as_mut_slice().into()).unwrap();
    buf.extend_from_slice(&tag);
    buf
}

/// DES encryption of one block, from the `des` crate directly.
pub fn des_block(key: &[u8], block: [u8; 8]) -> [u8; 8] {
    use des::cipher::{BlockCipherEncrypt, KeyInit as _};
    let des = des::Des::new_from_slice(key).unwrap();
    let mut b = block.into();
    des.encrypt_block(&mut b);
    b.into()
}

/// SPEC.md section 5.2: `IV_i = DES-E(K_des, R XOR BE64(i))`.
pub fn des_iv(key: &[u8; 32], index: u64) -> [u8; 8] {
    let mut x = [0u8; 8];
    for (j, b) in x.iter_mut().enumerate() {
        *b = key[8 + j] ^ index.to_be_bytes()[j];
    }
    des_block(&key[..8], x)
}

/// SPEC.md section 5.2: one des-cbc-md5 chunk over an already padded block sequence, so vectors
/// can carry deliberately wrong padding.
pub fn des_chunk_raw(key: &[u8; 32], index: u64, last: bool, padded: &[u8]) -> Vec<u8> {
    assert_eq!(padded.len() % 8, 0);
    let mut prev = des_iv(key, index);
    let mut ct = Vec::with_capacity(padded.len() + 16);
    for block in padded.chunks(8) {
        let mut x = [0u8; 8];
        for j in 0..8 {
            x[j] = block[j] ^ prev[j];
        }
        prev = des_block(&key[..8], x);
        ct.extend_from_slice(&prev);
    }
    let mut mac = <Hmac<md5::Md5> as hmac::KeyInit>::new_from_slice(&key[16..]).unwrap();
    mac.update(&index.to_be_bytes());
    mac.update(&[u8::from(last)]);
    mac.update(&ct);
    ct.extend_from_slice(&mac.finalize().into_bytes());
    ct
}

pub fn pkcs7(data: &[u8]) -> Vec<u8> {
    let pad = 8 - data.len() % 8;
    let mut v = data.to_vec();
    v.extend(std::iter::repeat_n(pad as u8, pad));
    v
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

/// Deterministic filler bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed).collect()
}
