//! Media images for asto, built so that the exact size is known before the first byte is
//! written and the bytes can be streamed straight to a device.
//!
//! Two formats, both readable by standard tools for decades to come:
//! - [`iso`]: ISO 9660 level 3 with Rock Ridge and Joliet, for optical media;
//! - [`tar`]: POSIX.1-2001 pax tar in fixed-size records, for tape.
//!
//! Every medium carries [`SUMS_NAME`] (checkable with `sha256sum -c`) and [`MANIFEST_NAME`]
//! at its root. [`read`] lists and checks a stream read back from a device.
//!
//! This crate knows nothing of catalogues, devices or networks: it turns a [`UnitContent`]
//! into bytes and bytes back into a checked listing.

mod civil;
mod error;
mod hashing;
mod manifest;
mod readahead;
mod scan;
mod source;
mod sums;
mod tree;
mod unit;
mod writer;

pub mod iso;
pub mod read;
pub mod tar;

pub use error::ImageError;
pub use hashing::HashingWriter;
pub use scan::scan_directory;
pub use manifest::{Manifest, ManifestFile, MANIFEST_FORMAT};
pub use unit::{Entry, EntryKind, FileDigest, Timestamp, UnitContent, WriteSummary};

/// Name of the checksum list at the root of every medium (`sha256sum -c` format).
pub const SUMS_NAME: &str = "SHA256SUMS";
/// Name of the JSON manifest at the root of every medium.
pub const MANIFEST_NAME: &str = "MANIFEST.json";

/// Refuse an image that does not fit on a medium of `capacity` bytes, before anything is
/// written.
pub fn check_capacity(image_bytes: u64, capacity: u64) -> Result<(), ImageError> {
    if image_bytes > capacity {
        return Err(ImageError::DoesNotFit { needed: image_bytes, capacity });
    }
    Ok(())
}
