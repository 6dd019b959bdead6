//! Planning a push: every input validated and split into the run's work folder before
//! anything is sent, its rejects set beside it, and what that means for the run (inputs that
//! could not be read, rows set aside, files with nothing to send) gathered as data.

use super::part::PartFile;
use crate::diagnostic::Diagnostic;
use crate::input::{self, Identity};
use crate::progress::Progress;
use crate::report::{Reporter, Summary, open_reported, plural};
use crate::split::{self, FileEntry, LineMap, Names, work};
use crate::validate::{self, FileReport};
use anyhow::{Context, Result};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What reading every input gave.
#[derive(Default)]
pub struct Plan {
    /// The parts to deliver, with names unique within the run.
    pub parts: Vec<PartFile>,
    /// Lines for people: rows set aside, files with nothing to send.
    pub notes: Vec<String>,
    /// The validation totals.
    pub summary: Summary,
    /// An input could not be opened or read.
    pub unreadable: bool,
    /// An input had errors that affect every row: nothing of it is sent.
    pub unusable: bool,
    /// Rows set aside over every input.
    pub rejected_rows: u64,
    /// The inputs read, as they were when opened (checked again before sending).
    pub read: Vec<(String, Identity)>,
}

impl Plan {
    /// Rows are left out of the delivery: the run ends with exit 1 when the rest is sent.
    pub fn data_errors(&self) -> bool {
        self.rejected_rows > 0 || self.unusable
    }

    /// The first input that changed since it was read, and how.
    pub fn changed_input(&self) -> Option<String> {
        self.read.iter().find_map(|(name, identity)| {
            identity
                .changed(name)
                .map(|change| format!("{name} changed while it was read ({change})"))
        })
    }
}

/// Where the rejects of input `name` go: `<stem>.rejects.csv` beside it (in the current
/// folder for standard input).
fn rejects_path(name: &str, as_of: crate::values::date::Day) -> PathBuf {
    let name = if name == "-" { input::STDIN_NAME } else { name };
    let names = Names::new(name, as_of);
    if name == input::STDIN_NAME {
        PathBuf::from(names.rejects())
    } else {
        Path::new(name).with_file_name(names.rejects())
    }
}

/// Refuses, before anything is read, inputs whose rejects files would replace one another
/// or an input (`push x.csv x.txt`, `push x.csv x.rejects.csv`): a rejects file never
/// replaces a file this run did not write.
pub fn check_rejects_paths(files: &[String], as_of: crate::values::date::Day) -> Result<()> {
    let inputs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| canonical(Path::new(f)))
        .collect();
    let mut seen = std::collections::HashMap::new();
    for f in files {
        let path = rejects_path(f, as_of);
        let key = canonical(&path).unwrap_or_else(|| path.clone());
        if let Some(other) = seen.insert(key.clone(), f) {
            anyhow::bail!(
                "{other} and {f} would put their rejects in one file, {}: push them from different folders, or rename one",
                path.display()
            );
        }
        if inputs.contains(&key) {
            anyhow::bail!(
                "the rejects of {f} would replace the input {}: rename that input",
                path.display()
            );
        }
    }
    Ok(())
}

/// `path` with its folder resolved (the file itself need not exist).
fn canonical(path: &Path) -> Option<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
}

/// Validates and splits every input of `files` into `work`, reporting findings to
/// `reporter` (the caller finishes it). `progress`: draw a bar per input.
pub fn plan(
    files: &[String],
    opts: &validate::Options,
    work: &Path,
    reporter: &mut dyn Reporter,
    progress: bool,
) -> Result<Plan> {
    let mut plan = Plan::default();
    for (i, arg) in files.iter().enumerate() {
        let opened = open_reported(arg, &mut plan.unreadable, reporter, &mut plan.summary)?;
        let Some(input) = opened else {
            continue;
        };
        let name = input.name.clone();
        if let Some(identity) = input.identity {
            plan.read.push((name.clone(), identity));
        }
        let bar = Progress::new(&name, input.size, progress);
        reporter.begin_file(&name)?;
        let prepared = prepare(
            &name,
            input.source,
            opts,
            &work.join(i.to_string()),
            &mut |b| bar.set(b),
            &mut |d| bar.suspend(|| reporter.diagnostic(&name, d)),
        )?;
        bar.finish();
        reporter.end_file(&prepared.report)?;
        if !prepared.parts.is_empty() {
            plan.notes.extend(Names::new(&name, opts.as_of).renamed());
        }
        plan.add(&name, prepared);
    }
    super::names::unique_names(&mut plan.parts);
    Ok(plan)
}

impl Plan {
    fn add(&mut self, name: &str, prepared: Prepared) {
        self.summary.add(&prepared.report);
        match (&prepared.entry, &prepared.rejects) {
            (None, _) => {
                self.unusable = true;
                self.notes.push(format!(
                    "{name}: nothing sent: the file has errors that affect every row (see above)"
                ));
            }
            (Some(e), Some(path)) => {
                let r = e.rejects.as_ref().map_or(0, |r| r.rows);
                self.rejected_rows += r;
                self.notes.push(format!(
                    "set aside {} of {name} in {}",
                    plural(r, "row"),
                    path.display()
                ));
            }
            _ => {}
        }
        self.parts.extend(prepared.parts);
    }
}

/// What preparing one input gave.
struct Prepared {
    /// The validation report.
    pub report: FileReport,
    /// What `split` made of it (`None`: file-level errors, nothing to send).
    pub entry: Option<FileEntry>,
    /// Where its rejects were put, beside the input.
    pub rejects: Option<PathBuf>,
    /// Its parts.
    pub parts: Vec<PartFile>,
}

/// A new, empty work folder for the parts of one run (removed when dropped): this user's
/// alone (the parts hold customer data), in the temporary folder, under a name no other
/// run has. Folders there of runs that were killed are removed (see
/// [`work::remove_abandoned`]).
pub fn work_dir() -> Result<work::WorkDir> {
    let tmp = std::env::temp_dir();
    work::WorkDir::create(&tmp, WORK)
        .with_context(|| format!("cannot create a work folder in {}", tmp.display()))
}

/// Work folders are named `convsubmit-push-<pid>-<n>` in the temporary folder.
const WORK: work::Pattern = work::Pattern {
    prefix: "convsubmit-push-",
    suffix: "",
};

/// Splits one input into `work/<n>/`, and moves its rejects beside the input (`<stem>.rejects.csv`;
/// in the current folder for standard input). A rejects file of an earlier run is removed
/// when this run rejects nothing, so that it never describes an older input.
fn prepare(
    name: &str,
    src: impl Read + Send,
    opts: &validate::Options,
    work: &Path,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(&Diagnostic) -> io::Result<()>,
) -> Result<Prepared> {
    std::fs::create_dir_all(work)
        .with_context(|| format!("cannot create the work folder {}", work.display()))?;
    let outcome = split::split_file(name, src, opts, work, progress, sink, None)?;
    let beside = rejects_path(name, opts.as_of);
    let mut rejects = None;
    let mut parts = vec![];
    if let Some(entry) = &outcome.entry {
        match &entry.rejects {
            Some(r) => {
                move_file(&work.join(&r.file), &beside)?;
                rejects = Some(beside);
            }
            None => remove_stale(&beside)?,
        }
        parts = entry
            .parts
            .iter()
            .map(|p| PartFile {
                input: name.to_string(),
                local: work.join(&p.file),
                name: p.file.clone(),
                sha256: p.sha256.clone(),
                bytes: p.bytes,
                rows: p.rows,
                lines: LineMap {
                    header_line: entry.header_line,
                    runs: p.lines.clone(),
                },
                event_type: None,
                sealed: None,
            })
            .collect();
    }
    Ok(Prepared {
        report: outcome.report,
        entry: outcome.entry,
        rejects,
        parts,
    })
}

fn move_file(from: &Path, to: &Path) -> Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    // Another file system: copy under a temporary name beside `to`, then rename, so that a
    // copy cut short (a full disk) never shows under the real name.
    let tmp = crate::output::beside(to, "copy");
    let copied = std::fs::copy(from, &tmp)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, to));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", to.display()));
    }
    let _ = std::fs::remove_file(from);
    Ok(())
}

fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove the old {}", path.display()))
        }
        _ => Ok(()),
    }
}
