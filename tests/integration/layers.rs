//! The layers point one way: commands → the push use case → channels → transports. A leaf
//! that imports a layer above it, or a command that imports another command, fails here.

use std::path::{Path, PathBuf};

fn sources(dir: &str) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut todo = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir)];
    while let Some(d) = todo.pop() {
        if d.extension().is_some_and(|e| e == "rs") {
            out.push(d);
            continue;
        }
        for e in std::fs::read_dir(&d).unwrap() {
            todo.push(e.unwrap().path());
        }
    }
    assert!(!out.is_empty(), "no sources under src/{dir}");
    out
}

/// The lines of `files` that name one of `forbidden`.
fn offenders(files: &[PathBuf], forbidden: &[&str]) -> Vec<String> {
    let mut found = vec![];
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if forbidden.iter().any(|w| line.contains(w)) {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn transports_and_the_api_client_import_nothing_above_them() {
    let mut files = sources("deliver");
    files.extend(
        sources("api")
            .into_iter()
            .filter(|f| !f.ends_with("settings.rs")),
    );
    let above = [
        "crate::push",
        "crate::commands",
        "crate::cli",
        "crate::ledger",
        "crate::error",
        "crate::report",
        "crate::config",
    ];
    let found = offenders(&files, &above);
    assert!(
        found.is_empty(),
        "leaves import layers above them:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_use_case_does_not_import_the_commands() {
    let found = offenders(&sources("push"), &["crate::commands"]);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn no_command_imports_another() {
    let commands: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
            .filter(|n| n != "mod" && n != "shared")
            .collect();
    assert!(commands.len() >= 8, "{commands:?}");
    let mut found = vec![];
    for name in &commands {
        let others: Vec<String> = commands
            .iter()
            .filter(|c| *c != name)
            .flat_map(|c| [format!("super::{c}::"), format!("crate::commands::{c}")])
            .collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        let dir = Path::new("commands").join(name);
        let files = if Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src")
            .join(&dir)
            .is_dir()
        {
            sources(dir.to_str().unwrap())
        } else {
            vec![Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/commands/{name}.rs"))]
        };
        found.extend(offenders(&files, &others));
    }
    assert!(
        found.is_empty(),
        "commands import each other:\n{}",
        found.join("\n")
    );
}
