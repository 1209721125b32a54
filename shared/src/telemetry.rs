//! Logs and traces, set up the same way in both binaries.
//!
//! - Logs: `RUST_LOG` filters; `LOG_FORMAT=json` gives one flat JSON object per line for
//!   CloudWatch, carrying the fields of every span in scope (so `task_id`, `tenant` and
//!   `trace_id` appear on each line of a task); anything else a human-readable line.
//! - Traces: OpenTelemetry, exported over OTLP/HTTP (protobuf) when the standard variables ask
//!   for it — `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` — and off
//!   otherwise (`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off too).
//!   `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)` and the
//!   exporter's `OTEL_EXPORTER_OTLP_*` headers and timeouts apply as the SDK defines them.
//!   Trace and span ids are real even when nothing is exported, so the ids in logs, statuses
//!   and `processing.log` always name the trace a collector would hold.
//!
//! Brown and Bayko never talk, so the W3C trace context travels with the task as S3 object
//! metadata: [`inject`] and [`extract`] carry it.

mod json;

use std::{
    collections::{BTreeMap, HashMap},
    io::IsTerminal,
    time::SystemTime,
};

pub use opentelemetry::KeyValue;
use opentelemetry::{
    Context,
    propagation::TextMapPropagator,
    trace::{Span as _, SpanContext, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _},
};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, filter::filter_fn, fmt, prelude::*};

/// The object-metadata key (`x-amz-meta-traceparent`) and HTTP header of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
/// The vendor part of the W3C trace context, carried beside `traceparent` when present.
pub const TRACESTATE: &str = "tracestate";

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes the spans still buffered.
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl Telemetry {
    /// Whether spans leave the process.
    pub fn exporting(&self) -> bool {
        self.exporting
    }

    /// Exports what is still buffered. Call before the process exits.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "flushing traces failed");
        }
    }
}

/// Installs the global subscriber and tracer provider. `service` names the process in traces
/// unless `OTEL_SERVICE_NAME` does; `default_filter` applies when `RUST_LOG` is unset.
pub fn init(service: &'static str, default_filter: &str) -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let built = export_requested()
        .and_then(|export| tracer_provider(service, export).map(|provider| (provider, export)));
    let (provider, exporting, export_error) = match built {
        Ok((provider, exporting)) => (provider, exporting, None),
        Err(err) => (
            tracer_provider(service, false).expect("a provider without an exporter builds"),
            false,
            Some(err),
        ),
    };
    opentelemetry::global::set_tracer_provider(provider.clone());

    // Only our own spans (they name themselves with `otel.name`) become OpenTelemetry spans:
    // the SDKs' internal spans would bury a task's dozen spans under hundreds of HTTP calls.
    let traces = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_filter(filter_fn(|metadata| {
            !metadata.is_span() || metadata.fields().field("otel.name").is_some()
        }));
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format == "json");
    let logs = if json {
        fmt::layer()
            .fmt_fields(fmt::format::JsonFields::new())
            .event_format(json::FlatJson)
            .boxed()
    } else {
        // Colour only for a terminal: escape codes in a log file are noise, and writing them
        // was a tenth of the instructions Brown spent on an accepted task.
        fmt::layer()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(traces)
        .with(logs)
        .init();
    if let Some(err) = export_error {
        tracing::error!(error = %err, "trace export is misconfigured; traces stay in the process");
    }
    Telemetry {
        provider,
        exporting,
    }
}

/// Whether the standard variables ask for OTLP export; an error for a choice we cannot honour.
fn export_requested() -> Result<bool, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    match var("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(false),
        Some(other) => {
            return Err(format!(
                "OTEL_TRACES_EXPORTER={other:?}: only otlp and none"
            ));
        }
    }
    let protocol =
        var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
    if let Some(protocol) = protocol.filter(|protocol| protocol != "http/protobuf") {
        return Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={protocol:?}: only http/protobuf is built in"
        ));
    }
    Ok(var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some())
}

fn tracer_provider(service: &'static str, export: bool) -> Result<SdkTracerProvider, String> {
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service);
    }
    let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
    if export {
        // The endpoint, headers and timeout come from the OTEL_EXPORTER_OTLP_* variables.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|err| format!("building the OTLP exporter: {err}"))?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// Where a trace context travels: object metadata or headers, keys lower-case.
pub type Carrier = BTreeMap<String, String>;

/// The trace context of `span`, as the metadata to store with an object (or headers to send).
pub fn inject(span: &tracing::Span) -> Carrier {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.into_iter().collect()
}

/// The trace context stored by [`inject`] (keys are matched case-insensitively, as S3 and
/// HTTP lower-case them). An empty context when there is none or it is malformed.
pub fn extract(carrier: &Carrier) -> Context {
    let lowered: HashMap<String, String> = carrier
        .iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value.clone()))
        .collect();
    // The SDK's parser takes short ids too; the W3C format is exact, and anything else from
    // outside is ignored rather than half-trusted.
    if !lowered
        .get(TRACEPARENT)
        .is_some_and(|value| well_formed(value))
    {
        return Context::new();
    }
    TraceContextPropagator::new().extract(&lowered)
}

/// `version-traceid-parentid-flags`: 2, 32, 16 and 2 lower-case hex digits.
fn well_formed(traceparent: &str) -> bool {
    let parts: Vec<&str> = traceparent.trim().split('-').collect();
    parts.len() >= 4
        && parts.iter().zip([2, 32, 16, 2]).all(|(part, len)| {
            part.len() == len
                && part
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The remote span a `traceparent` names, if it is well formed.
pub fn parse_traceparent(traceparent: &str) -> Option<SpanContext> {
    let carrier = Carrier::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = extract(&carrier);
    let span = context.span().span_context().clone();
    span.is_valid().then_some(span)
}

/// The `traceparent` of `span` (`00-{trace id}-{span id}-{flags}`).
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    inject(span).remove(TRACEPARENT)
}

/// The W3C trace id (32 lower-case hex digits) of `span`; `None` outside a trace (when no
/// tracer provider is installed, as in tests that embed Brown or Bayko).
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Makes `span` a child of the context in `carrier` and records its trace id in the span's
/// `trace_id` field (declared `tracing::field::Empty`), so log lines carry it. A span whose
/// parent is already set (it was entered or had children) keeps its own trace.
pub fn continue_trace(span: &tracing::Span, carrier: &Carrier) {
    let parent = extract(carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    if let Some(trace_id) = trace_id(span) {
        span.record("trace_id", trace_id.as_str());
    }
}

/// Links `span` to the run a `traceparent` names (an earlier attempt at the same task).
pub fn link(span: &tracing::Span, traceparent: &str) {
    if let Some(earlier) = parse_traceparent(traceparent) {
        span.add_link(earlier);
    }
}

/// Records a consumer span that is already over: it began at `started`, before the context it
/// belongs to was known (a message's trace context is read from the task object after the
/// message arrived).
pub fn record_consumer_span(
    name: &'static str,
    started: SystemTime,
    carrier: &Carrier,
    attributes: Vec<KeyValue>,
) {
    let tracer = opentelemetry::global::tracer("bayko-brown");
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Consumer)
        .with_start_time(started)
        .with_attributes(attributes)
        .start_with_context(&tracer, &extract(carrier));
    span.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_round_trips_through_metadata() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let carrier = Carrier::from([("TraceParent".to_owned(), traceparent.to_owned())]);
        let context = extract(&carrier);
        let span = context.span().span_context().clone();
        assert_eq!(
            span.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span.span_id().to_string(), "00f067aa0ba902b7");
        assert!(span.is_sampled());
        assert_eq!(parse_traceparent(traceparent), Some(span));
    }

    #[test]
    fn malformed_contexts_are_ignored() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad:?}");
        }
    }
}
