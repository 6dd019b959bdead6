//! Replays the inputs kept in `tests/fuzz-regressions/<target>/` (crashers found by
//! `scripts/fuzz`, once fixed, and small inputs that reach rare paths) through the same
//! invariant checks as the fuzz targets, so that each stays fixed.

use crate::invariants;
use crate::util::TestEnv;
use std::path::Path;

/// The kept inputs of `target`, by file name; there must be some.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut all: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    all.sort();
    assert!(!all.is_empty(), "no inputs kept for {target}");
    all
}

/// Runs `check` on every kept input of `target`, naming the input that fails.
fn replay(target: &str, check: impl Fn(&[u8])) {
    for (name, data) in inputs(target) {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        if let Err(e) = caught {
            let why = e
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            panic!("tests/fuzz-regressions/{target}/{name}: {why}");
        }
    }
}

#[test]
fn validate_inputs_keep_their_invariants() {
    replay("validate", invariants::check_validate);
}

#[test]
fn split_inputs_keep_their_invariants() {
    let env = TestEnv::new();
    // As in the fuzz target, the first byte picks the template and the rows per part.
    replay("split", |data| {
        if let Some((&choice, input)) = data.split_first() {
            invariants::check_split(input, choice, &env.path().join("out"));
        }
    });
}

#[test]
fn fix_inputs_keep_their_invariants() {
    let env = TestEnv::new();
    replay("fix", |data| {
        if let Some((&choice, input)) = data.split_first() {
            invariants::check_fix(input, choice, env.path());
        }
    });
}

#[test]
fn config_inputs_keep_their_invariants() {
    replay("config", |data| {
        if let Ok(text) = std::str::from_utf8(data) {
            invariants::check_config(text);
        }
    });
}

#[test]
fn api_response_inputs_keep_their_invariants() {
    replay("api_response", invariants::check_api);
}
