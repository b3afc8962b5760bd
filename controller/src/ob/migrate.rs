//! Versioned schema migrations, applied to every node: a common part, then the HQ or the site
//! part. Logical replication does not carry DDL, so every node is migrated before any
//! publication or subscription refers to the tables.

use postgres::error::SqlState;

use super::config::{NodeConfig, ObConfig, Role};
use super::error::{ObError, Result};
use super::node::{Node, ident, open};

/// One schema version: SQL for every node plus the role-specific SQL.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    common: &'static str,
    hq: &'static str,
    site: &'static str,
}

/// All migrations, oldest first. Never edit a released one; add the next version.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "runs, OBs, history, views, command table, archiving and recovery procedures",
    common: include_str!("sql/001_common.sql"),
    hq: include_str!("sql/001_hq.sql"),
    site: include_str!("sql/001_site.sql"),
}];

/// The newest schema version this build knows.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Make sure `cfg`'s database exists, creating it through the `postgres` maintenance database.
pub fn ensure_database(cfg: &NodeConfig, topo: &ObConfig) -> Result<bool> {
    match open(cfg, &cfg.pg, topo) {
        Ok(_) => return Ok(false),
        Err(ObError::Connect { message, .. }) if message.contains("does not exist") => {}
        Err(e) => return Err(e),
    }
    let dbname = cfg.pg.get_dbname().unwrap_or("asto_ob").to_owned();
    let mut maintenance = cfg.pg.clone();
    maintenance.dbname("postgres");
    let mut client = open(cfg, &maintenance, topo)?;
    match client.batch_execute(&format!("CREATE DATABASE {}", ident(&dbname))) {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(false),
        Err(e) => Err(ObError::db(&cfg.name, format!("creating database {dbname}"), e)),
    }
}

/// The schema version of a node (0 when it was never initialised).
pub fn current_version(node: &mut Node) -> Result<i32> {
    let row = node.query_one(
        "reading the schema version",
        "SELECT CASE WHEN to_regclass('ob_schema_migration') IS NULL THEN 0
                     ELSE (SELECT coalesce(max(version), 0) FROM ob_schema_migration) END",
        &[],
    )?;
    Ok(row.get(0))
}

/// Check that the database is (or can become) the node the configuration says it is.
pub fn check_identity(node: &mut Node) -> Result<()> {
    let exists: bool = node
        .query_one("reading the node identity", "SELECT to_regclass('ob_node') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(());
    }
    let rows = node.query("reading the node identity", "SELECT name, role FROM ob_node", &[])?;
    if let Some(row) = rows.first() {
        let (found, role): (String, String) = (row.get(0), row.get(1));
        if found != node.cfg.name || role != node.cfg.role.as_str() {
            return Err(ObError::WrongNode { node: node.cfg.name.clone(), found, role });
        }
    }
    Ok(())
}

/// Apply every missing migration to `node`; returns the versions applied.
pub fn migrate(node: &mut Node) -> Result<Vec<i32>> {
    node.batch(
        "creating the migration table",
        "CREATE TABLE IF NOT EXISTS ob_schema_migration (
             version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )?;
    check_identity(node)?;
    let current = current_version(node)?;
    if current > latest_version() {
        return Err(ObError::Schema {
            node: node.cfg.name.clone(),
            message: format!("schema version {current} is newer than this asto knows ({})", latest_version()),
        });
    }
    let name = node.cfg.name.clone();
    let role = node.cfg.role;
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let mut tx = node.client.transaction().map_err(|e| ObError::db(&name, "begin", e))?;
        let ctx = |what: &str| format!("migration {} ({what})", m.version);
        // Serialise concurrent `init` runs on the same node.
        tx.batch_execute("SELECT pg_advisory_xact_lock(4155321001)").map_err(|e| ObError::db(&name, ctx("lock"), e))?;
        let done: bool = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM ob_schema_migration WHERE version = $1)", &[&m.version])
            .map_err(|e| ObError::db(&name, ctx("check"), e))?
            .get(0);
        if done {
            continue;
        }
        tx.batch_execute(m.common).map_err(|e| ObError::db(&name, ctx("common part"), e))?;
        if m.version == 1 {
            tx.execute("INSERT INTO ob_node (name, role) VALUES ($1, $2)", &[&name, &role.as_str()])
                .map_err(|e| ObError::db(&name, ctx("node identity"), e))?;
        }
        let part = match role {
            Role::Hq => m.hq,
            Role::Site => m.site,
        };
        tx.batch_execute(part).map_err(|e| ObError::db(&name, ctx("role part"), e))?;
        tx.execute("INSERT INTO ob_schema_migration (version, name) VALUES ($1, $2)", &[&m.version, &m.name])
            .map_err(|e| ObError::db(&name, ctx("record"), e))?;
        tx.commit().map_err(|e| ObError::db(&name, ctx("commit"), e))?;
        tracing::info!(node = %name, version = m.version, "schema migration applied");
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_every_part_is_present() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "migration versions must increase");
            last = m.version;
            assert!(!m.common.trim().is_empty() && !m.hq.trim().is_empty() && !m.site.trim().is_empty());
        }
        assert_eq!(latest_version(), last);
    }
}
