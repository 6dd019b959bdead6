//! When to colour, for every command and for clap's own help and errors: `--color always` or
//! `never` decides; with `auto` (the default), `NO_COLOR` (set and not empty) turns colour
//! off, then `CLICOLOR_FORCE` (set, not empty and not `0`) turns it on, else the stream must
//! be a terminal whose `TERM` is not `dumb` (<https://no-color.org>, <https://bixense.com/clicolors>).

use crate::cli::Color;
use std::ffi::{OsStr, OsString};

/// Whether to colour a stream that is (`terminal`) or is not a terminal.
pub fn wanted(choice: Color, terminal: bool) -> bool {
    decide(choice, terminal, |k| std::env::var_os(k))
}

/// clap's colour choice for its help and error messages, by the same rule.
pub fn for_clap(choice: Color) -> clap::ColorChoice {
    match decided_by_env(choice, |k| std::env::var_os(k)) {
        Some(true) => clap::ColorChoice::Always,
        Some(false) => clap::ColorChoice::Never,
        // clap asks whether its stream is a terminal (and TERM) itself.
        None => clap::ColorChoice::Auto,
    }
}

/// The `--color` of a command line not parsed yet (so that clap's own help and errors follow
/// it): the last `--color WHEN` or `--color=WHEN` before `--`; `auto` if none or unknown.
pub fn from_args(args: &[OsString]) -> Color {
    let mut choice = Color::Auto;
    let mut args = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        let value = match arg.as_ref() {
            "--" => break,
            "--color" => args.next().map(|v| v.into_owned()),
            a => a.strip_prefix("--color=").map(str::to_string),
        };
        match value.as_deref() {
            Some("always") => choice = Color::Always,
            Some("never") => choice = Color::Never,
            Some("auto") => choice = Color::Auto,
            _ => {}
        }
    }
    choice
}

fn decide(choice: Color, terminal: bool, var: impl Fn(&str) -> Option<OsString>) -> bool {
    decided_by_env(choice, &var).unwrap_or_else(|| {
        terminal && var("TERM").is_none_or(|t| t.as_os_str() != OsStr::new("dumb"))
    })
}

/// What the flag and the environment decide, or `None` when it is up to the stream.
fn decided_by_env(choice: Color, var: impl Fn(&str) -> Option<OsString>) -> Option<bool> {
    let set = |k: &str| var(k).filter(|v| !v.is_empty());
    match choice {
        Color::Always => Some(true),
        Color::Never => Some(false),
        Color::Auto if set("NO_COLOR").is_some() => Some(false),
        Color::Auto if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => Some(true),
        Color::Auto => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)], choice: Color, terminal: bool) -> bool {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        decide(choice, terminal, |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn the_flag_wins_then_no_color_then_clicolor_force_then_the_terminal() {
        use Color::*;
        assert!(with(&[("NO_COLOR", "1")], Always, false));
        assert!(!with(&[("CLICOLOR_FORCE", "1")], Never, true));
        assert!(!with(
            &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
            Auto,
            true
        ));
        assert!(with(
            &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")],
            Auto,
            false
        ));
        assert!(!with(&[("CLICOLOR_FORCE", "0")], Auto, false));
        assert!(!with(&[("CLICOLOR_FORCE", "")], Auto, false));
        assert!(with(&[], Auto, true));
        assert!(!with(&[("TERM", "dumb")], Auto, true));
        assert!(!with(&[], Auto, false));
    }

    #[test]
    fn the_color_flag_is_found_before_parsing() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            from_args(&args(&["cs", "validate", "--color", "never"])),
            Color::Never
        );
        assert_eq!(
            from_args(&args(&["cs", "--color=always", "-h"])),
            Color::Always
        );
        assert_eq!(
            from_args(&args(&["cs", "--", "--color=always"])),
            Color::Auto
        );
        assert_eq!(from_args(&args(&["cs", "--color", "bogus"])), Color::Auto);
    }
}
