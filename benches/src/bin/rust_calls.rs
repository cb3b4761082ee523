//! The Rust calls under the Python package's `esmtp.seal` / `esmtp.open`, timed the way the
//! Python side times them: a new `Sealer` / `Opener` per call (as `esmtp.seal(...)` builds one
//! from its arguments), one X25519 recipient, default thread count, 1 MiB of input.
//! `scripts/bench-python` runs it next to the Python measurements and prints the ratios.
//!
//! Prints one line per operation: `name<TAB>MB/s<TAB>what` (10^6 bytes per second).
//! Usage: `rust_calls [--seconds S] [--mib N]`.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::io::{self, Write};
use std::time::Duration;

use esmtp_benches::{MIB, input, seconds_arg, throughput_mb_s};
use esmtp_core::{Opener, Sealer, Suite, X25519Identity};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut t = Duration::from_secs(1);
    let mut mib = 1_usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => t = seconds_arg(args.next())?,
            "--mib" => {
                mib = args.next().ok_or("--mib needs a value")?.parse()?;
                if !(1..=256).contains(&mib) {
                    return Err("--mib must be in 1..=256".into());
                }
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let message = input(mib * MIB);
    let bob = X25519Identity::generate()?;
    let to = bob.to_public();
    for suite in Suite::ALL {
        let name = suite.name();
        let mb_s = throughput_mb_s(message.len(), t, || {
            let sealer = Sealer::new().suite(suite).recipient(to.clone());
            black_box(sealer.seal(black_box(&message)).map(|s| s.envelope.len()).unwrap_or(0));
        });
        println!("seal-{name}\t{mb_s:.1}\tSealer::seal, {mib} MiB, {name}, one X25519 recipient");
        io::stdout().flush()?;

        let envelope = Sealer::new().suite(suite).recipient(to.clone()).seal(&message)?.envelope;
        let check = Opener::new().identity(bob.clone()).open(&envelope)?;
        if check.plaintext() != &message[..] {
            return Err("round trip failed".into());
        }
        let mb_s = throughput_mb_s(message.len(), t, || {
            let opener = Opener::new().identity(bob.clone());
            black_box(opener.open(black_box(&envelope)).map(|o| o.plaintext().len()).unwrap_or(0));
        });
        println!("open-{name}\t{mb_s:.1}\tOpener::open, {mib} MiB, {name}, one X25519 recipient");
        io::stdout().flush()?;
    }
    Ok(())
}
