//! Retrying a failed tool call with capped exponential backoff and full jitter.
//!
//! Full jitter spreads retries of many tasks that failed together (e.g. when a
//! server hiccups) so they don't come back in lockstep; a server's Retry-After
//! is always respected on top of that.

use std::time::Duration;

use crate::backoff;

/// How often and how patiently a failed operation is retried.
///
/// Kept as plain data so it can come straight from configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts including the first; values below 1 are treated as 1.
    pub max_attempts: u32,
    /// Upper bound of the jitter window before the first retry; doubles per retry.
    pub base: Duration,
    /// The jitter window never grows beyond this.
    pub max_delay: Duration,
    /// Whether a call that timed out is tried again (if the tool is idempotent). True for tools
    /// across a network, where a timeout can be a slow moment; false for the built-in analyses,
    /// which are deterministic: the same input would take as long again, holding a core.
    pub retry_timeouts: bool,
}

impl Default for RetryPolicy {
    /// 3 attempts, 200 ms base, 5 s cap: enough to ride out a blip without
    /// holding a task for long.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            retry_timeouts: true,
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt number `attempt` (2 = first retry).
    ///
    /// Full jitter: uniform in `[0, min(max_delay, base * 2^(attempt-2))]`, so
    /// concurrent retries spread out. When the failure carried a server's
    /// Retry-After, the delay is at least that, since retrying earlier is
    /// pointless and impolite.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let jittered = backoff::full_jitter(self.base, self.max_delay, attempt.saturating_sub(1));
        match retry_after {
            Some(after) => jittered.max(after),
            None => jittered,
        }
    }

    /// Upper bound of the jitter window before `attempt`.
    #[cfg(test)]
    fn ceiling(&self, attempt: u32) -> Duration {
        backoff::ceiling(self.base, self.max_delay, attempt.saturating_sub(1))
    }
}

/// What an attempt's failure means for retrying.
///
/// Implemented by the engine's error types so the retry loop stays generic.
pub trait Retryable {
    /// Whether another attempt could succeed (timeouts, 5xx, 429) or not
    /// (bad input, 4xx).
    fn is_retryable(&self) -> bool;
    /// The server's requested wait (Retry-After), if it sent one.
    fn retry_after(&self) -> Option<Duration>;
}

/// Runs `operation` until it succeeds, fails terminally, or the attempts run out.
///
/// `operation` receives the attempt number (1-based). `on_retry(attempt, &error,
/// delay)` is called before each wait with the number of the attempt about to
/// be made (the engine logs retries through it). Returns the final result and
/// the number of attempts made.
pub async fn retry<T, E: Retryable, F, Fut>(
    policy: &RetryPolicy,
    mut operation: F,
    mut on_retry: impl FnMut(u32, &E, Duration),
) -> (Result<T, E>, u32)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let max_attempts = policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        let error = match operation(attempt).await {
            Ok(value) => return (Ok(value), attempt),
            Err(error) => error,
        };
        if !error.is_retryable() || attempt >= max_attempts {
            return (Err(error), attempt);
        }
        attempt += 1;
        let delay = policy.delay(attempt, error.retry_after());
        on_retry(attempt, &error, delay);
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use tokio::time::Instant;

    #[derive(Debug, PartialEq)]
    struct Failure {
        retryable: bool,
        retry_after: Option<Duration>,
        attempt: u32,
    }

    impl Retryable for Failure {
        fn is_retryable(&self) -> bool {
            self.retryable
        }
        fn retry_after(&self) -> Option<Duration> {
            self.retry_after
        }
    }

    fn transient(attempt: u32) -> Failure {
        Failure {
            retryable: true,
            retry_after: None,
            attempt,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn succeeds_after_two_retryable_failures() {
        let calls = Cell::new(0);
        let mut retries = Vec::new();
        let (result, attempts) = retry(
            &RetryPolicy::default(),
            |attempt| {
                calls.set(calls.get() + 1);
                async move {
                    if attempt < 3 {
                        Err(transient(attempt))
                    } else {
                        Ok("done")
                    }
                }
            },
            |attempt, error: &Failure, _| retries.push((attempt, error.attempt)),
        )
        .await;
        assert_eq!(result, Ok("done"));
        assert_eq!(attempts, 3);
        assert_eq!(calls.get(), 3);
        // Retry n is announced with the attempt about to run and the error of the one before.
        assert_eq!(retries, vec![(2, 1), (3, 2)]);
    }

    #[tokio::test(start_paused = true)]
    async fn terminal_error_stops_at_once() {
        let mut retries = 0;
        let (result, attempts) = retry(
            &RetryPolicy::default(),
            |attempt| async move {
                Err::<(), _>(Failure {
                    retryable: false,
                    retry_after: None,
                    attempt,
                })
            },
            |_, _, _| retries += 1,
        )
        .await;
        assert_eq!(attempts, 1);
        assert_eq!(retries, 0);
        assert!(!result.unwrap_err().retryable);
    }

    #[tokio::test(start_paused = true)]
    async fn exhausted_attempts_return_last_error() {
        let policy = RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        };
        let mut retries = 0;
        let (result, attempts) = retry(
            &policy,
            |attempt| async move { Err::<(), _>(transient(attempt)) },
            |_, _, _| retries += 1,
        )
        .await;
        assert_eq!(attempts, 4);
        assert_eq!(retries, 3);
        assert_eq!(result.unwrap_err().attempt, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_max_attempts_still_makes_one_attempt() {
        let policy = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        let (result, attempts) = retry(
            &policy,
            |attempt| async move { Err::<(), _>(transient(attempt)) },
            |_, _, _| {},
        )
        .await;
        assert_eq!(attempts, 1);
        assert!(result.is_err());
    }

    #[test]
    fn delays_stay_within_bounds_and_grow_per_attempt() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
            ..RetryPolicy::default()
        };
        let expected = [100, 200, 400, 700, 700];
        let mut maxima = Vec::new();
        for (i, &ceiling_ms) in expected.iter().enumerate() {
            let attempt = i as u32 + 2;
            let ceiling = Duration::from_millis(ceiling_ms);
            assert_eq!(policy.ceiling(attempt), ceiling);
            let samples: Vec<_> = (0..2000).map(|_| policy.delay(attempt, None)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            let max = *samples.iter().max().unwrap();
            // Jitter really spans the window rather than sitting at one end.
            assert!(max > ceiling.mul_f64(0.9), "attempt {attempt}: max {max:?}");
            assert!(*samples.iter().min().unwrap() < ceiling.mul_f64(0.1));
            maxima.push(max);
        }
        // The window grows: later retries wait longer than the first one could.
        assert!(maxima[2] > Duration::from_millis(100));
        assert!(maxima[3] > maxima[1]);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(u32::MAX), policy.max_delay);
        assert!(policy.delay(u32::MAX, None) <= policy.max_delay);
    }

    #[test]
    fn delay_honours_retry_after() {
        let policy = RetryPolicy::default();
        let after = Duration::from_secs(30);
        for _ in 0..200 {
            assert!(policy.delay(2, Some(after)) >= after);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_waits_for_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        };
        let after = Duration::from_secs(3);
        let mut announced = None;
        let start = Instant::now();
        let (result, attempts) = retry(
            &policy,
            |attempt| async move {
                if attempt == 1 {
                    Err(Failure {
                        retryable: true,
                        retry_after: Some(after),
                        attempt,
                    })
                } else {
                    Ok(())
                }
            },
            |_, _, delay| announced = Some(delay),
        )
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(attempts, 2);
        assert!(announced.unwrap() >= after);
        assert!(start.elapsed() >= after, "elapsed {:?}", start.elapsed());
    }
}
