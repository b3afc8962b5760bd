//! The archive services over HTTP: browse by keywords, dates and free text, and retrieve a file —
//! from its stage, or straight from a volume in the jukebox — with the caller's data rights
//! applied exactly as on the command line.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::api::{ApiError, ApiState};
use super::auth::Caller;
use crate::archive::browse::{BrowseQuery, browse};
use crate::archive::retrieve::{RetrieveOptions, retrieve};
use crate::archive::rights::Principal;
use crate::config::{Role, StageKind};
use crate::error::Error;

#[derive(Debug, Deserialize)]
pub struct Override {
    /// Admin tokens only: see and retrieve proprietary data, for this logged reason.
    pub admin_reason: Option<String>,
}

fn principal(caller: &Caller, o: &Override) -> Result<Principal, ApiError> {
    match (&o.admin_reason, caller.role) {
        (Some(reason), Role::Admin) => Ok(Principal::Admin { name: caller.name.clone(), reason: reason.clone() }),
        (Some(_), _) => Err(ApiError::from(Error::input("admin_reason needs an admin token"))),
        (None, _) => Ok(Principal::User { name: caller.name.clone() }),
    }
}

async fn browse_files(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Query(o): Query<Override>,
    body: Result<Json<BrowseQuery>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = s.caller(&headers, Role::User)?;
    let who = principal(&caller, &o)?;
    let Json(q) = body?;
    let found = s.with_db(move |c, _| browse(c, &q, &who)).await?;
    Ok(Json(serde_json::to_value(found).map_err(|e| ApiError::from(Error::State(e.to_string())))?))
}

#[derive(Debug, Deserialize)]
pub struct RetrieveQuery {
    /// An archive path (latest version) or a file id.
    pub file: String,
    #[serde(default)]
    pub from_media: bool,
    pub admin_reason: Option<String>,
}

/// The file's bytes; `X-Asto-Source` says whether they came from the stage or a volume.
async fn retrieve_file(State(s): State<ApiState>, headers: HeaderMap, Query(q): Query<RetrieveQuery>) -> Result<Response, ApiError> {
    let caller = s.caller(&headers, Role::User)?;
    let who = principal(&caller, &Override { admin_reason: q.admin_reason.clone() })?;
    let agent = Arc::clone(&s.agent);
    let (file, got) = s
        .with_db(move |c, config| {
            // Retrieved into a private directory of the media stage, opened, then unlinked: the
            // response streams from the open file and nothing is left behind.
            let media = config.stages.get(StageKind::Media).path.clone();
            let dir = tempfile::Builder::new().prefix(".retrieve-").tempdir_in(&media).map_err(|e| Error::file(&media, e))?;
            let got = retrieve(c, config, &agent, &q.file, dir.path(), &RetrieveOptions { principal: who, from_media: q.from_media })?;
            let file = std::fs::File::open(&got.dest).map_err(|e| Error::file(&got.dest, e))?;
            Ok((file, got))
        })
        .await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 1 << 20);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, got.size)
        .header("X-Asto-Source", got.source.as_str())
        .header("X-Asto-Sha256", got.sha256.as_str())
        .header("X-Asto-Volume", got.volume.as_deref().unwrap_or(""))
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::from(Error::State(e.to_string())))
}

pub fn routes() -> Router<ApiState> {
    Router::new().route("/v1/browse", post(browse_files)).route("/v1/retrieve", get(retrieve_file))
}
