//! Brown's binary: `brown` serves (configuration from the environment) until SIGTERM or Ctrl-C;
//! `brown keys new --tenant acme` makes an API key.

use anyhow::Context;
use bb_aws::AwsSettings;
use brown::{Application, Config, keys};
use clap::{Parser, Subcommand};
use shared::keys::Tenant;

#[derive(Parser)]
#[command(about = "Brown: the public door of Bayko & Brown")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new key, once, and the entry that grants it (add it to BROWN_API_KEYS).
    New {
        #[arg(long)]
        tenant: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Keys(KeysCommand::New { tenant }) => {
            let tenant = Tenant::parse(&tenant)?;
            let (key, entry) = keys::generate(&tenant);
            println!("API key for tenant {tenant} (shown once; Brown stores only its hash):");
            println!("  {key}");
            println!("Add this entry to the JSON list in BROWN_API_KEYS (or BROWN_API_KEYS_FILE):");
            println!("  {}", serde_json::to_string(&entry)?);
            Ok(())
        }
    }
}

async fn serve() -> anyhow::Result<()> {
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
