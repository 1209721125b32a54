//! Task requests are validated in layers, each with its own answer:
//!
//! 1. transport: `Content-Type` is JSON (415) and the body fits the limit (413);
//! 2. syntax: the body parses as JSON (400);
//! 3. schema: every field is checked and *every* problem is reported at once, each naming its
//!    field (422 `/problems/validation`);
//! 4. semantics: the data parses in its declared format within the shared limits, by the same
//!    parser Bayko uses (422 `/problems/invalid-data`, with line and column);
//! 5. content policy: the tenant's rules on secrets, personal data and prompt injection
//!    (422 `/problems/content-policy`; see [`crate::policy`]).
//!
//! Only a request that passes every layer is written; nothing is written before.

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use serde::Serialize;
use serde_json::{Map, Value};
use shared::{
    content,
    limits::DataLimits,
    task::{DataFormat, TaskData},
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{app::AppState, error::ApiError};

pub const MAX_INPUT_CHARS: usize = 8192;
pub const MAX_TOOLS: usize = 16;
pub const MAX_TOOL_NAME_CHARS: usize = 64;
pub const MAX_METADATA_ENTRIES: usize = 32;
pub const MAX_METADATA_KEY_CHARS: usize = 128;
pub const MAX_METADATA_VALUE_CHARS: usize = 1024;
pub const MAX_GROUP_BY: usize = 8;
pub const MAX_COLUMN_NAME_CHARS: usize = 256;

/// One invalid field: a JSON path (`data.format`, `tools[2]`) and what is wrong with it; for
/// data that does not parse, where in the data (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

/// A task request that passed every layer.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    pub input: String,
    /// Inline data, or (with `upload`) the format and grouping of uploaded data.
    pub data: Option<TaskData>,
    /// The upload the data is in, still to be checked (`crate::uploads::check`).
    pub upload: Option<Uuid>,
    pub tools: Vec<String>,
    pub metadata: BTreeMap<String, String>,
}

/// Layers 1 and 2: a JSON body, within the size limit.
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(is_json_media_type);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: state.config.max_body_bytes,
                }
            } else {
                ApiError::MalformedJson(rejection.body_text())
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|err| ApiError::MalformedJson(err.to_string()))
    }
}

fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let (kind, subtype) = essence.split_once('/').unwrap_or_default();
    let subtype = subtype.as_bytes();
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case(b"json")
            || (subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case(b"+json")))
}

/// Layer 3: the fields. Collects every problem rather than stopping at the first.
pub fn task_request(body: &Value) -> Result<TaskRequest, Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("", "the body must be a JSON object")]);
    };
    let mut errors = Vec::new();
    for field in object.keys() {
        if !["input", "data", "tools", "metadata"].contains(&field.as_str()) {
            errors.push(FieldError::new(field, "unknown field"));
        }
    }
    let input = input(object.get("input"), &mut errors);
    let (data, upload) = object
        .get("data")
        .filter(|value| !value.is_null())
        .and_then(|value| data(value, &mut errors))
        .map_or((None, None), |(data, upload)| (Some(data), upload));
    let tools = object
        .get("tools")
        .filter(|value| !value.is_null())
        .map(|value| tools(value, &mut errors))
        .unwrap_or_default();
    let metadata = object
        .get("metadata")
        .filter(|value| !value.is_null())
        .map(|value| metadata(value, &mut errors))
        .unwrap_or_default();
    match input {
        Some(input) if errors.is_empty() => Ok(TaskRequest {
            input,
            data,
            upload,
            tools,
            metadata,
        }),
        _ => Err(errors),
    }
}

/// Layer 4: the data parses in its declared format, within the shared limits.
pub fn semantics(request: &TaskRequest) -> Result<(), Vec<FieldError>> {
    let Some(data) = &request.data else {
        return Ok(());
    };
    // Brown never reads an upload; Bayko parses it within the same limits.
    if request.upload.is_some() {
        return Ok(());
    }
    content::check(data.format, &data.content, &DataLimits::DEFAULT).map_err(|err| {
        vec![FieldError {
            field: "data.content".into(),
            message: err.problem.to_string(),
            line: Some(err.line),
            column: Some(err.column),
        }]
    })
}

fn input(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        None | Some(Value::Null) => errors.push(FieldError::new("input", "is required")),
        Some(Value::String(text)) => {
            let chars = text.chars().count();
            if text.trim().is_empty() {
                errors.push(FieldError::new("input", "must not be blank"));
            } else if chars > MAX_INPUT_CHARS {
                errors.push(FieldError::new(
                    "input",
                    format!("must be at most {MAX_INPUT_CHARS} characters, got {chars}"),
                ));
            } else {
                return Some(text.clone());
            }
        }
        Some(other) => errors.push(type_error("input", "a string", other)),
    }
    None
}

/// The data's fields; the upload id too when the data is uploaded rather than inline.
fn data(value: &Value, errors: &mut Vec<FieldError>) -> Option<(TaskData, Option<Uuid>)> {
    let Some(object) = value.as_object() else {
        errors.push(type_error("data", "an object", value));
        return None;
    };
    let before = errors.len();
    for field in object.keys() {
        if !["format", "content", "upload", "group_by"].contains(&field.as_str()) {
            errors.push(FieldError::new(format!("data.{field}"), "unknown field"));
        }
    }
    let format = match object.get("format") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("data.format", "is required"));
            None
        }
        Some(Value::String(name)) => {
            let format = DataFormat::parse(name);
            if format.is_none() {
                errors.push(FieldError::new(
                    "data.format",
                    format!(
                        "must be one of {}, got {name:?}",
                        DataFormat::ALL.join(", ")
                    ),
                ));
            }
            format
        }
        Some(other) => {
            errors.push(type_error("data.format", "a string", other));
            None
        }
    };
    // Exactly one of the two keys, as the OpenAPI schema says (a null is not an absence here).
    let upload = object.get("upload").map(|value| upload(value, errors));
    let content = match (object.get("content"), &upload) {
        (None, Some(_)) => Some(String::new()),
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "data",
                "send the data inline (content) or by upload (upload), not both",
            ));
            None
        }
        (content, None) => inline_content(content, errors),
    };
    let group_by = object
        .get("group_by")
        .map(|value| group_by(value, errors))
        .unwrap_or_default();
    match (format, content, upload) {
        (Some(format), Some(content), upload) if errors.len() == before => Some((
            TaskData {
                format,
                content,
                upload: None,
                group_by,
            },
            upload.flatten(),
        )),
        _ => None,
    }
}

/// An upload id, as `POST /v1/uploads` answered it.
fn upload(value: &Value, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    let id = value.as_str().and_then(|id| Uuid::parse_str(id).ok());
    if id.is_none() {
        errors.push(FieldError::new(
            "data.upload",
            "must be an upload_id that POST /v1/uploads answered",
        ));
    }
    id
}

fn inline_content(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        None | Some(Value::Null) => {
            errors.push(FieldError::new(
                "data.content",
                "is required (or an upload instead)",
            ));
            None
        }
        Some(Value::String(text)) if text.trim().is_empty() => {
            errors.push(FieldError::new("data.content", "must not be blank"));
            None
        }
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => {
            errors.push(type_error("data.content", "a string", other));
            None
        }
    }
}

/// Column names to group the data by: which exist is for Bayko to find out, in the data.
fn group_by(value: &Value, errors: &mut Vec<FieldError>) -> Vec<String> {
    let Some(items) = value.as_array() else {
        errors.push(type_error(
            "data.group_by",
            "an array of column names",
            value,
        ));
        return Vec::new();
    };
    if items.len() > MAX_GROUP_BY {
        errors.push(FieldError::new(
            "data.group_by",
            format!("at most {MAX_GROUP_BY} columns"),
        ));
        return Vec::new();
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = format!("data.group_by[{index}]");
        match item {
            Value::String(name)
                if name.trim().is_empty() || name.chars().count() > MAX_COLUMN_NAME_CHARS =>
            {
                errors.push(FieldError::new(
                    field,
                    format!("must be 1 to {MAX_COLUMN_NAME_CHARS} characters, not blank"),
                ));
            }
            Value::String(name) if names.contains(name) => {
                errors.push(FieldError::new(field, "names a column twice"));
            }
            Value::String(name) => names.push(name.clone()),
            other => errors.push(type_error(&field, "a string", other)),
        }
    }
    names
}

fn tools(value: &Value, errors: &mut Vec<FieldError>) -> Vec<String> {
    let Some(items) = value.as_array() else {
        errors.push(type_error("tools", "an array of strings", value));
        return Vec::new();
    };
    if items.len() > MAX_TOOLS {
        errors.push(FieldError::new(
            "tools",
            format!("must list at most {MAX_TOOLS} tools, got {}", items.len()),
        ));
    }
    let mut tools = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let field = format!("tools[{index}]");
        match item {
            Value::String(name) if is_tool_name(name) => tools.push(name.clone()),
            Value::String(_) => errors.push(FieldError::new(
                field,
                format!(
                    "must be 1-{MAX_TOOL_NAME_CHARS} characters of a-z, 0-9, '-', '_', '.' or ':'"
                ),
            )),
            other => errors.push(type_error(&field, "a string", other)),
        }
    }
    tools
}

fn is_tool_name(name: &str) -> bool {
    (1..=MAX_TOOL_NAME_CHARS).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b':')
        })
}

fn metadata(value: &Value, errors: &mut Vec<FieldError>) -> BTreeMap<String, String> {
    let Some(object) = value.as_object() else {
        errors.push(type_error("metadata", "an object of strings", value));
        return BTreeMap::new();
    };
    if object.len() > MAX_METADATA_ENTRIES {
        errors.push(FieldError::new(
            "metadata",
            format!(
                "must have at most {MAX_METADATA_ENTRIES} entries, got {}",
                object.len()
            ),
        ));
    }
    metadata_entries(object, errors)
}

fn metadata_entries(
    object: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, String> {
    let mut metadata = BTreeMap::new();
    for (key, value) in object {
        let field = format!("metadata.{key}");
        let key_chars = key.chars().count();
        if key.is_empty() || key_chars > MAX_METADATA_KEY_CHARS {
            errors.push(FieldError::new(
                &field,
                format!("keys must be 1-{MAX_METADATA_KEY_CHARS} characters"),
            ));
            continue;
        }
        match value {
            Value::String(text) if text.chars().count() > MAX_METADATA_VALUE_CHARS => {
                errors.push(FieldError::new(
                    field,
                    format!("must be at most {MAX_METADATA_VALUE_CHARS} characters"),
                ))
            }
            Value::String(text) => {
                metadata.insert(key.clone(), text.clone());
            }
            other => errors.push(type_error(&field, "a string", other)),
        }
    }
    metadata
}

fn type_error(field: &str, expected: &str, got: &Value) -> FieldError {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    FieldError::new(field, format!("must be {expected}, got {got}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(body: Value) -> Vec<String> {
        task_request(&body)
            .unwrap_err()
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn accepts_a_full_request() {
        let request = task_request(&json!({
            "input": "Process quarterly data analysis request",
            "data": {"format": "csv", "content": "a,b\n1,2"},
            "tools": ["data-processor"],
            "metadata": {"team": "finance"},
        }))
        .unwrap();
        assert_eq!(request.input, "Process quarterly data analysis request");
        assert_eq!(request.data.unwrap().format, DataFormat::Csv);
        assert_eq!(request.tools, ["data-processor"]);
        assert_eq!(request.metadata["team"], "finance");
    }

    #[test]
    fn reports_every_invalid_field_at_once() {
        let got = fields(json!({
            "input": "",
            "data": {"format": "xml", "content": 3, "extra": 1},
            "tools": ["ok", "Not OK", 5],
            "metadata": {"a": 1},
            "surprise": true,
        }));
        assert_eq!(
            got,
            [
                "surprise",
                "input",
                "data.extra",
                "data.format",
                "data.content",
                "tools[1]",
                "tools[2]",
                "metadata.a"
            ]
        );
    }

    #[test]
    fn group_by_names_columns() {
        let request = task_request(&json!({
            "input": "x",
            "data": {"format": "csv", "content": "a,b\n1,2\n", "group_by": ["a", "b"]},
        }))
        .unwrap();
        assert_eq!(request.data.unwrap().group_by, ["a", "b"]);
        let invalid = fields(json!({
            "input": "x",
            "data": {"format": "csv", "content": "a", "group_by": ["a", " ", "a", 3]},
        }));
        assert_eq!(
            invalid,
            ["data.group_by[1]", "data.group_by[2]", "data.group_by[3]"]
        );
        let invalid = fields(json!({
            "input": "x",
            "data": {"format": "csv", "content": "a", "group_by": "a"},
        }));
        assert_eq!(invalid, ["data.group_by"]);
    }

    #[test]
    fn input_limits() {
        assert_eq!(fields(json!({})), ["input"]);
        assert_eq!(fields(json!({"input": 5})), ["input"]);
        assert_eq!(fields(json!({"input": "   "})), ["input"]);
        let long = "é".repeat(MAX_INPUT_CHARS + 1);
        assert_eq!(fields(json!({ "input": long })), ["input"]);
        // The limit counts characters, not bytes.
        let at_limit = "é".repeat(MAX_INPUT_CHARS);
        assert!(task_request(&json!({ "input": at_limit })).is_ok());
    }

    #[test]
    fn the_body_must_be_an_object() {
        assert_eq!(fields(json!(["input"])), [""]);
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/vnd.bb+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/x-www-form-urlencoded"));
    }

    mod properties {
        use super::*;
        use chrono::Utc;
        use proptest::{collection, prelude::*};
        use shared::task::{TaskDocument, TaskV1};

        fn any_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                ".{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    collection::btree_map("[a-z]{0,8}", inner, 0..6)
                        .prop_map(|map| Value::Object(map.into_iter().collect())),
                ]
            })
        }

        /// Requests shaped like real ones, near and over every limit, so many are accepted.
        fn plausible_request() -> impl Strategy<Value = Value> {
            (
                prop_oneof![".{0,40}", "\\PC{8180,8200}"],
                prop::option::of((
                    prop_oneof![Just("csv"), Just("json"), Just("text"), Just("xml")],
                    prop_oneof!["[a-c,\n\"]{0,40}", "[\\[\\]{}:,\"a1 ]{0,40}", ".{0,40}"],
                )),
                collection::vec("[a-z:._-]{0,70}", 0..18),
                collection::btree_map(".{0,10}", ".{0,20}", 0..34),
            )
                .prop_map(|(input, data, tools, metadata)| {
                    let mut body = json!({"input": input, "tools": tools, "metadata": metadata});
                    if let Some((format, content)) = data {
                        body["data"] = json!({"format": format, "content": content});
                    }
                    body
                })
        }

        fn check(body: &Value) -> Result<(), TestCaseError> {
            let Ok(request) = task_request(body) else {
                return Ok(());
            };
            // Semantics and policy never panic either.
            let semantically_valid = semantics(&request).is_ok();
            let _ = crate::policy::review(crate::policy::ContentPolicy::default(), &request);

            // The limits hold for everything accepted.
            prop_assert!(!request.input.trim().is_empty());
            prop_assert!(request.input.chars().count() <= MAX_INPUT_CHARS);
            prop_assert!(request.tools.len() <= MAX_TOOLS);
            prop_assert!(request.tools.iter().all(|tool| is_tool_name(tool)));
            prop_assert!(request.metadata.len() <= MAX_METADATA_ENTRIES);
            let metadata_within = request.metadata.iter().all(|(key, value)| {
                key.chars().count() <= MAX_METADATA_KEY_CHARS
                    && value.chars().count() <= MAX_METADATA_VALUE_CHARS
            });
            prop_assert!(metadata_within);
            if let (Some(data), true) = (&request.data, semantically_valid) {
                let parses =
                    shared::content::check(data.format, &data.content, &DataLimits::DEFAULT);
                prop_assert!(parses.is_ok());
            }

            // What was accepted is what is stored, and reads back the same.
            prop_assert_eq!(&json!(request.input), &body["input"]);
            let task = TaskDocument::V1(TaskV1 {
                task_id: uuid::Uuid::now_v7(),
                tenant: "acme".into(),
                submitted_at: Utc::now(),
                input: request.input,
                data: request.data,
                tools: request.tools,
                metadata: request.metadata,
                idempotency_key: None,
                flags: Vec::new(),
            });
            let stored = serde_json::to_vec(&task).unwrap();
            let back: TaskDocument = serde_json::from_slice(&stored).unwrap();
            prop_assert_eq!(back, task);
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]

            #[test]
            fn arbitrary_json_never_panics_and_what_passes_holds(body in any_json()) {
                check(&body)?;
            }

            #[test]
            fn plausible_requests_hold_the_limits_and_round_trip(body in plausible_request()) {
                check(&body)?;
            }
        }
    }
}
