//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "bnb",
    version,
    about = "Run Bayko & Brown tasks from the terminal: submit, follow, cancel and download"
)]
pub struct Cli {
    #[command(flatten)]
    pub server: Server,
    /// Print machine-readable JSON on stdout instead of text (progress is never printed).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Where Brown is and who we are to it.
#[derive(Args)]
pub struct Server {
    /// Brown's base URL.
    #[arg(
        long = "url",
        env = "BNB_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// API key, sent as `Authorization: Bearer`.
    #[arg(
        long = "api-key",
        env = "BNB_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub api_key: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Submit FILE with an instruction, follow the task and download its artifacts.
    Submit(Submit),
    /// Show a task's status once.
    Status { task_id: Uuid },
    /// Follow a task until it ends; the exit code says how it ended.
    Watch { task_id: Uuid },
    /// Ask Brown to cancel a queued or running task.
    Cancel { task_id: Uuid },
    /// Download a finished task's artifacts.
    Get {
        task_id: Uuid,
        /// Folder to write the artifacts to (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Args)]
pub struct Submit {
    /// The data to work on: CSV, JSON or text.
    pub file: PathBuf,
    /// The instruction, in your words.
    #[arg(long)]
    pub input: String,
    /// The data's format; by default from the file's extension (.csv, .json, anything else is
    /// text).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A tool to ask for (repeatable); the router has the last word.
    #[arg(long = "tool")]
    pub tools: Vec<String>,
    /// Group the data's totals by these columns (repeatable, or comma-separated).
    #[arg(long = "group-by", value_delimiter = ',')]
    pub group_by: Vec<String>,
    /// Metadata entry KEY=VALUE (repeatable).
    #[arg(long = "meta", value_parser = key_value)]
    pub metadata: Vec<(String, String)>,
    /// Sent as `Idempotency-Key`: submitting again with the same key finds the same task.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Folder for the artifacts; `./bnb-TASK_ID` by default.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the task id and return at once, without following it.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Text,
}

fn key_value(entry: &str) -> Result<(String, String), String> {
    entry
        .split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{entry:?} is not KEY=VALUE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn group_by_takes_lists_and_repeats() {
        let cli = Cli::try_parse_from([
            "bnb",
            "submit",
            "a.csv",
            "--input",
            "x",
            "--group-by",
            "region,team",
            "--group-by",
            "year",
        ])
        .unwrap();
        let Command::Submit(submit) = cli.command else {
            panic!("not submit")
        };
        assert_eq!(submit.group_by, ["region", "team", "year"]);
    }

    #[test]
    fn metadata_must_be_key_value() {
        assert!(
            Cli::try_parse_from(["bnb", "submit", "a", "--input", "x", "--meta", "k"]).is_err()
        );
        assert!(Cli::try_parse_from(["bnb", "status", "not-a-uuid"]).is_err());
    }
}
