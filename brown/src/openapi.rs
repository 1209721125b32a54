//! The OpenAPI 3.1 description, generated from the handlers and types, served at
//! `/openapi.json`.

use axum::Json;
use serde_json::{Value, json};
use shared::{
    artifacts::{LogEvent, OutputPayload, QualityMetrics},
    task::{DataFormat, TaskMetrics, TaskState},
};
use utoipa::{
    Modify, OpenApi, PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{Object, Schema},
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

use crate::{
    error::Problem,
    policy::PolicyFinding,
    routes::tasks::{Accepted, ArtifactLink, StatusView},
    validate::{self, FieldError},
};

/// The request body of `POST /v1/tasks`, for the description only: requests are checked
/// field by field by `validate`, which reports every problem at once. Its schema is written out
/// in [`task_request_schema`] because the derive cannot say everything the validator enforces
/// (`maxProperties`, `propertyNames`, item patterns).
pub struct TaskRequestBody;

impl PartialSchema for TaskRequestBody {
    fn schema() -> RefOr<Schema> {
        // Replaced by `task_request_schema` when the document is served.
        RefOr::T(Schema::Object(Object::new()))
    }
}

impl ToSchema for TaskRequestBody {}

fn task_request_schema() -> Value {
    let not_blank = r"\S";
    json!({
        "type": "object",
        "required": ["input"],
        "additionalProperties": false,
        "properties": {
            "input": {
                "type": "string", "minLength": 1, "maxLength": validate::MAX_INPUT_CHARS,
                "pattern": not_blank,
                "description": "The instruction, in the client's words."
            },
            "data": {
                "type": ["object", "null"],
                "required": ["format", "content"],
                "additionalProperties": false,
                "description": "Inline data; content must parse as format within the shared limits.",
                "properties": {
                    "format": {"type": "string", "enum": DataFormat::ALL},
                    "content": {"type": "string", "minLength": 1, "pattern": not_blank}
                }
            },
            "tools": {
                "type": ["array", "null"], "maxItems": validate::MAX_TOOLS,
                "description": "Tool hints; the router has the last word.",
                "items": {
                    "type": "string",
                    "pattern": format!("^[a-z0-9._:-]{{1,{}}}$", validate::MAX_TOOL_NAME_CHARS)
                }
            },
            "metadata": {
                "type": ["object", "null"], "maxProperties": validate::MAX_METADATA_ENTRIES,
                "propertyNames": {"minLength": 1, "maxLength": validate::MAX_METADATA_KEY_CHARS},
                "additionalProperties": {
                    "type": "string", "maxLength": validate::MAX_METADATA_VALUE_CHARS
                }
            }
        }
    })
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Brown",
        description = "The public door of Bayko & Brown: submit AI agent tasks, watch them, \
                       download their artifacts. Errors are RFC 9457 problems."
    ),
    paths(
        crate::routes::tasks::submit,
        crate::routes::tasks::status,
        crate::routes::tasks::cancel,
        crate::routes::health::alive,
        crate::routes::health::ready
    ),
    components(schemas(
        Accepted, StatusView, ArtifactLink, Problem, FieldError, PolicyFinding, TaskState,
        TaskMetrics, DataFormat, TaskRequestBody,
        // What the artifact links lead to: not Brown's responses, but documented with them.
        OutputPayload, QualityMetrics, LogEvent
    )),
    modifiers(&BearerKey),
    tags((name = "tasks", description = "Tasks of the caller's tenant"))
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The description as served: the derived document with the request schema written out.
pub fn document_json() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).expect("a serialisable document");
    document["components"]["schemas"]["TaskRequestBody"] = task_request_schema();
    // The header's rule, which the derive's tuple syntax cannot state.
    if let Some(parameters) = document["paths"]["/v1/tasks"]["post"]["parameters"].as_array_mut() {
        for parameter in parameters {
            if parameter["name"] == "Idempotency-Key" {
                parameter["schema"] = json!({
                    "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"
                });
            }
        }
    }
    document
}

pub async fn document() -> Json<Value> {
    Json(document_json())
}
