//! Prepare: everything a unit needs before a device is touched.
//!
//! The seed system built a whole CD image on the media stage here. asto streams images, so
//! preparing is mostly planning: the exact layout and size (checked against the medium's
//! capacity before any medium is loaded) and, when a user asked for compression, gzipped copies
//! of the files in the media stage (compressed sizes are not known in advance).

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use asto_images::{Entry, EntryKind, HashingWriter, Timestamp, UnitContent, iso, tar};

use crate::error::AgentError;
use crate::wire::{ImageFormat, PreparedUnit, UnitFile, UnitSpec};

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
    move |source| AgentError::Io { path: path.to_owned(), source }
}

pub(crate) fn timestamp(ns: i64) -> Timestamp {
    Timestamp::new(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as u32)
}

/// The image content of a prepared unit.
pub(crate) fn content(unit: &PreparedUnit) -> Result<UnitContent, AgentError> {
    let mut entries = Vec::with_capacity(unit.files.len());
    for f in &unit.files {
        let mut sha = [0u8; 32];
        hex::decode_to_slice(&f.sha256, &mut sha).map_err(|_| AgentError::Medium {
            barcode: String::new(),
            message: format!("catalogue checksum of {} is not a SHA-256", f.medium_path),
        })?;
        entries.push(Entry {
            path: f.medium_path.clone(),
            kind: EntryKind::File { source: f.source.clone(), size: f.size, sha256: Some(sha) },
            mode: f.mode & 0o7777,
            uid: 0,
            gid: 0,
            mtime: timestamp(f.mtime_ns),
        });
    }
    Ok(UnitContent { volume_id: unit.unit.clone(), request: unit.request.clone(), created: timestamp(unit.created_ns), entries })
}

/// Planned image of a prepared unit: its exact size and where each file's data starts.
pub(crate) enum Plan {
    Iso(iso::IsoPlan),
    Tar(tar::TarPlan),
}

impl Plan {
    pub fn of(unit: &PreparedUnit) -> Result<Plan, AgentError> {
        let content = content(unit)?;
        let image = |source| AgentError::Image { unit: unit.unit.clone(), source };
        Ok(match unit.format {
            ImageFormat::Iso => Plan::Iso(iso::plan(&content, &iso::IsoOptions::default()).map_err(image)?),
            ImageFormat::Tar => {
                Plan::Tar(tar::plan(&content, &tar::TarOptions { record_size: unit.record_size }).map_err(image)?)
            }
        })
    }

    pub fn total_bytes(&self) -> u64 {
        match self {
            Plan::Iso(p) => p.total_bytes(),
            Plan::Tar(p) => p.total_bytes(),
        }
    }

    fn data_offsets(&self) -> Vec<(String, u64)> {
        match self {
            Plan::Iso(p) => p.extents().iter().map(|e| (e.path.clone(), e.byte_offset)).collect(),
            Plan::Tar(p) => p.members().iter().filter(|m| m.size > 0).map(|m| (m.path.clone(), m.data_offset)).collect(),
        }
    }
}

/// Gzip `source` into `dest`, returning the size and SHA-256 of the compressed file.
fn gzip(source: &Path, dest: &Path) -> Result<(u64, String), AgentError> {
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let input = File::open(source).map_err(io_err(source))?;
    let out = File::create(dest).map_err(io_err(dest))?;
    let mut enc = flate2::write::GzEncoder::new(HashingWriter::new(std::io::BufWriter::new(out)), flate2::Compression::fast());
    std::io::copy(&mut BufReader::with_capacity(1 << 20, input), &mut enc).map_err(io_err(source))?;
    let (mut out, bytes, sha) = enc.finish().map_err(io_err(dest))?.finish();
    out.flush().map_err(io_err(dest))?;
    Ok((bytes, hex::encode(sha)))
}

/// Prepare a unit in `media_stage`. Idempotent: a previous partial preparation is replaced.
pub fn prepare(spec: &UnitSpec, media_stage: &Path) -> Result<PreparedUnit, AgentError> {
    let workdir: PathBuf = media_stage.join(&spec.unit);
    if workdir.exists() {
        std::fs::remove_dir_all(&workdir).map_err(io_err(&workdir))?;
    }
    let mut files = Vec::with_capacity(spec.files.len());
    let mut used_workdir = false;
    for f in &spec.files {
        if spec.compress && f.compression == "none" {
            let medium_path = format!("{}.gz", f.medium_path);
            let dest = workdir.join(&medium_path);
            let (size, sha256) = gzip(&f.source, &dest)?;
            used_workdir = true;
            files.push(UnitFile { medium_path, source: dest, size, sha256, compression: "gzip".into(), ..f.clone() });
        } else {
            files.push(f.clone());
        }
    }
    let mut unit = PreparedUnit {
        unit: spec.unit.clone(),
        request: spec.request.clone(),
        format: spec.format,
        record_size: spec.record_size,
        created_ns: spec.created_ns,
        files,
        image_bytes: 0,
        data_offsets: Vec::new(),
        workdir: used_workdir.then_some(workdir),
    };
    let plan = Plan::of(&unit)?;
    if plan.total_bytes() > spec.capacity {
        if let Some(w) = &unit.workdir {
            let _ = std::fs::remove_dir_all(w);
        }
        return Err(AgentError::DoesNotFit { unit: spec.unit.clone(), image: plan.total_bytes(), capacity: spec.capacity });
    }
    unit.image_bytes = plan.total_bytes();
    unit.data_offsets = plan.data_offsets();
    Ok(unit)
}

/// Remove a prepared unit's working directory, if it has one.
pub fn discard(unit: &PreparedUnit) -> Result<(), AgentError> {
    if let Some(w) = &unit.workdir {
        match std::fs::remove_dir_all(w) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(AgentError::Io { path: w.clone(), source }),
        }
    }
    Ok(())
}
