//! Directory records of both trees: what each record says (ISO 9660 fields, Rock Ridge
//! entries, multi-extent chains), how records pack into sectors, and their encoding.

use super::bytes::{both_u16, both_u32, date7, SECTOR};
use super::rockridge::{self, SystemUse, S_IFDIR, S_IFLNK, S_IFREG};
use super::tree::{sorted_children, Node, NodeKind};
use crate::error::ImageError;
use crate::unit::Timestamp;

/// Largest extent of a multi-extent file: 4 GiB minus one sector.
pub(super) const MAX_EXTENT: u64 = 0xFFFF_F800;

/// Per-directory numbers of one tree.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DirPlace {
    pub lba: u64,
    pub size: u64,
}

/// A directory record before encoding.
pub(super) struct RecordSpec {
    pub identifier: Vec<u8>,
    pub lba: u64,
    pub size: u64,
    pub flags: u8,
    pub mtime: Timestamp,
    pub system_use: Vec<Vec<u8>>,
}

pub(super) fn base_len(identifier_len: usize) -> usize {
    33 + identifier_len + usize::from(identifier_len.is_multiple_of(2))
}

/// Positions of directories and file data, from which records are derived.
pub(super) struct Layout<'a> {
    pub nodes: &'a [Node],
    pub iso_dirs: Vec<DirPlace>,
    pub joliet_dirs: Vec<DirPlace>,
    pub data_lba: Vec<u64>,
}

impl Layout<'_> {
    fn rr_entries(&self, n: usize, extra_root: bool) -> Vec<Vec<u8>> {
        let node = &self.nodes[n];
        let (ftype, nlink) = match &node.kind {
            NodeKind::Dir { children } => (S_IFDIR, 2 + children.iter().filter(|&&c| self.nodes[c].is_dir()).count() as u32),
            NodeKind::Symlink { .. } => (S_IFLNK, 1),
            _ => (S_IFREG, 1),
        };
        let mut out = Vec::new();
        if extra_root {
            out.push(rockridge::sp());
        }
        out.push(rockridge::px(ftype | node.mode, nlink, node.uid, node.gid));
        out.push(rockridge::tf(node.mtime));
        if extra_root {
            out.push(rockridge::er());
        }
        out
    }

    /// The records of directory `d` in one tree, in order.
    pub(super) fn records(&self, d: usize, joliet: bool) -> Vec<RecordSpec> {
        let places = if joliet { &self.joliet_dirs } else { &self.iso_dirs };
        let nodes = self.nodes;
        let parent = nodes[d].parent;
        let rr = |n: usize, root: bool| if joliet { Vec::new() } else { self.rr_entries(n, root) };
        let mut out = vec![
            RecordSpec {
                identifier: vec![0],
                lba: places[d].lba,
                size: places[d].size,
                flags: 2,
                mtime: nodes[d].mtime,
                system_use: rr(d, d == 0),
            },
            RecordSpec {
                identifier: vec![1],
                lba: places[parent].lba,
                size: places[parent].size,
                flags: 2,
                mtime: nodes[parent].mtime,
                system_use: rr(parent, false),
            },
        ];
        for c in sorted_children(nodes, d, joliet) {
            let node = &nodes[c];
            let identifier = if joliet { node.joliet_id.clone() } else { node.iso_id.clone() };
            let mut su = rr(c, false);
            if !joliet {
                su.extend(rockridge::nm(&node.name));
                if let NodeKind::Symlink { target } = &node.kind {
                    su.extend(rockridge::sl(target));
                }
            }
            if node.is_dir() {
                out.push(RecordSpec {
                    identifier,
                    lba: places[c].lba,
                    size: places[c].size,
                    flags: 2,
                    mtime: node.mtime,
                    system_use: su,
                });
                continue;
            }
            let size = node.data_size();
            let lba = self.data_lba[c];
            let mut offset = 0;
            loop {
                let chunk = (size - offset).min(MAX_EXTENT);
                let last = offset + chunk == size;
                out.push(RecordSpec {
                    identifier: identifier.clone(),
                    lba: if size == 0 { 0 } else { lba + offset / SECTOR },
                    size: chunk,
                    flags: if last { 0 } else { 0x80 },
                    mtime: node.mtime,
                    system_use: su.clone(),
                });
                offset += chunk;
                if last {
                    break;
                }
            }
        }
        out
    }
}

/// Packs records into whole sectors: returns each record's offset in the directory and the
/// directory's size.
pub(super) fn pack(lengths: impl Iterator<Item = usize>) -> (Vec<u64>, u64) {
    let mut offsets = Vec::new();
    let mut pos = 0u64;
    for len in lengths {
        let len = len as u64;
        if pos % SECTOR + len > SECTOR {
            pos = pos.next_multiple_of(SECTOR);
        }
        offsets.push(pos);
        pos += len;
    }
    (offsets, pos.next_multiple_of(SECTOR).max(SECTOR))
}

/// Encodes a record's system use area: inline bytes and continuation bytes.
pub(super) fn system_use(spec: &RecordSpec) -> SystemUse {
    let room = 254 - base_len(spec.identifier.len());
    rockridge::split(&spec.system_use, room)
}

pub(super) fn record_len(spec: &RecordSpec, su: &SystemUse) -> usize {
    let len = base_len(spec.identifier.len()) + su.inline.len();
    len + len % 2
}

pub(super) fn encode_record(spec: &RecordSpec, su_inline: &[u8]) -> Result<Vec<u8>, ImageError> {
    let len = base_len(spec.identifier.len()) + su_inline.len();
    let len = len + len % 2;
    let mut r = vec![0u8; len];
    r[0] = u8::try_from(len).map_err(|_| ImageError::Internal("directory record over 255 bytes".into()))?;
    let lba = u32::try_from(spec.lba).map_err(|_| ImageError::TooLarge("extent beyond 2^32 sectors".into()))?;
    both_u32(&mut r[2..10], lba);
    both_u32(&mut r[10..18], spec.size as u32);
    r[18..25].copy_from_slice(&date7(spec.mtime));
    r[25] = spec.flags;
    both_u16(&mut r[28..32], 1);
    r[32] = spec.identifier.len() as u8;
    r[33..33 + spec.identifier.len()].copy_from_slice(&spec.identifier);
    let su_at = base_len(spec.identifier.len());
    r[su_at..su_at + su_inline.len()].copy_from_slice(su_inline);
    Ok(r)
}

