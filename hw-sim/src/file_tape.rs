//! A file-backed tape drive: the simplest simulator behind the [`TapeDrive`] seam.
//!
//! A cartridge is one file holding a sequence of logical objects (data blocks and filemarks),
//! each behind a 5-byte header (kind, little-endian length). The drive keeps an index of the
//! objects so positioning is a table lookup, as on a real drive with a tape directory. It models
//! what the pipeline depends on: block boundaries, filemarks, end of data, an early-warning zone
//! before the cartridge's capacity, physical end of medium, write-append semantics (writing
//! erases everything after the position), a rated speed, and injected faults.
//!
//! The SCSI-level simulator (a target behind the SG_IO transport seam) is a separate module; this
//! one plugs in one level higher, at the `TapeDrive` trait.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use asto_drivers::DeviceIdentity;
use asto_drivers::tape::{ReadOutcome, TapeDrive, TapeError, TapePosition, WriteOutcome};

use crate::faults::Faults;
use crate::rate::RateLimiter;

const KIND_BLOCK: u8 = 0;
const KIND_FILEMARK: u8 = 1;
const HEADER_LEN: u64 = 5;

/// Early-warning zone: how far before the capacity the drive starts warning.
pub const EARLY_WARNING_ZONE: u64 = 2 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
struct Object {
    kind: u8,
    offset: u64,
    len: u32,
}

/// A loaded cartridge.
#[derive(Debug)]
struct Cartridge {
    path: PathBuf,
    file: File,
    capacity: u64,
    objects: Vec<Object>,
    /// Index of the next object to read or write.
    pos: usize,
    /// Payload bytes recorded up to the end of data.
    used: u64,
}

impl Cartridge {
    fn open(path: &Path, capacity: u64) -> Result<Cartridge, TapeError> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        let mut objects = Vec::new();
        let mut offset = 0u64;
        let mut used = 0u64;
        let mut header = [0u8; HEADER_LEN as usize];
        while offset + HEADER_LEN <= len {
            file.seek(SeekFrom::Start(offset))?;
            file.read_exact(&mut header)?;
            let kind = header[0];
            let obj_len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
            if kind > KIND_FILEMARK || offset + HEADER_LEN + u64::from(obj_len) > len {
                // A torn final object (power loss mid-write): end of data is before it.
                break;
            }
            objects.push(Object { kind, offset, len: obj_len });
            used += u64::from(obj_len);
            offset += HEADER_LEN + u64::from(obj_len);
        }
        file.set_len(offset)?;
        Ok(Cartridge { path: path.to_owned(), file, capacity, objects, pos: 0, used })
    }

    fn end_offset(&self, index: usize) -> u64 {
        match index.checked_sub(1).and_then(|i| self.objects.get(i)) {
            Some(o) => o.offset + HEADER_LEN + u64::from(o.len),
            None => 0,
        }
    }

    /// Erase everything from the current position on, as a write at this position does.
    fn truncate_at_pos(&mut self) -> Result<(), TapeError> {
        if self.pos < self.objects.len() {
            let removed: u64 = self.objects[self.pos..].iter().map(|o| u64::from(o.len)).sum();
            self.used -= removed;
            self.objects.truncate(self.pos);
            let end = self.end_offset(self.pos);
            self.file.set_len(end)?;
        }
        Ok(())
    }

    fn append(&mut self, kind: u8, data: &[u8]) -> Result<(), TapeError> {
        let len = u32::try_from(data.len()).map_err(|_| TapeError::BadBlockLength(data.len()))?;
        let offset = self.end_offset(self.pos);
        self.file.seek(SeekFrom::Start(offset))?;
        let mut header = [0u8; HEADER_LEN as usize];
        header[0] = kind;
        header[1..].copy_from_slice(&len.to_le_bytes());
        self.file.write_all(&header)?;
        self.file.write_all(data)?;
        self.objects.push(Object { kind, offset, len });
        self.used += u64::from(len);
        self.pos += 1;
        Ok(())
    }

    fn data_blocks_before(&self, index: usize) -> u64 {
        self.objects[..index].iter().filter(|o| o.kind == KIND_BLOCK).count() as u64
    }
}

/// Configuration of a file-backed tape drive.
#[derive(Debug, Clone)]
pub struct FileTapeConfig {
    /// Directory of the drive (holds `faults.json`).
    pub dir: PathBuf,
    /// Serial number reported by the drive.
    pub serial: String,
    /// Largest block the drive accepts.
    pub max_block: usize,
    /// Rated speed in bytes per second (None: unthrottled).
    pub rate: Option<u64>,
}

/// A simulated tape drive whose cartridges are files.
#[derive(Debug)]
pub struct FileTapeDrive {
    config: FileTapeConfig,
    cartridge: Option<Cartridge>,
    faults: Faults,
    rate: RateLimiter,
}

impl FileTapeDrive {
    pub fn new(config: FileTapeConfig) -> FileTapeDrive {
        let rate = RateLimiter::new(config.rate);
        FileTapeDrive { config, cartridge: None, faults: Faults::default(), rate }
    }

    /// Load the cartridge stored at `path` with the given native capacity in bytes.
    pub fn load(&mut self, path: &Path, capacity: u64) -> Result<(), TapeError> {
        self.faults = Faults::load(&self.config.dir)?.for_medium(path);
        self.cartridge = Some(Cartridge::open(path, capacity)?);
        self.rate = RateLimiter::new(self.config.rate);
        Ok(())
    }

    /// Path of the loaded cartridge, if any.
    pub fn loaded(&self) -> Option<&Path> {
        self.cartridge.as_ref().map(|c| c.path.as_path())
    }

    fn cartridge(&mut self) -> Result<&mut Cartridge, TapeError> {
        if self.faults.offline {
            return Err(TapeError::Hardware("drive is offline (injected fault)".into()));
        }
        self.cartridge.as_mut().ok_or(TapeError::NoMedium)
    }
}

impl TapeDrive for FileTapeDrive {
    fn identity(&mut self) -> Result<DeviceIdentity, TapeError> {
        Ok(DeviceIdentity {
            vendor: "ASTO".into(),
            product: "SIM FILE TAPE".into(),
            revision: env!("CARGO_PKG_VERSION").into(),
            serial: self.config.serial.clone(),
        })
    }

    fn ready(&mut self) -> Result<(), TapeError> {
        self.cartridge().map(|_| ())
    }

    fn rewind(&mut self) -> Result<(), TapeError> {
        self.cartridge()?.pos = 0;
        Ok(())
    }

    fn write_block(&mut self, data: &[u8]) -> Result<WriteOutcome, TapeError> {
        if data.is_empty() || data.len() > self.config.max_block {
            return Err(TapeError::BadBlockLength(data.len()));
        }
        let fault_block = self.faults.write_error_at_block;
        let cart = self.cartridge()?;
        cart.truncate_at_pos()?;
        if fault_block == Some(cart.data_blocks_before(cart.pos)) {
            return Err(TapeError::Medium(format!("write error at block {} (injected fault)", cart.pos)));
        }
        let needed = data.len() as u64 + HEADER_LEN;
        if cart.used + needed > cart.capacity {
            return Err(TapeError::EndOfMedium);
        }
        cart.append(KIND_BLOCK, data)?;
        let warn = cart.used + EARLY_WARNING_ZONE > cart.capacity;
        self.rate.consume(data.len() as u64);
        Ok(if warn { WriteOutcome::EarlyWarning } else { WriteOutcome::Written })
    }

    fn write_filemarks(&mut self, count: u32) -> Result<WriteOutcome, TapeError> {
        let cart = self.cartridge()?;
        cart.truncate_at_pos()?;
        for _ in 0..count {
            cart.append(KIND_FILEMARK, &[])?;
        }
        // A filemark written without IMMED flushes the drive's buffer to the medium.
        cart.file.sync_data()?;
        let warn = cart.used + EARLY_WARNING_ZONE > cart.capacity;
        Ok(if warn { WriteOutcome::EarlyWarning } else { WriteOutcome::Written })
    }

    fn read_block(&mut self, buf: &mut [u8]) -> Result<ReadOutcome, TapeError> {
        let read_fault = self.faults.read_error_at_block;
        let flip = self.faults.flip_bit_at_byte;
        let cart = self.cartridge()?;
        let Some(obj) = cart.objects.get(cart.pos).copied() else {
            return Ok(ReadOutcome::EndOfData);
        };
        let data_block = cart.data_blocks_before(cart.pos);
        cart.pos += 1;
        if obj.kind == KIND_FILEMARK {
            return Ok(ReadOutcome::Filemark);
        }
        if read_fault == Some(data_block) {
            return Err(TapeError::Medium(format!("unrecovered read error at block {data_block} (injected fault)")));
        }
        let len = obj.len as usize;
        if len > buf.len() {
            return Err(TapeError::BlockTooLarge { block: len, buffer: buf.len() });
        }
        cart.file.seek(SeekFrom::Start(obj.offset + HEADER_LEN))?;
        cart.file.read_exact(&mut buf[..len])?;
        if let Some(at) = flip {
            // Offsets count payload bytes from the beginning of the medium.
            let start: u64 = cart.objects[..cart.pos - 1].iter().map(|o| u64::from(o.len)).sum();
            if (start..start + len as u64).contains(&at) {
                buf[(at - start) as usize] ^= 0x01;
            }
        }
        self.rate.consume(len as u64);
        Ok(ReadOutcome::Data(len))
    }

    fn space_filemarks(&mut self, count: i64) -> Result<(), TapeError> {
        let cart = self.cartridge()?;
        let mut remaining = count.unsigned_abs();
        if count >= 0 {
            while remaining > 0 {
                let Some(obj) = cart.objects.get(cart.pos) else { return Err(TapeError::BeyondEndOfData) };
                cart.pos += 1;
                if obj.kind == KIND_FILEMARK {
                    remaining -= 1;
                }
            }
        } else {
            // Backwards: ends before the filemark.
            while remaining > 0 {
                if cart.pos == 0 {
                    return Err(TapeError::Device("beginning of medium reached while spacing backwards".into()));
                }
                cart.pos -= 1;
                if cart.objects[cart.pos].kind == KIND_FILEMARK {
                    remaining -= 1;
                }
            }
        }
        Ok(())
    }

    fn space_to_end_of_data(&mut self) -> Result<(), TapeError> {
        let cart = self.cartridge()?;
        cart.pos = cart.objects.len();
        Ok(())
    }

    fn locate(&mut self, block: u64) -> Result<(), TapeError> {
        let cart = self.cartridge()?;
        let index = usize::try_from(block).map_err(|_| TapeError::BeyondEndOfData)?;
        if index > cart.objects.len() {
            return Err(TapeError::BeyondEndOfData);
        }
        cart.pos = index;
        Ok(())
    }

    fn position(&mut self) -> Result<TapePosition, TapeError> {
        let cart = self.cartridge()?;
        let file = cart.objects[..cart.pos].iter().filter(|o| o.kind == KIND_FILEMARK).count() as u64;
        Ok(TapePosition { block: cart.pos as u64, file: Some(file) })
    }

    fn unload(&mut self) -> Result<(), TapeError> {
        if let Some(cart) = self.cartridge.take() {
            cart.file.sync_all()?;
        }
        Ok(())
    }
}

/// Create an empty cartridge file (a blank tape).
pub fn create_cartridge(path: &Path) -> Result<(), std::io::Error> {
    OpenOptions::new().write(true).create_new(true).open(path).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(dir: &Path, capacity: u64) -> FileTapeDrive {
        let mut d = FileTapeDrive::new(FileTapeConfig { dir: dir.to_owned(), serial: "T1".into(), max_block: 1 << 20, rate: None });
        let cart = dir.join("c.tape");
        if !cart.exists() {
            create_cartridge(&cart).unwrap();
        }
        d.load(&cart, capacity).unwrap();
        d
    }

    #[test]
    fn blocks_filemarks_and_end_of_data_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = drive(dir.path(), 1 << 30);
        d.write_block(b"aaaa").unwrap();
        d.write_filemarks(1).unwrap();
        d.write_block(b"bb").unwrap();
        d.write_filemarks(1).unwrap();
        d.rewind().unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::Data(4));
        assert_eq!(&buf[..4], b"aaaa");
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::Filemark);
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::Data(2));
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::Filemark);
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::EndOfData);
        assert_eq!(d.position().unwrap(), TapePosition { block: 4, file: Some(2) });
    }

    #[test]
    fn contents_survive_unload_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = drive(dir.path(), 1 << 30);
        d.write_block(b"hello").unwrap();
        d.write_filemarks(1).unwrap();
        d.unload().unwrap();
        assert!(matches!(d.read_block(&mut [0u8; 8]), Err(TapeError::NoMedium)));
        let mut d = drive(dir.path(), 1 << 30);
        d.space_to_end_of_data().unwrap();
        assert_eq!(d.position().unwrap().block, 2);
        d.locate(0).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::Data(5));
    }

    #[test]
    fn writing_in_the_middle_erases_what_follows() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = drive(dir.path(), 1 << 30);
        for b in [b"1", b"2", b"3"] {
            d.write_block(b).unwrap();
        }
        d.locate(1).unwrap();
        d.write_block(b"x").unwrap();
        d.rewind().unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::Data(1));
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::Data(1));
        assert_eq!(buf[0], b'x');
        assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::EndOfData);
    }

    #[test]
    fn early_warning_then_physical_end() {
        let dir = tempfile::tempdir().unwrap();
        let capacity = EARLY_WARNING_ZONE + 3 * 65536;
        let mut d = drive(dir.path(), capacity);
        let block = vec![7u8; 65536];
        let mut outcomes = Vec::new();
        loop {
            match d.write_block(&block) {
                Ok(o) => outcomes.push(o),
                Err(TapeError::EndOfMedium) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(outcomes[0], WriteOutcome::Written);
        assert_eq!(*outcomes.last().unwrap(), WriteOutcome::EarlyWarning);
        assert!(outcomes.len() > 3, "writes continue in the early-warning zone");
    }

    #[test]
    fn block_longer_than_buffer_is_reported_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = drive(dir.path(), 1 << 30);
        d.write_block(&[1u8; 100]).unwrap();
        d.write_block(&[2u8; 10]).unwrap();
        d.rewind().unwrap();
        let mut small = [0u8; 50];
        assert!(matches!(d.read_block(&mut small), Err(TapeError::BlockTooLarge { block: 100, buffer: 50 })));
        assert_eq!(d.read_block(&mut small).unwrap(), ReadOutcome::Data(10));
    }

    #[test]
    fn injected_faults_are_specific() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(Faults::FILE_NAME), r#"{"write_error_at_block": 1, "flip_bit_at_byte": 2}"#).unwrap();
        let mut d = drive(dir.path(), 1 << 30);
        d.write_block(b"abcd").unwrap();
        assert!(matches!(d.write_block(b"efgh"), Err(TapeError::Medium(_))));
        d.rewind().unwrap();
        let mut buf = [0u8; 4];
        d.read_block(&mut buf).unwrap();
        assert_eq!(&buf, b"abbd", "bit 0 of byte 2 flipped: c (0x63) -> b (0x62)");
    }

    #[test]
    fn torn_final_object_is_dropped_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = drive(dir.path(), 1 << 30);
        d.write_block(b"whole").unwrap();
        d.unload().unwrap();
        let cart = dir.path().join("c.tape");
        let mut f = OpenOptions::new().append(true).open(&cart).unwrap();
        f.write_all(&[0, 100, 0, 0, 0, 1, 2]).unwrap(); // header says 100 bytes, 2 present
        drop(f);
        let mut d = drive(dir.path(), 1 << 30);
        d.space_to_end_of_data().unwrap();
        assert_eq!(d.position().unwrap().block, 1);
    }
}
