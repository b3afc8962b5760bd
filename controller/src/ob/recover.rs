//! Recovery (seed §5): archived OBs moved from HQ's history back into HQ's operational table,
//! from where SM OBs replicate to the sites like any new SM OB. All or nothing.

use serde::Serialize;

use super::archive::{MovedOb, moved};
use super::config::ObConfig;
use super::error::{ObError, Result};
use super::node::Node;

/// What a recovery moved (or would move).
#[derive(Debug, Serialize)]
pub struct RecoverReport {
    pub dry_run: bool,
    pub obs: Vec<MovedOb>,
}

/// Move `ob_ids` from the history back to operations at HQ.
pub fn recover(cfg: &ObConfig, ob_ids: &[i64], dry_run: bool) -> Result<RecoverReport> {
    if ob_ids.is_empty() {
        return Err(ObError::BadRequest("no OB ids given to recover".to_owned()));
    }
    if let Some(bad) = ob_ids.iter().find(|&&id| id <= 0) {
        return Err(ObError::BadRequest(format!("OB id must be a positive number, got {bad}")));
    }
    let mut hq = Node::connect(&cfg.hq, cfg)?;
    let ids = ob_ids.to_vec();
    let rows = hq.query(
        "recovering OBs",
        "SELECT ob_id, run_id, status::text, last_changed::text FROM ob_recover($1, $2)",
        &[&ids, &dry_run],
    )?;
    let obs = moved(rows);
    tracing::info!(node = "HQ", dry_run, obs = obs.len(), "recovery done");
    Ok(RecoverReport { dry_run, obs })
}
