//! Bayko's binary: configuration from the environment, then work until SIGTERM or Ctrl-C.

use anyhow::Context;
use bayko::{Config, Worker};
use shared::aws::AwsSettings;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("bayko=info,warn");
    let config = Config::from_env().context("configuring Bayko")?;
    let aws = AwsSettings::from_env().load().await;
    let worker = Worker::new(config, &aws);
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shared::shutdown::signal().await;
            shutdown.cancel();
        }
    });
    worker.run(shutdown).await;
    Ok(())
}
