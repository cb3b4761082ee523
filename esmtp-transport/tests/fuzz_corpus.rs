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

#[path = "../../esmtp-core/fuzz/src/replay.rs"]
mod replay;

use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../esmtp-core/fuzz")
}

#[test]
fn account_file() {
    replay::replay(&fuzz_dir(), "account_file", transport_targets::account_file, transport_targets::seeds);
}

#[test]
fn pop3() {
    replay::replay(&fuzz_dir(), "pop3", transport_targets::pop3, transport_targets::seeds);
}

#[test]
fn imap() {
    replay::replay(&fuzz_dir(), "imap", transport_targets::imap, transport_targets::seeds);
}

#[test]
fn smtp() {
    replay::replay(&fuzz_dir(), "smtp", transport_targets::smtp, transport_targets::seeds);
}
