//! One tar member header: a ustar block, preceded by a pax extended header when a value does
//! not fit ustar (long or non-ASCII names, sizes from 8 GiB, sub-second or out-of-range times,
//! large ids).

use crate::unit::Timestamp;

pub(crate) const BLOCK: usize = 512;

/// ustar type flags used here.
pub(crate) const REGULAR: u8 = b'0';
pub(crate) const SYMLINK: u8 = b'2';
pub(crate) const DIRECTORY: u8 = b'5';
pub(crate) const PAX_EXTENDED: u8 = b'x';

/// What a member header says.
pub(crate) struct HeaderSpec<'a> {
    /// Path as stored (directories without the trailing slash; it is added here).
    pub path: &'a str,
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: Timestamp,
    pub linkname: &'a str,
}

/// Writes `value` as zero-padded octal with a NUL terminator; false if it does not fit.
fn octal(field: &mut [u8], value: u64) -> bool {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    if text.len() > digits {
        return false;
    }
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
    true
}

/// One pax record, `"<len> <key>=<value>\n"` where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// A pax time value: decimal seconds with the fraction trimmed of trailing zeros.
fn pax_time(t: Timestamp) -> String {
    let (negative, secs, nanos) = if t.secs >= 0 {
        (false, t.secs.unsigned_abs(), t.nanos)
    } else if t.nanos == 0 {
        (true, t.secs.unsigned_abs(), 0)
    } else {
        (true, (t.secs + 1).unsigned_abs(), 1_000_000_000 - t.nanos)
    };
    let sign = if negative { "-" } else { "" };
    if nanos == 0 {
        format!("{sign}{secs}")
    } else {
        let frac = format!("{nanos:09}");
        format!("{sign}{secs}.{}", frac.trim_end_matches('0'))
    }
}

/// Copies `s` into a fixed field, truncated, for the ustar fallback of a pax value.
fn ascii_fallback(field: &mut [u8], s: &str) {
    let bytes: Vec<u8> = s.bytes().map(|b| if b.is_ascii() && b != 0 { b } else { b'_' }).collect();
    let keep = bytes.len().min(field.len());
    field[..keep].copy_from_slice(&bytes[bytes.len() - keep..]);
}

fn ustar_block(spec: &HeaderSpec, name: &str, pax: &mut Vec<u8>) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let fits_name = name.is_ascii() && name.len() <= 100;
    if fits_name {
        h[..name.len()].copy_from_slice(name.as_bytes());
    } else {
        pax_record(pax, "path", name.as_bytes());
        ascii_fallback(&mut h[..100], name);
    }
    octal(&mut h[100..108], u64::from(spec.mode & 0o7777));
    if !octal(&mut h[108..116], u64::from(spec.uid)) {
        pax_record(pax, "uid", spec.uid.to_string().as_bytes());
        octal(&mut h[108..116], 0);
    }
    if !octal(&mut h[116..124], u64::from(spec.gid)) {
        pax_record(pax, "gid", spec.gid.to_string().as_bytes());
        octal(&mut h[116..124], 0);
    }
    if !octal(&mut h[124..136], spec.size) {
        pax_record(pax, "size", spec.size.to_string().as_bytes());
        octal(&mut h[124..136], 0);
    }
    let whole_secs = u64::try_from(spec.mtime.secs).ok().filter(|_| spec.mtime.nanos == 0);
    if !whole_secs.is_some_and(|s| octal(&mut h[136..148], s)) {
        pax_record(pax, "mtime", pax_time(spec.mtime).as_bytes());
        octal(&mut h[136..148], u64::try_from(spec.mtime.secs.max(0)).unwrap_or(0).min(0o77777777777));
    }
    h[156] = spec.typeflag;
    if !spec.linkname.is_empty() {
        if spec.linkname.is_ascii() && spec.linkname.len() <= 100 {
            h[157..157 + spec.linkname.len()].copy_from_slice(spec.linkname.as_bytes());
        } else {
            pax_record(pax, "linkpath", spec.linkname.as_bytes());
            ascii_fallback(&mut h[157..257], spec.linkname);
        }
    }
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    seal(&mut h);
    h
}

/// Fills in the header checksum.
fn seal(h: &mut [u8; BLOCK]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
}

/// The header blocks of one member: pax extended header (if needed) and ustar header.
pub(crate) fn encode(spec: &HeaderSpec) -> Vec<u8> {
    let name = if spec.typeflag == DIRECTORY { format!("{}/", spec.path) } else { spec.path.to_owned() };
    let mut pax = Vec::new();
    let ustar = ustar_block(spec, &name, &mut pax);
    let mut out = Vec::with_capacity(3 * BLOCK);
    if !pax.is_empty() {
        let base = spec.path.rsplit('/').next().unwrap_or(spec.path);
        let pax_name = format!("PaxHeaders/{base}");
        let mut h = [0u8; BLOCK];
        ascii_fallback(&mut h[..100], &pax_name);
        octal(&mut h[100..108], 0o644);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], pax.len() as u64);
        octal(&mut h[136..148], u64::try_from(spec.mtime.secs.clamp(0, 0o77777777777)).unwrap_or(0));
        h[156] = PAX_EXTENDED;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        seal(&mut h);
        out.extend_from_slice(&h);
        out.extend_from_slice(&pax);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
    out.extend_from_slice(&ustar);
    out
}

/// Verifies the checksum of a header block read back.
pub(crate) fn checksum_ok(h: &[u8; BLOCK]) -> bool {
    let stored = parse_octal(&h[148..156]);
    let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    stored == Some(sum)
}

/// Parses an octal (or GNU base-256) numeric field.
pub(crate) fn parse_octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let text: Vec<u8> = field.iter().copied().take_while(|&b| b != 0).filter(|&b| b != b' ').collect();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&text).ok()?, 8).ok()
}

/// Parses pax records into (key, value) pairs.
pub(crate) fn parse_pax(mut data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    while !data.is_empty() && data[0] != 0 {
        let space = data.iter().position(|&b| b == b' ').ok_or("pax record without length")?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("pax record with a bad length")?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err("pax record length out of range".into());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or("pax record without '='")?;
        let key = String::from_utf8_lossy(&record[..eq]).into_owned();
        out.push((key, record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str, size: u64, mtime: Timestamp) -> HeaderSpec<'_> {
        HeaderSpec { path, typeflag: REGULAR, mode: 0o640, uid: 1000, gid: 1000, size, mtime, linkname: "" }
    }

    #[test]
    fn short_member_is_one_ustar_block() {
        let h = encode(&spec("a/b.txt", 5, Timestamp::new(1_700_000_000, 0)));
        assert_eq!(h.len(), BLOCK);
        let block: [u8; BLOCK] = h[..].try_into().unwrap();
        assert!(checksum_ok(&block));
        assert_eq!(parse_octal(&block[124..136]), Some(5));
        assert_eq!(&block[257..263], b"ustar\0");
    }

    #[test]
    fn long_large_subsecond_member_gets_pax_records() {
        let path = format!("{}/ü", "d".repeat(150));
        let h = encode(&spec(&path, 9 << 30, Timestamp::new(7, 500_000_000)));
        assert_eq!(h[156], PAX_EXTENDED);
        let size = parse_octal(&h[124..136]).unwrap() as usize;
        let recs = parse_pax(&h[BLOCK..BLOCK + size]).unwrap();
        let get = |k: &str| recs.iter().find(|(key, _)| key == k).map(|(_, v)| String::from_utf8(v.clone()).unwrap());
        assert_eq!(get("path").as_deref(), Some(path.as_str()));
        assert_eq!(get("size").as_deref(), Some("9663676416"));
        assert_eq!(get("mtime").as_deref(), Some("7.5"));
        assert_eq!(h.len() % BLOCK, 0);
    }

    #[test]
    fn pax_record_length_counts_itself() {
        for n in [1, 90, 93, 94, 95, 990, 996] {
            let mut out = Vec::new();
            pax_record(&mut out, "path", "x".repeat(n).as_bytes());
            let len: usize = std::str::from_utf8(&out[..out.iter().position(|&b| b == b' ').unwrap()]).unwrap().parse().unwrap();
            assert_eq!(len, out.len());
        }
    }

    #[test]
    fn negative_times() {
        assert_eq!(pax_time(Timestamp::new(-2, 500_000_000)), "-1.5");
        assert_eq!(pax_time(Timestamp::new(-1, 250_000_000)), "-0.75");
        assert_eq!(pax_time(Timestamp::new(-3, 0)), "-3");
    }
}
