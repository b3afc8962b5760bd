//! Replication health and node status: per link, whether the subscription is enabled and its
//! worker running (and if not, why), how far it lags (bytes and time) and how much WAL its slot
//! keeps at the publisher — the seed's replication had none of this to show.

use serde::Serialize;

use super::config::{ObConfig, Role};
use super::error::Result;
use super::migrate;
use super::node::Node;
use super::replication::{self, Link};

/// The state of one replication link, read at both ends.
#[derive(Debug, Serialize)]
pub struct LinkHealth {
    pub subscription: String,
    pub publisher: String,
    pub subscriber: String,
    /// None when the subscriber could not be read.
    pub enabled: Option<bool>,
    pub worker_running: Option<bool>,
    pub apply_errors: Option<i64>,
    pub sync_errors: Option<i64>,
    pub seconds_since_last_message: Option<f64>,
    /// WAL the publisher keeps for this slot (bytes).
    pub retained_wal_bytes: Option<i64>,
    /// WAL written at the publisher not yet confirmed by the subscriber (bytes).
    pub lag_bytes: Option<i64>,
    /// Replay lag reported by the publisher's WAL sender (seconds; none when idle).
    pub replay_lag_seconds: Option<f64>,
    pub slot_active: Option<bool>,
    /// `pg_replication_slots.wal_status`: reserved, extended, unreserved or lost.
    pub slot_wal_status: Option<String>,
    /// What is wrong, in words; None when healthy.
    pub problem: Option<String>,
}

impl LinkHealth {
    pub fn healthy(&self) -> bool {
        self.problem.is_none()
    }
}

fn subscriber_side(node: &mut Node, sub: &str, h: &mut LinkHealth) -> Result<()> {
    let rows = node.query(
        "reading subscription state",
        "SELECT s.subenabled,
                EXISTS (SELECT 1 FROM pg_stat_subscription st WHERE st.subid = s.oid AND st.pid IS NOT NULL),
                ss.apply_error_count, ss.sync_error_count,
                (SELECT extract(epoch FROM now() - max(st.last_msg_receipt_time))::float8
                   FROM pg_stat_subscription st WHERE st.subid = s.oid)
           FROM pg_subscription s LEFT JOIN pg_stat_subscription_stats ss ON ss.subid = s.oid
          WHERE s.subname = $1",
        &[&sub],
    )?;
    let Some(r) = rows.first() else {
        h.problem = Some(format!("subscription {sub} does not exist at {}; run asto ob init", h.subscriber));
        return Ok(());
    };
    h.enabled = Some(r.get(0));
    h.worker_running = Some(r.get(1));
    h.apply_errors = r.get(2);
    h.sync_errors = r.get(3);
    h.seconds_since_last_message = r.get(4);
    let apply_errors = h.apply_errors.unwrap_or(0);
    if h.enabled == Some(false) {
        h.problem = Some(if apply_errors > 0 {
            format!(
                "disabled after {apply_errors} error(s) (a conflicting change, or disable_on_error set by hand); the server \
                 log at {} names the failing transaction and its finish LSN — fix the row and ALTER SUBSCRIPTION {sub} \
                 ENABLE, or SKIP (lsn = …) then ENABLE, and run asto ob check",
                h.subscriber
            )
        } else {
            format!("disabled by an operator (no errors recorded); ALTER SUBSCRIPTION {sub} ENABLE at {}", h.subscriber)
        });
    } else if h.worker_running == Some(false) {
        h.problem = Some(if apply_errors > 0 {
            format!(
                "no apply worker runs after {apply_errors} error(s): {} is unreachable, or a replicated change conflicts \
                 and is retried every few seconds — the server log at {} names the failing transaction and its finish LSN; \
                 fix the row, or ALTER SUBSCRIPTION {sub} SKIP (lsn = …), then run asto ob check",
                h.publisher, h.subscriber
            )
        } else {
            format!("enabled but no apply worker runs at {} (is {} reachable?)", h.subscriber, h.publisher)
        });
    }
    Ok(())
}

fn publisher_side(node: &mut Node, slot: &str, h: &mut LinkHealth) -> Result<()> {
    let rows = node.query(
        "reading replication slot state",
        "SELECT sl.active,
                pg_wal_lsn_diff(pg_current_wal_lsn(), sl.restart_lsn)::bigint,
                pg_wal_lsn_diff(pg_current_wal_lsn(), sl.confirmed_flush_lsn)::bigint,
                (SELECT extract(epoch FROM r.replay_lag)::float8 FROM pg_stat_replication r
                  WHERE r.pid = sl.active_pid),
                sl.wal_status
           FROM pg_replication_slots sl WHERE sl.slot_name = $1",
        &[&slot],
    )?;
    let Some(r) = rows.first() else {
        if h.problem.is_none() {
            h.problem = Some(format!("no replication slot {slot} at {}", h.publisher));
        }
        return Ok(());
    };
    h.slot_active = Some(r.get(0));
    h.retained_wal_bytes = r.get(1);
    h.lag_bytes = r.get(2);
    h.replay_lag_seconds = r.get(3);
    let wal_status: Option<String> = r.get(4);
    h.slot_wal_status = wal_status.clone();
    // A slot past max_slot_wal_keep_size has lost WAL its subscriber still needs: no catching up.
    let lost = match wal_status.as_deref() {
        Some("lost") => Some("has lost WAL its subscriber still needs (max_slot_wal_keep_size exceeded)"),
        Some("unreserved") => Some("is about to lose WAL its subscriber still needs (max_slot_wal_keep_size)"),
        _ => None,
    };
    if let Some(what) = lost {
        let text = format!(
            "slot {slot} at {} {what}: the subscriber must be re-synchronised (drop and re-create the subscription, \
             then run asto ob check)",
            h.publisher
        );
        h.problem = Some(match h.problem.take() {
            Some(p) => format!("{p}; {text}"),
            None => text,
        });
    }
    Ok(())
}

/// Health of one link; unreachable ends are reported as the problem, not as an error.
pub fn link_health(cfg: &ObConfig, link: &Link) -> LinkHealth {
    let sub = link.subscription();
    let mut h = LinkHealth {
        subscription: sub.clone(),
        publisher: link.publisher.name.clone(),
        subscriber: link.subscriber.name.clone(),
        enabled: None,
        worker_running: None,
        apply_errors: None,
        sync_errors: None,
        seconds_since_last_message: None,
        retained_wal_bytes: None,
        lag_bytes: None,
        replay_lag_seconds: None,
        slot_active: None,
        slot_wal_status: None,
        problem: None,
    };
    if let Err(e) = Node::connect(link.subscriber, cfg).and_then(|mut n| subscriber_side(&mut n, &sub, &mut h)) {
        h.problem = Some(e.to_string());
    }
    if let Err(e) = Node::connect(link.publisher, cfg).and_then(|mut n| publisher_side(&mut n, &sub, &mut h))
        && h.problem.is_none()
    {
        h.problem = Some(e.to_string());
    }
    h
}

/// Health of every link of the topology.
pub fn replication_health(cfg: &ObConfig) -> Vec<LinkHealth> {
    replication::links(cfg).iter().map(|l| link_health(cfg, l)).collect()
}

/// One node's state.
#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub role: Role,
    pub reachable: bool,
    pub error: Option<String>,
    pub schema_version: Option<i32>,
    pub sm_obs: Option<i64>,
    pub vm_obs: Option<i64>,
    /// HQ only: archived OBs in the history table.
    pub history_obs: Option<i64>,
    pub last_calls: Vec<super::archive::LoggedCall>,
}

/// `asto ob status`: every node and every link.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub nodes: Vec<NodeStatus>,
    pub links: Vec<LinkHealth>,
    pub healthy: bool,
}

fn node_status(cfg: &ObConfig, n: &super::config::NodeConfig) -> NodeStatus {
    let mut s = NodeStatus {
        node: n.name.clone(),
        role: n.role,
        reachable: false,
        error: None,
        schema_version: None,
        sm_obs: None,
        vm_obs: None,
        history_obs: None,
        last_calls: Vec::new(),
    };
    let result = (|| -> Result<()> {
        let mut node = Node::connect(n, cfg)?;
        s.reachable = true;
        let version = migrate::current_version(&mut node)?;
        s.schema_version = Some(version);
        if version == 0 {
            s.error = Some("not initialised; run asto ob init".to_owned());
            return Ok(());
        }
        migrate::check_identity(&mut node)?;
        let r = node.query_one(
            "counting OBs",
            "SELECT count(*) FILTER (WHERE mode = 'SM'), count(*) FILTER (WHERE mode = 'VM') FROM ob",
            &[],
        )?;
        s.sm_obs = Some(r.get(0));
        s.vm_obs = Some(r.get(1));
        if n.role == Role::Hq {
            s.history_obs = Some(node.query_one("counting history", "SELECT count(*) FROM ob_history", &[])?.get(0));
        }
        s.last_calls = super::archive::call_log(&mut node, 5)?;
        if let Some(failed) = s.last_calls.iter().find(|c| c.outcome.starts_with("failed")) {
            s.error = Some(format!(
                "{} call {} {}",
                failed.proc,
                failed.call_id.map_or("-".to_owned(), |i| i.to_string()),
                failed.outcome
            ));
        }
        Ok(())
    })();
    if let Err(e) = result {
        s.error = Some(e.to_string());
    }
    s
}

/// Status of every node and link.
pub fn status(cfg: &ObConfig) -> StatusReport {
    let nodes: Vec<NodeStatus> = cfg.nodes().map(|n| node_status(cfg, n)).collect();
    let links = replication_health(cfg);
    let healthy = nodes.iter().all(|n| n.error.is_none()) && links.iter().all(LinkHealth::healthy);
    StatusReport { nodes, links, healthy }
}
