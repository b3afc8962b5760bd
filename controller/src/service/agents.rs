//! The API agents use: register their devices, lease actions for free devices, report progress
//! (which extends the lease) and results. Every call carries the agent's own token; the agent's
//! name is its token's name, so an agent can only lease work for the devices configured as its own,
//! and a result is accepted only with the action's fence while its lease is live.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use axum::{Json, Router};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio_stream::StreamExt;

use asto_agent::wire::{ActionProgress, ActionResult, Job, LeaseRequest, LeasedAction, Registration};

use super::api::{ApiError, ApiState};
use crate::catalogue;
use crate::config::Role;
use crate::error::Error;
use crate::pipeline::{Progress, lease_deadline, progress_key};

async fn register(State(s): State<ApiState>, headers: HeaderMap, body: Result<Json<Registration>, JsonRejection>) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = s.caller(&headers, Role::Agent)?;
    let Json(reg) = body?;
    let lease_secs = s.config.api.as_ref().map_or(30, |a| a.lease_secs);
    s.with_db(move |c, config| {
        for d in &reg.devices {
            let owner = config.devices.iter().find(|x| &x.name == d).map(|x| x.agent.clone());
            match owner {
                None => return Err(Error::input(format!("device '{d}' is not configured on the controller"))),
                Some(o) if o.as_deref() != Some(caller.name.as_str()) => {
                    return Err(Error::input(format!("device '{d}' is not configured as agent {}'s", caller.name)));
                }
                Some(_) => {}
            }
        }
        for j in &reg.jukeboxes {
            match config.jukeboxes.iter().find(|x| &x.name == j) {
                None => return Err(Error::input(format!("jukebox '{j}' is not configured on the controller"))),
                Some(x) if x.agent.as_deref() != Some(caller.name.as_str()) => {
                    return Err(Error::input(format!("jukebox '{j}' is not configured as agent {}'s", caller.name)));
                }
                Some(_) => {}
            }
        }
        let now = catalogue::now();
        c.execute(
            "INSERT INTO agents (name, host, embedded, version, started_at, last_seen) VALUES (?1, ?2, 0, ?3, ?4, ?4)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, started_at = excluded.started_at, last_seen = excluded.last_seen",
            params![caller.name, caller.name, reg.version, now],
        )?;
        // A (re)registered agent's devices are usable again.
        for d in &reg.devices {
            c.execute("UPDATE devices SET state = 'up', note = NULL WHERE name = ?1", [d])?;
        }
        Ok(())
    })
    .await?;
    let _ = s.wake.send(());
    Ok(Json(serde_json::json!({ "lease_secs": lease_secs })))
}

async fn lease(State(s): State<ApiState>, headers: HeaderMap, body: Result<Json<LeaseRequest>, JsonRejection>) -> Result<Json<Option<LeasedAction>>, ApiError> {
    let caller = s.caller(&headers, Role::Agent)?;
    let Json(req) = body?;
    let lease_secs = s.config.api.as_ref().map_or(30, |a| a.lease_secs);
    let leased = s
        .with_db(move |c, config| {
            let tx = c.transaction()?;
            tx.execute("UPDATE agents SET last_seen = ?2 WHERE name = ?1", params![caller.name, catalogue::now()])?;
            let candidates: Vec<(i64, String, i64, String)> = tx
                .prepare("SELECT id, device, fence, job FROM actions WHERE state = 'queued' AND agent = ?1 ORDER BY id")?
                .query_map([&caller.name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            let Some((id, _, fence, job)) = candidates.into_iter().find(|(_, d, _, _)| req.free_devices.contains(d)) else { return Ok(None) };
            tx.execute("UPDATE actions SET state = 'leased', lease_expires = ?2 WHERE id = ?1", params![id, lease_deadline(config)])?;
            tx.commit()?;
            let job: Job = serde_json::from_str(&job).map_err(|e| Error::State(format!("action {id}: {e}")))?;
            Ok(Some(LeasedAction { id, fence, lease_secs, job }))
        })
        .await?;
    Ok(Json(leased))
}

/// Check that `caller` holds the live lease of action `id` with `fence`; returns (kind, copy).
fn check_lease(c: &rusqlite::Connection, id: i64, fence: i64, agent: &str) -> Result<(String, Option<i64>), Error> {
    let row: Option<(String, i64, String, Option<i64>, String, String)> = c
        .query_row("SELECT agent, fence, state, copy_id, kind, lease_expires FROM actions WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .optional()?;
    let Some((owner, f, state, copy, kind, expires)) = row else { return Err(Error::NotFound(format!("there is no action {id}"))) };
    if owner != agent {
        return Err(Error::NotFound(format!("there is no action {id} for agent {agent}")));
    }
    if f != fence || state != "leased" || expires < catalogue::now() {
        return Err(Error::Conflict(format!("action {id} is no longer yours (state {state}): its lease expired or was fenced off; result refused")));
    }
    Ok((kind, copy))
}

async fn progress(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<ActionProgress>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = s.caller(&headers, Role::Agent)?;
    let Json(p) = body?;
    let (kind, copy) = s
        .with_db(move |c, config| {
            let kc = check_lease(c, id, p.fence, &caller.name)?;
            c.execute("UPDATE actions SET lease_expires = ?2 WHERE id = ?1", params![id, lease_deadline(config)])?;
            c.execute("UPDATE agents SET last_seen = ?2 WHERE name = ?1", params![caller.name, catalogue::now()])?;
            Ok(kc)
        })
        .await?;
    if let Some(copy) = copy {
        if let Ok(json) = serde_json::to_string(&Progress::Bytes { key: progress_key(&kind, copy), done: p.done }) {
            let _ = s.progress.send(json);
        }
    }
    Ok(Json(serde_json::json!({})))
}

async fn result(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<ActionResult>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let caller = s.caller(&headers, Role::Agent)?;
    let Json(r) = body?;
    s.with_db(move |c, _| {
        let tx = c.transaction()?;
        check_lease(&tx, id, r.fence, &caller.name)?;
        let json = serde_json::to_string(&r.outcome).map_err(|e| Error::State(e.to_string()))?;
        tx.execute("UPDATE actions SET state = 'done', result = ?2 WHERE id = ?1", params![id, json])?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    // The pipeline may be waiting for this result (jukebox actions are collected on its next run).
    let _ = s.wake.send(());
    Ok((StatusCode::OK, Json(serde_json::json!({ "accepted": id }))))
}

#[derive(Debug, serde::Deserialize)]
struct FenceQuery {
    fence: i64,
}

/// `PUT /v1/agent/actions/{id}/file?fence=F`: the file a retrieval action read, streamed to the
/// media stage and checked against the catalogue's SHA-256 before the retrieval takes it.
async fn upload(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<FenceQuery>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = s.caller(&headers, Role::Agent)?;
    let (job, dest) = s
        .with_db(move |c, config| {
            let (kind, _) = check_lease(c, id, q.fence, &caller.name)?;
            if kind != "retrieve" {
                return Err(Error::input(format!("action {id} is a {kind}, which uploads no file")));
            }
            let job: String = c.query_row("SELECT job FROM actions WHERE id = ?1", [id], |r| r.get(0))?;
            let job: Job = serde_json::from_str(&job).map_err(|e| Error::State(format!("action {id}: {e}")))?;
            let Job::Retrieve(job) = job else { return Err(Error::State(format!("action {id} holds no retrieval"))) };
            Ok((job, crate::archive::retrieve::uploaded_path(config, id)))
        })
        .await?;
    let io = |e: std::io::Error| ApiError::from(Error::file(&dest, e));
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let part = dest.with_extension("part");
    let mut out = tokio::fs::File::create(&part).await.map_err(io)?;
    let mut hash = Sha256::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::from(Error::input(format!("upload of action {id} broke off: {e}"))))?;
        hash.update(&chunk);
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    drop(out);
    let got = hex::encode(hash.finalize());
    if got != job.sha256 {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(Error::input(format!("upload of action {id} has SHA-256 {got}, the catalogue says {}", job.sha256)).into());
    }
    tokio::fs::rename(&part, &dest).await.map_err(io)?;
    Ok(Json(serde_json::json!({ "received": id })))
}

/// The agents' routes.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/agent/register", post(register))
        .route("/v1/agent/lease", post(lease))
        .route("/v1/agent/actions/{id}/progress", post(progress))
        .route("/v1/agent/actions/{id}/result", post(result))
        .route("/v1/agent/actions/{id}/file", put(upload))
}
