//! A circuit breaker per tool: after repeated failures, stop calling a tool
//! that is down, and probe it once in a while to see whether it came back.
//!
//! Uses `tokio::time::Instant` so the cooldown follows tokio's (pausable) clock.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker; values below 1 act as 1.
    pub failure_threshold: u32,
    /// How long it stays open before letting one probe through.
    pub cooldown: Duration,
}

/// The breaker's state as seen by callers and status reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are being counted.
    Closed,
    /// Calls are refused until the cooldown passes.
    Open,
    /// Cooldown over: one probe call decides whether to close or reopen.
    HalfOpen,
}

/// The refusal returned while the breaker is open, so callers can fail fast
/// (and say when trying again makes sense).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("circuit open for {retry_in:?}")]
pub struct CircuitOpen {
    /// Time until the breaker may admit a call again (a guess while a probe
    /// is in flight: the cooldown, which is what a failed probe would cost).
    pub retry_in: Duration,
}

#[derive(Debug)]
enum Inner {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is in flight; it is the only way out of this state.
    HalfOpen,
}

/// Guards one tool against hammering while it is down.
///
/// `Send + Sync`; share it (e.g. in an `Arc`) between all tasks using the tool.
#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

/// Permission to make one call; report its outcome with [`Permit::success`]
/// or [`Permit::failure`].
///
/// Dropping a half-open probe's permit without an outcome counts as a
/// failure, so a cancelled probe can't leave the breaker stuck half-open.
#[derive(Debug)]
#[must_use = "report the call's outcome with success() or failure()"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    recorded: bool,
}

impl CircuitBreaker {
    /// Creates a closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    /// Asks to make a call.
    ///
    /// Closed: yes. Open: no ([`CircuitOpen`]) until the cooldown passes, then
    /// it turns half-open and admits exactly one probe; other callers are
    /// refused while the probe is in flight.
    pub fn admit(&self) -> Result<Permit<'_>, CircuitOpen> {
        let mut inner = self.lock();
        let probe = match *inner {
            Inner::Closed { .. } => false,
            Inner::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(CircuitOpen {
                        retry_in: until - now,
                    });
                }
                *inner = Inner::HalfOpen;
                true
            }
            Inner::HalfOpen => {
                return Err(CircuitOpen {
                    retry_in: self.settings.cooldown,
                });
            }
        };
        Ok(Permit {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    /// The current state; an open breaker whose cooldown has passed reports
    /// `HalfOpen`, since the next `admit` would let a probe through.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() < until => BreakerState::Open,
            Inner::Open { .. } | Inner::HalfOpen => BreakerState::HalfOpen,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is always valid between statements, so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, probe: bool, success: bool) {
        let mut inner = self.lock();
        let open = Inner::Open {
            until: Instant::now() + self.settings.cooldown,
        };
        match (&mut *inner, probe) {
            (Inner::HalfOpen, true) if success => *inner = Inner::Closed { failures: 0 },
            (Inner::HalfOpen, true) => *inner = open,
            (Inner::Closed { failures }, false) if success => *failures = 0,
            (Inner::Closed { failures }, false) => {
                *failures += 1;
                if *failures >= self.settings.failure_threshold.max(1) {
                    *inner = open;
                }
            }
            // A late outcome of a call admitted while closed, arriving after the
            // breaker opened: the probe decides now, so ignore it.
            _ => {}
        }
    }
}

impl Permit<'_> {
    /// The call succeeded: resets the failure count, or closes after a probe.
    pub fn success(mut self) {
        self.recorded = true;
        self.breaker.record(self.probe, true);
    }

    /// The call failed: counts toward opening, or reopens after a probe.
    pub fn failure(mut self) {
        self.recorded = true;
        self.breaker.record(self.probe, false);
    }
}

impl Permit<'_> {
    /// The call failed for a reason that says nothing about the tool (bad input): the failure
    /// count is left alone, and a probe hands its turn to the next call rather than reopening
    /// the breaker for another cooldown.
    pub fn inconclusive(mut self) {
        self.recorded = true;
        if self.probe {
            self.breaker.release_probe();
        }
    }
}

impl CircuitBreaker {
    /// Ends a probe without a verdict: the next `admit` probes again.
    fn release_probe(&self) {
        let mut inner = self.lock();
        if matches!(*inner, Inner::HalfOpen) {
            *inner = Inner::Open {
                until: Instant::now(),
            };
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // A cancelled ordinary call says nothing about the tool; a cancelled
        // probe must still end the half-open state.
        if !self.recorded && self.probe {
            self.breaker.record(true, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    const COOLDOWN: Duration = Duration::from_secs(10);

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerSettings {
            failure_threshold: 3,
            cooldown: COOLDOWN,
        })
    }

    fn fail(b: &CircuitBreaker, n: u32) {
        for _ in 0..n {
            b.admit().expect("closed").failure();
        }
    }

    /// Opens the breaker and waits out the cooldown.
    async fn half_open() -> CircuitBreaker {
        let b = breaker();
        fail(&b, 3);
        advance(COOLDOWN).await;
        b
    }

    #[test]
    fn breaker_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<CircuitBreaker>();
        check::<Permit<'static>>();
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_consecutive_failures() {
        let b = breaker();
        fail(&b, 2);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.admit().is_ok());
        fail(&b, 1);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.admit().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn success_resets_the_count() {
        let b = breaker();
        fail(&b, 2);
        b.admit().unwrap().success();
        fail(&b, 2);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b, 1);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_permit_while_closed_counts_nothing() {
        let b = breaker();
        fail(&b, 2);
        drop(b.admit().unwrap());
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_while_open_with_remaining_cooldown() {
        let b = breaker();
        fail(&b, 3);
        assert_eq!(b.admit().unwrap_err().retry_in, COOLDOWN);
        advance(Duration::from_secs(4)).await;
        assert_eq!(
            b.admit().unwrap_err(),
            CircuitOpen {
                retry_in: Duration::from_secs(6)
            }
        );
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(
            b.admit().unwrap_err().to_string(),
            "circuit open for 6s".to_string()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_cooldown_admits_exactly_one_probe() {
        let b = breaker();
        fail(&b, 3);
        advance(COOLDOWN - Duration::from_millis(1)).await;
        assert!(b.admit().is_err());
        advance(Duration::from_millis(1)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.admit().expect("probe admitted");
        assert!(b.admit().is_err(), "second caller must wait for the probe");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        probe.success();
    }

    #[tokio::test(start_paused = true)]
    async fn probe_success_closes() {
        let b = half_open().await;
        b.admit().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed);
        // The count starts from zero again: two failures don't reopen it.
        fail(&b, 2);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn probe_failure_reopens_with_fresh_cooldown() {
        let b = half_open().await;
        advance(Duration::from_secs(2)).await;
        b.admit().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit().unwrap_err().retry_in, COOLDOWN);
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_probe_reopens() {
        let b = half_open().await;
        drop(b.admit().unwrap());
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit().unwrap_err().retry_in, COOLDOWN);
        advance(COOLDOWN).await;
        assert!(
            b.admit().is_ok(),
            "a new probe is allowed after the cooldown"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_inconclusive_probe_leaves_the_next_call_to_probe() {
        let b = half_open().await;
        b.admit().unwrap().inconclusive();
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen,
            "not reopened by bad input"
        );
        b.admit().expect("the next call probes at once").success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn an_inconclusive_call_while_closed_counts_nothing() {
        let b = breaker();
        fail(&b, 2);
        b.admit().unwrap().inconclusive();
        fail(&b, 1);
        assert_eq!(
            b.state(),
            BreakerState::Open,
            "the count was not reset either"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn late_outcome_of_closed_call_is_ignored_while_open() {
        let b = breaker();
        let slow = b.admit().unwrap();
        fail(&b, 3);
        slow.success();
        assert_eq!(b.state(), BreakerState::Open);
    }
}
