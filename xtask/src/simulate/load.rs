//! The load: Poisson arrivals at a base rate with bursts (a multiple of the rate for a while,
//! starting at exponentially distributed intervals), and how long each task keeps a worker's
//! slot.

use rand::{Rng, rngs::StdRng};
use rand_distr::{Distribution, Exp, LogNormal};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Arrivals {
    /// Tasks per second outside bursts.
    pub base_rate: f64,
    /// The rate during a burst, as a multiple of the base rate.
    pub burst_factor: f64,
    /// Mean seconds between the starts of two bursts.
    pub burst_every: f64,
    /// Seconds a burst lasts.
    pub burst_length: f64,
}

impl Arrivals {
    /// Arrival times (seconds, ascending) over `horizon` seconds, by thinning a Poisson process
    /// at the peak rate.
    pub(crate) fn sample(&self, horizon: f64, rng: &mut StdRng) -> Vec<f64> {
        let bursts = self.bursts(horizon, rng);
        let peak = self.base_rate * self.burst_factor.max(1.0);
        let gap = Exp::new(peak).expect("a positive arrival rate");
        let mut arrivals = Vec::new();
        let mut now = 0.0;
        loop {
            now += gap.sample(rng);
            if now >= horizon {
                return arrivals;
            }
            let in_burst = bursts
                .iter()
                .any(|&(start, end)| (start..end).contains(&now));
            let rate = if in_burst { peak } else { self.base_rate };
            if rng.random::<f64>() < rate / peak {
                arrivals.push(now);
            }
        }
    }

    /// Burst windows `(start, end)` over the horizon.
    fn bursts(&self, horizon: f64, rng: &mut StdRng) -> Vec<(f64, f64)> {
        let gap = Exp::new(1.0 / self.burst_every).expect("a positive burst interval");
        let mut windows = Vec::new();
        let mut start = 0.0;
        loop {
            start += gap.sample(rng);
            if start >= horizon {
                return windows;
            }
            windows.push((start, start + self.burst_length));
        }
    }
}

/// How long a task holds a worker slot, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Durations {
    /// A placeholder until measured: log-normal with this median and shape.
    LogNormal { median: f64, sigma: f64 },
    /// Measured samples, drawn uniformly.
    Measured(Vec<f64>),
}

impl Durations {
    pub(crate) fn sample(&self, rng: &mut StdRng) -> f64 {
        match self {
            Self::LogNormal { median, sigma } => LogNormal::new(median.ln(), *sigma)
                .expect("a valid log-normal")
                .sample(rng),
            Self::Measured(samples) => samples[rng.random_range(0..samples.len())],
        }
    }

    pub(crate) fn mean(&self) -> f64 {
        match self {
            Self::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Self::Measured(samples) => samples.iter().sum::<f64>() / samples.len() as f64,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Self::LogNormal { median, sigma } => format!(
                "log-normal placeholder, median {:.0} ms, σ {sigma} (mean {:.0} ms)",
                median * 1e3,
                self.mean() * 1e3
            ),
            Self::Measured(samples) => format!(
                "measured by `cargo xtask bench` ({} samples, mean {:.0} ms)",
                samples.len(),
                self.mean() * 1e3
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn arrivals_are_ordered_within_the_horizon_at_about_the_rate() {
        let load = Arrivals {
            base_rate: 5.0,
            burst_factor: 1.0,
            burst_every: 1e9,
            burst_length: 0.0,
        };
        let arrivals = load.sample(2_000.0, &mut StdRng::seed_from_u64(1));
        assert!(arrivals.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(arrivals.iter().all(|&at| (0.0..2_000.0).contains(&at)));
        let rate = arrivals.len() as f64 / 2_000.0;
        assert!((4.7..5.3).contains(&rate), "rate {rate}");
    }

    #[test]
    fn bursts_raise_the_rate() {
        let calm = Arrivals {
            base_rate: 2.0,
            burst_factor: 1.0,
            burst_every: 600.0,
            burst_length: 300.0,
        };
        let bursty = Arrivals {
            burst_factor: 5.0,
            ..calm
        };
        let count = |load: Arrivals| load.sample(20_000.0, &mut StdRng::seed_from_u64(2)).len();
        assert!(count(bursty) > 2 * count(calm));
    }

    #[test]
    fn measured_durations_draw_from_their_samples() {
        let durations = Durations::Measured(vec![0.1, 0.3]);
        let mut rng = StdRng::seed_from_u64(3);
        assert!((0..100).all(|_| [0.1, 0.3].contains(&durations.sample(&mut rng))));
        assert!((durations.mean() - 0.2).abs() < 1e-9);
    }
}
