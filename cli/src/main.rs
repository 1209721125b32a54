//! `bnb`: Bayko & Brown from the terminal. Talks to Brown's HTTP API only.

mod args;
mod client;
mod commands;
mod download;
mod follow;
mod outcome;
mod progress;
mod view;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    args::{Cli, Command},
    client::Brown,
    commands::Session,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            // The problem's title and detail, then what bnb was doing.
            eprintln!("error: {err:#}");
            ExitCode::from(outcome::ERROR)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let session = Session {
        brown: Brown::new(&cli.server.url, cli.server.api_key)?,
        json: cli.json,
    };
    match cli.command {
        Command::Submit(submit) => commands::submit(&session, submit).await,
        Command::Status { task_id } => commands::status(&session, task_id).await,
        Command::Watch { task_id } => commands::watch(&session, task_id).await,
        Command::Cancel { task_id } => commands::cancel(&session, task_id).await,
        Command::Get { task_id, out } => commands::get(&session, task_id, &out).await,
    }
}
