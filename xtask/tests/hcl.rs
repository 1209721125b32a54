//! Terraform's HCL as JSON, by python-hcl2, with its quoting removed: string values lose their
//! surrounding quotes (`"\"x\""` → `"x"`), block labels too.

use std::{path::Path, process::Command};

use serde_json::{Map, Value};

pub struct Hcl {
    document: Value,
}

impl Hcl {
    pub fn parse(file: &Path) -> Self {
        let python = std::env::var_os("BB_TEST_HCL_PYTHON").expect(
            "BB_TEST_HCL_PYTHON is not set: run the tests with `cargo xtask test`, which \
             installs python-hcl2 into .venv-hcl/",
        );
        let output = Command::new(python)
            .args([
                "-c",
                "import hcl2, json, sys; print(json.dumps(hcl2.load(open(sys.argv[1]))))",
            ])
            .arg(file)
            .output()
            .expect("running python-hcl2");
        assert!(
            output.status.success(),
            "python-hcl2 could not parse {}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let document: Value = serde_json::from_slice(&output.stdout).expect("python-hcl2's JSON");
        Self {
            document: unquote(document),
        }
    }

    /// Every `kind "type" "name" {}` block of one type (`resource`, `data`), by name.
    pub fn blocks(&self, kind: &str, type_name: &str) -> Map<String, Value> {
        let mut found = Map::new();
        for entry in self.document[kind].as_array().into_iter().flatten() {
            if let Some(Value::Object(named)) = entry.get(type_name) {
                found.extend(named.clone());
            }
        }
        found
    }

    /// Every `module "name" {}` block, by name.
    pub fn modules(&self) -> Map<String, Value> {
        let mut found = Map::new();
        for entry in self.document["module"].as_array().into_iter().flatten() {
            if let Value::Object(named) = entry {
                found.extend(named.clone());
            }
        }
        found
    }
}

/// A value as a list of strings (a single string is a list of one).
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn unquote(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(strip_quotes(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(unquote).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, _)| !key.starts_with("__"))
                .map(|(key, value)| (strip_quotes(&key), unquote(value)))
                .collect(),
        ),
        other => other,
    }
}

fn strip_quotes(text: &str) -> String {
    text.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .map(|inner| inner.replace("\\\"", "\""))
        .unwrap_or_else(|| text.to_owned())
}
