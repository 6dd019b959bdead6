//! Raw bytes through validation, with template detection and every built-in template.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/integration/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| invariants::check_validate(data));
