//! An independent, minimal encoder written from SPEC.md alone (not from the crate's code), used to
//! build vectors the crate's own sealer never produces: weak keys, bad padding, bad digests,
//! crafted stanzas, bad or stripped signatures.
#![allow(dead_code)]

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Digest;

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

/// SPEC.md section 4: `wrapped = commitment || AEAD-Seal(aead_key, 0^12, "", K)`.
pub fn wrap(w: &[u8; 32], id: &[u8; 16], key: &[u8; 32]) -> Vec<u8> {
    let okm: [u8; 64] = hkdf(w, id, b"esmtp/v1 wrap");
    let aead = ChaCha20Poly1305::new(&Key::from(<[u8; 32]>::try_from(&okm[32..]).unwrap()));
    let mut sealed = key.to_vec();
    let tag = aead.encrypt_inout_detached(&Nonce::default(), b"", sealed.as_mut_slice().into()).unwrap();
    let mut out = okm[..32].to_vec();
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&tag);
    out
}

/// SPEC.md section 4.1: an x25519 stanza for public key `rx`, ephemeral secret `e`.
pub fn x25519_stanza(rx: &[u8; 32], e: [u8; 32], id: &[u8; 16], key: &[u8; 32]) -> (u8, Vec<u8>) {
    let e = x25519_dalek::StaticSecret::from(e);
    let big_e = x25519_dalek::PublicKey::from(&e);
    let s = e.diffie_hellman(&x25519_dalek::PublicKey::from(*rx));
    let mut salt = big_e.as_bytes().to_vec();
    salt.extend_from_slice(rx);
    let w: [u8; 32] = hkdf(s.as_bytes(), &salt, b"esmtp/v1 x25519");
    let mut body = big_e.as_bytes().to_vec();
    body.extend(wrap(&w, id, key));
    (0x01, body)
}

/// SPEC.md section 4.2: Argon2id of `passphrase`.
pub fn argon2id(passphrase: &str, salt: &[u8; 16], m: u32, t: u32, p: u32) -> [u8; 32] {
    let params = argon2::Params::new(m, t, p, Some(32)).unwrap();
    let mut out = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .unwrap();
    out
}

/// SPEC.md section 4.2: a passphrase stanza whose wrap secret is `w` (normally [`argon2id`]).
pub fn passphrase_stanza(
    w: &[u8; 32],
    salt: &[u8; 16],
    m: u32,
    t: u32,
    p: u32,
    id: &[u8; 16],
    key: &[u8; 32],
) -> (u8, Vec<u8>) {
    let mut body = salt.to_vec();
    for v in [m, t, p] {
        body.extend_from_slice(&v.to_be_bytes());
    }
    body.extend(wrap(w, id, key));
    (0x02, body)
}

/// SPEC.md section 4.3: the key-slip stanza for `key`.
pub fn slip_stanza(key: &[u8; 32], id: &[u8; 16]) -> (u8, Vec<u8>) {
    let slip_id: [u8; 16] = hkdf(key, id, b"esmtp/v1 key-slip");
    (0x03, slip_id.to_vec())
}

/// A signer for SPEC.md section 5.4: (X25519 public key, Ed25519 signing key).
pub struct Signer {
    pub rx: [u8; 32],
    pub ed: ed25519_dalek::SigningKey,
}

impl Signer {
    pub fn from_seed(seed: u8) -> Self {
        let x = x25519_dalek::StaticSecret::from([seed; 32]);
        Signer {
            rx: *x25519_dalek::PublicKey::from(&x).as_bytes(),
            ed: ed25519_dalek::SigningKey::from_bytes(&[seed.wrapping_add(1); 32]),
        }
    }

    /// `A = Rx || A_ed`, 64 bytes.
    pub fn public(&self) -> Vec<u8> {
        let mut a = self.rx.to_vec();
        a.extend_from_slice(self.ed.verifying_key().as_bytes());
        a
    }

    /// The public key's text form (`esmtp1...`).
    pub fn text(&self) -> String {
        bech32::encode_lower::<bech32::Bech32>(bech32::Hrp::parse("esmtp").unwrap(), &self.public()).unwrap()
    }
}

/// SPEC.md section 5: the chunk stream of `message`, unsigned or signed by `signer` over
/// `header` (the whole header, MAC included). `digest` adds `D = MD5(P)` (`des-cbc-md5`).
pub fn chunk_stream(message: &[u8], digest: bool, signer: Option<(&Signer, &[u8])>) -> Vec<u8> {
    let mut stream = Vec::with_capacity(message.len() + 160);
    match signer {
        None => stream.push(0x00),
        Some((s, _)) => {
            stream.push(0x01);
            stream.extend(s.public());
        }
    }
    stream.extend_from_slice(message);
    if digest {
        stream.extend_from_slice(&md5(message));
    }
    if let Some((s, header)) = signer {
        stream.extend_from_slice(&signature(&s.ed, header, &stream));
    }
    stream
}

/// SPEC.md section 5.4: `Ed25519-Sign(seed, "esmtp/v1 signature" || SHA-512(header) || SHA-512(stream))`.
pub fn signature(key: &ed25519_dalek::SigningKey, header: &[u8], stream_before_sig: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer as _;
    let mut m = b"esmtp/v1 signature".to_vec();
    m.extend_from_slice(&sha2::Sha512::digest(header));
    m.extend_from_slice(&sha2::Sha512::digest(stream_before_sig));
    key.sign(&m).to_bytes()
}

/// SPEC.md section 5: cut `stream` into chunks of C, the last one final, and seal each.
pub fn chunks(stream: &[u8], mut seal: impl FnMut(u64, bool, &[u8]) -> Vec<u8>) -> Vec<u8> {
    let n = stream.len().div_ceil(C).max(1);
    let mut out = Vec::with_capacity(stream.len() + n * 32);
    for (i, piece) in stream.chunks(C).enumerate() {
        out.extend(seal(i as u64, i + 1 == n, piece));
    }
    out
}

/// A whole envelope: header, then the chunks of `stream`.
pub fn envelope(
    suite: u8,
    id: &[u8; 16],
    stanzas: &[(u8, Vec<u8>)],
    key: &[u8; 32],
    stream: &[u8],
) -> Vec<u8> {
    let mut env = header(suite, id, stanzas, key);
    env.extend(match suite {
        0x01 => chunks(stream, |i, last, p| chacha_chunk(key, id, i, last, p)),
        _ => chunks(stream, |i, last, p| des_chunk_raw(key, i, last, &pkcs7(p))),
    });
    env
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
    md5::Md5::digest(data).into()
}

/// Deterministic filler bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed).collect()
}

/// A reproducible generator for the crate's own sealer.
pub fn rng(seed: u64) -> esmtp_core::SeededRandom<rand_chacha::ChaCha20Rng> {
    use rand_chacha::rand_core::SeedableRng;
    esmtp_core::SeededRandom(rand_chacha::ChaCha20Rng::seed_from_u64(seed))
}
