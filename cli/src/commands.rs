//! One function per subcommand. Each returns the process's exit code; errors go up to `main`,
//! which prints them.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    args::{Format, Submit},
    client::Brown,
    download, follow,
    outcome::exit_code,
    progress::Progress,
    view::{TaskView, state_name},
};

/// Files up to this size go inline in the request; Brown's default body limit is 1 MiB and
/// JSON escaping can grow the content. Larger ones go by upload.
const INLINE_LIMIT: u64 = 768 * 1024;

pub struct Session {
    pub brown: Brown,
    pub json: bool,
}

pub async fn submit(ctx: &Session, submit: Submit) -> anyhow::Result<ExitCode> {
    let body = request_body(ctx, &submit).await?;
    let task_id = ctx
        .brown
        .submit(&body, submit.idempotency_key.as_deref())
        .await?;
    if submit.no_wait {
        match ctx.json {
            true => println!("{}", json!({"task_id": task_id})),
            false => println!("{task_id}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !ctx.json {
        eprintln!("submitted {task_id}");
    }
    let out = submit
        .out
        .unwrap_or_else(|| PathBuf::from(format!("bnb-{task_id}")));
    finish(ctx, task_id, Some(&out)).await
}

pub async fn status(ctx: &Session, task_id: Uuid) -> anyhow::Result<ExitCode> {
    let view = ctx.brown.status(task_id).await?;
    print_view(ctx, &view, &[])?;
    Ok(ExitCode::SUCCESS)
}

pub async fn watch(ctx: &Session, task_id: Uuid) -> anyhow::Result<ExitCode> {
    finish(ctx, task_id, None).await
}

pub async fn cancel(ctx: &Session, task_id: Uuid) -> anyhow::Result<ExitCode> {
    let view = ctx.brown.cancel(task_id).await?;
    match ctx.json {
        true => println!("{}", serde_json::to_string_pretty(&view)?),
        false => println!(
            "cancellation of {task_id} requested (it is {})",
            state_name(view.status)
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn get(ctx: &Session, task_id: Uuid, out: &Path) -> anyhow::Result<ExitCode> {
    let view = ctx.brown.status(task_id).await?;
    if !view.status.is_final() {
        bail!(
            "task {task_id} is still {}: `bnb watch {task_id}` follows it to its end",
            state_name(view.status)
        );
    }
    let files = download::artifacts(&ctx.brown, &view.artifacts, out).await?;
    print_view(ctx, &view, &files)?;
    Ok(exit_code(view.status))
}

/// Follows the task to its end, downloads its artifacts into `out` when given, and reports.
async fn finish(ctx: &Session, task_id: Uuid, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let progress = Progress::new(ctx.json);
    let view = follow::until_final(&ctx.brown, task_id, &progress).await?;
    let files = match out {
        Some(dir) => download::artifacts(&ctx.brown, &view.artifacts, dir).await?,
        None => Vec::new(),
    };
    print_view(ctx, &view, &files)?;
    Ok(exit_code(view.status))
}

fn print_view(ctx: &Session, view: &TaskView, files: &[PathBuf]) -> anyhow::Result<()> {
    if ctx.json {
        let mut document = serde_json::to_value(view)?;
        if !files.is_empty() {
            document["downloaded"] = json!(files);
        }
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(());
    }
    println!("task {} {}", view.task_id, state_name(view.status));
    if let Some(error) = &view.error {
        println!("  reason: {error}");
    }
    if let Some(metrics) = &view.metrics {
        println!(
            "  took {} ms with {}",
            metrics.processing_time_ms,
            metrics.tools_used.join(", ")
        );
    }
    if files.is_empty() {
        for artifact in &view.artifacts {
            println!("  {} ({} bytes)", artifact.name, artifact.size);
        }
    } else {
        for file in files {
            println!("  saved {}", file.display());
        }
    }
    if let Some(summary) = files.iter().find_map(|file| report_summary(file)) {
        println!("\n{summary}");
    }
    Ok(())
}

/// The report's summary, when `file` is an output payload that has one.
fn report_summary(file: &Path) -> Option<String> {
    if file.file_name()? != shared::task::OUTPUT_PAYLOAD {
        return None;
    }
    let payload: Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    payload["report"]["summary"].as_str().map(str::to_owned)
}

async fn request_body(ctx: &Session, submit: &Submit) -> anyhow::Result<Value> {
    let file = &submit.file;
    let size = tokio::fs::metadata(file)
        .await
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    let format = format_name(submit.format.unwrap_or_else(|| format_of(file)));
    let mut data = if size > INLINE_LIMIT {
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        std::str::from_utf8(&bytes)
            .with_context(|| format!("{} must be UTF-8 text", file.display()))?;
        let size = bytes.len();
        let upload_id = ctx.brown.upload(bytes).await?;
        if !ctx.json {
            eprintln!("uploaded {} ({size} bytes)", file.display());
        }
        json!({"format": format, "upload": upload_id})
    } else {
        let content = tokio::fs::read_to_string(file)
            .await
            .with_context(|| format!("reading {} (it must be UTF-8 text)", file.display()))?;
        json!({"format": format, "content": content})
    };
    if !submit.group_by.is_empty() {
        data["group_by"] = json!(submit.group_by);
    }
    let mut body = json!({"input": submit.input, "data": data});
    if !submit.tools.is_empty() {
        body["tools"] = json!(submit.tools);
    }
    if !submit.metadata.is_empty() {
        let metadata: Map<String, Value> = submit
            .metadata
            .iter()
            .map(|(key, value)| (key.clone(), json!(value)))
            .collect();
        body["metadata"] = Value::Object(metadata);
    }
    Ok(body)
}

fn format_of(file: &Path) -> Format {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    match extension.as_deref() {
        Some("csv") => Format::Csv,
        Some("json") => Format::Json,
        _ => Format::Text,
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Text => "text",
    }
}
