//! `convsubmit completions` and `convsubmit man`: the scripts are parsed (and bash's run) by
//! the real shells, the pages rendered by the real groff/man. A shell or renderer that is not
//! installed is skipped with a note (.ci/run installs them, so CI runs every check).

use crate::util::TestEnv;
use std::path::Path;
use std::process::Command;

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn skip(tool: &str) -> bool {
    if installed(tool) {
        return false;
    }
    eprintln!("note: {tool} is not installed; this check is skipped (.ci/run installs it)");
    true
}

/// The bash completion of `words` (the last one being completed), by scripts/bash-complete.
fn bash_completes(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bash-complete");
    let out = Command::new("bash")
        .arg(helper)
        .arg(env.path().join("convsubmit.bash"))
        .args(words)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_options_and_their_values() {
    if skip("bash") {
        return;
    }
    let env = TestEnv::new();
    let script = env.run(&["completions", "bash"]);
    script.assert_code(0);
    env.write("convsubmit.bash", &script.stdout);
    assert_eq!(bash_completes(&env, &["convsubmit", "va"]), ["validate"]);
    assert_eq!(
        bash_completes(&env, &["convsubmit", "validate", "--for"]),
        ["--format"]
    );
    assert_eq!(
        bash_completes(&env, &["convsubmit", "validate", "--format", ""]),
        ["text", "json", "jsonl", "github", "junit", "sarif", "html"]
    );
    let top = bash_completes(&env, &["convsubmit", ""]);
    for command in ["split", "fix", "push", "status", "completions", "man"] {
        assert!(top.iter().any(|w| w == command), "{command} in {top:?}");
    }
    assert_eq!(
        bash_completes(&env, &["convsubmit", "completions", "f"]),
        ["fish"]
    );
}

/// `shell args… FILE` accepts the script that `convsubmit completions name` prints.
fn parses(name: &str, shell: &str, args: &[&str]) {
    if skip(shell) {
        return;
    }
    let env = TestEnv::new();
    let script = env.run(&["completions", name]);
    script.assert_code(0);
    assert!(script.stdout.contains("convsubmit"), "{}", script.stdout);
    let file = env.write("script", &script.stdout);
    let out = Command::new(shell)
        .args(args)
        .arg(env.path().join(file))
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zsh_parses_its_script() {
    parses("zsh", "zsh", &["-n"]);
}

#[test]
fn fish_parses_its_script() {
    parses("fish", "fish", &["--no-execute"]);
}

#[test]
fn powershell_and_elvish_scripts_are_printed_and_an_unknown_shell_is_refused() {
    let env = TestEnv::new();
    for (shell, marker) in [
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[convsubmit]"),
    ] {
        let out = env.run(&["completions", shell]);
        out.assert_code(0);
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        assert!(out.stdout.contains("validate"), "{shell}");
    }
    let out = env.run(&["completions", "tcsh"]);
    out.assert_code(2);
    assert!(out.stderr.contains("possible values"), "{}", out.stderr);
}

/// The warnings a renderer gives for the page `file` (empty: none).
fn render_warnings(file: &Path) -> Option<String> {
    let out = if installed("groff") {
        Command::new("groff")
            .args(["-ww", "-man", "-z"])
            .arg(file)
            .output()
            .unwrap()
    } else if installed("man") {
        Command::new("man")
            .args(["--warnings", "-l"])
            .arg(file)
            .env("MANPAGER", "cat")
            .output()
            .unwrap()
    } else {
        eprintln!("note: neither groff nor man is installed; pages are not rendered");
        return None;
    };
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        text.push_str(&format!(" (exit {:?})", out.status.code()));
    }
    Some(text)
}

#[test]
fn man_prints_convsubmit_1_or_writes_a_page_per_command_each_rendering_cleanly() {
    let env = TestEnv::new();
    let top = env.run(&["man"]);
    top.assert_code(0);
    assert!(top.stdout.contains(".TH convsubmit 1"), "{}", top.stdout);
    assert!(top.stdout.contains("convsubmit\\-validate(1)"));
    let written = env.run(&["man", "--out", "pages"]);
    written.assert_code(0);
    assert_eq!(
        written.stderr,
        "convsubmit: wrote 13 man pages into pages\n"
    );
    let mut names: Vec<String> = std::fs::read_dir(env.path().join("pages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: Vec<String> = [
        "",
        "-completions",
        "-doctor",
        "-fix",
        "-history",
        "-man",
        "-push",
        "-split",
        "-status",
        "-templates",
        "-templates-list",
        "-templates-show",
        "-validate",
    ]
    .iter()
    .map(|s| format!("convsubmit{s}.1"))
    .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(names, expected_sorted);
    assert_eq!(env.read("pages/convsubmit.1"), top.stdout);
    assert!(
        env.read("pages/convsubmit-validate.1")
            .contains("\\-\\-format")
    );
    for name in &names {
        if let Some(warnings) = render_warnings(&env.path().join("pages").join(name)) {
            assert_eq!(warnings, "", "{name}");
        }
    }
    assert!(env.run(&["man", "--out", "pages", "-q"]).stderr.is_empty());
}
