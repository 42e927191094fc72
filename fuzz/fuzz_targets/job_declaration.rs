#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_targets::job_declaration(data));
