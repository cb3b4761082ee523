//! `uniffi-bindgen`: generates the Kotlin and Swift bindings of esmtp-uniffi from the built
//! library, e.g. `uniffi-bindgen generate --library target/debug/libesmtp_uniffi.so --language
//! kotlin --out-dir out/`.
#![forbid(unsafe_code)]

fn main() {
    uniffi::uniffi_bindgen_main();
}
