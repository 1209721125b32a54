//! A per-tool resource pool shared by all tasks in one worker: caps how many
//! calls to a tool run at once and, optionally, how fast they start.
//!
//! Each tool gets its own pool, so a slow or saturated tool only queues its
//! own callers and cannot starve the others.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Limits for one tool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolSettings {
    /// Calls allowed at once; values below 1 act as 1.
    pub concurrency: usize,
    /// Call starts per second; `None` (or a non-positive / non-finite value)
    /// means unlimited.
    pub rate_per_second: Option<f64>,
}

/// Longest spacing a tiny rate can produce, so the arithmetic cannot overflow.
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// One tool's pool; cheap to clone, clones share the same limits.
#[derive(Debug, Clone)]
pub struct ToolPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    concurrency: usize,
    slots: Arc<Semaphore>,
    /// Minimum spacing between starts and the next free start time.
    /// tokio's mutex is FIFO, so starts are handed out in arrival order.
    pacer: Option<(Duration, Mutex<Instant>)>,
}

/// Holds a concurrency slot; dropping it frees the slot.
#[derive(Debug)]
pub struct PoolGuard {
    _permit: OwnedSemaphorePermit,
}

impl ToolPool {
    /// Creates a pool with the given limits.
    pub fn new(settings: PoolSettings) -> Self {
        let concurrency = settings.concurrency.max(1);
        let pacer = settings
            .rate_per_second
            .filter(|rate| rate.is_finite() && *rate > 0.0)
            .map(|rate| {
                let interval = Duration::try_from_secs_f64(1.0 / rate).unwrap_or(MAX_INTERVAL);
                (interval.min(MAX_INTERVAL), Mutex::new(Instant::now()))
            });
        Self {
            inner: Arc::new(Inner {
                concurrency,
                slots: Arc::new(Semaphore::new(concurrency)),
                pacer,
            }),
        }
    }

    /// Waits for a concurrency slot and, when rate-limited, for the next start
    /// slot (a pacer: starts are spaced at least `1/rate` apart, first come
    /// first served). Returns a guard that frees the slot on drop, and how long
    /// the caller waited (the engine reports it as queueing time).
    pub async fn acquire(&self) -> (PoolGuard, Duration) {
        let start = Instant::now();
        let permit = Arc::clone(&self.inner.slots)
            .acquire_owned()
            .await
            .expect("pool semaphore is never closed");
        if let Some((interval, next_start)) = &self.inner.pacer {
            let slot = {
                let mut next = next_start.lock().await;
                let slot = (*next).max(Instant::now());
                *next = slot + *interval;
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        (PoolGuard { _permit: permit }, start.elapsed())
    }

    /// Calls currently holding a slot (for status and metrics).
    pub fn in_use(&self) -> usize {
        self.inner.concurrency - self.inner.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::{sleep, timeout};

    const MS: Duration = Duration::from_millis(1);

    fn pool(concurrency: usize, rate_per_second: Option<f64>) -> ToolPool {
        ToolPool::new(PoolSettings {
            concurrency,
            rate_per_second,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn third_acquire_waits_for_a_free_slot() {
        let p = pool(2, None);
        let (first, w1) = p.acquire().await;
        let (_second, w2) = p.acquire().await;
        assert_eq!((w1, w2), (Duration::ZERO, Duration::ZERO));
        assert_eq!(p.in_use(), 2);

        let waiter = tokio::spawn({
            let p = p.clone();
            async move { p.acquire().await }
        });
        sleep(Duration::from_millis(250)).await;
        assert!(!waiter.is_finished(), "third caller must wait");
        assert_eq!(p.in_use(), 2);

        drop(first);
        let (third, waited) = waiter.await.unwrap();
        assert!(waited >= Duration::from_millis(250), "waited {waited:?}");
        assert!(waited < Duration::from_millis(260), "waited {waited:?}");
        assert_eq!(p.in_use(), 2);
        drop(third);
        assert_eq!(p.in_use(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn pools_are_independent() {
        let slow = pool(1, None);
        let fast = pool(1, None);
        let (_held, _) = slow.acquire().await;
        assert!(
            timeout(MS, slow.acquire()).await.is_err(),
            "the slow pool is full"
        );
        let (_guard, waited) = timeout(MS, fast.acquire())
            .await
            .expect("a full pool must not block another pool");
        assert_eq!(waited, Duration::ZERO);
        assert_eq!((slow.in_use(), fast.in_use()), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_spaces_starts() {
        let p = pool(5, Some(10.0));
        let origin = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..5 {
            let (_guard, _) = p.acquire().await;
            starts.push(Instant::now());
        }
        for pair in starts.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(100));
        }
        let span = starts[4] - starts[0];
        assert!(span >= Duration::from_millis(400), "span {span:?}");
        // Paced, not throttled harder than asked.
        assert!(
            starts[4] - origin < Duration::from_millis(410),
            "span {span:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_report_their_waits_in_order() {
        let p = pool(5, Some(10.0));
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.acquire().await })
            })
            .collect();
        let mut waits = Vec::new();
        let mut guards = Vec::new();
        for handle in handles {
            let (guard, waited) = handle.await.unwrap();
            guards.push(guard);
            waits.push(waited);
        }
        waits.sort();
        for (i, waited) in waits.iter().enumerate() {
            let expected = Duration::from_millis(100) * i as u32;
            assert!(
                *waited >= expected && *waited < expected + MS,
                "wait {i}: {waited:?}"
            );
        }
        assert_eq!(p.in_use(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn degenerate_settings_are_clamped() {
        let p = pool(0, Some(0.0));
        let (_guard, waited) = p.acquire().await;
        assert_eq!(waited, Duration::ZERO);
        assert_eq!(p.in_use(), 1);
        assert!(
            timeout(MS, p.acquire()).await.is_err(),
            "concurrency 0 acts as 1"
        );
    }
}
