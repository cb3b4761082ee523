//! Shared pieces of the esmtp benchmarks: deterministic inputs, the raw primitives behind each
//! cipher suite (one wrapper per candidate implementation), and a plain timing loop for the
//! `throughput` binary that `scripts/bench-compare` runs against OpenSSL and Python.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::consts::U8;
use cbc::cipher::{
    BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, BlockSizeUser, KeyIvInit,
    KeySizeUser,
};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
pub use esmtp_core::bench_internals::FastDes;

/// One KiB.
pub const KIB: usize = 1024;
/// One MiB.
pub const MIB: usize = 1024 * KIB;
/// The chunk size of the envelope format, and the buffer size of the raw AEAD comparison.
pub const CHUNK: usize = esmtp_core::CHUNK_SIZE;

/// Message sizes of the seal/open benches, with their labels.
pub const SIZES: [(usize, &str); 4] =
    [(KIB, "1KiB"), (64 * KIB, "64KiB"), (MIB, "1MiB"), (16 * MIB, "16MiB")];

/// `len` deterministic, incompressible-looking bytes (xorshift64*), so runs are comparable.
pub fn input(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The chunk nonce of SPEC.md section 5.1: `BE88(index) || flag` (flag 0 here).
pub fn chunk_nonce(index: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n
}

/// A ChaCha20-Poly1305 implementation, reduced to what a chunk cipher needs: seal and open in
/// place with a detached 16-byte tag and no associated data.
pub trait ChunkAead {
    /// Short name for reports: `rustcrypto`, `ring`, `aws-lc-rs`, `openssl`.
    fn name(&self) -> &'static str;
    /// Encrypt `buf` in place under the nonce of chunk `index`; return the tag.
    fn seal_in_place(&self, index: u64, buf: &mut [u8]) -> [u8; 16];
    /// Check `tag` and decrypt `buf` in place; `false` when the tag does not match.
    fn open_in_place(&self, index: u64, buf: &mut [u8], tag: &[u8; 16]) -> bool;
}

/// RustCrypto's `chacha20poly1305` crate (pure Rust, SIMD backends chosen at run time).
pub struct RustCrypto(chacha20poly1305::ChaCha20Poly1305);

impl RustCrypto {
    /// Key the cipher.
    pub fn new(key: [u8; 32]) -> Self {
        RustCrypto(chacha20poly1305::ChaCha20Poly1305::new(&key.into()))
    }
}

impl ChunkAead for RustCrypto {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn seal_in_place(&self, index: u64, buf: &mut [u8]) -> [u8; 16] {
        let tag =
            self.0.encrypt_inout_detached(&chunk_nonce(index).into(), b"", buf.into()).unwrap_or_default();
        tag.into()
    }

    fn open_in_place(&self, index: u64, buf: &mut [u8], tag: &[u8; 16]) -> bool {
        self.0.decrypt_inout_detached(&chunk_nonce(index).into(), b"", buf.into(), &(*tag).into()).is_ok()
    }
}

/// `ring`'s ChaCha20-Poly1305 (assembly from BoringSSL / CRYPTOGAMS).
#[cfg(feature = "ring")]
pub struct Ring(ring::aead::LessSafeKey);

#[cfg(feature = "ring")]
impl Ring {
    /// Key the cipher.
    pub fn new(key: [u8; 32]) -> Self {
        let unbound = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &key)
            .unwrap_or_else(|_| unreachable!("a 32-byte key is valid"));
        Ring(ring::aead::LessSafeKey::new(unbound))
    }
}

#[cfg(feature = "ring")]
impl ChunkAead for Ring {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn seal_in_place(&self, index: u64, buf: &mut [u8]) -> [u8; 16] {
        let nonce = ring::aead::Nonce::assume_unique_for_key(chunk_nonce(index));
        let mut out = [0u8; 16];
        if let Ok(tag) = self.0.seal_in_place_separate_tag(nonce, ring::aead::Aad::empty(), buf) {
            out.copy_from_slice(tag.as_ref());
        }
        out
    }

    fn open_in_place(&self, index: u64, buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let nonce = ring::aead::Nonce::assume_unique_for_key(chunk_nonce(index));
        let tag = ring::aead::Tag::from(*tag);
        self.0.open_in_place_separate_tag(nonce, ring::aead::Aad::empty(), tag, buf, 0..).is_ok()
    }
}

/// `aws-lc-rs`'s ChaCha20-Poly1305 (AWS-LC, C and assembly).
#[cfg(feature = "aws-lc-rs")]
pub struct AwsLc(aws_lc_rs::aead::LessSafeKey);

#[cfg(feature = "aws-lc-rs")]
impl AwsLc {
    /// Key the cipher.
    pub fn new(key: [u8; 32]) -> Self {
        let unbound = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::CHACHA20_POLY1305, &key)
            .unwrap_or_else(|_| unreachable!("a 32-byte key is valid"));
        AwsLc(aws_lc_rs::aead::LessSafeKey::new(unbound))
    }
}

#[cfg(feature = "aws-lc-rs")]
impl ChunkAead for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn seal_in_place(&self, index: u64, buf: &mut [u8]) -> [u8; 16] {
        let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key(chunk_nonce(index));
        let mut out = [0u8; 16];
        if let Ok(tag) = self.0.seal_in_place_separate_tag(nonce, aws_lc_rs::aead::Aad::empty(), buf) {
            out.copy_from_slice(tag.as_ref());
        }
        out
    }

    fn open_in_place(&self, index: u64, buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key(chunk_nonce(index));
        self.0.open_in_place_separate_tag(nonce, aws_lc_rs::aead::Aad::empty(), tag, buf).is_ok()
    }
}

/// OpenSSL's own ChaCha20-Poly1305, the code `openssl speed -evp chacha20-poly1305` measures,
/// through its EVP interface (the `openssl` crate, linked to the system's libcrypto). One context
/// per direction, keyed once; each chunk only sets its nonce, as the fastest use of EVP does.
#[cfg(feature = "openssl")]
pub struct OpenSsl {
    seal: std::sync::Mutex<openssl::cipher_ctx::CipherCtx>,
    open: std::sync::Mutex<openssl::cipher_ctx::CipherCtx>,
}

#[cfg(feature = "openssl")]
impl OpenSsl {
    /// Key both contexts.
    pub fn new(key: [u8; 32]) -> Self {
        use openssl::cipher::Cipher;
        use openssl::cipher_ctx::CipherCtx;
        let keyed = |encrypt: bool| {
            let mut ctx = CipherCtx::new().unwrap_or_else(|e| panic!("EVP_CIPHER_CTX_new: {e}"));
            let cipher = Some(Cipher::chacha20_poly1305());
            let keyed = if encrypt {
                ctx.encrypt_init(cipher, Some(&key), None)
            } else {
                ctx.decrypt_init(cipher, Some(&key), None)
            };
            keyed.unwrap_or_else(|e| panic!("keying OpenSSL's ChaCha20-Poly1305: {e}"));
            std::sync::Mutex::new(ctx)
        };
        OpenSsl { seal: keyed(true), open: keyed(false) }
    }
}

#[cfg(feature = "openssl")]
impl ChunkAead for OpenSsl {
    fn name(&self) -> &'static str {
        "openssl"
    }

    fn seal_in_place(&self, index: u64, buf: &mut [u8]) -> [u8; 16] {
        let mut ctx = self.seal.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tag = [0u8; 16];
        let len = buf.len();
        let sealed = ctx
            .encrypt_init(None, None, Some(&chunk_nonce(index)))
            .and_then(|()| ctx.cipher_update_inplace(buf, len))
            .and_then(|_| ctx.cipher_final(&mut []))
            .and_then(|_| ctx.tag(&mut tag));
        // A failure leaves a zero tag, which the round-trip test would catch.
        if sealed.is_err() { [0u8; 16] } else { tag }
    }

    fn open_in_place(&self, index: u64, buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let mut ctx = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let len = buf.len();
        ctx.decrypt_init(None, None, Some(&chunk_nonce(index)))
            .and_then(|()| ctx.set_tag(tag))
            .and_then(|()| ctx.cipher_update_inplace(buf, len))
            .and_then(|_| ctx.cipher_final(&mut []))
            .is_ok()
    }
}

/// Every ChaCha20-Poly1305 implementation compiled in (RustCrypto always; `ring`, `aws-lc-rs`
/// and `openssl` with the features of the same names), keyed with `key`.
pub fn chacha_impls(key: [u8; 32]) -> Vec<Box<dyn ChunkAead>> {
    vec![
        Box::new(RustCrypto::new(key)) as Box<dyn ChunkAead>,
        #[cfg(feature = "ring")]
        Box::new(Ring::new(key)),
        #[cfg(feature = "aws-lc-rs")]
        Box::new(AwsLc::new(key)),
        #[cfg(feature = "openssl")]
        Box::new(OpenSsl::new(key)),
    ]
}

/// A DES key with odd parity in every byte, not weak (as esmtp-core requires).
pub const DES_KEY: [u8; 8] = [0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1];
/// A CBC IV.
pub const DES_IV: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];

/// DES-CBC with PKCS#7 in place: `buf[..msg_len]` is the message and `buf` has room for up to 8
/// bytes of padding. Returns the ciphertext length. `C` is the DES implementation: `des::Des`
/// (the `des` crate) or [`FastDes`] (esmtp-core's).
pub fn des_cbc_encrypt_with<C>(buf: &mut [u8], msg_len: usize) -> usize
where
    C: BlockCipherEncrypt + KeyInit + KeySizeUser<KeySize = U8> + BlockSizeUser<BlockSize = U8>,
{
    let enc = cbc::Encryptor::<C>::new(&DES_KEY.into(), &DES_IV.into());
    enc.encrypt_padded::<Pkcs7>(buf, msg_len).map(<[u8]>::len).unwrap_or(0)
}

/// DES-CBC with PKCS#7 decryption in place. Returns the plaintext length (`None`: bad padding).
pub fn des_cbc_decrypt_with<C>(buf: &mut [u8]) -> Option<usize>
where
    C: BlockCipherDecrypt + KeyInit + KeySizeUser<KeySize = U8> + BlockSizeUser<BlockSize = U8>,
{
    let dec = cbc::Decryptor::<C>::new(&DES_KEY.into(), &DES_IV.into());
    dec.decrypt_padded::<Pkcs7>(buf).ok().map(<[u8]>::len)
}

/// [`des_cbc_encrypt_with`] the `des` crate.
pub fn des_cbc_encrypt(buf: &mut [u8], msg_len: usize) -> usize {
    des_cbc_encrypt_with::<des::Des>(buf, msg_len)
}

/// [`des_cbc_decrypt_with`] the `des` crate.
pub fn des_cbc_decrypt(buf: &mut [u8]) -> Option<usize> {
    des_cbc_decrypt_with::<des::Des>(buf)
}

/// MD5 of `data` with the `md-5` crate directly.
pub fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

/// The process's peak resident set size in KiB (`VmHWM` of `/proc/self/status`; Linux).
pub fn peak_rss_kib() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no VmHWM in /proc/self/status"))
}

/// The value of a `--seconds S` argument (the next argument): the time per operation, in
/// (0, 60] seconds.
pub fn seconds_arg(value: Option<String>) -> Result<Duration, Box<dyn std::error::Error>> {
    let seconds: f64 = value.ok_or("--seconds needs a value")?.parse()?;
    if !(seconds > 0.0 && seconds <= 60.0) {
        return Err("--seconds must be in (0, 60]".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Run `op` (which processes `bytes` bytes per call) for at least `min_time` after a short
/// warm-up, and return the mean throughput in MB/s (10^6 bytes per second).
pub fn throughput_mb_s(bytes: usize, min_time: Duration, mut op: impl FnMut()) -> f64 {
    let warm_up = Instant::now();
    op();
    while warm_up.elapsed() < min_time / 5 {
        op();
    }
    let start = Instant::now();
    let mut calls: u64 = 0;
    loop {
        op();
        calls += 1;
        let elapsed = start.elapsed();
        if elapsed >= min_time {
            return black_box(calls as f64 * bytes as f64 / elapsed.as_secs_f64() / 1e6);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aead_round_trips_and_agrees() {
        let key = [7u8; 32];
        let plain = input(CHUNK);
        let mut first: Option<(Vec<u8>, [u8; 16])> = None;
        for aead in chacha_impls(key) {
            let mut buf = plain.clone();
            let tag = aead.seal_in_place(3, &mut buf);
            match &first {
                None => first = Some((buf.clone(), tag)),
                Some((ct, t)) => assert!(ct == &buf && t == &tag, "{} differs", aead.name()),
            }
            assert!(aead.open_in_place(3, &mut buf, &tag), "{}", aead.name());
            assert_eq!(buf, plain);
            assert!(!aead.open_in_place(4, &mut buf.clone(), &tag), "{}", aead.name());
        }
    }

    fn buf_sealed_by_des_crate(plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        buf.resize(plain.len() / 8 * 8 + 8, 0);
        des_cbc_encrypt(&mut buf, plain.len());
        buf
    }

    #[test]
    fn des_cbc_round_trips_and_md5_matches_rfc1321() {
        let plain = input(1000);
        let mut buf = plain.clone();
        buf.resize(1008, 0);
        assert_eq!(des_cbc_encrypt(&mut buf, 1000), 1008);
        assert_eq!(des_cbc_decrypt(&mut buf), Some(1000));
        assert_eq!(&buf[..1000], &plain[..]);
        assert_eq!(md5(b"abc")[..4], [0x90, 0x01, 0x50, 0x98]);
        let mut fast = plain.clone();
        fast.resize(1008, 0);
        assert_eq!(des_cbc_encrypt_with::<FastDes>(&mut fast, 1000), 1008);
        assert_eq!(fast, buf_sealed_by_des_crate(&plain));
        assert_eq!(des_cbc_decrypt_with::<FastDes>(&mut fast), Some(1000));
        assert_eq!(&fast[..1000], &plain[..]);
    }
}
