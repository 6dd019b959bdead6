//! `convsubmit man [--out DIR]`: man pages generated from the command definitions in
//! [`crate::cli`]: convsubmit(1) on standard output, or convsubmit.1 and one page per command
//! (convsubmit-validate.1, convsubmit-templates-show.1, …) written into a folder, each whole
//! or not at all.

use super::shared::Global;
use crate::cli::{Cli, ManArgs};
use crate::exit::ExitStatus;
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

/// Runs the subcommand.
pub fn run(args: &ManArgs, global: Global, out: &mut dyn Write) -> Result<ExitStatus> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    match &args.out {
        None => {
            out.write_all(&page(&cmd)?)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut written = 0;
            write_pages(&cmd, dir, &mut written)?;
            if !global.quiet {
                crate::say::note(&format!("wrote {written} man pages into {}", dir.display()));
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// The page of `cmd` (a built command or subcommand), in roff.
fn page(cmd: &clap::Command) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut bytes)?;
    Ok(bytes)
}

/// Writes the page of `cmd` and of each of its subcommands, recursively.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut usize) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let temp = crate::output::beside(&path, "man");
    let result = (|| -> std::io::Result<()> {
        let mut file = crate::output::create_fresh(&temp)?;
        file.write_all(&page(cmd).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))?;
    *written += 1;
    Ok(())
}
