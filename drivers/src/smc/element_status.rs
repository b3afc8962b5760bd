//! READ ELEMENT STATUS data: an 8-byte header, then per element type a page header and
//! descriptors of the length the page announces, with optional primary/alternate volume tags
//! and, for drives, an identification descriptor (DVCID).
//!
//! Real libraries pad, send more or less than they advertise, NUL- or blank-pad the tags:
//! decoding always steps by the returned descriptor length and byte counts, trusts what arrived,
//! rejects a descriptor length of 0, and trims tags on both sides.

use crate::changer::ElementKind;

/// One decoded element descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementDescriptor {
    pub kind: ElementKind,
    pub address: u16,
    pub full: bool,
    pub except: bool,
    pub access: bool,
    pub asc: u8,
    pub ascq: u8,
    pub source: Option<u16>,
    pub primary_tag: Option<String>,
    pub identifier: Option<String>,
}

/// Why element status data could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElementStatusError {
    #[error("element status data shorter than its 8-byte header ({0} bytes)")]
    Short(usize),
    #[error("element status page of type {0} announces a descriptor length of {1} (at least 12 needed)")]
    BadDescriptorLength(u8, usize),
    #[error("unknown element type code {0}")]
    UnknownType(u8),
}

fn kind_of(code: u8) -> Result<ElementKind, ElementStatusError> {
    Ok(match code & 0x0f {
        1 => ElementKind::Transport,
        2 => ElementKind::Storage,
        3 => ElementKind::ImportExport,
        4 => ElementKind::Drive,
        other => return Err(ElementStatusError::UnknownType(other)),
    })
}

fn type_code(kind: ElementKind) -> u8 {
    match kind {
        ElementKind::Transport => 1,
        ElementKind::Storage => 2,
        ElementKind::ImportExport => 3,
        ElementKind::Drive => 4,
    }
}

/// Trim a volume tag (blanks and NULs on both sides); empty → `None`.
pub fn trim_tag(raw: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(raw);
    let t = s.trim_matches(|c: char| c == ' ' || c == '\0');
    (!t.is_empty()).then(|| t.to_string())
}

/// Decode the identification descriptor of a drive (DVCID).
fn decode_identifier(d: &[u8]) -> Option<String> {
    if d.len() < 4 {
        return None;
    }
    let len = usize::from(d[3]);
    let id = d.get(4..(4 + len).min(d.len()))?;
    match (d[0] & 0x0f, d[1] & 0x0f) {
        // T10 vendor id: vendor(8) product(16) serial(rest).
        (2, 1) if id.len() > 24 => trim_tag(&id[24..]),
        (2, _) => trim_tag(id),
        _ => None,
    }
}

/// Decode a READ ELEMENT STATUS reply.
pub fn decode(b: &[u8]) -> Result<Vec<ElementDescriptor>, ElementStatusError> {
    if b.len() < 8 {
        return Err(ElementStatusError::Short(b.len()));
    }
    let total = u32::from_be_bytes([0, b[5], b[6], b[7]]) as usize;
    let end = (8 + total).min(b.len());
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 8 <= end {
        let page = &b[pos..pos + 8];
        let kind = kind_of(page[0])?;
        let pvoltag = page[1] & 0x80 != 0;
        let avoltag = page[1] & 0x40 != 0;
        let desc_len = usize::from(u16::from_be_bytes([page[2], page[3]]));
        let page_bytes = u32::from_be_bytes([0, page[5], page[6], page[7]]) as usize;
        if desc_len < 12 {
            return Err(ElementStatusError::BadDescriptorLength(page[0] & 0x0f, desc_len));
        }
        pos += 8;
        let page_end = (pos + page_bytes).min(end);
        while pos + 12 <= page_end {
            let d = &b[pos..(pos + desc_len).min(end)];
            let flags = d[2];
            let mut off = 12;
            let primary_tag = if pvoltag && d.len() >= off + 32 {
                let t = trim_tag(&d[off..off + 32]);
                off += 36;
                t
            } else {
                if pvoltag {
                    off += 36;
                }
                None
            };
            if avoltag {
                off += 36;
            }
            let identifier = if kind == ElementKind::Drive { d.get(off..).and_then(decode_identifier) } else { None };
            out.push(ElementDescriptor {
                kind,
                address: u16::from_be_bytes([d[0], d[1]]),
                full: flags & 0x01 != 0,
                except: flags & 0x04 != 0,
                access: flags & 0x08 != 0,
                asc: d[4],
                ascq: d[5],
                source: (d[9] & 0x80 != 0).then(|| u16::from_be_bytes([d[10], d[11]])),
                primary_tag,
                identifier,
            });
            pos += desc_len;
        }
        pos = pos.max(page_end);
    }
    Ok(out)
}

/// Encode element status data of one element type (for simulated targets). `voltag` adds a
/// 36-byte primary volume tag field, `dvcid` a 34-byte T10 identification descriptor (drives).
pub fn encode(kind: ElementKind, elements: &[ElementDescriptor], voltag: bool, dvcid: bool) -> Vec<u8> {
    let dvcid = dvcid && kind == ElementKind::Drive;
    let desc_len = 12 + if voltag { 36 } else { 0 } + if dvcid { 4 + 34 } else { 0 };
    let page_bytes = desc_len * elements.len();
    let mut b = Vec::with_capacity(16 + page_bytes);
    let first = elements.first().map_or(0, |e| e.address);
    b.extend(first.to_be_bytes());
    b.extend((elements.len() as u16).to_be_bytes());
    b.push(0);
    b.extend(&((8 + page_bytes) as u32).to_be_bytes()[1..]);
    b.push(type_code(kind));
    b.push(if voltag { 0x80 } else { 0 });
    b.extend((desc_len as u16).to_be_bytes());
    b.push(0);
    b.extend(&(page_bytes as u32).to_be_bytes()[1..]);
    for e in elements {
        let mut d = vec![0u8; 12];
        d[0..2].copy_from_slice(&e.address.to_be_bytes());
        d[2] = u8::from(e.full) | if e.except { 0x04 } else { 0 } | if e.access { 0x08 } else { 0 };
        d[4] = e.asc;
        d[5] = e.ascq;
        if let Some(src) = e.source {
            d[9] = 0x80 | u8::from(e.full);
            d[10..12].copy_from_slice(&src.to_be_bytes());
        }
        if voltag {
            let mut tag = [b' '; 36];
            tag[32..].fill(0);
            if let Some(t) = &e.primary_tag {
                for (i, c) in t.bytes().take(32).enumerate() {
                    tag[i] = c;
                }
            }
            d.extend(tag);
        }
        if dvcid {
            d.extend([2, 1, 0, 34]);
            let mut id = [b' '; 34];
            for (i, c) in e.identifier.as_deref().unwrap_or("").bytes().take(10).enumerate() {
                id[24 + i] = c;
            }
            id[..8].copy_from_slice(b"IBM     ");
            id[8..24].copy_from_slice(b"ULT3580-TD9     ");
            d.extend(id);
        }
        b.extend(d);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's worked example (mhvtl STK L80, issues #105/#106): four drives with DVCID,
    /// no volume tags, 50-byte descriptors, drive 500 empty with Access set.
    #[test]
    fn stk_l80_drives_with_dvcid() {
        let mut b = vec![0x01, 0xf4, 0x00, 0x04, 0x00, 0x00, 0x00, 0xd0, 0x04, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, 0xc8];
        for (i, serial) in ["XYZZY_B1  ", "XYZZY_B2  ", "XYZZY_B3  ", "XYZZY_B4  "].iter().enumerate() {
            let addr = 500 + i as u16;
            b.extend(addr.to_be_bytes());
            b.extend([0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            b.extend([0x02, 0x01, 0x00, 0x22]);
            b.extend(b"STK     T10000B         ");
            b.extend(serial.as_bytes());
        }
        assert_eq!(b.len(), 216);
        let d = decode(&b).unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].address, 500);
        assert!(d[0].access && !d[0].full);
        assert_eq!(d[1].identifier.as_deref(), Some("XYZZY_B2"));
        assert_eq!(d[3].address, 503);
    }

    #[test]
    fn tags_are_trimmed_and_round_trip() {
        let e = ElementDescriptor {
            kind: ElementKind::Storage,
            address: 1000,
            full: true,
            except: false,
            access: true,
            asc: 0,
            ascq: 0,
            source: None,
            primary_tag: Some("E01001L8".into()),
            identifier: None,
        };
        let empty = ElementDescriptor { address: 1001, full: false, primary_tag: None, ..e.clone() };
        let b = encode(ElementKind::Storage, &[e.clone(), empty.clone()], true, false);
        assert_eq!(decode(&b).unwrap(), vec![e, empty]);
        assert_eq!(trim_tag(b"  A00001L9\0\0  "), Some("A00001L9".into()));
        assert_eq!(trim_tag(b"\0\0\0"), None);
    }

    #[test]
    fn malformed_data_is_rejected_not_panicked_on() {
        assert_eq!(decode(&[0; 4]), Err(ElementStatusError::Short(4)));
        let zero = [0, 1, 0, 1, 0, 0, 0, 20, 2, 0x80, 0, 0, 0, 0, 0, 12, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(decode(&zero), Err(ElementStatusError::BadDescriptorLength(2, 0)));
        // Less data than announced: take what arrived.
        let e = ElementDescriptor { kind: ElementKind::Storage, address: 7, full: false, except: false, access: true, asc: 0, ascq: 0, source: None, primary_tag: None, identifier: None };
        let b = encode(ElementKind::Storage, &[e.clone(), ElementDescriptor { address: 8, ..e.clone() }], false, false);
        assert_eq!(decode(&b[..b.len() - 12]).unwrap(), vec![e]);
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }
    }
}
