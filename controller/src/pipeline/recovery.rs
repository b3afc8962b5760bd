//! Recovery after a crash or restart: bring the catalogue back to a state the runner can resume
//! from. Copies caught mid-write are written again from the start on a fresh volume (the
//! half-written volume is scratched if rewritable, discarded if write-once); device reservations
//! of the dead process are released. Copies caught mid-verify are still `written` and are simply
//! verified again; units caught mid-prepare are still `queued` and prepared again (preparing is
//! idempotent).

use rusqlite::{Connection, params};
use tracing::info;

use crate::catalogue::events;
use crate::config::Config;
use crate::error::Result;

use super::release_volume;
use super::state::{CopyEvent, CopyState, UnitState, copy_next};

pub fn recover(conn: &mut Connection, config: &Config) -> Result<()> {
    let tx = conn.transaction()?;
    let interrupted: Vec<(i64, i64, Option<i64>, Option<String>, String, String)> = tx
        .prepare(
            "SELECT c.id, c.unit_id, c.volume_id, c.device, u.state, r.media_type FROM copies c
             JOIN units u ON u.id = c.unit_id JOIN requests r ON r.id = u.request_id WHERE c.state = 'writing'",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<Result<_, _>>()?;
    for (copy, unit, volume, device, unit_state, media) in interrupted {
        let unit_state = UnitState::parse(&unit_state).unwrap_or(UnitState::Prepared);
        let to = copy_next(CopyState::Writing, CopyEvent::Failed, unit_state).unwrap_or(CopyState::Pending);
        tx.execute(
            "UPDATE copies SET state = ?2, last_error = 'interrupted: the pipeline stopped during the write' WHERE id = ?1",
            params![copy, to.as_str()],
        )?;
        if let Some(v) = volume {
            let rewritable = config.media_type(&media).map(|m| m.rewritable).unwrap_or(false);
            release_volume(&tx, v, rewritable, "write interrupted by a restart")?;
        }
        info!(copy, unit, device = device.as_deref().unwrap_or("-"), "interrupted write will be redone");
        events::record(
            &tx,
            "recover",
            "info",
            &events::Subject { unit: Some(unit), copy: Some(copy), device: device.as_deref(), ..Default::default() },
            "interrupted write: the copy will be written again on a fresh volume",
        )?;
    }
    tx.execute("UPDATE devices SET reserved_by = NULL WHERE reserved_by IS NOT NULL", [])?;
    // Copy actions handed to remote agents by the previous run are fenced off: their copies are
    // redone (writes) or verified again, and late results are refused. Jukebox actions live on
    // across runs until collected or expired.
    tx.execute("UPDATE actions SET state = 'expired' WHERE state IN ('queued', 'leased', 'done') AND kind IN ('write', 'verify')", [])?;
    tx.commit()?;
    Ok(())
}
