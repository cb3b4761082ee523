//! Every committed fuzz corpus file (`fuzz/corpus/<target>/`) replayed through the functions the
//! cargo-fuzz targets call, on stable Rust: a finding once fixed stays fixed, and the targets'
//! oracles hold on every input the fuzzer kept. `ESMTP_FUZZ_WRITE_SEEDS=1` writes the seed inputs
//! (sealed to the targets' fixed identities) into the corpus directories first.

#[path = "../fuzz/src/core_targets.rs"]
mod core_targets;
#[path = "../fuzz/src/input.rs"]
#[allow(dead_code)]
mod input;

use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The target's corpus (`corpus/TARGET/`, minimised by cargo fuzz cmin) and its crash inputs
/// (`regressions/TARGET/`, kept by name: each has a named test where it was fixed).
fn replay(target: &str, run: fn(&[u8])) {
    let corpus = fuzz_dir().join("corpus").join(target);
    if std::env::var_os("ESMTP_FUZZ_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&corpus).unwrap();
        for (name, bytes) in core_targets::seeds(target) {
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
fn envelope_oracle() {
    replay("envelope_oracle", core_targets::envelope_oracle);
}

#[test]
fn envelope_raw() {
    replay("envelope_raw", core_targets::envelope_raw);
}

#[test]
fn header() {
    replay("header", core_targets::header);
}

#[test]
fn armor() {
    replay("armor", core_targets::armor);
}

#[test]
fn keys() {
    replay("keys", core_targets::keys);
}

#[test]
fn mime_outer() {
    replay("mime_outer", core_targets::mime_outer);
}

#[test]
fn mime_inner() {
    replay("mime_inner", core_targets::mime_inner);
}
