//! The test kit: `testdata/testkit/`, one envelope per file with its expected outcome, and
//! `testdata/keys/`, one key text per file that parsers must reject (SPEC.md section 8).
//! `vectors_match_generator` proves the files are exactly what this generator makes from fixed
//! seeds (`ESMTP_REGENERATE_TESTKIT=1` rewrites them); `every_vector_has_its_outcome` and
//! `every_rejected_key_is_rejected` walk the directories, as the bindings' tests do.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bech32::{Bech32, Hrp};
use common::Signer;
use esmtp_core::hash::{HashAlgorithm, digest, to_hex};
use esmtp_core::{
    Argon2Params, KeySlip, OpenError, Opener, ParseKeyError, Passphrase, Sealer, Signature, Suite,
    X25519Identity, X25519Recipient,
};

const CHEAP: Argon2Params = Argon2Params { m_cost: 256, t_cost: 1, p_cost: 1 };
const PASS: &str = "correct horse battery staple";
const C: usize = common::C;
/// magic, version, suite, ID, count.
const FIXED: usize = 27;
const X25519_BODY: usize = 112;
const PASSPHRASE_BODY: usize = 108;
const SLIP_BODY: usize = 16;

fn testkit_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/testkit")
}

fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/keys")
}

#[derive(Default, Clone)]
struct Case {
    expect: &'static str,
    suite: &'static str,
    identities: Vec<String>,
    passphrases: Vec<String>,
    key_slips: Vec<String>,
    require_signers: Vec<String>,
    armored: bool,
    /// On success: `none` or the signer's public key.
    signer: Option<String>,
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
        for s in &self.require_signers {
            h += &format!("require-signer: {s}\n");
        }
        h += &format!("armored: {}\n", if self.armored { "yes" } else { "no" });
        if let Some(p) = &self.payload {
            h += &format!("signer: {}\n", self.signer.as_deref().unwrap_or("none"));
            h += &format!("payload-md5: {}\n", to_hex(&digest(HashAlgorithm::Md5, p)));
            h += &format!("payload-sha256: {}\n", to_hex(&digest(HashAlgorithm::Sha256, p)));
        }
        h += &format!("comment: {}\n\n", self.comment);
        let mut out = h.into_bytes();
        out.extend_from_slice(&self.envelope);
        out
    }
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

fn slip_token(id: &[u8; 16], key: &[u8; 32]) -> String {
    let mut data = id.to_vec();
    data.extend_from_slice(key);
    bech32::encode_upper::<Bech32>(Hrp::parse("ESMTP-SLIP-").unwrap(), &data).unwrap()
}

fn identity(seed: u64) -> X25519Identity {
    X25519Identity::generate_with(&mut common::rng(seed)).unwrap()
}

/// Who a crate-sealed case goes to.
#[derive(Clone, Copy, Default)]
struct To {
    x25519: bool,
    passphrase: bool,
    slip: bool,
    signed: bool,
}

/// Seal with the crate's sealer: returns (envelope, key-slip token, bob's identity text). Alice
/// (seed 7) signs when asked.
fn sealed(suite: Suite, seed: u64, payload: &[u8], to: To) -> (Vec<u8>, String, String) {
    let mut r = common::rng(seed);
    let bob = X25519Identity::generate_with(&mut r).unwrap();
    let mut sealer = Sealer::new().suite(suite);
    if to.x25519 {
        sealer = sealer.recipient(bob.to_public());
    }
    if to.passphrase {
        sealer = sealer.recipient(Passphrase::new(PASS).with_params(CHEAP).unwrap());
    }
    if to.slip {
        sealer = sealer.key_slip();
    }
    if to.signed {
        sealer = sealer.sign_with(identity(7));
    }
    let s = sealer.seal_with(payload, &mut r).unwrap();
    let token = s.key_slip.map(|k| k.to_token().to_string()).unwrap_or_default();
    (s.envelope, token, bob.to_secret_string().to_string())
}

/// Header length of an envelope with the given stanza body lengths.
fn header_len(bodies: &[usize]) -> usize {
    FIXED + bodies.iter().map(|b| 3 + b).sum::<usize>() + 32
}

const X: To = To { x25519: true, passphrase: false, slip: false, signed: false };
const P: To = To { x25519: false, passphrase: true, slip: false, signed: false };
const S: To = To { x25519: false, passphrase: false, slip: true, signed: false };

fn generate() -> BTreeMap<String, Case> {
    let mut cases = BTreeMap::new();
    let msg = common::pattern(1000, 42);
    let alice = identity(7).to_public().to_string();

    for (suite, prefix, seed) in
        [(Suite::ChaCha20Poly1305, "chacha", 100u64), (Suite::LegacyDesCbcMd5, "des", 200)]
    {
        let ok = |payload: &[u8], comment: &str| Case {
            expect: "success",
            suite: suite.name(),
            payload: Some(payload.to_vec()),
            comment: comment.to_string(),
            ..Case::default()
        };
        let (e, _, id) = sealed(suite, seed, &msg, X);
        cases.insert(
            format!("{prefix}_x25519"),
            Case { identities: vec![id], envelope: e, ..ok(&msg, "one x25519 stanza") },
        );
        let (e, _, _) = sealed(suite, seed + 1, &msg, P);
        cases.insert(
            format!("{prefix}_passphrase"),
            Case {
                passphrases: vec![PASS.into()],
                envelope: e,
                ..ok(&msg, "one passphrase stanza, Argon2id m=256 t=1 p=1")
            },
        );
        let (e, slip, _) = sealed(suite, seed + 2, &msg, S);
        cases.insert(
            format!("{prefix}_key_slip"),
            Case { key_slips: vec![slip], envelope: e, ..ok(&msg, "one key-slip stanza") },
        );
        let (e, _, id) =
            sealed(suite, seed + 3, &msg, To { x25519: true, passphrase: true, slip: true, signed: false });
        cases.insert(
            format!("{prefix}_mixed_recipients"),
            Case {
                identities: vec![id],
                envelope: e,
                ..ok(&msg, "x25519 + passphrase + key-slip stanzas, opened by the x25519 identity")
            },
        );
        let (e, slip, _) = sealed(suite, seed + 4, b"", S);
        cases.insert(
            format!("{prefix}_empty"),
            Case { key_slips: vec![slip], envelope: e, ..ok(b"", "empty message") },
        );
        let big = common::pattern(2 * C - 8, 9);
        let (e, slip, _) = sealed(suite, seed + 5, &big, S);
        cases.insert(
            format!("{prefix}_two_chunks"),
            Case {
                key_slips: vec![slip],
                envelope: e,
                ..ok(&big, "two chunks; the suffix straddles the chunk boundary for des-cbc-md5")
            },
        );
        let exact = common::pattern(C - 1, 5);
        let (e, slip, _) = sealed(suite, seed + 6, &exact, S);
        cases.insert(
            format!("{prefix}_exact_chunk"),
            Case { key_slips: vec![slip], envelope: e, ..ok(&exact, "message of C - 1 bytes: with the prefix byte, exactly one full chunk (chacha20-poly1305)") },
        );
        let (e, slip, _) = sealed(suite, seed + 7, &msg, S);
        cases.insert(
            format!("{prefix}_armored"),
            Case {
                key_slips: vec![slip],
                armored: true,
                envelope: esmtp_core::armor(&e).into_bytes(),
                ..ok(&msg, "armored, LF line endings")
            },
        );
        let (e, _, id) = sealed(suite, seed + 8, &msg, To { signed: true, ..X });
        cases.insert(
            format!("{prefix}_signed"),
            Case {
                identities: vec![id],
                signer: Some(alice.clone()),
                envelope: e,
                ..ok(&msg, "signed by alice (section 5.4)")
            },
        );
        let two = common::pattern(2 * C + 3, 8);
        let (e, _, id) = sealed(suite, seed + 9, &two, To { signed: true, ..X });
        cases.insert(
            format!("{prefix}_signed_three_chunks"),
            Case {
                identities: vec![id],
                require_signers: vec![alice.clone()],
                signer: Some(alice.clone()),
                envelope: e,
                ..ok(&two, "signed by alice, alice required; the signature is in the last chunk")
            },
        );

        // Failures that are the same for both suites.
        let fail = |expect: &'static str, comment: &str| Case {
            expect,
            suite: suite.name(),
            comment: comment.to_string(),
            ..Case::default()
        };
        let (e, slip, _) = sealed(suite, seed + 10, &msg, S);
        let h = header_len(&[SLIP_BODY]);
        let mut bad = e.clone();
        bad[h + 3] ^= 0x01;
        let with_slip = |c: Case, env: Vec<u8>| Case { key_slips: vec![slip.clone()], envelope: env, ..c };
        cases.insert(
            format!("{prefix}_bad_chunk_tag"),
            with_slip(fail("decryption-failed", "one ciphertext bit of the only chunk flipped"), bad),
        );
        cases.insert(
            format!("{prefix}_truncated"),
            with_slip(fail("decryption-failed", "last byte cut off"), e[..e.len() - 1].to_vec()),
        );
        let mut trailing = e.clone();
        trailing.push(0);
        cases.insert(
            format!("{prefix}_trailing_data"),
            with_slip(fail("decryption-failed", "one byte appended after the final chunk"), trailing),
        );
        cases.insert(
            format!("{prefix}_header_only"),
            with_slip(fail("decryption-failed", "no payload at all"), e[..h].to_vec()),
        );

        let three = common::pattern(2 * C + 100, 3);
        let (e, slip, _) = sealed(suite, seed + 11, &three, S);
        let with_slip = |c: Case, env: Vec<u8>| Case { key_slips: vec![slip.clone()], envelope: env, ..c };
        let w = if suite == Suite::LegacyDesCbcMd5 { C + 8 + 16 } else { C + 16 };
        let (c0, c1) = (e[h..h + w].to_vec(), e[h + w..h + 2 * w].to_vec());
        let mut swapped = e[..h].to_vec();
        swapped.extend_from_slice(&c1);
        swapped.extend_from_slice(&c0);
        swapped.extend_from_slice(&e[h + 2 * w..]);
        cases.insert(
            format!("{prefix}_swapped_chunks"),
            with_slip(fail("decryption-failed", "chunks 0 and 1 swapped"), swapped),
        );
        let mut dup = e[..h + w].to_vec();
        dup.extend_from_slice(&e[h..]);
        cases.insert(
            format!("{prefix}_duplicated_chunk"),
            with_slip(fail("decryption-failed", "chunk 0 repeated"), dup),
        );
        cases.insert(
            format!("{prefix}_missing_final_chunk"),
            with_slip(
                fail("decryption-failed", "the final chunk dropped: the last full chunk is not final"),
                e[..h + 2 * w].to_vec(),
            ),
        );
    }

    header_and_stanza_cases(&mut cases, &msg);
    hand_built_cases(&mut cases);
    signature_cases(&mut cases, &msg);
    armor_cases(&mut cases);
    cases
}

fn fail(expect: &'static str, suite: Suite, comment: &str) -> Case {
    Case { expect, suite: suite.name(), comment: comment.to_string(), ..Case::default() }
}

fn header_and_stanza_cases(cases: &mut BTreeMap<String, Case>, msg: &[u8]) {
    let chacha = Suite::ChaCha20Poly1305;
    let (e, slip, _) = sealed(chacha, 300, msg, To { slip: true, ..X });
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
    b[header_len(&[X25519_BODY, SLIP_BODY]) - 1] ^= 0x80;
    cases.insert(
        "header_bad_mac".into(),
        with(fail("decryption-failed", chacha, "last header MAC byte flipped"), b),
    );
    let mut b = e.clone();
    b[FIXED + 3 + X25519_BODY + 3 + 2] ^= 1;
    cases.insert(
        "header_stanza_altered".into(),
        with(fail("no-match", chacha, "key-slip stanza body altered: the slip no longer matches it"), b),
    );
    cases.insert(
        "x25519_wrong_identity".into(),
        Case {
            identities: vec![identity(301).to_secret_string().to_string()],
            envelope: e.clone(),
            ..fail("no-match", chacha, "an identity the envelope was not sealed to")
        },
    );
    let (xe, _, bob) = sealed(chacha, 304, msg, X);
    let mut altered = xe.clone();
    altered[FIXED + 3 + 32 + 32 + 5] ^= 0x01;
    cases.insert(
        "x25519_wrapped_key_altered".into(),
        Case {
            identities: vec![bob],
            envelope: altered,
            ..fail(
                "decryption-failed",
                chacha,
                "the commitment matches bob, but the wrapped key after it was altered",
            )
        },
    );
    let (pe, _, _) = sealed(chacha, 302, msg, P);
    cases.insert(
        "passphrase_wrong".into(),
        Case {
            passphrases: vec!["Tr0ub4dor&3".into()],
            envelope: pe.clone(),
            ..fail("no-match", chacha, "wrong passphrase")
        },
    );
    let params = FIXED + 3 + 16;
    let mut hostile = pe.clone();
    hostile[params..params + 4].copy_from_slice(&(4u32 << 20).to_be_bytes());
    cases.insert(
        "passphrase_excessive_work".into(),
        Case {
            passphrases: vec![PASS.into()],
            envelope: hostile,
            ..fail("excessive-work", chacha, "m_cost = 4 GiB: refused before Argon2 runs")
        },
    );
    let mut zero = pe.clone();
    zero[params + 4..params + 8].copy_from_slice(&0u32.to_be_bytes());
    cases.insert(
        "passphrase_zero_passes".into(),
        Case {
            passphrases: vec![PASS.into()],
            envelope: zero,
            ..fail("malformed", chacha, "t_cost = 0 is below Argon2's minimum")
        },
    );
    let mut overflow = pe.clone();
    overflow[params..params + 4].copy_from_slice(&1u32.to_be_bytes());
    overflow[params + 8..params + 12].copy_from_slice(&(1u32 << 29).to_be_bytes());
    cases.insert(
        "passphrase_minima_overflow".into(),
        Case {
            passphrases: vec![PASS.into()],
            envelope: overflow,
            ..fail(
                "malformed",
                chacha,
                "m_cost = 1, p_cost = 2^29: 8 * p_cost needs 35 bits; below the minimum, not an overflow",
            )
        },
    );
    let mut altered = pe;
    altered[params + 12 + 32 + 3] ^= 0x01;
    cases.insert(
        "passphrase_wrapped_key_altered".into(),
        Case {
            passphrases: vec![PASS.into()],
            envelope: altered,
            ..fail(
                "decryption-failed",
                chacha,
                "the commitment matches the passphrase, but the wrapped key was altered",
            )
        },
    );
    let (_, other_slip, _) = sealed(chacha, 303, msg, S);
    cases.insert(
        "key_slip_other_envelope".into(),
        Case {
            key_slips: vec![other_slip],
            envelope: e,
            ..fail("no-match", chacha, "a key slip of another envelope")
        },
    );
}

/// Envelopes from the independent encoder in tests/common (SPEC.md alone).
fn hand_built_cases(cases: &mut BTreeMap<String, Case>) {
    let chacha = Suite::ChaCha20Poly1305;
    let des = Suite::LegacyDesCbcMd5;
    let id = [0x11u8; 16];
    let key = [0x22u8; 32];
    let token = slip_token(&id, &key);
    let slip = common::slip_stanza(&key, &id);
    let hand = |c: Case, env: Vec<u8>| Case { key_slips: vec![token.clone()], envelope: env, ..c };
    let success = |suite: Suite, payload: &[u8], comment: &str| Case {
        expect: "success",
        suite: suite.name(),
        payload: Some(payload.to_vec()),
        comment: comment.into(),
        ..Case::default()
    };

    let text = b"unknown stanza types are skipped";
    let env = common::envelope(
        0x01,
        &id,
        &[(0x7e, b"future".to_vec()), slip.clone()],
        &key,
        &common::chunk_stream(text, false, None),
    );
    cases.insert(
        "stanza_unknown_type_skipped".into(),
        hand(success(chacha, text, "stanza type 0x7e is skipped but covered by the MAC"), env),
    );

    // A passphrase stanza whose commitment is for one passphrase and whose wrapped key opens
    // under another: the commitment decides, so the second passphrase gets "not mine".
    let salt = [0x33u8; 16];
    let (m, t, p) = (256, 1, 1);
    let w_a = common::argon2id("passphrase a", &salt, m, t, p);
    let w_b = common::argon2id("passphrase b", &salt, m, t, p);
    let (kind, mut body) = common::passphrase_stanza(&w_b, &salt, m, t, p, &id, &key);
    let commit_a = common::wrap(&w_a, &id, &key);
    body[28..60].copy_from_slice(&commit_a[..32]);
    let env = common::envelope(0x01, &id, &[(kind, body)], &key, &common::chunk_stream(b"x", false, None));
    cases.insert(
        "passphrase_commitment_decides".into(),
        Case {
            passphrases: vec!["passphrase b".into()],
            envelope: env,
            ..fail(
                "no-match",
                chacha,
                "commitment of passphrase a, wrapped key under passphrase b: opening with b is not a match",
            )
        },
    );
    let env = common::header(
        0x01,
        &id,
        &[(0x02, vec![0; PASSPHRASE_BODY]), (0x02, vec![0; PASSPHRASE_BODY]), slip.clone()],
        &key,
    );
    cases.insert(
        "stanza_two_passphrases".into(),
        hand(fail("malformed", chacha, "two passphrase stanzas: at most one per envelope"), env),
    );
    let env = common::header(0x01, &id, &[(0x01, vec![0; 80])], &key);
    cases.insert(
        "stanza_wrong_length".into(),
        hand(
            fail("malformed", chacha, "x25519 stanza body of 80 bytes (the length before key commitment)"),
            env,
        ),
    );
    let mut env = b"ESMTPENV\x01\x01".to_vec();
    env.extend_from_slice(&id);
    env.push(0);
    env.extend_from_slice(&[0; 32]);
    cases.insert("header_no_stanzas".into(), hand(fail("malformed", chacha, "stanza count 0"), env));

    let mut env = common::header(0x01, &id, std::slice::from_ref(&slip), &key);
    let mut first = vec![0u8];
    first.extend(common::pattern(C - 1, 1));
    env.extend(common::chacha_chunk(&key, &id, 0, false, &first));
    env.extend(common::chacha_chunk(&key, &id, 1, true, b""));
    cases.insert(
        "chacha_empty_final_chunk".into(),
        hand(fail("decryption-failed", chacha, "an authentic but empty final chunk after a full one"), env),
    );
    let mut env = common::header(0x01, &id, std::slice::from_ref(&slip), &key);
    env.extend(common::chacha_chunk(&key, &id, 0, true, b""));
    cases.insert(
        "chacha_empty_stream".into(),
        hand(
            fail("decryption-failed", chacha, "an authentic empty chunk stream: it always holds at least F"),
            env,
        ),
    );
    let env = common::envelope(0x01, &id, std::slice::from_ref(&slip), &key, b"\x02message");
    cases.insert(
        "chacha_unknown_flag".into(),
        hand(fail("decryption-failed", chacha, "prefix F = 0x02"), env),
    );

    let des_key = |k: [u8; 8]| {
        let mut full = key;
        full[..8].copy_from_slice(&k);
        full
    };
    let good = des_key([0x13, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1]);
    let good_token = slip_token(&id, &good);
    let des_env = |k: &[u8; 32], padded: Vec<u8>| {
        let mut env = common::header(0x02, &id, &[common::slip_stanza(k, &id)], k);
        env.extend(common::des_chunk_raw(k, 0, true, &padded));
        env
    };
    let body = b"the paper's suite".to_vec();
    let stream = common::chunk_stream(&body, true, None);
    cases.insert(
        "des_hand_built".into(),
        Case {
            key_slips: vec![good_token.clone()],
            envelope: des_env(&good, common::pkcs7(&stream)),
            ..success(des, &body, "built from SPEC.md by an independent encoder")
        },
    );
    for (name, k, comment) in [
        ("des_weak_key", [0x01; 8], "K_des = 0101010101010101, a weak key"),
        (
            "des_semi_weak_key",
            [0x01, 0x1f, 0x01, 0x1f, 0x01, 0x0e, 0x01, 0x0e],
            "K_des = 011f011f010e010e, a semi-weak key",
        ),
        (
            "des_possibly_weak_key",
            [0x01, 0x01, 0x1f, 0x1f, 0x01, 0x01, 0x0e, 0x0e],
            "K_des = 01011f1f01010e0e, a possibly weak key",
        ),
        (
            "des_even_parity_key",
            [0x12, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1],
            "K_des with an even-parity first byte",
        ),
    ] {
        let k = des_key(k);
        cases.insert(
            name.into(),
            Case {
                key_slips: vec![slip_token(&id, &k)],
                envelope: des_env(&k, common::pkcs7(&stream)),
                ..fail("decryption-failed", des, comment)
            },
        );
    }
    let good_case = |c: Case, env: Vec<u8>| Case { key_slips: vec![good_token.clone()], envelope: env, ..c };
    let mut bad_pad = stream.clone();
    bad_pad.extend_from_slice(&[9; 8]);
    let bad_pad = bad_pad[..bad_pad.len() / 8 * 8].to_vec();
    cases.insert(
        "des_bad_padding".into(),
        good_case(
            fail("decryption-failed", des, "authentic chunk whose PKCS#7 padding byte is 9"),
            des_env(&good, bad_pad),
        ),
    );
    let mut wrong_digest = vec![0u8];
    wrong_digest.extend_from_slice(&body);
    wrong_digest.extend_from_slice(&common::md5(b"something else"));
    cases.insert(
        "des_bad_digest".into(),
        good_case(
            fail("decryption-failed", des, "authentic chunks, but the carried MD5 is of another message"),
            des_env(&good, common::pkcs7(&wrong_digest)),
        ),
    );
    cases.insert(
        "des_short_stream".into(),
        good_case(
            fail("decryption-failed", des, "chunk stream of 10 bytes cannot hold F and a 16-byte digest"),
            des_env(&good, common::pkcs7(b"\x00012345678")),
        ),
    );
    // SPEC.md section 5.3: a non-final chunk of 65543 plaintext bytes, padded to 65544 with one
    // byte: authentic, and rejected because it is not exactly C bytes.
    let long = common::chunk_stream(&common::pattern(2 * C, 4), true, None);
    let mut env = common::header(0x02, &id, &[common::slip_stanza(&good, &id)], &good);
    env.extend(common::des_chunk_raw(&good, 0, false, &common::pkcs7(&long[..C + 7])));
    env.extend(common::des_chunk_raw(&good, 1, true, &common::pkcs7(&long[C + 7..])));
    cases.insert(
        "des_long_non_final_chunk".into(),
        good_case(
            fail(
                "decryption-failed",
                des,
                "chunk 0 is not final and holds C + 7 bytes (65544 with its padding)",
            ),
            env,
        ),
    );
    // The same chunking problem in the final chunk: 65536 + 8 = 65544 bytes of ciphertext that
    // decrypt to C + 1 plaintext bytes (padding 7).
    let mut env = common::header(0x02, &id, &[common::slip_stanza(&good, &id)], &good);
    let stream = common::chunk_stream(&common::pattern(C + 1 - 17, 6), true, None);
    assert_eq!(stream.len(), C + 1);
    env.extend(common::des_chunk_raw(&good, 0, true, &common::pkcs7(&stream)));
    cases.insert(
        "des_long_final_chunk".into(),
        good_case(fail("decryption-failed", des, "the only chunk holds C + 1 bytes"), env),
    );
}

fn signature_cases(cases: &mut BTreeMap<String, Case>, msg: &[u8]) {
    let chacha = Suite::ChaCha20Poly1305;
    let id = [0x44u8; 16];
    let key = [0x55u8; 32];
    let alice = Signer::from_seed(1);
    let carol = Signer::from_seed(3);
    let bob = identity(500);
    let dave = identity(501);
    let bob_rx: [u8; 32] = bob_x25519(&bob);
    let dave_rx: [u8; 32] = bob_x25519(&dave);
    let stanzas = vec![
        common::x25519_stanza(&bob_rx, [5; 32], &id, &key),
        common::x25519_stanza(&dave_rx, [6; 32], &id, &key),
    ];
    let header = common::header(0x01, &id, &stanzas, &key);
    let signed_stream = common::chunk_stream(msg, false, Some((&alice, &header)));
    let env = |stanzas: &[(u8, Vec<u8>)], stream: &[u8]| common::envelope(0x01, &id, stanzas, &key, stream);
    let for_bob = |c: Case, env: Vec<u8>| Case {
        identities: vec![bob.to_secret_string().to_string()],
        envelope: env,
        ..c
    };
    let success = |signer: Option<String>, comment: &str| Case {
        expect: "success",
        suite: chacha.name(),
        payload: Some(msg.to_vec()),
        signer,
        comment: comment.into(),
        ..Case::default()
    };

    cases.insert(
        "signed_hand_built".into(),
        for_bob(
            success(Some(alice.text()), "to bob and dave, signed by alice, by the independent encoder"),
            env(&stanzas, &signed_stream),
        ),
    );
    cases.insert(
        "signed_unexpected_signer".into(),
        for_bob(
            Case {
                require_signers: vec![carol.text()],
                ..fail("unexpected-signer", chacha, "signed by alice, carol required")
            },
            env(&stanzas, &signed_stream),
        ),
    );
    cases.insert(
        "signed_one_of_two_required".into(),
        for_bob(
            Case {
                require_signers: vec![carol.text(), alice.text()],
                ..success(Some(alice.text()), "signed by alice; carol or alice required")
            },
            env(&stanzas, &signed_stream),
        ),
    );
    let mut bad = signed_stream.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    cases.insert(
        "signature_bad".into(),
        for_bob(
            fail(
                "bad-signature",
                chacha,
                "the last byte of SIG flipped, chunks re-encrypted by a key holder",
            ),
            env(&stanzas, &bad),
        ),
    );
    let mut other_message = signed_stream.clone();
    other_message[65 + 10] ^= 0x01;
    cases.insert(
        "signature_message_altered".into(),
        for_bob(
            fail("bad-signature", chacha, "one message byte changed by a key holder, signature kept"),
            env(&stanzas, &other_message),
        ),
    );
    let mut other_signer = signed_stream.clone();
    other_signer[1..65].copy_from_slice(&carol.public());
    cases.insert(
        "signature_signer_swapped".into(),
        for_bob(
            fail("bad-signature", chacha, "A replaced by carol's public key, alice's signature kept"),
            env(&stanzas, &other_signer),
        ),
    );
    let mut mixed_keys = signed_stream.clone();
    mixed_keys[1..33].copy_from_slice(&carol.rx);
    cases.insert(
        "signature_x25519_part_swapped".into(),
        for_bob(
            fail("bad-signature", chacha, "the X25519 half of A replaced: A is signed as a whole"),
            env(&stanzas, &mixed_keys),
        ),
    );
    let mut low = signed_stream.clone();
    low[33..65].copy_from_slice(&{
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        identity_point
    });
    cases.insert(
        "signature_signer_small_order".into(),
        for_bob(
            fail("bad-signature", chacha, "A_ed is the identity point (small order)"),
            env(&stanzas, &low),
        ),
    );

    // A co-recipient (bob holds K) strips the signature: the same header, re-encrypted unsigned.
    let stripped = common::chunk_stream(msg, false, None);
    cases.insert(
        "signature_stripped".into(),
        for_bob(
            success(None, "a key holder removed alice's signature: reported unsigned, never signed"),
            env(&stanzas, &stripped),
        ),
    );
    cases.insert(
        "signature_stripped_signer_required".into(),
        for_bob(
            Case {
                require_signers: vec![alice.text()],
                ..fail("unexpected-signer", chacha, "signature removed by a key holder; alice required")
            },
            env(&stanzas, &stripped),
        ),
    );
    // Bob re-wraps alice's signed message for dave alone (surreptitious forwarding): a new
    // header, the same chunk stream. The signature covers the old header.
    let forwarded = vec![common::x25519_stanza(&dave_rx, [7; 32], &id, &key)];
    cases.insert(
        "signature_rewrapped_by_co_recipient".into(),
        Case {
            identities: vec![dave.to_secret_string().to_string()],
            envelope: env(&forwarded, &signed_stream),
            ..fail(
                "bad-signature",
                chacha,
                "bob re-sealed alice's signed message to dave alone: the header differs from the signed one",
            )
        },
    );
    let unsigned = common::chunk_stream(msg, false, None);
    cases.insert(
        "unsigned_signer_required".into(),
        for_bob(
            Case {
                require_signers: vec![alice.text()],
                ..fail("unexpected-signer", chacha, "unsigned, alice required")
            },
            env(&stanzas, &unsigned),
        ),
    );

    let des = Suite::LegacyDesCbcMd5;
    let mut des_key = [0x66u8; 32];
    des_key[..8].copy_from_slice(&[0x13, 0x34, 0x57, 0x79, 0x9b, 0xbc, 0xdf, 0xf1]);
    let slip = common::slip_stanza(&des_key, &id);
    let header = common::header(0x02, &id, std::slice::from_ref(&slip), &des_key);
    let stream = common::chunk_stream(msg, true, Some((&alice, &header)));
    cases.insert(
        "des_signed_hand_built".into(),
        Case {
            key_slips: vec![slip_token(&id, &des_key)],
            envelope: common::envelope(0x02, &id, &[slip], &des_key, &stream),
            expect: "success",
            suite: des.name(),
            payload: Some(msg.to_vec()),
            signer: Some(alice.text()),
            comment: "des-cbc-md5, signed by alice: the signature covers F, A, P and D".into(),
            ..Case::default()
        },
    );
}

/// The X25519 public key inside an identity's public text.
fn bob_x25519(identity: &X25519Identity) -> [u8; 32] {
    let text = identity.to_public().to_string();
    let (_, data) = bech32::decode(&text).unwrap();
    data[..32].try_into().unwrap()
}

fn armor_cases(cases: &mut BTreeMap<String, Case>) {
    let chacha = Suite::ChaCha20Poly1305;
    let msg = common::pattern(1000, 42);
    let (e, slip, _) = sealed(chacha, 400, &msg, S);
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
        let mut out = format!("{}\n", esmtp_core::ARMOR_BEGIN);
        for piece in b64.as_bytes().chunks(76) {
            out += std::str::from_utf8(piece).unwrap();
            out += "\n";
        }
        out + esmtp_core::ARMOR_END + "\n"
    };
    cases.insert("armor_wrong_line_length".into(), armor_case("base64 lines of 76 characters", rewrapped));
    cases.insert(
        "armor_garbage_after_end".into(),
        armor_case("text after the END line", format!("{text}trailing\n")),
    );
    cases.insert(
        "armor_missing_end".into(),
        armor_case("no END line", text.replace(esmtp_core::ARMOR_END, "")),
    );
    // Find a payload whose armor ends with "==" and make the unused bits non-zero.
    let (e2, slip2, t2) = (1000..1100)
        .find_map(|n| {
            let (e2, slip2, _) = sealed(chacha, 401, &common::pattern(n, 1), S);
            let t2 = esmtp_core::armor(&e2);
            t2.lines().rev().nth(1).unwrap().ends_with("==").then_some((e2, slip2, t2))
        })
        .unwrap();
    drop(e2);
    let last = t2.lines().rev().nth(1).unwrap().to_string();
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
}

/// Key texts every parser must reject (SPEC.md section 4.1), as (name, kind, text, comment).
fn rejected_keys() -> Vec<(&'static str, &'static str, String, &'static str)> {
    // The error each must give follows from its name: `outdated`, `48_bytes` (length), else weak.
    let recipient = |x: [u8; 32], ed: [u8; 32]| {
        let mut data = x.to_vec();
        data.extend_from_slice(&ed);
        bech32::encode_lower::<Bech32>(Hrp::parse("esmtp").unwrap(), &data).unwrap()
    };
    let good_ed = *ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key().as_bytes();
    let good_x = *x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([8; 32])).as_bytes();
    let hex32 = |h: &str| -> [u8; 32] { hex::decode(h).unwrap().try_into().unwrap() };
    let mut p_plus_1 = [0xffu8; 32];
    p_plus_1[0] = 0xee;
    p_plus_1[31] = 0x7f;
    let mut identity_ed = [0u8; 32];
    identity_ed[0] = 1;
    vec![
        (
            "recipient_x25519_zero",
            "recipient",
            recipient([0; 32], good_ed),
            "X25519 key 0: every shared secret is zero",
        ),
        (
            "recipient_x25519_one",
            "recipient",
            recipient(
                {
                    let mut k = [0; 32];
                    k[0] = 1;
                    k
                },
                good_ed,
            ),
            "X25519 key 1 (order 4)",
        ),
        (
            "recipient_x25519_order_8",
            "recipient",
            recipient(hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), good_ed),
            "a point of order 8",
        ),
        (
            "recipient_x25519_order_8_other",
            "recipient",
            recipient(hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"), good_ed),
            "the other point of order 8",
        ),
        (
            "recipient_x25519_p_minus_1",
            "recipient",
            recipient(hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), good_ed),
            "p - 1 (order 2)",
        ),
        (
            "recipient_x25519_p_plus_1_noncanonical",
            "recipient",
            recipient(p_plus_1, good_ed),
            "p + 1, a non-canonical encoding of 1",
        ),
        (
            "recipient_x25519_high_bit_zero",
            "recipient",
            recipient(
                {
                    let mut k = [0; 32];
                    k[31] = 0x80;
                    k
                },
                good_ed,
            ),
            "0 with the unused top bit set",
        ),
        (
            "recipient_ed25519_identity",
            "recipient",
            recipient(good_x, identity_ed),
            "the Ed25519 key is the identity point (small order)",
        ),
        (
            "recipient_ed25519_not_a_point",
            "recipient",
            recipient(good_x, hex32("0200000000000000000000000000000000000000000000000000000000000000")),
            "the Ed25519 key does not decode to a curve point",
        ),
        (
            "recipient_outdated_32_bytes",
            "recipient",
            bech32::encode_lower::<Bech32>(Hrp::parse("esmtp").unwrap(), &good_x).unwrap(),
            "32 bytes: a key from before signatures",
        ),
        (
            "identity_outdated_32_bytes",
            "identity",
            bech32::encode_upper::<Bech32>(Hrp::parse("ESMTP-SECRET-KEY-").unwrap(), &[7; 32]).unwrap(),
            "32 bytes: a key from before signatures",
        ),
        (
            "recipient_48_bytes",
            "recipient",
            bech32::encode_lower::<Bech32>(Hrp::parse("esmtp").unwrap(), &[7; 48]).unwrap(),
            "neither 32 nor 64 bytes",
        ),
    ]
}

fn key_error(name: &str) -> &'static str {
    if name.contains("outdated") {
        "outdated"
    } else if name.contains("48_bytes") {
        "length"
    } else {
        "weak-key"
    }
}

fn render_key(name: &str, kind: &str, text: &str, comment: &str) -> Vec<u8> {
    let error = key_error(name);
    format!("expect: invalid-key\nkind: {kind}\nerror: {error}\ncomment: {comment}\n\n{text}\n").into_bytes()
}

fn sync_dir(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    if std::env::var_os("ESMTP_REGENERATE_TESTKIT").is_some() {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|_| panic!("{} exists (ESMTP_REGENERATE_TESTKIT=1 creates it)", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(on_disk.len(), files.len(), "files on disk vs generated in {}", dir.display());
    for (name, bytes) in files {
        let file = std::fs::read(dir.join(name)).unwrap_or_else(|_| panic!("{name} missing"));
        assert!(file == *bytes, "{name} differs from the generator's output");
    }
}

#[test]
fn vectors_match_generator() {
    let cases: BTreeMap<String, Vec<u8>> = generate().into_iter().map(|(n, c)| (n, c.render())).collect();
    sync_dir(&testkit_dir(), &cases);
    let keys: BTreeMap<String, Vec<u8>> = rejected_keys()
        .into_iter()
        .map(|(n, kind, text, comment)| (n.to_string(), render_key(n, kind, &text, comment)))
        .collect();
    sync_dir(&keys_dir(), &keys);
}

fn outcome(result: Result<esmtp_core::Opened, OpenError>) -> (&'static str, Option<esmtp_core::Opened>) {
    match result {
        Ok(o) => ("success", Some(o)),
        Err(OpenError::Malformed(_)) => ("malformed", None),
        Err(OpenError::UnsupportedVersion(_)) => ("unsupported-version", None),
        Err(OpenError::UnsupportedSuite(_)) => ("unsupported-suite", None),
        Err(OpenError::NoMatchingRecipient) => ("no-match", None),
        Err(OpenError::ExcessiveWork) => ("excessive-work", None),
        Err(OpenError::DecryptionFailed) => ("decryption-failed", None),
        Err(OpenError::BadSignature) => ("bad-signature", None),
        Err(OpenError::UnexpectedSigner(_)) => ("unexpected-signer", None),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn every_vector_has_its_outcome() {
    let mut seen = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(testkit_dir()).unwrap() {
        let path = entry.unwrap().path();
        let (fields, envelope) = parse(&std::fs::read(&path).unwrap());
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
        for s in get("require-signer") {
            opener = opener.require_signer(s.parse::<X25519Recipient>().unwrap());
        }
        let expect = get("expect")[0].clone();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (got, opened) = outcome(opener.open(&envelope));
        if got != expect {
            failures.push(format!("{name}: expected {expect}, got {got}"));
        }
        if let Some(o) = opened {
            let p = o.plaintext();
            assert_eq!(to_hex(&digest(HashAlgorithm::Md5, p)), get("payload-md5")[0], "{name}");
            assert_eq!(to_hex(&digest(HashAlgorithm::Sha256, p)), get("payload-sha256")[0], "{name}");
            let signer = match o.signature() {
                Signature::Unsigned => "none".to_string(),
                Signature::Signed { signer } => signer.to_string(),
                other => panic!("{other:?}"),
            };
            assert_eq!(signer, get("signer")[0], "{name}");
        }
        seen += 1;
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(seen >= 80, "only {seen} vectors found");
}

#[test]
fn every_rejected_key_is_rejected() {
    let mut seen = 0;
    for entry in std::fs::read_dir(keys_dir()).unwrap() {
        let path = entry.unwrap().path();
        let (fields, text) = parse(&std::fs::read(&path).unwrap());
        let text = String::from_utf8(text).unwrap();
        let error = match fields["kind"][0].as_str() {
            "recipient" => text.parse::<X25519Recipient>().err(),
            "identity" => text.parse::<X25519Identity>().err(),
            other => panic!("kind {other}"),
        };
        let got = match error {
            None => panic!("{} was accepted", path.display()),
            Some(ParseKeyError::Outdated) => "outdated",
            Some(ParseKeyError::Length) => "length",
            Some(ParseKeyError::WeakKey) => "weak-key",
            Some(other) => panic!("{}: {other}", path.display()),
        };
        assert_eq!(got, fields["error"][0], "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 10);
}
