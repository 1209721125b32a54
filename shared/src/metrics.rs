//! What both metrics listeners share: the text exposition of a registry and the latency
//! buckets. Each binary owns its registry (no process-wide default), so several Browns or
//! Baykos in one test process keep their counts apart.

use prometheus::{Encoder, Registry, TextEncoder, core::Collector};

/// Latency buckets in seconds, from a fast S3 write to a slow LLM call.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The exposition's content type (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A registry holding `collectors`. Names are fixed in code, so a clash is a bug: it panics.
pub fn registry(collectors: Vec<Box<dyn Collector>>) -> Registry {
    let registry = Registry::new();
    for collector in collectors {
        registry
            .register(collector)
            .expect("metric names are unique");
    }
    registry
}

/// Everything in `registry`, in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    // Encoding into a Vec fails only for malformed metric families, which registration rejects.
    if let Err(err) = TextEncoder::new().encode(&registry.gather(), &mut buffer) {
        tracing::warn!(error = %err, "encoding metrics failed");
    }
    String::from_utf8(buffer).unwrap_or_default()
}
