//! `push --api`: every clean order of the parts becomes one `POST …/Conversions`, sent by
//! `concurrency` workers. A 429 holds every worker until the time the server names
//! (`Retry-After`, else `X-RateLimit-Reset`, else backoff with jitter); a response with
//! `X-RateLimit-Remaining: 0` does the same before the server has to refuse. Queued orders
//! are recorded in the ledger, so a re-run sends only the rest.

use super::client::{Client, Outcome};
use super::form::{Conversion, Mapping, encode};
use crate::deliver::push::Part;
use crate::deliver::retry::Policy;
use crate::input::{Record, RecordReader};
use crate::ledger::{Ledger, QueuedConversion};
use crate::template::{self, Template};
use crate::validate;
use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
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
    for part in parts {
        let file = File::open(&part.local)
            .with_context(|| format!("cannot read {}", part.local.display()))?;
        let mut reader = RecordReader::new(BufReader::new(file));
        let mut rec = Record::default();
        if !reader.read(&mut rec)? {
            continue;
        }
        let header: Vec<String> = (0..rec.len()).map(|i| rec.get(i).to_string()).collect();
        let detected;
        let t = match template {
            Some(t) => t,
            None => {
                detected = template::load(template::detect(&header))?;
                &detected
            }
        };
        anyhow::ensure!(
            t.kind != template::Kind::Modification,
            "{} is a modification file: the Conversions API takes new conversions; send modifications by SFTP, FTP or email",
            part.input
        );
        let plan = validate::plan_header(t, header.clone());
        let mapping = Arc::new(Mapping::new(t, &header));
        let items = t.kind == template::Kind::Item;
        let mut rows: Vec<(Record, u64)> = vec![];
        let (mut key, mut current) = (Vec::new(), Vec::new());
        let mut flush = |rows: &mut Vec<(Record, u64)>, key: &[u8]| {
            if rows.is_empty() {
                return;
            }
            let oid = plan
                .order_id
                .map(|c| rows[0].0.get(c).to_string())
                .unwrap_or_default();
            let key = String::from_utf8_lossy(key).replace('\u{1f}', "/");
            jobs.push(Job {
                conversion: mapping.conversion(rows, &oid, &key),
                input: part.input.clone(),
                mapping: mapping.clone(),
            });
            rows.clear();
        };
        while reader.read(&mut rec)? {
            let line = part.source_line(rec.line()).unwrap_or(0);
            plan.order_key(&rec, &mut key);
            if !items || key != current {
                flush(&mut rows, &current);
                current.clone_from(&key);
            }
            rows.push((std::mem::take(&mut rec), line));
        }
        flush(&mut rows, &current);
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
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
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
    let gate = Mutex::new(Instant::now());
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Done)>();
    let workers = opts.concurrency.clamp(1, 64);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, gate, stop) = (&queue, &gate, &stop);
            scope.spawn(move || worker(jobs, client, &opts.policy, queue, gate, stop, &tx));
        }
        drop(tx);
        for (i, done) in rx {
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
                    events(Event::Unsent(job, &why));
                }
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
    gate: &Mutex<Instant>,
    stop: &AtomicBool,
    tx: &mpsc::Sender<(usize, Done)>,
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
                break Done::Unsent("stopped after the server refused the credentials".into());
            }
            // Wait for the rate-limit gate, but never past the deadline.
            let until = gate.lock().map_or_else(|_| Instant::now(), |g| *g);
            if until >= policy.deadline {
                break Done::Unsent("out of time (--max-time) while rate-limited".into());
            }
            if let Some(d) = until.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            if Instant::now() >= policy.deadline {
                break Done::Unsent("out of time (--max-time)".into());
            }
            let (outcome, limits) = client.post(body.clone());
            if limits.remaining == Some(0)
                && let Some(reset) = limits.reset
            {
                hold(gate, Instant::now() + reset);
            }
            match outcome {
                Outcome::Queued { uri } => break Done::Queued(uri),
                Outcome::Refused {
                    status,
                    message,
                    fields,
                } => {
                    if status == 401 || status == 403 {
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
                    random = xorshift(random);
                    let wait = wait.unwrap_or_else(|| policy.delay(attempt, random));
                    attempt += 1;
                    if status == 429 {
                        // The limit is the account's: every worker waits.
                        hold(gate, Instant::now() + wait);
                    } else if Instant::now() + wait < policy.deadline {
                        std::thread::sleep(wait);
                    }
                    let _ = tx.send((i, Done::Retry(message, wait)));
                }
            }
        };
        let _ = tx.send((i, done));
    }
}

fn hold(gate: &Mutex<Instant>, until: Instant) {
    if let Ok(mut g) = gate.lock()
        && *g < until
    {
        *g = until;
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
