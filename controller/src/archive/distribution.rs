//! Distribution: astronomers' requests for archive files, delivered as a compressed tar bundle
//! (pax tar with `SHA256SUMS` and a manifest, gzipped) or on user media through the normal
//! pipeline. Several requests run at once — at most 7 by default, as the seed's distribution
//! pipeline did — each through a copy step (files from their stage or their volumes, checksums
//! checked) and a verification step (the bundle read back and every file compared with the
//! catalogue). Rights are checked when a request is submitted and again when it runs.
//!
//! Volume reads are serialised (one medium in a drive at a time per process); copying from
//! stages, bundling and verification run in parallel.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use asto_agent::Agent;
use asto_images::{Entry, EntryKind, Timestamp, UnitContent, tar};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::retrieve::{RetrieveOptions, find_file, retrieve};
use super::rights::{self, Principal};
use crate::catalogue::{self, events};
use crate::config::{Config, StageKind};
use crate::error::{Error, Result};

/// Default number of distribution requests processed at once.
pub const DEFAULT_PARALLEL: usize = 7;

/// How files are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Method {
    /// A `.tar.gz` bundle for download.
    Bundle,
    /// User media of this type, through `requests::submit_user`.
    Media { media_type: String, copies: u32 },
}

/// A distribution request as submitted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DistributionRequest {
    pub principal: Principal,
    /// Archive paths or `#ID`s.
    pub files: Vec<String>,
    pub method: Method,
}

/// Status of one request.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub id: i64,
    pub requester: String,
    pub method: String,
    pub state: String,
    pub files: u64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub bundle: Option<String>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    pub user_request: Option<i64>,
    pub error: Option<String>,
}

/// How to process.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// Most requests at once.
    pub max_parallel: usize,
    /// Where bundles are written.
    pub out_dir: PathBuf,
}

/// What a processing run did.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    pub done: Vec<i64>,
    pub failed: Vec<(i64, String)>,
    /// Most requests that were in progress at the same time.
    pub peak_parallel: usize,
    pub max_parallel: usize,
}

fn requester_of(p: &Principal) -> String {
    match p {
        Principal::Public => "public".into(),
        Principal::User { name } | Principal::Admin { name, .. } => name.clone(),
    }
}

/// Default directory for bundles: beside the catalogue, outside every stage.
pub fn default_out_dir(config: &Config) -> PathBuf {
    config.catalogue.parent().unwrap_or(Path::new(".")).join("distribution")
}

/// Submit a request: every file must exist and be the requester's to have.
pub fn submit(conn: &mut Connection, config: &Config, req: &DistributionRequest) -> Result<i64> {
    if req.files.is_empty() {
        return Err(Error::input("a distribution request needs at least one file"));
    }
    if let Method::Media { media_type, copies } = &req.method {
        config.media_type(media_type)?;
        if *copies == 0 || *copies > crate::requests::MAX_COPIES {
            return Err(Error::input(format!("copies must be 1 to {}", crate::requests::MAX_COPIES)));
        }
    }
    let tx = conn.transaction()?;
    let mut ids = Vec::new();
    for f in &req.files {
        let file = find_file(&tx, f)?;
        if file.stage != StageKind::Archive.as_str() {
            return Err(Error::input(format!("'{f}' is not an archive file")));
        }
        rights::check_access(&tx, &req.principal, file.id, &file.path, "distribution")?;
        ids.push(file.id);
    }
    ids.sort_unstable();
    ids.dedup();
    let principal = serde_json::to_string(&req.principal).map_err(|e| Error::State(e.to_string()))?;
    let (method, media, copies) = match &req.method {
        Method::Bundle => ("bundle", None, None),
        Method::Media { media_type, copies } => ("media", Some(media_type.clone()), Some(*copies)),
    };
    tx.execute(
        "INSERT INTO distributions (requester, principal, method, media_type, copies, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)",
        params![requester_of(&req.principal), principal, method, media, copies, catalogue::now()],
    )?;
    let id = tx.last_insert_rowid();
    for f in &ids {
        tx.execute("INSERT INTO distribution_files (distribution_id, file_id) VALUES (?1, ?2)", params![id, f])?;
    }
    events::record(&tx, "distribution", "start", &events::Subject::default(), &format!("request {id}: {} files by {method}", ids.len()))?;
    tx.commit()?;
    Ok(id)
}

/// Status of requests (`ids` empty: all).
pub fn status(conn: &Connection, ids: &[i64]) -> Result<Vec<Status>> {
    let mut stmt = conn.prepare(
        "SELECT d.id, d.requester, d.method, d.state, (SELECT count(*) FROM distribution_files df WHERE df.distribution_id = d.id),
                d.created_at, d.started_at, d.finished_at, d.bundle, d.bytes, d.sha256, d.user_request, d.error
         FROM distributions d ORDER BY d.id",
    )?;
    let all = stmt
        .query_map([], |r| {
            Ok(Status {
                id: r.get(0)?,
                requester: r.get(1)?,
                method: r.get(2)?,
                state: r.get(3)?,
                files: r.get(4)?,
                created_at: r.get(5)?,
                started_at: r.get(6)?,
                finished_at: r.get(7)?,
                bundle: r.get(8)?,
                bytes: r.get(9)?,
                sha256: r.get(10)?,
                user_request: r.get(11)?,
                error: r.get(12)?,
            })
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    for id in ids {
        if !all.iter().any(|s| s.id == *id) {
            return Err(Error::NotFound(format!("there is no distribution request {id}")));
        }
    }
    Ok(all.into_iter().filter(|s| ids.is_empty() || ids.contains(&s.id)).collect())
}

/// Claim the next queued request (atomic across processes).
fn claim(conn: &Connection) -> Result<Option<i64>> {
    let id: Option<i64> = conn.query_row("SELECT id FROM distributions WHERE state = 'queued' ORDER BY id LIMIT 1", [], |r| r.get(0)).optional()?;
    let Some(id) = id else { return Ok(None) };
    let n = conn.execute("UPDATE distributions SET state = 'copying', started_at = ?2 WHERE id = ?1 AND state = 'queued'", params![id, catalogue::now()])?;
    Ok(if n == 1 { Some(id) } else { claim(conn)? })
}

/// Process queued requests until none is left, at most `max_parallel` at once.
pub fn process(config: &Config, agent: Arc<Agent>, opts: &ProcessOptions) -> Result<ProcessReport> {
    if opts.max_parallel == 0 {
        return Err(Error::input("at least one distribution request must be allowed to run"));
    }
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let media_lock = Arc::new(Mutex::new(()));
    let results = Arc::new(Mutex::new((Vec::new(), Vec::new())));
    let mut workers = Vec::new();
    for _ in 0..opts.max_parallel {
        let (config, agent, opts) = (config.clone(), agent.clone(), opts.clone());
        let (in_flight, peak, media_lock, results) = (in_flight.clone(), peak.clone(), media_lock.clone(), results.clone());
        workers.push(std::thread::spawn(move || -> Result<()> {
            let conn = catalogue::open(&config.catalogue)?;
            while let Some(id) = claim(&conn)? {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let outcome = run_one(&conn, &config, &agent, &opts, id, &media_lock);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let finished = catalogue::now();
                let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
                match outcome {
                    Ok(()) => {
                        conn.execute("UPDATE distributions SET state = 'done', finished_at = ?2 WHERE id = ?1", params![id, finished])?;
                        events::record(&conn, "distribution", "done", &events::Subject::default(), &format!("request {id}"))?;
                        r.0.push(id);
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        tracing::warn!(distribution = id, error = %msg, "distribution failed");
                        conn.execute("UPDATE distributions SET state = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1", params![id, finished, msg])?;
                        events::record(&conn, "distribution", "failed", &events::Subject::default(), &format!("request {id}: {msg}"))?;
                        r.1.push((id, msg));
                    }
                }
            }
            Ok(())
        }));
    }
    for w in workers {
        w.join().map_err(|_| Error::State("a distribution worker panicked".into()))??;
    }
    let (mut done, mut failed) = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    done.sort_unstable();
    failed.sort();
    Ok(ProcessReport { done, failed, peak_parallel: peak.load(Ordering::SeqCst), max_parallel: opts.max_parallel })
}

/// A directory removed on drop.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Gathered {
    path: String,
    local: PathBuf,
    size: u64,
    sha256: String,
}

/// Copy step: every file of the request into a working directory, checksums checked.
fn gather(conn: &Connection, config: &Config, agent: &Agent, id: i64, principal: &Principal, work: &Path, media_lock: &Mutex<()>) -> Result<Vec<Gathered>> {
    let files: Vec<(i64, String, String, u64, String)> = conn
        .prepare(
            "SELECT f.id, f.path, f.state, f.size, f.sha256 FROM distribution_files df JOIN files f ON f.id = df.file_id
             WHERE df.distribution_id = ?1 ORDER BY f.path",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let mut out = Vec::new();
    for (file_id, path, state, size, sha256) in files {
        let local = work.join(&path);
        if let Some(dir) = local.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        }
        let opts = RetrieveOptions { principal: principal.clone(), from_media: false };
        let spec = format!("#{file_id}");
        if state == "staged" {
            retrieve(conn, config, agent, &spec, &local, &opts)?;
        } else {
            let _one_medium_at_a_time = media_lock.lock().unwrap_or_else(|p| p.into_inner());
            retrieve(conn, config, agent, &spec, &local, &opts)?;
        }
        out.push(Gathered { path, local, size, sha256 });
    }
    Ok(out)
}

fn run_one(conn: &Connection, config: &Config, agent: &Agent, opts: &ProcessOptions, id: i64, media_lock: &Mutex<()>) -> Result<()> {
    let (principal, method, media_type, copies): (String, String, Option<String>, Option<u32>) =
        conn.query_row("SELECT principal, method, media_type, copies FROM distributions WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let principal: Principal = serde_json::from_str(&principal).map_err(|e| Error::State(format!("distribution {id}: {e}")))?;
    let work = opts.out_dir.join(format!(".dist-{id}.work"));
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(|e| Error::file(&work, e))?;
    }
    std::fs::create_dir_all(&work).map_err(|e| Error::file(&work, e))?;
    let _work = WorkDir(work.clone());
    let files = gather(conn, config, agent, id, &principal, &work, media_lock)?;
    tracing::info!(distribution = id, files = files.len(), "files gathered");

    match method.as_str() {
        "bundle" => {
            let final_path = opts.out_dir.join(format!("dist-{id:06}.tar.gz"));
            let tmp = opts.out_dir.join(format!(".dist-{id:06}.tar.gz.part"));
            let (bytes, sha) = write_bundle(id, &files, &tmp)?;
            conn.execute("UPDATE distributions SET state = 'verifying' WHERE id = ?1", [id])?;
            if let Err(e) = verify_bundle(&tmp, &files) {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            std::fs::rename(&tmp, &final_path).map_err(|e| Error::file(&final_path, e))?;
            conn.execute(
                "UPDATE distributions SET bundle = ?2, bytes = ?3, sha256 = ?4 WHERE id = ?1",
                params![id, final_path.display().to_string(), bytes, sha],
            )?;
            Ok(())
        }
        "media" => {
            let media_type = media_type.ok_or_else(|| Error::State(format!("distribution {id} has no media type")))?;
            let user_request = to_user_media(config, id, &principal, &work, &media_type, copies.unwrap_or(1))?;
            conn.execute("UPDATE distributions SET user_request = ?2 WHERE id = ?1", params![id, user_request])?;
            Ok(())
        }
        other => Err(Error::State(format!("distribution {id} has unknown method {other}"))),
    }
}

/// Write the gathered files as a gzipped pax tar (with SHA256SUMS and manifest); returns its size
/// and SHA-256.
fn write_bundle(id: i64, files: &[Gathered], out: &Path) -> Result<(u64, String)> {
    let now = chrono::Utc::now();
    let created = Timestamp::new(now.timestamp(), 0);
    let mut entries = Vec::new();
    for f in files {
        let mut sha = [0u8; 32];
        hex::decode_to_slice(&f.sha256, &mut sha).map_err(|_| Error::State(format!("catalogue checksum of {} is not a SHA-256", f.path)))?;
        entries.push(Entry { path: f.path.clone(), kind: EntryKind::File { source: f.local.clone(), size: f.size, sha256: Some(sha) }, mode: 0o644, uid: 0, gid: 0, mtime: created });
    }
    let content = UnitContent { volume_id: format!("DIST-{id:06}"), request: id.to_string(), created, entries };
    let image = |e: asto_images::ImageError| Error::State(format!("bundle of distribution {id}: {e}"));
    let plan = tar::plan(&content, &tar::TarOptions { record_size: tar::MIN_RECORD }).map_err(image)?;
    let file = File::create(out).map_err(|e| Error::file(out, e))?;
    let mut gz = flate2::write::GzEncoder::new(asto_images::HashingWriter::new(BufWriter::new(file)), flate2::Compression::fast());
    plan.write_to(&mut gz).map_err(image)?;
    let (mut buffered, bytes, sha) = gz.finish().map_err(|e| Error::file(out, e))?.finish();
    buffered.flush().map_err(|e| Error::file(out, e))?;
    let file = buffered.into_inner().map_err(|e| Error::file(out, e.into_error()))?;
    file.sync_all().map_err(|e| Error::file(out, e))?;
    Ok((bytes, hex::encode(sha)))
}

/// Verification step: read the bundle back and compare every file with the catalogue.
fn verify_bundle(path: &Path, files: &[Gathered]) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::file(path, e))?;
    let summary = asto_images::read::read_tar(flate2::read::GzDecoder::new(BufReader::new(file)))
        .map_err(|e| Error::State(format!("bundle {} does not read back: {e}", path.display())))?;
    let mut problems = summary.problems.clone();
    let mut expected: BTreeMap<&str, (u64, &str)> = files.iter().map(|f| (f.path.as_str(), (f.size, f.sha256.as_str()))).collect();
    for f in &summary.files {
        match expected.remove(f.path.as_str()) {
            Some((size, sha)) if size == f.size && sha == hex::encode(f.sha256) => {}
            Some(_) => problems.push(format!("{} differs from the catalogue", f.path)),
            None => problems.push(format!("unexpected {}", f.path)),
        }
    }
    problems.extend(expected.keys().map(|p| format!("{p} missing")));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::State(format!("bundle {} failed verification: {}", path.display(), problems.join("; "))))
    }
}

/// Media method: the gathered files go into the user stage (under `dist-ID/`) and a user request
/// takes them to media through the pipeline.
fn to_user_media(config: &Config, id: i64, principal: &Principal, work: &Path, media_type: &str, copies: u32) -> Result<i64> {
    // Ingest and submission run their own transactions: a connection of their own.
    let mut conn2 = catalogue::open(&config.catalogue)?;
    let sources: Vec<PathBuf> = std::fs::read_dir(work)
        .map_err(|e| Error::file(work, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::file(work, e)))
        .collect::<Result<_>>()?;
    let prefix = format!("dist-{id:06}");
    let report = crate::ingest::ingest(
        &mut conn2,
        config,
        &sources,
        &crate::ingest::IngestOptions { stage: StageKind::User, class: None, prefix: Some(prefix.clone()) },
    )?;
    let req = crate::requests::UserRequest {
        files: report.files.iter().map(|f| f.path.clone()).collect(),
        media_type: media_type.to_owned(),
        copies,
        compress: false,
        layout: crate::requests::Layout::Keep,
        prefix: String::new(),
        group: None,
        requester: requester_of(principal),
        source: "distribution".into(),
    };
    crate::requests::submit_user(&mut conn2, config, &req)
}
