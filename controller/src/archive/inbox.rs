//! The passive ingest daemon: an external process (a pipeline) writes a data file into the
//! inbox, then a trigger file beside it saying the data is complete; the daemon queues an ingest
//! request in the catalogue and the queue is worked off in order.
//!
//! Protocol, for data file `NAME` in the inbox directory:
//! - the producer writes `NAME`, then `NAME.ready` (empty, or TOML with `class`, `prefix`,
//!   `owner`, `programme`, `proprietary_until`, overriding the daemon's defaults);
//! - the daemon queues the request and renames the trigger to `NAME.queued`;
//! - once archived, the inbox's `NAME` is removed (the archive stage holds its own link or copy)
//!   and the trigger becomes `NAME.done`, holding a JSON receipt (archive path, version, SHA-256);
//! - on failure the trigger becomes `NAME.failed`, holding the error; `NAME` is left for the
//!   operator.
//!
//! The queue is the `ingest_queue` table, so a restart resumes it; a request interrupted after
//! its file was recorded is recognised (same name, size and modification time) rather than
//! archived twice.

use std::path::{Path, PathBuf};
use std::os::unix::fs::MetadataExt;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::ingest::{ArchiveOptions, ArchivedFile, archive_file, recover_interrupted};
use crate::catalogue;
use crate::config::Config;
use crate::error::{Error, Result};

pub const READY: &str = ".ready";
pub const QUEUED: &str = ".queued";
pub const DONE: &str = ".done";
pub const FAILED: &str = ".failed";

/// One processed queue entry.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub queue_id: i64,
    pub name: String,
    pub ok: bool,
    pub archived: Option<ArchivedFile>,
    pub error: Option<String>,
}

/// What one pass over the inbox did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    pub queued: usize,
    pub rejected: Vec<(String, String)>,
    pub processed: Vec<Outcome>,
}

fn path_str(p: &Path) -> Result<String> {
    p.to_str().map(str::to_owned).ok_or_else(|| Error::input(format!("{} is not valid UTF-8", p.display())))
}

fn rename_trigger(inbox: &Path, name: &str, from: &str, to: &str, content: Option<&str>) -> Result<()> {
    let (a, b) = (inbox.join(format!("{name}{from}")), inbox.join(format!("{name}{to}")));
    if let Some(c) = content {
        std::fs::write(&a, c).map_err(|e| Error::file(&a, e))?;
    }
    std::fs::rename(&a, &b).map_err(|e| Error::file(&a, e))
}

/// Queue the requests of every `*.ready` trigger in `inbox`.
pub fn scan(conn: &mut Connection, inbox: &Path) -> Result<PassReport> {
    let inbox_s = path_str(inbox)?;
    let mut names: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(inbox).map_err(|e| Error::file(inbox, e))? {
        let entry = entry.map_err(|e| Error::file(inbox, e))?;
        let Some(file) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if let Some(name) = file.strip_suffix(READY)
            && !name.is_empty()
            && !name.starts_with('.')
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let mut report = PassReport::default();
    for name in names {
        let trigger = inbox.join(format!("{name}{READY}"));
        let data = inbox.join(&name);
        let parsed = std::fs::read_to_string(&trigger)
            .map_err(|e| format!("cannot read the trigger: {e}"))
            .and_then(|text| toml::from_str::<ArchiveOptions>(&text).map_err(|e| format!("bad trigger file: {}", e.to_string().trim_end())))
            .and_then(|opts| match std::fs::metadata(&data) {
                Ok(m) if m.is_file() => Ok(opts),
                Ok(_) => Err(format!("{} is not a regular file", data.display())),
                Err(e) => Err(format!("data file {} is missing: {e}", data.display())),
            });
        let opts = match parsed {
            Ok(o) => o,
            Err(msg) => {
                tracing::warn!(inbox = %inbox.display(), name, error = %msg, "trigger rejected");
                rename_trigger(inbox, &name, READY, FAILED, Some(&format!("{msg}\n")))?;
                report.rejected.push((name, msg));
                continue;
            }
        };
        let options = serde_json::to_string(&opts).map_err(|e| Error::State(e.to_string()))?;
        let tx = conn.transaction()?;
        let pending: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM ingest_queue WHERE inbox = ?1 AND name = ?2 AND state IN ('queued', 'running'))",
            params![inbox_s, name],
            |r| r.get(0),
        )?;
        if !pending {
            tx.execute(
                "INSERT INTO ingest_queue (inbox, name, options, state, queued_at) VALUES (?1, ?2, ?3, 'queued', ?4)",
                params![inbox_s, name, options, catalogue::now()],
            )?;
            report.queued += 1;
        }
        tx.commit()?;
        rename_trigger(inbox, &name, READY, QUEUED, None)?;
        tracing::info!(inbox = %inbox.display(), name, "ingest request queued");
    }
    Ok(report)
}

/// Work off the queued requests of `inbox`, oldest first. `defaults` fill what triggers leave out.
pub fn process(conn: &mut Connection, config: &Config, inbox: &Path, defaults: &ArchiveOptions) -> Result<Vec<Outcome>> {
    let inbox_s = path_str(inbox)?;
    let mut out = Vec::new();
    loop {
        let next: Option<(i64, String, String, String, String)> = conn
            .query_row(
                "SELECT id, name, options, state, queued_at FROM ingest_queue WHERE inbox = ?1 AND state IN ('queued', 'running') ORDER BY id LIMIT 1",
                [&inbox_s],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((id, name, options, state, queued_at)) = next else { break };
        let opts: ArchiveOptions = serde_json::from_str(&options).map_err(|e| Error::State(format!("ingest queue entry {id}: {e}")))?;
        let opts = opts.or(defaults);
        let data = inbox.join(&name);
        conn.execute("UPDATE ingest_queue SET state = 'running' WHERE id = ?1", [id])?;
        let result = run_one(conn, config, &data, &name, &opts, state == "running", &queued_at);
        let now = catalogue::now();
        match result {
            Ok((file_id, archived)) => {
                conn.execute("UPDATE ingest_queue SET state = 'done', finished_at = ?2, file_id = ?3, error = NULL WHERE id = ?1", params![id, now, file_id])?;
                match std::fs::remove_file(&data) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::file(&data, e)),
                }
                let receipt = serde_json::json!({ "queue_id": id, "file_id": file_id, "archived": archived });
                finish_trigger(inbox, &name, DONE, &format!("{receipt:#}\n"))?;
                out.push(Outcome { queue_id: id, name, ok: true, archived, error: None });
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::warn!(queue_id = id, name, error = %msg, "ingest request failed");
                conn.execute("UPDATE ingest_queue SET state = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1", params![id, now, msg])?;
                finish_trigger(inbox, &name, FAILED, &format!("{msg}\n"))?;
                out.push(Outcome { queue_id: id, name, ok: false, archived: None, error: Some(msg) });
            }
        }
    }
    Ok(out)
}

/// The trigger of a finished request gets its final name (it may be missing if an operator
/// removed it; the queue row is the record).
fn finish_trigger(inbox: &Path, name: &str, to: &str, content: &str) -> Result<()> {
    let queued = inbox.join(format!("{name}{QUEUED}"));
    if queued.exists() {
        rename_trigger(inbox, name, QUEUED, to, Some(content))
    } else {
        let p = inbox.join(format!("{name}{to}"));
        std::fs::write(&p, content).map_err(|e| Error::file(p, e))
    }
}

fn run_one(
    conn: &mut Connection,
    config: &Config,
    data: &Path,
    name: &str,
    opts: &ArchiveOptions,
    interrupted: bool,
    queued_at: &str,
) -> Result<(i64, Option<ArchivedFile>)> {
    if interrupted {
        // A crash may have hit after the file was recorded: do not archive it twice.
        if let Ok(meta) = std::fs::metadata(data) {
            let mtime_ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
            if let Some(id) = recover_interrupted(conn, config, name, opts, meta.len(), mtime_ns, queued_at)? {
                tracing::info!(file = id, name, "interrupted request had already archived its file");
                return Ok((id, None));
            }
        }
    }
    let archived = archive_file(conn, config, data, opts)?;
    Ok((archived.file_id, Some(archived)))
}

/// One pass: queue new triggers, then work off the queue.
pub fn pass(conn: &mut Connection, config: &Config, inbox: &Path, defaults: &ArchiveOptions) -> Result<PassReport> {
    let mut report = scan(conn, inbox)?;
    report.processed = process(conn, config, inbox, defaults)?;
    Ok(report)
}

/// Check an inbox directory exists and is not inside a data stage (the stages hold archived
/// data; an inbox there would be reported as unregistered files).
pub fn check_inbox(config: &Config, inbox: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(inbox).map_err(|e| Error::file(inbox, e))?;
    if !abs.is_dir() {
        return Err(Error::input(format!("inbox {} is not a directory", abs.display())));
    }
    for kind in [crate::config::StageKind::Archive, crate::config::StageKind::User, crate::config::StageKind::Media] {
        let stage = &config.stages.get(kind).path;
        if abs.starts_with(stage) {
            return Err(Error::input(format!("inbox {} is inside the {} stage {}", abs.display(), kind.as_str(), stage.display())));
        }
    }
    Ok(abs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, Config, Connection, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::workspace::create(&dir.path().join("ws"), &crate::workspace::SimWorkspace::default()).unwrap();
        let config = Config::load(&file).unwrap();
        let conn = crate::catalogue::open(&config.catalogue).unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        (dir, config, conn, inbox)
    }

    #[test]
    fn triggers_are_queued_archived_and_versioned() {
        let (_d, config, mut conn, inbox) = workspace();
        let defaults = ArchiveOptions { class: Some("raw".into()), ..Default::default() };
        std::fs::write(inbox.join("a.txt"), b"one").unwrap();
        std::fs::write(inbox.join("a.txt.ready"), b"").unwrap();
        // Data not complete yet (no trigger): left alone.
        std::fs::write(inbox.join("b.txt"), b"partial").unwrap();
        let r = pass(&mut conn, &config, &inbox, &defaults).unwrap();
        assert_eq!((r.queued, r.processed.len()), (1, 1));
        assert!(r.processed[0].ok, "{:?}", r.processed[0].error);
        assert!(!inbox.join("a.txt").exists() && inbox.join("a.txt.done").exists() && inbox.join("b.txt").exists());

        std::fs::write(inbox.join("a.txt"), b"two").unwrap();
        std::fs::write(inbox.join("a.txt.ready"), "owner = \"ann\"\n").unwrap();
        let r = pass(&mut conn, &config, &inbox, &defaults).unwrap();
        let a = r.processed[0].archived.as_ref().unwrap();
        assert_eq!((a.path.as_str(), a.version), ("raw/a.v2.txt", 2));
        assert_eq!(a.rights.owner.as_deref(), Some("ann"));
        let first: String = conn.query_row("SELECT path FROM files WHERE id = 1", [], |r| r.get(0)).unwrap();
        assert_eq!(first, "raw/a.txt", "version 1 is untouched");
    }

    #[test]
    fn a_request_interrupted_after_the_spine_ingest_is_completed_not_duplicated() {
        let (_d, config, mut conn, inbox) = workspace();
        let data = inbox.join("late.txt");
        std::fs::write(&data, b"arrived once").unwrap();
        std::fs::write(inbox.join("late.txt.queued"), b"").unwrap();
        conn.execute(
            "INSERT INTO ingest_queue (inbox, name, options, state, queued_at) VALUES (?1, 'late.txt', '{\"class\":\"raw\",\"owner\":\"ann\"}', 'running', '2000-01-01T00:00:00.000Z')",
            [inbox.to_str().unwrap()],
        )
        .unwrap();
        // The crash came after the spine's ingest committed, before the archive's own records.
        crate::ingest::ingest(&mut conn, &config, std::slice::from_ref(&data), &crate::ingest::IngestOptions { stage: crate::config::StageKind::Archive, class: Some("raw".into()), prefix: None }).unwrap();
        let out = process(&mut conn, &config, &inbox, &ArchiveOptions::default()).unwrap();
        assert!(out[0].ok, "{:?}", out[0].error);
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM files"), 1, "not archived twice");
        assert_eq!(count("SELECT count(*) FROM file_versions WHERE logical_path = 'raw/late.txt' AND version = 1"), 1);
        assert_eq!(count("SELECT count(*) FROM file_rights WHERE owner = 'ann'"), 1);
        assert!(inbox.join("late.txt.done").exists() && !data.exists());
    }

    #[test]
    fn bad_triggers_fail_with_the_reason_and_change_nothing() {
        let (_d, config, mut conn, inbox) = workspace();
        std::fs::write(inbox.join("gone.fits.ready"), b"").unwrap();
        std::fs::write(inbox.join("x.txt"), b"x").unwrap();
        std::fs::write(inbox.join("x.txt.ready"), b"colour = 1").unwrap();
        std::fs::write(inbox.join("bad.fits"), b"not a fits file at all").unwrap();
        std::fs::write(inbox.join("bad.fits.ready"), b"class = \"raw\"").unwrap();
        let r = pass(&mut conn, &config, &inbox, &ArchiveOptions::default()).unwrap();
        assert_eq!(r.rejected.len(), 2);
        let gone = std::fs::read_to_string(inbox.join("gone.fits.failed")).unwrap();
        assert!(gone.contains("missing"), "{gone}");
        let x = std::fs::read_to_string(inbox.join("x.txt.failed")).unwrap();
        assert!(x.contains("colour"), "{x}");
        assert_eq!(r.processed.len(), 1);
        let bad = std::fs::read_to_string(inbox.join("bad.fits.failed")).unwrap();
        assert!(bad.contains("bad.fits") && bad.contains("FITS"), "{bad}");
        let files: i64 = conn.query_row("SELECT count(*) FROM files", [], |r| r.get(0)).unwrap();
        assert_eq!(files, 0);
        assert!(inbox.join("bad.fits").exists(), "failed data stays for the operator");
    }
}
