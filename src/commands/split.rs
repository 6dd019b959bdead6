//! `convsubmit split`: validates each input and writes its parts, rejects and the manifest.

use super::shared::{Global, options, progress_wanted, report_to};
use crate::cli::{Format, SplitArgs};
use crate::exit::ExitStatus;
use crate::progress::Progress;
use crate::report::open_reported;
use crate::report::{Summary, plural};
use crate::split::{self, FileEntry, Manifest, Names};
use crate::validate::FileReport;
use anyhow::{Context, Result, bail};
use std::cell::RefCell;
use std::collections::HashSet;
use std::io;
use std::path::Path;

/// Runs the subcommand.
pub fn run(args: &SplitArgs, global: Global) -> Result<ExitStatus> {
    let opts = options(&args.check)?;
    let out = args.out.as_path();
    // The split's own output, created like an `-o` file (a destination of `push --dir` is
    // never created: see docs/delivery.md).
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    check_names(&args.files, out, opts.as_of)?;
    let mut manifest = Manifest::load(out)?;
    let progress = progress_wanted(&args.report, global);
    let output = report_to(args.report_file.output.as_deref(), progress)?;
    let mut reporter = crate::report::make_reporter(
        &args.report,
        false,
        global.quiet,
        global.color,
        opts.as_of,
        output,
    )?;
    let mut tally = Tally::default();
    for arg in &args.files {
        let (unreadable, summary) = (&mut tally.unreadable, &mut tally.summary);
        let Some(input) = open_reported(arg, unreadable, reporter.as_mut(), summary)? else {
            continue;
        };
        let split = split_one(
            input,
            &opts,
            out,
            progress,
            reporter.as_mut(),
            &mut manifest,
        );
        match split {
            Ok((report, entry)) => {
                tally.add(&report, entry.as_ref(), out);
                let renamed = entry.and_then(|e| Names::new(&e.input, opts.as_of).renamed());
                tally.lines.extend(renamed);
            }
            Err(e) => {
                // Keep what other inputs produced on record before giving up.
                manifest.save(out)?;
                return Err(e);
            }
        }
    }
    manifest.save(out)?;
    reporter.finish(&tally.summary)?;
    if !global.quiet {
        // Text goes on with the report; other formats keep stdout machine-readable (a report
        // written to --output leaves stdout to these lines).
        let to_stdout = args.report.format == Format::Text || args.report_file.output.is_some();
        for l in &tally.lines {
            if to_stdout {
                crate::say::out(l)?
            } else {
                crate::say::line(l)
            }
        }
    }
    Ok(tally.status())
}

/// What the inputs of a run gave.
#[derive(Default)]
struct Tally {
    summary: Summary,
    lines: Vec<String>,
    unreadable: bool,
    rejected: bool,
}

impl Tally {
    fn add(&mut self, report: &FileReport, entry: Option<&FileEntry>, out: &Path) {
        self.summary.add(report);
        match entry {
            Some(entry) => {
                self.rejected |= entry.rejects.is_some();
                describe(entry, out, &mut self.lines);
            }
            None => {
                self.rejected = true;
                self.lines.push(format!(
                    "{}: nothing written: the file has errors that affect every row (see above)",
                    report.path
                ));
            }
        }
    }

    fn status(&self) -> ExitStatus {
        if self.unreadable {
            ExitStatus::Failure
        } else if self.rejected {
            ExitStatus::DataErrors
        } else {
            ExitStatus::Success
        }
    }
}

/// Splits one input into `out` and puts its entry in the manifest.
fn split_one(
    input: crate::input::Input,
    opts: &crate::validate::Options,
    out: &Path,
    progress: bool,
    reporter: &mut dyn crate::report::Reporter,
    manifest: &mut Manifest,
) -> Result<(FileReport, Option<FileEntry>)> {
    let name = input.name.clone();
    let bar = Progress::new(&name, input.size, progress);
    reporter.begin_file(&name)?;
    // A format that shows rows gets them too, through the same reporter: one call at a time.
    let wants_rows = reporter.wants_rows();
    let shared = RefCell::new(&mut *reporter);
    let mut rows = crate::report::RowsTo::new(&shared);
    let outcome = split::split_file(
        &name,
        input.source,
        opts,
        out,
        &mut |bytes| bar.set(bytes),
        &mut |d| bar.suspend(|| shared.borrow_mut().diagnostic(&name, d)),
        if wants_rows { Some(&mut rows) } else { None },
    );
    bar.finish();
    let outcome = outcome?;
    reporter.split(outcome.entry.as_ref(), &outcome.reasons)?;
    reporter.end_file(&outcome.report)?;
    let stem = Names::new(&name, opts.as_of).stem().to_string();
    replace_entry(manifest, out, &stem, outcome.entry.as_ref(), opts.as_of)?;
    Ok((outcome.report, outcome.entry))
}

/// Refuses inputs that would write over one another or over an input.
fn check_names(files: &[String], out: &Path, as_of: crate::values::date::Day) -> Result<()> {
    let mut stems = HashSet::new();
    let out_dir = std::fs::canonicalize(out)?;
    for f in files {
        let names = Names::new(f, as_of);
        if !stems.insert(names.stem().to_string()) {
            bail!(
                "two inputs are named `{}`; their parts would have the same names (split them into different --out folders)",
                names.stem()
            );
        }
        if f == "-" {
            continue;
        }
        let Ok(path) = std::fs::canonicalize(f) else {
            continue;
        };
        let outputs = [
            names.part(1, 1),
            names.rejects(),
            split::MANIFEST.to_string(),
        ];
        if outputs.iter().any(|o| out_dir.join(o) == path) {
            bail!("{f} would be overwritten by its own output; choose another --out folder");
        }
    }
    Ok(())
}

/// Puts this run's entry for `stem` in the manifest, removing files a previous run wrote
/// for the same stem that this run did not write again.
fn replace_entry(
    manifest: &mut Manifest,
    out: &Path,
    stem: &str,
    entry: Option<&FileEntry>,
    as_of: crate::values::date::Day,
) -> Result<()> {
    let keep: HashSet<&str> = entry.iter().flat_map(|e| e.files()).collect();
    let mut kept = vec![];
    for old in std::mem::take(&mut manifest.files) {
        if Names::new(&old.input, as_of).stem() != stem {
            kept.push(old);
            continue;
        }
        for f in old.files().filter(|f| !keep.contains(f)) {
            // Only plain names in the folder: a manifest edited by hand cannot reach outside.
            if Path::new(f).file_name().is_some_and(|n| n == f) {
                match std::fs::remove_file(out.join(f)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| format!("cannot remove {f}"));
                    }
                    _ => {}
                }
            }
        }
    }
    kept.extend(entry.cloned());
    manifest.files = kept;
    Ok(())
}

fn describe(entry: &FileEntry, out: &Path, lines: &mut Vec<String>) {
    for p in &entry.parts {
        lines.push(format!(
            "wrote {}: {}, {}",
            out.join(&p.file).display(),
            plural(p.rows, "row"),
            plural(p.orders, "order")
        ));
    }
    if entry.parts.is_empty() {
        lines.push(format!("{}: no rows to send", entry.input));
    }
    if let Some(r) = &entry.rejects {
        lines.push(format!(
            "set aside {} ({}) in {}",
            plural(r.rows, "row"),
            plural(r.orders, "order"),
            out.join(&r.file).display()
        ));
    }
}
