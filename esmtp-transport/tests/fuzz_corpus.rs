//! Every committed fuzz corpus file of the transport targets (`esmtp-core/fuzz/corpus/<target>/`)
//! replayed through the functions the cargo-fuzz targets call, on stable Rust: hostile account
//! files and POP3, IMAP and SMTP server output. `ESMTP_FUZZ_WRITE_SEEDS=1` writes the seed inputs
//! (scripted sessions) into the corpus directories first.

#[path = "../../esmtp-core/fuzz/src/core_targets.rs"]
#[allow(dead_code)]
mod core_targets;
#[path = "../../esmtp-core/fuzz/src/input.rs"]
mod input;
#[path = "../../esmtp-core/fuzz/src/transport_targets.rs"]
mod transport_targets;

use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../esmtp-core/fuzz")
}

/// The target's corpus (`corpus/TARGET/`, minimised by cargo fuzz cmin) and its crash inputs
/// (`regressions/TARGET/`, kept by name: each has a named test where it was fixed).
fn replay(target: &str, run: fn(&[u8])) {
    let corpus = fuzz_dir().join("corpus").join(target);
    if std::env::var_os("ESMTP_FUZZ_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&corpus).unwrap();
        for (name, bytes) in transport_targets::seeds(target) {
            std::fs::write(corpus.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(!files.is_empty(), "{target}: empty corpus");
    if let Ok(regressions) = std::fs::read_dir(fuzz_dir().join("regressions").join(target)) {
        files.extend(regressions.map(|entry| entry.unwrap().path()));
    }
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        // Printed only when the test fails: the input that broke it.
        println!("replaying {}", file.display());
        run(&data);
    }
}

#[test]
fn account_file() {
    replay("account_file", transport_targets::account_file);
}

#[test]
fn pop3() {
    replay("pop3", transport_targets::pop3);
}

#[test]
fn imap() {
    replay("imap", transport_targets::imap);
}

#[test]
fn smtp() {
    replay("smtp", transport_targets::smtp);
}
