//! Reading a large received mail: `mime::read_mail` of an encrypted mail with one attachment of
//! N MiB (packaged here, to a fresh X25519 identity), best of R rounds, and the peak resident set
//! the first read added (`VmHWM` reset before it, and after it). What `esmtp fetch` and the bindings'
//! `read_mail` do with each mail they receive.
//!
//! Usage: `read_mail [--mib N] [--rounds R]` (default 30 MiB, 5 rounds).
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use esmtp_benches::peak_rss_kib;
use esmtp_core::mime::{self, Attachment, Limits, MailDraft, Mailbox, PackageOptions, ReadMail};
use esmtp_core::{Opener, Sealer, X25519Identity};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut mib, mut rounds) = (30usize, 5usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--mib" => mib = value.parse()?,
            "--rounds" => rounds = value.parse::<usize>()?.max(1),
            other => {
                return Err(
                    format!("unknown argument {other:?} (usage: read_mail [--mib N] [--rounds R])").into()
                );
            }
        }
    }
    let bob = X25519Identity::generate()?;
    // Bytes that do not compress or repeat in ways the parsers could notice.
    let data: Vec<u8> = (0..mib << 20).map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let draft = MailDraft::new(Mailbox::new("alice@example.org"))
        .to(Mailbox::new("bob@example.org"))
        .subject("large")
        .text("See attached.")
        .attachment(Attachment::new("big.bin", "application/octet-stream", data.clone()));
    let mail = mime::package(
        &draft,
        &Sealer::new().recipient(bob.to_public()),
        &PackageOptions::new(1_700_000_000),
    )?;
    let opener = Opener::new().identity(bob);
    drop(draft);
    // Packaging peaked higher than reading will: start the peak afresh from here (Linux 4.0+).
    std::fs::write("/proc/self/clear_refs", "5")?;

    let before = peak_rss_kib()?;
    let mut best = Duration::MAX;
    for round in 0..rounds {
        let start = Instant::now();
        let read = mime::read_mail(&mail.bytes, &opener, &Limits::default())?;
        best = best.min(start.elapsed());
        let ReadMail::Encrypted(opened) = read else { return Err("not read as an encrypted mail".into()) };
        if opened.attachments.first().map(|a| &a.data) != Some(&data) {
            return Err(format!("round {round}: the attachment did not come back whole").into());
        }
        if round == 0 {
            let grown = peak_rss_kib()? - before;
            println!(
                "peak RSS added by the first read: {grown} KiB ({:.2}x the mail)",
                (grown << 10) as f64 / mail.bytes.len() as f64
            );
        }
    }
    let seconds = best.as_secs_f64();
    println!(
        "read_mail, {mib} MiB attachment, mail of {} bytes: best of {rounds} {:.1} ms ({:.0} MB/s of mail)",
        mail.bytes.len(),
        seconds * 1e3,
        mail.bytes.len() as f64 / seconds / 1e6
    );
    Ok(())
}
