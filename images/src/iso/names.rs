//! File identifiers of the two name trees: ISO 9660 level 2/3 names (d-characters, at most
//! 30 characters plus version) and Joliet names (UCS-2, at most 64 characters). Both are
//! projections of the Rock Ridge name, which stays the truth; collisions inside a directory
//! get a deterministic counter, so the same children always give the same names.

use std::collections::HashSet;

/// Longest ISO 9660 file name (name + extension, without dot and version).
const ISO_FILE_MAX: usize = 30;
/// Longest ISO 9660 directory name.
const ISO_DIR_MAX: usize = 31;
/// Longest Joliet name in UCS-2 code units.
pub(crate) const JOLIET_MAX: usize = 64;

fn d_chars(s: &str) -> String {
    s.chars()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' { c } else { '_' }
        })
        .collect()
}

/// Splits a name into base and extension at the last dot (not a leading one).
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i + 1..]),
        _ => (name, ""),
    }
}

/// ISO identifiers (without `;1`) for the children of one directory, in the given order.
/// `is_dir[i]` tells whether child `i` is a directory. Results are unique and each is
/// returned as (base, extension).
pub(crate) fn iso_names(names: &[&str], is_dir: &[bool]) -> Vec<(String, String)> {
    let mut used = HashSet::new();
    let mut out = Vec::with_capacity(names.len());
    for (name, &dir) in names.iter().zip(is_dir) {
        let (base, ext) = if dir {
            (d_chars(name), String::new())
        } else {
            let (b, e) = split_ext(name);
            let mut ext = d_chars(e);
            ext.truncate(8);
            (d_chars(b), ext)
        };
        let limit = if dir { ISO_DIR_MAX } else { ISO_FILE_MAX - ext.len() };
        let mut base_cut = base.clone();
        base_cut.truncate(limit);
        let mut candidate = (base_cut, ext.clone());
        let mut n = 1u32;
        while !used.insert(format!("{}.{}", candidate.0, candidate.1)) {
            let suffix = format!("_{n}");
            let mut b = base.clone();
            b.truncate(limit.saturating_sub(suffix.len()));
            b.push_str(&suffix);
            candidate = (b, ext.clone());
            n += 1;
        }
        out.push(candidate);
    }
    out
}

fn ucs2(s: &str) -> Vec<u16> {
    s.chars()
        .map(|c| {
            let bad = (c as u32) < 0x20 || matches!(c, '*' | '/' | ':' | ';' | '?' | '\\') || (c as u32) > 0xFFFF;
            if bad { u16::from(b'_') } else { c as u16 }
        })
        .collect()
}

/// Joliet identifiers for the children of one directory, unique, at most 64 code units,
/// keeping the extension when a name has to be shortened.
pub(crate) fn joliet_names(names: &[&str]) -> Vec<Vec<u16>> {
    let mut used = HashSet::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let full = ucs2(name);
        let (base, ext) = match name.rfind('.') {
            Some(i) if i > 0 && name.len() - i <= 16 => (ucs2(&name[..i]), ucs2(&name[i..])),
            _ => (full.clone(), Vec::new()),
        };
        let shorten = |suffix: &[u16]| {
            let keep = JOLIET_MAX.saturating_sub(ext.len() + suffix.len());
            let mut v: Vec<u16> = base.iter().copied().take(keep).collect();
            v.extend_from_slice(suffix);
            v.extend_from_slice(&ext);
            v
        };
        let mut candidate = if full.len() <= JOLIET_MAX { full.clone() } else { shorten(&[]) };
        let mut n = 1u32;
        while !used.insert(candidate.clone()) {
            let suffix: Vec<u16> = format!("~{n}").encode_utf16().collect();
            candidate = shorten(&suffix);
            n += 1;
        }
        out.push(candidate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iso_names_are_d_chars_and_unique() {
        let names = ["Name", "name", "NAME", "a.tar.gz", "ünï"];
        let out = iso_names(&names, &[false; 5]);
        assert_eq!(out[0], ("NAME".into(), "".into()));
        assert_eq!(out[1], ("NAME_1".into(), "".into()));
        assert_eq!(out[2], ("NAME_2".into(), "".into()));
        assert_eq!(out[3], ("A_TAR".into(), "GZ".into()));
        assert_eq!(out[4], ("_N_".into(), "".into()));
    }

    #[test]
    fn joliet_shortens_keeping_extension() {
        let long = format!("{}.fits", "x".repeat(100));
        let long2 = format!("{}y.fits", "x".repeat(100));
        let out = joliet_names(&[&long, &long2]);
        assert_eq!(out[0].len(), 64);
        assert_eq!(String::from_utf16(&out[0]).unwrap(), format!("{}.fits", "x".repeat(59)));
        assert_eq!(String::from_utf16(&out[1]).unwrap(), format!("{}~1.fits", "x".repeat(57)));
    }

    proptest! {
        #[test]
        fn names_always_unique_and_short(names in proptest::collection::hash_set("[a-zA-Z.é_ -]{1,80}", 1..20)) {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let iso = iso_names(&names, &vec![false; names.len()]);
            let set: HashSet<_> = iso.iter().collect();
            prop_assert_eq!(set.len(), names.len());
            for (b, e) in &iso {
                prop_assert!(b.len() + e.len() <= ISO_FILE_MAX);
            }
            let j = joliet_names(&names);
            let set: HashSet<_> = j.iter().collect();
            prop_assert_eq!(set.len(), names.len());
            prop_assert!(j.iter().all(|n| n.len() <= JOLIET_MAX));
        }
    }
}
