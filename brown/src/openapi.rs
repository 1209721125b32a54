//! The OpenAPI 3.1 description, generated from the handlers and types, served at
//! `/openapi.json`.

use axum::Json;
use serde_json::{Value, json};
use shared::{
    artifacts::{LogEvent, OutputPayload, QualityMetrics},
    limits::MAX_UPLOAD_BYTES,
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
    routes::{
        tasks::{Accepted, ArtifactLink, StatusView},
        uploads::UploadGrant,
    },
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
                "required": ["format"],
                "additionalProperties": false,
                "description": "Inline content, which must parse as format within the shared \
                                limits, or an upload (POST /v1/uploads) that Bayko parses \
                                within the same limits: exactly one of the two.",
                "oneOf": [
                    {"type": "null"},
                    {"type": "object", "required": ["content"], "not": {"required": ["upload"]}},
                    {"type": "object", "required": ["upload"], "not": {"required": ["content"]}}
                ],
                "properties": {
                    "format": {"type": "string", "enum": DataFormat::ALL},
                    "content": {"type": "string", "minLength": 1, "pattern": not_blank},
                    "upload": {
                        "type": "string", "format": "uuid",
                        "description": "The upload_id POST /v1/uploads answered, once the \
                                        file is PUT."
                    }
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

/// The request body of `POST /v1/uploads` (written out in [`upload_request_schema`], like
/// [`TaskRequestBody`]).
pub struct UploadRequestBody;

impl PartialSchema for UploadRequestBody {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(Object::new()))
    }
}

impl ToSchema for UploadRequestBody {}

fn upload_request_schema() -> Value {
    json!({
        "type": "object",
        "required": ["size"],
        "additionalProperties": false,
        "properties": {
            "size": {
                "type": "integer", "minimum": 1, "maximum": MAX_UPLOAD_BYTES,
                "description": "The file's exact size in bytes. The URL is signed for this \
                                Content-Length; the limit may be configured lower \
                                (max_bytes in the answer)."
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
        crate::routes::uploads::create,
        crate::routes::health::alive,
        crate::routes::health::ready
    ),
    components(schemas(
        Accepted, StatusView, ArtifactLink, Problem, FieldError, PolicyFinding, TaskState,
        TaskMetrics, DataFormat, TaskRequestBody, UploadRequestBody, UploadGrant,
        // What the artifact links lead to: not Brown's responses, but documented with them.
        OutputPayload, QualityMetrics, LogEvent
    )),
    modifiers(&BearerKey),
    tags(
        (name = "tasks", description = "Tasks of the caller's tenant"),
        (name = "uploads", description = "Data too large to send inline, PUT to storage first")
    )
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
    document["components"]["schemas"]["UploadRequestBody"] = upload_request_schema();
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
