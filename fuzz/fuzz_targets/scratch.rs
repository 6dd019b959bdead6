//! A scratch folder per fuzzing process (several jobs may run at once).

use std::path::PathBuf;

pub fn dir(target: &str) -> PathBuf {
    std::env::temp_dir().join(format!("convsubmit-fuzz-{target}-{}", std::process::id()))
}
