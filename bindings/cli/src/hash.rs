//! `esmtp hash`: `md5sum` / `sha256sum` lines, and `--check` like `md5sum -c`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use esmtp_core::hash::{HashAlgorithm, digest_reader, parse_sum_line, sum_line};

use crate::args::HashArgs;
use crate::failure::{Code, Failure, Result};
use crate::{files, progress};

pub fn run(args: HashArgs) -> Result<()> {
    let only = if args.sha256 {
        Some(HashAlgorithm::Sha256)
    } else if args.md5 {
        Some(HashAlgorithm::Md5)
    } else {
        None
    };
    let names: Vec<PathBuf> =
        if args.files.is_empty() { vec![PathBuf::from("-")] } else { args.files.clone() };
    if args.check {
        let mut tally = Tally::default();
        for sums in &names {
            check_file(sums, only, args.quiet, &mut tally)?;
        }
        return tally.verdict();
    }
    let algorithm = only.unwrap_or(HashAlgorithm::Md5);
    let mut stdout = io::stdout().lock();
    let mut unreadable = 0;
    for name in &names {
        match digest_path(name, algorithm) {
            Ok(digest) => {
                writeln!(stdout, "{}", sum_line(&digest, &name.to_string_lossy()))
                    .map_err(|e| Failure::io("cannot write standard output", &e))?;
            }
            // Like md5sum: report the file and go on with the others.
            Err(f) => {
                eprintln!("esmtp: {f}");
                unreadable += 1;
            }
        }
    }
    match unreadable {
        0 => Ok(()),
        1 => Err(Failure::new(Code::Failure, "1 file could not be read")),
        n => Err(Failure::new(Code::Failure, format!("{n} files could not be read"))),
    }
}

fn digest_path(path: &Path, algorithm: HashAlgorithm) -> Result<Vec<u8>> {
    let input = files::open_input(Some(path))?;
    let bar = progress::bytes(input.len, "hashing");
    let digest = digest_reader(algorithm, bar.wrap_read(input.reader));
    bar.finish_and_clear();
    digest.map_err(|e| Failure::read(path, &e))
}

#[derive(Default)]
struct Tally {
    mismatched: usize,
    unreadable: usize,
    improper: usize,
}

impl Tally {
    /// md5sum's closing warnings, then the exit code: a mismatch outranks an unreadable file.
    fn verdict(self) -> Result<()> {
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 { format!("{n} {one}") } else { format!("{n} {many}") }
        };
        if self.improper > 0 {
            eprintln!(
                "esmtp: WARNING: {}",
                plural(self.improper, "line is improperly formatted", "lines are improperly formatted")
            );
        }
        if self.unreadable > 0 {
            eprintln!(
                "esmtp: WARNING: {}",
                plural(self.unreadable, "listed file could not be read", "listed files could not be read")
            );
        }
        if self.mismatched > 0 {
            eprintln!(
                "esmtp: WARNING: {}",
                plural(
                    self.mismatched,
                    "computed checksum did NOT match",
                    "computed checksums did NOT match"
                )
            );
        }
        if self.mismatched > 0 {
            Err(Failure::new(Code::Integrity, "checksum mismatch"))
        } else if self.unreadable > 0 {
            Err(Failure::new(Code::Failure, "some listed files could not be read"))
        } else {
            Ok(())
        }
    }
}

fn check_file(sums: &Path, only: Option<HashAlgorithm>, quiet: bool, tally: &mut Tally) -> Result<()> {
    let mut text = String::new();
    files::open_input(Some(sums))?.reader.read_to_string(&mut text).map_err(|e| Failure::read(sums, &e))?;
    let sums_name =
        if files::is_stdio(Some(sums)) { "standard input".to_string() } else { sums.display().to_string() };
    let mut stdout = io::stdout().lock();
    let mut proper = 0;
    for line in text.lines() {
        let Some(entry) = parse_sum_line(line).filter(|e| only.is_none_or(|a| a == e.algorithm)) else {
            tally.improper += 1;
            continue;
        };
        proper += 1;
        let shown = entry.name.replace('\\', "\\\\").replace('\n', "\\n");
        let verdict = match digest_path(Path::new(&entry.name), entry.algorithm) {
            Ok(digest) if digest == entry.digest => "OK",
            Ok(_) => {
                tally.mismatched += 1;
                "FAILED"
            }
            Err(f) => {
                eprintln!("esmtp: {f}");
                tally.unreadable += 1;
                "FAILED open or read"
            }
        };
        if !(quiet && verdict == "OK") {
            writeln!(stdout, "{shown}: {verdict}")
                .map_err(|e| Failure::io("cannot write standard output", &e))?;
        }
    }
    if proper == 0 {
        return Err(Failure::new(
            Code::Malformed,
            format!("{sums_name}: no properly formatted checksum lines found"),
        ));
    }
    Ok(())
}
