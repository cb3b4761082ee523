//! Runnable examples for the esmtp crates (see the `[[example]]` targets). This library holds
//! nothing: it exists so that `cargo test --doc` compiles and runs the Rust code of the
//! repository's README, which then cannot fall behind the API.

#![forbid(unsafe_code)]

/// The root README, its Rust blocks compiled (and run, unless marked `no_run`) as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct RootReadme;
