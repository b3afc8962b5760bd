//! Archive services (seeds 002 and 003): what makes the archive worth keeping — files found by
//! what they are and got back even from media in the jukebox.
//!
//! - [`inbox`]: the passive ingest daemon (trigger files, a persisted queue);
//! - [`ingest`] and [`versions`]: archive ingest that never overwrites (versioned names);
//! - [`fits`] and [`metadata`]: header keywords into the catalogue, with a full-text index;
//! - [`browse`]: search by name pattern, keyword values, date range and free text;
//! - [`retrieve`]: a file from its stage, or positioned straight to it on a volume;
//! - [`consistency`]: stage and volumes against the catalogue;
//! - [`rights`]: owners, programmes and proprietary periods;
//! - [`distribution`]: tar.gz bundles or user media, several requests at once.
//!
//! Every entry point is a plain function over the catalogue returning serde types, so the CLI
//! and the HTTP API call the same code.

pub mod browse;
pub mod consistency;
pub mod distribution;
pub mod fits;
pub mod inbox;
pub mod ingest;
pub mod metadata;
pub mod rights;
pub mod retrieve;
pub mod versions;
