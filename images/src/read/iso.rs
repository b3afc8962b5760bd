//! Reads an ISO 9660 image front to back, as an optical drive returns it: directories,
//! Rock Ridge continuation areas and file data are visited in ascending sector order, each
//! sector read once, file contents hashed without being held in memory. Works for images
//! whose directories precede the data they describe (asto's, xorriso's, genisoimage's).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufReader, ErrorKind, Read};

use sha2::{Digest, Sha256};

use super::check::against_lists;
use super::{ReadSummary, MAX_METADATA};
use crate::error::ImageError;
use crate::unit::FileDigest;
use crate::{MANIFEST_NAME, SUMS_NAME};

const FORMAT: &str = "ISO 9660";
const SECTOR: u64 = 2048;
/// Directory and continuation sectors kept for lookups (metadata only, never file data).
const MAX_METADATA_SECTORS: usize = 1 << 18;

fn malformed(detail: String) -> ImageError {
    ImageError::Malformed { format: FORMAT, detail }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
}

#[derive(Debug)]
struct Item {
    parent: usize,
    iso_name: String,
    rr_name: Vec<u8>,
    has_nm: bool,
    kind: Kind,
    /// (sector, bytes) of each extent.
    extents: Vec<(u64, u64)>,
}

#[derive(Debug)]
enum Task {
    Dir { item: usize, size: u64 },
    Continuation { item: usize, offset: u64, len: u64 },
    Data { item: usize, extent: usize },
}

struct Reader<R: Read> {
    input: BufReader<R>,
    /// Next sector the input will deliver.
    pos: u64,
    cache: HashMap<u64, Vec<u8>>,
    items: Vec<Item>,
    pending: BTreeMap<u64, Vec<Task>>,
    hashers: HashMap<usize, (Sha256, usize, u64)>,
    kept: HashMap<usize, Vec<u8>>,
    problems: Vec<String>,
}

impl<R: Read> Reader<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ImageError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.input.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(malformed(format!("image ends early, in sector {}", self.pos)));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ImageError::Read(e)),
            }
        }
        Ok(())
    }

    fn skip_to(&mut self, lba: u64) -> Result<(), ImageError> {
        let mut sector = vec![0u8; SECTOR as usize];
        while self.pos < lba {
            self.fill(&mut sector)?;
            self.pos += 1;
        }
        Ok(())
    }

    /// Metadata sectors `lba .. lba+count`, from the cache or read now.
    fn metadata(&mut self, lba: u64, count: u64) -> Result<Vec<u8>, ImageError> {
        let mut out = Vec::with_capacity((count * SECTOR) as usize);
        for s in lba..lba + count {
            if let Some(bytes) = self.cache.get(&s) {
                out.extend_from_slice(bytes);
                continue;
            }
            if s < self.pos {
                return Err(malformed(format!("metadata in sector {s} is referenced after it was passed")));
            }
            self.skip_to(s)?;
            let mut sector = vec![0u8; SECTOR as usize];
            self.fill(&mut sector)?;
            self.pos += 1;
            if self.cache.len() >= MAX_METADATA_SECTORS {
                return Err(malformed("more directory sectors than a reader keeps".into()));
            }
            out.extend_from_slice(&sector);
            self.cache.insert(s, sector);
        }
        Ok(out)
    }

    fn schedule(&mut self, lba: u64, task: Task) {
        self.pending.entry(lba).or_default().push(task);
    }

    /// Parses SUSP entries of `item` (names, types, continuation areas).
    fn system_use(&mut self, item: usize, mut su: &[u8]) {
        while su.len() >= 4 {
            let len = usize::from(su[2]);
            if len < 4 || len > su.len() {
                break;
            }
            let (entry, rest) = su.split_at(len);
            match &entry[..2] {
                b"NM" if len >= 5 => {
                    let it = &mut self.items[item];
                    it.has_nm = true;
                    it.rr_name.extend_from_slice(&entry[5..]);
                }
                b"PX" if len >= 12 => {
                    let mode = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
                    if mode & 0o170_000 == 0o120_000 {
                        self.items[item].kind = Kind::Symlink;
                    }
                }
                b"SL" => self.items[item].kind = Kind::Symlink,
                b"CE" if len >= 28 => {
                    let lba = u64::from(u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]));
                    let offset = u64::from(u32::from_le_bytes([entry[12], entry[13], entry[14], entry[15]]));
                    let ce_len = u64::from(u32::from_le_bytes([entry[20], entry[21], entry[22], entry[23]]));
                    self.schedule(lba, Task::Continuation { item, offset, len: ce_len });
                }
                b"ST" => break,
                _ => {}
            }
            su = rest;
        }
    }

    fn directory(&mut self, dir: usize, lba: u64, size: u64) -> Result<(), ImageError> {
        let bytes = self.metadata(lba, size.div_ceil(SECTOR))?;
        let mut at = 0usize;
        let mut continuing: Option<usize> = None;
        while at < bytes.len() {
            let len = usize::from(bytes[at]);
            if len == 0 {
                at = (at / SECTOR as usize + 1) * SECTOR as usize;
                continue;
            }
            if len < 34 || at + len > bytes.len() {
                return Err(malformed(format!("bad directory record in sector {}", lba + (at as u64) / SECTOR)));
            }
            let r = &bytes[at..at + len];
            at += len;
            let ext = u64::from(u32::from_le_bytes([r[2], r[3], r[4], r[5]]));
            let data_len = u64::from(u32::from_le_bytes([r[10], r[11], r[12], r[13]]));
            let flags = r[25];
            let fi_len = usize::from(r[32]);
            if 33 + fi_len > len {
                return Err(malformed(format!("bad identifier length in sector {}", lba)));
            }
            let fi = &r[33..33 + fi_len];
            if fi == [0] || fi == [1] {
                continue;
            }
            let su = &r[(33 + fi_len + usize::from(fi_len % 2 == 0)).min(len)..];
            let is_dir = flags & 2 != 0;
            let item = match continuing.take() {
                Some(item) => {
                    self.items[item].extents.push((ext, data_len));
                    item
                }
                None => {
                    self.items.push(Item {
                        parent: dir,
                        iso_name: String::from_utf8_lossy(fi).into_owned(),
                        rr_name: Vec::new(),
                        has_nm: false,
                        kind: if is_dir { Kind::Dir } else { Kind::File },
                        extents: vec![(ext, data_len)],
                    });
                    let item = self.items.len() - 1;
                    self.system_use(item, su);
                    item
                }
            };
            if flags & 0x80 != 0 {
                continuing = Some(item);
                continue;
            }
            match self.items[item].kind {
                Kind::Dir => self.schedule(ext, Task::Dir { item, size: data_len }),
                Kind::File => {
                    for (i, &(lba, size)) in self.items[item].extents.clone().iter().enumerate() {
                        if size > 0 {
                            self.schedule(lba, Task::Data { item, extent: i });
                        }
                    }
                }
                Kind::Symlink => {}
            }
        }
        Ok(())
    }

    fn data(&mut self, item: usize, extent: usize, buf: &mut [u8]) -> Result<(), ImageError> {
        let (lba, size) = self.items[item].extents[extent];
        if lba < self.pos {
            return Err(malformed(format!("file data in sector {lba} lies before its directory")));
        }
        self.skip_to(lba)?;
        let keep = self.items[item].parent == 0 && size <= MAX_METADATA && {
            let n = self.items[item].iso_name.to_ascii_uppercase();
            n.starts_with("MANIFEST") || n.starts_with("SHA256SUMS")
        };
        let entry = self.hashers.entry(item).or_insert_with(|| (Sha256::new(), 0, 0));
        if entry.1 != extent {
            self.problems.push(format!("extents of {:?} are out of order", self.items[item].iso_name));
        }
        let mut left = size.next_multiple_of(SECTOR);
        let mut useful = size;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..n])?;
            let used = useful.min(n as u64) as usize;
            let (hasher, next, total) = self.hashers.get_mut(&item).ok_or_else(|| ImageError::Internal("hasher".into()))?;
            hasher.update(&buf[..used]);
            *next = extent + 1;
            *total += used as u64;
            if keep {
                self.kept.entry(item).or_default().extend_from_slice(&buf[..used]);
            }
            useful -= used as u64;
            left -= n as u64;
            self.pos += n as u64 / SECTOR;
        }
        Ok(())
    }

    fn path(&self, mut item: usize) -> String {
        let mut parts = Vec::new();
        while item != 0 {
            let it = &self.items[item];
            let name = if it.has_nm {
                String::from_utf8_lossy(&it.rr_name).into_owned()
            } else {
                let n = it.iso_name.split(';').next().unwrap_or(&it.iso_name);
                n.strip_suffix('.').unwrap_or(n).to_owned()
            };
            parts.push(name);
            item = it.parent;
        }
        parts.reverse();
        parts.join("/")
    }
}

/// Reads an ISO image front to back and checks every file against `SHA256SUMS` and the
/// manifest on it.
pub fn read_iso<R: Read>(input: R) -> Result<ReadSummary, ImageError> {
    let mut r = Reader {
        input: BufReader::with_capacity(1 << 20, input),
        pos: 0,
        cache: HashMap::new(),
        items: vec![Item {
            parent: 0,
            iso_name: String::new(),
            rr_name: Vec::new(),
            has_nm: false,
            kind: Kind::Dir,
            extents: Vec::new(),
        }],
        pending: BTreeMap::new(),
        hashers: HashMap::new(),
        kept: HashMap::new(),
        problems: Vec::new(),
    };
    // Volume descriptors from sector 16 to the terminator.
    let mut volume_id = None;
    let mut root = None;
    let mut volume_sectors = 0u64;
    let mut lba = 16;
    loop {
        let d = r.metadata(lba, 1)?;
        if &d[1..6] != b"CD001" {
            return Err(malformed(format!("no volume descriptor in sector {lba}")));
        }
        match d[0] {
            1 => {
                volume_id = Some(String::from_utf8_lossy(&d[40..72]).trim_end().to_owned());
                volume_sectors = u64::from(u32::from_le_bytes([d[80], d[81], d[82], d[83]]));
                let rec = &d[156..190];
                let ext = u64::from(u32::from_le_bytes([rec[2], rec[3], rec[4], rec[5]]));
                let size = u64::from(u32::from_le_bytes([rec[10], rec[11], rec[12], rec[13]]));
                root = Some((ext, size));
            }
            255 => break,
            _ => {}
        }
        lba += 1;
        if lba > 16 + 64 {
            return Err(malformed("no volume descriptor set terminator".into()));
        }
    }
    let (root_lba, root_size) = root.ok_or_else(|| malformed("no primary volume descriptor".into()))?;
    r.schedule(root_lba, Task::Dir { item: 0, size: root_size });

    let mut visited_dirs = HashSet::new();
    let mut buf = vec![0u8; 1 << 20];
    while let Some((lba, tasks)) = r.pending.pop_first() {
        for task in tasks {
            match task {
                Task::Dir { item, size } => {
                    if visited_dirs.insert(lba) {
                        r.directory(item, lba, size)?;
                    }
                }
                Task::Continuation { item, offset, len } => {
                    let bytes = r.metadata(lba, (offset + len).div_ceil(SECTOR))?;
                    let area = bytes[offset as usize..(offset + len) as usize].to_vec();
                    r.system_use(item, &area);
                }
                Task::Data { item, extent } => r.data(item, extent, &mut buf)?,
            }
        }
    }
    // Read up to the declared volume size (so a truncated image is noticed), never beyond:
    // a drive's run-out past the image is no part of it.
    if r.pos < volume_sectors {
        r.skip_to(volume_sectors)?;
    }

    let mut files = Vec::new();
    let mut sums = None;
    let mut manifest = None;
    let empty: [u8; 32] = Sha256::digest(b"").into();
    for i in 1..r.items.len() {
        if r.items[i].kind != Kind::File {
            continue;
        }
        let path = r.path(i);
        if r.items[i].parent == 0 && (path == SUMS_NAME || path == MANIFEST_NAME) {
            let bytes = r.kept.remove(&i).unwrap_or_default();
            if path == SUMS_NAME { sums = Some(bytes) } else { manifest = Some(bytes) }
            continue;
        }
        let size: u64 = r.items[i].extents.iter().map(|e| e.1).sum();
        let sha256 = match r.hashers.remove(&i) {
            Some((h, _, _)) => h.finalize().into(),
            None => empty,
        };
        files.push(FileDigest { path, size, sha256 });
    }
    let mut problems = std::mem::take(&mut r.problems);
    let (manifest, mut found) = against_lists(&files, sums.as_deref(), manifest.as_deref());
    problems.append(&mut found);
    if let (Some(m), Some(v)) = (&manifest, &volume_id)
        && &m.unit != v
    {
        problems.push(format!("volume ID {v:?} differs from the manifest's unit {:?}", m.unit));
    }
    Ok(ReadSummary { volume_id, manifest, files, problems })
}
