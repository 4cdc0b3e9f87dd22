#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| load_tester::scenario::fuzz::fuzz_compile(data));
