//! `cargo xtask bench --profile-brown`: where Brown's instructions go, per accepted task.
//!
//! Instruction counts do not depend on the machine's load (these machines are shared), so this
//! runs Brown's `profiling` build (release with line tables) under callgrind against the
//! emulator, zeroes the counters after start-up and a warm-up, posts the README's sample CSV
//! task one request after another on one connection, dumps, and reads the inclusive costs with
//! `callgrind_annotate`. Needs valgrind (Debian's `valgrind` package).

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, bail};
use serde_json::json;

use super::{process::Process, stack};
use crate::emulator::Venv;

/// Tasks posted while counting: enough that per-connection and first-call costs wash out.
const TASKS: usize = 200;
/// Tasks posted before counting: the first calls build clients, pools and lazily made tables.
const WARM_UP: usize = 3;

pub fn run(root: &Path, target: &Path) -> anyhow::Result<()> {
    build(root)?;
    let venv = Venv::ensure(root)?;
    let out = target.join("bench/profile");
    fs::create_dir_all(&out)?;
    let emulator = crate::emulator::start(&venv, &out.join("moto.log"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let dump = runtime.block_on(profile(&target.join("profiling"), &out, &emulator.endpoint))?;
    drop(emulator);
    let table = Costs::read(&dump)?.table();
    fs::write(out.join("brown.md"), &table)?;
    println!("{table}");
    eprintln!(
        "bench: callgrind's dump is {}; the table is in {}/brown.md",
        dump.display(),
        out.display()
    );
    Ok(())
}

fn build(root: &Path) -> anyhow::Result<()> {
    eprintln!("bench: building brown (profiling: release with line tables)");
    let built = Command::new("cargo")
        .args(["build", "--quiet", "--profile", "profiling", "-p", "brown"])
        .current_dir(root)
        .status()
        .context("building brown")?;
    if !built.success() {
        bail!("the profiling build failed");
    }
    Ok(())
}

/// Runs Brown under callgrind, posts the tasks and returns the dump of the counted part.
async fn profile(bin: &Path, out: &Path, endpoint: &str) -> anyhow::Result<PathBuf> {
    let stack = stack::Stack::provision(endpoint, bin.to_owned(), out.to_owned()).await?;
    let bind = stack::free_bind()?;
    let mut env = stack.env(endpoint);
    env.push(("BROWN_BIND".into(), bind.clone()));
    let dumps = out.join("callgrind.out");
    for old in dump_parts(&dumps)? {
        fs::remove_file(old)?;
    }
    let log = fs::File::create(out.join("brown.log"))?;
    let child = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", dumps.display()))
        .arg(bin.join("brown"))
        .envs(env)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting brown under valgrind (is valgrind installed?)")?;
    let brown = Process::adopt(child);
    stack::wait_for_healthz(&bind)?;

    let http = stack::http_client()?;
    let url = format!("http://{bind}/v1/tasks");
    let body = serde_json::to_vec(&sample_task())?;
    post(&http, &url, &body, WARM_UP).await?;
    callgrind_control("-z", brown.pid())?;
    post(&http, &url, &body, TASKS).await?;
    callgrind_control("-d", brown.pid())?;
    drop(brown);
    dump_parts(&dumps)?
        .into_iter()
        .next()
        .context("callgrind wrote no dump")
}

/// The README's sample: a small CSV, one tool, metadata.
fn sample_task() -> serde_json::Value {
    json!({
        "input": "Process quarterly data analysis request",
        "data": {
            "format": "csv",
            "content": "quarter,region,revenue\n2025-Q1,north,100\n2025-Q2,north,120\n"
        },
        "tools": ["data-processor"],
        "metadata": {"team": "finance"}
    })
}

/// Posts `count` tasks one after another; each must be accepted.
async fn post(http: &reqwest::Client, url: &str, body: &[u8], count: usize) -> anyhow::Result<()> {
    for _ in 0..count {
        let response = http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await?;
        if response.status() != 202 {
            bail!("Brown answered {} to the sample task", response.status());
        }
    }
    Ok(())
}

fn callgrind_control(command: &str, pid: u32) -> anyhow::Result<()> {
    let done = Command::new("callgrind_control")
        .args([command, &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .context("running callgrind_control")?;
    if !done.success() {
        bail!("callgrind_control {command} failed");
    }
    Ok(())
}

/// `callgrind.out.1`, `.2`, ...: the parts dumped on request, in the order dumped.
fn dump_parts(base: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = base.parent().context("a dump directory")?;
    let prefix = format!(
        "{}.",
        base.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut parts: Vec<(u32, PathBuf)> = fs::read_dir(dir)?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?;
            let number = name.strip_prefix(&prefix)?.parse().ok()?;
            Some((number, path))
        })
        .collect();
    parts.sort();
    Ok(parts.into_iter().map(|(_, path)| path).collect())
}

/// The costs `callgrind_annotate` lists: per `file:function` entry, inclusive and self.
struct Costs {
    total: u64,
    inclusive: Vec<Entry>,
    exclusive: Vec<Entry>,
}

struct Entry {
    instructions: u64,
    file: String,
    function: String,
}

impl Costs {
    fn read(dump: &Path) -> anyhow::Result<Self> {
        let inclusive = annotate(dump, true)?;
        let exclusive = annotate(dump, false)?;
        let total = fs::read_to_string(dump)?
            .lines()
            .find_map(|line| line.strip_prefix("summary: "))
            .and_then(|value| value.trim().parse().ok())
            .context("no summary line in the dump")?;
        Ok(Self {
            total,
            inclusive: entries(&inclusive),
            exclusive: entries(&exclusive),
        })
    }

    /// A function's inclusive cost. With LTO, inlined code appears under the files it came
    /// from as well; the entry under the function's own file is the whole, so take the largest.
    fn function(&self, name: &str) -> u64 {
        self.inclusive
            .iter()
            .filter(|entry| entry.function.ends_with(name))
            .map(|entry| entry.instructions)
            .max()
            .unwrap_or(0)
    }

    /// Self cost of every entry matching `keep` (self costs never overlap, so they add up).
    fn own(&self, keep: impl Fn(&Entry) -> bool) -> u64 {
        self.exclusive
            .iter()
            .filter(|entry| keep(entry))
            .map(|entry| entry.instructions)
            .sum()
    }

    fn table(&self) -> String {
        let handler = self.function("brown::routes::tasks::submit::{{closure}}");
        let put = self.function("S3Store as bb_aws::objects::ObjectStore>::put::{{closure}}");
        let signing = self.function("aws_smithy_runtime::client::orchestrator::auth::sign_request");
        let sha256 = self.own(|entry| entry.function == "sha2::sha256::compress256");
        let csv = self.own(|entry| entry.file.contains("/csv-core-"));
        let allocator = self.own(|entry| entry.file.contains("/malloc/"));
        let rows = [
            ("all of it", self.total),
            ("the S3 `PutObject` through the SDK", put),
            ("of which SigV4 signing", signing),
            (
                "the handler's own work (checks, the document, its log line)",
                handler.saturating_sub(put),
            ),
            ("of which csv-core", csv),
            (
                "hyper, axum and the middleware (request ids, metrics, trace, timeout, auth)",
                self.total.saturating_sub(handler),
            ),
            (
                "SHA-256, everywhere (SigV4's signing key and hashes, the API key)",
                sha256,
            ),
            (
                "the allocator (glibc malloc, free, realloc), everywhere",
                allocator,
            ),
        ];
        let mut table = format!(
            "Brown under callgrind: {TASKS} accepted sample tasks, one after another\n\n\
             | per accepted task | instructions | share |\n| --- | ---: | ---: |\n"
        );
        for (what, instructions) in rows {
            let per_task = instructions as f64 / TASKS as f64;
            let share = 100.0 * instructions as f64 / self.total.max(1) as f64;
            table.push_str(&format!(
                "| {what} | {:.0} k | {share:.0} % |\n",
                per_task / 1000.0
            ));
        }
        table
    }
}

fn annotate(dump: &Path, inclusive: bool) -> anyhow::Result<String> {
    let output = Command::new("callgrind_annotate")
        .arg(format!(
            "--inclusive={}",
            if inclusive { "yes" } else { "no" }
        ))
        .args(["--threshold=100", "--auto=no"])
        .arg(dump)
        .output()
        .context("running callgrind_annotate")?;
    if !output.status.success() {
        bail!("callgrind_annotate failed");
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Lines like `12,345 (1.23%)  /path/file.rs:crate::function [/path/binary]`.
fn entries(listing: &str) -> Vec<Entry> {
    listing.lines().filter_map(entry).collect()
}

fn entry(line: &str) -> Option<Entry> {
    let (count, rest) = line.trim_start().split_once(' ')?;
    let instructions = count.replace(',', "").parse().ok()?;
    let (_share, location) = rest.split_once(')')?;
    let location = location.trim();
    let location = match location.rsplit_once(" [") {
        Some((location, _object)) => location,
        None => location,
    };
    // The file ends at the first colon that is not part of a `::` path.
    let bytes = location.as_bytes();
    let colon = (0..bytes.len()).find(|&at| {
        bytes[at] == b':' && bytes.get(at + 1) != Some(&b':') && (at == 0 || bytes[at - 1] != b':')
    })?;
    Some(Entry {
        instructions,
        file: location[..colon].to_owned(),
        function: location[colon + 1..].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_splits_at_the_file_and_keeps_the_function_path() {
        let entry = entry(
            "  47,076,109 (19.27%)  /src/orchestrator/auth.rs:aws_smithy_runtime::client::orchestrator::auth::sign_request [/tmp/brown]",
        )
        .unwrap();
        assert_eq!(entry.instructions, 47_076_109);
        assert_eq!(entry.file, "/src/orchestrator/auth.rs");
        assert_eq!(
            entry.function,
            "aws_smithy_runtime::client::orchestrator::auth::sign_request"
        );
    }

    #[test]
    fn an_entry_without_an_object_and_a_heading_line() {
        let entry = entry("1,200 ( 0.50%)  ./malloc/./malloc/malloc.c:free").unwrap();
        assert_eq!(
            (entry.file.as_str(), entry.function.as_str()),
            ("./malloc/./malloc/malloc.c", "free")
        );
        assert!(super::entry("Ir                    file:function").is_none());
    }
}
