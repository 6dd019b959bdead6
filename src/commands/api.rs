//! `push --api`: the glue between the command line, the config and the API sender.

use crate::api::client::{Client, conversions_url};
use crate::api::form::encode;
use crate::api::push::{self as api_push, Event, SendOptions};
use crate::api::settings::ApiSettings;
use crate::cli::PushArgs;
use crate::deliver::push::Part;
use crate::deliver::retry::Policy;
use crate::exit::ExitStatus;
use crate::ledger::Ledger;
use crate::report::plural;
use crate::validate;
use anyhow::{Context, Result};
use std::io::{self, Write};

/// Sends the orders of `parts`; writes `<stem>.api-results.csv` beside each input.
#[allow(clippy::too_many_arguments)]
pub fn deliver(
    args: &PushArgs,
    api: &ApiSettings,
    opts: &validate::Options,
    parts: &[Part],
    ledger: Option<&Ledger>,
    policy: Policy,
    say: &mut dyn FnMut(&str) -> io::Result<()>,
    data_errors: bool,
) -> Result<ExitStatus> {
    let jobs = api_push::jobs(parts, opts.template.as_ref())?;
    let url = conversions_url(&api.base_url, &api.account_sid);
    let destination = api.destination();
    if args.dry_run {
        let mut queued = 0;
        for job in &jobs {
            if let Some(l) = ledger
                && !args.force
                && l.find_conversion(&destination, &job.conversion.key)?
                    .is_some()
            {
                queued += 1;
            }
        }
        for job in jobs.iter().take(3) {
            say(&format!("would POST {url}"))?;
            say(&format!("  {}", encode(&job.conversion.form)))?;
        }
        say(&format!(
            "push: would send {} of {} orders to {url}; {queued} already queued",
            jobs.len() - queued,
            jobs.len()
        ))?;
        return Ok(status(data_errors, false, false));
    }
    let client = Client::new(
        &api.base_url,
        &api.account_sid,
        api.token.clone(),
        crate::deliver::push::io_timeout(&policy),
    )?;
    let mut results = Results::default();
    let send_opts = SendOptions {
        concurrency: api.concurrency,
        policy,
        force: args.force,
    };
    let totals = api_push::send(
        &jobs,
        &client,
        ledger,
        &destination,
        &send_opts,
        &mut |e| match e {
            Event::Queued(job, uri) => results.add(job, "200", uri),
            Event::AlreadyQueued(..) => {}
            Event::Refused {
                job,
                status,
                message,
                fields,
            } => {
                let mut detail = message.to_string();
                if fields.is_empty() {
                    let line = job.conversion.lines.first().copied().unwrap_or(0);
                    let _ = say(&format!(
                        "{}:{line}: error[http-{status}] order `{}`: {message}",
                        job.input, job.conversion.order_id
                    ));
                }
                for (field, msg) in fields {
                    let (column, line) = job.mapping.locate(field, &job.conversion.lines);
                    let column = column.map_or(String::new(), |c| format!(" (column `{c}`)"));
                    let _ = say(&format!(
                        "{}:{}: error[http-{status}] order `{}`: field `{field}`{column}: {msg}",
                        job.input,
                        line.unwrap_or(0),
                        job.conversion.order_id
                    ));
                    detail = format!("{field}: {msg}");
                }
                results.add(job, &status.to_string(), &detail);
            }
            Event::Retry(job, message, wait) => crate::say::note(&format!(
                "order `{}`: {message}; retrying in {:.1}s",
                job.conversion.order_id,
                wait.as_secs_f64()
            )),
            Event::Unsent(job, why) => results.add(job, "not sent", why),
        },
    )?;
    results.write(opts)?;
    say(&format!(
        "push: queued {} of {} orders at {url}{}{}{}",
        totals.queued,
        jobs.len(),
        if totals.skipped > 0 {
            format!("; {} already queued", totals.skipped)
        } else {
            String::new()
        },
        if totals.refused > 0 {
            format!("; {} refused", totals.refused)
        } else {
            String::new()
        },
        if totals.unsent > 0 {
            format!("; {} left for the next run", totals.unsent)
        } else {
            String::new()
        },
    ))?;
    if totals.auth_failed {
        crate::say::error(&format!(
            "{url}: the server refused the account SID or auth token"
        ));
        crate::say::help("check account_sid and the auth token named under [api]");
    } else if totals.certificate_failed {
        crate::say::error(&format!(
            "{url}: TLS failed: the server's certificate was not accepted"
        ));
        crate::say::help(
            "the server's certificate is not trusted by this system or does not name the host; check base_url under [api]",
        );
    } else if let Some(why) = &totals.redirected {
        crate::say::error(&format!("{url}: {why}"));
        crate::say::help(
            "base_url under [api] must name the API itself (https://api.impact.com); a redirect is not followed, so nothing went elsewhere",
        );
    } else if let Some(why) = totals.unsent_why.as_deref().filter(|_| totals.refused == 0) {
        crate::say::error(&format!(
            "{url}: {} not sent: {why}",
            plural(totals.unsent, "order")
        ));
        crate::say::help(
            "a temporary failure: re-run later; orders already queued are not sent again",
        );
    }
    Ok(status(data_errors, totals.refused > 0, totals.unsent > 0))
}

fn status(data_errors: bool, refused: bool, unsent: bool) -> ExitStatus {
    if refused {
        ExitStatus::PermanentDelivery
    } else if unsent {
        ExitStatus::TemporaryDelivery
    } else if data_errors {
        ExitStatus::DataErrors
    } else {
        ExitStatus::Success
    }
}

/// The results CSV of a run, per input: line, OrderId, status, QueuedUri or error.
#[derive(Default)]
struct Results {
    by_input: Vec<(String, Vec<u8>)>,
}

impl Results {
    fn add(&mut self, job: &api_push::Job, status: &str, result: &str) {
        let i = match self.by_input.iter().position(|(n, _)| *n == job.input) {
            Some(i) => i,
            None => {
                self.by_input
                    .push((job.input.clone(), b"line,OrderId,status,result\n".to_vec()));
                self.by_input.len() - 1
            }
        };
        let out = &mut self.by_input[i].1;
        let line = job
            .conversion
            .lines
            .first()
            .copied()
            .unwrap_or(0)
            .to_string();
        let fields: [&[u8]; 4] = [
            line.as_bytes(),
            job.conversion.order_id.as_bytes(),
            status.as_bytes(),
            result.as_bytes(),
        ];
        // Writing to a Vec cannot fail.
        let _ = crate::csv_out::write_fields(out, fields);
        out.push(b'\n');
    }

    fn write(&self, opts: &validate::Options) -> Result<()> {
        for (input, bytes) in &self.by_input {
            let stem = crate::split::Names::new(input, opts.as_of)
                .stem()
                .to_string();
            let name = format!("{stem}.api-results.csv");
            let path = if input == crate::input::STDIN_NAME {
                std::path::PathBuf::from(name)
            } else {
                std::path::Path::new(input).with_file_name(name)
            };
            let mut f = std::fs::File::create(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            f.write_all(bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}
