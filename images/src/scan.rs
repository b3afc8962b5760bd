//! Turns a directory on disk into unit entries, for `asto image build DIR` and for tests.
//! Hard links become independent copies; sockets, FIFOs and devices are refused by name.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::error::ImageError;
use crate::unit::{Entry, EntryKind, Timestamp};

/// Entries for everything below `root` (not `root` itself), parents first, names sorted.
/// Checksums are left unknown.
pub fn scan_directory(root: &Path) -> Result<Vec<Entry>, ImageError> {
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> Result<(), ImageError> {
    let unreadable = |e| ImageError::Unreadable { path: dir.to_owned(), source: e };
    let mut names = Vec::new();
    for item in fs::read_dir(dir).map_err(unreadable)? {
        let item = item.map_err(unreadable)?;
        let name = item.file_name().into_string().map_err(|raw| {
            ImageError::bad_path(&format!("{prefix}{}", raw.to_string_lossy()), "name is not valid UTF-8")
        })?;
        names.push(name);
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = format!("{prefix}{name}");
        let meta = fs::symlink_metadata(&path).map_err(|e| ImageError::Unreadable { path: path.clone(), source: e })?;
        let ft = meta.file_type();
        let kind = if ft.is_file() {
            EntryKind::File { source: path.clone(), size: meta.len(), sha256: None }
        } else if ft.is_dir() {
            EntryKind::Directory
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| ImageError::Unreadable { path: path.clone(), source: e })?;
            let target = target
                .into_os_string()
                .into_string()
                .map_err(|_| ImageError::bad_path(&rel, "symlink target is not valid UTF-8"))?;
            EntryKind::Symlink { target }
        } else {
            let what = if ft.is_fifo() {
                "a FIFO"
            } else if ft.is_socket() {
                "a socket"
            } else {
                "a device node"
            };
            return Err(ImageError::bad_path(&rel, format!("is {what}; only files, directories and symlinks go on media")));
        };
        let is_dir = matches!(kind, EntryKind::Directory);
        out.push(Entry {
            path: rel.clone(),
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            mtime: Timestamp::new(meta.mtime(), u32::try_from(meta.mtime_nsec()).unwrap_or(0)),
        });
        if is_dir {
            walk(&path, &format!("{rel}/"), out)?;
        }
    }
    Ok(())
}
