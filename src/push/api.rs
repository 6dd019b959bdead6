//! The Conversions API as a [`Channel`]: its unit is an order (every clean order of the
//! parts becomes one `POST …/Conversions`), sent by `concurrency` lanes paced by one
//! [`Pacer`] (the announced budget counted against the requests in flight, the hold after a
//! 429, the default rate). Credentials, certificates and redirects are the same for every
//! request: refused once, they stop the run. Any other refusal is the order's alone.

use super::channel::{Attempt, Channel, FieldError, Lane, Refusal, Sent, Step};
use super::outcome::{Fate, Outcome};
use super::pace::Pacer;
use super::part::{Order, PartFile, Unit};
use crate::api::client::{Client, Reply, conversions_url, is_redirect};
use crate::api::form::{Mapping, encode};
use crate::api::settings::ApiSettings;
use crate::deliver::DeliveryError;
use crate::input::Record;
use crate::split::PartReader;
use crate::template::{self, Template};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The API channel of a run.
pub struct Api {
    settings: ApiSettings,
    /// `None` for `--dry-run`: no token was read.
    client: Option<Client>,
    /// When the next request may start (rate limits are the account's).
    pacer: Pacer,
    /// The run's deadline: a hold that ends past it is not waited for.
    deadline: Instant,
    /// `--as-of`, for the results files' names.
    as_of: crate::values::date::Day,
}

impl Api {
    /// The channel for `settings`; `connect` false (`--dry-run`): no client is made.
    pub fn new(
        settings: ApiSettings,
        timeout: Duration,
        deadline: Instant,
        as_of: crate::values::date::Day,
        connect: bool,
    ) -> Result<Api> {
        let client = match connect {
            true => Some(Client::new(
                &settings.base_url,
                &settings.account_sid,
                settings.token.clone(),
                timeout,
            )?),
            false => None,
        };
        Ok(Api {
            settings,
            client,
            pacer: Pacer::default(),
            deadline,
            as_of,
        })
    }
}

impl Channel for Api {
    fn destination(&self) -> String {
        self.settings.destination()
    }

    fn label(&self) -> String {
        conversions_url(&self.settings.base_url, &self.settings.account_sid)
    }

    fn units(&self, parts: Vec<PartFile>, template: Option<&Template>) -> Result<Vec<Unit>> {
        let mut units = vec![];
        for part in &parts {
            orders(part, template, &mut units)?;
        }
        Ok(units)
    }

    fn lanes(&mut self) -> Result<Vec<Box<dyn Lane + '_>>, DeliveryError> {
        let Some(client) = &self.client else {
            return Err(DeliveryError::permanent(
                "connect",
                "no client: the run was a dry run",
            ));
        };
        let lanes = (0..self.settings.concurrency).map(|_| {
            Box::new(ApiLane {
                client,
                pacer: &self.pacer,
                deadline: self.deadline,
            }) as Box<dyn Lane + '_>
        });
        Ok(lanes.collect())
    }

    fn finish(&self, outcome: &Outcome) -> Result<Vec<PathBuf>> {
        write_results(outcome, self.as_of)
    }
}

/// Appends the orders of `part` (validated and grouped already) to `units`.
fn orders(part: &PartFile, template: Option<&Template>, units: &mut Vec<Unit>) -> Result<()> {
    let Some(mut reader) = PartReader::open(&part.local, template)? else {
        return Ok(());
    };
    let t = reader.template();
    anyhow::ensure!(
        t.kind != template::Kind::Modification,
        "{} is a modification file: the Conversions API takes new conversions; send modifications by SFTP, FTP or email",
        part.input
    );
    let mapping = Arc::new(Mapping::new(t, reader.header()));
    let (mut rows, mut key) = (vec![], vec![]);
    while reader.next_order(&mut rows, &mut key)? {
        let order_id = reader.order_id(&rows[0]);
        let records: Vec<(Record, u64)> = rows
            .drain(..)
            .map(|r| (r.record, part.lines.source_line(r.line).unwrap_or(0)))
            .collect();
        let key = String::from_utf8_lossy(&key).replace('\u{1f}', "/");
        units.push(Unit::Order(Order {
            conversion: mapping.conversion(&records, &order_id, &key),
            input: part.input.clone(),
            mapping: mapping.clone(),
        }));
    }
    Ok(())
}

struct ApiLane<'a> {
    client: &'a Client,
    pacer: &'a Pacer,
    deadline: Instant,
}

impl Lane for ApiLane<'_> {
    fn attempt(&mut self, unit: &Unit, job: &mut Attempt<'_>) -> Result<Sent, Step> {
        let Unit::Order(order) = unit else {
            unreachable!("the API's units are orders")
        };
        // Wait for the rate limit, but never past the deadline.
        let permit = self.pacer.acquire(self.deadline).map_err(|_| {
            DeliveryError::temporary("send", "rate-limited by the server until after --max-time")
        })?;
        (job.note)(unit.name()).map_err(Step::Ledger)?;
        let (reply, limits) = self.client.post(encode(&order.conversion.form));
        let (status, hold) = answer(&reply);
        permit.done(&limits, status, hold);
        match reply {
            Reply::Queued { uri } => Ok(Sent::Sent {
                remote: unit.name().to_string(),
                receipt: Some(uri),
            }),
            Reply::Refused {
                status,
                message,
                fields,
            } => refused(order, status, message, fields),
            Reply::Retry { message, wait, .. } => Err(Step::Channel(
                DeliveryError::temporary("send", message).after(wait),
            )),
        }
    }

    fn close(&mut self) {}
}

/// The status of `reply` (0: no answer), and the wait the server named (for a 429, every
/// request holds it; without one, the pacer picks the hold).
fn answer(reply: &Reply) -> (u16, Option<Duration>) {
    match reply {
        Reply::Queued { .. } => (200, None),
        Reply::Refused { status, .. } => (*status, None),
        Reply::Retry { status, wait, .. } => (*status, *wait),
    }
}

/// A refusal: the order's alone, unless every request would meet it.
fn refused(
    order: &Order,
    status: u16,
    message: String,
    fields: Vec<(String, String)>,
) -> Result<Sent, Step> {
    let stop = |stage, help: &str| {
        Err(Step::Channel(
            DeliveryError::permanent(stage, message.clone()).help(help),
        ))
    };
    match status {
        401 | 403 => stop(
            "login",
            "the server refused the account SID or auth token: check account_sid and the auth token named under [api]",
        ),
        0 => stop(
            "TLS",
            "the server's certificate is not trusted by this system or does not name the host; check base_url under [api]",
        ),
        s if is_redirect(s) => stop(
            "send",
            "base_url under [api] must name the API itself (https://api.impact.com); a redirect is not followed, so nothing went elsewhere",
        ),
        _ => {
            let problems = fields
                .into_iter()
                .map(|(field, message)| {
                    let (column, line) = order.mapping.locate(&field, &order.conversion.lines);
                    FieldError {
                        line: line.unwrap_or(0),
                        field,
                        column,
                        message,
                    }
                })
                .collect();
            Ok(Sent::Refused(Refusal {
                status,
                message,
                problems,
            }))
        }
    }
}

/// Writes `<stem>.api-results.csv` beside each input: one line per order sent, refused or
/// not sent, in input line order (`line,OrderId,status,result`).
fn write_results(outcome: &Outcome, as_of: crate::values::date::Day) -> Result<Vec<PathBuf>> {
    // Per input, its rows: (line, [line, OrderId, status, result]).
    type Rows = Vec<(u64, [String; 4])>;
    let mut by_input: Vec<(&str, Rows)> = vec![];
    for u in &outcome.units {
        let (status, result) = match &u.fate {
            Fate::Sent { queued_uri, .. } => {
                ("200".to_string(), queued_uri.clone().unwrap_or_default())
            }
            Fate::Refused(r) => (r.status.to_string(), refusal_text(r)),
            Fate::Failed { message, .. } => ("not sent".into(), message.clone()),
            Fate::NotSent => ("not sent".into(), "the run stopped before it".into()),
            _ => continue,
        };
        let line = u.line.unwrap_or(0);
        let row = [line.to_string(), u.name.clone(), status, result];
        match by_input.iter_mut().find(|(i, _)| *i == u.input) {
            Some((_, rows)) => rows.push((line, row)),
            None => by_input.push((&u.input, vec![(line, row)])),
        }
    }
    let mut written = vec![];
    for (input, mut rows) in by_input {
        rows.sort_by_key(|(line, _)| *line);
        let mut out = b"line,OrderId,status,result\n".to_vec();
        for (_, row) in &rows {
            crate::csv_out::write_fields(&mut out, row.iter().map(|f| f.as_bytes()))?;
            out.push(b'\n');
        }
        let stem = crate::split::Names::new(input, as_of).stem().to_string();
        let name = format!("{stem}.api-results.csv");
        let path = if input == crate::input::STDIN_NAME {
            PathBuf::from(name)
        } else {
            std::path::Path::new(input).with_file_name(name)
        };
        std::fs::write(&path, &out).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// A refusal in one cell: the last field error, else the server's message.
fn refusal_text(r: &Refusal) -> String {
    match r.problems.last() {
        Some(p) => format!("{}: {}", p.field, p.message),
        None => r.message.clone(),
    }
}
