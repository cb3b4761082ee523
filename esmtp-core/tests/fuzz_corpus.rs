//! Every committed fuzz corpus file (`fuzz/corpus/<target>/`) replayed through the functions the
//! cargo-fuzz targets call, on stable Rust: a finding once fixed stays fixed, and the targets'
//! oracles hold on every input the fuzzer kept. `ESMTP_FUZZ_WRITE_SEEDS=1` writes the seed inputs
//! (sealed to the targets' fixed identities) into the corpus directories first.

#[path = "../fuzz/src/core_targets.rs"]
mod core_targets;
#[path = "../fuzz/src/input.rs"]
#[allow(dead_code)]
mod input;

#[path = "../fuzz/src/replay.rs"]
mod replay;

use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn envelope_oracle() {
    replay::replay(&fuzz_dir(), "envelope_oracle", core_targets::envelope_oracle, core_targets::seeds);
}

#[test]
fn envelope_raw() {
    replay::replay(&fuzz_dir(), "envelope_raw", core_targets::envelope_raw, core_targets::seeds);
}

#[test]
fn header() {
    replay::replay(&fuzz_dir(), "header", core_targets::header, core_targets::seeds);
}

#[test]
fn armor() {
    replay::replay(&fuzz_dir(), "armor", core_targets::armor, core_targets::seeds);
}

#[test]
fn keys() {
    replay::replay(&fuzz_dir(), "keys", core_targets::keys, core_targets::seeds);
}

#[test]
fn mime_outer() {
    replay::replay(&fuzz_dir(), "mime_outer", core_targets::mime_outer, core_targets::seeds);
}

#[test]
fn mime_inner() {
    replay::replay(&fuzz_dir(), "mime_inner", core_targets::mime_inner, core_targets::seeds);
}
