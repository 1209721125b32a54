//! Local provisioning: the buckets, the EventBridge rule, the queues and their policies that
//! Terraform creates on AWS. One piece of code for `cargo xtask dev`, the tests and compose's
//! init container (`bb-provision`). Every step is idempotent: re-running it changes nothing.

mod bucket;
pub mod policy;

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::{DeadLetterConfig, RetryPolicy, Target};
use aws_sdk_s3::types::{EventBridgeConfiguration, NotificationConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;

pub use bucket::Retention;

use shared::keys::INBOX_PREFIX;

/// The names of everything one deployment owns. Tests use a unique prefix each, so they can
/// share one emulator and run in parallel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub tasks_bucket: String,
    pub artifacts_bucket: String,
    pub queue: String,
    pub dead_letter_queue: String,
    pub rule: String,
    /// Where EventBridge puts events it could not deliver to the queue.
    pub rule_dead_letter_queue: String,
}

impl Names {
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            tasks_bucket: format!("{prefix}-tasks"),
            artifacts_bucket: format!("{prefix}-artifacts"),
            queue: format!("{prefix}-work"),
            dead_letter_queue: format!("{prefix}-work-dlq"),
            rule: format!("{prefix}-inbox-object-created"),
            rule_dead_letter_queue: format!("{prefix}-rule-dlq"),
        }
    }
}

/// Queue behaviour worth choosing per environment.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// How long a received message stays invisible before another worker may take it.
    pub visibility_timeout: Duration,
    /// Receives before the queue moves a message to its DLQ.
    pub max_receive_count: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(60),
            max_receive_count: 5,
        }
    }
}

/// What provisioning made, for the processes that use it.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub names: Names,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub rule_dead_letter_queue_url: String,
}

#[derive(Debug, thiserror::Error)]
#[error("provisioning failed at {step}: {source}")]
pub struct ProvisionError {
    step: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

fn at<E>(step: impl Into<String>) -> impl FnOnce(E) -> ProvisionError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let step = step.into();
    move |err| ProvisionError {
        step,
        source: Box::new(err),
    }
}

/// Creates (or confirms) everything named in `names`.
pub async fn provision(
    config: &SdkConfig,
    names: &Names,
    queue_settings: QueueSettings,
) -> Result<Provisioned, ProvisionError> {
    let s3 = bb_aws::s3(config);
    let sqs = bb_aws::sqs(config);
    let events = aws_sdk_eventbridge::Client::new(config);

    let transport = policy::Transport::of_endpoint(config.endpoint_url());
    let retention = Retention::default();
    // Uploads are read once, by the task that names them: a day is plenty.
    let tasks_prefixes: &[(&str, i32)] = &[(shared::keys::UPLOADS_PREFIX, 1)];
    for (bucket, days, prefixes) in [
        (&names.tasks_bucket, retention.task_days, tasks_prefixes),
        (&names.artifacts_bucket, retention.artifact_days, &[]),
    ] {
        bucket::create(&s3, bucket).await?;
        bucket::harden(&s3, bucket, days, prefixes, retention, transport).await?;
    }
    s3.put_bucket_notification_configuration()
        .bucket(&names.tasks_bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .event_bridge_configuration(EventBridgeConfiguration::builder().build())
                .build(),
        )
        .send()
        .await
        .map_err(|e| at("enabling EventBridge notifications")(e.into_service_error()))?;

    let dlq = create_queue(&sqs, &names.dead_letter_queue, vec![]).await?;
    let redrive = json!({
        "deadLetterTargetArn": dlq.arn,
        "maxReceiveCount": queue_settings.max_receive_count.to_string(),
    });
    let work = create_queue(
        &sqs,
        &names.queue,
        vec![
            (
                QueueAttributeName::VisibilityTimeout,
                queue_settings.visibility_timeout.as_secs().to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ],
    )
    .await?;
    let rule_dlq = create_queue(&sqs, &names.rule_dead_letter_queue, vec![]).await?;

    let pattern = json!({
        "source": ["aws.s3"],
        // Emulators also emit "Object Tags Added" for one PutObject: match creation only.
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [names.tasks_bucket]},
            "object": {"key": [{"prefix": INBOX_PREFIX}]},
        },
    });
    let rule_arn = events
        .put_rule()
        .name(&names.rule)
        .event_pattern(pattern.to_string())
        .description("Task objects created in the inbox become work for Bayko")
        .send()
        .await
        .map_err(|e| at("creating the EventBridge rule")(e.into_service_error()))?
        .rule_arn
        .unwrap_or_default();

    for queue in [&work, &rule_dlq] {
        allow_rule_to_send(&sqs, queue, &rule_arn, transport).await?;
    }

    let target = Target::builder()
        .id("bayko-work-queue")
        .arn(&work.arn)
        .dead_letter_config(DeadLetterConfig::builder().arn(&rule_dlq.arn).build())
        .retry_policy(
            RetryPolicy::builder()
                .maximum_event_age_in_seconds(86_400)
                .maximum_retry_attempts(185)
                .build(),
        )
        .build()
        .map_err(at("building the rule target"))?;
    events
        .put_targets()
        .rule(&names.rule)
        .targets(target)
        .send()
        .await
        .map_err(|e| at("targeting the work queue")(e.into_service_error()))?;

    Ok(Provisioned {
        names: names.clone(),
        queue_url: work.url,
        dead_letter_queue_url: dlq.url,
        rule_dead_letter_queue_url: rule_dlq.url,
    })
}

struct Queue {
    url: String,
    arn: String,
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<Queue, ProvisionError> {
    // Created bare, then configured: creating with attributes that differ from an existing
    // queue's is an error, setting them is not.
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| at(format!("creating queue {name}"))(e.into_service_error()))?
        .queue_url
        .unwrap_or_default();
    // Encrypted at rest with SQS-managed keys, as in Terraform.
    let attributes = attributes
        .into_iter()
        .chain([(QueueAttributeName::SqsManagedSseEnabled, "true".to_owned())]);
    sqs.set_queue_attributes()
        .queue_url(&url)
        .set_attributes(Some(attributes.collect()))
        .send()
        .await
        .map_err(|e| at(format!("configuring queue {name}"))(e.into_service_error()))?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| at(format!("reading queue {name}"))(e.into_service_error()))?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    Ok(Queue { url, arn })
}

/// Lets the rule, and only the rule, send to the queue (see [`policy::queue_policy`]).
async fn allow_rule_to_send(
    sqs: &aws_sdk_sqs::Client,
    queue: &Queue,
    rule_arn: &str,
    transport: policy::Transport,
) -> Result<(), ProvisionError> {
    let policy = policy::queue_policy(&queue.arn, rule_arn, transport);
    sqs.set_queue_attributes()
        .queue_url(&queue.url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .map_err(|e| at("setting the queue policy")(e.into_service_error()))?;
    Ok(())
}
