//! The one error type of the crate: every failure names what was wrong and where.

use std::io;
use std::path::PathBuf;

/// Why an image could not be planned, written or read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A path on the medium is not acceptable.
    #[error("bad path {path:?} on the medium: {reason}")]
    BadPath { path: String, reason: String },
    /// The volume identifier is not acceptable.
    #[error("bad volume id {volume_id:?}: {reason}")]
    BadVolumeId { volume_id: String, reason: String },
    /// An option is out of range.
    #[error("bad option: {0}")]
    BadOption(String),
    /// A source file could not be opened or read.
    #[error("cannot read source file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A source file differs from what was planned (size) or ingested (checksum).
    #[error("source file {path} changed since it was planned: {detail}; the image is not valid")]
    SourceChanged { path: PathBuf, detail: String },
    /// The content exceeds a limit of the format.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// The image is larger than the medium it is meant for.
    #[error("image of {needed} bytes does not fit on a medium of {capacity} bytes")]
    DoesNotFit { needed: u64, capacity: u64 },
    /// The output refused bytes.
    #[error("writing the image failed: {0}")]
    Write(#[source] io::Error),
    /// The input of a reader failed.
    #[error("reading the image failed: {0}")]
    Read(#[source] io::Error),
    /// A stream read back is not a well-formed image.
    #[error("malformed {format} image: {detail}")]
    Malformed { format: &'static str, detail: String },
    /// The writer disagreed with its own plan (a bug, reported instead of a bad image).
    #[error("internal layout error: {0}")]
    Internal(String),
}

impl ImageError {
    pub(crate) fn bad_path(path: &str, reason: impl Into<String>) -> Self {
        ImageError::BadPath { path: path.to_owned(), reason: reason.into() }
    }
}
