//! Retrieve: read one file back from a volume, positioned straight to it.
//!
//! The controller knows where the file's data starts in the unit's image. On tape that is a
//! logical block (the unit's first block plus the offset divided by the record size) and an
//! offset inside it: the drive locates to that block and reads only the records the file spans.
//! On optical media it is a byte offset on the disc, read with `read_at`. Nothing else on the
//! volume is read. The bytes delivered (decompressed, if the unit compressed the file) must have
//! the catalogue's SHA-256, or nothing is delivered.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use asto_drivers::tape::ReadOutcome;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::devices::DeviceSet;
use crate::error::AgentError;
use crate::wire::{ImageFormat, MediumRef};

/// Read one file from a volume into `dest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrieveJob {
    pub device: String,
    pub medium: MediumRef,
    pub format: ImageFormat,
    /// Tape: logical block where the unit starts.
    pub start_block: Option<u64>,
    /// Tape: record (block) size of the unit.
    pub record_size: usize,
    /// Byte offset of the file's data in the unit's image.
    pub data_offset: u64,
    /// Bytes of the file on the medium.
    pub size: u64,
    /// The unit gzipped the file: decompress while delivering.
    pub gunzip: bool,
    /// SHA-256 (hex) the delivered bytes must have.
    pub sha256: String,
    /// Where to put the file; must not exist.
    pub dest: PathBuf,
}

/// What a retrieval read and delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrieveReport {
    pub barcode: String,
    pub bytes_delivered: u64,
    /// Bytes read from the device (whole tape records, or the extent on a disc).
    pub bytes_read: u64,
    /// Tape records read.
    pub blocks_read: u64,
    /// Tape: the block the drive was positioned to.
    pub located_block: Option<u64>,
    pub sha256: String,
}

/// Hashes and counts what passes through to the destination.
struct Sink {
    out: File,
    sha: Sha256,
    n: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.sha.update(&buf[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Where the raw medium bytes go: straight to the sink, or through a gzip decoder.
enum Output {
    Plain(Sink),
    Gunzip(Box<flate2::write::GzDecoder<Sink>>),
}

impl Output {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Plain(s) => s.write_all(buf),
            Output::Gunzip(d) => d.write_all(buf),
        }
    }

    fn finish(self) -> std::io::Result<Sink> {
        match self {
            Output::Plain(s) => Ok(s),
            Output::Gunzip(d) => d.finish(),
        }
    }
}

/// The temporary file a retrieval writes before the checksum is known to match.
struct Partial(PathBuf, bool);

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> AgentError + '_ {
    move |source| AgentError::Io { path: path.to_owned(), source }
}

pub fn retrieve(devices: &DeviceSet, job: &RetrieveJob) -> Result<RetrieveReport, AgentError> {
    let dest = &job.dest;
    if dest.exists() {
        return Err(AgentError::Io { path: dest.clone(), source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "destination exists; not overwriting") });
    }
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.asto-retrieve"));
    let file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).map_err(io_err(&tmp))?;
    let mut partial = Partial(tmp.clone(), false);
    let sink = Sink { out: file, sha: Sha256::new(), n: 0 };
    let mut output = if job.gunzip { Output::Gunzip(Box::new(flate2::write::GzDecoder::new(sink))) } else { Output::Plain(sink) };

    devices.load(&job.device, &job.medium)?;
    let device = job.device.as_str();
    let barcode = job.medium.barcode.clone();
    let (bytes_read, blocks_read, located_block) = {
        let mut dev = devices.lock(device)?;
        match job.format {
            ImageFormat::Tar => {
                let drive = dev.tape(device)?;
                let tape = |source| AgentError::Tape { device: device.into(), source };
                let start = job.start_block.ok_or_else(|| AgentError::Medium { barcode: barcode.clone(), message: "no start block recorded for this copy".into() })?;
                let record = job.record_size.max(1) as u64;
                let block = start + job.data_offset / record;
                let mut skip = (job.data_offset % record) as usize;
                drive.locate(block).map_err(tape)?;
                let mut buf = vec![0u8; job.record_size.max(1 << 20)];
                let (mut left, mut read, mut blocks) = (job.size, 0u64, 0u64);
                while left > 0 {
                    let n = match drive.read_block(&mut buf).map_err(tape)? {
                        ReadOutcome::Data(n) => n,
                        ReadOutcome::Filemark | ReadOutcome::EndOfData => {
                            return Err(AgentError::Medium {
                                barcode,
                                message: format!("the unit ends {left} bytes before the end of the file (block {})", block + blocks),
                            });
                        }
                    };
                    blocks += 1;
                    read += n as u64;
                    let data = &buf[skip.min(n)..n];
                    skip = skip.saturating_sub(n);
                    let take = (data.len() as u64).min(left) as usize;
                    output.write_all(&data[..take]).map_err(io_err(&tmp))?;
                    left -= take as u64;
                }
                (read, blocks, Some(block))
            }
            ImageFormat::Iso => {
                let burner = dev.burner(device)?;
                let mut buf = vec![0u8; 1 << 20];
                let (mut offset, mut left) = (job.data_offset, job.size);
                while left > 0 {
                    let n = (buf.len() as u64).min(left) as usize;
                    burner.read_at(offset, &mut buf[..n]).map_err(|source| AgentError::Burn { device: device.into(), source })?;
                    output.write_all(&buf[..n]).map_err(io_err(&tmp))?;
                    offset += n as u64;
                    left -= n as u64;
                }
                (job.size, 0, None)
            }
        }
    };
    devices.unload(device, crate::library::Stow::Storage)?;
    let mut sink = output.finish().map_err(|e| AgentError::Medium { barcode: barcode.clone(), message: format!("cannot decompress the file read back: {e}") })?;
    sink.out.flush().map_err(io_err(&tmp))?;
    sink.out.sync_all().map_err(io_err(&tmp))?;
    let sha = hex::encode(sink.sha.finalize());
    if sha != job.sha256 {
        return Err(AgentError::VerifyFailed {
            unit: job.dest.display().to_string(),
            barcode,
            problems: format!("read back {} bytes with sha256 {sha}, the catalogue has {}", sink.n, job.sha256),
        });
    }
    if dest.exists() {
        return Err(AgentError::Io { path: dest.clone(), source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "destination appeared during retrieval") });
    }
    std::fs::rename(&tmp, dest).map_err(io_err(dest))?;
    partial.1 = true;
    tracing::info!(barcode = %job.medium.barcode, device, bytes_read, blocks_read, "file retrieved");
    Ok(RetrieveReport { barcode: job.medium.barcode.clone(), bytes_delivered: sink.n, bytes_read, blocks_read, located_block, sha256: sha })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{UnitFile, UnitSpec, WriteJob};
    use crate::{Agent, AgentConfig, Backend, DeviceKind, DeviceSpec};

    #[test]
    fn one_file_is_read_from_its_block_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let agent = Agent::new(&AgentConfig {
            devices: vec![
                DeviceSpec { name: "t".into(), kind: DeviceKind::Tape, backend: Backend::Sim { dir: d.join("dev/t"), serial: "S".into(), rate: None } },
                DeviceSpec { name: "b".into(), kind: DeviceKind::Optical, backend: Backend::Sim { dir: d.join("dev/b"), serial: "B".into(), rate: None } },
            ],
            shelf: Some(d.join("shelf")),
            media_stage: d.join("media"),
            jukeboxes: Vec::new(),
        })
        .unwrap();
        let mut files = Vec::new();
        let mut contents = Vec::new();
        for i in 0..4u8 {
            let content: Vec<u8> = (0..600_000u32).map(|j| (j as u8).wrapping_mul(i + 3) ^ i).collect();
            let path = d.join(format!("src{i}"));
            std::fs::write(&path, &content).unwrap();
            files.push(UnitFile { medium_path: format!("n/{i}.fits"), source: path, size: content.len() as u64, sha256: hex::encode(Sha256::digest(&content)), mode: 0o644, mtime_ns: 0, compression: "none".into() });
            contents.push(content);
        }
        for (format, device, media) in [(ImageFormat::Tar, "t", "LTO-5"), (ImageFormat::Iso, "b", "DVD+R")] {
            let spec = UnitSpec { unit: "U1".into(), request: "1".into(), format, record_size: 64 << 10, compress: false, created_ns: 0, capacity: 1 << 30, files: files.clone() };
            let unit = agent.prepare(&spec).unwrap();
            let medium = MediumRef { barcode: String::new(), media_type: media.into(), capacity: 1 << 30, profile: media.into() };
            let shelf = asto_hw_sim::shelf::Shelf::open(&d.join("shelf")).unwrap();
            let barcode = match format {
                ImageFormat::Tar => shelf.new_tape("AS", "L5").unwrap(),
                ImageFormat::Iso => shelf.new_disc("DISC", media, 1 << 30).unwrap(),
            };
            let medium = MediumRef { barcode, ..medium };
            let w = agent.write(&WriteJob { copy_id: 1, device: device.into(), medium: medium.clone(), unit: unit.clone(), blank_only: false }, &mut |_| {}).unwrap();
            agent.unload(device).unwrap();
            let offset = unit.data_offsets.iter().find(|(p, _)| p == "n/2.fits").unwrap().1;
            let dest = d.join(format!("out-{device}"));
            let job = RetrieveJob {
                device: device.into(),
                medium,
                format,
                start_block: w.start_block,
                record_size: 64 << 10,
                data_offset: offset,
                size: 600_000,
                gunzip: false,
                sha256: files[2].sha256.clone(),
                dest: dest.clone(),
            };
            let r = agent.retrieve(&job).unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), contents[2]);
            assert!(r.bytes_read <= 600_000 + 2 * (64 << 10), "{device}: read {} bytes", r.bytes_read);
            // A wrong checksum delivers nothing.
            let bad = RetrieveJob { sha256: files[1].sha256.clone(), dest: d.join(format!("bad-{device}")), ..job };
            assert!(matches!(agent.retrieve(&bad), Err(AgentError::VerifyFailed { .. })));
            assert!(!bad.dest.exists() && !d.join(format!(".bad-{device}.asto-retrieve")).exists());
        }
    }
}
