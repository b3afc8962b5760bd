//! Readers for what comes back from a device: they walk the stream once, front to back,
//! hash every regular file on the way and check the result against the medium's own
//! `SHA256SUMS` and manifest. The verifier of written media uses them.

mod check;
mod iso;
mod tar;

use crate::manifest::Manifest;
use crate::unit::FileDigest;

pub use iso::read_iso;
pub use tar::read_tar;

/// What a reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    /// The ISO volume ID, or the manifest's unit name for tar.
    pub volume_id: Option<String>,
    pub manifest: Option<Manifest>,
    /// Every regular file read (not the checksum list and manifest themselves), with the
    /// size and checksum of the bytes read.
    pub files: Vec<FileDigest>,
    /// Everything that did not match; empty means every file matched `SHA256SUMS` and the
    /// manifest.
    pub problems: Vec<String>,
}

impl ReadSummary {
    /// True when every file matched.
    pub fn is_good(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Largest checksum list or manifest a reader keeps in memory.
const MAX_METADATA: u64 = 1 << 30;
