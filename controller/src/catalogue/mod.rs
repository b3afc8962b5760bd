//! The catalogue: the controller's single source of truth, in SQLite.
//!
//! WAL mode lets the CLI read while the pipeline writes; every state transition is one
//! transaction, so a crash leaves the catalogue at a transition boundary and the pipeline can
//! resume or roll back from there. The schema is versioned with `PRAGMA user_version` and
//! migrated forward on open; a catalogue from a newer asto is refused rather than damaged.

pub mod events;
pub mod prompts;

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Migrations, in order; migration N brings the schema to version N.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_spine.sql"),
    include_str!("migrations/0002_archive_services.sql"),
    include_str!("migrations/0003_services.sql"),
    include_str!("migrations/0004_jukebox_actions.sql"),
];

/// Current time as stored in the catalogue (RFC 3339, UTC, milliseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Open (creating if needed) and migrate the catalogue at `path`.
pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
    }
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Every transaction takes the write lock when it begins. A deferred transaction that reads
    // and then writes fails at once with SQLITE_BUSY (the busy timeout does not apply) when
    // another connection — the API's, the pipeline's, a CLI's — committed in between.
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
    migrate(&mut conn, path)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > known {
        return Err(Error::CatalogueTooNew { path: path.to_owned(), found: version, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Next value of a named counter (unit names), inside the caller's transaction.
pub fn next_counter(conn: &Connection, name: &str) -> Result<i64> {
    conn.execute(
        "INSERT INTO counters (name, value) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
        [name],
    )?;
    Ok(conn.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_migrates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let conn = open(&path).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        open(&path).unwrap();
    }

    #[test]
    fn newer_catalogue_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(open(&path), Err(Error::CatalogueTooNew { found: 99, .. })));
    }

    #[test]
    fn transactions_take_the_write_lock_when_they_begin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut a = open(&path).unwrap();
        let b = open(&path).unwrap();
        b.busy_timeout(std::time::Duration::ZERO).unwrap();
        // A deferred transaction would hold no lock yet, and b's write would go through — and
        // a's later read-then-write would fail with "database is locked".
        let tx = a.transaction().unwrap();
        assert!(next_counter(&b, "x").is_err(), "a's transaction holds the write lock from its start");
        next_counter(&tx, "x").unwrap();
        tx.commit().unwrap();
        assert_eq!(next_counter(&b, "x").unwrap(), 2);
    }

    #[test]
    fn counters_count_per_name() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("c.db")).unwrap();
        assert_eq!(next_counter(&conn, "ARC-LTO5").unwrap(), 1);
        assert_eq!(next_counter(&conn, "ARC-LTO5").unwrap(), 2);
        assert_eq!(next_counter(&conn, "USR-DVDPR").unwrap(), 1);
    }
}
