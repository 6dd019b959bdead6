//! `convsubmit doctor`: checks a channel end to end without sending data.

use super::push::report_failure;
use crate::cli::DoctorArgs;
use crate::config::Config;
use crate::deliver::push::{Phase, deadline, io_timeout, watchdog};
use crate::deliver::retry::Policy;
use crate::exit::ExitStatus;
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

/// Runs the subcommand.
pub fn run(args: &DoctorArgs, config: &Config) -> Result<ExitStatus> {
    let mut out = crate::output::stdout();
    for w in config.warnings() {
        writeln!(out, "warning: {w}")?;
    }
    let policy = Policy::new(0, deadline(Duration::from_secs(args.max_time)));
    // A server that drips bytes defeats per-read timeouts: the check ends anyway.
    watchdog(
        policy.deadline,
        Duration::from_secs(args.max_time),
        Phase::Delivering,
        "a temporary failure: check the server, or try again later",
    );
    let mut transport = super::channel::transport(&args.channel, &args.server, config, true)?;
    let destination = transport.label();
    writeln!(out, "checking {destination}")?;
    if args.channel.ftp {
        writeln!(
            out,
            "warning: plain FTP: the password and the data travel in clear text"
        )?;
    }
    if let Err(e) = transport.connect(io_timeout(&policy)) {
        return Ok(report_failure(&e, &destination));
    }
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
    writeln!(out, "ok: {what}")?;
    // A failed line here shows again at the last line, which is checked.
    let result = transport.probe(&mut |step| {
        let _ = writeln!(out, "ok: {step}");
    });
    transport.disconnect();
    match result {
        Ok(()) => {
            writeln!(out, "{destination} is ready for push")?;
            Ok(ExitStatus::Success)
        }
        Err(e) => Ok(report_failure(&e, &destination)),
    }
}
