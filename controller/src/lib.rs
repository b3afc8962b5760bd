//! The asto controller: catalogue, data stages, requests, packing, the action pipeline, the CLI
//! and the OB module.

pub mod archive;
pub mod catalogue;
pub mod cli;
pub mod config;
pub mod error;
pub mod formats;
pub mod ingest;
pub mod listing;
pub mod media;
pub mod ob;
pub mod packer;
pub mod pipeline;
pub mod requests;
pub mod size;
pub mod service;
pub mod stage;
pub mod workspace;
