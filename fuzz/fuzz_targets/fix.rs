//! Bytes fixed twice: the second fix changes nothing. The first byte picks the template.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/integration/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&choice, input)) = data.split_first() {
        invariants::check_fix(input, choice, &scratch::dir("fix"));
    }
});

#[path = "scratch.rs"]
mod scratch;
