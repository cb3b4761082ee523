#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| esmtp_fuzz::core_targets::envelope_raw(data));
