#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| load_tester::fuzzing::merge_results(data));
