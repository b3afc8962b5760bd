//! Browse: find archive files by what they are — a file-name pattern, keyword values, a range
//! of observation dates, free text over names and headers — as the seed archives' browse did.
//! Results respect data rights: proprietary files the asker may not have are left out and only
//! counted; an administrator sees them, and that override is logged.

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};

use super::rights::{self, Principal};
use crate::catalogue::{self, events};
use crate::error::{Error, Result};

/// What to look for. Every given criterion must hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BrowseQuery {
    /// Glob over the archive path (`*`, `?`, `[...]`); without a `/` it matches the file name.
    pub name: Option<String>,
    /// `KEY=VALUE` pairs: catalogued fields (instrument, telescope, object, programme, obs_id,
    /// or their FITS names) or any header keyword (`ESO OBS ID=4711`). Case-insensitive.
    pub keywords: Vec<(String, String)>,
    /// Observation date range (DATE-OBS), inclusive: a date or a date and time.
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    /// Words that must all appear in the name or the header text; `"..."` groups a phrase.
    pub text: Option<String>,
    /// Most rows returned (0: 1000).
    pub limit: usize,
}

/// One file found.
#[derive(Debug, Clone, Serialize)]
pub struct BrowseRow {
    pub file_id: i64,
    pub path: String,
    pub logical_path: String,
    pub version: u32,
    pub size: u64,
    pub state: String,
    pub ingested_at: String,
    pub date_obs: Option<String>,
    pub instrument: Option<String>,
    pub telescope: Option<String>,
    pub object: Option<String>,
    pub programme: Option<String>,
    pub obs_id: Option<String>,
    pub ra: Option<f64>,
    pub dec: Option<f64>,
    pub exptime: Option<f64>,
    pub owner: Option<String>,
    pub proprietary_until: Option<String>,
    pub proprietary: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BrowseResult {
    pub files: Vec<BrowseRow>,
    /// Matching files left out because they are proprietary to others.
    pub hidden: u64,
}

/// The catalogued column a keyword name refers to, if any.
fn column(key: &str) -> Option<&'static str> {
    Some(match key.to_ascii_uppercase().as_str() {
        "INSTRUME" | "INSTRUMENT" => "fm.instrument",
        "TELESCOP" | "TELESCOPE" => "fm.telescope",
        "OBJECT" => "fm.object",
        "PROG_ID" | "PROGRAMME" | "PROGRAM" => "fm.programme",
        "OBS_ID" | "OBSID" => "fm.obs_id",
        "OWNER" => "fr.owner",
        _ => return None,
    })
}

/// Check and normalise a date bound; `end` widens a plain date to the end of that day.
fn date_bound(s: &str, end: bool) -> Result<String> {
    let s = s.trim();
    if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
        return Ok(if end { format!("{s}T99") } else { s.to_owned() });
    }
    let plain = s.trim_end_matches('Z');
    if chrono::NaiveDateTime::parse_from_str(plain, "%Y-%m-%dT%H:%M:%S%.f").is_ok() || chrono::NaiveDateTime::parse_from_str(plain, "%Y-%m-%dT%H:%M").is_ok() {
        return Ok(if end { format!("{plain}\u{10FFFF}") } else { plain.to_owned() });
    }
    Err(Error::input(format!("date '{s}' is not YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss]")))
}

/// Free text as an FTS5 query: every word required; words in double quotes form a phrase
/// (`"NGC 253"` matches those words next to each other). FTS5 syntax is never passed through.
fn fts_query(text: &str) -> Option<String> {
    let mut terms = Vec::new();
    for (i, part) in text.split('"').enumerate() {
        let words: Vec<&str> = part.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if i % 2 == 1 {
            terms.push(format!("\"{}\"", words.join(" ")));
        } else {
            terms.extend(words.iter().map(|w| format!("\"{w}\"")));
        }
    }
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn push(params: &mut Vec<SqlValue>, v: impl Into<SqlValue>) -> String {
    params.push(v.into());
    format!("?{}", params.len())
}

/// Conditions of a query (without rights) and their parameters.
fn conditions(q: &BrowseQuery, params: &mut Vec<SqlValue>) -> Result<Vec<String>> {
    // With metadata criteria, the stage test must not drive the plan (it matches nearly every
    // file): `+` keeps SQLite from using the (stage, path) index for it.
    let by_meta = !q.keywords.is_empty() || q.date_from.is_some() || q.date_to.is_some() || q.text.as_deref().is_some_and(|t| !t.trim().is_empty());
    let mut conds = vec![if by_meta { "+f.stage = 'archive'" } else { "f.stage = 'archive'" }.to_owned()];
    if let Some(pattern) = q.name.as_deref().filter(|p| !p.is_empty()) {
        if pattern.contains('/') {
            conds.push(format!("f.path GLOB {}", push(params, pattern.to_owned())));
        } else {
            let p = push(params, pattern.to_owned());
            conds.push(format!("(f.path GLOB {p} OR f.path GLOB '*/' || {p})"));
        }
    }
    for (key, value) in &q.keywords {
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::input(format!("keyword condition '={value}' has no keyword")));
        }
        let v = push(params, value.trim().to_owned());
        if let Some(col) = column(key) {
            conds.push(format!("{col} = {v} COLLATE NOCASE"));
        } else {
            if key.contains('"') || key.contains('\\') {
                return Err(Error::input(format!("keyword '{key}' holds a quote or backslash")));
            }
            let path = push(params, format!("$.\"{key}\""));
            let x = format!("json_extract(fm.keywords, {path})");
            let numeric = value.trim().parse::<f64>().ok().map(|n| format!(" OR (typeof({x}) IN ('integer', 'real') AND {x} = {})", push(params, n)));
            conds.push(format!("(CAST({x} AS TEXT) = {v} COLLATE NOCASE{})", numeric.unwrap_or_default()));
        }
    }
    if let Some(from) = &q.date_from {
        conds.push(format!("fm.date_obs >= {}", push(params, date_bound(from, false)?)));
    }
    if let Some(to) = &q.date_to {
        conds.push(format!("fm.date_obs <= {}", push(params, date_bound(to, true)?)));
    }
    if let Some(text) = q.text.as_deref().and_then(fts_query) {
        conds.push(format!("f.id IN (SELECT rowid FROM file_text WHERE file_text MATCH {})", push(params, text)));
    }
    Ok(conds)
}

const FROM: &str = "FROM files f
    LEFT JOIN file_meta fm ON fm.file_id = f.id
    LEFT JOIN file_versions fv ON fv.file_id = f.id
    LEFT JOIN file_rights fr ON fr.file_id = f.id";

/// Run a browse query as `principal`.
pub fn browse(conn: &Connection, q: &BrowseQuery, principal: &Principal) -> Result<BrowseResult> {
    let now = catalogue::now();
    let mut params = Vec::new();
    let conds = conditions(q, &mut params)?;
    let base_len = params.len();
    let visible = rights::visible_sql(principal, &now, &mut params);
    let limit = if q.limit == 0 { 1000 } else { q.limit };
    let now_p = push(&mut params, now.clone());
    let sql = format!(
        "SELECT f.id, f.path, coalesce(fv.logical_path, f.path), coalesce(fv.version, 1), f.size, f.state, f.ingested_at,
                fm.date_obs, fm.instrument, fm.telescope, fm.object, fm.programme, fm.obs_id, fm.ra, fm.dec, fm.exptime,
                fr.owner, fr.proprietary_until, coalesce(fr.proprietary_until > {now_p}, 0)
         {FROM} WHERE {} AND {visible}
         ORDER BY fm.date_obs, f.path LIMIT {limit}",
        conds.join(" AND ")
    );
    let mut stmt = conn.prepare(&sql).map_err(|e| query_error(e, q))?;
    let files: Vec<BrowseRow> = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            Ok(BrowseRow {
                file_id: r.get(0)?,
                path: r.get(1)?,
                logical_path: r.get(2)?,
                version: r.get(3)?,
                size: r.get(4)?,
                state: r.get(5)?,
                ingested_at: r.get(6)?,
                date_obs: r.get(7)?,
                instrument: r.get(8)?,
                telescope: r.get(9)?,
                object: r.get(10)?,
                programme: r.get(11)?,
                obs_id: r.get(12)?,
                ra: r.get(13)?,
                dec: r.get(14)?,
                exptime: r.get(15)?,
                owner: r.get(16)?,
                proprietary_until: r.get(17)?,
                proprietary: r.get(18)?,
            })
        })
        .map_err(|e| query_error(e, q))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| query_error(e, q))?;

    let mut count_params: Vec<SqlValue> = params[..base_len].to_vec();
    let hidden = match principal {
        Principal::Admin { .. } => 0,
        _ => {
            let visible = rights::visible_sql(principal, &now, &mut count_params);
            let sql = format!("SELECT count(*) {FROM} WHERE {} AND NOT {visible}", conds.join(" AND "));
            conn.query_row(&sql, rusqlite::params_from_iter(count_params.iter()), |r| r.get(0)).map_err(|e| query_error(e, q))?
        }
    };
    if let Principal::Admin { name, reason } = principal {
        let shown = files.iter().filter(|f| f.proprietary).count();
        if shown > 0 {
            events::record(
                conn,
                "rights_override",
                "info",
                &events::Subject::default(),
                &format!("browse by administrator '{name}' shows {shown} proprietary files: {reason}"),
            )?;
        }
    }
    Ok(BrowseResult { files, hidden })
}

fn query_error(e: rusqlite::Error, q: &BrowseQuery) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.contains("fts5") => {
            Error::input(format!("free text '{}' is not searchable: {msg}", q.text.as_deref().unwrap_or("")))
        }
        _ => Error::Catalogue(e),
    }
}

/// Parse `KEY=VALUE`.
pub fn parse_keyword(s: &str) -> Result<(String, String)> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| Error::input(format!("keyword condition '{s}' is not KEY=VALUE")))
}

#[cfg(test)]
mod tests {
    use super::super::metadata::{FileMetadata, store};
    use super::super::rights::{Rights, set};
    use super::super::fits::Value;
    use super::*;

    fn add(conn: &Connection, id: i64, path: &str, date: &str, instrument: &str, object: &str, until: Option<&str>) {
        conn.execute(
            "INSERT INTO files (id, stage, path, size, sha256, crc32, format, compression, mode, mtime_ns, ingested_at)
             VALUES (?1, 'archive', ?2, 10, 'x', 0, 'fits', 'none', 420, 0, 'now')",
            rusqlite::params![id, path],
        )
        .unwrap();
        let mut m = FileMetadata { date_obs: Some(date.into()), instrument: Some(instrument.into()), object: Some(object.into()), ..Default::default() };
        m.keywords.insert("OBJECT".into(), Value::Str(object.into()));
        m.keywords.insert("ESO OBS ID".into(), Value::Int(id * 100));
        store(conn, id, path, Some(&m)).unwrap();
        set(conn, id, &Rights { owner: Some("ann".into()), programme: None, proprietary_until: until.map(str::to_owned) }).unwrap();
    }

    fn paths(r: &BrowseResult) -> Vec<&str> {
        r.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn criteria_combine_and_rights_hide() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::catalogue::open(&dir.path().join("c.db")).unwrap();
        add(&conn, 1, "raw/n1/a.fits", "2024-03-01T01:00:00", "WFI", "NGC 253", None);
        add(&conn, 2, "raw/n1/b.fits", "2024-03-02T23:30:00", "FORS2", "Centaurus A", None);
        add(&conn, 3, "raw/n2/c.fits", "2024-03-05T00:10:00", "WFI", "Centaurus A", Some("2999-01-01T00:00:00.000Z"));
        let public = Principal::Public;
        let q = |f: &dyn Fn(&mut BrowseQuery)| {
            let mut q = BrowseQuery::default();
            f(&mut q);
            q
        };
        let r = browse(&conn, &q(&|q| q.keywords = vec![("instrume".into(), "wfi".into())]), &public).unwrap();
        assert_eq!((paths(&r), r.hidden), (vec!["raw/n1/a.fits"], 1));
        let ann = Principal::User { name: "ann".into() };
        let r = browse(&conn, &q(&|q| q.text = Some("centaurus".into())), &ann).unwrap();
        assert_eq!(paths(&r), vec!["raw/n1/b.fits", "raw/n2/c.fits"]);
        let r = browse(&conn, &q(&|q| {
            q.date_from = Some("2024-03-02".into());
            q.date_to = Some("2024-03-02".into());
        }), &public)
        .unwrap();
        assert_eq!(paths(&r), vec!["raw/n1/b.fits"], "the end date includes its whole day");
        let r = browse(&conn, &q(&|q| q.name = Some("a.*".into())), &public).unwrap();
        assert_eq!(paths(&r), vec!["raw/n1/a.fits"]);
        let r = browse(&conn, &q(&|q| q.keywords = vec![("ESO OBS ID".into(), "200".into())]), &public).unwrap();
        assert_eq!(paths(&r), vec!["raw/n1/b.fits"]);
        let admin = Principal::Admin { name: "op".into(), reason: "audit".into() };
        let r = browse(&conn, &q(&|q| q.name = Some("raw/n2/*".into())), &admin).unwrap();
        assert_eq!(paths(&r), vec!["raw/n2/c.fits"]);
        let logged: i64 = conn.query_row("SELECT count(*) FROM events WHERE action = 'rights_override'", [], |r| r.get(0)).unwrap();
        assert_eq!(logged, 1);
        assert!(browse(&conn, &q(&|q| q.date_from = Some("yesterday".into())), &public).unwrap_err().to_string().contains("yesterday"));
        assert!(parse_keyword("novalue").is_err());
        assert_eq!(fts_query(r#"centaurus "NGC  253" x"#).as_deref(), Some(r#""centaurus" "NGC 253" "x""#));
        assert_eq!(fts_query(r#"" ""#), None);
    }
}
