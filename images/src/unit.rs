//! What goes on one medium: the unit's entries as the caller describes them, and what a
//! writer reports back.

use std::path::PathBuf;

/// A point in time, seconds and nanoseconds since the UNIX epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn new(secs: i64, nanos: u32) -> Self {
        Timestamp { secs, nanos }
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file, read from `source` while the image is written. `size` is the size
    /// planned for; `sha256` is the checksum recorded at ingest, when known.
    File { source: PathBuf, size: u64, sha256: Option<[u8; 32]> },
    Directory,
    Symlink { target: String },
}

/// One entry of a unit: a relative, '/'-separated path on the medium and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits (the file type comes from `kind`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Timestamp,
}

/// Everything that goes on one medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitContent {
    /// The unit name, e.g. `ARC-LTO-000042`; the ISO volume ID.
    pub volume_id: String,
    /// The request the unit belongs to; recorded in the manifest.
    pub request: String,
    /// Creation time; recorded in the manifest and volume descriptors, and the time of
    /// implicit directories, so that the output depends on the content only.
    pub created: Timestamp,
    pub entries: Vec<Entry>,
}

/// Path, size and SHA-256 of one regular file as written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub path: String,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// What a writer wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    /// Bytes written: always the plan's total.
    pub bytes: u64,
    /// Every regular file of the unit (not the checksum list and manifest themselves).
    pub files: Vec<FileDigest>,
    /// SHA-256 of the whole image or stream.
    pub image_sha256: [u8; 32],
}
