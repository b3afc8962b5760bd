//! The `asto` command line: one binary for the controller daemon, the embedded agent and the
//! operator CLI. Each subcommand family lives in its own file.

pub mod changer;
pub mod image;
pub mod ob;
pub mod scsi;
pub mod tape;
