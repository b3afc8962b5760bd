//! Retrieve: get an archived file back. From its stage while it is still there; otherwise from
//! a verified copy on a volume in the jukebox — the agent loads the volume, positions straight
//! to the file (tape: the recorded block; optical: the file's extent), reads only that, and
//! delivers it only if its SHA-256 matches the catalogue. A file whose volumes are all offline
//! is refused with an error naming the volumes and where they are.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use asto_agent::Agent;
use asto_agent::retrieve::RetrieveJob;
use asto_agent::wire::ImageFormat;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::rights::{self, Principal};
use crate::catalogue::{self, events};
use crate::config::{Config, StageKind};
use crate::error::{Error, Result};
use crate::media::MediaKind;
use crate::pipeline::{actions, jobs};
use crate::stage::Stage;

/// How to retrieve.
#[derive(Debug, Clone)]
pub struct RetrieveOptions {
    pub principal: Principal,
    /// Read from a volume even when the stage still holds the file.
    pub from_media: bool,
}

/// What was retrieved, and how.
#[derive(Debug, Clone, Serialize)]
pub struct Retrieved {
    pub file_id: i64,
    pub path: String,
    pub dest: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// `stage` or `volume`.
    pub source: String,
    pub volume: Option<String>,
    pub unit: Option<String>,
    pub device: Option<String>,
    /// Bytes read from the device (volume retrievals).
    pub bytes_read: u64,
    pub blocks_read: u64,
    pub located_block: Option<u64>,
    /// Bytes of the unit's image on the volume, to compare with what was read.
    pub image_bytes: Option<u64>,
}

/// A catalogued archive file.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: i64,
    pub stage: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub state: String,
}

/// Look a file up by archive path (or `#ID`).
pub fn find_file(conn: &Connection, spec: &str) -> Result<FileRow> {
    let by_id = spec.strip_prefix('#').and_then(|n| n.parse::<i64>().ok());
    let row = |r: &rusqlite::Row<'_>| Ok(FileRow { id: r.get(0)?, stage: r.get(1)?, path: r.get(2)?, size: r.get(3)?, sha256: r.get(4)?, state: r.get(5)? });
    let found = match by_id {
        Some(id) => conn.query_row("SELECT id, stage, path, size, sha256, state FROM files WHERE id = ?1", [id], row).optional()?,
        None => conn
            .query_row(
                "SELECT id, stage, path, size, sha256, state FROM files WHERE path = ?1 ORDER BY stage = 'archive' DESC LIMIT 1",
                [spec],
                row,
            )
            .optional()?,
    };
    found.ok_or_else(|| Error::NotFound(format!("'{spec}' is not in the catalogue (browse finds archive paths)")))
}

/// Where a retrieved file goes: `dest` itself, or `dest/<file name>` if `dest` is a directory.
fn destination(dest: &Path, path: &str) -> Result<PathBuf> {
    let out = if dest.is_dir() { dest.join(path.rsplit('/').next().unwrap_or(path)) } else { dest.to_owned() };
    if out.exists() {
        return Err(Error::input(format!("{} already exists; not overwriting it", out.display())));
    }
    Ok(out)
}

/// Retrieve file `spec` (archive path or `#ID`) into `dest` (a file name or a directory).
pub fn retrieve(conn: &Connection, config: &Config, agent: &Agent, spec: &str, dest: &Path, opts: &RetrieveOptions) -> Result<Retrieved> {
    let file = find_file(conn, spec)?;
    rights::check_access(conn, &opts.principal, file.id, &file.path, "retrieve")?;
    let out = destination(dest, &file.path)?;
    if file.state == "staged"
        && !opts.from_media
        && let Some(kind) = StageKind::parse(&file.stage)
        && let Ok(src) = Stage::new(config, kind).resolve_existing(&file.path)
    {
        match copy_checked(&src, &out, &file.sha256) {
            Ok(size) => {
                record(conn, &file, "stage", None)?;
                return Ok(Retrieved {
                    file_id: file.id,
                    path: file.path,
                    dest: out,
                    size,
                    sha256: file.sha256,
                    source: "stage".into(),
                    volume: None,
                    unit: None,
                    device: None,
                    bytes_read: size,
                    blocks_read: 0,
                    located_block: None,
                    image_bytes: None,
                });
            }
            Err(e) => tracing::warn!(file = file.id, error = %e, "stage copy unusable; trying the volumes"),
        }
    }
    from_volume(conn, config, agent, &file, &out)
}

/// Where the controller keeps a file an agent uploaded for retrieval action `id` (in the media
/// stage) until the retrieval takes it.
pub fn uploaded_path(config: &Config, id: i64) -> PathBuf {
    config.stages.get(StageKind::Media).path.join(".retrieved").join(format!("action-{id}"))
}

/// How often a waiting retrieval looks whether the agent answered.
const REMOTE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Retrieve through the agent that drives the device: queue the action, wait for the agent to
/// lease it, read the file, upload it (checked against the catalogue's SHA-256 on arrival) and
/// report; then deliver the upload to `job.dest`, checked once more.
fn remote_retrieve(conn: &Connection, config: &Config, owner: &str, job: &RetrieveJob) -> Result<asto_agent::retrieve::RetrieveReport> {
    use asto_agent::wire::{Job, Outcome};
    let id = actions::queue(conn, config, &Job::Retrieve(job.clone()), None, Some(&job.medium.barcode), owner)?;
    tracing::info!(action = id, device = %job.device, agent = owner, volume = %job.medium.barcode, "retrieval dispatched to agent");
    let upload = uploaded_path(config, id);
    let outcome = loop {
        let (state, expires, result): (String, String, Option<String>) =
            conn.query_row("SELECT state, lease_expires, result FROM actions WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        match state.as_str() {
            "done" => {
                conn.execute("UPDATE actions SET state = 'collected' WHERE id = ?1", [id])?;
                break actions::outcome(result);
            }
            "queued" | "leased" if expires < catalogue::now() => {
                conn.execute("UPDATE actions SET state = 'expired' WHERE id = ?1 AND state IN ('queued', 'leased')", [id])?;
                let _ = std::fs::remove_file(&upload);
                return Err(Error::State(format!("agent {owner} did not finish the retrieval from {} in time (its lease expired)", job.medium.barcode)));
            }
            "queued" | "leased" => std::thread::sleep(REMOTE_POLL),
            other => return Err(Error::State(format!("retrieval action {id} ended as {other}"))),
        }
    };
    let delivered = match outcome {
        Outcome::Retrieved(report) => copy_checked(&upload, &job.dest, &job.sha256).map(|_| report),
        Outcome::Failed { message, .. } => Err(Error::State(format!("agent {owner}: {message}"))),
        other => Err(Error::State(format!("agent {owner} answered a retrieval with {other:?}"))),
    };
    let _ = std::fs::remove_file(&upload);
    delivered
}

/// Copy `src` to `out` via a temporary file, checking its SHA-256 on the way.
fn copy_checked(src: &Path, out: &Path, sha256: &str) -> Result<u64> {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.asto-retrieve", out.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
    let result = (|| {
        let mut input = std::fs::File::open(src).map_err(|e| Error::file(src, e))?;
        let mut output = std::fs::File::create(&tmp).map_err(|e| Error::file(&tmp, e))?;
        let mut sha = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = input.read(&mut buf).map_err(|e| Error::file(src, e))?;
            if k == 0 {
                break;
            }
            sha.update(&buf[..k]);
            output.write_all(&buf[..k]).map_err(|e| Error::file(&tmp, e))?;
            n += k as u64;
        }
        output.sync_all().map_err(|e| Error::file(&tmp, e))?;
        let got = hex::encode(sha.finalize());
        if got != sha256 {
            return Err(Error::State(format!("{} has sha256 {got}, the catalogue has {sha256}", src.display())));
        }
        std::fs::rename(&tmp, out).map_err(|e| Error::file(out, e))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn record(conn: &Connection, file: &FileRow, source: &str, volume: Option<(&str, &str)>) -> Result<()> {
    let subject = events::Subject { volume: volume.map(|v| v.0), device: volume.map(|v| v.1), ..Default::default() };
    events::record(conn, "retrieve", "done", &subject, &format!("'{}' (file {}) from the {source}", file.path, file.id))
}

/// A verified copy of a file on a volume.
#[derive(Debug, Clone)]
pub struct CopyOf {
    pub copy_id: i64,
    pub unit_id: i64,
    pub unit: String,
    pub volume_id: i64,
    pub barcode: String,
    pub location: String,
    pub media_type: String,
    pub start_block: Option<u64>,
    pub medium_path: String,
    pub data_offset: Option<u64>,
}

/// Verified copies holding a file, online (in a jukebox) first.
pub fn copies_of(conn: &Connection, file_id: i64) -> Result<Vec<CopyOf>> {
    let mut stmt = conn.prepare(
        "SELECT c.id, u.id, u.name, v.id, v.barcode, v.location, v.media_type, c.start_block, uf.medium_path, uf.data_offset
         FROM unit_files uf JOIN units u ON u.id = uf.unit_id JOIN copies c ON c.unit_id = u.id JOIN volumes v ON v.id = c.volume_id
         WHERE uf.file_id = ?1 AND c.state = 'verified' AND v.state != 'bad'
         ORDER BY v.location LIKE 'jukebox:%' DESC, c.copy_no",
    )?;
    let rows = stmt
        .query_map([file_id], |r| {
            Ok(CopyOf {
                copy_id: r.get(0)?,
                unit_id: r.get(1)?,
                unit: r.get(2)?,
                volume_id: r.get(3)?,
                barcode: r.get(4)?,
                location: r.get(5)?,
                media_type: r.get(6)?,
                start_block: r.get(7)?,
                medium_path: r.get(8)?,
                data_offset: r.get(9)?,
            })
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Ask the operator to put an offline volume into the jukebox (once: an open prompt for the same
/// volume is reused). Returns the prompt's id.
fn prompt_for_volume(conn: &Connection, barcode: &str, location: &str, path: &str) -> Result<i64> {
    let open: Option<i64> = conn
        .query_row("SELECT id FROM prompts WHERE kind = 'move_volume' AND volume = ?1 AND acked_at IS NULL ORDER BY id LIMIT 1", [barcode], |r| r.get(0))
        .optional()?;
    if let Some(id) = open {
        return Ok(id);
    }
    let message = format!("put volume {barcode} (now at {location}) into the jukebox: '{path}' is to be retrieved from it");
    let id = catalogue::prompts::raise(conn, "move_volume", &message, None, Some(barcode), None)?;
    tracing::info!(prompt = id, volume = barcode, "operator asked to load an offline volume for a retrieval");
    Ok(id)
}

/// Online: in a jukebox slot (the only place the controller can load it from by itself).
pub fn is_online(location: &str) -> bool {
    location.starts_with("jukebox:")
}

/// A free, working device of the right kind for a media type; for a volume in a configured
/// jukebox (`location`), one of that jukebox's drives.
pub fn device_for(conn: &Connection, config: &Config, media_type: &str, location: &str) -> Result<String> {
    let media = config.media_type(media_type)?;
    let jukebox = location.strip_prefix("jukebox:").and_then(|r| r.split(':').next()).filter(|j| config.jukeboxes.iter().any(|x| x.name == *j));
    for g in config.groups.iter().filter(|g| g.media.iter().any(|m| m.eq_ignore_ascii_case(&media.name))) {
        for d in &g.devices {
            if jukebox.is_some() && config.jukebox_of(d).map(|j| j.name.as_str()) != jukebox {
                continue;
            }
            let busy: bool = conn
                .query_row("SELECT state != 'up' OR reserved_by IS NOT NULL FROM devices WHERE name = ?1", [d], |r| r.get(0))
                .optional()?
                .unwrap_or(false);
            if !busy {
                return Ok(d.clone());
            }
        }
    }
    Err(Error::State(format!("no free device reads {} media now (all busy or down); try again when the pipeline is idle", media.name)))
}

fn from_volume(conn: &Connection, config: &Config, agent: &Agent, file: &FileRow, out: &Path) -> Result<Retrieved> {
    let copies = copies_of(conn, file.id)?;
    if copies.is_empty() {
        return Err(Error::State(format!("'{}' is neither in its stage nor on a verified volume", file.path)));
    }
    let Some(copy) = copies.iter().find(|c| is_online(&c.location)) else {
        let list: Vec<String> = copies.iter().map(|c| format!("{} ({})", c.barcode, c.location)).collect();
        let prompt = prompt_for_volume(conn, &copies[0].barcode, &copies[0].location, &file.path)?;
        return Err(Error::State(format!(
            "'{}' is only on offline volumes: {}; operator prompt {prompt} asks for {} to be put into the jukebox: retry once it is",
            file.path,
            list.join(", "),
            copies[0].barcode
        )));
    };
    let prepared = jobs::prepared_unit(conn, copy.unit_id)?;
    let gz = format!("{}.gz", copy.medium_path);
    let entry = prepared
        .files
        .iter()
        .find(|f| f.medium_path == copy.medium_path || f.medium_path == gz)
        .ok_or_else(|| Error::State(format!("unit {} does not list '{}'", copy.unit, copy.medium_path)))?;
    let gunzip = entry.medium_path == gz && entry.compression == "gzip";
    let device = device_for(conn, config, &copy.media_type, &copy.location)?;
    let medium = jobs::medium(conn, config, copy.volume_id)?;
    let kind = config.media_type(&copy.media_type)?.kind;
    let format = match kind {
        MediaKind::Tape => ImageFormat::Tar,
        MediaKind::Optical => ImageFormat::Iso,
    };
    let data_offset = match (copy.data_offset, entry.size) {
        (Some(o), _) => o,
        (None, 0) => 0,
        (None, _) => return Err(Error::State(format!("unit {} has no recorded offset for '{}'", copy.unit, copy.medium_path))),
    };
    let job = RetrieveJob {
        device: device.clone(),
        medium,
        format,
        start_block: copy.start_block,
        record_size: prepared.record_size,
        data_offset,
        size: entry.size,
        gunzip,
        sha256: file.sha256.clone(),
        dest: out.to_owned(),
    };
    let report = match config.devices.iter().find(|d| d.name == device).and_then(|d| d.agent.clone()) {
        None => agent.retrieve(&job)?,
        Some(owner) => remote_retrieve(conn, config, &owner, &job)?,
    };
    record(conn, file, "volume", Some((&copy.barcode, &device)))?;
    Ok(Retrieved {
        file_id: file.id,
        path: file.path.clone(),
        dest: out.to_owned(),
        size: report.bytes_delivered,
        sha256: report.sha256,
        source: "volume".into(),
        volume: Some(copy.barcode.clone()),
        unit: Some(copy.unit.clone()),
        device: Some(device),
        bytes_read: report.bytes_read,
        blocks_read: report.blocks_read,
        located_block: report.located_block,
        image_bytes: Some(prepared.image_bytes),
    })
}
