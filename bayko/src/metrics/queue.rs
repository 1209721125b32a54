//! `bayko_queue_messages{queue, state}`: the work queue's and the DLQ's depth as SQS reports
//! it, polled while the worker runs, so Prometheus sees the backlog and the DLQ without a
//! CloudWatch exporter. Every worker reports the same numbers: aggregate with `max`.

use std::{sync::Arc, time::Duration};

use aws_sdk_sqs::types::QueueAttributeName;
use tokio_util::sync::CancellationToken;

use super::Metrics;

/// Which queues to watch, and how often.
#[derive(Debug, Clone)]
pub struct QueueWatch {
    pub queue_url: String,
    pub dlq_url: Option<String>,
    pub every: Duration,
}

const STATES: [(QueueAttributeName, &str); 3] = [
    (QueueAttributeName::ApproximateNumberOfMessages, "visible"),
    (
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        "in_flight",
    ),
    (
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        "delayed",
    ),
];

/// Polls until `stop` is cancelled. A failed poll leaves the last values and is retried at the
/// next tick: the receive loop reports an unreachable queue already.
pub async fn watch_queues(
    sqs: aws_sdk_sqs::Client,
    watch: QueueWatch,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let queues = std::iter::once(("work", watch.queue_url.clone()))
        .chain(watch.dlq_url.clone().map(|url| ("dlq", url)))
        .collect::<Vec<_>>();
    let mut ticks = tokio::time::interval(watch.every);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        for (queue, url) in &queues {
            let mut request = sqs.get_queue_attributes().queue_url(url);
            for (attribute, _) in &STATES {
                request = request.attribute_names(attribute.clone());
            }
            let attributes = match request.send().await {
                Ok(output) => output.attributes.unwrap_or_default(),
                Err(err) => {
                    tracing::debug!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), queue, "queue depth unavailable");
                    continue;
                }
            };
            for (attribute, state) in &STATES {
                if let Some(count) = attributes.get(attribute).and_then(|n| n.parse().ok()) {
                    metrics
                        .queue_messages
                        .with_label_values(&[queue, state])
                        .set(count);
                }
            }
        }
    }
}
