//! The controller's error type. Every variant names the problem in words an operator can act on;
//! bad input is always reported before anything is changed.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration {file}: {message}")]
    Config { file: PathBuf, message: String },
    #[error("catalogue: {0}")]
    Catalogue(#[from] rusqlite::Error),
    #[error("catalogue {path} was written by a newer asto (schema version {found}, this build knows {known})")]
    CatalogueTooNew { path: PathBuf, found: i64, known: i64 },
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("stage '{stage}' is full: {needed} bytes needed, {available} bytes available after keeping the {reserve}-byte reserve")]
    StageFull { stage: String, needed: u64, available: u64, reserve: u64 },
    #[error("{path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("agent: {0}")]
    Agent(#[from] asto_agent::AgentError),
    #[error("{0}")]
    State(String),
}

impl Error {
    pub fn input(msg: impl Into<String>) -> Error {
        Error::Input(msg.into())
    }

    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::File { path: path.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
