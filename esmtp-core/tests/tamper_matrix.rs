//! The exhaustive tamper matrix: for both suites, every recipient type (x25519, passphrase, key
//! slip), signed and unsigned, every alteration below must fail with the error SPEC.md predicts
//! for it, and never yield plaintext (the one-shot and the streaming opener alike):
//!
//! - every bit flip of a small envelope (a one-chunk message); for three-chunk envelopes every
//!   bit of the first and last 2 bytes of each chunk, one bit of every header byte (the header is
//!   the small envelopes' one), and one bit every 16411 bytes of the payload (a deterministic
//!   sample: each such open decrypts up to 200 KB);
//! - every truncation length of a small envelope; for three-chunk envelopes every length inside
//!   the header and up to 16 bytes into the payload, 8 either side of each chunk boundary, and
//!   every 8191st length; a few extensions;
//! - chunks dropped, duplicated, swapped (three-chunk envelopes);
//! - stanzas removed, duplicated, reordered, with the header MAC left as it was, and re-MACed by
//!   a key holder (which an unsigned envelope cannot tell: SPEC.md section 5.4);
//! - the suite id changed, left as it was and re-MACed, and the version changed.
//!
//! The envelopes are made by the independent encoder (`common`), so the matrix knows every key
//! and can re-MAC like a key holder. The predictions follow SPEC.md sections 3 to 5 region by
//! region: they are written from the spec, not read from the decoder.

mod common;

use std::io::Read;

use common::{C, Signer};
use esmtp_core::{
    Argon2Params, KeySlip, OpenError, Opener, Passphrase, Signature, X25519Identity, X25519Recipient,
};

const PASS: &str = "tamper matrix";
const COST: (u32, u32, u32) = (64, 1, 1);
/// The openers' work limit: low, so flips that raise the cost stay cheap, while every flipped
/// parameter still meets the checks of SPEC.md section 4.2.
const LIMIT: Argon2Params = Argon2Params { m_cost: 1024, t_cost: 3, p_cost: 2 };

const X25519: u8 = 0x01;
const PASSPHRASE: u8 = 0x02;
const KEY_SLIP: u8 = 0x03;
const CHACHA: u8 = 0x01;
const DES: u8 = 0x02;
/// magic, version, suite, ID, count.
const FIXED: usize = 27;
const MAC: usize = 32;

/// What SPEC.md says an opener reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Opens, to the original message and signer.
    Open,
    Malformed,
    Version(u8),
    Suite(u8),
    NoMatch,
    Excessive,
    Decryption,
    BadSignature,
}

fn expect_of(e: &OpenError) -> Expect {
    match e {
        OpenError::Malformed(_) => Expect::Malformed,
        OpenError::UnsupportedVersion(v) => Expect::Version(*v),
        OpenError::UnsupportedSuite(s) => Expect::Suite(*s),
        OpenError::NoMatchingRecipient => Expect::NoMatch,
        OpenError::ExcessiveWork => Expect::Excessive,
        OpenError::DecryptionFailed => Expect::Decryption,
        OpenError::BadSignature => Expect::BadSignature,
        other => panic!("an error SPEC.md never predicts here: {other:?}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    X25519,
    Passphrase,
    KeySlip,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::X25519, Kind::Passphrase, Kind::KeySlip];
}

fn fixed_len(kind: u8) -> Option<usize> {
    match kind {
        X25519 => Some(112),
        PASSPHRASE => Some(108),
        KEY_SLIP => Some(16),
        _ => None,
    }
}

/// One envelope, everything about it known.
struct Fixture {
    name: String,
    suite: u8,
    id: [u8; 16],
    key: [u8; 32],
    stanzas: Vec<(u8, Vec<u8>)>,
    /// The index of the stanza the opener holds the identity for.
    target: usize,
    signer: Option<Signer>,
    message: Vec<u8>,
    envelope: Vec<u8>,
    opener: Opener,
    alice: X25519Recipient,
}

fn bob() -> X25519Identity {
    X25519Identity::generate_with(&mut common::rng(11)).unwrap()
}

fn carol() -> X25519Identity {
    X25519Identity::generate_with(&mut common::rng(12)).unwrap()
}

fn x25519_of(identity: &X25519Identity) -> [u8; 32] {
    let (_, data) = bech32::decode(&identity.to_public().to_string()).unwrap();
    data[..32].try_into().unwrap()
}

/// A message key valid for `suite`: for des-cbc-md5 a DES key of odd parity (and none of the
/// listed weak keys: the baseline open proves it).
fn message_key(suite: u8, seed: u8) -> [u8; 32] {
    let mut key: [u8; 32] = common::pattern(32, seed).try_into().unwrap();
    if suite == DES {
        for b in &mut key[..8] {
            if b.count_ones() % 2 == 0 {
                *b ^= 1;
            }
        }
    }
    key
}

fn stanza(kind: Kind, id: &[u8; 16], key: &[u8; 32], who: &X25519Identity) -> (u8, Vec<u8>) {
    match kind {
        Kind::X25519 => common::x25519_stanza(&x25519_of(who), [0x42; 32], id, key),
        Kind::Passphrase => {
            let salt = [0x5a; 16];
            let (m, t, p) = COST;
            let w = common::argon2id(PASS, &salt, m, t, p);
            common::passphrase_stanza(&w, &salt, m, t, p, id, key)
        }
        Kind::KeySlip => common::slip_stanza(key, id),
    }
}

fn slip(id: &[u8; 16], key: &[u8; 32]) -> KeySlip {
    let mut data = id.to_vec();
    data.extend_from_slice(key);
    let token =
        bech32::encode_upper::<bech32::Bech32>(bech32::Hrp::parse("ESMTP-SLIP-").unwrap(), &data).unwrap();
    token.parse().unwrap()
}

/// Header and chunks of `message` under `stanzas`, signed by `signer` over that header.
fn assemble(
    suite: u8,
    id: &[u8; 16],
    key: &[u8; 32],
    stanzas: &[(u8, Vec<u8>)],
    signer: Option<&Signer>,
    message: &[u8],
) -> Vec<u8> {
    let header = common::header(suite, id, stanzas, key);
    let stream = common::chunk_stream(message, suite == DES, signer.map(|s| (s, &header[..])));
    common::envelope(suite, id, stanzas, key, &stream)
}

/// An envelope of `suite` with `kinds` stanzas (the x25519 ones for Bob, then Carol), opened by
/// the holder of the stanza `target`.
fn fixture(suite: u8, kinds: &[Kind], target: usize, signed: bool, message_len: usize) -> Fixture {
    let id: [u8; 16] = common::pattern(16, 0x11 ^ suite).try_into().unwrap();
    let key = message_key(suite, 0x22 ^ suite);
    let (bob, carol) = (bob(), carol());
    let mut x25519_seen = 0;
    let stanzas: Vec<(u8, Vec<u8>)> = kinds
        .iter()
        .map(|&kind| {
            let who = if kind == Kind::X25519 && x25519_seen > 0 { &carol } else { &bob };
            x25519_seen += usize::from(kind == Kind::X25519);
            stanza(kind, &id, &key, who)
        })
        .collect();
    let signer = signed.then(|| Signer::from_seed(7));
    let message = common::pattern(message_len, 0x33);
    let envelope = assemble(suite, &id, &key, &stanzas, signer.as_ref(), &message);
    let alice: X25519Recipient = Signer::from_seed(7).text().parse().unwrap();
    let mut opener = match kinds[target] {
        Kind::X25519 => Opener::new().identity(bob),
        Kind::Passphrase => Opener::new().identity(Passphrase::new(PASS).with_max_work(LIMIT)),
        Kind::KeySlip => Opener::new().identity(slip(&id, &key)),
    };
    if signed {
        opener = opener.require_signer(alice.clone());
    }
    let name = format!(
        "{} {:?} of {:?}, {}, {} bytes",
        if suite == CHACHA { "chacha20-poly1305" } else { "des-cbc-md5" },
        kinds[target],
        kinds,
        if signed { "signed" } else { "unsigned" },
        message_len
    );
    let fx = Fixture { name, suite, id, key, stanzas, target, signer, message, envelope, opener, alice };
    assert_eq!(fx.run(&fx.envelope), Expect::Open, "{}: the unaltered envelope must open", fx.name);
    fx
}

impl Fixture {
    fn header_len(&self) -> usize {
        FIXED + self.stanzas.iter().map(|(_, b)| 3 + b.len()).sum::<usize>() + MAC
    }

    /// Open one-shot and streaming; both must report the same, and a success must be the
    /// original message and signer.
    fn run(&self, envelope: &[u8]) -> Expect {
        let one_shot = match self.opener.open(envelope) {
            Ok(opened) => {
                assert_eq!(opened.plaintext(), &self.message[..], "{}: opened to another message", self.name);
                let signer = match opened.signature() {
                    Signature::Signed { signer } => Some(signer.clone()),
                    _ => None,
                };
                assert_eq!(
                    signer,
                    self.signer.as_ref().map(|_| self.alice.clone()),
                    "{}: another signer",
                    self.name
                );
                Expect::Open
            }
            Err(e) => expect_of(&e),
        };
        let streamed = match self.opener.open_reader(envelope) {
            Err(e) => expect_of(&e),
            Ok(mut reader) => {
                let mut out = Vec::new();
                match reader.read_to_end(&mut out) {
                    Ok(_) => {
                        assert_eq!(out, self.message, "{}: streamed another message", self.name);
                        Expect::Open
                    }
                    Err(e) => {
                        // Only whole, authenticated chunks of the message may have come out.
                        assert!(
                            self.message.starts_with(&out),
                            "{}: streamed bytes not of the message",
                            self.name
                        );
                        expect_of(&OpenError::from_io(e))
                    }
                }
            }
        };
        assert_eq!(one_shot, streamed, "{}: one-shot and streaming openers disagree", self.name);
        one_shot
    }

    /// What altering byte `at` into `new` makes of the envelope (SPEC.md sections 3 to 5).
    fn predict_byte(&self, at: usize, new: u8) -> Expect {
        let h = self.header_len();
        match at {
            0..8 => Expect::Malformed,
            8 => Expect::Version(new),
            9 => Expect::Suite(new),
            // Every wrap secret is salted with ID (and the key slip names it): nothing matches.
            10..26 => Expect::NoMatch,
            26 => {
                let mut altered = self.envelope.clone();
                altered[at] = new;
                self.predict_reparsed(&altered)
            }
            _ if at >= h - MAC => Expect::Decryption,
            _ => self.predict_stanza_byte(at, new),
        }
    }

    /// A header whose layout changed (the count): SPEC.md section 3 step 4, then step 5.
    fn predict_reparsed(&self, bytes: &[u8]) -> Expect {
        match spec_stanzas(bytes) {
            Err(e) => e,
            Ok(stanzas) if stanzas.first() == self.stanzas.get(self.target) && self.target == 0 => {
                Expect::Decryption
            }
            Ok(_) => panic!("{}: a count change this matrix does not model", self.name),
        }
    }

    fn predict_stanza_byte(&self, at: usize, new: u8) -> Expect {
        let mut start = FIXED;
        for (index, (kind, body)) in self.stanzas.iter().enumerate() {
            let end = start + 3 + body.len();
            if at < end {
                let mine = index == self.target;
                // Not the opener's stanza: its key still comes from its own one, and the header
                // MAC no longer matches.
                let others = Expect::Decryption;
                let off = at - start;
                return match off {
                    0 => match fixed_len(new) {
                        Some(len) if len != body.len() => Expect::Malformed,
                        Some(_) => unreachable!("no two known types share a body length"),
                        None if mine => Expect::NoMatch,
                        None => others,
                    },
                    1 | 2 => Expect::Malformed,
                    _ if !mine => others,
                    _ => {
                        let b = off - 3;
                        match *kind {
                            X25519 if b < 64 => Expect::NoMatch,
                            X25519 => Expect::Decryption,
                            PASSPHRASE if b < 16 => Expect::NoMatch,
                            PASSPHRASE if b < 28 => {
                                let mut params = body[16..28].to_vec();
                                params[b - 16] = new;
                                predict_params(&params)
                            }
                            PASSPHRASE if b < 60 => Expect::NoMatch,
                            PASSPHRASE => Expect::Decryption,
                            _ => Expect::NoMatch,
                        }
                    }
                };
            }
            start = end;
        }
        unreachable!("byte {at} is in the header")
    }
}

/// SPEC.md section 4.2: minima first (computed without overflow), then the reader's limit;
/// within both, Argon2 runs with other parameters and the commitment does not match.
fn predict_params(params: &[u8]) -> Expect {
    let be = |i: usize| u64::from(u32::from_be_bytes(params[i..i + 4].try_into().unwrap()));
    let (m, t, p) = (be(0), be(4), be(8));
    if t < 1 || p < 1 || m < 8 * p {
        Expect::Malformed
    } else if m > u64::from(LIMIT.m_cost) || t > u64::from(LIMIT.t_cost) || p > u64::from(LIMIT.p_cost) {
        Expect::Excessive
    } else {
        Expect::NoMatch
    }
}

/// SPEC.md section 3 step 4, from the spec: the stanzas of a header, or *malformed*.
fn spec_stanzas(bytes: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, Expect> {
    let count = usize::from(bytes[26]);
    if count == 0 || count > 64 {
        return Err(Expect::Malformed);
    }
    let mut at = FIXED;
    let mut stanzas = Vec::new();
    for _ in 0..count {
        let head = bytes.get(at..at + 3).ok_or(Expect::Malformed)?;
        let (kind, len) = (head[0], usize::from(u16::from_be_bytes([head[1], head[2]])));
        if fixed_len(kind).is_some_and(|fixed| fixed != len) {
            return Err(Expect::Malformed);
        }
        let body = bytes.get(at + 3..at + 3 + len).ok_or(Expect::Malformed)?;
        stanzas.push((kind, body.to_vec()));
        at += 3 + len;
    }
    if stanzas.iter().filter(|(k, _)| *k == PASSPHRASE).count() > 1 || bytes.len() < at + MAC {
        return Err(Expect::Malformed);
    }
    Ok(stanzas)
}

/// Every fixture of one shape: both suites, every recipient type, signed and unsigned.
fn each_fixture(message_len: usize, mut check: impl FnMut(&Fixture)) {
    for suite in [CHACHA, DES] {
        for kind in Kind::ALL {
            for signed in [false, true] {
                check(&fixture(suite, &[kind], 0, signed, message_len));
            }
        }
    }
}

fn flip_and_check(fx: &Fixture, bit: usize) {
    let mut altered = fx.envelope.clone();
    altered[bit / 8] ^= 1 << (bit % 8);
    let expected = fx.predict_byte(bit / 8, altered[bit / 8]);
    assert_eq!(fx.run(&altered), expected, "{}: bit {bit} (byte {}) flipped", fx.name, bit / 8);
}

#[test]
fn every_bit_flip_of_small_envelopes() {
    each_fixture(40, |fx| {
        assert!(fx.envelope.len() < 400, "{}: a small envelope", fx.name);
        for bit in 0..fx.envelope.len() * 8 {
            flip_and_check(fx, bit);
        }
    });
}

#[test]
fn sampled_bit_flips_of_three_chunk_envelopes() {
    each_fixture(2 * C + 1000, |fx| {
        let h = fx.header_len();
        let wire = if fx.suite == DES { C + 24 } else { C + 16 };
        let mut bytes: Vec<usize> = Vec::new();
        for start in (h..fx.envelope.len()).step_by(wire) {
            let end = (start + wire).min(fx.envelope.len());
            bytes.extend(start..start + 2);
            bytes.extend(end - 2..end);
        }
        let sampled: Vec<usize> = (0..h).chain((h..fx.envelope.len()).step_by(16411)).collect();
        for &at in &bytes {
            for bit in 0..8 {
                flip_and_check(fx, at * 8 + bit);
            }
        }
        for at in sampled {
            flip_and_check(fx, at * 8 + at % 8);
        }
    });
}

fn truncate_and_check(fx: &Fixture, len: usize) {
    let expected = if len < fx.header_len() { Expect::Malformed } else { Expect::Decryption };
    assert_eq!(fx.run(&fx.envelope[..len]), expected, "{}: cut to {len} bytes", fx.name);
}

fn extensions(fx: &Fixture) {
    let wire = fx.envelope.len() - fx.header_len();
    let last = fx.envelope[fx.envelope.len() - wire.min(C + 16)..].to_vec();
    for extra in [vec![0u8], vec![0x55; 16], last] {
        let mut altered = fx.envelope.clone();
        altered.extend_from_slice(&extra);
        assert_eq!(fx.run(&altered), Expect::Decryption, "{}: {} bytes appended", fx.name, extra.len());
    }
}

#[test]
fn every_truncation_of_small_envelopes() {
    each_fixture(40, |fx| {
        for len in 0..fx.envelope.len() {
            truncate_and_check(fx, len);
        }
        extensions(fx);
    });
}

#[test]
fn sampled_truncations_of_three_chunk_envelopes() {
    each_fixture(2 * C + 1000, |fx| {
        let h = fx.header_len();
        let wire = if fx.suite == DES { C + 24 } else { C + 16 };
        let mut lengths: Vec<usize> = (0..h + 16).collect();
        for boundary in (h..fx.envelope.len()).step_by(wire).skip(1) {
            lengths.extend(boundary - 8..boundary + 8);
        }
        lengths.extend((h..fx.envelope.len()).step_by(8191));
        lengths.extend(fx.envelope.len() - 8..fx.envelope.len());
        for len in lengths {
            truncate_and_check(fx, len);
        }
        extensions(fx);
    });
}

#[test]
fn chunks_dropped_duplicated_and_swapped() {
    each_fixture(2 * C + 1000, |fx| {
        let h = fx.header_len();
        let wire = if fx.suite == DES { C + 24 } else { C + 16 };
        let chunks: Vec<&[u8]> = fx.envelope[h..].chunks(wire).collect();
        assert_eq!(chunks.len(), 3);
        let rebuild = |order: &[usize]| {
            let mut e = fx.envelope[..h].to_vec();
            for &i in order {
                e.extend_from_slice(chunks[i]);
            }
            e
        };
        let mut orders: Vec<Vec<usize>> = vec![vec![1, 2], vec![0, 2], vec![0, 1], vec![2], vec![0]];
        for dup in 0..3 {
            for at in 0..4 {
                let mut order = vec![0, 1, 2];
                order.insert(at, dup);
                orders.push(order);
            }
        }
        orders.extend([vec![1, 0, 2], vec![0, 2, 1], vec![2, 1, 0], vec![1, 2, 0], vec![2, 0, 1]]);
        for order in orders {
            assert_eq!(fx.run(&rebuild(&order)), Expect::Decryption, "{}: chunks {order:?}", fx.name);
        }
    });
}

/// The header of `stanzas`, with the original MAC (`remac` false) or a key holder's new one.
fn with_stanzas(fx: &Fixture, stanzas: &[(u8, Vec<u8>)], remac: bool) -> Vec<u8> {
    let header = common::header(fx.suite, &fx.id, stanzas, &fx.key);
    let mut e = header[..header.len() - MAC].to_vec();
    let old_mac = &fx.envelope[fx.header_len() - MAC..fx.header_len()];
    e.extend_from_slice(if remac { &header[header.len() - MAC..] } else { old_mac });
    e.extend_from_slice(&fx.envelope[fx.header_len()..]);
    e
}

#[test]
fn stanzas_removed_duplicated_and_reordered() {
    let kinds = [Kind::X25519, Kind::Passphrase, Kind::KeySlip, Kind::X25519];
    for suite in [CHACHA, DES] {
        for target in 0..3 {
            for signed in [false, true] {
                let fx = fixture(suite, &kinds, target, signed, 40);
                let n = fx.stanzas.len();
                let mut lists: Vec<(String, Vec<usize>)> = Vec::new();
                for i in 0..n {
                    lists.push((format!("stanza {i} removed"), (0..n).filter(|&j| j != i).collect()));
                    let mut dup: Vec<usize> = (0..n).collect();
                    dup.insert(i + 1, i);
                    lists.push((format!("stanza {i} duplicated"), dup));
                    for j in i + 1..n {
                        let mut swapped: Vec<usize> = (0..n).collect();
                        swapped.swap(i, j);
                        lists.push((format!("stanzas {i} and {j} swapped"), swapped));
                    }
                }
                lists.push(("stanzas reversed".into(), (0..n).rev().collect()));
                for (what, order) in lists {
                    let stanzas: Vec<(u8, Vec<u8>)> = order.iter().map(|&i| fx.stanzas[i].clone()).collect();
                    let passphrases = stanzas.iter().filter(|(k, _)| *k == PASSPHRASE).count();
                    let mine = order.contains(&fx.target);
                    for remac in [false, true] {
                        let expected = if passphrases > 1 {
                            Expect::Malformed
                        } else if !mine {
                            Expect::NoMatch
                        } else if !remac {
                            Expect::Decryption
                        } else if signed {
                            // The signature covers the whole header (SPEC.md section 5.4).
                            Expect::BadSignature
                        } else {
                            // A key holder may rewrite an unsigned envelope: it opens, unsigned.
                            Expect::Open
                        };
                        let altered = with_stanzas(&fx, &stanzas, remac);
                        assert_eq!(fx.run(&altered), expected, "{}: {what}, re-MACed: {remac}", fx.name);
                    }
                }
            }
        }
    }
}

#[test]
fn suite_and_version_changed() {
    each_fixture(40, |fx| {
        let other = if fx.suite == CHACHA { DES } else { CHACHA };
        let mut changed = fx.envelope.clone();
        changed[9] = other;
        assert_eq!(fx.run(&changed), Expect::Decryption, "{}: suite changed", fx.name);
        // A key holder re-MACs the header under the other suite: the chunks were made by the
        // first one (and a chacha key is rarely a valid DES key): decryption fails.
        let remac = common::header(other, &fx.id, &fx.stanzas, &fx.key);
        let mut remaced = remac.clone();
        remaced.extend_from_slice(&fx.envelope[fx.header_len()..]);
        assert_eq!(fx.run(&remaced), Expect::Decryption, "{}: suite changed and re-MACed", fx.name);
        for unknown in [0x00, 0x03, 0x7f, 0xff] {
            let mut e = fx.envelope.clone();
            e[9] = unknown;
            assert_eq!(fx.run(&e), Expect::Suite(unknown), "{}: suite 0x{unknown:02x}", fx.name);
        }
        for version in [0x00, 0x02, 0xff] {
            let mut e = fx.envelope.clone();
            e[8] = version;
            assert_eq!(fx.run(&e), Expect::Version(version), "{}: version {version}", fx.name);
        }
    });
}
