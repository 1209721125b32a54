//! Bayko's binary: `bayko` works the queue until SIGTERM or Ctrl-C; `bayko redrive` moves
//! dead-lettered messages back after a fix.

use std::{path::Path, sync::Arc};

use anyhow::Context;
use bayko::{
    Config, Worker,
    engine::{Registry, config::EngineConfig},
};
use bb_aws::AwsSettings;
use clap::{Parser, Subcommand};
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
    let telemetry = shared::telemetry::init("bayko", "bayko=info,warn");
    let cli = Cli::parse();
    let aws = AwsSettings::from_env().load().await;
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let config = Config::from_env().context("configuring Bayko")?;
            let engine_config = engine_config()?;
            let mut registry = Registry::from_config(engine_config, &aws)
                .await
                .context("building the tool registry")?;
            registry.limit_analysis_memory(memory_budget()?);
            let registry = Arc::new(registry);
            tracing::info!(tools = ?registry.names().collect::<Vec<_>>(), "tools registered");
            let worker = Worker::with_registry(config.clone(), &aws, registry.clone());
            // The listener outlives the receive loop: `/readyz` says "stopping" while the
            // tasks in flight finish, and the last scrape sees their outcome.
            let listener_stop = CancellationToken::new();
            let metrics_address =
                bayko::metrics::start(&config, &worker, bb_aws::sqs(&aws), listener_stop.clone())
                    .await?;
            let shutdown = CancellationToken::new();
            let stop_asked = shared::shutdown::listen();
            tokio::spawn({
                let shutdown = shutdown.clone();
                async move {
                    stop_asked.await;
                    shutdown.cancel();
                }
            });
            tracing::info!(metrics = ?metrics_address, exporting_traces = telemetry.exporting(), "Bayko starting");
            worker.run(shutdown).await;
            listener_stop.cancel();
            drop(worker);
            if let Ok(mut registry) = Arc::try_unwrap(registry) {
                registry.close().await;
            }
        }
        Command::Redrive { from, to, max } => {
            let moved = bayko::redrive::redrive(&bb_aws::sqs(&aws), &from, &to, max)
                .await
                .context("redriving")?;
            println!("moved {moved} message(s) from {from} to {to}");
        }
    }
    telemetry.shutdown();
    Ok(())
}

/// `BAYKO_MEMORY_BUDGET_MIB` (default 256), in bytes: what the analyses of all tasks in flight
/// may hold at once.
fn memory_budget() -> anyhow::Result<u64> {
    let mib = shared::config::check(
        "BAYKO_MEMORY_BUDGET_MIB",
        shared::config::parse_or("BAYKO_MEMORY_BUDGET_MIB", 256u64)?,
        |mib| (16..=1 << 20).contains(mib),
        "must be between 16 and 1048576 (MiB)",
    )?;
    Ok(mib << 20)
}

/// The engine's configuration: a file named by `BAYKO_CONFIG`, or the TOML itself in
/// `BAYKO_CONFIG_TOML` (how ECS passes it, with no file in a read-only image), or the defaults.
fn engine_config() -> anyhow::Result<EngineConfig> {
    engine_config_from(
        shared::config::optional("BAYKO_CONFIG"),
        shared::config::optional("BAYKO_CONFIG_TOML"),
    )
}

fn engine_config_from(
    path: Option<String>,
    inline: Option<String>,
) -> anyhow::Result<EngineConfig> {
    match (path, inline) {
        (Some(_), Some(_)) => anyhow::bail!("set BAYKO_CONFIG or BAYKO_CONFIG_TOML, not both"),
        (Some(path), None) => EngineConfig::load(Path::new(&path))
            .context("reading the engine configuration (BAYKO_CONFIG)"),
        (None, Some(text)) => EngineConfig::parse(&text)
            .context("parsing the engine configuration (BAYKO_CONFIG_TOML)"),
        (None, None) => Ok(EngineConfig::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_comes_inline_from_a_file_or_not_at_all() {
        let inline = engine_config_from(
            None,
            Some("[llm]\nprovider = \"bedrock\"\nmodel = \"m\"\n".into()),
        )
        .unwrap();
        assert_eq!(inline.llm.map(|llm| llm.model).as_deref(), Some("m"));
        assert!(engine_config_from(None, None).unwrap().llm.is_none());

        let both = engine_config_from(Some("a.toml".into()), Some(String::new())).unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");
        let bad = engine_config_from(None, Some("[llm\n".into())).unwrap_err();
        assert!(format!("{bad:#}").contains("BAYKO_CONFIG_TOML"), "{bad:#}");
    }
}
