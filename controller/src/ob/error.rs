//! Typed errors of the OB module. Every error names the node (HQ or a site) it concerns, so an
//! operator knows which database to look at.

use std::path::PathBuf;

/// What went wrong in the OB module.
#[derive(Debug, thiserror::Error)]
pub enum ObError {
    /// The configuration file could not be read.
    #[error("cannot read OB configuration {path}: {source}")]
    ConfigRead { path: PathBuf, source: std::io::Error },
    /// The configuration is not valid.
    #[error("invalid OB configuration {path}: {message}")]
    Config { path: PathBuf, message: String },
    /// A node could not be reached.
    #[error("{node}: cannot connect: {message}")]
    Connect { node: String, message: String },
    /// A statement failed on a node.
    #[error("{node}: {context}: {message}")]
    Db { node: String, context: String, message: String },
    /// The database refused the data or the operation (validation, ownership, immutability).
    #[error("{node}: rejected: {message}")]
    Rejected { node: String, message: String },
    /// A database is initialised as another node than the configuration says.
    #[error("{node}: this database is initialised as node {found} ({role}); the configuration says {node}")]
    WrongNode { node: String, found: String, role: String },
    /// A node has not been initialised (`asto ob init`) or runs an unknown schema version.
    #[error("{node}: {message}")]
    Schema { node: String, message: String },
    /// Waiting for replication did not finish in time.
    #[error("replication from {from} to {to} did not catch up within {seconds} s ({detail})")]
    SyncTimeout { from: String, to: String, seconds: u64, detail: String },
    /// A request argument is not valid.
    #[error("{0}")]
    BadRequest(String),
}

/// The PostgreSQL SQLSTATE classes our own guards raise for refused data.
const REJECTION_STATES: &[&str] = &["23514", "23503", "23505", "42501", "P0002", "22023", "P0001"];

impl ObError {
    /// Wrap a database error of `node`; errors raised by the schema's guards become `Rejected`.
    pub fn db(node: &str, context: impl Into<String>, e: postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) if REJECTION_STATES.contains(&db.code().code()) => ObError::Rejected {
                node: node.to_owned(),
                message: db.message().to_owned(),
            },
            _ => ObError::Db { node: node.to_owned(), context: context.into(), message: describe(&e) },
        }
    }
}

/// A one-line description of a postgres error: the server's message and detail when there is one.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

pub type Result<T, E = ObError> = std::result::Result<T, E>;
