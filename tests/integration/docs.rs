//! The examples in `docs/*.md`: every one is run, and its output must be the one shown.
//!
//! An example is a ```console block whose first line is `$ convsubmit ARGS`, on the line right
//! after a marker `<!-- example: NAME -->`. Its commands (`$ convsubmit …`, or `$ cat FILE…` to
//! show a file a command wrote) run in order (with `NO_COLOR=1`) in one copy of the folder
//! `docs/examples/NAME/`, and each one's standard output followed by its standard error must
//! equal the lines after it.
//!
//! The ```csv and ```toml blocks between the previous ```console block and the marker show the
//! example's input: a csv block must equal the folder's `example.csv`, a toml block one of its
//! `.toml` files. A file that is not UTF-8 text without CR (a UTF-16 or Latin-1 input, CR line
//! endings) cannot be shown as it is, so its block is a description and is not compared.
//!
//! After a change to the messages, `UPDATE_SNAPSHOTS=1 cargo test --test integration docs`
//! rewrites the outputs in the markdown files; review `git diff docs/` before keeping it.

use crate::util::TestEnv;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const MARKER_START: &str = "<!-- example: ";
const MARKER_END: &str = " -->";
const PROMPT: &str = "$ convsubmit";

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

fn examples_dir() -> PathBuf {
    docs_dir().join("examples")
}

/// A fenced block: its info string, the line of its opening fence (0-based) and its lines.
struct Block {
    lang: String,
    open: usize,
    body: Vec<String>,
}

/// The fenced blocks of a markdown file. An unclosed fence is an error.
fn blocks(lines: &[&str]) -> Result<Vec<Block>, String> {
    let mut out = vec![];
    let mut current: Option<Block> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(b) = current.as_mut() {
            if line.trim_end() == "```" {
                out.extend(current.take());
            } else {
                b.body.push(line.to_string());
            }
        } else if let Some(info) = line.strip_prefix("```") {
            current = Some(Block {
                lang: info.trim().to_string(),
                open: i,
                body: vec![],
            });
        }
    }
    match current {
        Some(b) => Err(format!(
            "line {}: a fenced block is never closed",
            b.open + 1
        )),
        None => Ok(out),
    }
}

/// The example a marker line names, if the line is a marker.
fn marker(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix(MARKER_START)?
        .strip_suffix(MARKER_END)
        .map(str::trim)
}

/// Splits a command line into arguments like a shell does for simple words: single quotes
/// keep everything, double quotes keep everything but `\"` and `\\`, and a backslash outside
/// quotes escapes the next character. Anything the shell would interpret (pipes,
/// redirections, variables, globs) is refused, since the test cannot reproduce it.
fn split_args(line: &str) -> Result<Vec<String>, String> {
    let mut args = vec![];
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                args.extend(word.take());
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("a backslash at the end of the line".into()),
            },
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '#' | '~' => {
                return Err(format!(
                    "unquoted `{c}`: shell syntax cannot be run by the test; quote it or drop it"
                ));
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    args.extend(word);
    Ok(args)
}

/// The text of a file shown in a block, or `None` when it cannot be shown as it is.
fn showable(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|t| !t.contains('\r'))
}

/// Every file under `dir`, as `/`-separated paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut todo = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, rel)) = todo.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().unwrap().is_dir() {
                todo.push((e.path(), rel));
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// Compares the input blocks shown before an example with the files of its folder.
fn check_inputs(inputs: &[&Block], folder: &Path, files: &[String]) -> Vec<(usize, String)> {
    let mut problems = vec![];
    for b in inputs {
        let shown = b.body.join("\n");
        let candidates: Vec<&String> = match b.lang.as_str() {
            "csv" => files.iter().filter(|f| *f == "example.csv").collect(),
            _ => files.iter().filter(|f| f.ends_with(".toml")).collect(),
        };
        if candidates.is_empty() {
            problems.push((
                b.open,
                format!(
                    "a ```{} block shows an input, but the example folder has no {}",
                    b.lang,
                    if b.lang == "csv" {
                        "example.csv"
                    } else {
                        ".toml file"
                    }
                ),
            ));
            continue;
        }
        let mut texts = vec![];
        let mut described = false;
        for name in &candidates {
            let bytes = std::fs::read(folder.join(name)).unwrap();
            match showable(&bytes) {
                Some(t) => texts.push((name, t.trim_end_matches('\n').to_string())),
                None => described = true,
            }
        }
        // A file that cannot be shown as it is: the block describes it.
        if described || texts.iter().any(|(_, t)| *t == shown) {
            continue;
        }
        let (name, text) = &texts[0];
        let lang = &b.lang;
        problems.push((
            b.open,
            format!(
                "the ```{lang} block is not the text of {name}; make them the same\n\
                 --- {name}\n{text}\n--- block\n{shown}"
            ),
        ));
    }
    problems
}

/// Runs one example's commands in one fresh copy of its folder; returns the block's text:
/// each command line followed by what it printed (stdout, then stderr, without the final
/// newlines). `cat FILE...` shows files the commands wrote.
fn run_example(folder: &Path, files: &[String], commands: &[(String, Vec<String>)]) -> String {
    let env = TestEnv::new();
    for name in files {
        env.write(name, std::fs::read(folder.join(name)).unwrap());
    }
    let mut shown = vec![];
    for (line, args) in commands {
        shown.push(line.clone());
        let text = if args[0] == "cat" {
            args[1..].iter().map(|f| env.read(f)).collect::<String>()
        } else {
            let args: Vec<&str> = args[1..].iter().map(String::as_str).collect();
            let out = env.run(&args);
            format!("{}{}", out.stdout, out.stderr)
        };
        let here = env.path().to_string_lossy().into_owned();
        assert!(
            !text.contains(&here),
            "the output names the temporary folder; run with relative paths\n{text}"
        );
        let text = text.trim_end_matches('\n');
        if !text.is_empty() {
            shown.push(text.to_string());
        }
    }
    shown.join("\n")
}

/// The commands of a console block: lines starting with `$ `, each `convsubmit …` or
/// `cat FILE…`, split into words.
fn commands(body: &[String]) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = vec![];
    for line in body.iter().filter(|l| l.starts_with("$ ")) {
        let args = split_args(&line[2..]).map_err(|e| format!("cannot run `{line}`: {e}"))?;
        match args.first().map(String::as_str) {
            Some("convsubmit" | "cat") if args.len() > 1 || args[0] == "convsubmit" => {
                out.push((line.clone(), args));
            }
            _ => return Err(format!("`{line}`: only convsubmit and cat FILE can be run")),
        }
    }
    Ok(out)
}

/// Checks (or with `update`, rewrites) the examples of one markdown file. Returns the problems
/// found and adds the example names used to `used`.
fn check_file(path: &Path, update: bool, used: &mut BTreeSet<String>) -> Vec<String> {
    let shown_path = format!(
        "docs/{}",
        path.file_name().unwrap().to_string_lossy().into_owned()
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let blocks = match blocks(&refs) {
        Ok(b) => b,
        Err(e) => return vec![format!("{shown_path}: {e}")],
    };
    let mut problems = vec![];
    let mut fail = |line: usize, example: &str, what: String| {
        let name = if example.is_empty() {
            String::new()
        } else {
            format!(" (example {example})")
        };
        problems.push(format!("{shown_path}:{}{name}: {what}", line + 1));
    };

    // Every marker must be directly followed by a ```console block.
    let mut inside = vec![false; refs.len()];
    for b in &blocks {
        for flag in inside.iter_mut().skip(b.open).take(b.body.len() + 2) {
            *flag = true;
        }
    }
    for (i, line) in refs.iter().enumerate() {
        if let Some(name) = marker(line).filter(|_| !inside[i]) {
            let next_is_console = blocks
                .iter()
                .any(|b| b.open == i + 1 && b.lang == "console");
            if !next_is_console {
                fail(
                    i,
                    name,
                    "the marker is not directly followed by a ```console block".into(),
                );
            }
        }
    }

    // Replacements of block bodies (first body line, old length, new lines), applied last.
    let mut rewrites: Vec<(usize, usize, Vec<String>)> = vec![];
    let mut inputs: Vec<&Block> = vec![];
    for b in &blocks {
        match b.lang.as_str() {
            "csv" | "toml" => {
                inputs.push(b);
                continue;
            }
            "console" => {}
            _ => continue,
        }
        let shown_inputs = std::mem::take(&mut inputs);
        let is_command = |l: &&String| *l == PROMPT || l.starts_with(&format!("{PROMPT} "));
        let Some(command) = b.body.first().filter(is_command) else {
            continue;
        };
        let name = match b.open.checked_sub(1).and_then(|i| marker(refs[i])) {
            Some(n) => n.to_string(),
            None => {
                fail(
                    b.open,
                    "",
                    format!(
                        "`{command}` has no `{MARKER_START}NAME{MARKER_END}` line before its block; \
                         add one and put the example's files in docs/examples/NAME/"
                    ),
                );
                continue;
            }
        };
        used.insert(name.clone());
        let folder = examples_dir().join(&name);
        if name.is_empty()
            || name.starts_with('.')
            || name.contains(['/', '\\'])
            || !folder.is_dir()
        {
            fail(
                b.open,
                &name,
                format!("there is no folder docs/examples/{name}/"),
            );
            continue;
        }
        let steps = match commands(&b.body) {
            Ok(c) => c,
            Err(e) => {
                fail(b.open + 1, &name, e);
                continue;
            }
        };
        let files = files_under(&folder);
        for (line, problem) in check_inputs(&shown_inputs, &folder, &files) {
            fail(line, &name, problem);
        }
        let actual = run_example(&folder, &files, &steps);
        let expected = b.body.join("\n");
        if actual == expected {
            continue;
        }
        if update {
            let new: Vec<String> = actual.split('\n').map(String::from).collect();
            if new.iter().any(|l| l.starts_with("```")) {
                fail(
                    b.open,
                    &name,
                    "the output has a line starting with ``` and cannot be put in a block".into(),
                );
            } else {
                rewrites.push((b.open + 1, b.body.len(), new));
            }
        } else {
            fail(
                b.open,
                &name,
                format!(
                    "the output differs from the block (UPDATE_SNAPSHOTS=1 rewrites it)\n\
                     command: {command}\n--- expected (the block)\n{expected}\n--- actual\n{actual}"
                ),
            );
        }
    }
    if !rewrites.is_empty() {
        for (start, len, new) in rewrites.into_iter().rev() {
            lines.splice(start..start + len, new);
        }
        std::fs::write(path, lines.join("\n")).unwrap();
    }
    problems
}

#[test]
fn every_documented_example_gives_the_output_shown() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(docs_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut used = BTreeSet::new();
    let mut problems = vec![];
    for path in &docs {
        problems.extend(check_file(path, update, &mut used));
    }
    // An example folder no marker names is never run: it would go stale unnoticed.
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() && !used.contains(&name) {
            problems.push(format!(
                "docs/examples/{name}/ is not named by any `{MARKER_START}{name}{MARKER_END}` marker"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the documented examples:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    assert!(!used.is_empty(), "no examples found in docs/*.md");
}

/// The README's tour runs on a copy of the shipped fixtures (so commands that write files
/// write them there, not into the source tree): every
/// `$ convsubmit …` command in a console block (a piped one excepted) must print what the
/// README shows, and a `$ echo $?` after it shows its exit code.
#[test]
fn the_readme_tour_is_true() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let env = TestEnv::new();
    let fixtures = root.join("fixtures");
    for f in files_under(&fixtures) {
        env.write(
            &format!("fixtures/{f}"),
            std::fs::read(fixtures.join(&f)).unwrap(),
        );
    }
    let mut checked = 0;
    for block in blocks(&lines)
        .unwrap()
        .iter()
        .filter(|b| b.lang == "console")
    {
        let mut i = 0;
        while i < block.body.len() {
            let line = &block.body[i];
            i += 1;
            if !line.starts_with(PROMPT) || line.contains('|') {
                continue;
            }
            let start = i;
            while i < block.body.len() && !block.body[i].starts_with("$ ") {
                i += 1;
            }
            let expected = block.body[start..i].join("\n");
            let args = split_args(&line["$ convsubmit".len()..]).unwrap();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = env.command(&args).output().unwrap();
            let mut actual = String::from_utf8_lossy(&out.stdout).into_owned();
            actual.push_str(&String::from_utf8_lossy(&out.stderr));
            assert_eq!(actual.trim_end(), expected, "README.md: `{line}`");
            if block.body.get(i).is_some_and(|l| l == "$ echo $?") {
                let code = block.body[i + 1].parse::<i32>().unwrap();
                assert_eq!(
                    out.status.code(),
                    Some(code),
                    "README.md: exit code of `{line}`"
                );
                i += 2;
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} README commands found");
}

#[test]
fn commands_are_split_like_a_shell_splits_simple_words() {
    let split = |s: &str| split_args(s).unwrap();
    assert_eq!(
        split(" validate --as-of 2026-06-30  example.csv"),
        ["validate", "--as-of", "2026-06-30", "example.csv"]
    );
    assert_eq!(
        split(r#"validate 'my file.csv' "a \"b\" c" x\ y '' """#),
        ["validate", "my file.csv", "a \"b\" c", "x y", "", ""]
    );
    assert_eq!(split(r#"a'b'"c"d"#), ["abcd"]);
    assert_eq!(split(r#""a\nb""#), ["a\\nb"]);
    assert!(split_args("validate 'open").is_err());
    assert!(split_args("validate \"open").is_err());
    assert!(split_args("validate x.csv | jq .").is_err());
    assert!(split_args("validate x.csv > out").is_err());
    assert_eq!(split("validate 'x.csv | jq'"), ["validate", "x.csv | jq"]);
}

#[test]
fn markers_are_recognised_only_in_their_exact_form() {
    assert_eq!(marker("<!-- example: bom -->"), Some("bom"));
    assert_eq!(marker("  <!-- example: bom -->  "), Some("bom"));
    assert_eq!(marker("<!-- example bom -->"), None);
    assert_eq!(marker("<!-- bom -->"), None);
}
