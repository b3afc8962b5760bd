//! Fault injection for the file-backed simulators.
//!
//! Faults are read from a `faults.json` file in the device's directory each time a medium is
//! loaded, so a test (or an operator rehearsing recovery) can arm a fault from outside the
//! process, with the real binaries running.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Faults a simulated device can be told to produce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fail the write of this block (0-based data block count on the medium) with a medium error.
    pub write_error_at_block: Option<u64>,
    /// Fail reading this block with a medium error.
    pub read_error_at_block: Option<u64>,
    /// Flip one bit in the data returned by reading at this byte offset (silent corruption).
    pub flip_bit_at_byte: Option<u64>,
    /// The device is offline: every operation fails with a hardware error.
    pub offline: bool,
    /// Only for this medium (barcode): a bad cartridge or disc rather than a bad drive.
    pub medium: Option<String>,
}

impl Faults {
    pub const FILE_NAME: &'static str = "faults.json";

    /// The faults that apply with the medium stored at `medium_path` loaded.
    pub fn for_medium(self, medium_path: &Path) -> Faults {
        match &self.medium {
            Some(b) if medium_path.file_stem().and_then(|s| s.to_str()) != Some(b.as_str()) => Faults::default(),
            _ => self,
        }
    }

    /// Load faults from `dir/faults.json`; no file means no faults. A malformed file is an
    /// error, not silently ignored: an operator who armed a fault wants to know it did not take.
    pub fn load(dir: &Path) -> Result<Faults, std::io::Error> {
        let path = dir.join(Self::FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Faults::default()),
            Err(e) => Err(e),
        }
    }
}
