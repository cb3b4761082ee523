//! The paper's suite checked against OpenSSL's command line: every DES-CBC chunk of a real
//! envelope is decrypted by `openssl enc -d -des-cbc` with the key and per-chunk IV of SPEC.md
//! section 5.2, its HMAC-MD5 recomputed by `openssl dgst`, and the carried digest by `md5sum`.
//! The chunk stream is `F || P || MD5(P)` for an unsigned envelope (SPEC.md section 5).
//! CI installs openssl; without it these tests fail rather than pass vacuously.

use std::io::Write;
use std::process::{Command, Stdio};

use esmtp_core::{Sealer, Suite};

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

fn run(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {} ({e}); install it (Debian: apt-get install openssl coreutils)", args[0])
        });
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

const LEGACY: [&str; 4] = ["-provider", "legacy", "-provider", "default"];

fn openssl_des(
    mode: &str,
    decrypt: bool,
    key: &[u8],
    iv: Option<&[u8]>,
    nopad: bool,
    input: &[u8],
) -> Vec<u8> {
    let key_hex = hex(key);
    let mut args = vec!["openssl", "enc", mode];
    if decrypt {
        args.push("-d");
    }
    args.extend(LEGACY);
    args.extend(["-K", &key_hex]);
    let iv_hex = iv.map(hex);
    if let Some(iv) = &iv_hex {
        args.extend(["-iv", iv]);
    }
    if nopad {
        args.push("-nopad");
    }
    run(&args, input)
}

#[test]
fn every_des_chunk_decrypts_with_openssl_and_digest_matches_md5sum() {
    let c = 65536;
    for len in [0usize, 1, 7, 8, 100, c - 16, c - 5, c, 2 * c + 777] {
        let msg: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let sealed = Sealer::new().suite(Suite::LegacyDesCbcMd5).key_slip().seal(&msg).unwrap();
        let token = sealed.key_slip.as_ref().unwrap().to_token();
        let (_, slip) = bech32::decode(&token).unwrap();
        let key = &slip[16..48];
        let (des_key, random_number, mac_key) = (&key[..8], &key[8..16], &key[16..]);
        // Header with one key-slip stanza: 27 + (3 + 16) + 32 bytes.
        let payload = &sealed.envelope[78..];
        let mut stream = Vec::new();
        let chunks: Vec<&[u8]> = payload.chunks(c + 8 + 16).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let (ct, tag) = chunk.split_at(chunk.len() - 16);
            // IV_i = DES-E(K_des, R XOR BE64(i)), computed by OpenSSL in ECB mode.
            let mut x = random_number.to_vec();
            for (b, j) in x.iter_mut().zip((i as u64).to_be_bytes()) {
                *b ^= j;
            }
            let iv = openssl_des("-des-ecb", false, des_key, None, true, &x);
            stream.extend(openssl_des("-des-cbc", true, des_key, Some(&iv), false, ct));
            // And OpenSSL encrypting that plaintext gives the same ciphertext byte for byte.
            let start = i * c;
            let plain_end = (start + c).min(1 + len + 16);
            let mut full = vec![0u8];
            full.extend_from_slice(&msg);
            full.extend_from_slice(&esmtp_core::hash::digest(esmtp_core::hash::HashAlgorithm::Md5, &msg));
            assert_eq!(
                openssl_des("-des-cbc", false, des_key, Some(&iv), false, &full[start..plain_end]),
                ct
            );
            let mut mac_input = (i as u64).to_be_bytes().to_vec();
            mac_input.push(u8::from(last));
            mac_input.extend_from_slice(ct);
            let macopt = format!("hexkey:{}", hex(mac_key));
            let out = run(&["openssl", "dgst", "-md5", "-mac", "HMAC", "-macopt", &macopt, "-r"], &mac_input);
            assert_eq!(String::from_utf8_lossy(&out).split(' ').next().unwrap(), hex(tag), "chunk {i} MAC");
        }
        let (body, digest) = stream.split_at(stream.len() - 16);
        assert_eq!(body, [&[0u8][..], &msg].concat(), "F = 0x00, then the message");
        let md5sum = run(&["md5sum"], &msg);
        assert_eq!(String::from_utf8_lossy(&md5sum).split(' ').next().unwrap(), hex(digest));
    }
}
