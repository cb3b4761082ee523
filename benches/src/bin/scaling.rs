//! Seal and open time against message size, 1 KiB to 100 MiB, both suites: is the envelope path
//! linear? Prints TSV, one line per (suite, operation, size):
//! `suite<TAB>op<TAB>bytes<TAB>seconds<TAB>MB/s`, the seconds being the fastest of at least
//! three calls and at least `--seconds` of calls (the fastest call is the one least disturbed by
//! other work on the machine). `scripts/bench-scaling` runs it and plots the result.
//!
//! Usage: `scaling [--seconds S] [--max-mib N]` (default 0.5 s per point, sizes up to 100 MiB).
//! Key-slip recipient, so the header costs microseconds and the figures are the payload path.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use esmtp_benches::{KIB, MIB, input};
use esmtp_core::{Opener, Sealer, Suite};

/// The fastest call of `op`: at least three calls, and calls for at least `min_time`.
fn fastest(min_time: Duration, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut calls = 0;
    while calls < 3 || start.elapsed() < min_time {
        let t = Instant::now();
        op();
        best = best.min(t.elapsed().as_secs_f64());
        calls += 1;
    }
    best
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut seconds, mut max_mib) = (0.5_f64, 100usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().ok_or("--seconds needs a value")?.parse()?,
            "--max-mib" => max_mib = args.next().ok_or("--max-mib needs a value")?.parse()?,
            "-h" | "--help" => {
                println!(
                    "usage: scaling [--seconds S] [--max-mib N]   (default 0.5 s per point, up to 100 MiB)"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if !(seconds > 0.0 && seconds <= 60.0 && (1..=1024).contains(&max_mib)) {
        return Err("--seconds must be in (0, 60] and --max-mib in 1 ..= 1024".into());
    }
    let min_time = Duration::from_secs_f64(seconds);
    // 1 KiB .. 64 MiB in steps of 4, then the largest size.
    let mut sizes: Vec<usize> = (0..9).map(|i| KIB << (2 * i)).filter(|&s| s <= max_mib * MIB).collect();
    if sizes.last() != Some(&(max_mib * MIB)) {
        sizes.push(max_mib * MIB);
    }
    let largest = input(max_mib * MIB);
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "suite\top\tbytes\tseconds\tMB/s")?;
    for suite in Suite::ALL {
        let sealer = Sealer::new().suite(suite).key_slip();
        for &len in &sizes {
            let message = &largest[..len];
            let t = fastest(min_time, || {
                black_box(sealer.seal(black_box(message)).map(|s| s.envelope.len()).unwrap_or(0));
            });
            writeln!(stdout, "{}\tseal\t{len}\t{t:.9}\t{:.1}", suite.name(), len as f64 / t / 1e6)?;
            stdout.flush()?;

            let sealed = sealer.seal(message)?;
            let opener = Opener::new().identity(sealed.key_slip.ok_or("no key slip")?);
            if opener.open(&sealed.envelope)?.plaintext() != message {
                return Err("round trip failed".into());
            }
            let t = fastest(min_time, || {
                black_box(opener.open(black_box(&sealed.envelope)).map(|o| o.plaintext().len()).unwrap_or(0));
            });
            writeln!(stdout, "{}\topen\t{len}\t{t:.9}\t{:.1}", suite.name(), len as f64 / t / 1e6)?;
            stdout.flush()?;
        }
    }
    Ok(())
}
