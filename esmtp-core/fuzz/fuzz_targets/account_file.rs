#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| esmtp_fuzz::transport_targets::account_file(data));
