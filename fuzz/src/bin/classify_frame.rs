#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| load_tester::fuzzing::classify_frame(data));
