//! `convsubmit templates list|show`.

use crate::cli::TemplatesAction;
use crate::exit::ExitStatus;
use crate::template::{self, BUILTIN_NAMES};
use anyhow::{Context, Result};
use std::io::Write;

/// Runs the subcommand.
pub fn run(action: &TemplatesAction, out: &mut dyn Write) -> Result<ExitStatus> {
    match action {
        TemplatesAction::List => {
            for name in BUILTIN_NAMES {
                let t = template::load(name)?;
                writeln!(out, "{name:<14} {}", t.description)?;
            }
            writeln!(
                out,
                "\n`convsubmit templates show NAME` prints a blank CSV; add --schema for the column rules."
            )?;
        }
        TemplatesAction::Show { name, schema: true } => match template::builtin_source(name) {
            Some(src) => out.write_all(src.as_bytes())?,
            None => {
                template::load(name)?;
                let text =
                    std::fs::read_to_string(name).with_context(|| format!("cannot read {name}"))?;
                out.write_all(text.as_bytes())?;
            }
        },
        TemplatesAction::Show {
            name,
            schema: false,
        } => {
            let t = template::load(name)?;
            out.write_all(t.blank.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}
