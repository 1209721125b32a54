//! `bayko_circuit_state{tool, state}`: read from the breakers at scrape time, so the gauge is
//! never stale (an open breaker turns half-open by the clock, not by an event).

use std::sync::Arc;

use prometheus::{
    IntGaugeVec, Opts,
    core::{Collector, Desc},
    proto::MetricFamily,
};

use crate::engine::{Registry, breaker::BreakerState};

const STATES: [(BreakerState, &str); 3] = [
    (BreakerState::Closed, "closed"),
    (BreakerState::HalfOpen, "half_open"),
    (BreakerState::Open, "open"),
];

/// One series per tool and state: 1 for the tool's current state, 0 for the others.
pub struct Circuits {
    tools: Arc<Registry>,
    gauge: IntGaugeVec,
}

impl Circuits {
    pub fn new(tools: Arc<Registry>) -> Self {
        let gauge = IntGaugeVec::new(
            Opts::new(
                "bayko_circuit_state",
                "Each tool's circuit breaker: 1 for its current state",
            ),
            &["tool", "state"],
        )
        .expect("valid metric");
        Self { tools, gauge }
    }
}

impl Collector for Circuits {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        for name in self.tools.names() {
            let Some(tool) = self.tools.get(name) else {
                continue;
            };
            let current = tool.breaker.state();
            for (state, label) in STATES {
                self.gauge
                    .with_label_values(&[name, label])
                    .set(i64::from(state == current));
            }
        }
        self.gauge.collect()
    }
}
