//! `push --api`: every clean order of the parts becomes one `POST …/Conversions`, sent by
//! `concurrency` workers, paced by one [`Pacer`] (the announced budget, the hold after a
//! 429, the default rate). Queued orders are recorded in the ledger, so a re-run sends only
//! the rest.

use super::client::{Client, Outcome, is_redirect};
use super::form::{Conversion, Mapping, encode};
use super::pace::Pacer;
use crate::deliver::push::Part;
use crate::deliver::retry::Policy;
use crate::input::Record;
use crate::ledger::{Ledger, QueuedConversion};
use crate::split::PartReader;
use crate::template::{self, Template};
use anyhow::Result;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// One order to send.
pub struct Job {
    /// The conversion.
    pub conversion: Conversion,
    /// The input it came from.
    pub input: String,
    /// How its fields map back to columns.
    pub mapping: Arc<Mapping>,
}

/// Reads the orders of `parts` (already validated and grouped).
pub fn jobs(parts: &[Part], template: Option<&Template>) -> Result<Vec<Job>> {
    let mut jobs = vec![];
    let (mut rows, mut key) = (vec![], vec![]);
    for part in parts {
        let Some(mut reader) = PartReader::open(&part.local, template)? else {
            continue;
        };
        let t = reader.template();
        anyhow::ensure!(
            t.kind != template::Kind::Modification,
            "{} is a modification file: the Conversions API takes new conversions; send modifications by SFTP, FTP or email",
            part.input
        );
        let mapping = Arc::new(Mapping::new(t, reader.header()));
        while reader.next_order(&mut rows, &mut key)? {
            let order_id = reader.order_id(&rows[0]);
            let records: Vec<(Record, u64)> = rows
                .drain(..)
                .map(|r| (r.record, part.source_line(r.line).unwrap_or(0)))
                .collect();
            let key = String::from_utf8_lossy(&key).replace('\u{1f}', "/");
            jobs.push(Job {
                conversion: mapping.conversion(&records, &order_id, &key),
                input: part.input.clone(),
                mapping: mapping.clone(),
            });
        }
    }
    Ok(jobs)
}

/// What happened to one order.
pub enum Event<'a> {
    /// Queued now.
    Queued(&'a Job, &'a str),
    /// Queued by an earlier run, at this time.
    AlreadyQueued(&'a Job, &'a str),
    /// Refused by the server.
    Refused {
        /// The order.
        job: &'a Job,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: &'a str,
        /// Field errors.
        fields: &'a [(String, String)],
    },
    /// A temporary failure; the order is tried again after `wait`.
    Retry(&'a Job, &'a str, Duration),
    /// Not sent: out of time or retries, or stopped after a refused login.
    Unsent(&'a Job, &'a str),
}

/// How to send.
pub struct SendOptions {
    /// Workers.
    pub concurrency: usize,
    /// Retries per order, and the deadline of the run.
    pub policy: Policy,
    /// Send orders the ledger lists as queued, again.
    pub force: bool,
}

/// Totals of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Queued now.
    pub queued: u64,
    /// Queued by an earlier run.
    pub skipped: u64,
    /// Refused (4xx).
    pub refused: u64,
    /// Left for the next run.
    pub unsent: u64,
    /// A 401/403 stopped the run.
    pub auth_failed: bool,
    /// The server's TLS certificate was not accepted.
    pub certificate_failed: bool,
    /// The server answered with a redirect (not followed): what it said.
    pub redirected: Option<String>,
    /// Why the last order left for the next run was not sent.
    pub unsent_why: Option<String>,
}

enum Done {
    Queued(String),
    Refused(u16, String, Vec<(String, String)>),
    Retry(String, Duration),
    Unsent(String),
}

/// Sends `jobs`, recording each queued order in `ledger` under `destination`.
pub fn send(
    jobs: &[Job],
    client: &Client,
    ledger: Option<&Ledger>,
    destination: &str,
    opts: &SendOptions,
    events: &mut dyn FnMut(Event),
) -> Result<Totals> {
    let mut totals = Totals::default();
    let mut todo = VecDeque::new();
    for (i, job) in jobs.iter().enumerate() {
        let known = match ledger {
            Some(l) if !opts.force => l.find_conversion(destination, &job.conversion.key)?,
            _ => None,
        };
        match known {
            Some((_, at)) => {
                totals.skipped += 1;
                events(Event::AlreadyQueued(job, &at));
            }
            None => todo.push_back(i),
        }
    }
    let queue = Mutex::new(todo);
    let pacer = Pacer::default();
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Report>();
    let workers = opts.concurrency.clamp(1, 64);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, pacer, stop) = (&queue, &pacer, &stop);
            scope.spawn(move || worker(jobs, client, &opts.policy, queue, pacer, stop, &tx));
        }
        drop(tx);
        for Report { job: i, done, ack } in rx {
            let job = &jobs[i];
            match done {
                Done::Queued(uri) => {
                    if let Some(l) = ledger {
                        l.record_conversion(&QueuedConversion {
                            destination: destination.to_string(),
                            order_key: job.conversion.key.clone(),
                            order_id: job.conversion.order_id.clone(),
                            queued_uri: uri.clone(),
                            input: job.input.clone(),
                            line: job.conversion.lines.first().copied().unwrap_or(0),
                            queued_at: crate::ledger::now(),
                        })?;
                    }
                    totals.queued += 1;
                    events(Event::Queued(job, &uri));
                }
                Done::Refused(status, message, fields) => {
                    totals.refused += 1;
                    totals.auth_failed |= status == 401 || status == 403;
                    totals.certificate_failed |= status == 0;
                    if is_redirect(status) {
                        totals.redirected = Some(message.clone());
                    }
                    events(Event::Refused {
                        job,
                        status,
                        message: &message,
                        fields: &fields,
                    });
                }
                Done::Retry(message, wait) => events(Event::Retry(job, &message, wait)),
                Done::Unsent(why) => {
                    totals.unsent += 1;
                    totals.unsent_why = Some(why.clone());
                    events(Event::Unsent(job, &why));
                }
            }
            if let Some(ack) = ack {
                let _ = ack.send(());
            }
        }
        Ok(())
    })?;
    Ok(totals)
}

fn worker(
    jobs: &[Job],
    client: &Client,
    policy: &Policy,
    queue: &Mutex<VecDeque<usize>>,
    pacer: &Pacer,
    stop: &AtomicBool,
    tx: &mpsc::Sender<Report>,
) {
    let mut random = seed();
    loop {
        let Some(i) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
            return;
        };
        let body = encode(&jobs[i].conversion.form);
        let mut attempt = 0u32;
        let done = loop {
            if stop.load(Ordering::SeqCst) {
                break Done::Unsent(
                    "stopped after a refusal every request would meet (credentials, certificate or redirect)"
                        .into(),
                );
            }
            // Wait for the rate limit, but never past the deadline.
            let Ok(permit) = pacer.acquire(policy.deadline) else {
                break Done::Unsent("out of time (--max-time) while rate-limited".into());
            };
            if Instant::now() >= policy.deadline {
                break Done::Unsent("out of time (--max-time)".into());
            }
            let (outcome, limits) = client.post(body.clone());
            random = xorshift(random);
            let backoff = policy.delay(attempt, random);
            let (status, hold) = answer(&outcome, backoff);
            permit.done(&limits, status, hold);
            match outcome {
                Outcome::Queued { uri } => break Done::Queued(uri),
                Outcome::Refused {
                    status,
                    message,
                    fields,
                } => {
                    // Credentials, certificates and redirects are the same for every request.
                    if status == 401 || status == 403 || status == 0 || is_redirect(status) {
                        stop.store(true, Ordering::SeqCst);
                    }
                    break Done::Refused(status, message, fields);
                }
                Outcome::Retry {
                    status,
                    message,
                    wait,
                } => {
                    if attempt >= policy.retries {
                        break Done::Unsent(format!("{message}; no retries left"));
                    }
                    let wait = wait.unwrap_or(backoff);
                    attempt += 1;
                    if status == 429 {
                        // The limit is the account's: the pacer holds every worker.
                    } else if wait < policy.remaining() {
                        std::thread::sleep(wait);
                    } else {
                        // Retrying at once would ignore the backoff.
                        break Done::Unsent(format!("{message}; out of time (--max-time)"));
                    }
                    let _ = tx.send(Report {
                        job: i,
                        done: Done::Retry(message, wait),
                        ack: None,
                    });
                }
            }
        };
        // A fresh channel each time: if the receiving side gives up, `recv` fails at once.
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        let report = Report {
            job: i,
            done,
            ack: Some(ack_tx),
        };
        // Wait until the outcome is recorded before sending another order: a run killed at
        // any moment then has at most one unrecorded request per worker.
        if tx.send(report).is_err() || ack_rx.recv().is_err() {
            return;
        }
    }
}

/// A worker's news about one job.
struct Report {
    job: usize,
    done: Done,
    /// Answered once a final outcome is recorded.
    ack: Option<mpsc::SyncSender<()>>,
}

/// The status of `outcome` (0: no answer), and for a 429 the wait every request holds:
/// the one the server named, else `backoff`.
fn answer(outcome: &Outcome, backoff: Duration) -> (u16, Option<Duration>) {
    match outcome {
        Outcome::Queued { .. } => (200, None),
        Outcome::Refused { status, .. } => (*status, None),
        Outcome::Retry { status, wait, .. } => (*status, Some(wait.unwrap_or(backoff))),
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let local = 0u8;
    (t ^ (&local as *const u8 as u64)) | 1
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^ (x << 17)
}
