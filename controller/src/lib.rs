//! The asto controller: catalogue, data stages, requests, packing, the action pipeline, the CLI
//! and the OB module.

pub mod catalogue;
pub mod cli;
pub mod config;
pub mod error;
pub mod media;
pub mod ob;
pub mod packer;
pub mod size;
