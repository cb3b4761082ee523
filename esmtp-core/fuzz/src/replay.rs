//! The stable replay of a committed corpus, shared by the core and transport test suites (they
//! include this file by path): every file of `corpus/TARGET/` and `regressions/TARGET/` through
//! the target's function.

use std::path::{Path, PathBuf};

/// A target's seed inputs by name (`core_targets::seeds`, `transport_targets::seeds`).
pub type Seeds = fn(&str) -> Vec<(String, Vec<u8>)>;

/// Run `run` on the target's corpus (`corpus/TARGET/`, minimised by cargo fuzz cmin) and its
/// crash inputs (`regressions/TARGET/`, kept by name: each has a named test where it was fixed).
/// With `ESMTP_FUZZ_WRITE_SEEDS` set, the target's `seeds` are written into the corpus first.
pub fn replay(fuzz_dir: &Path, target: &str, run: fn(&[u8]), seeds: Seeds) {
    let corpus = fuzz_dir.join("corpus").join(target);
    if std::env::var_os("ESMTP_FUZZ_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&corpus).unwrap();
        for (name, bytes) in seeds(target) {
            std::fs::write(corpus.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(!files.is_empty(), "{target}: empty corpus");
    if let Ok(regressions) = std::fs::read_dir(fuzz_dir.join("regressions").join(target)) {
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
