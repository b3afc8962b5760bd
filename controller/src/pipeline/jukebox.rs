//! Jukeboxes and tape libraries: what they hold (inventory), where writes in their drives get
//! blank volumes, and how verified archive volumes end up online in a storage slot.
//!
//! A volume written in a library drive is put away into a storage slot by the agent right after
//! its verification; the slot comes back with the verify report. A volume written in a
//! standalone drive or burner needs a person: a `move_volume` prompt asks the operator to put it
//! into the jukebox's import/export slot, and once the prompt is acknowledged the jukebox moves it
//! into a free storage slot and confirms its label. Locations are `jukebox:<name>:<slot>`.
//!
//! The changer of a jukebox is driven where it is attached: by the controller's embedded agent,
//! or — with `agent` set — by that agent, through leased `inventory` and `import` actions whose
//! results the next pipeline run collects.

use std::sync::Arc;

use asto_agent::wire::{ImportJob, InventoryJob, Job, Outcome};
use asto_agent::Agent;
use asto_drivers::changer::{ChangerStatus, ElementKind};
use rusqlite::{Connection, OptionalExtension, params};
use tracing::{info, warn};

use crate::catalogue::{self, events, prompts};
use crate::config::{Config, JukeboxConfig};
use crate::error::Result;
use crate::media::MediaKind;

/// The catalogue location of a slot.
pub fn location(jukebox: &str, slot: u16) -> String {
    format!("jukebox:{jukebox}:{slot}")
}

/// How often a jukebox driven by another agent is asked for an inventory.
const REMOTE_INVENTORY_SECS: i64 = 10;

/// Record what the jukeboxes hold. Cartridges the catalogue does not know, found in a tape
/// library with a `media_type`, are blank scratch volumes (those an operator put into the
/// import/export slot are moved into storage first); known volumes get the slot they are in.
pub fn inventory(conn: &mut Connection, config: &Config, agent: &Arc<Agent>) -> Result<()> {
    for j in &config.jukeboxes {
        let status = match &j.agent {
            None => match agent.inventory(&j.name) {
                Ok(s) => s,
                Err(e) => {
                    warn!(jukebox = %j.name, error = %e, "jukebox inventory failed");
                    continue;
                }
            },
            Some(owner) => match remote(conn, config, j, owner, Job::Inventory(InventoryJob { jukebox: j.name.clone() }), None, &ago(REMOTE_INVENTORY_SECS))? {
                None => continue,
                Some(Outcome::Inventory(s)) => s,
                Some(other) => {
                    warn!(jukebox = %j.name, answer = ?other, "jukebox inventory failed");
                    continue;
                }
            },
        };
        record_inventory(conn, config, j, agent, &status)?;
    }
    Ok(())
}

fn record_inventory(conn: &mut Connection, config: &Config, j: &JukeboxConfig, agent: &Arc<Agent>, status: &ChangerStatus) -> Result<()> {
    let known = |conn: &Connection, barcode: &str| -> Result<Option<(String, String)>> {
        Ok(conn.query_row("SELECT state, location FROM volumes WHERE barcode = ?1", [barcode], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    };
    let mut found: Vec<(String, u16)> = Vec::new();
    for e in &status.slots {
        let Some(barcode) = e.volume_tag.clone() else { continue };
        match e.kind {
            ElementKind::Storage => found.push((barcode, e.number)),
            // New blank cartridges put into the mail slot: take them in.
            ElementKind::ImportExport if j.kind == MediaKind::Tape && j.media_type.is_some() && known(conn, &barcode)?.is_none() => {
                if let Some(Ok(slot)) = import(conn, config, j, agent, &barcode, &ago(REMOTE_INVENTORY_SECS))? {
                    found.push((barcode, slot));
                }
            }
            _ => {}
        }
    }
    let tx = conn.transaction()?;
    for (barcode, slot) in found {
        let here = location(&j.name, slot);
        match known(&tx, &barcode)? {
            None => {
                let Some(media) = j.media_type.as_deref().and_then(|m| config.media_type(m).ok()) else { continue };
                tx.execute(
                    "INSERT INTO volumes (barcode, media_type, state, location, capacity, updated_at) VALUES (?1, ?2, 'scratch', ?3, ?4, ?5)",
                    params![barcode, media.name, here, media.capacity, catalogue::now()],
                )?;
                let subject = events::Subject { volume: Some(&barcode), ..Default::default() };
                events::record(&tx, "inventory", "info", &subject, &format!("new scratch cartridge in {} slot {slot}", j.name))?;
                info!(jukebox = %j.name, volume = %barcode, slot, "new scratch cartridge");
            }
            Some((state, loc)) if state != "writing" && loc != here && !loc.starts_with("drive:") => {
                tx.execute("UPDATE volumes SET location = ?2, updated_at = ?3 WHERE barcode = ?1", params![barcode, here, catalogue::now()])?;
            }
            Some(_) => {}
        }
    }
    tx.commit()?;
    Ok(())
}

/// Take `barcode` from the import/export slot of `j` into storage: at once when the controller
/// drives the changer, else through an action for the jukebox's agent (queued at or after
/// `since`). `None` while that action is under way; the slot, or why not.
fn import(conn: &Connection, config: &Config, j: &JukeboxConfig, agent: &Arc<Agent>, barcode: &str, since: &str) -> Result<Option<std::result::Result<u16, String>>> {
    let Some(owner) = &j.agent else { return Ok(Some(agent.import(&j.name, barcode).map_err(|e| e.to_string()))) };
    let job = Job::Import(ImportJob { jukebox: j.name.clone(), barcode: barcode.to_owned() });
    Ok(match remote(conn, config, j, owner, job, Some(barcode), since)? {
        None => None,
        Some(Outcome::Imported { slot }) => Some(Ok(slot)),
        Some(Outcome::Failed { message, .. }) => Some(Err(message)),
        Some(other) => Some(Err(format!("agent {owner} answered an import with {other:?}"))),
    })
}

/// The time `secs` seconds ago, as the catalogue writes times.
fn ago(secs: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A jukebox action on the agent `owner`: the latest one of its kind (for `volume`) queued at or
/// after `since` is collected when done and waited for while under way; without one, a new one
/// is queued. Expired leases are fenced off first, so a late answer is refused.
fn remote(conn: &Connection, config: &Config, j: &JukeboxConfig, owner: &str, job: Job, volume: Option<&str>, since: &str) -> Result<Option<Outcome>> {
    let kind = job.kind();
    conn.execute(
        "UPDATE actions SET state = 'expired' WHERE device = ?1 AND kind = ?2 AND state IN ('queued', 'leased') AND lease_expires < ?3",
        params![j.name, kind, catalogue::now()],
    )?;
    let latest: Option<(i64, String, Option<String>)> = conn
        .query_row(
            "SELECT id, state, result FROM actions WHERE device = ?1 AND kind = ?2 AND volume IS ?3 AND created_at >= ?4 ORDER BY id DESC LIMIT 1",
            params![j.name, kind, volume, since],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match latest {
        Some((id, state, result)) if state == "done" => {
            conn.execute("UPDATE actions SET state = 'collected' WHERE id = ?1", [id])?;
            // Older answers of this kind are history nobody reads.
            conn.execute(
                "DELETE FROM actions WHERE device = ?1 AND kind = ?2 AND volume IS ?3 AND id < ?4 AND state IN ('collected', 'expired')",
                params![j.name, kind, volume, id],
            )?;
            Ok(Some(super::actions::outcome(result)))
        }
        Some((_, state, _)) if state != "expired" => Ok(None),
        _ => {
            super::actions::queue(conn, config, &job, None, volume, owner)?;
            tracing::debug!(jukebox = %j.name, agent = owner, kind, volume, "jukebox action dispatched");
            Ok(None)
        }
    }
}

/// A scratch volume of `media_type` in jukebox `j` for a write in one of its drives. Without
/// one, an operator is asked (once) to load blank media.
pub fn scratch_volume(conn: &Connection, j: &JukeboxConfig, media_type: &str) -> Result<Option<String>> {
    let scratch: Option<String> = conn
        .query_row(
            "SELECT barcode FROM volumes WHERE state = 'scratch' AND media_type = ?1 AND location LIKE ?2 ORDER BY id LIMIT 1",
            params![media_type, format!("jukebox:{}:%", j.name)],
            |r| r.get(0),
        )
        .optional()?;
    if scratch.is_some() {
        return Ok(scratch);
    }
    let open: Option<i64> = conn
        .query_row("SELECT id FROM prompts WHERE kind = 'load_blank' AND device = ?1 AND acked_at IS NULL", [&j.name], |r| r.get(0))
        .optional()?;
    if open.is_none() {
        let message = format!(
            "jukebox {} has no blank {media_type} volume left: load blank cartridges into its storage or import/export slots, then acknowledge",
            j.name
        );
        prompts::raise(conn, "load_blank", &message, None, None, Some(&j.name))?;
        warn!(jukebox = %j.name, media = media_type, "no scratch volume: operator asked to load blank media");
    }
    Ok(None)
}

/// Get a verified archive unit's volumes online. Returns true when all of them are in a jukebox
/// (or there is no jukebox for their kind of media, and they stay on the shelf).
pub fn ingest_unit(conn: &mut Connection, config: &Config, agent: &Arc<Agent>, unit: i64, request: i64) -> Result<bool> {
    let volumes: Vec<(i64, String, String, String, String)> = conn
        .prepare(
            "SELECT v.id, v.barcode, v.location, v.media_type, u.name FROM copies c JOIN volumes v ON v.id = c.volume_id
             JOIN units u ON u.id = c.unit_id WHERE c.unit_id = ?1 AND c.state = 'verified' ORDER BY c.copy_no",
        )?
        .query_map([unit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<Result<_, _>>()?;
    let mut all_in = true;
    for (volume, barcode, loc, media_type, unit_name) in volumes {
        if loc.starts_with("jukebox:") {
            continue;
        }
        let kind = config.media_type(&media_type)?.kind;
        let Some(j) = config.jukeboxes.iter().find(|j| j.kind == kind) else { continue };
        let subject = events::Subject { request: Some(request), unit: Some(unit), volume: Some(&barcode), ..Default::default() };
        let latest: Option<(i64, Option<String>)> = conn
            .query_row(
                "SELECT id, acked_at FROM prompts WHERE kind = 'move_volume' AND volume = ?1 AND device = ?2 ORDER BY id DESC LIMIT 1",
                params![barcode, j.name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match latest {
            None => {
                let message = format!(
                    "put archive volume {barcode} (unit {unit_name}) into the import/export slot of jukebox {}, then acknowledge",
                    j.name
                );
                let tx = conn.transaction()?;
                prompts::raise(&tx, "move_volume", &message, Some(request), Some(&barcode), Some(&j.name))?;
                events::record(&tx, "jukebox_ingest", "start", &subject, &format!("operator asked to put it into {}", j.name))?;
                tx.commit()?;
                all_in = false;
            }
            Some((_, None)) => all_in = false,
            Some((_, Some(acked_at))) => match import(conn, config, j, agent, &barcode, &acked_at)? {
                None => all_in = false,
                Some(Ok(slot)) => {
                    let tx = conn.transaction()?;
                    tx.execute("UPDATE volumes SET location = ?2, updated_at = ?3 WHERE id = ?1", params![volume, location(&j.name, slot), catalogue::now()])?;
                    events::record(&tx, "jukebox_ingest", "done", &subject, &format!("{} slot {slot}, label confirmed", j.name))?;
                    tx.commit()?;
                    info!(volume = %barcode, jukebox = %j.name, slot, "volume imported");
                }
                Some(Err(e)) => {
                    warn!(volume = %barcode, jukebox = %j.name, error = %e, "import failed");
                    let message = format!("{e}: put archive volume {barcode} (unit {unit_name}) into the import/export slot of jukebox {}, then acknowledge", j.name);
                    let tx = conn.transaction()?;
                    prompts::raise(&tx, "move_volume", &message, Some(request), Some(&barcode), Some(&j.name))?;
                    events::record(&tx, "jukebox_ingest", "failed", &subject, &e)?;
                    tx.commit()?;
                    all_in = false;
                }
            },
        }
    }
    Ok(all_in)
}
