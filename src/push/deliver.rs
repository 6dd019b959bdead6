//! The one delivery loop, for every channel: for each unit the ledger does not list yet,
//! note → send (retried by [`retry`], bounded by the deadline) → record. Units are handed
//! out in input order to the channel's lanes (one for files, `concurrency` for the API);
//! the first failure that stops the channel stops every lane after its current unit.
//!
//! The ledger protocol lives here and nowhere else: a unit is noted before it leaves, and
//! recorded only once the channel confirmed it, so a run killed at any point leaves notes
//! the next run resolves (a part found at the destination with its bytes is recorded, not
//! sent again; an order, which the API cannot look up, is sent again).

use super::channel::{Attempt, Channel, Lane, Step};
use super::outcome::{Fate, Outcome, Stopped, Totals, UnitOutcome};
use super::part::Unit;
use super::retry::{self, Policy};
use super::watchdog::io_timeout;
use crate::deliver::{DeliveryError, FailureKind};
use crate::ledger::{self, Delivery, Ledger, QueuedConversion};
use anyhow::Result;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

/// How to deliver.
pub struct How {
    /// Send again what the ledger lists.
    pub force: bool,
    /// List only.
    pub dry_run: bool,
    /// Retries and the deadline.
    pub policy: Policy,
}

/// Something to tell people while delivering.
pub enum Event<'a> {
    /// A unit's outcome is known.
    Unit(&'a Unit, &'a UnitOutcome),
    /// A temporary failure; the next attempt comes after the delay.
    Retry(&'a Unit, &'a DeliveryError, Duration),
    /// Bytes of a unit sent so far.
    Progress(&'a Unit, u64),
}

/// Delivers `units` through `channel`, skipping what the ledger lists for its destination.
pub fn deliver(
    units: &[Unit],
    channel: &mut dyn Channel,
    ledger: Option<&Ledger>,
    how: &How,
    events: &mut dyn FnMut(Event),
) -> Outcome {
    let label = channel.label();
    let mut run = Underway {
        units,
        destinations: units.iter().map(|u| channel.destination_of(u)).collect(),
        label: label.clone(),
        ledger,
        how,
        done: units.iter().map(|_| None).collect(),
        stopped: None,
    };
    let todo = run.look_up(events);
    if run.stopped.is_none()
        && let Err(e) = channel.check()
    {
        run.stopped = Some(Stopped::channel(&e, &label));
    }
    if run.stopped.is_none() && !todo.is_empty() {
        if how.dry_run {
            for i in todo {
                let request = units[i].preview();
                run.settle(i, Fate::WouldSend { request }, events);
            }
        } else {
            run.send(todo, channel, events);
        }
    }
    run.outcome()
}

/// One delivery under way.
struct Underway<'a> {
    units: &'a [Unit],
    /// The ledger's key for each unit's destination.
    destinations: Vec<String>,
    /// The channel for people.
    label: String,
    ledger: Option<&'a Ledger>,
    how: &'a How,
    done: Vec<Option<UnitOutcome>>,
    stopped: Option<Stopped>,
}

/// A lane's news.
enum Msg {
    Progress(usize, u64),
    Retry(usize, DeliveryError, Duration),
    Done(usize, Fate),
    Stop(usize, Fate, Stopped),
}

impl Underway<'_> {
    /// Settles what the ledger lists; returns the rest.
    fn look_up(&mut self, events: &mut dyn FnMut(Event)) -> Vec<usize> {
        let mut todo = vec![];
        for (i, unit) in self.units.iter().enumerate() {
            let known = match self.ledger {
                Some(l) if !self.how.force => known(l, &self.destinations[i], unit),
                _ => Ok(None),
            };
            match known {
                Ok(Some(fate)) => self.settle(i, fate, events),
                Ok(None) => todo.push(i),
                Err(e) => {
                    self.stopped = Some(Stopped::ledger_before(&e));
                    return vec![];
                }
            }
        }
        todo
    }

    fn settle(&mut self, i: usize, fate: Fate, events: &mut dyn FnMut(Event)) {
        let outcome = UnitOutcome::new(&self.units[i], fate);
        events(Event::Unit(&self.units[i], &outcome));
        self.done[i] = Some(outcome);
    }

    /// Sends `todo` through the channel's lanes, each on its own thread.
    fn send(&mut self, todo: Vec<usize>, channel: &mut dyn Channel, events: &mut dyn FnMut(Event)) {
        let mut lanes = match channel.lanes() {
            Ok(lanes) => lanes,
            Err(e) => {
                self.stopped = Some(Stopped::channel(&e, &self.label));
                return;
            }
        };
        let queue = Mutex::new(VecDeque::from(todo));
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        let (destinations, label) = (self.destinations.clone(), self.label.clone());
        let shared = Shared {
            units: self.units,
            destinations: &destinations,
            label: &label,
            ledger: self.ledger,
            how: self.how,
            queue: &queue,
            stop: &stop,
        };
        std::thread::scope(|scope| {
            for lane in lanes.iter_mut() {
                let tx = tx.clone();
                let shared = &shared;
                scope.spawn(move || shared.drive(lane.as_mut(), &tx));
            }
            drop(tx);
            for msg in rx {
                self.hear(msg, events);
            }
        });
    }

    fn hear(&mut self, msg: Msg, events: &mut dyn FnMut(Event)) {
        let units = self.units;
        match msg {
            Msg::Progress(i, n) => events(Event::Progress(&units[i], n)),
            Msg::Retry(i, e, delay) => events(Event::Retry(&units[i], &e, delay)),
            Msg::Done(i, fate) => self.settle(i, fate, events),
            Msg::Stop(i, fate, stopped) => {
                self.settle(i, fate, events);
                // The first failure is the one that stopped the others.
                self.stopped.get_or_insert(stopped);
            }
        }
    }

    fn outcome(self) -> Outcome {
        let units: Vec<UnitOutcome> = self
            .done
            .into_iter()
            .zip(self.units)
            .map(|(done, unit)| done.unwrap_or_else(|| UnitOutcome::new(unit, Fate::NotSent)))
            .collect();
        Outcome {
            destination: self.label,
            dry_run: self.how.dry_run,
            totals: Totals::of(&units),
            units,
            stopped: self.stopped,
        }
    }
}

/// What every lane's thread reads.
struct Shared<'a> {
    units: &'a [Unit],
    destinations: &'a [String],
    label: &'a str,
    ledger: Option<&'a Ledger>,
    how: &'a How,
    queue: &'a Mutex<VecDeque<usize>>,
    stop: &'a AtomicBool,
}

impl Shared<'_> {
    /// Takes units from the queue until it is empty, a failure stops every lane, or the
    /// deadline has passed (a unit is not begun after it).
    fn drive(&self, lane: &mut dyn Lane, tx: &mpsc::Sender<Msg>) {
        while !self.stop.load(Ordering::SeqCst) {
            let Some(i) = self.queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                break;
            };
            let msg = if self.how.policy.remaining().is_zero() {
                self.stop.store(true, Ordering::SeqCst);
                Msg::Stop(i, Fate::NotSent, Stopped::out_of_time())
            } else {
                match self.deliver_one(lane, i, tx) {
                    Ok(fate) => Msg::Done(i, fate),
                    Err(failure) => {
                        let (fate, stopped) = *failure;
                        self.stop.store(true, Ordering::SeqCst);
                        Msg::Stop(i, fate, stopped)
                    }
                }
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
        lane.close();
    }

    /// Note → send → record for unit `i`.
    fn deliver_one(
        &self,
        lane: &mut dyn Lane,
        i: usize,
        tx: &mpsc::Sender<Msg>,
    ) -> Result<Fate, Box<(Fate, Stopped)>> {
        let (unit, destination) = (&self.units[i], self.destinations[i].as_str());
        let noted = match self.ledger {
            Some(l) if !self.how.force => l
                .unfinished(destination, unit.key())
                .map_err(|e| failed(Stopped::ledger_before(&e), None))?,
            _ => None,
        };
        let mut note = |name: &str| match self.ledger {
            Some(l) => {
                let note = ledger::Note {
                    remote_name: name,
                    bytes: unit.bytes(),
                    encrypted: sealed(unit),
                };
                l.begin(destination, unit.key(), &note)
            }
            None => Ok(()),
        };
        let mut progress = |n| {
            let _ = tx.send(Msg::Progress(i, n));
        };
        let mut attempts = 0;
        let sent = retry::run(
            &self.how.policy,
            || {
                attempts += 1;
                let mut job = Attempt {
                    noted: noted.as_ref(),
                    force: self.how.force,
                    timeout: io_timeout(&self.how.policy),
                    note: &mut note,
                    progress: &mut progress,
                };
                lane.attempt(unit, &mut job)
            },
            |e, delay| {
                if let Step::Channel(e) = e {
                    let _ = tx.send(Msg::Retry(i, e.clone(), delay));
                }
            },
        )
        .map_err(|e| self.gave_up(e, attempts))?;
        let fate = Fate::from(sent);
        if let Some(l) = self.ledger {
            record(l, destination, unit, &fate).map_err(|e| {
                let stopped = Stopped::ledger_after(&e, unit.name(), self.label);
                Box::new((fate.clone(), stopped))
            })?;
        }
        Ok(fate)
    }
}

impl Shared<'_> {
    /// The failure after `attempts` attempts at a unit: a temporary one says why it was
    /// not tried again.
    fn gave_up(&self, step: Step, attempts: u32) -> Box<(Fate, Stopped)> {
        match step {
            Step::Channel(mut e) => {
                if e.kind == FailureKind::Temporary {
                    e.message
                        .push_str(match attempts > self.how.policy.retries {
                            true => "; no retries left",
                            false => "; out of time (--max-time)",
                        });
                }
                failed(Stopped::channel(&e, self.label), Some(&e))
            }
            Step::Ledger(e) => failed(Stopped::ledger_before(&e), None),
        }
    }
}

/// The fate of the unit whose failure stopped the delivery (`e`: the channel's error).
fn failed(stopped: Stopped, e: Option<&DeliveryError>) -> Box<(Fate, Stopped)> {
    let fate = Fate::Failed {
        exit_code: stopped.class as u8,
        stage: stopped.stage.clone(),
        message: e.map_or_else(|| stopped.message.clone(), |e| e.message.clone()),
    };
    Box::new((fate, stopped))
}

/// What the ledger lists of `unit` at `destination`.
fn known(l: &Ledger, destination: &str, unit: &Unit) -> Result<Option<Fate>> {
    Ok(match unit {
        Unit::Part(p) => l
            .find(destination, &p.sha256)?
            .map(|d| Fate::AlreadyDelivered {
                remote_name: d.remote_name,
                delivered_at: d.delivered_at,
            }),
        Unit::Order(o) => l
            .find_conversion(destination, &o.conversion.key)?
            .map(|(_, at)| Fate::AlreadyDelivered {
                remote_name: o.conversion.order_id.clone(),
                delivered_at: at,
            }),
    })
}

/// The sha256 and size of the encrypted file that goes out for `unit`, if it goes encrypted.
fn sealed(unit: &Unit) -> Option<(&str, u64)> {
    match unit {
        Unit::Part(p) => p.sealed.as_ref().map(|s| (s.sha256.as_str(), s.bytes)),
        Unit::Order(_) => None,
    }
}

/// Records a unit the channel confirmed.
fn record(l: &Ledger, destination: &str, unit: &Unit, fate: &Fate) -> Result<()> {
    let remote = match fate {
        Fate::Sent { remote_name, .. } | Fate::FoundDelivered { remote_name } => remote_name,
        // Refused: nothing to record; its note is replaced when it is sent again.
        _ => return Ok(()),
    };
    match unit {
        Unit::Part(p) => l.record(&Delivery {
            sha256: p.sha256.clone(),
            destination: destination.to_string(),
            remote_name: remote.clone(),
            bytes: p.bytes,
            rows: p.rows,
            input: p.input.clone(),
            delivered_at: ledger::now(),
            source_lines: serde_json::to_string(&p.lines)?,
            encrypted_sha256: p.sealed.as_ref().map(|s| s.sha256.clone()),
            encrypted_bytes: p.sealed.as_ref().map(|s| s.bytes),
        }),
        Unit::Order(o) => {
            let Fate::Sent { queued_uri, .. } = fate else {
                return Ok(());
            };
            l.record_conversion(&QueuedConversion {
                destination: destination.to_string(),
                order_key: o.conversion.key.clone(),
                order_id: o.conversion.order_id.clone(),
                queued_uri: queued_uri.clone().unwrap_or_default(),
                input: o.input.clone(),
                line: o.line(),
                queued_at: ledger::now(),
            })
        }
    }
}
