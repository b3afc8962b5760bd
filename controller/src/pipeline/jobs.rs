//! Building agent jobs from the catalogue: what a unit holds, where its files are, which medium
//! a copy is on.

use rusqlite::{Connection, OptionalExtension, params};

use asto_agent::wire::{ImageFormat, MediumRef, PreparedUnit, UnitFile, UnitSpec};

use crate::config::{Config, StageKind};
use crate::error::{Error, Result};
use crate::media::{MediaKind, MediaType};
use crate::stage::Stage;

/// The media type of a unit's request.
pub fn unit_media<'c>(conn: &Connection, config: &'c Config, unit: i64) -> Result<&'c MediaType> {
    let name: String = conn.query_row(
        "SELECT r.media_type FROM units u JOIN requests r ON r.id = u.request_id WHERE u.id = ?1",
        [unit],
        |r| r.get(0),
    )?;
    config.media_type(&name)
}

/// Everything the agent needs to prepare a unit.
pub fn unit_spec(conn: &Connection, config: &Config, unit: i64) -> Result<UnitSpec> {
    let (name, request, compress, created): (String, i64, bool, String) = conn.query_row(
        "SELECT u.name, u.request_id, r.compress, u.created_at FROM units u JOIN requests r ON r.id = u.request_id WHERE u.id = ?1",
        [unit],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let media = unit_media(conn, config, unit)?;
    let mut stmt = conn.prepare(
        "SELECT uf.medium_path, f.stage, f.path, f.size, f.sha256, f.mode, f.mtime_ns, f.compression
         FROM unit_files uf JOIN files f ON f.id = uf.file_id WHERE uf.unit_id = ?1 ORDER BY uf.medium_path",
    )?;
    let rows = stmt.query_map([unit], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
    })?;
    let mut files = Vec::new();
    for row in rows {
        let (medium_path, stage, path, size, sha256, mode, mtime_ns, compression) = row?;
        let kind = StageKind::parse(&stage).ok_or_else(|| Error::State(format!("file {path} is in unknown stage {stage}")))?;
        files.push(UnitFile { medium_path, source: Stage::new(config, kind).path(&path)?, size, sha256, mode, mtime_ns, compression });
    }
    let created_ns = chrono::DateTime::parse_from_rfc3339(&created)
        .map_err(|e| Error::State(format!("unit {name} has a bad creation time {created}: {e}")))?
        .timestamp_nanos_opt()
        .unwrap_or(0);
    Ok(UnitSpec {
        unit: name,
        request: request.to_string(),
        format: match media.kind {
            MediaKind::Tape => ImageFormat::Tar,
            MediaKind::Optical => ImageFormat::Iso,
        },
        record_size: config.tape.record_size as usize,
        compress,
        created_ns,
        capacity: media.capacity,
        files,
    })
}

/// The prepared unit recorded by the prepare action.
pub fn prepared_unit(conn: &Connection, unit: i64) -> Result<PreparedUnit> {
    let json: Option<String> = conn.query_row("SELECT prepared FROM units WHERE id = ?1", [unit], |r| r.get(0))?;
    let json = json.ok_or_else(|| Error::State(format!("unit {unit} has not been prepared")))?;
    serde_json::from_str(&json).map_err(|e| Error::State(format!("unit {unit}: unreadable preparation record: {e}")))
}

/// The medium of a volume, for the agent.
pub fn medium(conn: &Connection, config: &Config, volume: i64) -> Result<MediumRef> {
    let (barcode, media_type, capacity): (String, String, u64) = conn
        .query_row("SELECT barcode, media_type, capacity FROM volumes WHERE id = ?1", [volume], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?
        .ok_or_else(|| Error::State(format!("volume {volume} does not exist")))?;
    let profile = config.media_type(&media_type).map(|m| m.profile.clone()).unwrap_or_else(|_| media_type.clone());
    Ok(MediumRef { barcode, media_type, capacity, profile })
}

/// Record where each file's data starts in the unit's image (a file compressed while preparing
/// is found under its `.gz` name).
pub fn record_offsets(conn: &Connection, unit: i64, prepared: &PreparedUnit) -> Result<()> {
    let offsets: std::collections::HashMap<&str, u64> = prepared.data_offsets.iter().map(|(p, o)| (p.as_str(), *o)).collect();
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT file_id, medium_path FROM unit_files WHERE unit_id = ?1")?
        .query_map([unit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (file, path) in rows {
        let offset = offsets.get(path.as_str()).or_else(|| offsets.get(format!("{path}.gz").as_str()));
        conn.execute("UPDATE unit_files SET data_offset = ?3 WHERE unit_id = ?1 AND file_id = ?2", params![unit, file, offset])?;
    }
    Ok(())
}
