//! Metadata of archive files: the observation keywords astronomers search by, taken from the
//! file's header (FITS today; other formats are recognised by extension and catalogued by name
//! only), stored in `file_meta` with every keyword as JSON, and indexed for free text in FTS5.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::fits::{self, Header, Value};
use super::rights::{self, Rights};
use crate::error::Result;

/// The searchable keywords of one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileMetadata {
    pub date_obs: Option<String>,
    pub instrument: Option<String>,
    pub telescope: Option<String>,
    pub object: Option<String>,
    /// Degrees.
    pub ra: Option<f64>,
    /// Degrees.
    pub dec: Option<f64>,
    /// Seconds.
    pub exptime: Option<f64>,
    pub programme: Option<String>,
    pub obs_id: Option<String>,
    pub keywords: BTreeMap<String, Value>,
}

/// Keywords tried, in order, for each field (standard FITS first, then common mission and ESO
/// hierarchical keywords).
const PROGRAMME_KEYS: &[&str] = &["PROG_ID", "PROGRAM", "PROGRID", "PROPID", "PROPOSAL", "ESO OBS PROG ID"];
const OBS_ID_KEYS: &[&str] = &["OBS_ID", "OBSID", "OBS-ID", "ESO OBS ID"];
const OWNER_KEYS: &[&str] = &["PI", "PI_NAME", "PI-COI", "OWNER", "ESO OBS PI-COI NAME"];
const RELEASE_KEYS: &[&str] = &["PROP_END", "RELEASE", "DATE_REL", "DATE-REL"];

fn first_text(h: &Header, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| h.get(k)).map(Value::text).filter(|s| !s.is_empty())
}

/// Sexagesimal `12:34:56.7` or `-12 34 56` to a number of units (hours or degrees).
fn sexagesimal(s: &str) -> Option<f64> {
    let s = s.trim();
    let neg = s.starts_with('-');
    let parts: Vec<f64> = s.trim_start_matches(['+', '-']).split([':', ' ']).filter(|p| !p.is_empty()).map(str::parse).collect::<Result<_, _>>().ok()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let v = parts.iter().enumerate().map(|(i, p)| p / 60f64.powi(i as i32)).sum::<f64>();
    Some(if neg { -v } else { v })
}

fn angle(h: &Header, key: &str, hours: bool) -> Option<f64> {
    match h.get(key)? {
        Value::Str(s) if s.contains([':', ' ']) => sexagesimal(s).map(|v| if hours { v * 15.0 } else { v }),
        v => v.as_f64(),
    }
}

/// Pull the searchable keywords out of a header.
pub fn from_header(h: &Header) -> FileMetadata {
    FileMetadata {
        date_obs: first_text(h, &["DATE-OBS", "DATE_OBS"]),
        instrument: first_text(h, &["INSTRUME"]),
        telescope: first_text(h, &["TELESCOP"]),
        object: first_text(h, &["OBJECT"]),
        ra: angle(h, "RA", true).or_else(|| angle(h, "RA_OBJ", true)),
        dec: angle(h, "DEC", false).or_else(|| angle(h, "DEC_OBJ", false)),
        exptime: h.get("EXPTIME").or_else(|| h.get("EXPOSURE")).and_then(Value::as_f64),
        programme: first_text(h, PROGRAMME_KEYS),
        obs_id: first_text(h, OBS_ID_KEYS),
        keywords: fits::to_map(h),
    }
}

/// Rights a header declares: owner (PI), programme, proprietary period end.
pub fn rights_from_header(h: &Header) -> Rights {
    Rights {
        owner: first_text(h, OWNER_KEYS),
        programme: first_text(h, PROGRAMME_KEYS),
        proprietary_until: first_text(h, RELEASE_KEYS).and_then(|s| rights::parse_until(&s).ok()),
    }
}

/// Extract metadata from a file by its format; `Ok(None)` for formats without a header reader.
/// A file that claims to be FITS but is not is an error naming the file.
pub fn extract(path: &Path, format: &str, compression: &str) -> Result<Option<(FileMetadata, Rights)>> {
    if format != "fits" {
        return Ok(None);
    }
    let header = fits::read_file_header(path, compression)
        .map_err(|e| crate::error::Error::input(format!("{}: {e}", path.display())))?;
    Ok(Some((from_header(&header), rights_from_header(&header))))
}

/// Keywords (by prefix) whose string values are not free text.
const FREE_TEXT_SKIP: &[&str] = &["DATE", "TIME", "MJD", "UTC", "LST", "CHECKSUM", "DATASUM", "XTENSION", "CTYPE", "CUNIT", "BUNIT", "RADESYS", "TIMESYS", "Z"];

/// Store a file's metadata and index its name and header text, inside the caller's transaction.
pub fn store(conn: &Connection, file_id: i64, path: &str, meta: Option<&FileMetadata>) -> Result<()> {
    let mut header_text = String::new();
    if let Some(m) = meta {
        let keywords = serde_json::to_string(&m.keywords).map_err(|e| crate::error::Error::State(format!("keywords of {path}: {e}")))?;
        conn.execute(
            "INSERT OR REPLACE INTO file_meta (file_id, date_obs, instrument, telescope, object, ra, dec, exptime, programme, obs_id, keywords)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![file_id, m.date_obs, m.instrument, m.telescope, m.object, m.ra, m.dec, m.exptime, m.programme, m.obs_id, keywords],
        )?;
        // Free text is for what a file is about: the descriptive (string) values, not numbers,
        // dates or checksums, which keyword and date conditions search precisely. Indexing every
        // value would put the same small numbers in nearly every file.
        for (k, v) in &m.keywords {
            if let Value::Str(s) = v
                && !FREE_TEXT_SKIP.iter().any(|p| k.starts_with(p))
            {
                header_text.push_str(s);
                header_text.push('\n');
            }
        }
        if let Some(id) = &m.obs_id {
            header_text.push_str(id);
        }
    }
    conn.execute("DELETE FROM file_text WHERE rowid = ?1", [file_id])?;
    // The name is indexed with separators as spaces so its parts are words.
    let name_words = path.replace(['/', '.', '_', '-'], " ");
    conn.execute("INSERT INTO file_text (rowid, path, header) VALUES (?1, ?2, ?3)", params![file_id, name_words, header_text])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fits::tests::{card, header_bytes};
    use super::*;

    #[test]
    fn keywords_and_rights_come_from_the_header() {
        let bytes = header_bytes(&[
            card("SIMPLE", "T"),
            card("NAXIS", "0"),
            card("INSTRUME", "'WFI'"),
            card("RA", "'00:47:33.1'"),
            card("DEC", "'-25:17:18'"),
            card("EXPOSURE", "300"),
            "HIERARCH ESO OBS PROG ID = '60.A-9001(A)'".into(),
            card("PI", "'ann'"),
            card("PROP_END", "'2030-01-01'"),
        ]);
        let h = fits::read_observation_header(&mut bytes.as_slice()).unwrap();
        let m = from_header(&h);
        assert_eq!(m.instrument.as_deref(), Some("WFI"));
        assert!((m.ra.unwrap() - 11.887_916).abs() < 1e-5, "{:?}", m.ra);
        assert!((m.dec.unwrap() + 25.288_333).abs() < 1e-5, "{:?}", m.dec);
        assert_eq!(m.exptime, Some(300.0));
        assert_eq!(m.programme.as_deref(), Some("60.A-9001(A)"));
        let r = rights_from_header(&h);
        assert_eq!(r.owner.as_deref(), Some("ann"));
        assert_eq!(r.proprietary_until.as_deref(), Some("2030-01-01T00:00:00.000Z"));
    }

    #[test]
    fn fts5_is_available_and_indexes_header_text() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::catalogue::open(&dir.path().join("c.db")).unwrap();
        conn.execute(
            "INSERT INTO files (id, stage, path, size, sha256, crc32, format, compression, mode, mtime_ns, ingested_at)
             VALUES (7, 'archive', 'raw/night_1/obs001.fits', 1, 'x', 0, 'fits', 'none', 420, 0, 'now')",
            [],
        )
        .unwrap();
        let mut meta = FileMetadata::default();
        meta.keywords.insert("OBJECT".into(), Value::Str("Centaurus A".into()));
        meta.keywords.insert("DATE-OBS".into(), Value::Str("2024-03-01T00:00:00".into()));
        meta.keywords.insert("EXPTIME".into(), Value::Real(300.0));
        store(&conn, 7, "raw/night_1/obs001.fits", Some(&meta)).unwrap();
        let hit: i64 = conn.query_row("SELECT rowid FROM file_text WHERE file_text MATCH 'centaurus'", [], |r| r.get(0)).unwrap();
        assert_eq!(hit, 7);
        let by_name: i64 = conn.query_row("SELECT rowid FROM file_text WHERE file_text MATCH 'obs001'", [], |r| r.get(0)).unwrap();
        assert_eq!(by_name, 7);
        let numbers: i64 = conn.query_row("SELECT count(*) FROM file_text WHERE file_text MATCH '2024 OR 300'", [], |r| r.get(0)).unwrap();
        assert_eq!(numbers, 0, "dates and numbers are for keyword and date conditions");
    }
}
