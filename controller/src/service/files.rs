//! Data movement for agents on other hosts: the files of a unit, served from the controller's
//! data stages over HTTP with range requests, so an agent without the stages mounted can fetch
//! (and resume) them. Only paths inside the configured stages are served; the agent checks every
//! file against its ingest checksum after the download.

use std::io::SeekFrom;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::api::{ApiError, ApiState};
use crate::config::{Role, StageKind};
use crate::error::Error;

#[derive(Debug, Deserialize)]
pub struct SourceQuery {
    /// The file's path on the controller, as in the agent's job.
    pub path: PathBuf,
}

/// `bytes=START-` or `bytes=START-END` → (start, end inclusive).
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end: u64 = if b.trim().is_empty() { len.checked_sub(1)? } else { b.trim().parse().ok()? };
    (start <= end && end < len).then_some((start, end))
}

async fn source(State(s): State<ApiState>, headers: HeaderMap, Query(q): Query<SourceQuery>) -> Result<Response, ApiError> {
    s.caller(&headers, Role::Agent)?;
    let config = s.config.clone();
    let requested = q.path.clone();
    // Only files inside a data stage; symlinks are resolved first, so none leads out.
    let path = tokio::task::spawn_blocking(move || -> Result<PathBuf, Error> {
        let real = requested.canonicalize().map_err(|_| Error::NotFound(format!("{} is not in a data stage", requested.display())))?;
        for kind in [StageKind::Archive, StageKind::User, StageKind::Media] {
            if let Ok(root) = config.stages.get(kind).path.canonicalize() {
                if real.starts_with(&root) && real.is_file() {
                    return Ok(real);
                }
            }
        }
        Err(Error::NotFound(format!("{} is not in a data stage", requested.display())))
    })
    .await
    .map_err(|e| ApiError::from(Error::State(e.to_string())))??;
    let mut file = tokio::fs::File::open(&path).await.map_err(|e| ApiError::from(Error::file(&path, e)))?;
    let len = file.metadata().await.map_err(|e| ApiError::from(Error::file(&path, e)))?.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
        Some(r) => match parse_range(r, len) {
            Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b),
            None => return Err(ApiError::from(Error::input(format!("unsatisfiable range '{r}' for a {len}-byte file")))),
        },
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(SeekFrom::Start(start)).await.map_err(|e| ApiError::from(Error::file(&path, e)))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file.take(count), 1 << 20));
    let mut resp = Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, count)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if status == StatusCode::PARTIAL_CONTENT {
        resp = resp.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
    }
    resp.body(body).map_err(|e| ApiError::from(Error::State(e.to_string())))
}

pub fn routes() -> Router<ApiState> {
    Router::new().route("/v1/agent/source", get(source))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-", 10), Some((0, 9)));
        assert_eq!(parse_range("bytes=4-6", 10), Some((4, 6)));
        assert_eq!(parse_range("bytes=9-", 10), Some((9, 9)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=6-4", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
    }
}
