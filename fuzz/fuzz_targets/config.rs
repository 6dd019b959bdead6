//! Arbitrary text through the config parser: a config or an error, never a panic.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/integration/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        invariants::check_config(text);
    }
});
