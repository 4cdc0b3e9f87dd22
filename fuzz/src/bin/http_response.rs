#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| load_tester::transport::h1::fuzz::http_response(data));
