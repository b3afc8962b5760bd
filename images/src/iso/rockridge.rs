//! System Use Sharing Protocol and Rock Ridge (RRIP 1.10) entries: the POSIX view of the
//! tree (names up to 255 bytes, permissions, owners, times, symlinks) that Unix readers use.

use super::bytes::{both_u32, date7};
use crate::unit::Timestamp;

/// Length of a CE entry, reserved inline when a record's entries overflow.
pub(crate) const CE_LEN: usize = 28;

/// POSIX file type bits for PX.
pub(crate) const S_IFREG: u32 = 0o100_000;
pub(crate) const S_IFDIR: u32 = 0o040_000;
pub(crate) const S_IFLNK: u32 = 0o120_000;

const ER_ID: &[u8] = b"RRIP_1991A";
const ER_DESCRIPTOR: &[u8] = b"THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const ER_SOURCE: &[u8] = b"PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

fn entry(sig: &[u8; 2], payload: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(4 + payload.len());
    e.extend_from_slice(sig);
    e.push((4 + payload.len()) as u8);
    e.push(1);
    e.extend_from_slice(payload);
    e
}

/// SP: marks the root's "." record as carrying SUSP entries.
pub(crate) fn sp() -> Vec<u8> {
    entry(b"SP", &[0xBE, 0xEF, 0])
}

/// ER: names the extension in use (Rock Ridge).
pub(crate) fn er() -> Vec<u8> {
    let mut p = vec![ER_ID.len() as u8, ER_DESCRIPTOR.len() as u8, ER_SOURCE.len() as u8, 1];
    p.extend_from_slice(ER_ID);
    p.extend_from_slice(ER_DESCRIPTOR);
    p.extend_from_slice(ER_SOURCE);
    entry(b"ER", &p)
}

/// PX: mode (with file type), link count, owner and group.
pub(crate) fn px(mode: u32, nlink: u32, uid: u32, gid: u32) -> Vec<u8> {
    let mut p = [0u8; 32];
    both_u32(&mut p[0..8], mode);
    both_u32(&mut p[8..16], nlink);
    both_u32(&mut p[16..24], uid);
    both_u32(&mut p[24..32], gid);
    entry(b"PX", &p)
}

/// TF: modification, access and attribute-change times (short form).
pub(crate) fn tf(t: Timestamp) -> Vec<u8> {
    let d = date7(t);
    let mut p = vec![0x0E];
    for _ in 0..3 {
        p.extend_from_slice(&d);
    }
    entry(b"TF", &p)
}

/// NM entries for a name, split into 250-byte pieces with the CONTINUE flag.
pub(crate) fn nm(name: &str) -> Vec<Vec<u8>> {
    let bytes = name.as_bytes();
    let chunks: Vec<&[u8]> = bytes.chunks(250).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut p = vec![u8::from(i + 1 < chunks.len())];
            p.extend_from_slice(c);
            entry(b"NM", &p)
        })
        .collect()
}

/// SL entries for a symlink target: component records packed into entries of at most 255
/// bytes, long components split with the component CONTINUE flag.
pub(crate) fn sl(target: &str) -> Vec<Vec<u8>> {
    let mut components: Vec<Vec<u8>> = Vec::new();
    if target.starts_with('/') {
        components.push(vec![0x08, 0]);
    }
    for part in target.split('/').filter(|p| !p.is_empty()) {
        match part {
            "." => components.push(vec![0x02, 0]),
            ".." => components.push(vec![0x04, 0]),
            _ => {
                let pieces: Vec<&[u8]> = part.as_bytes().chunks(200).collect();
                for (i, piece) in pieces.iter().enumerate() {
                    let mut c = vec![u8::from(i + 1 < pieces.len()), piece.len() as u8];
                    c.extend_from_slice(piece);
                    components.push(c);
                }
            }
        }
    }
    // Pack components into SL entries (payload ≤ 250 after the flags byte).
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for c in components {
        if !current.is_empty() && current.len() + c.len() > 250 {
            entries.push(std::mem::take(&mut current));
        }
        current.extend_from_slice(&c);
    }
    entries.push(current);
    let n = entries.len();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, comps)| {
            let mut p = vec![u8::from(i + 1 < n)];
            p.extend_from_slice(&comps);
            entry(b"SL", &p)
        })
        .collect()
}

/// CE: where the rest of a record's entries continue.
pub(crate) fn ce(block: u32, offset: u32, len: u32) -> Vec<u8> {
    let mut p = [0u8; 24];
    both_u32(&mut p[0..8], block);
    both_u32(&mut p[8..16], offset);
    both_u32(&mut p[16..24], len);
    entry(b"CE", &p)
}

/// A record's entries split into what fits inline (`room` bytes) and a continuation area.
pub(crate) struct SystemUse {
    pub inline: Vec<u8>,
    /// Bytes for the continuation area; when non-empty, the last CE_LEN bytes of `inline`
    /// are a CE entry to be filled in once the area's position is known.
    pub continuation: Vec<u8>,
}

pub(crate) fn split(entries: &[Vec<u8>], room: usize) -> SystemUse {
    let total: usize = entries.iter().map(Vec::len).sum();
    if total <= room {
        return SystemUse { inline: entries.concat(), continuation: Vec::new() };
    }
    let mut inline = Vec::new();
    let mut i = 0;
    while i < entries.len() && inline.len() + entries[i].len() + CE_LEN <= room {
        inline.extend_from_slice(&entries[i]);
        i += 1;
    }
    inline.extend_from_slice(&ce(0, 0, 0));
    SystemUse { inline, continuation: entries[i..].concat() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_lengths() {
        assert_eq!(sp().len(), 7);
        assert_eq!(px(0o100644, 1, 0, 0).len(), 36);
        assert_eq!(tf(Timestamp::new(0, 0)).len(), 26);
        assert_eq!(ce(1, 2, 3).len(), CE_LEN);
        assert_eq!(er().len(), 8 + 10 + 84 + 135);
        let n = nm(&"x".repeat(255));
        assert_eq!((n.len(), n[0][4], n[1][4]), (2, 1, 0));
        assert!(sl(&format!("/{}/../x", "t".repeat(600))).iter().all(|e| e.len() <= 255 && e[2] as usize == e.len()));
    }

    #[test]
    fn overflow_goes_to_continuation() {
        let entries = vec![vec![1u8; 100], vec![2u8; 100], vec![3u8; 100]];
        let su = split(&entries, 150);
        assert_eq!(su.inline.len(), 100 + CE_LEN);
        assert_eq!(su.continuation.len(), 200);
    }
}
