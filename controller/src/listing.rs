//! Read-only views of the catalogue for operators: units, volumes, and where each file went.

use rusqlite::Connection;
use serde::Serialize;

use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct UnitRow {
    pub id: i64,
    pub name: String,
    pub request: i64,
    pub state: String,
    pub files: u64,
    pub bytes: u64,
    pub image_bytes: Option<u64>,
    /// Per copy: "copy_no:state:volume".
    pub copies: Vec<CopyRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CopyRow {
    pub copy: u32,
    pub state: String,
    pub device: Option<String>,
    pub volume: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

pub fn units(conn: &Connection, request: Option<i64>) -> Result<Vec<UnitRow>> {
    let mut stmt = conn.prepare(
        "SELECT u.id, u.name, u.request_id, u.state, (SELECT count(*) FROM unit_files uf WHERE uf.unit_id = u.id), u.bytes, u.image_bytes
         FROM units u WHERE (?1 IS NULL OR u.request_id = ?1) ORDER BY u.id",
    )?;
    let mut units: Vec<UnitRow> = stmt
        .query_map([request], |r| {
            Ok(UnitRow {
                id: r.get(0)?,
                name: r.get(1)?,
                request: r.get(2)?,
                state: r.get(3)?,
                files: r.get(4)?,
                bytes: r.get(5)?,
                image_bytes: r.get(6)?,
                copies: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut copies = conn.prepare(
        "SELECT c.copy_no, c.state, c.device, v.barcode, c.attempts, c.last_error FROM copies c
         LEFT JOIN volumes v ON v.id = c.volume_id WHERE c.unit_id = ?1 ORDER BY c.copy_no",
    )?;
    for u in &mut units {
        u.copies = copies
            .query_map([u.id], |r| {
                Ok(CopyRow { copy: r.get(0)?, state: r.get(1)?, device: r.get(2)?, volume: r.get(3)?, attempts: r.get(4)?, last_error: r.get(5)? })
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(units)
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumeRow {
    pub barcode: String,
    pub media_type: String,
    pub state: String,
    pub location: String,
    pub bytes_used: u64,
    pub capacity: u64,
    pub units: Vec<String>,
    pub note: Option<String>,
}

pub fn volumes(conn: &Connection) -> Result<Vec<VolumeRow>> {
    let mut stmt = conn.prepare(
        "SELECT v.barcode, v.media_type, v.state, v.location, v.bytes_used, v.capacity, v.note,
           (SELECT group_concat(u.name, ' ') FROM copies c JOIN units u ON u.id = c.unit_id
            WHERE c.volume_id = v.id AND c.state IN ('writing', 'written', 'verified'))
         FROM volumes v ORDER BY v.barcode",
    )?;
    let rows = stmt.query_map([], |r| {
        let units: Option<String> = r.get(7)?;
        Ok(VolumeRow {
            barcode: r.get(0)?,
            media_type: r.get(1)?,
            state: r.get(2)?,
            location: r.get(3)?,
            bytes_used: r.get(4)?,
            capacity: r.get(5)?,
            note: r.get(6)?,
            units: units.map(|u| u.split(' ').map(str::to_owned).collect()).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where one file went: its unit and, per copy, the volume and location.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub stage: String,
    pub path: String,
    pub size: u64,
    pub request: i64,
    pub unit: String,
    pub medium_path: String,
    pub copies: Vec<(u32, String, String)>,
}

pub fn placements(conn: &Connection) -> Result<Vec<Placement>> {
    let mut stmt = conn.prepare(
        "SELECT f.stage, f.path, f.size, u.request_id, u.name, uf.medium_path, u.id
         FROM unit_files uf JOIN units u ON u.id = uf.unit_id JOIN files f ON f.id = uf.file_id
         WHERE u.state NOT IN ('rolled_back') ORDER BY u.request_id, f.path",
    )?;
    let mut out: Vec<(Placement, i64)> = stmt
        .query_map([], |r| {
            Ok((
                Placement { stage: r.get(0)?, path: r.get(1)?, size: r.get(2)?, request: r.get(3)?, unit: r.get(4)?, medium_path: r.get(5)?, copies: Vec::new() },
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut copies = conn.prepare(
        "SELECT c.copy_no, v.barcode, v.location FROM copies c JOIN volumes v ON v.id = c.volume_id
         WHERE c.unit_id = ?1 AND c.state = 'verified' ORDER BY c.copy_no",
    )?;
    for (p, unit) in &mut out {
        p.copies = copies.query_map([*unit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    }
    Ok(out.into_iter().map(|(p, _)| p).collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    pub name: String,
    pub kind: String,
    pub backend: String,
    pub serial: Option<String>,
    pub state: String,
    /// The copy the device is working on.
    pub busy_with: Option<i64>,
    pub groups: Vec<String>,
    pub note: Option<String>,
}

pub fn devices(conn: &Connection) -> Result<Vec<DeviceRow>> {
    let mut stmt = conn.prepare(
        "SELECT d.name, d.kind, d.backend, d.serial, d.state, d.reserved_by, d.note,
           (SELECT group_concat(m.group_name, ' ') FROM device_group_members m WHERE m.device_name = d.name)
         FROM devices d ORDER BY d.name",
    )?;
    let rows = stmt.query_map([], |r| {
        let groups: Option<String> = r.get(7)?;
        Ok(DeviceRow {
            name: r.get(0)?,
            kind: r.get(1)?,
            backend: r.get(2)?,
            serial: r.get(3)?,
            state: r.get(4)?,
            busy_with: r.get(5)?,
            note: r.get(6)?,
            groups: groups.map(|g| g.split(' ').map(str::to_owned).collect()).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentRow {
    pub name: String,
    pub host: String,
    pub embedded: bool,
    pub version: String,
    pub started_at: String,
    pub last_seen: String,
}

pub fn agents(conn: &Connection) -> Result<Vec<AgentRow>> {
    let mut stmt = conn.prepare("SELECT name, host, embedded, version, started_at, last_seen FROM agents ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok(AgentRow { name: r.get(0)?, host: r.get(1)?, embedded: r.get(2)?, version: r.get(3)?, started_at: r.get(4)?, last_seen: r.get(5)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
