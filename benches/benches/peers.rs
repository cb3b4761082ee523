//! Seal + open of one message to one X25519 recipient, esmtp against its peers: the `age` crate
//! always, and rPGP with the `pgp` feature (OpenPGP v6 X25519 + SEIPDv2 AES-256-OCB, the RFC 9580
//! profile, and v4 Curve25519 + SEIPDv1 AES-256, what most OpenPGP mail uses today). Each side
//! uses its library's one-shot API with default settings: a fresh ephemeral key per seal, the
//! whole message in memory. Keys are generated once, outside the timing.
//!
//! Prints one table: mean time of a seal followed by an open (the best of `--rounds` rounds of
//! `--seconds` each, rounds interleaved across implementations), and esmtp's speed relative to
//! each peer (above 1: esmtp faster).
//!
//! ```text
//! cargo bench -p esmtp-benches --bench peers [-- --seconds S --rounds N]
//! cargo bench -p esmtp-benches --features pgp --bench peers
//! ```

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use esmtp_benches::{KIB, MIB, input};
use esmtp_core::{Opener, Sealer, X25519Identity};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// A seal + open round trip of one implementation, keyed for one recipient.
trait Peer {
    fn name(&self) -> &'static str;
    /// Seal `message` to the recipient and open it again; the plaintext.
    fn round_trip(&self, message: &[u8]) -> Result<Vec<u8>>;
}

struct Esmtp {
    sealer: Sealer,
    opener: Opener,
}

impl Esmtp {
    fn new() -> Result<Self> {
        let bob = X25519Identity::generate()?;
        Ok(Esmtp { sealer: Sealer::new().recipient(bob.to_public()), opener: Opener::new().identity(bob) })
    }
}

impl Peer for Esmtp {
    fn name(&self) -> &'static str {
        "esmtp"
    }

    fn round_trip(&self, message: &[u8]) -> Result<Vec<u8>> {
        let sealed = self.sealer.seal(message)?;
        Ok(self.opener.open(&sealed.envelope)?.plaintext().to_vec())
    }
}

struct Age {
    identity: age::x25519::Identity,
    recipient: age::x25519::Recipient,
}

impl Peer for Age {
    fn name(&self) -> &'static str {
        "age"
    }

    fn round_trip(&self, message: &[u8]) -> Result<Vec<u8>> {
        let sealed = age::encrypt(&self.recipient, message)?;
        Ok(age::decrypt(&self.identity, &sealed)?)
    }
}

#[cfg(feature = "pgp")]
mod rpgp {
    use pgp::composed::{
        EncryptionCaps, KeyType, Message, MessageBuilder, SecretKeyParamsBuilder, SignedPublicKey,
        SignedSecretKey, SubkeyParamsBuilder,
    };
    use pgp::crypto::aead::{AeadAlgorithm, ChunkSize};
    use pgp::crypto::ecc_curve::ECCCurve;
    use pgp::crypto::sym::SymmetricKeyAlgorithm;
    use pgp::types::KeyVersion;
    use rand::thread_rng;

    use super::{Peer, Result};

    /// An OpenPGP key with one encryption subkey, and the message format to use with it.
    pub struct Rpgp {
        name: &'static str,
        secret: SignedSecretKey,
        public: SignedPublicKey,
        v6: bool,
    }

    impl Rpgp {
        /// v6: Ed25519 primary, X25519 subkey, SEIPDv2 (AES-256, OCB, default chunk size).
        /// v4: Ed25519Legacy primary, ECDH Curve25519Legacy subkey, SEIPDv1 (AES-256 + MDC).
        pub fn new(v6: bool) -> Result<Self> {
            let (version, primary, subkey) = if v6 {
                (KeyVersion::V6, KeyType::Ed25519, KeyType::X25519)
            } else {
                (KeyVersion::V4, KeyType::Ed25519Legacy, KeyType::ECDH(ECCCurve::Curve25519Legacy))
            };
            let encryption = SubkeyParamsBuilder::default()
                .version(version)
                .key_type(subkey)
                .can_encrypt(EncryptionCaps::All)
                .build()?;
            let params = SecretKeyParamsBuilder::default()
                .version(version)
                .key_type(primary)
                .can_certify(true)
                .primary_user_id("Bob <bob@example.org>".into())
                .subkeys(vec![encryption])
                .build()?;
            let secret = params.generate(thread_rng())?;
            let public = SignedPublicKey::from(secret.clone());
            let name = if v6 { "rpgp v6 seipdv2" } else { "rpgp v4 seipdv1" };
            Ok(Rpgp { name, secret, public, v6 })
        }
    }

    impl Peer for Rpgp {
        fn name(&self) -> &'static str {
            self.name
        }

        fn round_trip(&self, message: &[u8]) -> Result<Vec<u8>> {
            let subkey = &self.public.public_subkeys[0];
            let builder = MessageBuilder::from_bytes("", message.to_vec());
            let sealed = if self.v6 {
                let mut b = builder.seipd_v2(
                    thread_rng(),
                    SymmetricKeyAlgorithm::AES256,
                    AeadAlgorithm::Ocb,
                    ChunkSize::default(),
                );
                b.encrypt_to_key(thread_rng(), subkey)?;
                b.to_vec(thread_rng())?
            } else {
                let mut b = builder.seipd_v1(thread_rng(), SymmetricKeyAlgorithm::AES256);
                b.encrypt_to_key(thread_rng(), subkey)?;
                b.to_vec(thread_rng())?
            };
            let mut opened = Message::from_bytes(&sealed[..])?.decrypt(&"".into(), &self.secret)?;
            Ok(opened.as_data_vec()?)
        }
    }
}

/// Mean seconds per call of `op`, over at least `min_time` after a short warm-up.
fn mean_seconds(min_time: Duration, mut op: impl FnMut()) -> f64 {
    let warm_up = Instant::now();
    while warm_up.elapsed() < min_time / 5 {
        op();
    }
    let (start, mut calls) = (Instant::now(), 0u32);
    loop {
        op();
        calls += 1;
        let elapsed = start.elapsed();
        if elapsed >= min_time {
            return elapsed.as_secs_f64() / f64::from(calls);
        }
    }
}

fn main() -> Result<()> {
    let (mut seconds, mut rounds) = (1.0_f64, 3u32);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().ok_or("--seconds needs a value")?.parse()?,
            "--rounds" => rounds = args.next().ok_or("--rounds needs a value")?.parse()?,
            // `cargo bench` passes --bench; a filter argument has no meaning here.
            _ => {}
        }
    }
    if !(seconds > 0.0 && seconds <= 60.0 && (1..=20).contains(&rounds)) {
        return Err("--seconds must be in (0, 60] and --rounds in 1 ..= 20".into());
    }
    let min_time = Duration::from_secs_f64(seconds);

    let age_identity = age::x25519::Identity::generate();
    let peers: Vec<Box<dyn Peer>> = vec![
        Box::new(Esmtp::new()?),
        Box::new(Age { recipient: age_identity.to_public(), identity: age_identity }),
        #[cfg(feature = "pgp")]
        Box::new(rpgp::Rpgp::new(true)?),
        #[cfg(feature = "pgp")]
        Box::new(rpgp::Rpgp::new(false)?),
    ];

    println!("seal + open to one X25519 recipient, best of {rounds} rounds of {seconds} s");
    println!();
    println!("| message | implementation   | seal + open | MB/s    | esmtp / it |");
    println!("|--------:|------------------|------------:|--------:|-----------:|");
    for (len, label) in [(KIB, "1 KiB"), (MIB, "1 MiB")] {
        let message = input(len);
        for peer in &peers {
            if peer.round_trip(&message)? != message {
                return Err(format!("{}: round trip changed the message", peer.name()).into());
            }
        }
        let mut best = vec![f64::INFINITY; peers.len()];
        for _ in 0..rounds {
            for (peer, best) in peers.iter().zip(best.iter_mut()) {
                let t = mean_seconds(min_time, || {
                    black_box(peer.round_trip(black_box(&message)).map(|m| m.len()).unwrap_or(0));
                });
                *best = best.min(t);
            }
        }
        for (peer, t) in peers.iter().zip(&best) {
            let time = if *t < 1e-3 { format!("{:.1} µs", t * 1e6) } else { format!("{:.2} ms", t * 1e3) };
            println!(
                "| {label:>7} | {:<16} | {time:>11} | {:>7.1} | {:>10.2} |",
                peer.name(),
                len as f64 / t / 1e6,
                t / best[0],
            );
        }
    }
    Ok(())
}
