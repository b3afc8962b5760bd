//! Connections to the nodes of the topology, set up the same way everywhere (UTC, ISO dates) so
//! that row hashes computed on different nodes agree.

use postgres::{Client, NoTls};

use super::config::{NodeConfig, ObConfig};
use super::error::{ObError, Result, describe};

/// An open connection to one node.
pub struct Node<'a> {
    pub cfg: &'a NodeConfig,
    pub client: Client,
}

impl<'a> Node<'a> {
    /// Connect to `cfg`'s database.
    pub fn connect(cfg: &'a NodeConfig, topo: &ObConfig) -> Result<Self> {
        let client = open(cfg, &cfg.pg, topo)?;
        Ok(Node { cfg, client })
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Run statements that return nothing; errors name this node and `context`.
    pub fn batch(&mut self, context: &str, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).map_err(|e| ObError::db(&self.cfg.name, context, e))
    }

    /// `query` with errors that name this node and `context`.
    pub fn query(
        &mut self,
        context: &str,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>> {
        self.client.query(sql, params).map_err(|e| ObError::db(&self.cfg.name, context, e))
    }

    /// `query_one` with errors that name this node and `context`.
    pub fn query_one(
        &mut self,
        context: &str,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<postgres::Row> {
        self.client.query_one(sql, params).map_err(|e| ObError::db(&self.cfg.name, context, e))
    }
}

/// Open a session to `pg` (the node's database or, for `init`, its maintenance database).
pub fn open(cfg: &NodeConfig, pg: &postgres::Config, topo: &ObConfig) -> Result<Client> {
    let mut pg = pg.clone();
    pg.connect_timeout(topo.connect_timeout);
    if pg.get_application_name().is_none() {
        pg.application_name("asto-ob");
    }
    let mut client = pg.connect(NoTls).map_err(|e| ObError::Connect { node: cfg.name.clone(), message: describe(&e) })?;
    client
        .batch_execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'")
        .map_err(|e| ObError::db(&cfg.name, "session setup", e))?;
    Ok(client)
}

/// Quote `s` as an SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Quote `s` as an SQL identifier.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn literals_round_trip(s in ".*") {
            let q = literal(&s);
            proptest::prop_assert!(q.starts_with('\'') && q.ends_with('\''));
            let inner = &q[1..q.len() - 1];
            // Every quote inside comes doubled, so the literal cannot end early.
            proptest::prop_assert!(!inner.replace("''", "").contains('\''));
            proptest::prop_assert_eq!(inner.replace("''", "'"), s);
        }
    }

    #[test]
    fn quoting_doubles_the_quote_character() {
        assert_eq!(literal("host=a password='x'"), "'host=a password=''x'''");
        assert_eq!(ident("asto\"ob"), "\"asto\"\"ob\"");
    }
}
