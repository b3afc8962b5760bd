//! Checks a unit's entries and puts them in the one order every writer uses: parents before
//! children, siblings by name, implicit parent directories added. Both formats derive their
//! layout from this list, so the same unit always gives the same bytes.

use std::collections::BTreeMap;

use crate::error::ImageError;
use crate::unit::{Entry, EntryKind, UnitContent};
use crate::{MANIFEST_NAME, SUMS_NAME};

/// Longest name component accepted (the Rock Ridge and POSIX `NAME_MAX`).
pub(crate) const MAX_COMPONENT: usize = 255;
/// Longest path accepted (POSIX `PATH_MAX` minus the terminator).
pub(crate) const MAX_PATH: usize = 4095;
/// Longest symlink target accepted.
pub(crate) const MAX_LINK_TARGET: usize = 1023;

/// Permission bits of directories the caller did not list.
pub(crate) const IMPLICIT_DIR_MODE: u32 = 0o755;

/// Checks one path on the medium: relative, '/'-separated, no empty, `.` or `..` components.
pub(crate) fn validate_path(path: &str) -> Result<(), ImageError> {
    if path.is_empty() {
        return Err(ImageError::bad_path(path, "empty path"));
    }
    if path.len() > MAX_PATH {
        return Err(ImageError::bad_path(path, format!("longer than {MAX_PATH} bytes")));
    }
    if path.starts_with('/') {
        return Err(ImageError::bad_path(path, "absolute path (must be relative to the medium root)"));
    }
    if path.contains('\0') {
        return Err(ImageError::bad_path(path, "contains a NUL byte"));
    }
    for component in path.split('/') {
        match component {
            "" => return Err(ImageError::bad_path(path, "empty path component")),
            "." | ".." => return Err(ImageError::bad_path(path, "'.' or '..' component")),
            c if c.len() > MAX_COMPONENT => {
                return Err(ImageError::bad_path(path, format!("a component is longer than {MAX_COMPONENT} bytes")));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The entries of `unit` checked, completed with implicit parents, sorted parents-first.
pub(crate) fn normalize(unit: &UnitContent) -> Result<Vec<Entry>, ImageError> {
    let mut by_path: BTreeMap<Vec<&str>, Entry> = BTreeMap::new();
    for entry in &unit.entries {
        validate_path(&entry.path)?;
        if entry.path == SUMS_NAME || entry.path == MANIFEST_NAME {
            return Err(ImageError::bad_path(&entry.path, "reserved for the medium's checksum list and manifest"));
        }
        if let EntryKind::Symlink { target } = &entry.kind
            && (target.is_empty() || target.len() > MAX_LINK_TARGET || target.contains('\0'))
        {
            return Err(ImageError::bad_path(
                &entry.path,
                format!("symlink target must be 1..={MAX_LINK_TARGET} bytes without NUL"),
            ));
        }
        let key: Vec<&str> = entry.path.split('/').collect();
        let mut clean = entry.clone();
        clean.mode &= 0o7777;
        if by_path.insert(key, clean).is_some() {
            return Err(ImageError::bad_path(&entry.path, "listed twice"));
        }
    }
    // Every parent must be a directory; add the missing ones.
    let keys: Vec<Vec<&str>> = by_path.keys().cloned().collect();
    for key in keys {
        for depth in 1..key.len() {
            let parent = key[..depth].to_vec();
            match by_path.get(&parent) {
                Some(Entry { kind: EntryKind::Directory, .. }) => {}
                Some(other) => {
                    return Err(ImageError::bad_path(&other.path, "is not a directory but has entries below it"));
                }
                None => {
                    let path = parent.join("/");
                    by_path.insert(
                        parent,
                        Entry {
                            path,
                            kind: EntryKind::Directory,
                            mode: IMPLICIT_DIR_MODE,
                            uid: 0,
                            gid: 0,
                            mtime: unit.created,
                        },
                    );
                }
            }
        }
    }
    Ok(by_path.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::Timestamp;

    fn dir(path: &str) -> Entry {
        Entry { path: path.into(), kind: EntryKind::Directory, mode: 0o700, uid: 1, gid: 2, mtime: Timestamp::new(5, 0) }
    }
    fn unit(entries: Vec<Entry>) -> UnitContent {
        UnitContent { volume_id: "V".into(), request: "r".into(), created: Timestamp::new(9, 0), entries }
    }

    #[test]
    fn rejects_bad_paths() {
        for p in ["", "/abs", "a//b", "a/./b", "../x", "a/", "a\0b"] {
            assert!(validate_path(p).is_err(), "{p:?} accepted");
        }
        let long = "x".repeat(256);
        assert!(validate_path(&long).is_err());
        assert!(validate_path(&"x".repeat(255)).is_ok());
        assert!(validate_path("a b/'c\"/$(d)").is_ok());
    }

    #[test]
    fn adds_parents_and_sorts_parents_first() {
        let out = normalize(&unit(vec![dir("b/c/d"), dir("a"), dir("b-x")])).unwrap();
        let paths: Vec<_> = out.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a", "b", "b/c", "b/c/d", "b-x"]);
        assert_eq!(out[1].mode, IMPLICIT_DIR_MODE);
        assert_eq!(out[1].mtime, Timestamp::new(9, 0));
    }

    #[test]
    fn rejects_duplicates_reserved_and_file_parents() {
        assert!(normalize(&unit(vec![dir("a"), dir("a")])).is_err());
        assert!(normalize(&unit(vec![dir(SUMS_NAME)])).is_err());
        let file = Entry {
            kind: EntryKind::File { source: "/dev/null".into(), size: 0, sha256: None },
            ..dir("f")
        };
        assert!(normalize(&unit(vec![file, dir("f/g")])).is_err());
    }
}
