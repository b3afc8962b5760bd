//! Compares the files read from a medium with its `SHA256SUMS` and manifest.

use std::collections::HashMap;

use crate::manifest::Manifest;
use crate::sums;
use crate::unit::FileDigest;
use crate::{MANIFEST_NAME, SUMS_NAME};

/// Checks `files` against the medium's own lists; returns the parsed manifest and the
/// problems found.
pub(super) fn against_lists(
    files: &[FileDigest],
    sums_bytes: Option<&[u8]>,
    manifest_bytes: Option<&[u8]>,
) -> (Option<Manifest>, Vec<String>) {
    let mut problems = Vec::new();
    let read: HashMap<&str, &FileDigest> = files.iter().map(|f| (f.path.as_str(), f)).collect();

    match sums_bytes.map(sums::parse) {
        None => problems.push(format!("{SUMS_NAME} is missing")),
        Some(Err(e)) => problems.push(e),
        Some(Ok(list)) => {
            let mut listed = HashMap::new();
            for (path, sha) in &list {
                listed.insert(path.as_str(), ());
                match read.get(path.as_str()) {
                    None => problems.push(format!("{path:?} is listed in {SUMS_NAME} but missing")),
                    Some(f) if f.sha256 != *sha => problems.push(format!(
                        "{path:?}: checksum mismatch (read {}, {SUMS_NAME} says {})",
                        hex::encode(f.sha256),
                        hex::encode(sha)
                    )),
                    Some(_) => {}
                }
            }
            for f in files {
                if !listed.contains_key(f.path.as_str()) {
                    problems.push(format!("{:?} is not listed in {SUMS_NAME}", f.path));
                }
            }
        }
    }

    let manifest = match manifest_bytes.map(Manifest::parse) {
        None => {
            problems.push(format!("{MANIFEST_NAME} is missing"));
            None
        }
        Some(Err(e)) => {
            problems.push(e);
            None
        }
        Some(Ok(m)) => {
            let mut listed = HashMap::new();
            for mf in &m.files {
                listed.insert(mf.path.as_str(), ());
                match read.get(mf.path.as_str()) {
                    None => problems.push(format!("{:?} is listed in {MANIFEST_NAME} but missing", mf.path)),
                    Some(f) if f.size != mf.size => problems.push(format!(
                        "{:?}: size {} but {MANIFEST_NAME} says {}",
                        mf.path, f.size, mf.size
                    )),
                    Some(f) if hex::encode(f.sha256) != mf.sha256 => {
                        problems.push(format!("{:?}: checksum differs from {MANIFEST_NAME}", mf.path))
                    }
                    Some(_) => {}
                }
            }
            for f in files {
                if !listed.contains_key(f.path.as_str()) {
                    problems.push(format!("{:?} is not listed in {MANIFEST_NAME}", f.path));
                }
            }
            Some(m)
        }
    };
    (manifest, problems)
}
