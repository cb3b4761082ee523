//! The primitives of the `des-cbc-md5` suite checked byte for byte against an independent
//! implementation: OpenSSL's command line (`openssl enc`, `openssl dgst`) and coreutils `md5sum`.
//! Inputs, keys and IVs come from a fixed-seed PRNG, so a failure reproduces exactly.
//!
//! ChaCha20-Poly1305 is not compared here: `openssl enc` refuses AEAD ciphers, so that suite
//! relies on the RFC 8439 vectors in `kat.rs`.
//!
//! CI installs openssl; without it, or without its legacy provider (single DES lives there in
//! OpenSSL 3), these tests fail with a message saying what to install rather than pass vacuously.

use std::io::{ErrorKind, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use cbc::cipher::block_padding::Pkcs7;
use des::Des;
use des::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit,
};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

type DesCbcEnc = cbc::Encryptor<Des>;
type DesCbcDec = cbc::Decryptor<Des>;

const INSTALL_HINT: &str = "install it (Debian/Ubuntu: apt-get install openssl coreutils)";
const LEGACY_HINT: &str = "OpenSSL's legacy provider (ossl-modules/legacy.so) is needed for single DES; \
     on Debian 12 it ships in the `libssl3` package, on Debian 13 and later in `openssl-provider-legacy`";

fn run(args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = match Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!("`{}` is not on PATH; {INSTALL_HINT}", args[0]),
        Err(e) => panic!("cannot run `{}`: {e}", args[0]),
    };
    // A writer thread, because a child that fills its stdout pipe before reading all of stdin
    // would otherwise deadlock against us.
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    // A child that fails early may close stdin before reading it all; its status says why.
    let fed = feeder.join().unwrap();
    if !out.status.success() {
        return Err(format!("{args:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    fed.unwrap_or_else(|e| panic!("writing to {args:?}: {e}"));
    Ok(out.stdout)
}

fn must_run(args: &[&str], input: &[u8]) -> Vec<u8> {
    run(args, input).unwrap_or_else(|e| panic!("{e}"))
}

/// The provider arguments `openssl enc` needs for DES, after checking that openssl is present
/// and can load DES at all. OpenSSL 1.x and LibreSSL have no providers and DES built in.
fn des_provider_args() -> &'static [&'static str] {
    static ARGS: OnceLock<&'static [&'static str]> = OnceLock::new();
    ARGS.get_or_init(|| {
        let version = String::from_utf8_lossy(&must_run(&["openssl", "version"], b"")).into_owned();
        let major = version.strip_prefix("OpenSSL ").and_then(|v| v.split('.').next()?.parse::<u32>().ok());
        let args: &'static [&'static str] = if major.is_some_and(|m| m >= 3) {
            &["-provider", "legacy", "-provider", "default"]
        } else {
            &[]
        };
        let probe =
            [&["openssl", "enc", "-des-ecb"][..], args, &["-K", "0123456789abcdef", "-nopad"]].concat();
        if let Err(e) = run(&probe, &[0; 8]) {
            panic!("{} cannot do DES: {LEGACY_HINT}.\n{e}", version.trim());
        }
        args
    })
}

fn openssl_des(
    mode: &str,
    decrypt: bool,
    key: &[u8],
    iv: Option<&[u8]>,
    nopad: bool,
    input: &[u8],
) -> Vec<u8> {
    let (key_hex, iv_hex) = (hex::encode(key), iv.map(hex::encode));
    let mut args = vec!["openssl", "enc", mode];
    args.extend(des_provider_args());
    if decrypt {
        args.push("-d");
    }
    args.extend(["-K", &key_hex]);
    if let Some(iv) = &iv_hex {
        args.extend(["-iv", iv]);
    }
    if nopad {
        args.push("-nopad");
    }
    must_run(&args, input)
}

/// First whitespace-separated token of a tool's output: the hex digest for both
/// `md5sum` (`<hex>  -`) and `openssl dgst -r` (`<hex> *stdin`).
fn first_token(out: &[u8]) -> String {
    String::from_utf8_lossy(out).split_whitespace().next().unwrap_or_default().to_owned()
}

/// xorshift64*: enough to spread inputs, keys and IVs; nothing here needs to be unpredictable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 56) as u8).collect()
    }

    /// A DES key whose every byte has odd parity, as FIPS 46-3 asks of a key.
    fn des_key(&mut self) -> [u8; 8] {
        let mut key = [0u8; 8];
        for (k, b) in key.iter_mut().zip(self.bytes(8)) {
            let high = b & 0xfe;
            *k = high | u8::from(high.count_ones() % 2 == 0);
        }
        key
    }
}

/// Lengths at and around the padding boundaries, one large input, and a few arbitrary ones.
fn inputs(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut lens = vec![0, 1, 7, 8, 9, 15, 16, 17, 1000, 65536];
    lens.extend((0..5).map(|_| rng.below(5000)));
    lens.into_iter().map(|len| rng.bytes(len)).collect()
}

#[test]
fn des_cbc_pkcs7_matches_openssl() {
    let mut rng = Rng(0x5eed_0001_d35c_bc00);
    for msg in inputs(&mut rng) {
        let (key, iv) = (rng.des_key(), rng.bytes(8));
        let what = format!("{} bytes, key {}, iv {}", msg.len(), hex::encode(key), hex::encode(&iv));

        let ours = DesCbcEnc::new_from_slices(&key, &iv).unwrap().encrypt_padded_vec::<Pkcs7>(&msg);
        let theirs = openssl_des("-des-cbc", false, &key, Some(&iv), false, &msg);
        assert_eq!(ours.len(), (msg.len() / 8 + 1) * 8, "{what}: PKCS#7 always adds 1..=8 bytes");
        // assert! rather than assert_eq!: a 64 KiB mismatch would bury the message in hex.
        assert!(ours == theirs, "{what}: ciphertext differs from openssl");

        let back = DesCbcDec::new_from_slices(&key, &iv).unwrap().decrypt_padded_vec::<Pkcs7>(&theirs);
        assert!(back.is_ok_and(|b| b == msg), "{what}: openssl's ciphertext did not decrypt");
        let back = openssl_des("-des-cbc", true, &key, Some(&iv), false, &ours);
        assert!(back == msg, "{what}: openssl did not decrypt our ciphertext");
    }
}

#[test]
fn des_ecb_single_blocks_match_openssl() {
    let mut rng = Rng(0x5eed_0002_d35e_cb00);
    for _ in 0..8 {
        let (key, block) = (rng.des_key(), rng.bytes(8));
        let what = format!("key {}, block {}", hex::encode(key), hex::encode(&block));
        let des = Des::new_from_slice(&key).unwrap();

        let mut ours = Array::try_from(&block[..]).unwrap();
        des.encrypt_block(&mut ours);
        let theirs = openssl_des("-des-ecb", false, &key, None, true, &block);
        assert_eq!(hex::encode(ours), hex::encode(&theirs), "{what}: encrypt");

        let mut back = Array::try_from(&theirs[..]).unwrap();
        des.decrypt_block(&mut back);
        assert_eq!(hex::encode(back), hex::encode(&block), "{what}: decrypt");
        assert_eq!(
            openssl_des("-des-ecb", true, &key, None, true, &theirs),
            block,
            "{what}: openssl decrypt"
        );
    }
}

#[test]
fn md5_matches_md5sum_and_openssl() {
    let mut rng = Rng(0x5eed_0003_0000_0d05);
    for msg in inputs(&mut rng) {
        let ours = hex::encode(Md5::digest(&msg));
        assert_eq!(ours, first_token(&must_run(&["md5sum"], &msg)), "{} bytes: md5sum", msg.len());
        let openssl = must_run(&["openssl", "dgst", "-md5", "-r"], &msg);
        assert_eq!(ours, first_token(&openssl), "{} bytes: openssl dgst -md5", msg.len());
    }
}

#[test]
fn hmac_md5_matches_openssl() {
    let mut rng = Rng(0x5eed_0004_00ac_0d05);
    let msgs = inputs(&mut rng);
    // Key lengths around MD5's 64-byte block: longer keys are hashed first (RFC 2104 section 2).
    for (i, key_len) in [1, 16, 63, 64, 65, 200].into_iter().enumerate() {
        let key = rng.bytes(key_len);
        let msg = &msgs[i * 2 % msgs.len()];
        let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(msg);
        let ours = hex::encode(mac.finalize().into_bytes());
        let macopt = format!("hexkey:{}", hex::encode(&key));
        let theirs = must_run(&["openssl", "dgst", "-md5", "-mac", "HMAC", "-macopt", &macopt, "-r"], msg);
        assert_eq!(ours, first_token(&theirs), "{key_len}-byte key, {} bytes of data", msg.len());
    }
}
