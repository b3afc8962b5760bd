//! `asto ob init`: bring every configured node to the current schema and wire the replication
//! topology. Idempotent: running it again applies only what is missing, so it also adds a new
//! site or upgrades the schema.

use std::time::Duration;

use serde::Serialize;

use super::config::{ObConfig, Role};
use super::error::Result;
use super::migrate;
use super::node::Node;
use super::replication;

/// What `init` did on one node.
#[derive(Debug, Serialize)]
pub struct NodeInit {
    pub node: String,
    pub role: Role,
    pub database_created: bool,
    pub migrations_applied: Vec<i32>,
    pub schema_version: i32,
}

/// What `init` did.
#[derive(Debug, Serialize)]
pub struct InitReport {
    pub nodes: Vec<NodeInit>,
    pub subscriptions_created: Vec<String>,
    /// Why the new subscriptions had not finished their initial copy when `init` stopped
    /// waiting (None: every link delivered everything, or nothing new was created).
    pub sync_error: Option<String>,
}

/// Migrate every node, then create publications, then subscriptions (which need the
/// publishers' publications and the subscribers' tables to exist). When subscriptions were
/// created, wait up to `wait` for their initial copy so the topology is live on return.
pub fn init(cfg: &ObConfig, wait: Duration) -> Result<InitReport> {
    let mut nodes = Vec::new();
    let mut conns = Vec::new();
    for n in cfg.nodes() {
        let database_created = migrate::ensure_database(n, cfg)?;
        let mut node = Node::connect(n, cfg)?;
        let migrations_applied = migrate::migrate(&mut node)?;
        let schema_version = migrate::current_version(&mut node)?;
        nodes.push(NodeInit { node: n.name.clone(), role: n.role, database_created, migrations_applied, schema_version });
        conns.push(node);
    }
    for node in &mut conns {
        replication::ensure_publications(node)?;
    }
    let mut subscriptions_created = Vec::new();
    for link in replication::links(cfg) {
        let Some(subscriber) = conns.iter_mut().find(|c| c.name() == link.subscriber.name) else {
            continue;
        };
        if replication::ensure_subscription(subscriber, &link)? {
            subscriptions_created.push(link.subscription());
        }
    }
    drop(conns);
    let sync_error = if subscriptions_created.is_empty() || wait.is_zero() {
        None
    } else {
        replication::wait_for_sync(cfg, wait).err().map(|e| e.to_string())
    };
    Ok(InitReport { nodes, subscriptions_created, sync_error })
}
