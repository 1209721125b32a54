//! The discrete-event simulation: an SQS queue, Bayko tasks (ECS) with a fixed number of
//! slots each, a start-up delay before a new task receives, the backlog-per-task metric
//! published once per period, and the target-tracking policy acting on it.
//!
//! Simplifications, each erring on the side of the worker: a free slot takes the next message
//! at once (no long-poll gap); a task's duration does not depend on how busy its worker is;
//! a task chosen for scale-in stops receiving and leaves when its last message is done (Bayko's
//! SIGTERM drain), tasks still starting are stopped first.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
};

use rand::rngs::StdRng;

use super::{
    load::Durations,
    scaler::{ScalingPolicy, TargetTracking},
};

/// Everything but the load that shapes one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Service {
    pub policy: ScalingPolicy,
    /// Seconds between two datapoints of the metric.
    pub metric_period: f64,
    /// Seconds from launching a task to its first receive (image pull, ENI, start-up).
    pub startup: f64,
    /// Messages one task works on at once (`BAYKO_MAX_IN_FLIGHT`).
    pub slots: u32,
    /// Tasks running when the simulation starts.
    pub initial: u32,
}

/// One datapoint of the time series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub at: f64,
    /// Messages waiting (visible).
    pub backlog: usize,
    /// Messages being worked on (in flight).
    pub in_flight: u32,
    /// Tasks receiving.
    pub running: u32,
    /// The service's desired count.
    pub desired: u32,
    /// The slowest task finished during the period (seconds from arrival), if any.
    pub worst_latency: Option<f64>,
}

/// What one run produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    /// Arrival to done, seconds, one per task, in completion order.
    pub latencies: Vec<f64>,
    /// Task (container) hours paid, start-up included.
    pub task_hours: f64,
    pub scale_outs: u32,
    pub scale_ins: u32,
    pub peak_running: u32,
    pub series: Vec<Sample>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    // Ordered so that at equal times a finished task frees its slot before anything else.
    Done { worker: usize, arrived_ms: u64 },
    Ready { worker: usize },
    Arrival { index: usize },
    Metric,
}

#[derive(Debug)]
struct Worker {
    launched: f64,
    ready: bool,
    draining: bool,
    stopped: Option<f64>,
    in_flight: u32,
}

impl Worker {
    fn receiving(&self) -> bool {
        self.ready && !self.draining && self.stopped.is_none()
    }

    fn alive(&self) -> bool {
        self.stopped.is_none()
    }
}

struct Simulation<'a> {
    service: Service,
    durations: &'a Durations,
    rng: &'a mut StdRng,
    events: BinaryHeap<Reverse<(u64, Event)>>,
    queue: VecDeque<u64>,
    workers: Vec<Worker>,
    desired: u32,
    outcome: Outcome,
    worst_in_period: Option<f64>,
}

fn millis(seconds: f64) -> u64 {
    (seconds * 1e3).round() as u64
}

/// Runs the service against `arrivals` (seconds, ascending) until every task is done and the
/// horizon has passed.
pub(crate) fn run(
    service: Service,
    arrivals: &[f64],
    durations: &Durations,
    horizon: f64,
    rng: &mut StdRng,
) -> Outcome {
    let mut simulation = Simulation {
        service,
        durations,
        rng,
        events: BinaryHeap::new(),
        queue: VecDeque::new(),
        workers: Vec::new(),
        desired: 0,
        outcome: Outcome {
            latencies: Vec::with_capacity(arrivals.len()),
            task_hours: 0.0,
            scale_outs: 0,
            scale_ins: 0,
            peak_running: 0,
            series: Vec::new(),
        },
        worst_in_period: None,
    };
    simulation.launch(0.0, service.initial.max(service.policy.min), true);
    for (index, &at) in arrivals.iter().enumerate() {
        simulation.schedule(at, Event::Arrival { index });
    }
    simulation.schedule(service.metric_period, Event::Metric);
    let mut scaler = TargetTracking::new(service.policy);
    let mut now = 0.0;
    while let Some(Reverse((at_ms, event))) = simulation.events.pop() {
        now = at_ms as f64 / 1e3;
        match event {
            Event::Arrival { .. } => simulation.queue.push_back(at_ms),
            Event::Ready { worker } => simulation.workers[worker].ready = true,
            Event::Done { worker, arrived_ms } => simulation.finish(now, worker, arrived_ms),
            Event::Metric => {
                let idle = simulation.queue.is_empty() && simulation.in_flight() == 0;
                if now >= horizon && idle {
                    break;
                }
                let metric = simulation.backlog_per_task();
                let desired = scaler.evaluate(now, metric, simulation.desired);
                simulation.resize(now, desired);
                simulation.record(now);
                simulation.schedule(now + service.metric_period, Event::Metric);
            }
        }
        simulation.dispatch(now);
    }
    simulation.close(now)
}

impl Simulation<'_> {
    fn schedule(&mut self, at: f64, event: Event) {
        self.events.push(Reverse((millis(at), event)));
    }

    fn in_flight(&self) -> u32 {
        self.workers.iter().map(|worker| worker.in_flight).sum()
    }

    fn running(&self) -> u32 {
        self.workers
            .iter()
            .filter(|worker| worker.receiving())
            .count() as u32
    }

    /// Messages visible plus in flight, per receiving task (a service with none counts as
    /// one): in flight counts because Bayko's heartbeat keeps a running task's message
    /// invisible, and a metric of visible messages alone reads zero on a busy, keeping-up
    /// service and scales it in.
    fn backlog_per_task(&self) -> f64 {
        let backlog = self.queue.len() as f64 + f64::from(self.in_flight());
        backlog / f64::from(self.running().max(1))
    }

    fn launch(&mut self, now: f64, count: u32, ready: bool) {
        for _ in 0..count {
            let worker = self.workers.len();
            self.workers.push(Worker {
                launched: now,
                ready,
                draining: false,
                stopped: None,
                in_flight: 0,
            });
            if !ready {
                self.schedule(now + self.service.startup, Event::Ready { worker });
            }
        }
        self.desired += count;
    }

    fn resize(&mut self, now: f64, desired: u32) {
        if desired > self.desired {
            self.outcome.scale_outs += 1;
            self.launch(now, desired - self.desired, false);
        } else if desired < self.desired {
            self.outcome.scale_ins += 1;
            for _ in desired..self.desired {
                self.stop_one(now);
            }
            self.desired = desired;
        }
    }

    /// Stops a task still starting if there is one, else drains the least busy.
    fn stop_one(&mut self, now: f64) {
        let candidate = self
            .workers
            .iter()
            .enumerate()
            .filter(|(_, worker)| worker.alive() && !worker.draining)
            .min_by_key(|(_, worker)| (worker.ready, worker.in_flight))
            .map(|(index, _)| index);
        let Some(index) = candidate else { return };
        let worker = &mut self.workers[index];
        worker.draining = true;
        if worker.in_flight == 0 {
            worker.stopped = Some(now);
        }
    }

    fn finish(&mut self, now: f64, worker: usize, arrived_ms: u64) {
        let latency = now - arrived_ms as f64 / 1e3;
        self.outcome.latencies.push(latency);
        self.worst_in_period = Some(self.worst_in_period.map_or(latency, |w| w.max(latency)));
        let worker = &mut self.workers[worker];
        worker.in_flight -= 1;
        if worker.draining && worker.in_flight == 0 {
            worker.stopped = Some(now);
        }
    }

    /// Hands waiting messages to free slots, the least busy task first.
    fn dispatch(&mut self, now: f64) {
        while !self.queue.is_empty() {
            let free = self
                .workers
                .iter()
                .enumerate()
                .filter(|(_, worker)| worker.receiving() && worker.in_flight < self.service.slots)
                .min_by_key(|(_, worker)| worker.in_flight)
                .map(|(index, _)| index);
            let Some(worker) = free else { return };
            let arrived_ms = self.queue.pop_front().expect("not empty");
            self.workers[worker].in_flight += 1;
            let duration = self.durations.sample(self.rng);
            self.schedule(now + duration, Event::Done { worker, arrived_ms });
        }
    }

    fn record(&mut self, now: f64) {
        let running = self.running();
        self.outcome.peak_running = self.outcome.peak_running.max(running);
        self.outcome.series.push(Sample {
            at: now,
            backlog: self.queue.len(),
            in_flight: self.in_flight(),
            running,
            desired: self.desired,
            worst_latency: self.worst_in_period.take(),
        });
    }

    fn close(mut self, now: f64) -> Outcome {
        self.outcome.task_hours = self
            .workers
            .iter()
            .map(|worker| worker.stopped.unwrap_or(now) - worker.launched)
            .sum::<f64>()
            / 3600.0;
        self.outcome
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn service(min: u32, max: u32) -> Service {
        Service {
            policy: ScalingPolicy {
                target: 4.0,
                scale_out_cooldown: 60.0,
                scale_in_cooldown: 300.0,
                scale_out_periods: 1,
                scale_in_periods: 3,
                min,
                max,
            },
            metric_period: 60.0,
            startup: 30.0,
            slots: 2,
            initial: min,
        }
    }

    fn steady(rate: f64, horizon: f64) -> Vec<f64> {
        (0..(rate * horizon) as usize)
            .map(|index| index as f64 / rate)
            .collect()
    }

    #[test]
    fn every_task_finishes_and_waits_at_least_its_duration() {
        let durations = Durations::Measured(vec![2.0]);
        let arrivals = steady(3.0, 1_800.0);
        let outcome = run(
            service(1, 10),
            &arrivals,
            &durations,
            1_800.0,
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(outcome.latencies.len(), arrivals.len());
        assert!(
            outcome
                .latencies
                .iter()
                .all(|&latency| latency >= 2.0 - 1e-9)
        );
        assert!(
            outcome.scale_outs > 0,
            "3 tasks/s × 2 s needs more than one"
        );
    }

    #[test]
    fn running_tasks_stay_within_min_and_max() {
        let durations = Durations::Measured(vec![5.0]);
        let outcome = run(
            service(2, 4),
            &steady(10.0, 1_200.0),
            &durations,
            1_200.0,
            &mut StdRng::seed_from_u64(2),
        );
        assert!(
            outcome
                .series
                .iter()
                .all(|sample| (2..=4).contains(&sample.desired) && sample.running <= 4)
        );
        assert_eq!(outcome.peak_running, 4, "the overload pushes it to max");
    }

    #[test]
    fn an_idle_service_scales_in_to_min_and_pays_for_it() {
        let durations = Durations::Measured(vec![1.0]);
        let mut idle = service(1, 10);
        idle.initial = 5;
        let outcome = run(
            idle,
            &[],
            &durations,
            3_600.0,
            &mut StdRng::seed_from_u64(3),
        );
        assert_eq!(outcome.series.last().map(|sample| sample.desired), Some(1));
        assert_eq!(outcome.scale_ins, 1);
        // Five tasks for the 3 idle datapoints before scale-in, then one for the hour.
        assert!(
            (1.0..1.5).contains(&outcome.task_hours),
            "{}",
            outcome.task_hours
        );
    }

    #[test]
    fn a_slower_start_up_means_higher_latency_under_a_burst() {
        let durations = Durations::Measured(vec![2.0]);
        let arrivals = steady(4.0, 900.0);
        let latency_p_max = |startup: f64| {
            let mut slow = service(1, 10);
            slow.startup = startup;
            let outcome = run(
                slow,
                &arrivals,
                &durations,
                900.0,
                &mut StdRng::seed_from_u64(4),
            );
            outcome.latencies.iter().copied().fold(0.0, f64::max)
        };
        assert!(latency_p_max(240.0) > latency_p_max(10.0));
    }
}
