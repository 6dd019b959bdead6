//! Bytes split into a scratch folder: rows conserved, orders never cut, parts clean.
//! The first byte picks the template and the rows per part.
#![no_main]

#[allow(dead_code)]
#[path = "../../tests/integration/invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&choice, input)) = data.split_first() {
        invariants::check_split(input, choice, &scratch::dir("split"));
    }
});

#[path = "scratch.rs"]
mod scratch;
