//! Versioned archive names: the archive never overwrites or deletes, so a file arriving again
//! under a name it already holds is stored as the next version of that name.
//!
//! Version 1 keeps the name as it arrived. Version N > 1 inserts `.vN` before the file's
//! extension, keeping compression suffixes together with it, so every Unix tool still recognises
//! the type: `obs001.fits` → `obs001.v2.fits`, `obs001.fits.gz` → `obs001.v2.fits.gz`,
//! `img.fits.fz` → `img.v3.fits.fz`, `README` → `README.v2`. (The `name;2` style of other
//! archives is avoided: `;` needs quoting in every shell.)

use rusqlite::{Connection, params};

use crate::error::Result;

/// Compression suffixes kept with the extension.
const COMPRESSION: &[&str] = &["gz", "fz", "bz2", "xz", "zst", "Z"];

/// The stored name of version `version` of `name` (a file name or a '/'-separated path: only the
/// last component changes).
pub fn versioned_name(name: &str, version: u32) -> String {
    if version <= 1 {
        return name.to_owned();
    }
    let (dir, base) = match name.rsplit_once('/') {
        Some((d, b)) => (Some(d), b),
        None => (None, name),
    };
    // Split the base into stem and extension chain: at most one compression suffix plus one
    // extension; a leading dot (hidden file) is part of the stem.
    let mut cut = base.len();
    if let Some(i) = base[1.min(base.len())..].rfind('.').map(|i| i + 1.min(base.len())) {
        let last = &base[i + 1..];
        cut = i;
        if COMPRESSION.contains(&last)
            && let Some(j) = base[1.min(base.len())..i].rfind('.').map(|j| j + 1.min(base.len()))
        {
            cut = j;
        }
    }
    let (stem, ext) = base.split_at(cut);
    let stored = format!("{stem}.v{version}{ext}");
    match dir {
        Some(d) => format!("{d}/{stored}"),
        None => stored,
    }
}

/// The next version number of `logical_path` (1 if the archive has never seen it).
pub fn next_version(conn: &Connection, logical_path: &str) -> Result<u32> {
    let max: Option<u32> = conn.query_row("SELECT max(version) FROM file_versions WHERE logical_path = ?1", [logical_path], |r| r.get(0))?;
    let from_files: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM files WHERE stage = 'archive' AND path = ?1)", [logical_path], |r| r.get(0))?;
    // A file ingested directly (without the versioning layer) under that name counts as version 1.
    Ok(max.unwrap_or(if from_files { 1 } else { 0 }) + 1)
}

/// Record that `file_id` is version `version` of `logical_path`, inside the caller's transaction.
pub fn record(conn: &Connection, file_id: i64, logical_path: &str, version: u32) -> Result<()> {
    conn.execute("INSERT INTO file_versions (file_id, logical_path, version) VALUES (?1, ?2, ?3)", params![file_id, logical_path, version])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::versioned_name;

    #[test]
    fn version_goes_before_the_extension() {
        assert_eq!(versioned_name("obs001.fits", 1), "obs001.fits");
        assert_eq!(versioned_name("obs001.fits", 2), "obs001.v2.fits");
        assert_eq!(versioned_name("raw/night/obs001.fits.gz", 3), "raw/night/obs001.v3.fits.gz");
        assert_eq!(versioned_name("img.fits.fz", 2), "img.v2.fits.fz");
        assert_eq!(versioned_name("ONTT.2024-01-01T01:02:03.fits", 2), "ONTT.2024-01-01T01:02:03.v2.fits");
        assert_eq!(versioned_name("README", 2), "README.v2");
        assert_eq!(versioned_name(".hidden", 2), ".hidden.v2");
        assert_eq!(versioned_name("a.gz", 2), "a.v2.gz");
        assert_eq!(versioned_name("x", 10), "x.v10");
    }
}
