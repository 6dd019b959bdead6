//! `convsubmit push`: arguments → the push use case (plan, then deliver) → its outcome
//! rendered (text lines, or the JSON report) → the exit code the outcome decides.

mod render;

use super::shared::{Global, options, progress_wanted, report_output};
use crate::cli::{Format, PushArgs};
use crate::config::Config;
use crate::error::CliResult;
use crate::push::deliver::{self, How};
use crate::push::outcome::RERUN_LATER;
use crate::push::plan;
use crate::push::retry::Policy;
use crate::push::watchdog::{self, Phase};
use crate::push::{admit, open_ledger, select};
use render::Live;
use std::time::Duration;

/// Runs the subcommand.
pub fn run(args: &PushArgs, global: Global, config: &Config) -> CliResult {
    let max_time = Duration::from_secs(args.max_time);
    let policy = Policy::new(args.retries, watchdog::deadline(max_time));
    // From the start: `--max-time` bounds the whole run, reading the inputs included.
    let watchdog = watchdog::watchdog(policy.deadline, max_time, Phase::Reading, RERUN_LATER);
    let opts = options(&args.check)?;
    let (c, s) = (&args.channel, &args.server);
    let mut channel = select::channel(args.api, c, s, config, !args.dry_run, &policy, opts.as_of)?;
    if !global.quiet {
        render::warnings(args, config);
    }
    let work = plan::work_dir()?;
    watchdog.work(work.path());
    let progress = progress_wanted(&args.report, global);
    let out = report_output(progress);
    let mut reporter =
        crate::report::make_reporter(&args.report, false, global.quiet, global.color, out)?;
    let plan = plan::plan(&args.files, &opts, work.path(), reporter.as_mut(), progress)?;
    // Machine formats: one document holds the findings and the delivery.
    let machine = matches!(args.report.format, Format::Json | Format::Jsonl);
    if !machine {
        reporter.finish(&plan.summary)?;
    }
    let mut live = Live::new(global.quiet, !machine, progress, channel.label());
    let admitted = admit(&plan, args.fail_on_reject);
    live.notes(&plan.notes)?;
    if let Some((status, why)) = admitted? {
        live.line(why)?;
        return Ok(status);
    }
    let data_errors = plan.data_errors();
    let units = channel.units(plan.parts, opts.template.as_ref())?;
    watchdog.phase(Phase::Delivering);
    let ledger_path = config.ledger_path(args.ledger.as_deref());
    let ledger = open_ledger(&ledger_path, args.dry_run, &policy)?;
    let how = How {
        force: args.force,
        dry_run: args.dry_run,
        policy,
    };
    live.total(units.len());
    let outcome = deliver::deliver(&units, channel.as_mut(), ledger.as_ref(), &how, &mut |e| {
        live.event(e)
    });
    live.done();
    let written = channel.finish(&outcome)?;
    if machine {
        reporter.delivery(&serde_json::to_value(&outcome).map_err(anyhow::Error::from)?)?;
        reporter.finish(&plan.summary)?;
    }
    live.summary(&outcome, &written)?;
    match render::error(&outcome, &written) {
        Some(e) => Err(e),
        None => Ok(outcome.exit(data_errors)),
    }
}
