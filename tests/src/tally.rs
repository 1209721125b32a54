//! The counting MCP tool (`fixtures/tally_mcp_server.py`): a task that asks for `tally` makes
//! it append one line per invocation to a file, so a test knows how many times each task's
//! tool really ran, and in which worker process, whatever the status documents say.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// One tally file, and the engine configuration that points the tool at it.
pub struct Tally {
    pub path: PathBuf,
    config: PathBuf,
}

impl Tally {
    pub fn new() -> Self {
        let stem = format!("bb-tally-{}", uuid::Uuid::new_v4().simple());
        let dir = std::env::temp_dir();
        let tally = Self {
            path: dir.join(format!("{stem}.tsv")),
            config: dir.join(format!("{stem}.toml")),
        };
        std::fs::write(&tally.config, tally.engine_config()).expect("writing the engine config");
        tally
    }

    /// The engine configuration (TOML) that registers the tool, for an in-process worker.
    pub fn engine_config(&self) -> String {
        let python = std::env::var("BB_TEST_MCP_PYTHON").unwrap_or_else(|_| "python3".into());
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tally_mcp_server.py");
        format!(
            r#"
            [[mcp.servers]]
            name = "tally"
            transport = "stdio"
            command = "{python}"
            args = ["{fixture}", "--tally-file", "{}"]
            "#,
            self.path.display()
        )
    }

    /// The same configuration as a file, for a Bayko process (`BAYKO_CONFIG`).
    pub fn config_file(&self) -> &Path {
        &self.config
    }

    /// Label → the pid of the worker process behind each invocation, in order.
    pub fn runs(&self) -> BTreeMap<String, Vec<u32>> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut runs: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for line in text.lines() {
            let (label, pid) = line.rsplit_once('\t').expect("a tally line: label, pid");
            runs.entry(label.to_owned())
                .or_default()
                .push(pid.parse().expect("a pid"));
        }
        runs
    }

    /// How many times the tool ran for `label`.
    pub fn count(&self, label: &str) -> usize {
        self.runs().get(label).map_or(0, Vec::len)
    }
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(&self.config);
    }
}
