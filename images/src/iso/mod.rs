//! The optical format: ISO 9660 level 3 with Rock Ridge and Joliet, streamed.
//!
//! Layout, in sector order: system area, primary and Joliet volume descriptors, terminator,
//! the four path tables, the ISO directories (each followed by its Rock Ridge continuation
//! areas), the Joliet directories, then file data in tree order, and last `MANIFEST.json` and
//! `SHA256SUMS`. Everything up to the file data depends only on names and sizes, so it is
//! computed by [`plan`]; the two root files that need checksums come after the data, so one
//! pass over the sources suffices. Files of 4 GiB and more get several extents (level 3).
//! Directories deeper than ISO 9660's eight levels are written in place, as xorriso does by
//! default; Linux, libarchive, xorriso and isoinfo read them.

mod bytes;
mod descriptor;
mod names;
mod record;
mod rockridge;
mod tree;

use std::io::Write;

use tracing::{debug, info};

use bytes::SECTOR;
use descriptor::{path_table, path_table_size, terminator, volume_descriptor, DescriptorLayout, DescriptorText, PathTableDir};
use record::{encode_record, pack, record_len, system_use, DirPlace, Layout, RecordSpec};
use rockridge::SystemUse;
use tree::{directories_bfs, MetaFile, Node, NodeKind};

use crate::error::ImageError;
use crate::manifest::Manifest;
use crate::readahead::ReadAhead;
use crate::source::copy_verified;
use crate::tree::normalize;
use crate::unit::{FileDigest, Timestamp, UnitContent, WriteSummary};
use crate::writer::ImageSink;
use crate::{MANIFEST_NAME, SUMS_NAME};

/// First sector after the system area, descriptors and terminator.
const FIRST_FREE_LBA: u64 = 19;

/// Options of the ISO writer (none yet; the defaults are the archive policy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsoOptions {}

/// Where a file's data lies in the image (all extents of a file are contiguous).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    pub path: String,
    pub byte_offset: u64,
    pub size: u64,
}

#[derive(Debug)]
struct DataItem {
    node: usize,
    lba: u64,
}

/// The exact layout of one unit's image, computed before any byte is written.
#[derive(Debug)]
pub struct IsoPlan {
    total: u64,
    /// Every byte before the first file data sector.
    head: Vec<u8>,
    nodes: Vec<Node>,
    data: Vec<DataItem>,
    extents: Vec<Extent>,
    volume_id: String,
    request: String,
    created: Timestamp,
    /// Regular files in tree order with planned sizes (checksums zero).
    files: Vec<(usize, FileDigest)>,
}

fn check_volume_id(id: &str) -> Result<(), ImageError> {
    let bad = |reason: &str| Err(ImageError::BadVolumeId { volume_id: id.to_owned(), reason: reason.to_owned() });
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > 32 {
        return bad("longer than 32 characters");
    }
    if !id.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return bad("only printable ASCII is allowed");
    }
    Ok(())
}

/// Plans the ISO image of `unit`.
pub fn plan(unit: &UnitContent, _opts: &IsoOptions) -> Result<IsoPlan, ImageError> {
    check_volume_id(&unit.volume_id)?;
    let entries = normalize(unit)?;
    let files0: Vec<FileDigest> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            crate::EntryKind::File { size, .. } => Some(FileDigest { path: e.path.clone(), size: *size, sha256: [0; 32] }),
            _ => None,
        })
        .collect();
    let (manifest, sums) = Manifest::medium_files(&unit.volume_id, &unit.request, unit.created, &files0)?;
    let nodes = tree::build(
        &entries,
        unit.created,
        [(MetaFile::Manifest, MANIFEST_NAME, manifest.len() as u64), (MetaFile::Sums, SUMS_NAME, sums.len() as u64)],
    )?;
    let iso_order = directories_bfs(&nodes, false);
    let joliet_order = directories_bfs(&nodes, true);
    if iso_order.len() > usize::from(u16::MAX) {
        return Err(ImageError::TooLarge(format!("{} directories (path tables hold at most 65535)", iso_order.len())));
    }

    let mut layout = Layout {
        nodes: &nodes,
        iso_dirs: vec![DirPlace::default(); nodes.len()],
        joliet_dirs: vec![DirPlace::default(); nodes.len()],
        data_lba: vec![0; nodes.len()],
    };

    // Sizes first (they do not depend on positions). Each ISO directory is followed by the
    // continuation areas of its records, where sequential readers (libarchive) expect them.
    let mut ce_offsets: Vec<Vec<u64>> = vec![Vec::new(); nodes.len()];
    let mut ce_sectors: Vec<u64> = vec![0; nodes.len()];
    for (order, joliet) in [(&iso_order, false), (&joliet_order, true)] {
        for &d in order.iter() {
            let specs = layout.records(d, joliet);
            let sus: Vec<SystemUse> = specs.iter().map(system_use).collect();
            let ce_lens: Vec<usize> =
                sus.iter().filter(|s| !s.continuation.is_empty()).map(|s| s.continuation.len()).collect();
            if ce_lens.iter().any(|&l| l as u64 > SECTOR) {
                return Err(ImageError::TooLarge(format!(
                    "Rock Ridge data of an entry in {:?} exceeds one sector",
                    nodes[d].path
                )));
            }
            if !ce_lens.is_empty() {
                let (offsets, size) = pack(ce_lens.iter().copied());
                ce_offsets[d] = offsets;
                ce_sectors[d] = size / SECTOR;
            }
            let (_, size) = pack(specs.iter().zip(&sus).map(|(s, su)| record_len(s, su)));
            let place = if joliet { &mut layout.joliet_dirs[d] } else { &mut layout.iso_dirs[d] };
            place.size = size;
        }
    }

    let ident = |d: usize, joliet: bool| -> Vec<u8> {
        if d == 0 { vec![0] } else if joliet { nodes[d].joliet_id.clone() } else { nodes[d].iso_id.clone() }
    };
    let iso_pt_size = path_table_size(iso_order.iter().map(|&d| ident(d, false).len()));
    let joliet_pt_size = path_table_size(joliet_order.iter().map(|&d| ident(d, true).len()));
    let sectors = |bytes: u64| bytes.div_ceil(SECTOR);
    let mut lba = FIRST_FREE_LBA;
    let pt = [lba, lba + sectors(iso_pt_size), lba + 2 * sectors(iso_pt_size), lba + 2 * sectors(iso_pt_size) + sectors(joliet_pt_size)];
    lba = pt[3] + sectors(joliet_pt_size);
    let mut ce_start = vec![0u64; nodes.len()];
    for &d in &iso_order {
        layout.iso_dirs[d].lba = lba;
        lba += layout.iso_dirs[d].size / SECTOR;
        ce_start[d] = lba;
        lba += ce_sectors[d];
    }
    for &d in &joliet_order {
        layout.joliet_dirs[d].lba = lba;
        lba += layout.joliet_dirs[d].size / SECTOR;
    }
    let data_start = lba;

    // File data in tree order, then the manifest and checksum list.
    let mut data = Vec::new();
    let mut extents = Vec::new();
    let mut files = Vec::new();
    let order: Vec<usize> = (1..nodes.len())
        .filter(|&n| matches!(nodes[n].kind, NodeKind::File { .. }))
        .chain((1..nodes.len()).filter(|&n| matches!(nodes[n].kind, NodeKind::Meta { .. })))
        .collect();
    for n in order {
        let size = nodes[n].data_size();
        if let NodeKind::File { .. } = nodes[n].kind {
            files.push((n, FileDigest { path: nodes[n].path.clone(), size, sha256: [0; 32] }));
        }
        if size == 0 {
            extents.push(Extent { path: nodes[n].path.clone(), byte_offset: 0, size: 0 });
            continue;
        }
        layout.data_lba[n] = lba;
        data.push(DataItem { node: n, lba });
        extents.push(Extent { path: nodes[n].path.clone(), byte_offset: lba * SECTOR, size });
        lba += sectors(size);
    }
    let total_sectors = u32::try_from(lba).map_err(|_| ImageError::TooLarge(format!("{lba} sectors exceed ISO 9660's 2^32")))?;

    // Encode everything before the data.
    let mut head = vec![0u8; (data_start * SECTOR) as usize];
    for (order, joliet) in [(&iso_order, false), (&joliet_order, true)] {
        for &d in order.iter() {
            let mut ce_next = 0usize;
            let place = if joliet { layout.joliet_dirs[d] } else { layout.iso_dirs[d] };
            let specs = layout.records(d, joliet);
            let mut sus: Vec<SystemUse> = specs.iter().map(system_use).collect();
            let (offsets, _) = pack(specs.iter().zip(&sus).map(|(s, su)| record_len(s, su)));
            for ((spec, su), off) in specs.iter().zip(sus.iter_mut()).zip(offsets) {
                if !su.continuation.is_empty() {
                    let at = ce_offsets[d].get(ce_next).copied().ok_or_else(|| {
                        ImageError::Internal("continuation area not planned".into())
                    })?;
                    ce_next += 1;
                    let ce_lba = ce_start[d] + at / SECTOR;
                    let ce = rockridge::ce(ce_lba as u32, (at % SECTOR) as u32, su.continuation.len() as u32);
                    let n = su.inline.len();
                    su.inline[n - rockridge::CE_LEN..].copy_from_slice(&ce);
                    let pos = (ce_start[d] * SECTOR + at) as usize;
                    head[pos..pos + su.continuation.len()].copy_from_slice(&su.continuation);
                }
                let bytes = encode_record(spec, &su.inline)?;
                let pos = (place.lba * SECTOR + off) as usize;
                head[pos..pos + bytes.len()].copy_from_slice(&bytes);
            }
        }
    }
    let application = format!("ASTO {}", env!("CARGO_PKG_VERSION"));
    for (joliet, vd_lba, l, m, order, size) in [
        (false, 16u64, pt[0], pt[1], &iso_order, iso_pt_size),
        (true, 17u64, pt[2], pt[3], &joliet_order, joliet_pt_size),
    ] {
        let number: std::collections::HashMap<usize, u16> =
            order.iter().enumerate().map(|(i, &d)| (d, (i + 1) as u16)).collect();
        let idents: Vec<Vec<u8>> = order.iter().map(|&d| ident(d, joliet)).collect();
        let places = if joliet { &layout.joliet_dirs } else { &layout.iso_dirs };
        let dirs: Vec<PathTableDir> = order
            .iter()
            .zip(&idents)
            .map(|(&d, id)| PathTableDir {
                identifier: id,
                lba: places[d].lba as u32,
                parent_number: number.get(&nodes[d].parent).copied().unwrap_or(1),
            })
            .collect();
        for (at, big) in [(l, false), (m, true)] {
            let table = path_table(&dirs, big);
            let pos = (at * SECTOR) as usize;
            head[pos..pos + table.len()].copy_from_slice(&table);
        }
        let root = RecordSpec {
            identifier: vec![0],
            lba: places[0].lba,
            size: places[0].size,
            flags: 2,
            mtime: unit.created,
            system_use: Vec::new(),
        };
        let vd = volume_descriptor(
            &DescriptorText { volume_id: &unit.volume_id, application: &application },
            &DescriptorLayout {
                total_sectors,
                path_table_size: size as u32,
                path_table_l: l as u32,
                path_table_m: m as u32,
                root_record: encode_record(&root, &[])?,
                created: unit.created,
            },
            joliet,
        );
        let pos = (vd_lba * SECTOR) as usize;
        head[pos..pos + vd.len()].copy_from_slice(&vd);
    }
    let t = terminator();
    head[(18 * SECTOR) as usize..(19 * SECTOR) as usize].copy_from_slice(&t);

    Ok(IsoPlan {
        total: lba * SECTOR,
        head,
        nodes,
        data,
        extents,
        volume_id: unit.volume_id.clone(),
        request: unit.request.clone(),
        created: unit.created,
        files,
    })
}

impl IsoPlan {
    /// Exact image size, a multiple of 2048.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Where each file's data lies (including `MANIFEST.json` and `SHA256SUMS`).
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// Streams the image to `out`: exactly `total_bytes()` bytes, one pass over the sources.
    pub fn write_to<W: Write>(&self, out: W) -> Result<WriteSummary, ImageError> {
        std::thread::scope(|scope| self.stream(ImageSink::new(out, scope)))
    }

    fn stream<W: Write>(&self, mut sink: ImageSink<'_, W>) -> Result<WriteSummary, ImageError> {
        let mut buf = Vec::new();
        let sources: Vec<(std::path::PathBuf, u64)> = self
            .data
            .iter()
            .filter_map(|item| match &self.nodes[item.node].kind {
                NodeKind::File { source, size, .. } => Some((source.clone(), *size)),
                _ => None,
            })
            .collect();
        let mut read_ahead = ReadAhead::new(sources);
        let (mut file_index, mut file_start) = (0usize, 0u64);
        sink.put(&self.head)?;
        let mut digests: std::collections::HashMap<usize, [u8; 32]> = std::collections::HashMap::new();
        let empty: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(b"").into()
        };
        let mut files: Vec<FileDigest> = Vec::new();
        let mut meta_written = false;
        for item in &self.data {
            let node = &self.nodes[item.node];
            if let NodeKind::Meta { which, size } = &node.kind {
                if !meta_written {
                    files = self
                        .files
                        .iter()
                        .map(|(n, f)| FileDigest { sha256: digests.get(n).copied().unwrap_or(empty), ..f.clone() })
                        .collect();
                    meta_written = true;
                }
                let (manifest, sums) = Manifest::medium_files(&self.volume_id, &self.request, self.created, &files)?;
                let bytes = match which {
                    MetaFile::Manifest => manifest,
                    MetaFile::Sums => sums,
                };
                if bytes.len() as u64 != *size {
                    return Err(ImageError::Internal(format!("{} changed length", node.path)));
                }
                sink.pad_to(item.lba * SECTOR)?;
                sink.put(&bytes)?;
                continue;
            }
            if let NodeKind::File { source, size, sha256 } = &node.kind {
                sink.pad_to(item.lba * SECTOR)?;
                read_ahead.before(file_index, file_start);
                file_index += 1;
                file_start += size;
                let digest = copy_verified(source, *size, *sha256, Some(&mut sink), &mut buf)?;
                digests.insert(item.node, digest);
                debug!(path = %node.path, size, "ISO file written");
            }
        }
        if !meta_written {
            return Err(ImageError::Internal("manifest and checksum list were not planned".into()));
        }
        // Empty files have no data item, but are in the list with the empty checksum.
        sink.pad_to(self.total)?;
        let image_sha256 = sink.finish(self.total)?;
        info!(volume = %self.volume_id, bytes = self.total, files = files.len(), "ISO image written");
        Ok(WriteSummary { bytes: self.total, files, image_sha256 })
    }
}
