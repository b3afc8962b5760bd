//! The consistency check tool: proves that what the catalogue says matches what is on disk and
//! on media. Stage files against the catalogue (missing, unregistered, size or checksum
//! mismatch), and volumes against the catalogue (every verified copy on the chosen volumes read
//! back by the agent and compared with the catalogue's checksums). The report is stored in the
//! catalogue and returned; runnable on a schedule (systemd timer).

use std::collections::BTreeSet;
use std::io::Read;

use asto_agent::Agent;
use asto_agent::wire::VerifyJob;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::retrieve::{device_for, is_online};
use crate::catalogue::{self, events};
use crate::config::{Config, StageKind};
use crate::error::{Error, Result};
use crate::pipeline::jobs;
use crate::stage::{Stage, to_stage_path};

/// Which volumes to re-verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Volumes {
    None,
    /// Every volume in a jukebox holding verified copies.
    All,
    Barcodes(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub stage: bool,
    pub volumes: Volumes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Catalogued as in its stage, but not there.
    Missing,
    /// In a stage, but not catalogued there.
    Unregistered,
    SizeMismatch,
    ChecksumMismatch,
    /// A volume asked for that the catalogue does not know.
    UnknownVolume,
    /// A volume asked for that is not in a jukebox.
    VolumeOffline,
    /// A copy on a volume did not read back as the catalogue says.
    CopyMismatch,
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// Stage path (`archive:raw/a.fits`) or volume barcode.
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub at: String,
    pub stage_files_checked: u64,
    pub stage_bytes_checked: u64,
    pub volumes_checked: u64,
    pub copies_checked: u64,
    pub problems: Vec<Problem>,
    pub clean: bool,
}

fn sha256_of(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        sha.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(sha.finalize())))
}

/// Files of one stage against the catalogue.
fn check_stage(conn: &Connection, config: &Config, kind: StageKind, report: &mut CheckReport) -> Result<()> {
    let stage = Stage::new(config, kind);
    let rows: Vec<(String, u64, String)> = conn
        .prepare("SELECT path, size, sha256 FROM files WHERE stage = ?1 AND state = 'staged' ORDER BY path")?
        .query_map([kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let mut known = BTreeSet::new();
    for (path, size, sha) in rows {
        let subject = format!("{}:{path}", kind.as_str());
        let abs = stage.path(&path)?;
        known.insert(path);
        let meta = match std::fs::symlink_metadata(&abs) {
            Ok(m) => m,
            Err(e) => {
                report.problems.push(Problem { kind: ProblemKind::Missing, subject, detail: format!("{}: {e}", abs.display()) });
                continue;
            }
        };
        report.stage_files_checked += 1;
        if !meta.is_file() {
            report.problems.push(Problem { kind: ProblemKind::Missing, subject, detail: format!("{} is not a regular file", abs.display()) });
            continue;
        }
        if meta.len() != size {
            report.problems.push(Problem { kind: ProblemKind::SizeMismatch, subject, detail: format!("{} bytes on disk, {size} catalogued", meta.len()) });
            continue;
        }
        let (n, got) = sha256_of(&abs).map_err(|e| Error::file(&abs, e))?;
        report.stage_bytes_checked += n;
        if got != sha {
            report.problems.push(Problem { kind: ProblemKind::ChecksumMismatch, subject, detail: format!("sha256 {got} on disk, {sha} catalogued") });
        }
    }
    if stage.root().is_dir() {
        for entry in walkdir::WalkDir::new(stage.root()).follow_links(false).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::input(format!("walking the {} stage: {e}", kind.as_str())))?;
            if entry.file_type().is_dir() {
                continue;
            }
            // Work in progress of ingest and retrieval is hidden (dot names) and not data.
            if entry.file_name().to_str().is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            let rel = entry.path().strip_prefix(stage.root()).map_err(|_| Error::State("stage walk left its root".into()))?;
            let rel = to_stage_path(rel)?;
            if known.contains(&rel) {
                continue;
            }
            let state: Option<String> = conn
                .query_row("SELECT state FROM files WHERE stage = ?1 AND path = ?2", params![kind.as_str(), rel], |r| r.get(0))
                .optional()?;
            let detail = match state {
                Some(s) => format!("catalogued as {s}, yet still in the stage"),
                None => "not in the catalogue".into(),
            };
            report.problems.push(Problem { kind: ProblemKind::Unregistered, subject: format!("{}:{rel}", kind.as_str()), detail });
        }
    }
    Ok(())
}

/// Re-verify every verified copy on one volume.
fn check_volume(conn: &Connection, config: &Config, agent: &Agent, volume: i64, barcode: &str, report: &mut CheckReport) -> Result<()> {
    let copies: Vec<(i64, i64, Option<u64>, String, String, String)> = conn
        .prepare(
            "SELECT c.id, c.unit_id, c.start_block, u.name, v.media_type, v.location FROM copies c JOIN units u ON u.id = c.unit_id
             JOIN volumes v ON v.id = c.volume_id WHERE c.volume_id = ?1 AND c.state = 'verified' ORDER BY c.start_block",
        )?
        .query_map([volume], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<std::result::Result<_, _>>()?;
    report.volumes_checked += 1;
    for (copy, unit, start_block, unit_name, media_type, location) in copies {
        let device = device_for(conn, config, &media_type, &location)?;
        let job = VerifyJob { copy_id: copy, device: device.clone(), medium: jobs::medium(conn, config, volume)?, unit: jobs::prepared_unit(conn, unit)?, start_block, export: false };
        let result = agent.verify(&job, &mut |_| {});
        let _ = agent.unload(&device);
        report.copies_checked += 1;
        match result {
            Ok(v) => tracing::info!(volume = barcode, unit = %unit_name, files = v.files_checked, "copy re-verified"),
            Err(e) => {
                tracing::warn!(volume = barcode, unit = %unit_name, error = %e, "copy does not match the catalogue");
                report.problems.push(Problem { kind: ProblemKind::CopyMismatch, subject: barcode.to_owned(), detail: format!("unit {unit_name}: {e}") });
            }
        }
    }
    Ok(())
}

/// Run the check. `agent` is needed only for volumes.
pub fn check(conn: &Connection, config: &Config, agent: Option<&Agent>, opts: &CheckOptions) -> Result<CheckReport> {
    let mut report = CheckReport {
        at: catalogue::now(),
        stage_files_checked: 0,
        stage_bytes_checked: 0,
        volumes_checked: 0,
        copies_checked: 0,
        problems: Vec::new(),
        clean: true,
    };
    if opts.stage {
        for kind in [StageKind::Archive, StageKind::User] {
            check_stage(conn, config, kind, &mut report)?;
        }
    }
    let volumes: Vec<(i64, String, String)> = match &opts.volumes {
        Volumes::None => Vec::new(),
        Volumes::All => conn
            .prepare(
                "SELECT DISTINCT v.id, v.barcode, v.location FROM volumes v JOIN copies c ON c.volume_id = v.id
                 WHERE c.state = 'verified' AND v.location LIKE 'jukebox:%' ORDER BY v.barcode",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<std::result::Result<_, _>>()?,
        Volumes::Barcodes(list) => {
            let mut out = Vec::new();
            for b in list {
                match conn.query_row("SELECT id, location FROM volumes WHERE barcode = ?1", [b], |r| Ok((r.get(0)?, r.get(1)?))).optional()? {
                    None => report.problems.push(Problem { kind: ProblemKind::UnknownVolume, subject: b.clone(), detail: "not in the catalogue".into() }),
                    Some((id, location)) => out.push((id, b.clone(), location)),
                }
            }
            out
        }
    };
    for (id, barcode, location) in volumes {
        if !is_online(&location) {
            report.problems.push(Problem {
                kind: ProblemKind::VolumeOffline,
                subject: barcode,
                detail: format!("at {location}, not in a jukebox; put it into one to check it"),
            });
            continue;
        }
        let agent = agent.ok_or_else(|| Error::State("checking volumes needs an agent".into()))?;
        check_volume(conn, config, agent, id, &barcode, &mut report)?;
    }
    report.clean = report.problems.is_empty();
    let json = serde_json::to_string(&report).map_err(|e| Error::State(e.to_string()))?;
    conn.execute("INSERT INTO check_reports (at, problems, report) VALUES (?1, ?2, ?3)", params![report.at, report.problems.len() as i64, json])?;
    events::record(
        conn,
        "check",
        if report.clean { "done" } else { "failed" },
        &events::Subject::default(),
        &format!(
            "{} stage files, {} copies on {} volumes checked: {} problems",
            report.stage_files_checked,
            report.copies_checked,
            report.volumes_checked,
            report.problems.len()
        ),
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{IngestOptions, ingest};

    #[test]
    fn stage_problems_are_found_and_a_clean_stage_is_clean() {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::workspace::create(&dir.path().join("ws"), &crate::workspace::SimWorkspace::default()).unwrap();
        let config = Config::load(&file).unwrap();
        let mut conn = crate::catalogue::open(&config.catalogue).unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for n in ["a", "b", "c"] {
            std::fs::write(src.join(n), n.repeat(1000)).unwrap();
        }
        ingest(&mut conn, &config, &[src], &IngestOptions { stage: StageKind::Archive, class: Some("raw".into()), prefix: None }).unwrap();
        let opts = CheckOptions { stage: true, volumes: Volumes::None };
        let r = check(&conn, &config, None, &opts).unwrap();
        assert!(r.clean && r.stage_files_checked == 3, "{r:?}");

        let root = config.stages.archive.path.join("raw/src");
        // Hard links share the source's inode: replace rather than modify in place.
        std::fs::remove_file(root.join("a")).unwrap();
        std::fs::write(root.join("a"), "x".repeat(1000)).unwrap();
        std::fs::remove_file(root.join("b")).unwrap();
        std::fs::write(root.join("stray.fits"), b"?").unwrap();
        let r = check(&conn, &config, None, &opts).unwrap();
        let kinds: Vec<(ProblemKind, &str)> = r.problems.iter().map(|p| (p.kind, p.subject.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (ProblemKind::ChecksumMismatch, "archive:raw/src/a"),
                (ProblemKind::Missing, "archive:raw/src/b"),
                (ProblemKind::Unregistered, "archive:raw/src/stray.fits"),
            ]
        );
        let stored: i64 = conn.query_row("SELECT problems FROM check_reports ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, 3);
    }
}
