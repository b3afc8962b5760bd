//! The `asto` command line: one binary for the controller daemon, the embedded agent and the
//! operator CLI. Each subcommand family lives in its own file.

pub mod browse;
pub mod agent;
pub mod changer;
pub mod check;
pub mod client;
pub mod completions;
pub mod config_check;
pub mod context;
pub mod controller;
pub mod demo;
pub mod devices;
pub mod distribute;
pub mod doctor;
pub mod image;
pub mod inbox;
pub mod ingest;
pub mod init;
pub mod ob;
pub mod output;
pub mod progress;
pub mod request;
pub mod retrieve;
pub mod rights;
pub mod run;
pub mod scsi;
pub mod tape;
pub mod units;
pub mod watch;
