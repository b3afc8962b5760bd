//! Archive ingest: one file into the archive stage under its next versioned name, with its
//! metadata and rights catalogued.
//!
//! The header is read (and a file claiming to be FITS but not parseable is refused) before
//! anything changes; then the spine's ingest (`crate::ingest::ingest`) places and records the
//! file as usual; right after it returns, the version, metadata, full-text entry and rights are
//! recorded in one transaction.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::metadata::{self, FileMetadata};
use super::rights::{self, Rights};
use super::versions;
use crate::catalogue::events;
use crate::config::{Config, StageKind};
use crate::error::{Error, Result};
use crate::ingest::{IngestOptions, ingest};
use crate::stage::check_relative;

/// Where and under which rights a file is archived. Rights given here override what the header
/// says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveOptions {
    pub class: Option<String>,
    pub prefix: Option<String>,
    pub owner: Option<String>,
    pub programme: Option<String>,
    /// End of the proprietary period: a date or RFC 3339 time.
    pub proprietary_until: Option<String>,
}

impl ArchiveOptions {
    /// `self`, with unset fields taken from `defaults`.
    pub fn or(&self, defaults: &ArchiveOptions) -> ArchiveOptions {
        ArchiveOptions {
            class: self.class.clone().or_else(|| defaults.class.clone()),
            prefix: self.prefix.clone().or_else(|| defaults.prefix.clone()),
            owner: self.owner.clone().or_else(|| defaults.owner.clone()),
            programme: self.programme.clone().or_else(|| defaults.programme.clone()),
            proprietary_until: self.proprietary_until.clone().or_else(|| defaults.proprietary_until.clone()),
        }
    }
}

/// One archived file.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivedFile {
    pub file_id: i64,
    /// Stage path as stored (versioned name).
    pub path: String,
    /// Stage path as it arrived.
    pub logical_path: String,
    pub version: u32,
    pub size: u64,
    pub sha256: String,
    pub format: String,
    pub metadata: Option<FileMetadata>,
    pub rights: Rights,
    pub queued_request: Option<i64>,
}

/// The stage path a source named `name` arrives under.
pub fn logical_path(opts: &ArchiveOptions, name: &str) -> Result<String> {
    let class = opts.class.as_deref().ok_or_else(|| Error::input("archive ingest needs a data class"))?;
    let mut p = class.to_owned();
    if let Some(prefix) = &opts.prefix {
        p.push('/');
        p.push_str(prefix);
    }
    p.push('/');
    p.push_str(name);
    check_relative(&p)?;
    Ok(p)
}

/// A directory that disappears on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Archive one file: next version of its name, metadata, rights.
pub fn archive_file(conn: &mut Connection, config: &Config, source: &Path, opts: &ArchiveOptions) -> Result<ArchivedFile> {
    let meta = std::fs::metadata(source).map_err(|e| Error::file(source, e))?;
    if !meta.is_file() {
        return Err(Error::input(format!("{} is not a regular file", source.display())));
    }
    let name = source
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::input(format!("{} has no usable file name", source.display())))?;
    let logical = logical_path(opts, name)?;
    let (format, compression) = crate::formats::classify(name);
    let extracted = metadata::extract(source, format, compression)?;
    // A bad proprietary period end is refused before anything changes.
    opts.proprietary_until.as_deref().map(rights::parse_until).transpose()?;

    let mut version = versions::next_version(conn, &logical)?;
    let stored = loop {
        let candidate = versions::versioned_name(&logical, version);
        let taken: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM files WHERE stage = 'archive' AND path = ?1)", [&candidate], |r| r.get(0))?;
        if !taken {
            break candidate;
        }
        version += 1;
    };

    // The spine's ingest names the staged file after its source: give it a source of the
    // versioned name (a hard link beside the original, or a copy when that is impossible).
    let _temp;
    let src = if stored == logical {
        source.to_owned()
    } else {
        let base = stored.rsplit('/').next().unwrap_or(&stored);
        let dir = source.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".asto-version-{}-{}", std::process::id(), version));
        std::fs::create_dir_all(&tmp).map_err(|e| Error::file(&tmp, e))?;
        _temp = TempDir(tmp.clone());
        let linked = tmp.join(base);
        if std::fs::hard_link(source, &linked).is_err() {
            std::fs::copy(source, &linked).map_err(|e| Error::file(&linked, e))?;
        }
        linked
    };
    let report = ingest(conn, config, &[src], &IngestOptions { stage: StageKind::Archive, class: opts.class.clone(), prefix: opts.prefix.clone() })?;
    let file = report.files.into_iter().next().ok_or_else(|| Error::State("ingest returned no file".into()))?;

    let (meta, rights) = record(conn, file.id, &file.path, &logical, version, extracted, opts, report.queued_request)?;
    tracing::info!(file = file.id, path = %file.path, version, "archived");
    Ok(ArchivedFile {
        file_id: file.id,
        path: file.path,
        logical_path: logical,
        version,
        size: file.size,
        sha256: file.sha256,
        format: file.format,
        metadata: meta,
        rights,
        queued_request: report.queued_request,
    })
}

/// Record what archive ingest adds to the spine's file row, in one transaction: the version,
/// the metadata and full-text entry, the rights (options over header).
#[allow(clippy::too_many_arguments)]
fn record(
    conn: &mut Connection,
    file_id: i64,
    path: &str,
    logical: &str,
    version: u32,
    extracted: Option<(FileMetadata, Rights)>,
    opts: &ArchiveOptions,
    queued_request: Option<i64>,
) -> Result<(Option<FileMetadata>, Rights)> {
    let until = opts.proprietary_until.as_deref().map(rights::parse_until).transpose()?;
    let (meta, header_rights) = match extracted {
        Some((m, r)) => (Some(m), r),
        None => (None, Rights::default()),
    };
    let rights = Rights {
        owner: opts.owner.clone().or(header_rights.owner),
        programme: opts.programme.clone().or(header_rights.programme),
        proprietary_until: until.or(header_rights.proprietary_until),
    };
    let tx = conn.transaction()?;
    versions::record(&tx, file_id, logical, version)?;
    metadata::store(&tx, file_id, path, meta.as_ref())?;
    rights::set(&tx, file_id, &rights)?;
    events::record(
        &tx,
        "archive_ingest",
        "done",
        &events::Subject { request: queued_request, ..Default::default() },
        &format!("'{path}' as version {version} of '{logical}' (file {file_id})"),
    )?;
    tx.commit()?;
    Ok((meta, rights))
}

/// Work a crash interrupted: a file arriving as `name` that the archive already recorded since
/// `since` with this size and modification time. If the crash came between the spine's ingest
/// and the archive's own records, those are completed now. Returns the file's id.
#[allow(clippy::too_many_arguments)]
pub fn recover_interrupted(
    conn: &mut Connection,
    config: &Config,
    name: &str,
    opts: &ArchiveOptions,
    size: u64,
    mtime_ns: i64,
    since: &str,
) -> Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    let logical = logical_path(opts, name)?;
    let last = versions::next_version(conn, &logical)?;
    for version in (1..=last).rev() {
        let path = versions::versioned_name(&logical, version);
        let row: Option<(i64, bool)> = conn
            .query_row(
                "SELECT f.id, EXISTS (SELECT 1 FROM file_versions v WHERE v.file_id = f.id) FROM files f
                 WHERE f.stage = 'archive' AND f.path = ?1 AND f.size = ?2 AND f.mtime_ns = ?3 AND f.ingested_at >= ?4",
                params![path, size, mtime_ns, since],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, recorded)) = row else { continue };
        if !recorded {
            let staged = crate::stage::Stage::new(config, StageKind::Archive).path(&path)?;
            let (format, compression) = crate::formats::classify(name);
            let extracted = metadata::extract(&staged, format, compression)?;
            record(conn, id, &path, &logical, version, extracted, opts, None)?;
            tracing::info!(file = id, path, "completed an archive ingest a crash interrupted");
        }
        return Ok(Some(id));
    }
    Ok(None)
}
