//! The JSON manifest on every medium: which unit, which request, which files with sizes and
//! checksums, written by which asto version. Its length depends on the paths and sizes only
//! (checksums are fixed-width hex), so a writer can reserve its place before hashing.

use serde::{Deserialize, Serialize};

use crate::civil;
use crate::error::ImageError;
use crate::unit::{FileDigest, Timestamp};

/// Identifies the manifest layout; bumped on incompatible changes.
pub const MANIFEST_FORMAT: &str = "asto-unit-manifest/1";

/// The unit manifest as stored in `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub unit: String,
    pub request: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub asto_version: String,
    pub files: Vec<ManifestFile>,
}

/// One regular file in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl Manifest {
    pub(crate) fn new(unit: &str, request: &str, created: Timestamp, files: &[FileDigest]) -> Self {
        Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            unit: unit.to_owned(),
            request: request.to_owned(),
            created: civil::rfc3339(created.secs, created.nanos),
            asto_version: env!("CARGO_PKG_VERSION").to_owned(),
            files: files
                .iter()
                .map(|f| ManifestFile { path: f.path.clone(), size: f.size, sha256: hex::encode(f.sha256) })
                .collect(),
        }
    }

    /// The exact bytes stored on the medium.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, ImageError> {
        let mut out = serde_json::to_vec_pretty(self).map_err(|e| ImageError::Internal(format!("manifest: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// The manifest and `SHA256SUMS` bytes of a unit with these files.
    pub(crate) fn medium_files(
        unit: &str,
        request: &str,
        created: Timestamp,
        files: &[FileDigest],
    ) -> Result<(Vec<u8>, Vec<u8>), ImageError> {
        let manifest = Manifest::new(unit, request, created, files).to_bytes()?;
        Ok((manifest, crate::sums::render(files)))
    }

    /// Parses a manifest read back from a medium.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("MANIFEST.json is not a valid manifest: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_does_not_depend_on_checksums() {
        let mut files = vec![FileDigest { path: "a \"q\"/ü".into(), size: 12345, sha256: [0; 32] }];
        let zero = Manifest::new("U", "r", Timestamp::new(1, 2), &files).to_bytes().unwrap();
        files[0].sha256 = [0xff; 32];
        let full = Manifest::new("U", "r", Timestamp::new(1, 2), &files).to_bytes().unwrap();
        assert_eq!(zero.len(), full.len());
        let back = Manifest::parse(&full).unwrap();
        assert_eq!(back.files[0].sha256, "ff".repeat(32));
        assert_eq!(back.created, "1970-01-01T00:00:01.000000002Z");
    }
}
