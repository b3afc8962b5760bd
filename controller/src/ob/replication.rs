//! The replication topology (reference §3.2): HQ publishes SM runs and OBs plus the command
//! table to every site; each site publishes its own VM runs and OBs to HQ without deletes, so
//! its monthly purge never reaches HQ. A node never publishes rows of the other mode, so there
//! are no loops. Also: waiting until a link has delivered everything committed before now.

use std::time::{Duration, Instant};

use super::config::{NodeConfig, ObConfig};
use super::error::{ObError, Result};
use super::node::{Node, literal};

/// Publication of a node's own OBs, runs and heartbeat.
pub fn ob_publication(node: &str) -> String {
    format!("asto_ob_{}", node.to_ascii_lowercase())
}

/// HQ's publication of the command table (insert-only).
pub const CMD_PUBLICATION: &str = "asto_cmd_hq";

/// Subscription (and replication slot at the publisher) carrying `publisher`'s rows to `subscriber`.
pub fn subscription(subscriber: &str, publisher: &str) -> String {
    format!("asto_{}_from_{}", subscriber.to_ascii_lowercase(), publisher.to_ascii_lowercase())
}

/// One direction of replication between two nodes.
#[derive(Debug, Clone)]
pub struct Link<'a> {
    pub publisher: &'a NodeConfig,
    pub subscriber: &'a NodeConfig,
}

impl Link<'_> {
    pub fn subscription(&self) -> String {
        subscription(&self.subscriber.name, &self.publisher.name)
    }
}

/// Every link of the topology: HQ → each site, then each site → HQ.
pub fn links(cfg: &ObConfig) -> Vec<Link<'_>> {
    let down = cfg.sites.iter().map(|s| Link { publisher: &cfg.hq, subscriber: s });
    let up = cfg.sites.iter().map(|s| Link { publisher: s, subscriber: &cfg.hq });
    down.chain(up).collect()
}

fn publication_exists(node: &mut Node, name: &str) -> Result<bool> {
    Ok(node
        .query_one("looking up a publication", "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", &[&name])?
        .get(0))
}

/// Create the node's publications if missing.
pub fn ensure_publications(node: &mut Node) -> Result<()> {
    let name = node.cfg.name.clone();
    let publication = ob_publication(&name);
    if node.cfg.role == super::config::Role::Hq {
        if !publication_exists(node, &publication)? {
            // No truncate: a TRUNCATE at HQ must never empty the sites' tables (and their VM rows).
            node.batch(
                "creating the SM publication",
                &format!(
                    "CREATE PUBLICATION {publication} FOR TABLE
                         obs_run WHERE (mode = 'SM'), ob WHERE (mode = 'SM'), ob_heartbeat WHERE (node = 'HQ')
                     WITH (publish = 'insert, update, delete')"
                ),
            )?;
        }
        if !publication_exists(node, CMD_PUBLICATION)? {
            node.batch(
                "creating the command publication",
                &format!("CREATE PUBLICATION {CMD_PUBLICATION} FOR TABLE rpc_call WHERE (target <> 'HQ') WITH (publish = 'insert')"),
            )?;
        }
    } else if !publication_exists(node, &publication)? {
        let site = literal(&name);
        node.batch(
            "creating the VM publication",
            &format!(
                "CREATE PUBLICATION {publication} FOR TABLE
                     obs_run WHERE (mode = 'VM' AND site = {site}), ob WHERE (mode = 'VM' AND site = {site}),
                     ob_heartbeat WHERE (node = {site})
                 WITH (publish = 'insert, update')"
            ),
        )?;
    }
    // The heartbeat row exists from the start so the initial copy carries it.
    node.query_one("starting the heartbeat", "SELECT ob_beat()", &[])?;
    Ok(())
}

/// Create the subscription of `link` at its subscriber if missing; returns whether it was created.
///
/// Without `disable_on_error`: on PostgreSQL 15 a lost connection to the publisher counts as an
/// error too, so a site going offline would disable the subscriptions that are to catch it up
/// afterwards. A conflicting change is instead retried by the worker (every
/// `wal_retrieve_retry_interval`) and shows in the health report as a stopped worker with errors.
pub fn ensure_subscription(subscriber: &mut Node, link: &Link) -> Result<bool> {
    let name = link.subscription();
    let exists: bool = subscriber
        .query_one("looking up a subscription", "SELECT EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1)", &[&name])?
        .get(0);
    if exists {
        return Ok(false);
    }
    let mut publications = ob_publication(&link.publisher.name);
    if link.publisher.role == super::config::Role::Hq {
        publications.push_str(", ");
        publications.push_str(CMD_PUBLICATION);
    }
    subscriber.batch(
        "creating a subscription",
        &format!(
            "CREATE SUBSCRIPTION {name} CONNECTION {} PUBLICATION {publications}",
            literal(&link.publisher.conninfo)
        ),
    )?;
    tracing::info!(subscriber = %link.subscriber.name, publisher = %link.publisher.name, subscription = %name, "subscription created");
    Ok(true)
}

/// Bump the publisher's heartbeat; the returned beat proves delivery once seen at a subscriber.
pub fn beat(publisher: &mut Node) -> Result<i64> {
    Ok(publisher.query_one("bumping the heartbeat", "SELECT ob_beat()", &[])?.get(0))
}

/// Wait until `subscriber` has applied `publisher`'s heartbeat `beat` (and so every change the
/// publisher committed before it). Polls every 50 ms up to `timeout`; fails early, with the
/// reason, if the subscription is disabled.
pub fn wait_for_beat(subscriber: &mut Node, publisher: &str, beat: i64, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let sub = subscription(subscriber.name(), publisher);
    loop {
        let row = subscriber.query_one(
            "waiting for replication",
            "SELECT (SELECT beat FROM ob_heartbeat WHERE node = $1),
                    (SELECT subenabled FROM pg_subscription WHERE subname = $2)",
            &[&publisher, &sub],
        )?;
        let seen: Option<i64> = row.get(0);
        let enabled: Option<bool> = row.get(1);
        if seen.is_some_and(|s| s >= beat) {
            return Ok(());
        }
        let timeout_error = |detail: String| ObError::SyncTimeout {
            from: publisher.to_owned(),
            to: subscriber.name().to_owned(),
            seconds: timeout.as_secs(),
            detail,
        };
        match enabled {
            None => return Err(timeout_error(format!("subscription {sub} does not exist; run asto ob init"))),
            Some(false) => return Err(timeout_error(format!("subscription {sub} is disabled"))),
            Some(true) => {}
        }
        if Instant::now() >= deadline {
            return Err(timeout_error(format!("heartbeat {} of {beat} applied", seen.unwrap_or(0))));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until every link of the topology has delivered what was committed before the call.
pub fn wait_for_sync(cfg: &ObConfig, timeout: Duration) -> Result<()> {
    let mut hq = Node::connect(&cfg.hq, cfg)?;
    let mut sites = cfg.sites.iter().map(|s| Node::connect(s, cfg)).collect::<Result<Vec<_>>>()?;
    let hq_beat = beat(&mut hq)?;
    let site_beats = sites.iter_mut().map(beat).collect::<Result<Vec<_>>>()?;
    for site in &mut sites {
        wait_for_beat(site, "HQ", hq_beat, timeout)?;
    }
    for (site, b) in sites.iter().zip(site_beats) {
        wait_for_beat(&mut hq, site.name(), b, timeout)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_nodes() {
        assert_eq!(ob_publication("PARANAL"), "asto_ob_paranal");
        assert_eq!(subscription("HQ", "LASILLA"), "asto_hq_from_lasilla");
    }
}
