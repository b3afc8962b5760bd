//! Volume descriptors (primary, Joliet supplementary, terminator) and path tables.

use super::bytes::{both_u16, both_u32, date17, date17_unset, SECTOR};
use crate::unit::Timestamp;

/// Text fields of a descriptor, ASCII for the primary and UCS-2 for Joliet.
pub(crate) struct DescriptorText<'a> {
    pub volume_id: &'a str,
    pub application: &'a str,
}

/// Numbers shared by both descriptors of one image.
pub(crate) struct DescriptorLayout {
    pub total_sectors: u32,
    pub path_table_size: u32,
    pub path_table_l: u32,
    pub path_table_m: u32,
    /// The 34-byte root directory record.
    pub root_record: Vec<u8>,
    pub created: Timestamp,
}

fn put_text(out: &mut [u8], s: &str, joliet: bool) {
    if joliet {
        for pair in out.chunks_exact_mut(2) {
            pair.copy_from_slice(&[0, b' ']);
        }
        for (i, unit) in s.encode_utf16().take(out.len() / 2).enumerate() {
            out[2 * i..2 * i + 2].copy_from_slice(&unit.to_be_bytes());
        }
    } else {
        out.fill(b' ');
        let b = s.as_bytes();
        let n = b.len().min(out.len());
        out[..n].copy_from_slice(&b[..n]);
    }
}

/// A primary (`joliet == false`) or Joliet supplementary volume descriptor.
pub(crate) fn volume_descriptor(text: &DescriptorText, layout: &DescriptorLayout, joliet: bool) -> Vec<u8> {
    let mut d = vec![0u8; SECTOR as usize];
    d[0] = if joliet { 2 } else { 1 };
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    put_text(&mut d[8..40], "LINUX", joliet);
    put_text(&mut d[40..72], text.volume_id, joliet);
    both_u32(&mut d[80..88], layout.total_sectors);
    if joliet {
        d[88..91].copy_from_slice(b"%/E");
    }
    both_u16(&mut d[120..124], 1);
    both_u16(&mut d[124..128], 1);
    both_u16(&mut d[128..132], SECTOR as u16);
    both_u32(&mut d[132..140], layout.path_table_size);
    d[140..144].copy_from_slice(&layout.path_table_l.to_le_bytes());
    d[148..152].copy_from_slice(&layout.path_table_m.to_be_bytes());
    d[156..190].copy_from_slice(&layout.root_record);
    put_text(&mut d[190..318], text.volume_id, joliet);
    put_text(&mut d[318..446], "", joliet);
    put_text(&mut d[446..574], "", joliet);
    put_text(&mut d[574..702], text.application, joliet);
    put_text(&mut d[702..739], "", joliet);
    put_text(&mut d[739..776], "", joliet);
    put_text(&mut d[776..813], "", joliet);
    d[813..830].copy_from_slice(&date17(layout.created));
    d[830..847].copy_from_slice(&date17(layout.created));
    d[847..864].copy_from_slice(&date17_unset());
    d[864..881].copy_from_slice(&date17(layout.created));
    d[881] = 1;
    d
}

/// The set terminator.
pub(crate) fn terminator() -> Vec<u8> {
    let mut d = vec![0u8; SECTOR as usize];
    d[0] = 255;
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    d
}

/// One directory in a path table.
pub(crate) struct PathTableDir<'a> {
    pub identifier: &'a [u8],
    pub lba: u32,
    pub parent_number: u16,
}

/// Size in bytes of a path table with directories of these identifier lengths.
pub(crate) fn path_table_size(identifier_lens: impl Iterator<Item = usize>) -> u64 {
    identifier_lens.map(|n| (8 + n + n % 2) as u64).sum()
}

/// The little-endian (L) or big-endian (M) path table.
pub(crate) fn path_table(dirs: &[PathTableDir], big_endian: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for d in dirs {
        out.push(d.identifier.len() as u8);
        out.push(0);
        if big_endian {
            out.extend_from_slice(&d.lba.to_be_bytes());
            out.extend_from_slice(&d.parent_number.to_be_bytes());
        } else {
            out.extend_from_slice(&d.lba.to_le_bytes());
            out.extend_from_slice(&d.parent_number.to_le_bytes());
        }
        out.extend_from_slice(d.identifier);
        if d.identifier.len() % 2 == 1 {
            out.push(0);
        }
    }
    out
}
