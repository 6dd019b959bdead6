//! `convsubmit templates list|show`: the built-in templates, and the blank CSV or schema
//! of one of them (or of a template file).

use crate::cli::TemplatesAction;
use crate::exit::ExitStatus;
use crate::template::{self, BUILTIN_NAMES, Template};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;

/// Runs the subcommand. `notes` gets what is not the CSV itself: the other forms a template
/// accepts, so that standard output stays a file to copy.
pub fn run(
    action: &TemplatesAction,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<ExitStatus> {
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
                shown(name)?;
                let text =
                    std::fs::read_to_string(name).with_context(|| format!("cannot read {name}"))?;
                out.write_all(text.as_bytes())?;
            }
        },
        TemplatesAction::Show {
            name,
            schema: false,
        } => {
            let t = shown(name)?;
            out.write_all(t.blank.as_bytes())?;
            out.flush()?;
            for form in &t.forms {
                writeln!(notes, "# {}:\n{}", form.label, form.header)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}

/// The template `templates show NAME` shows: a built-in one or a template file. A bare word
/// that is neither is unknown, and the message lists what can be shown: `auto` is not a
/// template but the `--template` choice that detects one of them per file.
fn shown(name: &str) -> Result<Template> {
    let bare = !name.contains(['/', '\\', '.']);
    if template::builtin_source(name).is_none() && bare && !Path::new(name).exists() {
        let auto = if name == "auto" {
            "; `auto` is not a template to show: `--template auto` (the default of validate, split, fix and push) picks one of these for each file from its header"
        } else {
            ""
        };
        bail!(
            "unknown template `{name}`: use one of {}, or the path of a template file{auto}",
            BUILTIN_NAMES.join(", ")
        );
    }
    template::load(name)
}
