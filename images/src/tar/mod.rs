//! The tape format: a POSIX.1-2001 pax tar stream in fixed-size records.
//!
//! Layout: `MANIFEST.json` first, then `SHA256SUMS`, then the unit's entries parents-first,
//! then the two zero end blocks, padded to a whole record. Every member's byte offset is known
//! from the plan, so the catalogue can record it and a reader can position straight to one
//! member. When some checksums are not known up front, `write_to` hashes those files in a
//! first pass (and proves in the second that they did not change in between).

mod header;

use std::io::Write;
use std::path::PathBuf;

use tracing::{debug, info};

use crate::error::ImageError;
use crate::manifest::Manifest;
use crate::readahead::ReadAhead;
use crate::source::{copy_verified, COPY_BUFFER};
use crate::tree::normalize;
use crate::unit::{EntryKind, FileDigest, Timestamp, UnitContent, WriteSummary};
use crate::writer::ImageSink;
use crate::{MANIFEST_NAME, SUMS_NAME};

pub(crate) use header::{checksum_ok, parse_octal, parse_pax, BLOCK};
use header::{encode, HeaderSpec, DIRECTORY, REGULAR, SYMLINK};

/// Threads hashing files whose checksum is not known before the stream starts.
const PREPASS_THREADS: usize = 2;

/// Smallest, default and largest record size.
pub const MIN_RECORD: usize = 64 * 1024;
pub const DEFAULT_RECORD: usize = 256 * 1024;
pub const MAX_RECORD: usize = 1024 * 1024;

/// Options of the tar writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarOptions {
    /// Bytes per record (tape block): 64 KiB ..= 1 MiB, a multiple of 512.
    pub record_size: usize,
}

impl Default for TarOptions {
    fn default() -> Self {
        TarOptions { record_size: DEFAULT_RECORD }
    }
}

/// Where one member lies in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberLocation {
    /// Path on the medium (directories without a trailing slash).
    pub path: String,
    /// Offset of the member's first header block (its pax header, if any): start reading here.
    pub header_offset: u64,
    /// Offset of the member's data.
    pub data_offset: u64,
    /// Bytes of data (0 for directories and symlinks).
    pub size: u64,
}

#[derive(Debug)]
enum Body {
    Manifest,
    Sums,
    File { source: PathBuf, size: u64, sha256: Option<[u8; 32]> },
    Empty,
}

#[derive(Debug)]
struct Member {
    header: Vec<u8>,
    body: Body,
}

/// The exact layout of one unit's tar stream, computed before any byte is written.
#[derive(Debug)]
pub struct TarPlan {
    record_size: usize,
    total: u64,
    locations: Vec<MemberLocation>,
    members: Vec<Member>,
    volume_id: String,
    request: String,
    created: Timestamp,
    /// Regular files in stream order, with their planned sizes (checksums zero).
    files: Vec<FileDigest>,
    manifest_len: u64,
    sums_len: u64,
}

/// Plans the tar stream of `unit`.
pub fn plan(unit: &UnitContent, opts: &TarOptions) -> Result<TarPlan, ImageError> {
    let rs = opts.record_size;
    if !(MIN_RECORD..=MAX_RECORD).contains(&rs) || !rs.is_multiple_of(BLOCK) {
        return Err(ImageError::BadOption(format!(
            "tar record size {rs} must be {MIN_RECORD}..={MAX_RECORD} bytes and a multiple of {BLOCK}"
        )));
    }
    let entries = normalize(unit)?;
    let files: Vec<FileDigest> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::File { size, .. } => Some(FileDigest { path: e.path.clone(), size: *size, sha256: [0; 32] }),
            _ => None,
        })
        .collect();
    let (manifest, sums) = Manifest::medium_files(&unit.volume_id, &unit.request, unit.created, &files)?;

    let mut members = Vec::with_capacity(entries.len() + 2);
    let mut locations = Vec::with_capacity(entries.len() + 2);
    let mut offset = 0u64;
    let mut push = |path: &str, spec: HeaderSpec, body: Body, members: &mut Vec<Member>| {
        let header = encode(&spec);
        let data_offset = offset + header.len() as u64;
        locations.push(MemberLocation { path: path.to_owned(), header_offset: offset, data_offset, size: spec.size });
        offset = data_offset + spec.size.next_multiple_of(BLOCK as u64);
        members.push(Member { header, body });
    };
    let meta = |path: &'static str, size: usize| HeaderSpec {
        path,
        typeflag: REGULAR,
        mode: 0o444,
        uid: 0,
        gid: 0,
        size: size as u64,
        mtime: unit.created,
        linkname: "",
    };
    push(MANIFEST_NAME, meta(MANIFEST_NAME, manifest.len()), Body::Manifest, &mut members);
    push(SUMS_NAME, meta(SUMS_NAME, sums.len()), Body::Sums, &mut members);
    for e in &entries {
        let (typeflag, size, linkname, body) = match &e.kind {
            EntryKind::File { source, size, sha256 } => {
                (REGULAR, *size, "", Body::File { source: source.clone(), size: *size, sha256: *sha256 })
            }
            EntryKind::Directory => (DIRECTORY, 0, "", Body::Empty),
            EntryKind::Symlink { target } => (SYMLINK, 0, target.as_str(), Body::Empty),
        };
        let spec = HeaderSpec { path: &e.path, typeflag, mode: e.mode, uid: e.uid, gid: e.gid, size, mtime: e.mtime, linkname };
        push(&e.path, spec, body, &mut members);
    }
    let end = offset + 2 * BLOCK as u64;
    let total = end.next_multiple_of(rs as u64);
    Ok(TarPlan {
        record_size: rs,
        total,
        locations,
        members,
        volume_id: unit.volume_id.clone(),
        request: unit.request.clone(),
        created: unit.created,
        files,
        manifest_len: manifest.len() as u64,
        sums_len: sums.len() as u64,
    })
}

impl TarPlan {
    /// Exact length of the stream, a multiple of the record size.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn record_size(&self) -> usize {
        self.record_size
    }

    /// Every member with its offsets, in stream order (manifest and checksum list first).
    pub fn members(&self) -> &[MemberLocation] {
        &self.locations
    }

    /// Checksums of every file, hashing those not known from ingest in a first pass shared
    /// by two threads (each takes the next file when free).
    fn known_checksums(&self) -> Result<Vec<[u8; 32]>, ImageError> {
        let mut out = Vec::with_capacity(self.files.len());
        let mut unknown = Vec::new();
        for m in &self.members {
            if let Body::File { source, size, sha256 } = &m.body {
                if sha256.is_none() {
                    unknown.push((out.len(), source, *size));
                }
                out.push(sha256.unwrap_or([0; 32]));
            }
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..PREPASS_THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        let mut buf = vec![0u8; COPY_BUFFER];
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((slot, source, size)) = unknown.get(i) else { break };
                            done.push((*slot, copy_verified(source, *size, None, None, &mut buf)));
                        }
                        done
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join()).collect::<Vec<_>>()
        });
        let mut first_error: Option<(usize, ImageError)> = None;
        for worker in results {
            let done = worker.map_err(|_| ImageError::Internal("a hashing thread panicked".into()))?;
            for (slot, result) in done {
                match result {
                    Ok(digest) => out[slot] = digest,
                    Err(e) => {
                        if first_error.as_ref().is_none_or(|(s, _)| slot < *s) {
                            first_error = Some((slot, e));
                        }
                    }
                }
            }
        }
        match first_error {
            Some((_, e)) => Err(e),
            None => Ok(out),
        }
    }

    /// Streams the tar to `out`: exactly `total_bytes()` bytes, no temporary files.
    pub fn write_to<W: Write>(&self, out: W) -> Result<WriteSummary, ImageError> {
        let checksums = self.known_checksums()?;
        let mut files = self.files.clone();
        for (f, sha) in files.iter_mut().zip(&checksums) {
            f.sha256 = *sha;
        }
        let (manifest, sums) = Manifest::medium_files(&self.volume_id, &self.request, self.created, &files)?;
        if manifest.len() as u64 != self.manifest_len || sums.len() as u64 != self.sums_len {
            return Err(ImageError::Internal("manifest or checksum list changed length".into()));
        }
        let image_sha256 = std::thread::scope(|scope| {
            let mut sink = ImageSink::new(out, scope);
            let mut buf = Vec::new();
            let mut next_file = 0usize;
            let mut file_start = 0u64;
            let mut read_ahead = ReadAhead::new(
                self.members
                    .iter()
                    .filter_map(|m| match &m.body {
                        Body::File { source, size, .. } => Some((source.clone(), *size)),
                        _ => None,
                    })
                    .collect(),
            );
            for (m, loc) in self.members.iter().zip(&self.locations) {
                sink.pad_to(loc.header_offset)?;
                sink.put(&m.header)?;
                match &m.body {
                    Body::Manifest => sink.put(&manifest)?,
                    Body::Sums => sink.put(&sums)?,
                    Body::File { source, size, .. } => {
                        let expected = checksums.get(next_file).copied();
                        read_ahead.before(next_file, file_start);
                        next_file += 1;
                        file_start += size;
                        copy_verified(source, *size, expected, Some(&mut sink), &mut buf)?;
                        debug!(path = %loc.path, size, "tar member written");
                    }
                    Body::Empty => {}
                }
            }
            sink.pad_to(self.total)?;
            sink.finish(self.total)
        })?;
        info!(volume = %self.volume_id, bytes = self.total, files = files.len(), record = self.record_size, "tar stream written");
        Ok(WriteSummary { bytes: self.total, files, image_sha256 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::Entry;

    fn unit_with(dir: &std::path::Path) -> UnitContent {
        std::fs::write(dir.join("f"), b"data").unwrap();
        UnitContent {
            volume_id: "ARC-LTO-000001".into(),
            request: "req".into(),
            created: Timestamp::new(1_700_000_000, 0),
            entries: vec![Entry {
                path: "d/f".into(),
                kind: EntryKind::File { source: dir.join("f"), size: 4, sha256: None },
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: Timestamp::new(1_700_000_000, 0),
            }],
        }
    }

    #[test]
    fn writes_exactly_the_plan_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let unit = unit_with(dir.path());
        let plan = plan(&unit, &TarOptions { record_size: 64 * 1024 }).unwrap();
        let mut a = Vec::new();
        let summary = plan.write_to(&mut a).unwrap();
        assert_eq!(a.len() as u64, plan.total_bytes());
        assert_eq!(a.len() % (64 * 1024), 0);
        let mut b = Vec::new();
        plan.write_to(&mut b).unwrap();
        assert_eq!(a, b);
        let names: Vec<_> = plan.members().iter().map(|m| m.path.as_str()).collect();
        assert_eq!(names, [MANIFEST_NAME, SUMS_NAME, "d", "d/f"]);
        let f = &plan.members()[3];
        assert_eq!(&a[f.data_offset as usize..][..4], b"data");
        assert_eq!(summary.files[0].sha256, <[u8; 32]>::from(sha2::Sha256::digest(b"data")));
    }

    #[test]
    fn refuses_bad_record_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let unit = unit_with(dir.path());
        for rs in [512, 64 * 1024 + 1, 2 << 20] {
            assert!(matches!(plan(&unit, &TarOptions { record_size: rs }), Err(ImageError::BadOption(_))));
        }
    }

    use sha2::Digest;
}
