//! Requests: what is to be written, and turning it into units.
//!
//! An **archive** request accumulates the files ingested for one data class; when they fill a
//! volume of the class's media type it is queued (the least-filled unit's files stay behind in a
//! new open request, so archive volumes go out full), or it is queued on an explicit flush.
//! A **user** request names files in the user stage, a media type, copies, compression and the
//! directory layout on the medium, and is queued at once.
//!
//! Queueing packs the files into units (see [`crate::packer`]), names them (media name + counter),
//! and creates one copy row per unit and copy number: the pipeline takes it from there.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::catalogue::{self, events};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::media;
use crate::packer::{self, PackItem};

/// Most copies a request may ask for, whatever the group size.
pub const MAX_COPIES: u32 = 16;

/// Directory layout of a user request on its medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Files keep their stage paths.
    Keep,
    /// Files go to the top level (names must be unique).
    Flat,
}

impl Layout {
    pub fn parse(s: &str) -> Result<Layout> {
        match s {
            "keep" => Ok(Layout::Keep),
            "flat" => Ok(Layout::Flat),
            other => Err(Error::input(format!("unknown layout '{other}' (use keep or flat)"))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Layout::Keep => "keep",
            Layout::Flat => "flat",
        }
    }
}

/// A user request as submitted.
#[derive(Debug, Clone)]
pub struct UserRequest {
    pub files: Vec<String>,
    pub media_type: String,
    pub copies: u32,
    pub compress: bool,
    pub layout: Layout,
    pub prefix: String,
    pub group: Option<String>,
    pub requester: String,
    pub source: String,
}

/// Medium path of a file under a layout and prefix.
fn medium_path(stage_path: &str, layout: Layout, prefix: &str) -> String {
    let name = match layout {
        Layout::Keep => stage_path,
        Layout::Flat => stage_path.rsplit('/').next().unwrap_or(stage_path),
    };
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") }
}

/// Submit a user request: validate everything, then create and queue it in one transaction.
pub fn submit_user(conn: &mut Connection, config: &Config, req: &UserRequest) -> Result<i64> {
    let media = config.media_type(&req.media_type)?;
    let group = match &req.group {
        Some(g) => config.group(g)?,
        None => config.group_for_media(media)?,
    };
    if !group.media.iter().any(|m| m.eq_ignore_ascii_case(&media.name)) {
        return Err(Error::input(format!("device group '{}' does not write media type '{}'", group.name, media.name)));
    }
    if req.copies == 0 {
        return Err(Error::input("copies must be at least 1"));
    }
    if req.copies > MAX_COPIES || req.copies as usize > group.devices.len() {
        return Err(Error::input(format!(
            "{} copies asked, but copies go to distinct devices and group '{}' has {} (at most {MAX_COPIES} in any case)",
            req.copies,
            group.name,
            group.devices.len()
        )));
    }
    if req.files.is_empty() {
        return Err(Error::input("a user request needs at least one file"));
    }
    if !req.prefix.is_empty() {
        crate::stage::check_relative(&req.prefix)?;
    }
    let user_stage = crate::stage::Stage::new(config, crate::config::StageKind::User);
    let tx = conn.transaction()?;
    let mut members = Vec::new();
    let mut seen_medium = BTreeSet::new();
    for path in &req.files {
        crate::stage::check_relative(path)?;
        let row: Option<(i64, u64, String)> = tx
            .query_row("SELECT id, size, state FROM files WHERE stage = 'user' AND path = ?1", [path], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((id, size, state)) = row else {
            return Err(Error::input(format!("'{path}' is not in the user stage (ingest it with `asto ingest --stage user`)")));
        };
        if state != "staged" {
            return Err(Error::input(format!("'{path}' has already left the user stage ({state})")));
        }
        user_stage.resolve_existing(path)?;
        let mp = medium_path(path, req.layout, &req.prefix);
        if !seen_medium.insert(mp.clone()) {
            return Err(Error::input(format!("two files would be written as '{mp}' on the medium (layout {})", req.layout.as_str())));
        }
        members.push((id, mp, size));
    }
    let now = catalogue::now();
    tx.execute(
        "INSERT INTO requests (kind, source, requester, created_at, copies, media_type, device_group, compress, layout, prefix, state, updated_at)
         VALUES ('user', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', ?3)",
        params![req.source, req.requester, now, req.copies, media.name, group.name, req.compress, req.layout.as_str(), req.prefix],
    )?;
    let id = tx.last_insert_rowid();
    for (file_id, mp, _) in &members {
        tx.execute("INSERT INTO request_files (request_id, file_id, medium_path) VALUES (?1, ?2, ?3)", params![id, file_id, mp])?;
    }
    queue(&tx, config, id, false)?;
    tx.commit()?;
    Ok(id)
}

/// Attach freshly ingested archive files to their class's open request (inside the ingest
/// transaction); queue the request if it now fills a volume. Returns the queued request, if any.
pub fn attach_archive(conn: &Connection, config: &Config, class: &str, files: &[(i64, String)]) -> Result<Option<i64>> {
    let cls = config.class(class)?;
    let media = config.media_type(&cls.media)?;
    let id = match open_archive_request(conn, class)? {
        Some(id) => id,
        None => {
            let now = catalogue::now();
            conn.execute(
                "INSERT INTO requests (kind, source, requester, created_at, copies, media_type, device_group, data_class, state, updated_at)
                 VALUES ('archive', 'ingest', 'archive', ?1, ?2, ?3, ?4, ?5, 'open', ?1)",
                params![now, cls.copies, media.name, cls.group, class],
            )?;
            conn.last_insert_rowid()
        }
    };
    for (file_id, path) in files {
        conn.execute("INSERT INTO request_files (request_id, file_id, medium_path) VALUES (?1, ?2, ?3)", params![id, file_id, path])?;
    }
    let footprint: u64 = request_items(conn, id)?.iter().map(|(_, it)| media::file_footprint(media.kind, it.size, &it.path)).sum();
    if footprint >= media::usable_capacity(media) {
        queue(conn, config, id, true)?;
        return Ok(Some(id));
    }
    Ok(None)
}

/// Queue the open archive request of `class` now, however full. Returns it, if there was one.
pub fn flush(conn: &mut Connection, config: &Config, class: &str) -> Result<Option<i64>> {
    config.class(class)?;
    let tx = conn.transaction()?;
    let Some(id) = open_archive_request(&tx, class)? else { return Ok(None) };
    queue(&tx, config, id, false)?;
    tx.commit()?;
    Ok(Some(id))
}

fn open_archive_request(conn: &Connection, class: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row("SELECT id FROM requests WHERE kind = 'archive' AND data_class = ?1 AND state = 'open'", [class], |r| r.get(0))
        .optional()?)
}

fn request_items(conn: &Connection, request: i64) -> Result<Vec<(i64, PackItem)>> {
    let mut stmt = conn.prepare(
        "SELECT f.id, rf.medium_path, f.size FROM request_files rf JOIN files f ON f.id = rf.file_id
         WHERE rf.request_id = ?1 ORDER BY rf.medium_path",
    )?;
    let rows = stmt.query_map([request], |r| Ok((r.get(0)?, PackItem { path: r.get(1)?, size: r.get(2)? })))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Pack a request into units and queue it. With `keep_remainder`, the least-filled unit's files
/// move to a new open request of the same class instead (archive volumes go out full).
fn queue(conn: &Connection, config: &Config, request: i64, keep_remainder: bool) -> Result<()> {
    let (kind, media_name, copies): (String, String, u32) = conn.query_row(
        "SELECT kind, media_type, copies FROM requests WHERE id = ?1",
        [request],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let media = config.media_type(&media_name)?.clone();
    let items = request_items(conn, request)?;
    let plain: Vec<PackItem> = items.iter().map(|(_, it)| it.clone()).collect();
    let mut units = packer::pack(&plain, media::usable_capacity(&media), media.kind).map_err(|e| Error::input(e.to_string()))?;
    if keep_remainder && units.len() > 1 {
        let cost = |u: &Vec<usize>| -> u64 { u.iter().map(|&i| media::file_footprint(media.kind, plain[i].size, &plain[i].path)).sum() };
        let least = units.iter().enumerate().min_by_key(|(_, u)| cost(u)).map_or(0, |(i, _)| i);
        let rest = units.remove(least);
        let now = catalogue::now();
        conn.execute(
            "INSERT INTO requests (kind, source, requester, created_at, copies, media_type, device_group, data_class, state, updated_at)
             SELECT kind, source, requester, ?2, copies, media_type, device_group, data_class, 'open', ?2 FROM requests WHERE id = ?1",
            params![request, now],
        )?;
        let remainder = conn.last_insert_rowid();
        for &i in &rest {
            conn.execute(
                "UPDATE request_files SET request_id = ?1 WHERE request_id = ?2 AND file_id = ?3",
                params![remainder, request, items[i].0],
            )?;
        }
    }
    let prefix = if kind == "archive" { "ARC" } else { "USR" };
    let counter = format!("{prefix}-{}", media.label);
    let now = catalogue::now();
    for (seq, unit) in units.iter().enumerate() {
        let n = catalogue::next_counter(conn, &counter)?;
        let name = format!("{counter}-{n:0width$}", width = config.units.counter_width);
        let bytes: u64 = unit.iter().map(|&i| plain[i].size).sum();
        conn.execute(
            "INSERT INTO units (request_id, name, seq, state, bytes, created_at, updated_at) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?5)",
            params![request, name, seq as i64 + 1, bytes, now],
        )?;
        let unit_id = conn.last_insert_rowid();
        for &i in unit {
            conn.execute(
                "INSERT INTO unit_files (unit_id, file_id, medium_path) VALUES (?1, ?2, ?3)",
                params![unit_id, items[i].0, plain[i].path],
            )?;
        }
        for copy in 1..=copies {
            conn.execute("INSERT INTO copies (unit_id, copy_no, state) VALUES (?1, ?2, 'pending')", params![unit_id, copy])?;
        }
    }
    conn.execute("UPDATE requests SET state = 'queued', updated_at = ?2 WHERE id = ?1", params![request, now])?;
    events::record(
        conn,
        "queue",
        "done",
        &events::Subject { request: Some(request), ..Default::default() },
        &format!("{} units of {} ({} copies)", units.len(), media.name, copies),
    )?;
    Ok(())
}

/// A request as shown by `asto request status`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RequestStatus {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub requester: String,
    pub created_at: String,
    pub media_type: String,
    pub device_group: String,
    pub copies: u32,
    pub data_class: Option<String>,
    pub files: u64,
    pub bytes: u64,
    pub units: u64,
    pub units_verified: u64,
    pub copies_verified: u64,
    pub copies_total: u64,
}

/// Status of one request, or of all requests.
pub fn status(conn: &Connection, id: Option<i64>) -> Result<Vec<RequestStatus>> {
    let mut stmt = conn.prepare(
        "SELECT r.id, r.kind, r.state, r.requester, r.created_at, r.media_type, r.device_group, r.copies, r.data_class,
           (SELECT count(*) FROM request_files rf WHERE rf.request_id = r.id),
           (SELECT coalesce(sum(f.size), 0) FROM request_files rf JOIN files f ON f.id = rf.file_id WHERE rf.request_id = r.id),
           (SELECT count(*) FROM units u WHERE u.request_id = r.id),
           (SELECT count(*) FROM units u WHERE u.request_id = r.id AND u.state IN ('verified', 'ingested', 'cleaned')),
           (SELECT count(*) FROM copies c JOIN units u ON u.id = c.unit_id WHERE u.request_id = r.id AND c.state = 'verified'),
           (SELECT count(*) FROM copies c JOIN units u ON u.id = c.unit_id WHERE u.request_id = r.id)
         FROM requests r WHERE (?1 IS NULL OR r.id = ?1) ORDER BY r.id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(RequestStatus {
            id: r.get(0)?,
            kind: r.get(1)?,
            state: r.get(2)?,
            requester: r.get(3)?,
            created_at: r.get(4)?,
            media_type: r.get(5)?,
            device_group: r.get(6)?,
            copies: r.get(7)?,
            data_class: r.get(8)?,
            files: r.get(9)?,
            bytes: r.get(10)?,
            units: r.get(11)?,
            units_verified: r.get(12)?,
            copies_verified: r.get(13)?,
            copies_total: r.get(14)?,
        })
    })?;
    let out: Vec<RequestStatus> = rows.collect::<Result<_, _>>()?;
    if let (Some(id), true) = (id, out.is_empty()) {
        return Err(Error::NotFound(format!("there is no request {id}")));
    }
    Ok(out)
}
