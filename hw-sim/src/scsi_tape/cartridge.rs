//! A file-backed tape cartridge: what a real cartridge records, to the byte.
//!
//! A cartridge is a directory holding `meta.json` (barcode, capacity, early-warning zone, write
//! protect, density), `data` (the payload of every block, back to back) and `index` (one 9-byte
//! record per logical object: kind `D`/`F` and the block length, little-endian). Positioning is a
//! table lookup, as in mhvtl's model. Writing at a position erases everything after it (the
//! sequential-medium rule); the index is rewritten atomically on every filemark and on unload, so
//! a crash loses at most the blocks after the last filemark.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Size in bytes of one index record.
const INDEX_RECORD: usize = 9;

/// Fixed properties of a cartridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartridgeMeta {
    pub barcode: String,
    /// Native capacity in bytes (physical end of medium).
    pub capacity: u64,
    /// Size of the early-warning zone before the physical end, in bytes.
    pub early_warning_zone: u64,
    #[serde(default)]
    pub write_protected: bool,
    /// Density code reported by MODE SENSE (0x60 = LTO-9).
    #[serde(default = "default_density")]
    pub density_code: u8,
    /// Keep only the index, not the payload (reads return zeros): for throughput benchmarks
    /// whose data does not need to be read back.
    #[serde(default)]
    pub discard_payload: bool,
}

fn default_density() -> u8 {
    0x60
}

impl CartridgeMeta {
    /// An LTO-9-like cartridge of `capacity` bytes with a 2 MiB early-warning zone (mhvtl's).
    pub fn new(barcode: &str, capacity: u64) -> Self {
        CartridgeMeta {
            barcode: barcode.to_string(),
            capacity,
            early_warning_zone: (2 << 20).min(capacity / 2),
            write_protected: false,
            density_code: 0x60,
            discard_payload: false,
        }
    }
}

/// One logical object on the tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapeObject {
    /// A data block of this many bytes, starting at `offset` in the data file.
    Block { len: u32, offset: u64 },
    Filemark,
}

/// Errors of the cartridge store.
#[derive(Debug, thiserror::Error)]
pub enum CartridgeError {
    #[error("cartridge {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cartridge {path}: bad meta.json: {detail}")]
    BadMeta { path: PathBuf, detail: String },
    #[error("cartridge {path}: index is corrupt ({detail})")]
    BadIndex { path: PathBuf, detail: String },
    #[error("cartridge {0} already exists")]
    Exists(PathBuf),
}

/// An open cartridge.
#[derive(Debug)]
pub struct Cartridge {
    dir: PathBuf,
    meta: CartridgeMeta,
    objects: Vec<TapeObject>,
    data: File,
    /// Payload bytes recorded (end offset of the last block).
    used: u64,
    index_dirty: bool,
}

impl Cartridge {
    fn io(dir: &Path) -> impl Fn(std::io::Error) -> CartridgeError + '_ {
        move |source| CartridgeError::Io { path: dir.to_path_buf(), source }
    }

    /// Create a blank cartridge in `dir` (which must not exist yet).
    pub fn create(dir: &Path, meta: CartridgeMeta) -> Result<Cartridge, CartridgeError> {
        if dir.join("meta.json").exists() {
            return Err(CartridgeError::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).map_err(Self::io(dir))?;
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| CartridgeError::BadMeta { path: dir.into(), detail: e.to_string() })?;
        std::fs::write(dir.join("meta.json"), json).map_err(Self::io(dir))?;
        std::fs::write(dir.join("index"), b"").map_err(Self::io(dir))?;
        File::create(dir.join("data")).map_err(Self::io(dir))?;
        Self::open(dir)
    }

    /// Open an existing cartridge.
    pub fn open(dir: &Path) -> Result<Cartridge, CartridgeError> {
        let meta_bytes = std::fs::read(dir.join("meta.json")).map_err(Self::io(dir))?;
        let meta: CartridgeMeta = serde_json::from_slice(&meta_bytes)
            .map_err(|e| CartridgeError::BadMeta { path: dir.into(), detail: e.to_string() })?;
        if meta.early_warning_zone >= meta.capacity {
            return Err(CartridgeError::BadMeta { path: dir.into(), detail: "early_warning_zone must be smaller than capacity".into() });
        }
        let index = std::fs::read(dir.join("index")).map_err(Self::io(dir))?;
        if index.len() % INDEX_RECORD != 0 {
            return Err(CartridgeError::BadIndex { path: dir.into(), detail: format!("{} bytes is not a whole number of records", index.len()) });
        }
        let mut objects = Vec::with_capacity(index.len() / INDEX_RECORD);
        let mut used = 0u64;
        for rec in index.chunks_exact(INDEX_RECORD) {
            let len = u32::from_le_bytes([rec[1], rec[2], rec[3], rec[4]]);
            match rec[0] {
                b'D' => {
                    objects.push(TapeObject::Block { len, offset: used });
                    used += u64::from(len);
                }
                b'F' => objects.push(TapeObject::Filemark),
                other => return Err(CartridgeError::BadIndex { path: dir.into(), detail: format!("object kind {other:#04x}") }),
            }
        }
        let data = OpenOptions::new().read(true).write(true).open(dir.join("data")).map_err(Self::io(dir))?;
        Ok(Cartridge { dir: dir.to_path_buf(), meta, objects, data, used, index_dirty: false })
    }

    /// Fixed properties.
    pub fn meta(&self) -> &CartridgeMeta {
        &self.meta
    }

    /// Directory of the cartridge.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Recorded objects.
    pub fn objects(&self) -> &[TapeObject] {
        &self.objects
    }

    /// Payload bytes recorded before object `pos`.
    pub fn used_before(&self, pos: usize) -> u64 {
        self.objects[..pos.min(self.objects.len())]
            .iter()
            .rev()
            .find_map(|o| match o {
                TapeObject::Block { len, offset } => Some(offset + u64::from(*len)),
                TapeObject::Filemark => None,
            })
            .unwrap_or(0)
    }

    /// Payload bytes recorded in total.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Number of filemarks before object `pos` (the logical file number).
    pub fn file_number(&self, pos: usize) -> u64 {
        self.objects[..pos.min(self.objects.len())].iter().filter(|o| matches!(o, TapeObject::Filemark)).count() as u64
    }

    /// Erase everything from object `pos` on.
    pub fn truncate(&mut self, pos: usize) -> Result<(), CartridgeError> {
        if pos >= self.objects.len() {
            return Ok(());
        }
        self.used = self.used_before(pos);
        self.objects.truncate(pos);
        if !self.meta.discard_payload {
            self.data.set_len(self.used).map_err(Self::io(&self.dir))?;
        }
        self.index_dirty = true;
        Ok(())
    }

    /// Append a data block at the end of the recorded data.
    pub fn append_block(&mut self, data: &[u8]) -> Result<(), CartridgeError> {
        if !self.meta.discard_payload {
            self.data.write_all_at(data, self.used).map_err(Self::io(&self.dir))?;
        }
        self.objects.push(TapeObject::Block { len: data.len() as u32, offset: self.used });
        self.used += data.len() as u64;
        self.index_dirty = true;
        Ok(())
    }

    /// Append a filemark and persist the index.
    pub fn append_filemark(&mut self) -> Result<(), CartridgeError> {
        self.append_filemarks(1)
    }

    /// Append `count` filemarks and persist the index once.
    pub fn append_filemarks(&mut self, count: usize) -> Result<(), CartridgeError> {
        self.objects.resize(self.objects.len() + count, TapeObject::Filemark);
        self.index_dirty = true;
        self.sync()
    }

    /// Read block payload into `buf` (at most `buf.len()` bytes).
    pub fn read_block(&self, offset: u64, len: u32, buf: &mut [u8]) -> Result<usize, CartridgeError> {
        let n = buf.len().min(len as usize);
        if self.meta.discard_payload {
            buf[..n].fill(0);
        } else {
            self.data.read_exact_at(&mut buf[..n], offset).map_err(Self::io(&self.dir))?;
        }
        Ok(n)
    }

    /// Persist the index (atomically: temp file + rename) and the data.
    pub fn sync(&mut self) -> Result<(), CartridgeError> {
        if !self.index_dirty {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(self.objects.len() * INDEX_RECORD);
        for o in &self.objects {
            let (kind, len) = match o {
                TapeObject::Block { len, .. } => (b'D', *len),
                TapeObject::Filemark => (b'F', 0),
            };
            bytes.push(kind);
            bytes.extend(len.to_le_bytes());
            bytes.extend([0u8; 4]);
        }
        let tmp = self.dir.join("index.tmp");
        let mut f = File::create(&tmp).map_err(Self::io(&self.dir))?;
        f.write_all(&bytes).map_err(Self::io(&self.dir))?;
        self.data.sync_data().map_err(Self::io(&self.dir))?;
        std::fs::rename(&tmp, self.dir.join("index")).map_err(Self::io(&self.dir))?;
        self.index_dirty = false;
        Ok(())
    }
}

impl Drop for Cartridge {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::error!(volume = %self.meta.barcode, error = %e, "could not persist the cartridge index");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_truncate_erases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("A00001L9");
        {
            let mut c = Cartridge::create(&path, CartridgeMeta::new("A00001L9", 10 << 20)).unwrap();
            c.append_block(b"hello").unwrap();
            c.append_filemark().unwrap();
            c.append_block(b"world!").unwrap();
        }
        let mut c = Cartridge::open(&path).unwrap();
        assert_eq!(c.objects().len(), 3);
        assert_eq!(c.used(), 11);
        assert_eq!(c.file_number(3), 1);
        let TapeObject::Block { len, offset } = c.objects()[2] else { panic!("not a block") };
        let mut buf = [0u8; 16];
        assert_eq!(c.read_block(offset, len, &mut buf).unwrap(), 6);
        assert_eq!(&buf[..6], b"world!");
        c.truncate(1).unwrap();
        assert_eq!(c.used(), 5);
        drop(c);
        let c = Cartridge::open(&path).unwrap();
        assert_eq!(c.objects().len(), 1);
        assert_eq!(std::fs::metadata(path.join("data")).unwrap().len(), 5);
        assert!(matches!(Cartridge::create(&path, CartridgeMeta::new("A00001L9", 1 << 20)), Err(CartridgeError::Exists(_))));
    }

    #[test]
    fn corrupt_index_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("B");
        drop(Cartridge::create(&path, CartridgeMeta::new("B", 1 << 20)).unwrap());
        std::fs::write(path.join("index"), b"X\0\0\0\0\0\0\0\0").unwrap();
        assert!(matches!(Cartridge::open(&path), Err(CartridgeError::BadIndex { .. })));
        std::fs::write(path.join("index"), b"D\0\0").unwrap();
        assert!(matches!(Cartridge::open(&path), Err(CartridgeError::BadIndex { .. })));
    }
}
