//! A file-backed optical burner: the simplest simulator behind the [`Burner`] seam.
//!
//! A disc is a data file plus a small JSON sidecar with its profile, capacity and state. Discs are
//! write-once: a burn needs a blank disc and closes it, a failed burn leaves it unusable (as a
//! real DVD±R or BD-R is). The image is streamed into the disc file at the burner's rated speed;
//! the size announced up front is checked against the free space before a byte is written.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use asto_drivers::DeviceIdentity;
use asto_drivers::optical::{BurnError, Burner, DiscState, DiscStatus, ImageProducer, Progress};
use serde::{Deserialize, Serialize};

use crate::faults::Faults;
use crate::rate::RateLimiter;

/// What the sidecar of a simulated disc records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscMeta {
    pub profile: String,
    pub capacity: u64,
    pub state: DiscState,
    /// Bytes of the written session (0 while blank).
    pub session_bytes: u64,
}

fn meta_path(disc: &Path) -> PathBuf {
    let mut p = disc.as_os_str().to_owned();
    p.push(".json");
    PathBuf::from(p)
}

/// Create a blank disc at `path`.
pub fn create_disc(path: &Path, profile: &str, capacity: u64) -> Result<(), std::io::Error> {
    OpenOptions::new().write(true).create_new(true).open(path)?;
    write_meta(path, &DiscMeta { profile: profile.to_owned(), capacity, state: DiscState::Blank, session_bytes: 0 })
}

fn write_meta(disc: &Path, meta: &DiscMeta) -> Result<(), std::io::Error> {
    let path = meta_path(disc);
    let tmp = path.with_extension("json.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Read the sidecar of the disc at `path`.
pub fn read_meta(disc: &Path) -> Result<DiscMeta, std::io::Error> {
    let bytes = std::fs::read(meta_path(disc))?;
    serde_json::from_slice(&bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Configuration of a file-backed burner.
#[derive(Debug, Clone)]
pub struct FileBurnerConfig {
    pub dir: PathBuf,
    pub serial: String,
    pub rate: Option<u64>,
}

/// A simulated optical burner whose discs are files.
#[derive(Debug)]
pub struct FileBurner {
    config: FileBurnerConfig,
    disc: Option<(PathBuf, DiscMeta)>,
    faults: Faults,
}

impl FileBurner {
    pub fn new(config: FileBurnerConfig) -> FileBurner {
        FileBurner { config, disc: None, faults: Faults::default() }
    }

    /// Put the disc stored at `path` in the tray.
    pub fn load(&mut self, path: &Path) -> Result<(), BurnError> {
        self.faults = Faults::load(&self.config.dir)?.for_medium(path);
        let meta = read_meta(path)?;
        self.disc = Some((path.to_owned(), meta));
        Ok(())
    }

    /// Path of the loaded disc, if any.
    pub fn loaded(&self) -> Option<&Path> {
        self.disc.as_ref().map(|(p, _)| p.as_path())
    }

    fn disc(&mut self) -> Result<&mut (PathBuf, DiscMeta), BurnError> {
        if self.faults.offline {
            return Err(BurnError::Device("burner is offline (injected fault)".into()));
        }
        self.disc.as_mut().ok_or(BurnError::NoMedium)
    }
}

/// Counts, throttles and fault-injects the bytes a producer writes into the disc file.
struct DiscWriter<'a> {
    out: BufWriter<File>,
    written: u64,
    limit: u64,
    fail_at: Option<u64>,
    rate: RateLimiter,
    progress: Progress<'a>,
    last_report: u64,
}

impl Write for DiscWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() as u64 > self.limit {
            return Err(std::io::Error::other(format!("image overruns the announced size of {} bytes", self.limit)));
        }
        if let Some(at) = self.fail_at.filter(|at| (self.written..self.written + buf.len() as u64).contains(at)) {
            return Err(std::io::Error::other(format!("write error at byte {at} (injected fault)")));
        }
        self.out.write_all(buf)?;
        self.written += buf.len() as u64;
        self.rate.consume(buf.len() as u64);
        if self.written - self.last_report >= 4 << 20 {
            self.last_report = self.written;
            (self.progress)(self.written);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Sector size of the simulated discs: injected write errors at "block" N fail at byte N × 2048.
const SECTOR: u64 = 2048;

impl Burner for FileBurner {
    fn identity(&mut self) -> Result<DeviceIdentity, BurnError> {
        Ok(DeviceIdentity {
            vendor: "ASTO".into(),
            product: "SIM FILE BURNER".into(),
            revision: env!("CARGO_PKG_VERSION").into(),
            serial: self.config.serial.clone(),
        })
    }

    fn disc_status(&mut self) -> Result<DiscStatus, BurnError> {
        let (_, meta) = self.disc()?;
        let free = match meta.state {
            DiscState::Blank => meta.capacity,
            _ => 0,
        };
        Ok(DiscStatus { state: meta.state, free_bytes: free, profile: meta.profile.clone() })
    }

    fn burn(&mut self, image_size: u64, producer: ImageProducer<'_>, progress: Progress<'_>) -> Result<(), BurnError> {
        let rate = self.config.rate;
        let fail_at = self.faults.write_error_at_block.map(|b| b * SECTOR);
        let (path, meta) = self.disc()?;
        if meta.state != DiscState::Blank {
            return Err(BurnError::NotBlank(meta.state));
        }
        if image_size > meta.capacity {
            return Err(BurnError::TooLarge { image: image_size, free: meta.capacity });
        }
        // From here on the disc is no longer blank, whatever happens: a write-once medium.
        meta.state = DiscState::Closed;
        meta.session_bytes = 0;
        write_meta(path, meta)?;
        let file = OpenOptions::new().write(true).truncate(true).open(&*path)?;
        let mut writer = DiscWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            written: 0,
            limit: image_size,
            fail_at,
            rate: RateLimiter::new(rate),
            progress,
            last_report: 0,
        };
        let produced = producer(&mut writer).and_then(|()| writer.flush());
        let written = writer.written;
        (writer.progress)(written);
        if let Err(e) = produced {
            return Err(BurnError::WriteFailed(e.to_string()));
        }
        if written != image_size {
            return Err(BurnError::SizeMismatch { expected: image_size, got: written });
        }
        let file = writer.out.into_inner().map_err(|e| BurnError::Io(e.into_error()))?;
        file.sync_all()?;
        meta.session_bytes = written;
        write_meta(path, meta)?;
        Ok(())
    }

    fn read_back(&mut self, len: u64) -> Result<Box<dyn Read + '_>, BurnError> {
        let fault = (self.faults.read_error_at_block.map(|b| b * SECTOR), self.faults.flip_bit_at_byte);
        let rate = RateLimiter::new(self.config.rate);
        let (path, meta) = self.disc()?;
        if len > meta.session_bytes {
            return Err(BurnError::ReadFailed(format!("read of {len} bytes beyond the {}-byte session", meta.session_bytes)));
        }
        let file = File::open(&*path)?;
        Ok(Box::new(DiscReader { file: file.take(len), pos: 0, fail_at: fault.0, flip_at: fault.1, rate }))
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BurnError> {
        let (path, meta) = self.disc()?;
        if offset + buf.len() as u64 > meta.session_bytes {
            return Err(BurnError::ReadFailed(format!("read at {offset} beyond the {}-byte session", meta.session_bytes)));
        }
        let mut file = File::open(&*path)?;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)?;
        Ok(())
    }

    fn eject(&mut self) -> Result<(), BurnError> {
        self.disc = None;
        Ok(())
    }
}

/// Reads a disc back at the burner's rated speed, applying injected read faults.
struct DiscReader {
    file: std::io::Take<File>,
    pos: u64,
    fail_at: Option<u64>,
    flip_at: Option<u64>,
    rate: RateLimiter,
}

impl Read for DiscReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        let range = self.pos..self.pos + n as u64;
        if let Some(at) = self.fail_at.filter(|at| range.contains(at)) {
            return Err(std::io::Error::other(format!("unrecovered read error at byte {at} (injected fault)")));
        }
        if let Some(at) = self.flip_at.filter(|at| range.contains(at)) {
            buf[(at - self.pos) as usize] ^= 0x01;
        }
        self.pos += n as u64;
        self.rate.consume(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burner(dir: &Path) -> FileBurner {
        FileBurner::new(FileBurnerConfig { dir: dir.to_owned(), serial: "B1".into(), rate: None })
    }

    fn burn_bytes(b: &mut FileBurner, data: &[u8]) -> Result<(), BurnError> {
        let data = data.to_vec();
        b.burn(data.len() as u64, &mut |w: &mut dyn Write| w.write_all(&data), &mut |_| {})
    }

    #[test]
    fn burns_once_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let disc = dir.path().join("d1.disc");
        create_disc(&disc, "DVD+R", 4096).unwrap();
        let mut b = burner(dir.path());
        b.load(&disc).unwrap();
        assert_eq!(b.disc_status().unwrap().state, DiscState::Blank);
        burn_bytes(&mut b, b"image bytes").unwrap();
        let mut back = String::new();
        b.read_back(11).unwrap().read_to_string(&mut back).unwrap();
        assert_eq!(back, "image bytes");
        assert!(matches!(burn_bytes(&mut b, b"again"), Err(BurnError::NotBlank(DiscState::Closed))));
        let mut word = [0u8; 5];
        b.read_at(6, &mut word).unwrap();
        assert_eq!(&word, b"bytes");
    }

    #[test]
    fn oversize_image_is_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let disc = dir.path().join("d1.disc");
        create_disc(&disc, "CD-R", 10).unwrap();
        let mut b = burner(dir.path());
        b.load(&disc).unwrap();
        assert!(matches!(burn_bytes(&mut b, &[0u8; 11]), Err(BurnError::TooLarge { image: 11, free: 10 })));
        assert_eq!(b.disc_status().unwrap().state, DiscState::Blank, "refused up front: disc still blank");
    }

    #[test]
    fn short_producer_fails_the_burn_and_spoils_the_disc() {
        let dir = tempfile::tempdir().unwrap();
        let disc = dir.path().join("d1.disc");
        create_disc(&disc, "DVD+R", 100).unwrap();
        let mut b = burner(dir.path());
        b.load(&disc).unwrap();
        let r = b.burn(50, &mut |w: &mut dyn Write| w.write_all(&[1u8; 20]), &mut |_| {});
        assert!(matches!(r, Err(BurnError::SizeMismatch { expected: 50, got: 20 })));
        assert_eq!(b.disc_status().unwrap().state, DiscState::Closed);
    }

    #[test]
    fn injected_bit_flip_corrupts_read_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(Faults::FILE_NAME), r#"{"flip_bit_at_byte": 0}"#).unwrap();
        let disc = dir.path().join("d1.disc");
        create_disc(&disc, "DVD+R", 100).unwrap();
        let mut b = burner(dir.path());
        b.load(&disc).unwrap();
        burn_bytes(&mut b, b"a").unwrap();
        let mut back = Vec::new();
        b.read_back(1).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, b"`");
    }
}
