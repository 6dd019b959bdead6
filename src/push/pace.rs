//! The pacing of `push --api`: when the next request may start. It owns the account's
//! request budget as the server's `X-RateLimit-Remaining` / `-Reset` headers announce it,
//! the requests in flight counted against that budget, the hold every request waits out
//! after a 429, and impact.com's documented default of 1,000 requests an hour.
//!
//! - **Before the first answer** (and again once an announced window has ended) the budget
//!   is unknown: one request at a time finds it out. A server without limits costs one
//!   round trip; one with a small budget is never sent `concurrency` requests blind.
//! - **An announced budget** covers the requests in flight: a request starts only while
//!   fewer are in flight than the smallest `Remaining` heard in the window (answers can
//!   arrive out of order, and a window's remaining never grows). `Remaining: 0` waits for the
//!   reset. A `Remaining` without `Reset` is trusted until another answer says otherwise,
//!   but at 0 one request may still ask (its 429 says how long to wait).
//! - **No announced limits**: no pacing until the first 429; from then on, one request every
//!   3.6 s (1,000 an hour).
//! - **A 429** holds every request until the time the server named (`Retry-After`, else
//!   `X-RateLimit-Reset`, else the caller's backoff).
//!
//! [`State`] is the arithmetic on explicit instants; [`Pacer`] shares it between threads.

use super::watchdog::later;
use crate::api::client::Limits;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// One request every 3.6 s: impact.com's documented default of 1,000 requests an hour.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(3_600_000 / 1000);

/// What the server has said about the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// No answer yet, or the announced window has ended.
    Unknown,
    /// The server answers without rate-limit headers.
    Unannounced,
    /// `remaining` requests until `until` (the reset; `None`: not announced).
    Known {
        remaining: u64,
        until: Option<Instant>,
    },
}

/// Why a request cannot start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocked {
    /// Held (a 429, or the default pacing) until then, whatever answers come.
    Hold(Instant),
    /// The budget is spent by the requests in flight: an answer, or the reset if known.
    Budget(Option<Instant>),
}

/// The pacing arithmetic, on instants the caller gives.
#[derive(Debug)]
struct State {
    budget: Budget,
    in_flight: u64,
    /// No request starts before this.
    hold: Instant,
    /// A 429 came without announced limits: the default pacing applies.
    paced: bool,
    last_start: Option<Instant>,
}

impl State {
    fn new(now: Instant) -> State {
        State {
            budget: Budget::Unknown,
            in_flight: 0,
            hold: now,
            paced: false,
            last_start: None,
        }
    }

    /// Whether a request may start at `now`.
    fn check(&self, now: Instant) -> Result<(), Blocked> {
        let mut at = self.hold;
        if let (true, Some(last)) = (self.paced, self.last_start) {
            at = at.max(later(last, DEFAULT_INTERVAL));
        }
        if now < at {
            return Err(Blocked::Hold(at));
        }
        if self.in_flight < self.allowance(now) {
            return Ok(());
        }
        Err(Blocked::Budget(match self.budget {
            Budget::Known { until, .. } => until.filter(|&u| now < u),
            _ => None,
        }))
    }

    /// How many requests may be in flight at `now`.
    fn allowance(&self, now: Instant) -> u64 {
        match self.budget {
            Budget::Unknown => 1,
            Budget::Unannounced => u64::MAX,
            Budget::Known { until: Some(u), .. } if now >= u => 1,
            Budget::Known {
                remaining,
                until: Some(_),
            } => remaining,
            Budget::Known {
                remaining,
                until: None,
            } => remaining.max(1),
        }
    }

    fn start(&mut self, now: Instant) {
        self.in_flight += 1;
        self.last_start = Some(now);
    }

    /// A request ended at `now` with `status` (0: no answer) and these headers. `hold`:
    /// for a 429, how long every request waits.
    fn finish(&mut self, now: Instant, limits: &Limits, status: u16, hold: Option<Duration>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.budget = self.learn(now, limits, status);
        if status == 429 {
            let wait = hold.or(limits.reset).unwrap_or(DEFAULT_INTERVAL);
            self.hold = self.hold.max(later(now, wait));
            self.paced |= limits.remaining.is_none() && limits.reset.is_none();
        }
    }

    /// The budget after an answer at `now`.
    fn learn(&self, now: Instant, limits: &Limits, status: u16) -> Budget {
        let current = match self.budget {
            Budget::Known { until: Some(u), .. } if now >= u => Budget::Unknown,
            b => b,
        };
        let Some(heard) = limits.remaining else {
            return match current {
                // The server may have counted it without saying so.
                Budget::Known { remaining, until } => Budget::Known {
                    remaining: remaining.saturating_sub(1),
                    until,
                },
                Budget::Unknown if status != 0 => Budget::Unannounced,
                b => b,
            };
        };
        let until = limits.reset.map(|d| later(now, d));
        match current {
            Budget::Known {
                remaining,
                until: u,
            } if remaining < heard => Budget::Known {
                remaining,
                until: u,
            },
            _ => Budget::Known {
                remaining: heard,
                until,
            },
        }
    }
}

/// The wait for a request to start would end past the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfTime;

/// Paces the requests of one run; shared by its workers.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
    changed: Condvar,
}

impl Default for Pacer {
    fn default() -> Pacer {
        Pacer {
            state: Mutex::new(State::new(Instant::now())),
            changed: Condvar::new(),
        }
    }
}

impl Pacer {
    /// Waits until one more request may be in flight. `Err` when that would be at or past
    /// `deadline` (returned at once when only time can tell, at the deadline otherwise).
    pub fn acquire(&self, deadline: Instant) -> Result<Permit<'_>, OutOfTime> {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let wake = match state.check(now) {
                Ok(()) => break,
                Err(Blocked::Hold(at)) if at >= deadline => return Err(OutOfTime),
                Err(Blocked::Hold(at)) => at,
                Err(Blocked::Budget(_)) if now >= deadline => return Err(OutOfTime),
                Err(Blocked::Budget(until)) => until.map_or(deadline, |u| u.min(deadline)),
            };
            let wait = wake.saturating_duration_since(now);
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.start(Instant::now());
        Ok(Permit { pacer: Some(self) })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn finish(&self, limits: &Limits, status: u16, hold: Option<Duration>) {
        self.lock().finish(Instant::now(), limits, status, hold);
        self.changed.notify_all();
    }
}

/// One request in flight. [`Permit::done`] reports its answer; dropped unused, it frees
/// its place having learnt nothing.
#[derive(Debug)]
pub struct Permit<'a> {
    pacer: Option<&'a Pacer>,
}

impl Permit<'_> {
    /// The request ended with `status` (0: no answer) and these rate-limit headers. `hold`:
    /// for a 429, how long every request waits (the server's `Retry-After` or `Reset`, else
    /// the caller's backoff).
    pub fn done(mut self, limits: &Limits, status: u16, hold: Option<Duration>) {
        if let Some(p) = self.pacer.take() {
            p.finish(limits, status, hold);
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.pacer.take() {
            let mut state = p.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            drop(state);
            p.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn announced(remaining: u64, reset: u64) -> Limits {
        Limits {
            remaining: Some(remaining),
            reset: Some(Duration::from_secs(reset)),
        }
    }

    /// A fresh state whose first request, started and ended at `t0`, was answered so.
    fn first_answer(limits: Limits, status: u16) -> (Instant, State) {
        let t0 = Instant::now();
        let mut s = State::new(t0);
        s.start(t0);
        s.finish(t0, &limits, status, None);
        (t0, s)
    }

    /// Starts requests at `now` while the state allows; how many started.
    fn start_all(s: &mut State, now: Instant) -> u64 {
        let mut n = 0;
        while s.check(now).is_ok() {
            s.start(now);
            n += 1;
        }
        n
    }

    #[test]
    fn before_the_first_answer_one_request_finds_out_the_budget() {
        let t0 = Instant::now();
        let mut s = State::new(t0);
        assert_eq!(start_all(&mut s, t0), 1);
        assert_eq!(s.check(t0), Err(Blocked::Budget(None)));
        s.finish(t0, &announced(24, 3), 200, None);
        assert_eq!(start_all(&mut s, t0), 24);
    }

    #[test]
    fn requests_in_flight_count_against_the_smallest_remaining_heard() {
        let (t0, mut s) = first_answer(announced(5, 3), 200);
        assert_eq!(start_all(&mut s, t0), 5);
        // Answers come back out of order: the older count (4) does not raise the budget.
        s.finish(t0, &announced(1, 3), 200, None);
        s.finish(t0, &announced(4, 3), 200, None);
        assert_eq!(
            s.budget,
            Budget::Known {
                remaining: 1,
                until: Some(t0 + 3 * S)
            }
        );
        // Three still in flight, one left: nothing starts until two more answers and the reset.
        assert_eq!(start_all(&mut s, t0), 0);
        s.finish(t0, &announced(0, 3), 200, None);
        s.finish(t0, &announced(0, 3), 200, None);
        s.finish(t0, &announced(0, 3), 200, None);
        assert_eq!(s.check(t0 + S), Err(Blocked::Budget(Some(t0 + 3 * S))));
        // The window ended: one request asks again.
        assert_eq!(start_all(&mut s, t0 + 3 * S), 1);
    }

    #[test]
    fn a_25_per_3_s_window_at_concurrency_4_never_overdraws() {
        // The server's side: a fixed window starting with its first request.
        let t0 = Instant::now();
        let mut s = State::new(t0);
        let (mut count, mut window_start, mut refused, mut queued) = (0u64, t0, 0, 0);
        let mut now = t0;
        let mut in_flight: Vec<Instant> = vec![];
        while queued < 1000 {
            while in_flight.len() < 4 && s.check(now).is_ok() {
                s.start(now);
                in_flight.push(now);
            }
            // The oldest request in flight arrives and is answered 100 ms later.
            if in_flight.is_empty() {
                now = match s.check(now) {
                    Err(Blocked::Hold(t) | Blocked::Budget(Some(t))) => t,
                    other => panic!("stuck: {other:?}"),
                };
                continue;
            }
            in_flight.remove(0);
            if now >= window_start + 3 * S {
                (window_start, count) = (now, 0);
            }
            let reset = (window_start + 3 * S - now).as_secs_f64().ceil() as u64;
            let status = if count < 25 { 200 } else { 429 };
            refused += u64::from(status == 429);
            count += u64::from(status == 200);
            queued += u64::from(status == 200);
            now += Duration::from_millis(100);
            s.finish(now, &announced(25 - count, reset), status, None);
        }
        assert_eq!(refused, 0);
        // 40 windows of 3 s, each reset rounded up to whole seconds and then one probe.
        assert!(now - t0 < Duration::from_secs(40 * 5), "{:?}", now - t0);
    }

    #[test]
    fn a_429_holds_every_request_for_the_time_named() {
        let (t0, mut s) = first_answer(announced(3, 60), 200);
        s.start(t0);
        s.finish(t0, &announced(0, 60), 429, Some(2 * S));
        assert_eq!(s.check(t0 + S), Err(Blocked::Hold(t0 + 2 * S)));
        assert!(!s.paced, "limits were announced");
    }

    #[test]
    fn without_announced_limits_the_first_429_paces_to_1000_an_hour() {
        let (t0, mut s) = first_answer(Limits::default(), 200);
        // Unpaced: every worker may send.
        assert_eq!(s.allowance(t0), u64::MAX);
        s.start(t0);
        s.finish(t0, &Limits::default(), 429, Some(S / 2));
        assert!(s.paced);
        // One request per 3.6 s after the last start: 1,000 in the hour after the 429.
        let mut now = t0;
        let mut starts = 0;
        while now < t0 + DEFAULT_INTERVAL + 3600 * S {
            match s.check(now) {
                Ok(()) => {
                    s.start(now);
                    s.finish(now, &Limits::default(), 200, None);
                    starts += 1;
                }
                Err(Blocked::Hold(t)) => now = t,
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(starts, 1000);
        assert_eq!(DEFAULT_INTERVAL, Duration::from_millis(3600));
    }

    #[test]
    fn a_remaining_without_reset_still_lets_one_request_ask_at_0() {
        let (t0, mut s) = first_answer(
            Limits {
                remaining: Some(0),
                reset: None,
            },
            200,
        );
        assert_eq!(start_all(&mut s, t0), 1);
    }

    #[test]
    fn no_answer_teaches_nothing() {
        let (_, s) = first_answer(Limits::default(), 0);
        assert_eq!(s.budget, Budget::Unknown);
    }

    #[test]
    fn the_pacer_never_waits_past_the_deadline() {
        let pacer = Pacer::default();
        let first = pacer
            .acquire(Instant::now())
            .expect("the first request starts");
        // The budget is unknown while the first is in flight.
        let soon = Instant::now() + Duration::from_millis(30);
        assert_eq!(pacer.acquire(soon).err(), Some(OutOfTime));
        first.done(&Limits::default(), 429, Some(60 * S));
        // Held for a minute: out of time at once, not after the wait.
        let asked = Instant::now();
        assert_eq!(pacer.acquire(asked + 10 * S).err(), Some(OutOfTime));
        assert!(asked.elapsed() < S);
    }

    #[test]
    fn a_permit_dropped_unused_frees_its_place() {
        let pacer = Pacer::default();
        drop(pacer.acquire(Instant::now()).unwrap());
        assert!(pacer.acquire(Instant::now()).is_ok());
    }
}
