//! Peak memory of the streaming API: seals a generated message of N MiB from memory-free input
//! into a file with `Sealer::seal_writer`, or opens such a file with `Opener::open_reader` into
//! nothing, and prints the process's peak resident set (`VmHWM`) before and after. Run once per
//! measurement (the peak of a process only grows); `benches/memory` runs the grid and prints the
//! table.
//!
//! Usage: `memory seal|open --suite S --mib N --threads T --file F --slip K`: `seal` writes the
//! envelope to F and the key slip token to K; `open` reads both.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};

use esmtp_benches::peak_rss_kib;
use esmtp_core::{KeySlip, Opener, Sealer, Suite};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let op = args.next().ok_or("usage: memory seal|open --suite S --mib N --threads T --file F --slip K")?;
    let (mut suite, mut mib, mut threads, mut file, mut slip) =
        (Suite::default(), 1usize, 1usize, None, None);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--suite" => suite = value.parse()?,
            "--mib" => mib = value.parse()?,
            "--threads" => threads = value.parse()?,
            "--file" => file = Some(value),
            "--slip" => slip = Some(value),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let (file, slip) = (file.ok_or("--file is needed")?, slip.ok_or("--slip is needed")?);
    let before = peak_rss_kib()?;
    match op.as_str() {
        "seal" => {
            let sealer = Sealer::new().suite(suite).key_slip().threads(threads);
            let mut writer = sealer.seal_writer(BufWriter::new(File::create(&file)?))?;
            std::fs::write(&slip, writer.take_key_slip().ok_or("no key slip")?.to_token())?;
            // Generated 64 KiB at a time: the input costs no memory.
            let mut piece = vec![0u8; 64 * 1024];
            for i in 0..mib * 16 {
                piece.iter_mut().enumerate().for_each(|(j, b)| *b = (i * 31 + j * 7) as u8);
                writer.write_all(&piece)?;
            }
            writer.finish()?.flush()?;
        }
        "open" => {
            let slip: KeySlip = std::fs::read_to_string(&slip)?.trim().parse()?;
            let opener = Opener::new().identity(slip).threads(threads);
            let mut reader = opener.open_reader(BufReader::new(File::open(&file)?))?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0usize;
            loop {
                match reader.read(&mut buf)? {
                    0 => break,
                    n => total += n,
                }
            }
            if total != mib * 1024 * 1024 {
                return Err(format!("opened {total} bytes, expected {mib} MiB").into());
            }
        }
        other => return Err(format!("unknown operation {other:?} (seal or open)").into()),
    }
    println!("{}\t{}", before, peak_rss_kib()?);
    Ok(())
}
