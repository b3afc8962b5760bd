//! The OB module: replication and archiving of observation blocks on PostgreSQL (seed 000).
//!
//! HQ owns the service-mode (SM) OBs and replicates them to the observing sites; each site owns
//! its visitor-mode (VM) OBs and replicates them to HQ's historical repository. Archiving
//! procedures keep the operational databases small, recovery brings archived OBs back, and a
//! bucketed-hash consistency check verifies the seed's two rules. The SQL lives in `sql/`
//! (versioned migrations); this module wires nodes, topology and reports together.

pub mod archive;
pub mod check;
pub mod config;
pub mod error;
pub mod health;
pub mod init;
pub mod migrate;
pub mod node;
pub mod recover;
pub mod replication;

pub use config::ObConfig;
pub use error::ObError;
