//! The action table: work queued for agents on other hosts — writes and verifications of copies,
//! jukebox inventories and imports, retrievals. Queueing an action (with its fence and lease) and
//! reading an agent's answer happen here, for the pipeline, the jukebox code and retrievals alike.

use asto_agent::Blame;
use asto_agent::wire::{Job, Outcome};
use rusqlite::{Connection, params};

use crate::catalogue;
use crate::config::Config;
use crate::error::{Error, Result};

/// Queue `job` for `agent`; `copy` and `volume` say what it concerns. Returns the action's id.
/// It must be leased (and then reported on) before its lease runs out.
pub fn queue(conn: &Connection, config: &Config, job: &Job, copy: Option<i64>, volume: Option<&str>, agent: &str) -> Result<i64> {
    let json = serde_json::to_string(job).map_err(|e| Error::State(e.to_string()))?;
    conn.execute(
        "INSERT INTO actions (kind, copy_id, device, volume, agent, job, fence, state, lease_expires, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9)",
        params![job.kind(), copy, job.device(), volume, agent, json, fence_token(copy.unwrap_or(0)), lease_deadline(config), catalogue::now()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// An agent's answer as stored with a done action; an unreadable one is a failure.
pub fn outcome(result: Option<String>) -> Outcome {
    serde_json::from_str(&result.unwrap_or_default())
        .unwrap_or_else(|e| Outcome::Failed { message: format!("unreadable result: {e}"), blame: Blame::Other })
}

/// A fence token: unpredictable enough that a stale agent cannot guess the token of the action
/// that replaced its own.
fn fence_token(seed: i64) -> i64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
    (nanos ^ seed.rotate_left(32) ^ i64::from(std::process::id())) & i64::MAX
}

/// When a lease given now runs out.
pub fn lease_deadline(config: &Config) -> String {
    let secs = config.api.as_ref().map_or(30, |a| a.lease_secs);
    (chrono::Utc::now() + chrono::Duration::seconds(secs as i64)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
