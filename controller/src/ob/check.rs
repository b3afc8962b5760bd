//! Consistency checks, the seed's two rules (§6):
//! 1. every OB of HQ's operational repository is returned, identical, by each site's SM view;
//! 2. every OB a site's VM view returns exists, identical, in HQ's historical repository.
//!
//! Both sides hash the replicated columns of each OB in a fixed order (md5 of the row's text,
//! portable across platforms), sum the first 64 bits of the hashes per bucket of OB ids (order
//! independent, so no sort), and compare `(count, sum)` per bucket; only differing buckets are
//! compared OB by OB. HQ and every site scan at the same time, each once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::config::{NodeConfig, ObConfig};
use super::error::{ObError, Result};
use super::health::{self, LinkHealth};
use super::node::{Node, literal};
use super::replication;

/// The OB columns compared between nodes, in hashing order.
pub const OB_COLUMNS: &str = "ob_id, run_id, item_type, name, mode, site, status, grade, user_priority, instrument, \
     ip_version, exposure_time_s, execution_time_s, parent_container_id, target, constraints, time_constraints, \
     obs_description, created_at, last_changed, last_executed, version";

/// The result of one rule for one site.
#[derive(Debug, Serialize)]
pub struct RuleReport {
    pub rule: u8,
    pub site: String,
    pub description: String,
    /// Rows compared at HQ (rule 2: VM rows of the site not purged there) and at the site.
    pub hq_rows: i64,
    pub site_rows: i64,
    pub buckets: usize,
    pub buckets_differing: usize,
    /// OBs HQ has that the site lacks (rule 2: only those the site has not purged).
    pub only_at_hq: Vec<i64>,
    /// OBs the site has that HQ lacks.
    pub only_at_site: Vec<i64>,
    /// OBs present on both sides with different content.
    pub differing: Vec<i64>,
    pub consistent: bool,
}

/// The whole check.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// None when the replication caught up before comparing; else why not.
    pub sync_error: Option<String>,
    pub links: Vec<LinkHealth>,
    pub rules: Vec<RuleReport>,
    pub consistent: bool,
}

type Buckets = BTreeMap<i64, (i64, String)>;

/// One side of a comparison: which rows of which relation.
struct Side<'a> {
    relation: &'a str,
    filter: String,
}

fn hq_sm_side() -> Side<'static> {
    Side { relation: "ob", filter: "mode = 'SM'".to_owned() }
}

fn site_sm_side() -> Side<'static> {
    Side { relation: "sm_ob", filter: "true".to_owned() }
}

fn site_vm_side() -> Side<'static> {
    Side { relation: "vm_ob", filter: "true".to_owned() }
}

fn row_hash() -> String {
    format!("md5(ROW({OB_COLUMNS})::text)")
}

fn buckets(node: &mut Node, side: &Side, bucket_size: i64) -> Result<Buckets> {
    let sql = format!(
        "SELECT ob_id / $1, count(*), sum(('x' || left({}, 16))::bit(64)::bigint)::text
           FROM {} WHERE {} GROUP BY 1",
        row_hash(),
        side.relation,
        side.filter
    );
    let rows = node.query("hashing OB buckets", &sql, &[&bucket_size])?;
    Ok(rows.iter().map(|r| (r.get::<_, i64>(0), (r.get::<_, i64>(1), r.get::<_, String>(2)))).collect())
}

fn rows_in(node: &mut Node, side: &Side, bucket_size: i64, wanted: &[i64]) -> Result<BTreeMap<i64, String>> {
    let sql = format!(
        "SELECT ob_id, {} FROM {} WHERE ({}) AND ob_id / $1 = ANY ($2)",
        row_hash(),
        side.relation,
        side.filter
    );
    let rows = node.query("hashing OBs of differing buckets", &sql, &[&bucket_size, &wanted])?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn differing_buckets(a: &Buckets, b: &Buckets) -> Vec<i64> {
    let keys: BTreeSet<i64> = a.keys().chain(b.keys()).copied().collect();
    keys.into_iter().filter(|k| a.get(k) != b.get(k)).collect()
}

/// Rule 1 for one site: HQ's SM OBs equal the site's SM view.
fn rule1(hq: &mut Node, hq_buckets: &Buckets, site: &mut Node, site_buckets: &Buckets, bucket_size: i64) -> Result<RuleReport> {
    let hq_side = hq_sm_side();
    let site_side = site_sm_side();
    let diff = differing_buckets(hq_buckets, site_buckets);
    let (mut only_at_hq, mut only_at_site, mut differing) = (Vec::new(), Vec::new(), Vec::new());
    if !diff.is_empty() {
        let a = rows_in(hq, &hq_side, bucket_size, &diff)?;
        let b = rows_in(site, &site_side, bucket_size, &diff)?;
        for (id, h) in &a {
            match b.get(id) {
                None => only_at_hq.push(*id),
                Some(other) if other != h => differing.push(*id),
                Some(_) => {}
            }
        }
        only_at_site.extend(b.keys().filter(|id| !a.contains_key(id)));
    }
    let consistent = only_at_hq.is_empty() && only_at_site.is_empty() && differing.is_empty();
    Ok(RuleReport {
        rule: 1,
        site: site.name().to_owned(),
        description: "HQ's operational OBs are all returned, identical, by the site's SM view".to_owned(),
        hq_rows: hq_buckets.values().map(|v| v.0).sum(),
        site_rows: site_buckets.values().map(|v| v.0).sum(),
        buckets: hq_buckets.len().max(site_buckets.len()),
        buckets_differing: diff.len(),
        only_at_hq,
        only_at_site,
        differing,
        consistent,
    })
}

/// Rule 2 for one site: everything the site's VM view returns exists, identical, at HQ. HQ
/// keeps the VM OBs the site purged; the bucket hashes leave out those older than the site's
/// last purge cutoff, so that only real differences make buckets differ.
fn rule2(hq: &mut Node, site: &mut Node, site_buckets: &Buckets, bucket_size: i64) -> Result<RuleReport> {
    let cutoff: Option<String> = site
        .query_one(
            "reading the last VM purge",
            "SELECT max((args->>'cutoff')::timestamptz)::text FROM rpc_log WHERE proc = 'archive_vm'",
            &[],
        )?
        .get(0);
    let name = site.name().to_owned();
    let vm_of_site = format!("mode = 'VM' AND site = {}", literal(&name));
    let unpurged = match &cutoff {
        Some(c) => format!("{vm_of_site} AND last_changed >= {}::timestamptz", literal(c)),
        None => vm_of_site.clone(),
    };
    let site_side = site_vm_side();
    let hq_bucket_side = Side { relation: "ob_repository", filter: unpurged.clone() };
    let hq_buckets = buckets(hq, &hq_bucket_side, bucket_size)?;
    let diff = differing_buckets(&hq_buckets, site_buckets);
    let (mut only_at_hq, mut only_at_site, mut differing) = (Vec::new(), Vec::new(), Vec::new());
    if !diff.is_empty() {
        let all_at_hq = rows_in(hq, &Side { relation: "ob_repository", filter: vm_of_site }, bucket_size, &diff)?;
        let unpurged_at_hq = rows_in(hq, &hq_bucket_side, bucket_size, &diff)?;
        let at_site = rows_in(site, &site_side, bucket_size, &diff)?;
        for (id, h) in &at_site {
            match all_at_hq.get(id) {
                None => only_at_site.push(*id),
                Some(other) if other != h => differing.push(*id),
                Some(_) => {}
            }
        }
        only_at_hq.extend(unpurged_at_hq.keys().filter(|id| !at_site.contains_key(id)));
    }
    let consistent = only_at_hq.is_empty() && only_at_site.is_empty() && differing.is_empty();
    Ok(RuleReport {
        rule: 2,
        site: name,
        description: "the site's VM OBs all exist, identical, in HQ's historical repository".to_owned(),
        hq_rows: hq_buckets.values().map(|v| v.0).sum(),
        site_rows: site_buckets.values().map(|v| v.0).sum(),
        buckets: hq_buckets.len().max(site_buckets.len()),
        buckets_differing: diff.len(),
        only_at_hq,
        only_at_site,
        differing,
        consistent,
    })
}

/// Run both rules for `sites` (all when empty), after waiting up to `wait` for replication to
/// deliver everything committed before the check started (no wait when zero).
pub fn check(cfg: &ObConfig, sites: &[String], wait: Duration) -> Result<CheckReport> {
    let selected: Vec<&NodeConfig> = if sites.is_empty() {
        cfg.sites.iter().collect()
    } else {
        sites.iter().map(|s| cfg.site(s)).collect::<Result<_>>()?
    };
    let sync_error = if wait.is_zero() {
        None
    } else {
        replication::wait_for_sync(cfg, wait).err().map(|e| e.to_string())
    };
    let links = health::replication_health(cfg);
    let bucket_size = cfg.bucket_size;
    // The big scans — HQ's SM OBs, each site's SM and VM views — run concurrently.
    let (hq_scan, site_scans) = std::thread::scope(|scope| {
        let handles: Vec<_> = selected
            .iter()
            .map(|s| {
                scope.spawn(move || -> Result<(Node<'_>, Buckets, Buckets)> {
                    let mut site = Node::connect(s, cfg)?;
                    let sm = buckets(&mut site, &site_sm_side(), bucket_size)?;
                    let vm = buckets(&mut site, &site_vm_side(), bucket_size)?;
                    Ok((site, sm, vm))
                })
            })
            .collect();
        let hq_scan = Node::connect(&cfg.hq, cfg).and_then(|mut hq| {
            let b = buckets(&mut hq, &hq_sm_side(), bucket_size)?;
            Ok((hq, b))
        });
        let site_scans: Vec<Result<(Node<'_>, Buckets, Buckets)>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(ObError::BadRequest("a site scan thread panicked".to_owned()))))
            .collect();
        (hq_scan, site_scans)
    });
    let (mut hq, hq_sm) = hq_scan?;
    let mut rules = Vec::new();
    for scan in site_scans {
        let (mut site, sm, vm) = scan?;
        rules.push(rule1(&mut hq, &hq_sm, &mut site, &sm, bucket_size)?);
        rules.push(rule2(&mut hq, &mut site, &vm, bucket_size)?);
    }
    for r in &rules {
        tracing::info!(rule = r.rule, site = %r.site, consistent = r.consistent, buckets_differing = r.buckets_differing, "consistency rule checked");
    }
    let consistent = sync_error.is_none() && links.iter().all(LinkHealth::healthy) && rules.iter().all(|r| r.consistent);
    Ok(CheckReport { sync_error, links, rules, consistent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_buckets_cover_missing_and_changed_buckets() {
        let a: Buckets = [(0, (2, "x".to_owned())), (1, (1, "y".to_owned())), (3, (1, "w".to_owned()))].into();
        let b: Buckets = [(0, (2, "x".to_owned())), (1, (1, "z".to_owned())), (2, (1, "v".to_owned()))].into();
        assert_eq!(differing_buckets(&a, &b), vec![1, 2, 3]);
        assert!(differing_buckets(&a, &a).is_empty());
    }
}
