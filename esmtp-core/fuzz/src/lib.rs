//! The fuzz targets of esmtp as plain functions: `fuzz_targets/*.rs` hand them libFuzzer's input,
//! and the main test suite replays every committed corpus file through the same functions on
//! stable Rust (the modules are included there by path, so they depend on nothing but esmtp's own
//! crates and std).
#![forbid(unsafe_code)]

pub mod core_targets;
pub mod input;
pub mod replay;
pub mod transport_targets;
