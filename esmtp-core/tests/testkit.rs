//! The test kit: `testdata/testkit/`, one envelope per file with its expected outcome (SPEC.md
//! section 8). `vectors_match_generator` proves the files are exactly what this generator makes
//! from fixed seeds (`ESMTP_REGENERATE_TESTKIT=1` rewrites them); `every_vector_has_its_outcome`
//! walks the directory, as the bindings' tests do.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use bech32::{Bech32, Hrp};
use esmtp_core::hash::{HashAlgorithm, digest, to_hex};
use esmtp_core::{Argon2Params, KeySlip, OpenError, Opener, Passphrase, Sealer, Suite, X25519Identity};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const CHEAP: Argon2Params = Argon2Params { m_cost: 256, t_cost: 1, p_cost: 1 };
const C: usize = common::C;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/testkit")
}

#[derive(Default, Clone)]
struct Case {
    expect: &'static str,
    suite: &'static str,
    identities: Vec<String>,
    passphrases: Vec<String>,
    key_slips: Vec<String>,
    armored: bool,
    payload: Option<Vec<u8>>,
    comment: String,
    envelope: Vec<u8>,
}

impl Case {
    fn render(&self) -> Vec<u8> {
        let mut h = format!("expect: {}\nsuite: {}\n", self.expect, self.suite);
        for i in &self.identities {
            h += &format!("identity: {i}\n");
        }
        for p in &self.passphrases {
            h += &format!("passphrase: {p}\n");
        }
        for s in &self.key_slips {
            h += &format!("key-slip: {s}\n");
        }
        h += &format!("armored: {}\n", if self.armored { "yes" } else { "no" });
        if let Some(p) = &self.payload {
            h += &format!("payload-md5: {}\n", to_hex(&digest(HashAlgorithm::Md5, p)));
            h += &format!("payload-sha256: {}\n", to_hex(&digest(HashAlgorithm::Sha256, p)));
        }
        h += &format!("comment: {}\n\n", self.comment);
        let mut out = h.into_bytes();
        out.extend_from_slice(&self.envelope);
        out
    }

    fn parse(file: &[u8]) -> (BTreeMap<String, Vec<String>>, Vec<u8>) {
        let split = file.windows(2).position(|w| w == b"\n\n").expect("header ends with an empty line");
        let header = std::str::from_utf8(&file[..split]).expect("utf-8 header");
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in header.lines() {
            let (k, v) = line.split_once(": ").expect("name: value");
            fields.entry(k.to_string()).or_default().push(v.to_string());
        }
        (fields, file[split + 2..].to_vec())
    }
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn slip_token(id: &[u8; 16], key: &[u8; 32]) -> String {
    let mut data = id.to_vec();
    data.extend_from_slice(key);
    bech32::encode_upper::<Bech32>(Hrp::parse("ESMTP-SLIP-").unwrap(), &data).unwrap()
}

/// Seal with the crate's sealer: returns (envelope, key-slip token, identity text).
fn sealed(
    suite: Suite,
    seed: u64,
    payload: &[u8],
    x25519: bool,
    passphrase: bool,
    slip: bool,
) -> (Vec<u8>, String, String) {
    let mut r = rng(seed);
    let bob = X25519Identity::generate_with_rng(&mut r).unwrap();
    let mut sealer = Sealer::new().suite(suite);
    if x25519 {
        sealer = sealer.recipient(bob.to_public());
    }
    if passphrase {
        sealer =
            sealer.recipient(Passphrase::new("correct horse battery staple").with_params(CHEAP).unwrap());
    }
    if slip {
        sealer = sealer.key_slip();
    }
    let s = sealer.seal_with_rng(payload, &mut r).unwrap();
    let token = s.key_slip.map(|k| k.to_token().to_string()).unwrap_or_default();
    (s.envelope, token, bob.to_secret_string().to_string())
}

fn suite_name(suite: Suite) -> &'static str {
    suite.name()
}

/// Header length of an envelope with the given stanza body lengths.
fn header_len(bodies: &[usize]) -> usize {
    27 + bodies.iter().map(|b| 3 + b).sum::<usize>() + 32
}

fn generate() -> BTreeMap<String, Case> {
    let mut cases = BTreeMap::new();
    let pass = "correct horse battery staple".to_string();
    let msg = common::pattern(1000, 42);

    for (suite, prefix, seed) in
        [(Suite::ChaCha20Poly1305, "chacha", 100u64), (Suite::LegacyDesCbcMd5, "des", 200)]
    {
        let ok = |payload: &[u8], comment: &str| Case {
            expect: "success",
            suite: suite_name(suite),
            payload: Some(payload.to_vec()),
            comment: comment.to_string(),
            ..Case::default()
        };
        let (e, _, id) = sealed(suite, seed, &msg, true, false, false);
        cases.insert(
            format!("{prefix}_x25519"),
            Case { identities: vec![id], envelope: e, ..ok(&msg, "one x25519 stanza") },
        );
        let (e, _, _) = sealed(suite, seed + 1, &msg, false, true, false);
        cases.insert(
            format!("{prefix}_passphrase"),
            Case {
                passphrases: vec![pass.clone()],
                envelope: e,
                ..ok(&msg, "one passphrase stanza, Argon2id m=256 t=1 p=1")
            },
        );
        let (e, slip, _) = sealed(suite, seed + 2, &msg, false, false, true);
        cases.insert(
            format!("{prefix}_key_slip"),
            Case { key_slips: vec![slip], envelope: e, ..ok(&msg, "one key-slip stanza") },
        );
        let (e, _, id) = sealed(suite, seed + 3, &msg, true, true, true);
        cases.insert(
            format!("{prefix}_mixed_recipients"),
            Case {
                identities: vec![id],
                envelope: e,
                ..ok(&msg, "x25519 + passphrase + key-slip stanzas, opened by the x25519 identity")
            },
        );
        let (e, slip, _) = sealed(suite, seed + 4, b"", false, false, true);
        cases.insert(
            format!("{prefix}_empty"),
            Case { key_slips: vec![slip], envelope: e, ..ok(b"", "empty message") },
        );
        let big = common::pattern(2 * C - 8, 9);
        let (e, slip, _) = sealed(suite, seed + 5, &big, false, false, true);
        let what = "two chunks; for des-cbc-md5 the digest straddles the chunk boundary";
        cases.insert(
            format!("{prefix}_two_chunks"),
            Case { key_slips: vec![slip], envelope: e, ..ok(&big, what) },
        );
        let exact = common::pattern(C, 5);
        let (e, slip, _) = sealed(suite, seed + 6, &exact, false, false, true);
        cases.insert(
            format!("{prefix}_exact_chunk"),
            Case { key_slips: vec![slip], envelope: e, ..ok(&exact, "message of exactly one chunk size") },
        );
        let (e, slip, _) = sealed(suite, seed + 7, &msg, false, false, true);
        cases.insert(
            format!("{prefix}_armored"),
            Case {
                key_slips: vec![slip],
                armored: true,
                envelope: esmtp_core::armor(&e).into_bytes(),
                ..ok(&msg, "armored, LF line endings")
            },
        );

        // Failures that are the same for both suites.
        let fail = |expect: &'static str, comment: &str| Case {
            expect,
            suite: suite_name(suite),
            comment: comment.to_string(),
            ..Case::default()
        };
        let (e, slip, _) = sealed(suite, seed + 10, &msg, false, false, true);
        let mut bad = e.clone();
        bad[header_len(&[16]) + 3] ^= 0x01;
        cases.insert(
            format!("{prefix}_bad_chunk_tag"),
            Case {
                key_slips: vec![slip.clone()],
                envelope: bad,
                ..fail("decryption-failed", "one ciphertext bit of the only chunk flipped")
            },
        );
        cases.insert(
            format!("{prefix}_truncated"),
            Case {
                key_slips: vec![slip.clone()],
                envelope: e[..e.len() - 1].to_vec(),
                ..fail("decryption-failed", "last byte cut off")
            },
        );
        let mut trailing = e.clone();
        trailing.extend_from_slice(b"\0");
        cases.insert(
            format!("{prefix}_trailing_data"),
            Case {
                key_slips: vec![slip.clone()],
                envelope: trailing,
                ..fail("decryption-failed", "one byte appended after the final chunk")
            },
        );
        cases.insert(
            format!("{prefix}_header_only"),
            Case {
                key_slips: vec![slip],
                envelope: e[..header_len(&[16])].to_vec(),
                ..fail("decryption-failed", "no payload at all")
            },
        );

        let three = common::pattern(2 * C + 100, 3);
        let (e, slip, _) = sealed(suite, seed + 11, &three, false, false, true);
        let h = header_len(&[16]);
        let w = if suite == Suite::LegacyDesCbcMd5 { C + 8 + 16 } else { C + 16 };
        let (c0, c1) = (e[h..h + w].to_vec(), e[h + w..h + 2 * w].to_vec());
        let mut swapped = e[..h].to_vec();
        swapped.extend_from_slice(&c1);
        swapped.extend_from_slice(&c0);
        swapped.extend_from_slice(&e[h + 2 * w..]);
        cases.insert(
            format!("{prefix}_swapped_chunks"),
            Case {
                key_slips: vec![slip.clone()],
                envelope: swapped,
                ..fail("decryption-failed", "chunks 0 and 1 swapped")
            },
        );
        let mut dup = e[..h + w].to_vec();
        dup.extend_from_slice(&e[h..]);
        cases.insert(
            format!("{prefix}_duplicated_chunk"),
            Case {
                key_slips: vec![slip.clone()],
                envelope: dup,
                ..fail("decryption-failed", "chunk 0 repeated")
            },
        );
        cases.insert(
            format!("{prefix}_missing_final_chunk"),
            Case {
                key_slips: vec![slip],
                envelope: e[..h + 2 * w].to_vec(),
                ..fail("decryption-failed", "the final chunk dropped: the last full chunk is not final")
            },
        );
    }

    let fail = |expect: &'static str, suite: Suite, comment: &str| Case {
        expect,
        suite: suite_name(suite),
        comment: comment.to_string(),
        ..Case::default()
    };
    let chacha = Suite::ChaCha20Poly1305;
    let (e, slip, id) = sealed(chacha, 300, &msg, true, false, true);
    let with = |c: Case, env: Vec<u8>| Case { key_slips: vec![slip.clone()], envelope: env, ..c };
    let mut b = e.clone();
    b[0] = b'X';
    cases.insert("header_bad_magic".into(), with(fail("malformed", chacha, "magic changed"), b));
    cases.insert(
        "header_truncated".into(),
        with(fail("malformed", chacha, "input ends inside the first stanza"), e[..40].to_vec()),
    );
    let mut b = e.clone();
    b[8] = 2;
    cases.insert("version_unknown".into(), with(fail("unsupported-version", chacha, "version byte 2"), b));
    let mut b = e.clone();
    b[9] = 0x7f;
    cases.insert("suite_unknown".into(), with(fail("unsupported-suite", chacha, "suite byte 0x7f"), b));
    let mut b = e.clone();
    let mac_end = header_len(&[80, 16]) - 1;
    b[mac_end] ^= 0x80;
    cases.insert(
        "header_bad_mac".into(),
        with(fail("decryption-failed", chacha, "last header MAC byte flipped"), b),
    );
    let mut b = e.clone();
    b[27 + 3 + 80 + 3 + 2] ^= 1;
    cases.insert(
        "header_stanza_altered".into(),
        with(fail("no-match", chacha, "key-slip stanza body altered: the slip no longer matches it"), b),
    );
    let other = X25519Identity::generate_with_rng(&mut rng(301)).unwrap();
    cases.insert(
        "x25519_wrong_identity".into(),
        Case {
            identities: vec![other.to_secret_string().to_string()],
            envelope: e.clone(),
            ..fail("no-match", chacha, "an identity the envelope was not sealed to")
        },
    );
    let _ = id;
    let (pe, _, _) = sealed(chacha, 302, &msg, false, true, false);
    cases.insert(
        "passphrase_wrong".into(),
        Case {
            passphrases: vec!["Tr0ub4dor&3".into()],
            envelope: pe.clone(),
            ..fail("no-match", chacha, "wrong passphrase")
        },
    );
    let mut hostile = pe.clone();
    hostile[27 + 3 + 16..27 + 3 + 20].copy_from_slice(&(4u32 << 20).to_be_bytes());
    cases.insert(
        "passphrase_excessive_work".into(),
        Case {
            passphrases: vec![pass.clone()],
            envelope: hostile,
            ..fail("excessive-work", chacha, "m_cost = 4 GiB: refused before Argon2 runs")
        },
    );
    let mut zero = pe;
    zero[27 + 3 + 20..27 + 3 + 24].copy_from_slice(&0u32.to_be_bytes());
    cases.insert(
        "passphrase_zero_passes".into(),
        Case {
            passphrases: vec![pass.clone()],
            envelope: zero,
            ..fail("malformed", chacha, "t_cost = 0 is below Argon2's minimum")
        },
    );
    let (_, other_slip, _) = sealed(chacha, 303, &msg, false, false, true);
    cases.insert(
        "key_slip_other_envelope".into(),
        Case {
            key_slips: vec![other_slip],
            envelope: e.clone(),
            ..fail("no-match", chacha, "a key slip of another envelope")
        },
    );

    // Hand-built envelopes (tests/common: an encoder written from SPEC.md).
    let id = [0x11u8; 16];
    let key = [0x22u8; 32];
    let token = slip_token(&id, &key);
    let hand = |c: Case, env: Vec<u8>| Case { key_slips: vec![token.clone()], envelope: env, ..c };
    let mut env =
        common::header(0x01, &id, &[(0x7e, b"future".to_vec()), common::slip_stanza(&key, &id)], &key);
    env.extend(common::chacha_chunk(&key, &id, 0, true, b"unknown stanza types are skipped"));
    cases.insert(
        "stanza_unknown_type_skipped".into(),
        hand(
            Case {
                expect: "success",
                suite: "chacha20-poly1305",
                payload: Some(b"unknown stanza types are skipped".to_vec()),
                comment: "stanza type 0x7e is skipped but covered by the MAC".into(),
                ..Case::default()
            },
            env,
        ),
    );
    let env = common::header(
        0x01,
        &id,
        &[(0x02, vec![0; 76]), (0x02, vec![0; 76]), common::slip_stanza(&key, &id)],
        &key,
    );
    cases.insert(
        "stanza_two_passphrases".into(),
        hand(fail("malformed", chacha, "two passphrase stanzas: at most one per envelope"), env),
    );
    let env = common::header(0x01, &id, &[(0x01, vec![0; 79])], &key);
    cases.insert(
        "stanza_wrong_length".into(),
        hand(fail("malformed", chacha, "x25519 stanza body of 79 bytes"), env),
    );
    let mut env = b"ESMTPENV\x01\x01".to_vec();
    env.extend_from_slice(&id);
    env.push(0);
    env.extend_from_slice(&[0; 32]);
    cases.insert("header_no_stanzas".into(), hand(fail("malformed", chacha, "stanza count 0"), env));
    let mut env = common::header(0x01, &id, &[common::slip_stanza(&key, &id)], &key);
    env.extend(common::chacha_chunk(&key, &id, 0, false, &common::pattern(C, 1)));
    env.extend(common::chacha_chunk(&key, &id, 1, true, b""));
    cases.insert(
        "chacha_empty_final_chunk".into(),
        hand(fail("decryption-failed", chacha, "an authentic but empty final chunk after a full one"), env),
    );

    let des = Suite::LegacyDesCbcMd5;
    let des_key = |k: [u8; 8]| {
        let mut full = key;
        full[..8].copy_from_slice(&k);
        full
    };
    // 0x1f1f1f1f0e0e0e0e is semi-weak and 0x0101010101010101 weak; both have odd parity.
    let good = des_key([0x13, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1]);
    let des_env = |k: &[u8; 32], stream_padded: Vec<u8>| {
        let mut env = common::header(0x02, &id, &[common::slip_stanza(k, &id)], k);
        env.extend(common::des_chunk_raw(k, 0, true, &stream_padded));
        env
    };
    let body = b"the paper's suite".to_vec();
    let mut stream = body.clone();
    stream.extend_from_slice(&common::md5(&body));
    let ok_env = des_env(&good, common::pkcs7(&stream));
    cases.insert(
        "des_hand_built".into(),
        Case {
            key_slips: vec![slip_token(&id, &good)],
            envelope: ok_env,
            expect: "success",
            suite: "des-cbc-md5",
            payload: Some(body.clone()),
            comment: "built from SPEC.md by an independent encoder".into(),
            ..Case::default()
        },
    );
    for (name, k, comment) in [
        ("des_weak_key", des_key([1; 8]), "K_des = 0101010101010101, a weak key"),
        (
            "des_semi_weak_key",
            des_key([0x1f, 0x1f, 0x1f, 0x1f, 0x0e, 0x0e, 0x0e, 0x0e]),
            "K_des = 1f1f1f1f0e0e0e0e, a semi-weak key",
        ),
        (
            "des_even_parity_key",
            des_key([0x12, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1]),
            "K_des with an even-parity first byte",
        ),
    ] {
        cases.insert(
            name.into(),
            Case {
                key_slips: vec![slip_token(&id, &k)],
                envelope: des_env(&k, common::pkcs7(&stream)),
                ..fail("decryption-failed", des, comment)
            },
        );
    }
    let mut bad_pad = stream.clone();
    bad_pad.extend_from_slice(&[9; 7]);
    bad_pad.push(9);
    let bad_pad: Vec<u8> = bad_pad[..bad_pad.len() / 8 * 8].to_vec();
    cases.insert(
        "des_bad_padding".into(),
        Case {
            key_slips: vec![slip_token(&id, &good)],
            envelope: des_env(&good, bad_pad),
            ..fail("decryption-failed", des, "authentic chunk whose PKCS#7 padding byte is 9")
        },
    );
    let mut wrong_digest = body.clone();
    wrong_digest.extend_from_slice(&common::md5(b"something else"));
    cases.insert(
        "des_bad_digest".into(),
        Case {
            key_slips: vec![slip_token(&id, &good)],
            envelope: des_env(&good, common::pkcs7(&wrong_digest)),
            ..fail("decryption-failed", des, "authentic chunks, but the carried MD5 is of another message")
        },
    );
    cases.insert(
        "des_short_stream".into(),
        Case {
            key_slips: vec![slip_token(&id, &good)],
            envelope: des_env(&good, common::pkcs7(b"0123456789")),
            ..fail("decryption-failed", des, "chunk stream of 10 bytes cannot hold a 16-byte digest")
        },
    );

    let (e, slip, _) = sealed(chacha, 400, &msg, false, false, true);
    let text = esmtp_core::armor(&e);
    let armor_case = |comment: &str, t: String| Case {
        key_slips: vec![slip.clone()],
        armored: true,
        envelope: t.into_bytes(),
        ..fail("malformed", chacha, comment)
    };
    let mut bad = text.clone();
    bad.replace_range(40..41, "*");
    cases.insert("armor_bad_character".into(), armor_case("a '*' inside a base64 line", bad));
    let rewrapped: String = {
        let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut out = format!("{}\n", esmtp_core::armor::BEGIN);
        for piece in b64.as_bytes().chunks(76) {
            out += std::str::from_utf8(piece).unwrap();
            out += "\n";
        }
        out + esmtp_core::armor::END + "\n"
    };
    cases.insert("armor_wrong_line_length".into(), armor_case("base64 lines of 76 characters", rewrapped));
    cases.insert(
        "armor_garbage_after_end".into(),
        armor_case("text after the END line", format!("{text}trailing\n")),
    );
    cases.insert(
        "armor_missing_end".into(),
        armor_case("no END line", text.replace(esmtp_core::armor::END, "")),
    );
    // Find a last line with padding and make its unused bits non-zero.
    let (e2, slip2, _) = sealed(chacha, 401, &common::pattern(1002, 1), false, false, true);
    let t2 = esmtp_core::armor(&e2);
    let last = t2.lines().rev().nth(1).unwrap().to_string();
    assert!(last.ends_with("=="), "1002-byte payload gives a doubly padded last line");
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let c = last.as_bytes()[last.len() - 3] as char;
    let v = alphabet.find(c).unwrap() ^ 1;
    let bumped = format!("{}{}==", &last[..last.len() - 3], &alphabet[v..v + 1]);
    cases.insert(
        "armor_non_canonical".into(),
        Case {
            key_slips: vec![slip2],
            armored: true,
            envelope: t2.replace(&last, &bumped).into_bytes(),
            ..fail("malformed", chacha, "non-zero unused bits in the last base64 quantum")
        },
    );
    cases
}

#[test]
fn vectors_match_generator() {
    let cases = generate();
    let dir = dir();
    if std::env::var_os("ESMTP_REGENERATE_TESTKIT").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, case) in &cases {
            std::fs::write(dir.join(name), case.render()).unwrap();
        }
    }
    let on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata/testkit exists (ESMTP_REGENERATE_TESTKIT=1 creates it)")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(on_disk.len(), cases.len(), "files on disk vs generated");
    for (name, case) in &cases {
        let file = std::fs::read(dir.join(name)).unwrap_or_else(|_| panic!("{name} missing"));
        assert!(file == case.render(), "{name} differs from the generator's output");
    }
}

fn outcome(result: Result<esmtp_core::Opened, OpenError>) -> (&'static str, Option<Vec<u8>>) {
    match result {
        Ok(o) => ("success", Some(o.plaintext().to_vec())),
        Err(OpenError::Malformed(_)) => ("malformed", None),
        Err(OpenError::UnsupportedVersion(_)) => ("unsupported-version", None),
        Err(OpenError::UnsupportedSuite(_)) => ("unsupported-suite", None),
        Err(OpenError::NoMatchingRecipient) => ("no-match", None),
        Err(OpenError::ExcessiveWork) => ("excessive-work", None),
        Err(OpenError::DecryptionFailed) => ("decryption-failed", None),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn every_vector_has_its_outcome() {
    let mut seen = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let (fields, envelope) = Case::parse(&std::fs::read(&path).unwrap());
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let mut opener = Opener::new();
        for i in get("identity") {
            opener = opener.identity(i.parse::<X25519Identity>().unwrap());
        }
        for p in get("passphrase") {
            opener = opener.identity(Passphrase::new(p));
        }
        for s in get("key-slip") {
            opener = opener.identity(s.parse::<KeySlip>().unwrap());
        }
        let expect = get("expect")[0].clone();
        let (got, plaintext) = outcome(opener.open(&envelope));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if got != expect {
            failures.push(format!("{name}: expected {expect}, got {got}"));
        }
        if let Some(p) = plaintext {
            assert_eq!(to_hex(&digest(HashAlgorithm::Md5, &p)), get("payload-md5")[0], "{name}");
            assert_eq!(to_hex(&digest(HashAlgorithm::Sha256, &p)), get("payload-sha256")[0], "{name}");
        }
        seen += 1;
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(seen >= 50, "only {seen} vectors found");
}
