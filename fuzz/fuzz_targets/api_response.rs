//! Arbitrary status, headers and body through the API response readers and the status
//! command's parsers.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/integration/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| invariants::check_api(data));
