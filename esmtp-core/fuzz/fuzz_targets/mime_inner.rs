#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| esmtp_fuzz::core_targets::mime_inner(data));
