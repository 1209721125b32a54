//! `bb-provision`: compose's one-shot init container. Creates the buckets, rule, queues and
//! policies for the names under `BB_NAME_PREFIX` on the endpoint in `AWS_ENDPOINT_URL`, waiting
//! for an emulator that is still starting, then exits.

use std::time::{Duration, Instant};

use anyhow::bail;
use bb_aws::AwsSettings;
use bb_provision::{Names, QueueSettings};
use shared::config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let _telemetry = shared::telemetry::init("bb-provision", "bb_provision=info,warn");
    let prefix = config::optional("BB_NAME_PREFIX").unwrap_or_else(|| "bb".to_owned());
    let wait = config::seconds_or("BB_PROVISION_WAIT_SECONDS", Duration::from_secs(120))?;
    let queue_settings = QueueSettings {
        visibility_timeout: config::seconds_or(
            "BB_QUEUE_VISIBILITY_SECONDS",
            QueueSettings::default().visibility_timeout,
        )?,
        max_receive_count: config::parse_or(
            "BB_QUEUE_MAX_RECEIVE_COUNT",
            QueueSettings::default().max_receive_count,
        )?,
    };
    let names = Names::with_prefix(&prefix);
    let aws = AwsSettings::from_env().load().await;

    // An emulator container answers some seconds after it starts: retry until the deadline.
    let deadline = Instant::now() + wait;
    let provisioned = loop {
        match bb_provision::provision(&aws, &names, queue_settings).await {
            Ok(provisioned) => break provisioned,
            Err(err) if Instant::now() < deadline => {
                tracing::info!(error = %err, "the emulator is not ready yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => {
                bail!("{err} (still failing after BB_PROVISION_WAIT_SECONDS={wait:?})")
            }
        }
    };
    tracing::info!(
        tasks_bucket = %names.tasks_bucket,
        artifacts_bucket = %names.artifacts_bucket,
        queue_url = %provisioned.queue_url,
        dead_letter_queue_url = %provisioned.dead_letter_queue_url,
        "provisioned"
    );
    println!("BAYKO_QUEUE_URL={}", provisioned.queue_url);
    Ok(())
}
