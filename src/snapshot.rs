//! Snapshot assertions for tests: compares text with a checked-in file under `fixtures/`.
//! Set `UPDATE_SNAPSHOTS=1` to rewrite the files after an intended change, then review the diff.
//! Shared by the unit tests (`fixtures/snapshots/`) and the integration tests
//! (`fixtures/expected/`).

use std::path::PathBuf;

/// Fails unless `actual` equals the stored snapshot `fixtures/<name>`.
#[track_caller]
pub fn assert_snapshot(name: &str, actual: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fixtures", name]
        .iter()
        .collect();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1 to create it, then review it",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "output differs from {} (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}
