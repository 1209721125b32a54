//! Brown's binary: configuration from the environment, then serve until SIGTERM or Ctrl-C.

use anyhow::Context;
use bb_aws::AwsSettings;
use brown::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = shared::telemetry::init("brown", "brown=info,tower_http=info,warn");
    let config = Config::from_env().context("configuring Brown")?;
    let aws = AwsSettings::from_env().load().await;
    let app = Application::build(config, &aws).await?;
    tracing::info!(
        address = %app.local_addr(),
        metrics = %app
            .metrics_addr()
            .map_or_else(|| "off".to_owned(), |address| address.to_string()),
        exporting_traces = telemetry.exporting(),
        "Brown listening"
    );
    let served = app.run_until_stopped(shared::shutdown::signal()).await;
    tracing::info!("Brown stopped");
    telemetry.shutdown();
    served
}
