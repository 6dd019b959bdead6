//! `convsubmit doctor`: checks a channel end to end without sending data.

use crate::cli::DoctorArgs;
use crate::config::Config;
use crate::deliver::{DeliveryError, Transport};
use crate::error::{CliError, CliResult};
use crate::exit::ExitStatus;
use crate::push::outcome::Stopped;
use crate::push::retry::Policy;
use crate::push::select;
use crate::push::watchdog::{Phase, deadline, io_timeout, watchdog};
use std::io::Write;
use std::time::Duration;

/// Runs the subcommand.
pub fn run(args: &DoctorArgs, config: &Config) -> CliResult {
    let mut out = crate::output::stdout();
    for w in config.warnings() {
        writeln!(out, "warning: {w}")?;
    }
    let max_time = Duration::from_secs(args.max_time);
    let policy = Policy::new(0, deadline(max_time));
    // A server that drips bytes defeats per-read timeouts: the check ends anyway.
    watchdog(
        policy.deadline,
        max_time,
        Phase::Delivering,
        "a temporary failure: check the server, or try again later",
    );
    let mut transport = select::transport(&args.channel, &args.server, config, true)?;
    let destination = transport.label();
    writeln!(out, "checking {destination}")?;
    for w in select::warnings(&args.channel, config) {
        writeln!(out, "warning: {}", crate::say::clean(&w))?;
    }
    // The key push would encrypt to, judged as push judges it (a bad one: exit 2).
    if let Some(key) = select::recipient(&args.channel, config)? {
        let fingerprint = key.fingerprint();
        writeln!(
            out,
            "ok: encrypt_to: parts are encrypted to key {fingerprint}"
        )?;
    }
    let checked = check(transport.as_mut(), args, &policy, &mut out);
    transport.disconnect();
    match checked {
        Ok(()) => {
            writeln!(out, "{destination} is ready for push")?;
            Ok(ExitStatus::Success)
        }
        Err(e) => Err(failure(&e, &destination)),
    }
}

/// Connects, then writes, renames and removes a probe file, printing each step that worked.
fn check(
    transport: &mut dyn Transport,
    args: &DoctorArgs,
    policy: &Policy,
    out: &mut dyn Write,
) -> Result<(), DeliveryError> {
    transport.connect(io_timeout(policy))?;
    let what = if args.channel.dir.is_some() {
        "the folder exists"
    } else if args.channel.sftp {
        "connected, host key verified, logged in"
    } else if args.channel.email {
        "connected, TLS and login as configured under [email]"
    } else if args.channel.ftps {
        "connected, TLS certificate verified, logged in"
    } else {
        "connected, logged in"
    };
    let _ = writeln!(out, "ok: {what}");
    // A failed line here shows again at the last line, which is checked.
    transport.probe(&mut |step| {
        let _ = writeln!(out, "ok: {step}");
    })
}

/// A failed check as push would report it (the same message, help and exit code).
fn failure(e: &DeliveryError, destination: &str) -> CliError {
    Stopped::channel(e, destination).error()
}
