//! Seal and open one message with each cipher suite, the paper's way: a fresh random key (and, for
//! the paper's DES suite, a random number), the key delivered as a separate key slip, and the MD5
//! hash recomputed by the receiver with the hash tool (paper, sections 4.3 and 4.4).
//!
//! Run: `cargo run --release --example seal_open`

use esmtp_core::hash::{HashAlgorithm, digest, to_hex};
use esmtp_core::{KeySlip, Opener, Sealer, Suite, X25519Identity};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mail = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: Quarterly numbers\r\n\r\n\
                Bob, the numbers are attached. Keep them to yourself.\r\n";
    let bob = X25519Identity::generate()?;
    println!("bob's public recipient: {}", bob.to_public());

    for suite in [Suite::LegacyDesCbcMd5, Suite::ChaCha20Poly1305] {
        let strength =
            if suite.is_legacy() { "legacy strength: DES keys can be brute-forced" } else { "default" };
        println!("\n== suite {suite} ({strength})");
        println!("1. alice writes a mail of {} bytes", mail.len());
        let sealed =
            Sealer::new().suite(suite).recipient(bob.to_public()).key_slip().seal(mail.as_bytes())?;
        let slip_token = sealed.key_slip.as_ref().ok_or("no key slip")?.to_token();
        println!(
            "2. sealed with a fresh random key: envelope {} ({} bytes, {} armored)",
            sealed.envelope_id,
            sealed.envelope.len(),
            esmtp_core::armor(&sealed.envelope).len()
        );
        println!("3. key slip for separate delivery: {}...", &slip_token[..24]);
        let plaintext_leaks = sealed.envelope.windows(9).any(|w| w == b"Quarterly");
        println!("4. the envelope carries the subject in plaintext: {plaintext_leaks}");

        let slip: KeySlip = slip_token.parse()?;
        let by_slip = Opener::new().identity(slip).open(&sealed.envelope)?;
        let by_key = Opener::new().identity(bob.clone()).open(&sealed.envelope)?;
        println!(
            "5. bob opens it with the key slip, and with his own key: {}",
            by_slip.plaintext() == by_key.plaintext()
        );
        let recomputed = digest(HashAlgorithm::Md5, by_slip.plaintext());
        println!("6. MD5 carried/verified: {}", to_hex(&by_slip.md5()));
        println!("   MD5 recomputed by bob: {}", to_hex(&recomputed));
        println!("   integrity check: {}", if recomputed == by_slip.md5() { "OK" } else { "FAILED" });
        if recomputed != by_slip.md5() || plaintext_leaks {
            return Err("check failed".into());
        }
    }
    Ok(())
}
