//! Data rights: every archive file has an owner and a programme, and may be proprietary until a
//! date. Until then only its owner and the members of its programme may see it in browse results,
//! retrieve it or have it distributed; afterwards it is public. An administrator may override,
//! and every override is written to the event log with the reason given.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::catalogue::events;
use crate::error::{Error, Result};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Principal {
    /// Anyone: public data only.
    Public,
    /// A named user: public data, plus proprietary data they own or whose programme they are in.
    User { name: String },
    /// An administrator overriding rights; the reason goes to the event log.
    Admin { name: String, reason: String },
}

impl Principal {
    pub fn describe(&self) -> String {
        match self {
            Principal::Public => "the public".into(),
            Principal::User { name } => format!("user '{name}'"),
            Principal::Admin { name, .. } => format!("administrator '{name}'"),
        }
    }
}

/// Rights of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rights {
    pub owner: Option<String>,
    pub programme: Option<String>,
    /// RFC 3339 (or a plain date); None = public.
    pub proprietary_until: Option<String>,
}

impl Rights {
    /// Proprietary at `now` (RFC 3339 UTC)? Dates compare as text: both sides are ISO 8601.
    pub fn is_proprietary(&self, now: &str) -> bool {
        self.proprietary_until.as_deref().is_some_and(|until| until > now)
    }
}

/// Normalise a proprietary period end given as a date (`2026-06-30`) or an RFC 3339 time.
pub fn parse_until(s: &str) -> Result<String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let t = d.and_hms_opt(0, 0, 0).ok_or_else(|| Error::input(format!("bad date '{s}'")))?;
        return Ok(t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    Err(Error::input(format!("proprietary period end '{s}' is not a date (YYYY-MM-DD) or an RFC 3339 time")))
}

/// Record a file's rights, inside the caller's transaction.
pub fn set(conn: &Connection, file_id: i64, rights: &Rights) -> Result<()> {
    conn.execute(
        "INSERT INTO file_rights (file_id, owner, programme, proprietary_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (file_id) DO UPDATE SET owner = excluded.owner, programme = excluded.programme, proprietary_until = excluded.proprietary_until",
        params![file_id, rights.owner, rights.programme, rights.proprietary_until],
    )?;
    Ok(())
}

/// A file's rights (a file without a rights row is public).
pub fn get(conn: &Connection, file_id: i64) -> Result<Rights> {
    Ok(conn
        .query_row("SELECT owner, programme, proprietary_until FROM file_rights WHERE file_id = ?1", [file_id], |r| {
            Ok(Rights { owner: r.get(0)?, programme: r.get(1)?, proprietary_until: r.get(2)? })
        })
        .optional()?
        .unwrap_or_default())
}

/// Make `user` a member of `programme`.
pub fn grant(conn: &Connection, programme: &str, user: &str) -> Result<()> {
    if programme.is_empty() || user.is_empty() {
        return Err(Error::input("programme and user must not be empty"));
    }
    conn.execute("INSERT OR IGNORE INTO programme_members (programme, user) VALUES (?1, ?2)", params![programme, user])?;
    Ok(())
}

/// The SQL condition (over `file_rights` aliased `fr`) that selects what `principal` may see,
/// with its parameters appended to `params`. Admins see everything.
pub fn visible_sql(principal: &Principal, now: &str, params: &mut Vec<rusqlite::types::Value>) -> String {
    let public = {
        params.push(now.to_owned().into());
        format!("(fr.proprietary_until IS NULL OR fr.proprietary_until <= ?{})", params.len())
    };
    match principal {
        Principal::Public => public,
        Principal::Admin { .. } => "1".into(),
        Principal::User { name } => {
            params.push(name.clone().into());
            let n = params.len();
            format!(
                "({public} OR fr.owner = ?{n} OR EXISTS (SELECT 1 FROM programme_members pm WHERE pm.programme = fr.programme AND pm.user = ?{n}))"
            )
        }
    }
}

/// Check that `principal` may have file `file_id` (named `path` in messages). An admin's access
/// to a proprietary file is logged as an override; anyone else is refused with a clear error.
pub fn check_access(conn: &Connection, principal: &Principal, file_id: i64, path: &str, action: &str) -> Result<()> {
    let rights = get(conn, file_id)?;
    let now = crate::catalogue::now();
    if !rights.is_proprietary(&now) {
        return Ok(());
    }
    let until = rights.proprietary_until.as_deref().unwrap_or("");
    match principal {
        Principal::Admin { name, reason } => {
            events::record(
                conn,
                "rights_override",
                "info",
                &events::Subject::default(),
                &format!("{action} of '{path}' (file {file_id}, proprietary until {until}) by administrator '{name}': {reason}"),
            )?;
            tracing::info!(file = file_id, path, admin = %name, action, "data rights overridden");
            Ok(())
        }
        Principal::User { name } => {
            let member: bool = match &rights.programme {
                Some(p) => conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM programme_members WHERE programme = ?1 AND user = ?2)",
                    params![p, name],
                    |r| r.get(0),
                )?,
                None => false,
            };
            if rights.owner.as_deref() == Some(name.as_str()) || member {
                Ok(())
            } else {
                Err(denied(principal, path, &rights, until))
            }
        }
        Principal::Public => Err(denied(principal, path, &rights, until)),
    }
}

fn denied(principal: &Principal, path: &str, rights: &Rights, until: &str) -> Error {
    Error::Input(format!(
        "'{path}' is proprietary until {until} (owner {}, programme {}); {} may not have it",
        rights.owner.as_deref().unwrap_or("-"),
        rights.programme.as_deref().unwrap_or("-"),
        principal.describe()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::catalogue::open(&dir.path().join("c.db")).unwrap();
        conn.execute(
            "INSERT INTO files (id, stage, path, size, sha256, crc32, format, compression, mode, mtime_ns, ingested_at)
             VALUES (1, 'archive', 'raw/a.fits', 1, 'x', 0, 'fits', 'none', 420, 0, 'now')",
            [],
        )
        .unwrap();
        (dir, conn)
    }

    #[test]
    fn proprietary_files_are_for_owner_and_programme_and_admin_is_logged() {
        let (_d, conn) = conn();
        let rights = Rights { owner: Some("ann".into()), programme: Some("P1".into()), proprietary_until: Some(parse_until("2999-01-01").unwrap()) };
        set(&conn, 1, &rights).unwrap();
        let user = |n: &str| Principal::User { name: n.into() };
        assert!(check_access(&conn, &user("ann"), 1, "raw/a.fits", "retrieve").is_ok());
        let e = check_access(&conn, &user("bob"), 1, "raw/a.fits", "retrieve").unwrap_err().to_string();
        assert!(e.contains("proprietary until 2999-01-01") && e.contains("user 'bob'"), "{e}");
        grant(&conn, "P1", "bob").unwrap();
        assert!(check_access(&conn, &user("bob"), 1, "raw/a.fits", "retrieve").is_ok());
        assert!(check_access(&conn, &Principal::Public, 1, "raw/a.fits", "retrieve").is_err());
        let admin = Principal::Admin { name: "op".into(), reason: "ticket 42".into() };
        check_access(&conn, &admin, 1, "raw/a.fits", "retrieve").unwrap();
        let logged: String = conn.query_row("SELECT detail FROM events WHERE action = 'rights_override'", [], |r| r.get(0)).unwrap();
        assert!(logged.contains("ticket 42") && logged.contains("'op'"), "{logged}");
    }

    #[test]
    fn past_periods_are_public() {
        let (_d, conn) = conn();
        set(&conn, 1, &Rights { owner: Some("ann".into()), programme: None, proprietary_until: Some(parse_until("2001-01-01").unwrap()) }).unwrap();
        assert!(check_access(&conn, &Principal::Public, 1, "a", "retrieve").is_ok());
        assert!(parse_until("next tuesday").is_err());
        assert_eq!(parse_until("2026-06-30").unwrap(), "2026-06-30T00:00:00.000Z");
    }
}
