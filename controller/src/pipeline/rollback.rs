//! Rollback of a request at any stage before cleanup, as the seed system allowed: prepared work
//! is removed, devices are released, written volumes are returned (scratch if rewritable,
//! discarded if write-once), and the files stay in their stage — an archive request's files go
//! back to their class's open request, to be written again.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use asto_agent::wire::PreparedUnit;

use crate::catalogue::{self, events};
use crate::config::Config;
use crate::error::{Error, Result};

use super::state::{CopyEvent, CopyState, UnitEvent, UnitState, copy_next, unit_next};
use super::release_volume;

/// What a rollback undid.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct RollbackReport {
    pub request: i64,
    pub units: u64,
    pub volumes_returned: Vec<String>,
    pub prepared_removed: u64,
    /// Archive request: the open request its files went back to.
    pub files_returned_to: Option<i64>,
}

pub fn rollback(conn: &mut Connection, config: &Config, request: i64) -> Result<RollbackReport> {
    let tx = conn.transaction()?;
    let row: Option<(String, String, Option<String>)> = tx
        .query_row("SELECT kind, state, data_class FROM requests WHERE id = ?1", [request], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((kind, state, class)) = row else { return Err(Error::NotFound(format!("there is no request {request}"))) };
    match state.as_str() {
        "done" => return Err(Error::Conflict(format!("request {request} is done: its files were cleaned up, it can no longer be rolled back"))),
        "rolled_back" => return Err(Error::Conflict(format!("request {request} is already rolled back"))),
        "open" => {
            return Err(Error::Conflict(format!(
                "request {request} is still accumulating files (open); flush it to queue it, there is nothing to roll back"
            )));
        }
        _ => {}
    }
    let archive = kind == "archive";
    let units: Vec<(i64, String, Option<String>)> = tx
        .prepare("SELECT id, state, prepared FROM units WHERE request_id = ?1")?
        .query_map([request], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut report = RollbackReport { request, ..Default::default() };
    let mut prepared = Vec::new();
    let subject = events::Subject { request: Some(request), ..Default::default() };
    for (unit, st, prep) in &units {
        let from = UnitState::parse(st).ok_or_else(|| Error::State(format!("unit {unit} in unknown state {st}")))?;
        let to = unit_next(from, UnitEvent::RollBack, archive, &[]).map_err(|e| Error::input(format!("request {request}: {e}")))?;
        let copies: Vec<(i64, String, Option<i64>, Option<String>)> = tx
            .prepare("SELECT id, state, volume_id, device FROM copies WHERE unit_id = ?1")?
            .query_map([unit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        for (copy, cst, volume, device) in copies {
            let cfrom = CopyState::parse(&cst).ok_or_else(|| Error::State(format!("copy {copy} in unknown state {cst}")))?;
            let cto = if cfrom == CopyState::RolledBack { cfrom } else { copy_next(cfrom, CopyEvent::RollBack, to).map_err(|e| Error::State(e.to_string()))? };
            tx.execute("UPDATE copies SET state = ?2 WHERE id = ?1", params![copy, cto.as_str()])?;
            if let Some(d) = device {
                tx.execute("UPDATE devices SET reserved_by = NULL WHERE name = ?1 AND reserved_by = ?2", params![d, copy])?;
            }
            if let (Some(v), true) = (volume, cfrom != CopyState::Pending) {
                let (barcode, media): (String, String) =
                    tx.query_row("SELECT barcode, media_type FROM volumes WHERE id = ?1", [v], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let rewritable = config.media_type(&media).map(|m| m.rewritable).unwrap_or(false);
                release_volume(&tx, v, rewritable, &format!("request {request} rolled back"))?;
                report.volumes_returned.push(barcode);
            }
        }
        tx.execute("UPDATE units SET state = ?2, updated_at = ?3 WHERE id = ?1", params![unit, to.as_str(), catalogue::now()])?;
        if let Some(json) = prep {
            if let Ok(p) = serde_json::from_str::<PreparedUnit>(json) {
                prepared.push(p);
            }
        }
        report.units += 1;
    }
    if archive {
        let class = class.ok_or_else(|| Error::State(format!("archive request {request} has no data class")))?;
        let open: Option<i64> = tx
            .query_row("SELECT id FROM requests WHERE kind = 'archive' AND data_class = ?1 AND state = 'open'", [&class], |r| r.get(0))
            .optional()?;
        let open = match open {
            Some(id) => id,
            None => {
                tx.execute(
                    "INSERT INTO requests (kind, source, requester, created_at, copies, media_type, device_group, data_class, state, updated_at)
                     SELECT kind, source, requester, ?2, copies, media_type, device_group, data_class, 'open', ?2 FROM requests WHERE id = ?1",
                    params![request, catalogue::now()],
                )?;
                tx.last_insert_rowid()
            }
        };
        tx.execute(
            "INSERT OR IGNORE INTO request_files (request_id, file_id, medium_path) SELECT ?2, file_id, medium_path FROM request_files WHERE request_id = ?1",
            params![request, open],
        )?;
        report.files_returned_to = Some(open);
    }
    tx.execute("UPDATE requests SET state = 'rolled_back', updated_at = ?2 WHERE id = ?1", params![request, catalogue::now()])?;
    events::record(
        &tx,
        "rollback",
        "done",
        &subject,
        &format!("{} units, volumes returned: {}", report.units, report.volumes_returned.join(" ")),
    )?;
    tx.commit()?;
    for p in &prepared {
        if let Some(w) = &p.workdir {
            if w.exists() {
                std::fs::remove_dir_all(w).map_err(|e| Error::file(w, e))?;
                report.prepared_removed += 1;
            }
        }
    }
    Ok(report)
}
