//! The controller's versioned HTTP/JSON API (`/v1/…`), used by the CLI, agents and the web page.
//!
//! Handlers are thin: authenticate, parse, call the same library functions the local CLI calls
//! (on a blocking thread, the catalogue being SQLite), map errors to status codes. Input errors
//! are 400, unknown ids 404, state conflicts 409, a full stage 507; nothing is changed by a
//! refused call.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::Connection;
use serde::Deserialize;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::auth::{Caller, Refusal, authorize};
use crate::catalogue::{events, prompts};
use crate::config::{Config, Role};
use crate::error::Error;
use crate::pipeline::rollback::rollback;
use crate::requests::{self, Layout, UserRequest};

/// Shared state of the API.
#[derive(Clone)]
pub struct ApiState {
    pub config: Arc<Config>,
    pub db: Arc<Mutex<Connection>>,
    /// Wakes the pipeline when new work arrives.
    pub wake: std::sync::mpsc::Sender<()>,
    /// Progress events as JSON, for `/v1/progress`.
    pub progress: tokio::sync::broadcast::Sender<String>,
    /// The embedded agent, for retrievals from volumes.
    pub agent: Arc<asto_agent::Agent>,
}

/// An API error: a status and a message, sent as `{"error": "…"}`.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match &e {
            Error::Input(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::StageFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::Unauthenticated(m) => ApiError(StatusCode::UNAUTHORIZED, m),
            Refusal::Forbidden(m) => ApiError(StatusCode::FORBIDDEN, m),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, format!("bad request body: {}", r.body_text()))
    }
}

type ApiResult = Result<Response, ApiError>;

impl ApiState {
    pub(crate) fn caller(&self, headers: &HeaderMap, need: Role) -> Result<Caller, ApiError> {
        let tokens = self.config.api.as_ref().map(|a| a.tokens.as_slice()).unwrap_or(&[]);
        Ok(authorize(headers, tokens, need)?)
    }

    /// Run `f` with the catalogue on a blocking thread.
    pub(crate) async fn with_db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Config) -> Result<T, Error> + Send + 'static,
    {
        let (db, config) = (self.db.clone(), self.config.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = db.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, &config)
        })
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("handler failed: {e}")))?
        .map_err(ApiError::from)
    }
}

fn ok<T: serde::Serialize>(status: StatusCode, value: T) -> ApiResult {
    Ok((status, Json(value)).into_response())
}

async fn list_requests(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    s.caller(&headers, Role::User)?;
    ok(StatusCode::OK, s.with_db(|c, _| requests::status(c, None)).await?)
}

async fn get_request(State(s): State<ApiState>, headers: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    s.caller(&headers, Role::User)?;
    let mut all = s.with_db(move |c, _| requests::status(c, Some(id))).await?;
    ok(StatusCode::OK, all.remove(0))
}

/// Body of `POST /v1/requests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    pub files: Vec<String>,
    pub media: String,
    #[serde(default = "one")]
    pub copies: u32,
    #[serde(default)]
    pub compress: bool,
    #[serde(default = "keep")]
    pub layout: String,
    #[serde(default)]
    pub prefix: String,
    pub group: Option<String>,
    pub requester: Option<String>,
}

fn one() -> u32 {
    1
}

fn keep() -> String {
    "keep".into()
}

async fn submit(State(s): State<ApiState>, headers: HeaderMap, body: Result<Json<SubmitBody>, JsonRejection>) -> ApiResult {
    let caller = s.caller(&headers, Role::User)?;
    let Json(b) = body?;
    let status = s
        .with_db(move |c, config| {
            let req = UserRequest {
                files: b.files,
                media_type: b.media,
                copies: b.copies,
                compress: b.compress,
                layout: Layout::parse(&b.layout)?,
                prefix: b.prefix,
                group: b.group,
                requester: b.requester.unwrap_or(caller.name),
                source: "api".into(),
            };
            let id = requests::submit_user(c, config, &req)?;
            Ok(requests::status(c, Some(id))?.remove(0))
        })
        .await?;
    let _ = s.wake.send(());
    ok(StatusCode::CREATED, status)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlushBody {
    pub class: String,
}

async fn flush(State(s): State<ApiState>, headers: HeaderMap, body: Result<Json<FlushBody>, JsonRejection>) -> ApiResult {
    s.caller(&headers, Role::User)?;
    let Json(b) = body?;
    let queued = s
        .with_db(move |c, config| match requests::flush(c, config, &b.class)? {
            Some(id) => Ok(Some(requests::status(c, Some(id))?.remove(0))),
            None => Ok(None),
        })
        .await?;
    let _ = s.wake.send(());
    ok(StatusCode::OK, queued)
}

async fn rollback_request(State(s): State<ApiState>, headers: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let caller = s.caller(&headers, Role::Admin)?;
    let report = s
        .with_db(move |c, config| {
            let report = rollback(c, config, id)?;
            // Admin actions are logged with who did them.
            events::record(c, "admin", "info", &events::Subject { request: Some(id), ..Default::default() }, &format!("rollback by {}", caller.name))?;
            Ok(report)
        })
        .await?;
    let _ = s.wake.send(());
    ok(StatusCode::OK, report)
}

#[derive(Debug, Deserialize)]
pub struct UnitsQuery {
    pub request: Option<i64>,
}

async fn units(State(s): State<ApiState>, headers: HeaderMap, Query(q): Query<UnitsQuery>) -> ApiResult {
    s.caller(&headers, Role::User)?;
    ok(StatusCode::OK, s.with_db(move |c, _| crate::listing::units(c, q.request)).await?)
}

async fn volumes(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    s.caller(&headers, Role::User)?;
    ok(StatusCode::OK, s.with_db(|c, _| crate::listing::volumes(c)).await?)
}

async fn devices(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    s.caller(&headers, Role::User)?;
    ok(StatusCode::OK, s.with_db(|c, _| crate::listing::devices(c)).await?)
}

async fn agents(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    s.caller(&headers, Role::User)?;
    ok(StatusCode::OK, s.with_db(|c, _| crate::listing::agents(c)).await?)
}

#[derive(Debug, Deserialize)]
pub struct PromptsQuery {
    #[serde(default)]
    pub all: bool,
}

async fn list_prompts(State(s): State<ApiState>, headers: HeaderMap, Query(q): Query<PromptsQuery>) -> ApiResult {
    s.caller(&headers, Role::User)?;
    ok(StatusCode::OK, s.with_db(move |c, _| prompts::list(c, q.all)).await?)
}

async fn ack_prompt(State(s): State<ApiState>, headers: HeaderMap, Path(id): Path<i64>) -> ApiResult {
    let caller = s.caller(&headers, Role::User)?;
    let p = s.with_db(move |c, _| prompts::acknowledge(c, id, &caller.name)).await?;
    let _ = s.wake.send(());
    ok(StatusCode::OK, p)
}

/// Live progress as server-sent events (one JSON object per event).
async fn progress(State(s): State<ApiState>, headers: HeaderMap) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    s.caller(&headers, Role::User)?;
    let stream = BroadcastStream::new(s.progress.subscribe()).filter_map(|m| m.ok().map(|json| Ok(Event::default().data(json))));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn health(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    s.caller(&headers, Role::User)?;
    ok(StatusCode::OK, serde_json::json!({ "service": "asto-controller", "version": env!("CARGO_PKG_VERSION"), "api": 1 }))
}

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such API endpoint (see /v1/…)".into())
}

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/requests", get(list_requests).post(submit))
        .route("/v1/requests/flush", post(flush))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/requests/{id}/rollback", post(rollback_request))
        .route("/v1/units", get(units))
        .route("/v1/volumes", get(volumes))
        .route("/v1/devices", get(devices))
        .route("/v1/agents", get(agents))
        .route("/v1/prompts", get(list_prompts))
        .route("/v1/prompts/{id}/ack", post(ack_prompt))
        .route("/v1/progress", get(progress))
        .merge(super::agents::routes())
        .merge(super::files::routes())
        .merge(super::archive::routes())
        .merge(super::metrics::routes(state.clone()))
        .merge(super::web::routes(state.clone()))
        .fallback(not_found)
        .with_state(state)
}
