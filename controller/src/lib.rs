//! The asto controller: catalogue, data stages, requests, packing, the action pipeline, the CLI
//! and the OB module.

pub mod cli;
pub mod ob;
