//! Ingest: files enter a data stage and the catalogue.
//!
//! Everything is checked before anything is changed (sources exist and are readable, symlinks
//! stay inside the tree being ingested, paths are new to the stage, the stage has room). Then each
//! file is hard-linked into the stage when on the same filesystem, or copied, under a temporary
//! name, reading it once to compute SHA-256 and CRC32 together. Only when every file is in place
//! are they renamed to their final names and recorded in one catalogue transaction; on any
//! failure the temporary files are removed and the catalogue is untouched.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalogue::{self, events};
use crate::config::{Config, StageKind};
use crate::error::{Error, Result};
use crate::formats;
use crate::stage::{Stage, check_relative, to_stage_path};

/// Where ingested files go.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub stage: StageKind,
    /// Data class (archive stage): decides media type, copies and device group.
    pub class: Option<String>,
    /// Directory inside the stage (after the class) the sources go under.
    pub prefix: Option<String>,
}

/// One ingested file.
#[derive(Debug, Clone, Serialize)]
pub struct Ingested {
    pub id: i64,
    pub stage: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub crc32: u32,
    pub format: String,
    pub compression: String,
    pub linked: bool,
}

/// What ingest returns: the files, and the archive request queued because they filled a volume.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub files: Vec<Ingested>,
    pub queued_request: Option<i64>,
}

struct Planned {
    source: PathBuf,
    stage_path: String,
    size: u64,
    mode: u32,
    mtime_ns: i64,
}

/// Expand sources into files: a file is taken as itself, a directory recursively (keeping its
/// name and structure). Symlinks inside a directory must resolve inside that directory.
fn expand(sources: &[PathBuf], prefix: &str) -> Result<Vec<Planned>> {
    let mut out = Vec::new();
    for src in sources {
        let meta = std::fs::metadata(src).map_err(|e| Error::file(src, e))?;
        let name = src
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::input(format!("{} has no usable file name", src.display())))?;
        let base = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") };
        if meta.is_file() {
            out.push(plan_file(src, &base, &meta));
        } else if meta.is_dir() {
            let root = src.canonicalize().map_err(|e| Error::file(src, e))?;
            for entry in walkdir::WalkDir::new(src).follow_links(false).sort_by_file_name() {
                let entry = entry.map_err(|e| Error::input(format!("reading {}: {e}", src.display())))?;
                let ft = entry.file_type();
                if ft.is_dir() {
                    continue;
                }
                let path = entry.path();
                let rel = to_stage_path(path.strip_prefix(src).map_err(|_| Error::input("walk left its root"))?)?;
                let stage_path = format!("{base}/{rel}");
                if ft.is_symlink() {
                    let target = path.canonicalize().map_err(|e| Error::file(path, e))?;
                    if !target.starts_with(&root) {
                        return Err(Error::input(format!(
                            "{} is a symlink to {}, outside {}; refusing to ingest it",
                            path.display(),
                            target.display(),
                            src.display()
                        )));
                    }
                    let meta = std::fs::metadata(&target).map_err(|e| Error::file(&target, e))?;
                    if !meta.is_file() {
                        continue;
                    }
                    out.push(plan_file(&target, &stage_path, &meta));
                } else if ft.is_file() {
                    let meta = entry.metadata().map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
                    out.push(plan_file(path, &stage_path, &meta));
                } else {
                    return Err(Error::input(format!("{} is not a regular file, directory or symlink", path.display())));
                }
            }
        } else {
            return Err(Error::input(format!("{} is not a regular file or directory", src.display())));
        }
    }
    Ok(out)
}

fn plan_file(source: &Path, stage_path: &str, meta: &std::fs::Metadata) -> Planned {
    Planned {
        source: source.to_owned(),
        stage_path: stage_path.to_owned(),
        size: meta.len(),
        mode: meta.mode() & 0o7777,
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
    }
}

/// Checksums of a file, computed while (optionally) copying it.
struct Digests {
    sha256: String,
    crc32: u32,
    size: u64,
}

fn digest_copy(source: &Path, mut copy_to: Option<&mut File>) -> Result<Digests> {
    let mut input = File::open(source).map_err(|e| Error::file(source, e))?;
    let mut sha = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(|e| Error::file(source, e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        crc.update(&buf[..n]);
        if let Some(out) = copy_to.as_deref_mut() {
            out.write_all(&buf[..n]).map_err(|e| Error::file(source, e))?;
        }
        size += n as u64;
    }
    Ok(Digests { sha256: hex::encode(sha.finalize()), crc32: crc.finalize(), size })
}

/// Temporary files of an ingest in progress; removed on drop unless committed.
struct Staging {
    temps: Vec<PathBuf>,
    finals: Vec<PathBuf>,
    committed: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            for p in self.temps.iter().chain(&self.finals) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// Ingest `sources` into a stage.
pub fn ingest(conn: &mut Connection, config: &Config, sources: &[PathBuf], opts: &IngestOptions) -> Result<IngestReport> {
    if sources.is_empty() {
        return Err(Error::input("nothing to ingest: name files or directories"));
    }
    let class = match (opts.stage, &opts.class) {
        (StageKind::Archive, Some(c)) => {
            config.class(c)?;
            Some(c.clone())
        }
        (StageKind::Archive, None) => return Err(Error::input("archive ingest needs a data class (--class)")),
        (StageKind::User, Some(_)) => return Err(Error::input("data classes belong to the archive stage")),
        (StageKind::User, None) => None,
        (StageKind::Media, _) => return Err(Error::input("the media stage is for prepared units; ingest into archive or user")),
    };
    let mut prefix = String::new();
    if let Some(c) = &class {
        check_relative(c)?;
        prefix.push_str(c);
    }
    if let Some(p) = &opts.prefix {
        check_relative(p)?;
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(p);
    }
    let stage = Stage::new(config, opts.stage);
    let planned = expand(sources, &prefix)?;
    if planned.is_empty() {
        return Err(Error::input("nothing to ingest: the directories named hold no files"));
    }

    // Check everything before changing anything.
    let mut names = BTreeSet::new();
    for p in &planned {
        check_relative(&p.stage_path)?;
        if !names.insert(p.stage_path.as_str()) {
            return Err(Error::input(format!("'{}' is named twice in this ingest", p.stage_path)));
        }
        let exists: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM files WHERE stage = ?1 AND path = ?2)",
            params![opts.stage.as_str(), p.stage_path],
            |r| r.get(0),
        )?;
        if exists || stage.path(&p.stage_path)?.exists() {
            return Err(Error::input(format!("'{}' is already in the {} stage", p.stage_path, opts.stage.as_str())));
        }
        File::open(&p.source).map_err(|e| Error::file(&p.source, e))?;
    }
    if let Some(c) = &class {
        let cls = config.class(c)?;
        let media = config.media_type(&cls.media)?;
        let usable = crate::media::usable_capacity(media);
        for p in &planned {
            if crate::media::file_footprint(media.kind, p.size, &p.stage_path) > usable {
                return Err(Error::input(format!(
                    "'{}' ({} bytes) is larger than a {} volume ({} usable bytes)",
                    p.source.display(),
                    p.size,
                    media.name,
                    usable
                )));
            }
        }
    }
    let used: u64 = conn.query_row(
        "SELECT coalesce(sum(size), 0) FROM files WHERE stage = ?1 AND state = 'staged'",
        [opts.stage.as_str()],
        |r| r.get(0),
    )?;
    let incoming: u64 = planned.iter().map(|p| p.size).sum();
    stage.check_room(incoming, used)?;

    // Place every file under a temporary name, hashing on the way.
    stage.ensure()?;
    let mut staging = Staging { temps: Vec::new(), finals: Vec::new(), committed: false };
    let mut digests = Vec::new();
    let mut linked = Vec::new();
    for p in &planned {
        let dest = stage.path(&p.stage_path)?;
        let dir = dest.parent().unwrap_or(stage.root());
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        let tmp = dir.join(format!(".{}.asto-ingest", dest.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
        let _ = std::fs::remove_file(&tmp);
        let is_link = std::fs::hard_link(&p.source, &tmp).is_ok();
        staging.temps.push(tmp.clone());
        let d = if is_link {
            digest_copy(&tmp, None)?
        } else {
            let mut out = File::create(&tmp).map_err(|e| Error::file(&tmp, e))?;
            let d = digest_copy(&p.source, Some(&mut out))?;
            out.sync_all().map_err(|e| Error::file(&tmp, e))?;
            let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(p.mtime_ns.max(0) as u64);
            out.set_modified(mtime).map_err(|e| Error::file(&tmp, e))?;
            d
        };
        if d.size != p.size {
            return Err(Error::input(format!("{} changed size while being ingested ({} → {} bytes)", p.source.display(), p.size, d.size)));
        }
        digests.push(d);
        linked.push(is_link);
    }
    for (p, tmp) in planned.iter().zip(&staging.temps) {
        let dest = stage.path(&p.stage_path)?;
        if dest.exists() {
            return Err(Error::input(format!("'{}' appeared in the stage during ingest", p.stage_path)));
        }
        std::fs::rename(tmp, &dest).map_err(|e| Error::file(&dest, e))?;
        staging.finals.push(dest);
    }
    staging.temps.clear();

    let tx = conn.transaction()?;
    let now = catalogue::now();
    let mut files = Vec::new();
    for ((p, d), link) in planned.iter().zip(&digests).zip(&linked) {
        let (format, compression) = formats::classify(&p.stage_path);
        tx.execute(
            "INSERT INTO files (stage, path, size, sha256, crc32, format, compression, data_class, mode, mtime_ns, ingested_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![opts.stage.as_str(), p.stage_path, p.size, d.sha256, d.crc32, format, compression, class, p.mode, p.mtime_ns, now],
        )?;
        files.push(Ingested {
            id: tx.last_insert_rowid(),
            stage: opts.stage.as_str().into(),
            path: p.stage_path.clone(),
            size: p.size,
            sha256: d.sha256.clone(),
            crc32: d.crc32,
            format: format.into(),
            compression: compression.into(),
            linked: *link,
        });
    }
    let queued_request = match &class {
        Some(c) => {
            let attach: Vec<(i64, String)> = files.iter().map(|f| (f.id, f.path.clone())).collect();
            crate::requests::attach_archive(&tx, config, c, &attach)?
        }
        None => None,
    };
    events::record(
        &tx,
        "ingest",
        "done",
        &events::Subject::default(),
        &format!("{} files, {incoming} bytes into the {} stage", files.len(), opts.stage.as_str()),
    )?;
    tx.commit()?;
    staging.committed = true;
    Ok(IngestReport { files, queued_request })
}
