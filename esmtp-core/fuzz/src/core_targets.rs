//! Targets on esmtp-core: envelopes (with an authenticity oracle, and raw), headers, armor, key
//! texts and identity files, and mails (the outer message, and the inner entity inside an
//! authentic envelope).

use std::io::Read;
use std::sync::OnceLock;

use esmtp_core::identity_file::IdentityFile;
use esmtp_core::mime::{self, Limits, MailKind, MimeError, ReadMail};
use esmtp_core::{
    Argon2Params, ArmorReader, CHUNK_SIZE, EnvelopeId, KeySlip, OpenError, Opened, Opener, Passphrase,
    Sealer, Signature, Suite, X25519Identity, X25519Recipient,
};

use super::input::{Deterministic, Input, pattern};

/// The passphrase of the fixed openers and of the seed envelopes.
pub const PASSPHRASE: &str = "correct horse battery staple";
/// The cost the seeds are sealed with.
pub const SEAL_COST: Argon2Params = Argon2Params { m_cost: 32, t_cost: 1, p_cost: 1 };
/// What the openers accept: low, so executions stay fast, but every stanza still meets the
/// parameter checks (minima first, then this limit) before any Argon2 runs.
pub const WORK_LIMIT: Argon2Params = Argon2Params { m_cost: 256, t_cost: 2, p_cost: 2 };

const BOB_SEED: u64 = 1;
const ALICE_SEED: u64 = 2;
const DECOY_SEED: u64 = 3;
/// Generators whose first draws are the message key and id of the fixed key slips.
const SLIP_SEEDS: [(Suite, u64); 2] = [(Suite::ChaCha20Poly1305, 101), (Suite::LegacyDesCbcMd5, 102)];

fn fixed_identity(seed: u64) -> X25519Identity {
    X25519Identity::generate_with(&mut Deterministic::new(seed))
        .expect("the deterministic generator never fails")
}

/// The fixed recipient of the seeds.
pub fn bob() -> &'static X25519Identity {
    static BOB: OnceLock<X25519Identity> = OnceLock::new();
    BOB.get_or_init(|| fixed_identity(BOB_SEED))
}

/// The fixed signer of the seeds.
pub fn alice() -> &'static X25519Identity {
    static ALICE: OnceLock<X25519Identity> = OnceLock::new();
    ALICE.get_or_init(|| fixed_identity(ALICE_SEED))
}

fn decoy() -> &'static X25519Identity {
    static DECOY: OnceLock<X25519Identity> = OnceLock::new();
    DECOY.get_or_init(|| fixed_identity(DECOY_SEED))
}

fn slip_seed(suite: Suite) -> u64 {
    SLIP_SEEDS.iter().find(|(s, _)| *s == suite).map_or(100, |(_, seed)| *seed)
}

/// A sealer's generator: the envelopes of one suite share the message key and id of that
/// suite's fixed key slip (they are drawn first), so the slip opens every seed.
pub fn seed_rng(suite: Suite) -> Deterministic {
    Deterministic::new(slip_seed(suite))
}

/// The fixed key slip of `suite`.
pub fn fixed_slip(suite: Suite) -> KeySlip {
    Sealer::new()
        .suite(suite)
        .key_slip()
        .seal_with(b"", &mut seed_rng(suite))
        .ok()
        .and_then(|s| s.key_slip)
        .expect("sealing an empty message with a key slip")
}

/// Opens with Bob's key, the passphrase (up to [`WORK_LIMIT`]), both fixed key slips and a decoy.
pub fn fixed_opener() -> &'static Opener {
    static OPENER: OnceLock<Opener> = OnceLock::new();
    OPENER.get_or_init(|| {
        Opener::new()
            .identity(decoy().clone())
            .identity(bob().clone())
            .identity(Passphrase::new(PASSPHRASE).with_max_work(WORK_LIMIT))
            .identity(fixed_slip(Suite::ChaCha20Poly1305))
            .identity(fixed_slip(Suite::LegacyDesCbcMd5))
    })
}

/// [`fixed_opener`] that also requires Alice's signature.
pub fn signer_opener() -> &'static Opener {
    static OPENER: OnceLock<Opener> = OnceLock::new();
    OPENER.get_or_init(|| {
        Opener::new()
            .identity(bob().clone())
            .identity(Passphrase::new(PASSPHRASE).with_max_work(WORK_LIMIT))
            .identity(fixed_slip(Suite::ChaCha20Poly1305))
            .identity(fixed_slip(Suite::LegacyDesCbcMd5))
            .require_signer(alice().to_public())
    })
}

/// An error's identity for comparisons: its Display (which carries its payload).
fn describe(e: &OpenError) -> String {
    e.to_string()
}

/// Open through the streaming reader with reads of varying size. Every byte it releases must be
/// a prefix of `expected` when given. Returns what the one-shot call would.
fn open_streaming(
    opener: &Opener,
    data: &[u8],
    expected: Option<&[u8]>,
) -> Result<(Vec<u8>, Signature), OpenError> {
    let input: Box<dyn Read + '_> =
        if esmtp_core::is_armored(data) { Box::new(ArmorReader::new(data)) } else { Box::new(data) };
    let mut reader = opener.open_reader(input)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 7919];
    let mut step = 1usize;
    loop {
        step = step * 7 % 7919 + 1;
        match reader.read(&mut buf[..step]) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if let Some(expected) = expected {
                    assert!(
                        expected.starts_with(&out),
                        "the streaming reader released bytes that are not the message"
                    );
                }
            }
            Err(e) => return Err(OpenError::from_io(e)),
        }
    }
    assert!(reader.is_verified(), "the end of the stream was reached unverified");
    Ok((out, reader.signature().clone()))
}

/// One-shot and streaming opens of `data` must agree, and in-memory input never gives an I/O
/// error.
fn open_both(opener: &Opener, data: &[u8], expected: Option<&[u8]>) -> Result<Opened, OpenError> {
    let one_shot = opener.open(data);
    let streamed = open_streaming(opener, data, expected);
    match (&one_shot, &streamed) {
        (Ok(opened), Ok((plain, signature))) => {
            assert_eq!(opened.plaintext(), &plain[..], "one-shot and streaming plaintexts differ");
            assert_eq!(opened.signature(), signature, "one-shot and streaming signers differ");
        }
        (Err(a), Err(b)) => assert_eq!(describe(a), describe(b), "one-shot and streaming errors differ"),
        (a, b) => {
            panic!("one-shot and streaming opens disagree: {:?} / {:?}", a.as_ref().err(), b.as_ref().err())
        }
    }
    if let Err(OpenError::Io(e)) = &one_shot {
        panic!("in-memory input gave an I/O error: {e}");
    }
    one_shot
}

/// Raw bytes as an envelope (binary or armored): no panic, no hang, bounded memory, and the
/// one-shot and streaming openers agree. A required signer, when the open succeeds, is there.
pub fn envelope_raw(data: &[u8]) {
    let _ = esmtp_core::inspect(data);
    let _ = open_both(fixed_opener(), data, None);
    if let Ok(opened) = open_both(signer_opener(), data, None) {
        assert_eq!(opened.signature(), &Signature::Signed { signer: alice().to_public() });
    }
}

/// Where things sit in an envelope this target sealed itself.
struct Layout {
    header_len: usize,
    /// Offset of `BE32(m) || BE32(t) || BE32(p)` in the passphrase stanza.
    passphrase_params: Option<usize>,
    wire_chunk: usize,
}

fn layout(envelope: &[u8], suite: Suite) -> Layout {
    let mut at = 27;
    let mut passphrase_params = None;
    for _ in 0..envelope[26] {
        let len = usize::from(u16::from_be_bytes([envelope[at + 1], envelope[at + 2]]));
        if envelope[at] == 0x02 {
            passphrase_params = Some(at + 3 + 16);
        }
        at += 3 + len;
    }
    let wire_chunk = CHUNK_SIZE + 16 + if suite == Suite::LegacyDesCbcMd5 { 8 } else { 0 };
    Layout { header_len: at + 32, passphrase_params, wire_chunk }
}

/// Argon2 parameters an attacker would write: the extremes and the edges of the checks.
fn hostile_u32(input: &mut Input<'_>) -> u32 {
    const EDGES: [u32; 12] = [0, 1, 2, 7, 8, 16, 257, 262_144, 262_145, 1 << 29, 1 << 31, u32::MAX];
    match input.byte() % 3 {
        0 => EDGES[usize::from(input.byte()) % EDGES.len()],
        1 => u32::from(input.byte()),
        _ => input.u32(),
    }
}

/// One blind edit of the bytes (no key is known to the editor).
fn edit(bytes: &mut Vec<u8>, input: &mut Input<'_>, layout: Option<&Layout>) {
    let len = bytes.len();
    let cap = |n: usize| n.min(3 * CHUNK_SIZE);
    match input.byte() % 10 {
        0 if len > 0 => {
            let bit = input.below(len * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
        1 if len > 0 => {
            let at = input.below(len);
            bytes[at] = input.byte();
        }
        2 => {
            let at = input.below(len + 1);
            let insert = input.bytes(64).to_vec();
            bytes.splice(at..at, insert);
        }
        3 if len > 0 => {
            let at = input.below(len);
            let n = 1 + input.below(cap(len - at));
            bytes.drain(at..at + n);
        }
        4 => bytes.truncate(input.below(len + 1)),
        5 if len > 0 => {
            let from = input.below(len);
            let n = 1 + input.below(cap(len - from));
            let copy = bytes[from..from + n].to_vec();
            let to = input.below(len + 1);
            bytes.splice(to..to, copy);
        }
        6 => bytes.extend_from_slice(input.bytes(64)),
        7 => {
            if let Some(layout) = layout {
                chunk_edit(bytes, input, layout);
            }
        }
        8 => {
            if let Some(at) = layout.and_then(|l| l.passphrase_params)
                && at + 12 <= len
            {
                for i in 0..3 {
                    let value = hostile_u32(input);
                    bytes[at + 4 * i..at + 4 * i + 4].copy_from_slice(&value.to_be_bytes());
                }
            }
        }
        _ => {}
    }
}

/// Drop, duplicate or swap whole chunks of a binary envelope.
fn chunk_edit(bytes: &mut Vec<u8>, input: &mut Input<'_>, layout: &Layout) {
    if bytes.len() <= layout.header_len {
        return;
    }
    let payload = bytes.split_off(layout.header_len);
    let mut chunks: Vec<Vec<u8>> = payload.chunks(layout.wire_chunk).map(<[u8]>::to_vec).collect();
    let n = chunks.len();
    let (a, b) = (input.below(n), input.below(n));
    match input.byte() % 3 {
        0 => {
            chunks.remove(a);
        }
        1 => {
            let copy = chunks[a].clone();
            chunks.insert(b, copy);
        }
        _ => chunks.swap(a, b),
    }
    bytes.extend(chunks.into_iter().flatten());
}

/// The authenticity oracle: seal a fuzzer-chosen message for fuzzer-chosen recipients with the
/// real sealer, edit the envelope blindly (bits, bytes, ranges, truncation, whole chunks, hostile
/// Argon2 parameters), binary or armored, and open it with the right identities. Whenever that
/// succeeds, the plaintext, the signer, the suite and the id are the original ones; the streaming
/// reader releases nothing but a prefix of the message.
pub fn envelope_oracle(data: &[u8]) {
    let mut input = Input::new(data);
    let mut rng = Deterministic::new(input.u64());
    let suite = if input.bool() { Suite::LegacyDesCbcMd5 } else { Suite::ChaCha20Poly1305 };
    let who = input.byte();
    let (to_x25519, to_passphrase) = (who & 1 != 0, who & 2 != 0);
    let to_slip = who & 4 != 0 || who & 3 == 0;
    let (signed, require, armored, decoys) = (who & 8 != 0, who & 16 != 0, who & 32 != 0, who & 64 != 0);
    let cost =
        Argon2Params { m_cost: 8 + input.below(57) as u32, t_cost: 1 + input.below(2) as u32, p_cost: 1 };
    let plaintext = match input.byte() % 4 {
        0 => {
            let len = input.below(3 * CHUNK_SIZE + 300);
            pattern(len, input.byte())
        }
        _ => input.bytes(1024).to_vec(),
    };

    let mut sealer = Sealer::new().suite(suite);
    let mut opener = Opener::new();
    if decoys {
        opener =
            opener.identity(decoy().clone()).identity(Passphrase::new("wrong").with_max_work(WORK_LIMIT));
    }
    if to_x25519 {
        sealer = sealer.recipient(bob().to_public());
        opener = opener.identity(bob().clone());
    }
    if to_passphrase {
        sealer =
            sealer.recipient(Passphrase::new(PASSPHRASE).with_params(cost).expect("cost within the limits"));
        opener = opener.identity(Passphrase::new(PASSPHRASE).with_max_work(WORK_LIMIT));
    }
    if to_slip {
        sealer = sealer.key_slip();
    }
    if signed {
        sealer = sealer.sign_with(alice().clone());
    }
    if require {
        opener = opener.require_signer(alice().to_public());
    }
    let sealed = sealer.seal_with(&plaintext, &mut rng).expect("sealing a valid choice");
    if let Some(slip) = sealed.key_slip.clone() {
        opener = opener.identity(slip);
    }

    let layout = layout(&sealed.envelope, suite);
    let mut bytes = sealed.envelope.clone();
    for _ in 0..input.byte() % 5 {
        edit(&mut bytes, &mut input, Some(&layout));
    }
    if armored {
        bytes = esmtp_core::armor(&bytes).into_bytes();
        for _ in 0..input.byte() % 4 {
            edit(&mut bytes, &mut input, None);
        }
    }

    let expected_signature =
        if signed { Signature::Signed { signer: alice().to_public() } } else { Signature::Unsigned };
    if let Ok(opened) = open_both(&opener, &bytes, Some(&plaintext)) {
        assert_eq!(opened.plaintext(), &plaintext[..], "an edited envelope opened to another message");
        assert_eq!(opened.signature(), &expected_signature, "an edited envelope opened with another signer");
        assert_eq!(opened.suite(), suite);
        assert_eq!(opened.envelope_id(), sealed.envelope_id);
        assert!(!require || signed, "an unsigned envelope passed a required signer");
    }
}

/// Header and stanza parsing ([`esmtp_core::inspect`], binary or armored).
pub fn header(data: &[u8]) {
    if let Ok(info) = esmtp_core::inspect(data) {
        assert!((1..=64).contains(&info.stanzas.len()), "stanza count out of range accepted");
        let passphrases = info.stanzas.iter().filter(|k| **k == esmtp_core::StanzaKind::Passphrase).count();
        assert!(passphrases <= 1, "two passphrase stanzas accepted");
        assert!(esmtp_core::is_armored(data) || data.starts_with(b"ESMTPENV"));
    }
}

/// The armor decoder accepts exactly the canonical text (LF or CRLF line ends, one optional line
/// end after END); the streaming reader agrees with the one-shot decoder; the lenient extractor
/// of mails finds the same bytes in any strict armor; encoding round-trips.
pub fn armor(data: &[u8]) {
    let strict = esmtp_core::dearmor(data);
    let mut streamed = Vec::new();
    let mut reader = ArmorReader::new(data);
    let mut buf = [0u8; 13];
    let streamed_result = loop {
        match reader.read(&mut buf[..1 + streamed.len() % 13]) {
            Ok(0) => break Ok(()),
            Ok(n) => streamed.extend_from_slice(&buf[..n]),
            Err(e) => break Err(OpenError::from_io(e)),
        }
    };
    match (&strict, &streamed_result) {
        (Ok(decoded), Ok(())) => {
            assert_eq!(decoded, &streamed, "streaming and one-shot armor decoding differ");
            let canonical = esmtp_core::armor(decoded);
            let mut normalized: Vec<u8> = Vec::with_capacity(data.len() + 1);
            let mut i = 0;
            while i < data.len() {
                if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                    continue;
                }
                normalized.push(data[i]);
                i += 1;
            }
            if normalized.last() != Some(&b'\n') {
                normalized.push(b'\n');
            }
            assert_eq!(normalized, canonical.as_bytes(), "a non-canonical armor was accepted");
            let lenient = mime::extract_armor(data).expect("strict armor is lenient armor");
            assert_eq!(
                lenient.as_deref(),
                Some(&decoded[..]),
                "the mail extractor read strict armor differently"
            );
        }
        (Err(a), Err(b)) => {
            assert!(matches!(a, OpenError::Malformed(_)), "armor error is not malformed: {a}");
            assert_eq!(describe(a), describe(b), "streaming and one-shot armor errors differ");
        }
        (a, b) => {
            panic!("streaming and one-shot armor disagree: {:?} / {:?}", a.as_ref().err(), b.as_ref().err())
        }
    }
    let _ = mime::extract_armor(data);
    if !data.is_empty() {
        let text = esmtp_core::armor(data);
        assert_eq!(esmtp_core::dearmor(text.as_bytes()).expect("own armor decodes"), data);
    }
}

/// Key texts: a recipient, a secret key, a key slip, an envelope id, a suite name, and identity
/// files (plain, and protected, opened with the fixed passphrase within [`WORK_LIMIT`]). Whatever
/// parses has one text: printing it gives the input without white space, in its case.
pub fn keys(data: &[u8]) {
    keys_identity_file(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(recipient) = text.parse::<X25519Recipient>() {
        assert_eq!(recipient.to_string(), compact.to_lowercase(), "a recipient with two texts");
        assert_eq!(recipient.to_string().parse::<X25519Recipient>().ok(), Some(recipient));
    }
    if let Ok(identity) = text.parse::<X25519Identity>() {
        assert_eq!(
            identity.to_secret_string().as_str(),
            compact.to_uppercase(),
            "a secret key with two texts"
        );
    }
    if let Ok(slip) = text.parse::<KeySlip>() {
        assert_eq!(slip.to_token().as_str(), compact.to_uppercase(), "a key slip with two texts");
    }
    if let Some(id) = EnvelopeId::from_hex(text) {
        assert_eq!(id.to_string(), text, "an envelope id with two texts");
    }
    if let Ok(suite) = text.parse::<Suite>() {
        assert_eq!(suite.name(), text);
    }
}

fn keys_identity_file(data: &[u8]) {
    if let Ok(file) = IdentityFile::parse(data) {
        let passphrase = Passphrase::new(PASSPHRASE).with_max_work(WORK_LIMIT);
        let _ = file.unlock(Some(&passphrase));
    }
}

/// A whole mail: classified and read with the fixed opener. What reading finds, classifying
/// finds too (without a key).
pub fn mime_outer(data: &[u8]) {
    let limits = Limits::default();
    let classified = mime::classify(data, &limits);
    let read = mime::read_mail(data, fixed_opener(), &limits);
    match (&read, &classified) {
        (Ok(ReadMail::Encrypted(mail)), Ok(MailKind::Encrypted { envelope_id, form, .. })) => {
            assert_eq!((&mail.envelope_id, &mail.form), (envelope_id, form));
        }
        (Ok(ReadMail::KeySlip(slip)), Ok(MailKind::KeySlip { envelope_id, .. })) => {
            assert_eq!(&slip.envelope_id, envelope_id);
        }
        (Ok(ReadMail::Plain(_)), Ok(MailKind::Plain)) => {}
        (Ok(_), other) => panic!("read_mail and classify disagree: classify gave {other:?}"),
        (Err(_), _) => {}
    }
}

/// The outer message MIME.md section 3 describes, around `envelope` (CRLF armor).
pub fn outer_mail(envelope: &[u8], id: EnvelopeId) -> Vec<u8> {
    let armor = esmtp_core::armor(envelope).replace('\n', "\r\n");
    format!(
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: ...\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <fuzz@example.test>\r\n\
         X-Esmtp-Envelope-Id: {id}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/encrypted; protocol=\"application/vnd.esmtp.envelope\"; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: application/vnd.esmtp.envelope\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
         Version: 1\r\n--b\r\nContent-Type: application/octet-stream; name=\"encrypted.esmtp\"\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\n{armor}--b--\r\n"
    )
    .into_bytes()
}

/// The fuzzer's bytes as the inner entity of an authentic encrypted mail: reading it opens the
/// envelope (never an envelope error), and either refuses the entity with a typed MIME error or
/// returns it byte for byte.
pub fn mime_inner(data: &[u8]) {
    let sealed = Sealer::new()
        .key_slip()
        .seal_with(data, &mut Deterministic::new(7))
        .expect("sealing with a key slip");
    let mail = outer_mail(&sealed.envelope, sealed.envelope_id);
    let opener = Opener::new().identity(sealed.key_slip.expect("asked for a key slip"));
    match mime::read_mail(&mail, &opener, &Limits::default()) {
        Ok(ReadMail::Encrypted(opened)) => {
            assert_eq!(&opened.inner[..], data, "the inner entity changed");
            assert_eq!(opened.envelope_id, sealed.envelope_id);
        }
        Ok(other) => panic!("an encrypted mail was read as {other:?}"),
        Err(MimeError::Open(e)) => panic!("an authentic envelope did not open: {e}"),
        Err(_) => {}
    }
}

/// Seed inputs: name and bytes, per target. Envelopes are sealed to the fixed identities, so the
/// fuzzer starts from inputs that open.
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    match target {
        "envelope_raw" | "header" => {
            for suite in Suite::ALL {
                for (name, sealer) in [
                    ("x25519", Sealer::new().recipient(bob().to_public())),
                    ("passphrase", Sealer::new().recipient(passphrase_recipient())),
                    ("slip", Sealer::new().key_slip()),
                    ("signed", Sealer::new().recipient(bob().to_public()).sign_with(alice().clone())),
                    (
                        "all",
                        Sealer::new()
                            .recipient(decoy().to_public())
                            .recipient(passphrase_recipient())
                            .recipient(bob().to_public())
                            .key_slip()
                            .sign_with(alice().clone()),
                    ),
                ] {
                    let envelope = sealer
                        .suite(suite)
                        .seal_with(b"Meet at noon by the old mill.", &mut seed_rng(suite))
                        .expect("seed sealing")
                        .envelope;
                    out.push((
                        format!("{}-{name}-armored", suite.name()),
                        esmtp_core::armor(&envelope).into_bytes(),
                    ));
                    out.push((format!("{}-{name}", suite.name()), envelope));
                }
            }
        }
        "envelope_oracle" => {
            // Read as envelope_oracle reads: generator seed, suite, recipients and flags, cost,
            // the message (1: bytes from the input), the edits, and for armor the text edits.
            for who in [1u8, 2, 4, 1 | 2 | 4 | 8 | 16, 1 | 32, 2 | 64, 4 | 8] {
                for suite in [0u8, 1] {
                    let mut seed = vec![0, 0, 0, 0, 0, 0, 0, who, suite, who, 0, 0, 0, 24, 0, 0, 0, 1, 1];
                    let message = b"attack at dawn, bring coffee";
                    seed.extend_from_slice(&(message.len() as u16).to_be_bytes());
                    seed.extend_from_slice(message);
                    // One edit: flip a bit.
                    seed.extend_from_slice(&[1, 0, 0, 0, 0, 0x40]);
                    out.push((format!("who{who}-suite{suite}"), seed));
                }
            }
            // A three-chunk pattern message, one chunk swapped.
            out.push((
                "three-chunks".into(),
                vec![
                    0, 0, 0, 0, 0, 0, 0, 9, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 7, 1, 7, 0, 0, 0, 0,
                    0, 0, 0, 1, 2,
                ],
            ));
        }
        "armor" => {
            for len in [1usize, 47, 48, 49, 200] {
                out.push((format!("len{len}"), esmtp_core::armor(&pattern(len, 3)).into_bytes()));
            }
            out.push(("crlf".into(), esmtp_core::armor(&pattern(100, 5)).replace('\n', "\r\n").into_bytes()));
        }
        "keys" => {
            out.push(("recipient".into(), bob().to_public().to_string().into_bytes()));
            out.push(("identity".into(), bob().to_secret_string().as_bytes().to_vec()));
            out.push(("slip".into(), fixed_slip(Suite::ChaCha20Poly1305).to_token().as_bytes().to_vec()));
            out.push(("envelope-id".into(), b"000102030405060708090a0b0c0d0e0f".to_vec()));
            out.push(("suite".into(), b"des-cbc-md5".to_vec()));
            let file = format!(
                "# keys\n\n{}\n{}\n",
                bob().to_secret_string().as_str(),
                fixed_slip(Suite::LegacyDesCbcMd5).to_token().as_str()
            );
            out.push(("identity-file".into(), file.clone().into_bytes()));
            let protected = protect_cheaply(&file);
            out.push(("identity-file-protected".into(), protected));
        }
        "mime_outer" => {
            let draft = mime::MailDraft::new(mime::Mailbox::new("alice@example.test"))
                .to(mime::Mailbox::new("bob@example.test"))
                .subject("the plan")
                .text("Meet at noon.")
                .attachment(mime::Attachment::new("plan.txt", "text/plain", b"north gate".to_vec()))
                .date(1_700_000_000);
            let options = mime::PackageOptions::new(1_700_000_000);
            for (name, sealer) in [
                ("x25519", Sealer::new().recipient(bob().to_public()).sign_with(alice().clone())),
                ("slip", Sealer::new().key_slip()),
            ] {
                let mail =
                    mime::package_with(&draft, &sealer, &options, &mut seed_rng(Suite::ChaCha20Poly1305))
                        .expect("seed packaging");
                if let Some(slip) = &mail.key_slip {
                    let slip_mail = mime::key_slip_mail_with(
                        slip,
                        &draft.from,
                        &draft.to[0],
                        1_700_000_000,
                        &mut Deterministic::new(9),
                    )
                    .expect("seed key-slip mail");
                    out.push(("key-slip-mail".into(), slip_mail.bytes.to_vec()));
                }
                out.push((name.into(), mail.bytes.clone()));
            }
            out.push(("plain".into(), b"From: a@example.test\r\nSubject: hi\r\n\r\nhello\r\n".to_vec()));
        }
        "mime_inner" => {
            out.push((
                "text".into(),
                b"From: a@example.test\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\nhi\r\n".to_vec(),
            ));
            out.push((
                "mixed".into(),
                b"From: a@example.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n\
                  --x\r\nContent-Type: text/plain\r\n\r\nbody\r\n--x\r\nContent-Type: application/pdf\r\n\
                  Content-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                  aGVsbG8=\r\n--x--\r\n"
                    .to_vec(),
            ));
        }
        _ => {}
    }
    out
}

fn passphrase_recipient() -> Passphrase {
    Passphrase::new(PASSPHRASE).with_params(SEAL_COST).expect("cheap, valid parameters")
}

fn protect_cheaply(text: &str) -> Vec<u8> {
    let sealed = Sealer::new()
        .recipient(passphrase_recipient())
        .seal_with(text.as_bytes(), &mut seed_rng(Suite::ChaCha20Poly1305))
        .expect("seed sealing");
    esmtp_core::armor(&sealed.envelope).into_bytes()
}
