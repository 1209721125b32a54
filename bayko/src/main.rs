//! Bayko's binary: `bayko` works the queue until SIGTERM or Ctrl-C; `bayko redrive` moves
//! dead-lettered messages back after a fix.

use anyhow::Context;
use bayko::{Config, Worker};
use clap::{Parser, Subcommand};
use shared::aws::AwsSettings;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "Bayko, the private worker agent of Bayko & Brown")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Work the queue (the default).
    Run,
    /// Move messages from a dead-letter queue back to the work queue.
    Redrive {
        /// The dead-letter queue's URL.
        #[arg(long, env = "BAYKO_DLQ_URL")]
        from: String,
        /// The work queue's URL.
        #[arg(long, env = "BAYKO_QUEUE_URL")]
        to: String,
        /// Move at most this many messages.
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("bayko=info,warn");
    let cli = Cli::parse();
    let aws = AwsSettings::from_env().load().await;
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let config = Config::from_env().context("configuring Bayko")?;
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
        }
        Command::Redrive { from, to, max } => {
            let moved = bayko::redrive::redrive(&shared::aws::sqs(&aws), &from, &to, max)
                .await
                .context("redriving")?;
            println!("moved {moved} message(s) from {from} to {to}");
        }
    }
    Ok(())
}
