//! The one retry loop: temporary failures are retried after the wait the server named, else
//! exponential backoff with jitter, bounded by a count and the run's deadline. Permanent
//! failures are returned at once.

use crate::deliver::{DeliveryError, FailureKind};
use std::time::{Duration, Instant};

/// How long and how often to retry.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// No attempt starts after this.
    pub deadline: Instant,
    /// The first delay (doubled each time, up to `max_delay`).
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Policy {
    /// `retries` retries, giving up at `deadline`.
    pub fn new(retries: u32, deadline: Instant) -> Policy {
        Policy {
            retries,
            deadline,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The delay before retry `n` (0-based): `base × 2ⁿ`, capped, then a random 50–100%
    /// of it, so that many clients do not retry in step.
    pub fn delay(&self, n: u32, random: u64) -> Duration {
        let full = self
            .base_delay
            .saturating_mul(1u32 << n.min(16))
            .min(self.max_delay);
        let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
        full.mul_f64(fraction)
    }
}

/// A failure that another attempt may get past.
pub trait Retryable {
    /// True when retrying can help.
    fn is_temporary(&self) -> bool;

    /// The wait the other side asked for, used instead of the backoff.
    fn wait(&self) -> Option<Duration> {
        None
    }
}

impl Retryable for DeliveryError {
    fn is_temporary(&self) -> bool {
        self.kind == FailureKind::Temporary
    }

    fn wait(&self) -> Option<Duration> {
        self.wait
    }
}

/// Runs `op` until it succeeds, fails permanently, or the policy runs out. `on_retry` is told
/// of each temporary failure and the delay before the next attempt.
pub fn run<T, E: Retryable>(
    policy: &Policy,
    mut op: impl FnMut() -> Result<T, E>,
    mut on_retry: impl FnMut(&E, Duration),
) -> Result<T, E> {
    let mut random = seed();
    let mut attempt = 0;
    loop {
        let err = match op() {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !err.is_temporary() || attempt >= policy.retries {
            return Err(err);
        }
        random = xorshift(random);
        let delay = err.wait().unwrap_or_else(|| policy.delay(attempt, random));
        if delay >= policy.remaining() {
            return Err(err);
        }
        on_retry(&err, delay);
        std::thread::sleep(delay);
        attempt += 1;
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    // The stack address tells apart the API's senders, which start in the same instant.
    let here = 0u8;
    (t ^ u64::from(std::process::id()).rotate_left(32) ^ (&here as *const u8 as u64)) | 1
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^ (x << 17)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(retries: u32, budget: Duration) -> Policy {
        Policy {
            retries,
            deadline: Instant::now() + budget,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    #[test]
    fn temporary_failures_are_retried_up_to_the_count() {
        let mut calls = 0;
        let mut retried = 0;
        let r: Result<(), _> = run(
            &quick(3, Duration::from_secs(5)),
            || {
                calls += 1;
                Err(DeliveryError::temporary("upload", "reset"))
            },
            |_, _| retried += 1,
        );
        assert!(r.is_err());
        assert_eq!((calls, retried), (4, 3));
    }

    #[test]
    fn permanent_failures_are_not_retried_and_success_stops() {
        let mut calls = 0;
        let r: Result<(), _> = run(
            &quick(5, Duration::from_secs(5)),
            || {
                calls += 1;
                Err(DeliveryError::permanent("login", "530"))
            },
            |_, _| {},
        );
        assert_eq!((r.unwrap_err().kind, calls), (FailureKind::Permanent, 1));
        let mut calls = 0;
        let r = run(
            &quick(5, Duration::from_secs(5)),
            || {
                calls += 1;
                if calls < 3 {
                    Err(DeliveryError::temporary("upload", "reset"))
                } else {
                    Ok(calls)
                }
            },
            |_, _| {},
        );
        assert_eq!(r.unwrap(), 3);
    }

    #[test]
    fn the_deadline_bounds_the_retries() {
        let p = Policy {
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
            ..quick(100, Duration::from_millis(50))
        };
        let (mut calls, mut waits) = (0, 0);
        let r: Result<(), _> = run(
            &p,
            || {
                calls += 1;
                Err(DeliveryError::temporary("x", "y"))
            },
            |_, _| waits += 1,
        );
        // The first delay would end past the deadline: no wait, no second attempt.
        assert!(r.is_err());
        assert_eq!((calls, waits), (1, 0));
    }

    #[test]
    fn delays_grow_and_are_jittered_within_bounds() {
        let p = Policy::new(10, Instant::now());
        for n in 0..10 {
            let full = Duration::from_millis(500)
                .saturating_mul(1 << n)
                .min(Duration::from_secs(30));
            for r in [0, 999, 12345] {
                let d = p.delay(n, r);
                assert!(d >= full / 2 && d <= full, "{n} {d:?}");
            }
        }
    }
}
