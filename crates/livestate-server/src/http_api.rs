//! The HTTP state API: the server API over HTTP, for code that is not a WebSocket client
//! (a script, a cron job, another service). HTTP callers are *public* callers for the ACL.
//!
//! | method and path | does | answers |
//! |---|---|---|
//! | `GET /api/state/{topic}` | the whole state | `{"state": ..., "version": N}` |
//! | `GET /api/state/{topic}?path=/a/b` | the value at a JSON Pointer | `{"path": "/a/b", "value": ...}` |
//! | `PUT /api/state/{topic}?path=/a/b` | set it (body: the JSON value) | `{"version": N}` |
//! | `DELETE /api/state/{topic}?path=/a/b` | remove it | `{"version": N}` |
//! | `PATCH /api/state/{topic}` | apply RFC 6902 ops (body), atomically | `{"version": N}` |
//! | `POST /api/state/{topic}/reset` | back to the initial state | `{"version": N}` |
//! | `POST /api/state/{topic}/message` | the body to the channel's `handle_message`: a shared key's state, or every connection of a connection-scoped topic on every node | `{"version": N, "reached": 1}`, `{"reached": N}` |
//! | `GET /api/state/{topic}/events` | Server-Sent Events: `snapshot`, then one `change` per change | |
//! | `GET /api/openapi.json` | this API, described in OpenAPI 3.1 | |
//!
//! A request that changes state (`PUT`, `PATCH`, `DELETE`, `POST`) must send
//! `Content-Type: application/json` (a JSON patch type, `application/*+json`, also does),
//! which a browser's cross-site "simple" request (a form, `text/plain`) cannot, so no page
//! elsewhere can change a key by posting to it. With `allow_origins` set, a request that
//! sends an `Origin` must send a listed one. A body must arrive within the body timeout
//! (default 10 s) and be at most the frame size limit; integers beyond 64 bits are refused,
//! never rounded.
//!
//! Errors are `{"error": {"code": "...", "message": "..."}}` with a stable code:
//!
//! | status | code |
//! |---|---|
//! | 400 | `bad_request` (bad JSON, bad pointer, an op that cannot apply, no `path` to delete), `not_shared` |
//! | 401 | `unauthorized` (an API token is configured and the request lacks it) |
//! | 403 | `permission_denied` (the ACL's public permissions lack what the call needs), `origin_not_allowed` |
//! | 408 | `timeout` (the body did not arrive within the body timeout) |
//! | 404 | `unknown_key`, `property_not_found`, `no_route` |
//! | 409 | `test_failed` (a `test` op of a patch) |
//! | 413 | `too_large` (a body over the frame size limit, 1 MiB by default), `limit_exceeded` (the change would break a state limit: depth, size, values, ops per patch) |
//! | 500 | `internal_error` (the channel failed on the server's side; details in the server's log) |
//! | 415 | `unsupported_media_type` (a state-changing request without a JSON content type) |
//! | 422 | `refused` (the channel's `init` or `handle_message` refused) |
//! | 503 | `unavailable` |

use crate::app::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use livestate_core::acl::Caller;
use livestate_core::api::ApiError;
use livestate_protocol::PatchOp;
use serde::Deserialize;
use serde_json::{Value, json};

/// The OpenAPI description of this API.
pub const OPENAPI_JSON: &str = include_str!("../assets/openapi.json");

/// The query of the state routes.
#[derive(Debug, Deserialize)]
pub(crate) struct PathQuery {
    path: Option<String>,
}

/// An HTTP error: a status and a stable code.
#[derive(Debug)]
pub(crate) struct HttpError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl HttpError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> HttpError {
        let status = match &e {
            ApiError::BadRequest(_) | ApiError::NotShared(_) => StatusCode::BAD_REQUEST,
            ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::NoRoute(_) | ApiError::UnknownKey(_) | ApiError::PropertyNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::TestFailed(_) => StatusCode::CONFLICT,
            ApiError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Limit(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            // an error this version does not know is the server's
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        HttpError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": &self.message}});
        let mut response = (self.status, Json(body)).into_response();
        response
            .extensions_mut()
            .insert(crate::observe::Refused(self.message));
        response
    }
}

type Answer = Result<Json<Value>, HttpError>;

/// Whether a request reads or changes state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Reads,
    Changes,
}

/// What every API request passes before it reaches a key: the API token, the origin
/// policy, and (when it changes state) a JSON content type.
fn admit(app: &AppState, headers: &HeaderMap, call: Call) -> Result<(), HttpError> {
    authorize(app, headers)?;
    if let Some(origin) = app.foreign_origin(headers) {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!(
                "origin {} is not allowed",
                origin.to_str().unwrap_or("(not text)")
            ),
        ));
    }
    if call == Call::Changes && !is_json(headers) {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a request that changes state needs Content-Type: application/json",
        ));
    }
    Ok(())
}

/// `application/json`, or a JSON-based type such as `application/json-patch+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Refuse requests without the configured bearer token.
fn authorize(app: &AppState, headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(expected) = &app.api_token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // compare in constant time: the token is a secret
    let matches = given.is_some_and(|g| {
        g.len() == expected.len()
            && g.bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if matches {
        Ok(())
    } else {
        Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this API needs an Authorization: Bearer token",
        ))
    }
}

/// Read a JSON body of at most the frame size limit, within the body timeout.
async fn json_body<T: serde::de::DeserializeOwned>(
    app: &AppState,
    body: Body,
) -> Result<T, HttpError> {
    let limit = app.config.max_frame_size;
    let timeout = app.config.body_timeout;
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await;
    let bytes: Bytes = match read {
        Err(_) => {
            return Err(HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!("the body did not arrive within {} s", timeout.as_secs_f64()),
            ));
        }
        Ok(Err(_)) => {
            return Err(HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is over the limit of {limit} bytes"),
            ));
        }
        Ok(Ok(bytes)) => bytes,
    };
    let value = serde_json::from_slice(&bytes).map_err(|e| {
        HttpError::bad_request(format!("the body is not what this call takes: {e}"))
    })?;
    // valid JSON is UTF-8; an integer serde_json would round is refused
    let text = std::str::from_utf8(&bytes).unwrap_or_default();
    if let Some(number) = livestate_protocol::numbers::wide_integer(text) {
        return Err(HttpError::bad_request(format!(
            "the number {number} does not fit a 64-bit integer: send it as a string"
        )));
    }
    Ok(value)
}

pub(crate) async fn get_state(
    State(app): State<AppState>,
    Path(topic): Path<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
) -> Answer {
    admit(&app, &headers, Call::Reads)?;
    let api = app.hub.api();
    match q.path {
        None => {
            let current = api.get(&topic).await?;
            Ok(Json(
                json!({"state": current.state, "version": current.version}),
            ))
        }
        Some(path) => {
            let value = api.get_path(&topic, &path).await?;
            Ok(Json(json!({"path": path, "value": value})))
        }
    }
}

pub(crate) async fn put_state(
    State(app): State<AppState>,
    Path(topic): Path<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    admit(&app, &headers, Call::Changes)?;
    let value: Value = json_body(&app, body).await?;
    let path = q.path.unwrap_or_default();
    let version = app.hub.api().put(&topic, &path, value).await?;
    Ok(Json(json!({"version": version})))
}

pub(crate) async fn delete_state(
    State(app): State<AppState>,
    Path(topic): Path<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
) -> Answer {
    admit(&app, &headers, Call::Changes)?;
    let path = q
        .path
        .ok_or_else(|| HttpError::bad_request("DELETE needs ?path=/json/pointer"))?;
    let version = app.hub.api().delete(&topic, &path).await?;
    Ok(Json(json!({"version": version})))
}

pub(crate) async fn patch_state(
    State(app): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    admit(&app, &headers, Call::Changes)?;
    let ops: Vec<PatchOp> = json_body(&app, body).await?;
    let version = app.hub.api().patch(&topic, ops).await?;
    Ok(Json(json!({"version": version})))
}

pub(crate) async fn reset_state(
    State(app): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
) -> Answer {
    admit(&app, &headers, Call::Changes)?;
    let version = app.hub.api().reset(&topic).await?;
    Ok(Json(json!({"version": version})))
}

pub(crate) async fn message_state(
    State(app): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    admit(&app, &headers, Call::Changes)?;
    let message: Value = json_body(&app, body).await?;
    let delivered = app.hub.api().message(&topic, message).await?;
    Ok(Json(json!(delivered)))
}

pub(crate) async fn state_events(
    State(app): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    admit(&app, &headers, Call::Reads)?;
    let sub = app.hub.api().watch(&topic, Caller::Public).await?;
    Ok(crate::sse::respond(&app, sub))
}

pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

/// `GET /metrics`: the node's figures, in the Prometheus text format.
pub(crate) async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refused) = authorize(&app, &headers) {
        return refused.into_response();
    }
    (
        [(header::CONTENT_TYPE, livestate_core::metrics::CONTENT_TYPE)],
        app.hub.metrics().encode(),
    )
        .into_response()
}
