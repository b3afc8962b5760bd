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
use crate::archive::distribution::{self, DistributionRequest, Method, ProcessOptions};
use crate::archive::retrieve::{RetrieveOptions, retrieve};
use crate::archive::rights::Principal;
use crate::catalogue;
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
    let config = s.config.clone();
    // A retrieval may wait minutes for a drive (an agent on another host positions its tape), so
    // it has its own catalogue connection rather than holding the shared one.
    let (file, got) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
        let c = catalogue::open(&config.catalogue)?;
        // Retrieved into a private directory of the media stage, opened, then unlinked: the
        // response streams from the open file and nothing is left behind.
        let media = config.stages.get(StageKind::Media).path.clone();
        let dir = tempfile::Builder::new().prefix(".retrieve-").tempdir_in(&media).map_err(|e| Error::file(&media, e))?;
        let got = retrieve(&c, &config, &agent, &q.file, dir.path(), &RetrieveOptions { principal: who, from_media: q.from_media })?;
        let file = std::fs::File::open(&got.dest).map_err(|e| Error::file(&got.dest, e))?;
        Ok((file, got))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("handler failed: {e}")))??;
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

/// Body of `POST /v1/distributions`: `{"files": [...], "delivery": {"method": "bundle"}}` or
/// `{"files": [...], "delivery": {"method": "media", "media_type": "DVD+R", "copies": 1}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributeBody {
    pub files: Vec<String>,
    pub delivery: Method,
}

/// Submit a distribution request; processing starts at once in the background (at most
/// `DEFAULT_PARALLEL` requests at a time, as with `asto distribute run`).
async fn submit_distribution(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Query(o): Query<Override>,
    body: Result<Json<DistributeBody>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let caller = s.caller(&headers, Role::User)?;
    let who = principal(&caller, &o)?;
    let Json(b) = body?;
    let status = s
        .with_db(move |c, config| {
            let id = distribution::submit(c, config, &DistributionRequest { principal: who, files: b.files, method: b.delivery })?;
            Ok(distribution::status(c, &[id])?.remove(0))
        })
        .await?;
    let (config, agent) = (s.config.clone(), Arc::clone(&s.agent));
    tokio::task::spawn_blocking(move || {
        let opts = ProcessOptions { max_parallel: distribution::DEFAULT_PARALLEL, out_dir: distribution::default_out_dir(&config) };
        if let Err(e) = distribution::process(&config, agent, &opts) {
            tracing::warn!(error = %e, "distribution processing failed");
        }
    });
    Ok((StatusCode::CREATED, Json(serde_json::to_value(status).map_err(|e| ApiError::from(Error::State(e.to_string())))?)))
}

async fn distribution_status(State(s): State<ApiState>, headers: HeaderMap, axum::extract::Path(id): axum::extract::Path<i64>) -> Result<Json<serde_json::Value>, ApiError> {
    s.caller(&headers, Role::User)?;
    let mut found = s.with_db(move |c, _| distribution::status(c, &[id])).await?;
    if found.is_empty() {
        return Err(ApiError::from(Error::NotFound(format!("there is no distribution request {id}"))));
    }
    Ok(Json(serde_json::to_value(found.remove(0)).map_err(|e| ApiError::from(Error::State(e.to_string())))?))
}

/// The `.tar.gz` bundle of a finished request, for its requester (or an admin).
async fn distribution_bundle(State(s): State<ApiState>, headers: HeaderMap, axum::extract::Path(id): axum::extract::Path<i64>) -> Result<Response, ApiError> {
    let caller = s.caller(&headers, Role::User)?;
    let mut found = s.with_db(move |c, _| distribution::status(c, &[id])).await?;
    let Some(st) = (!found.is_empty()).then(|| found.remove(0)) else {
        return Err(ApiError::from(Error::NotFound(format!("there is no distribution request {id}"))));
    };
    if st.requester != caller.name && caller.role != Role::Admin {
        return Err(ApiError::from(Error::NotFound(format!("there is no distribution request {id} of {}", caller.name))));
    }
    let Some(bundle) = st.bundle.filter(|_| st.state == "done") else {
        return Err(ApiError::from(Error::Conflict(format!("distribution request {id} has no bundle ({})", st.state))));
    };
    let file = tokio::fs::File::open(&bundle).await.map_err(|e| ApiError::from(Error::file(&bundle, e)))?;
    let len = file.metadata().await.map_err(|e| ApiError::from(Error::file(&bundle, e)))?.len();
    let name = std::path::Path::new(&bundle).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| format!("distribution-{id}.tar.gz"));
    Response::builder()
        .header(header::CONTENT_TYPE, "application/gzip")
        .header(header::CONTENT_LENGTH, len)
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))
        .header("X-Asto-Sha256", st.sha256.unwrap_or_default())
        .body(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)))
        .map_err(|e| ApiError::from(Error::State(e.to_string())))
}

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/browse", post(browse_files))
        .route("/v1/retrieve", get(retrieve_file))
        .route("/v1/distributions", post(submit_distribution))
        .route("/v1/distributions/{id}", get(distribution_status))
        .route("/v1/distributions/{id}/bundle", get(distribution_bundle))
}
