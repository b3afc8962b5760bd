//! The two archiving procedures (seed §3, §4), invoked from Rust: SM archiving at HQ (its
//! invocation replicates to the sites through the command table) and VM archiving at each site
//! (local only). Both report the OBs they move, or would move with `dry_run`.

use serde::Serialize;

use super::config::{NodeConfig, ObConfig};
use super::error::{ObError, Result};
use super::node::Node;

/// An OB an archiving or recovery procedure moved (or would move).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MovedOb {
    pub ob_id: i64,
    pub run_id: i64,
    pub status: String,
    pub last_changed: String,
}

/// The outcome of one archiving run on one node.
#[derive(Debug, Serialize)]
pub struct ArchiveReport {
    pub node: String,
    pub procedure: &'static str,
    pub dry_run: bool,
    pub as_of: String,
    pub cutoff: String,
    pub obs: Vec<MovedOb>,
}

/// Parse an `--as-of` argument: `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time; returned in
/// RFC 3339 for PostgreSQL.
pub fn parse_as_of(text: &str) -> Result<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_rfc3339());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(format!("{d}T00:00:00+00:00"));
    }
    Err(ObError::BadRequest(format!(
        "--as-of {text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time (2027-05-01T12:00:00Z)"
    )))
}

pub(super) fn moved(rows: Vec<postgres::Row>) -> Vec<MovedOb> {
    rows.iter()
        .map(|r| MovedOb { ob_id: r.get(0), run_id: r.get(1), status: r.get(2), last_changed: r.get(3) })
        .collect()
}

fn run_procedure(
    node_cfg: &NodeConfig,
    cfg: &ObConfig,
    procedure: &'static str,
    as_of: Option<&str>,
    age: &str,
    dry_run: bool,
) -> Result<ArchiveReport> {
    let mut node = Node::connect(node_cfg, cfg)?;
    let as_of = match as_of {
        Some(t) => parse_as_of(t)?,
        None => node.query_one("reading the clock", "SELECT now()::text", &[])?.get(0),
    };
    let cutoff: String = node
        .query_one("computing the cutoff", "SELECT ($1::text::timestamptz - $2::text::interval)::text", &[&as_of, &age])?
        .get(0);
    let sql = format!(
        "SELECT ob_id, run_id, status::text, last_changed::text
           FROM {procedure}($1::text::timestamptz, $2::text::interval, $3)"
    );
    let rows = node.query(procedure, &sql, &[&as_of, &age, &dry_run])?;
    let obs = moved(rows);
    tracing::info!(node = %node_cfg.name, procedure, dry_run, cutoff = %cutoff, obs = obs.len(), "archiving done");
    Ok(ArchiveReport { node: node_cfg.name.clone(), procedure, dry_run, as_of, cutoff, obs })
}

/// SM archiving at HQ: SM OBs of runs older than the configured age move to the history; the
/// sites run their local counterpart when the invocation reaches them.
pub fn archive_sm(cfg: &ObConfig, as_of: Option<&str>, dry_run: bool) -> Result<ArchiveReport> {
    let age = format!("{} months", cfg.sm_age_months);
    run_procedure(&cfg.hq, cfg, "ob_archive_sm", as_of, &age, dry_run)
}

/// VM archiving at one site (or at every site when `site` is None).
pub fn archive_vm(cfg: &ObConfig, site: Option<&str>, as_of: Option<&str>, dry_run: bool) -> Result<Vec<ArchiveReport>> {
    if let Some(t) = as_of {
        parse_as_of(t)?;
    }
    let sites: Vec<&NodeConfig> = match site {
        Some(name) => vec![cfg.site(name)?],
        None => cfg.sites.iter().collect(),
    };
    let age = format!("{} days", cfg.vm_age_days);
    sites.into_iter().map(|s| run_procedure(s, cfg, "ob_archive_vm", as_of, &age, dry_run)).collect()
}

/// Calls of a procedure logged at a node (`rpc_log`), newest first.
#[derive(Debug, Serialize)]
pub struct LoggedCall {
    pub call_id: Option<i64>,
    pub node: String,
    pub proc: String,
    pub rows_affected: Option<i64>,
    pub outcome: String,
    pub at: String,
}

/// The last `limit` entries of a node's `rpc_log`.
pub fn call_log(node: &mut Node, limit: i64) -> Result<Vec<LoggedCall>> {
    let rows = node.query(
        "reading rpc_log",
        "SELECT call_id, node, proc, rows_affected, outcome, at::text FROM rpc_log ORDER BY log_id DESC LIMIT $1",
        &[&limit],
    )?;
    Ok(rows
        .iter()
        .map(|r| LoggedCall {
            call_id: r.get(0),
            node: r.get(1),
            proc: r.get(2),
            rows_affected: r.get(3),
            outcome: r.get(4),
            at: r.get(5),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_accepts_dates_and_rfc3339_and_names_bad_input() {
        assert_eq!(parse_as_of("2027-05-01").unwrap(), "2027-05-01T00:00:00+00:00");
        assert_eq!(parse_as_of("2027-05-01T12:00:00Z").unwrap(), "2027-05-01T12:00:00+00:00");
        let e = parse_as_of("next tuesday").unwrap_err().to_string();
        assert!(e.contains("next tuesday") && e.contains("YYYY-MM-DD"), "{e}");
        assert!(parse_as_of("2027-13-01").is_err());
    }
}
