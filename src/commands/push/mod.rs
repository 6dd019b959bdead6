//! `convsubmit push`: arguments → the push use case (plan, then deliver) → its outcome
//! rendered (text lines, or the JSON report) → the exit code the outcome decides.

mod render;

use super::shared::{Global, options, progress_wanted, report_output};
use crate::cli::{Format, PushArgs};
use crate::config::Config;
use crate::error::CliResult;
use crate::push::channel::Channel;
use crate::push::deliver::{self, How};
use crate::push::outcome::Outcome;
use crate::push::outcome::RERUN_LATER;
use crate::push::plan::{self, Plan};
use crate::push::retry::Policy;
use crate::push::watchdog::{self, Phase};
use crate::push::{admit, open_ledger, select};
use crate::validate::Options;
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
    plan::check_rejects_paths(&args.files, opts.as_of)?;
    let work = plan::work_dir()?;
    watchdog.work(work.path());
    let progress = progress_wanted(&args.report, global);
    let out = report_output(progress);
    let mut reporter = crate::report::make_reporter(
        &args.report,
        false,
        global.quiet,
        global.color,
        opts.as_of,
        out,
    )?;
    let plan = plan::plan(&args.files, &opts, work.path(), reporter.as_mut(), progress)?;
    let summary = plan.summary;
    // Machine formats: one document holds the findings and the delivery, written whatever
    // the run came to.
    let machine = matches!(args.report.format, Format::Json | Format::Jsonl);
    if !machine {
        reporter.finish(&summary)?;
    }
    let mut live = Live::new(global.quiet, !machine, progress, channel.label());
    let mut run = Run {
        args,
        config,
        policy,
        channel: channel.as_mut(),
        live: &mut live,
        quiet: global.quiet,
        outcome: None,
    };
    let result = run.deliver(plan, &opts, &watchdog);
    if machine {
        if let Some(outcome) = &run.outcome {
            reporter.delivery(&serde_json::to_value(outcome).map_err(anyhow::Error::from)?)?;
        }
        reporter.finish(&summary)?;
    }
    result
}

/// A push past its plan.
struct Run<'a> {
    args: &'a PushArgs,
    config: &'a Config,
    policy: Policy,
    channel: &'a mut dyn Channel,
    live: &'a mut Live,
    /// `--quiet`.
    quiet: bool,
    /// The delivery's outcome, once it began.
    outcome: Option<Outcome>,
}

impl Run<'_> {
    /// Delivers what `plan` admits (the outcome is kept in `self.outcome`).
    fn deliver(&mut self, plan: Plan, opts: &Options, watchdog: &watchdog::Watchdog) -> CliResult {
        let admitted = admit(&plan, self.args.fail_on_reject);
        self.live.notes(&plan.notes)?;
        if let Some((status, why)) = admitted? {
            self.live.line(why)?;
            return Ok(status);
        }
        let data_errors = plan.data_errors();
        let units = self.channel.units(plan.parts, opts.template.as_ref())?;
        watchdog.phase(Phase::Delivering);
        let at = self
            .config
            .ledger_location(self.args.ledger.as_deref(), self.args.ledger_url.as_deref())?;
        let ledger = open_ledger(&at, self.args.dry_run, self.quiet, &self.policy)?;
        let how = How {
            force: self.args.force,
            dry_run: self.args.dry_run,
            policy: self.policy,
        };
        self.live.total(units.len());
        let live = &mut *self.live;
        let outcome = deliver::deliver(&units, self.channel, ledger.as_ref(), &how, &mut |e| {
            live.event(e)
        });
        live.done();
        let result = self.close(&outcome, data_errors);
        self.outcome = Some(outcome);
        result
    }

    /// Writes what the channel keeps, says how the delivery ended, and picks the exit code.
    fn close(&mut self, outcome: &Outcome, data_errors: bool) -> CliResult {
        let written = self.channel.finish(outcome)?;
        self.live.summary(outcome, &written)?;
        match render::error(outcome, &written) {
            Some(e) => Err(e),
            None => Ok(outcome.exit(data_errors)),
        }
    }
}
