//! Capped exponential backoff with full jitter, the one schedule for every retry in Bayko: a
//! tool call inside the engine and a message the worker puts back. Full jitter spreads the
//! retries of many tasks that failed together, so they do not come back in lockstep.

use std::time::Duration;

use rand::Rng;

/// A random delay in `[0, min(max, base * 2^(failures-1))]`: the first retry waits up to
/// `base`, each further failure doubles the window.
pub(crate) fn full_jitter(base: Duration, max: Duration, failures: u32) -> Duration {
    let ceiling = ceiling(base, max, failures);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// The upper bound of the window after `failures` failures.
pub(crate) fn ceiling(base: Duration, max: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1);
    let factor = 2u32.checked_pow(doublings).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_doubles_per_failure_up_to_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(ceiling(base, max, 0), base);
        assert_eq!(ceiling(base, max, 1), base);
        assert_eq!(ceiling(base, max, 3), Duration::from_millis(400));
        assert_eq!(ceiling(base, max, 30), max);
        assert_eq!(ceiling(base, max, u32::MAX), max);
        for _ in 0..100 {
            assert!(full_jitter(base, max, 1) <= base);
            assert!(full_jitter(base, max, 3) <= Duration::from_millis(400));
            assert!(full_jitter(base, max, u32::MAX) <= max);
        }
    }
}
