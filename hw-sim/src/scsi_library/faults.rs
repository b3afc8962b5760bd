//! Faults a simulated library can be told to produce, each answered with the sense data a real
//! library gives for it.

use serde::{Deserialize, Serialize};

/// Armed faults of one simulated library.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LibraryFaults {
    /// The library is offline: NOT READY 04/12 to everything but INQUIRY.
    pub offline: bool,
    /// Every MOVE MEDIUM fails with HARDWARE ERROR 53/00 (media load or eject failed).
    pub move_failure: bool,
    /// After each move, answer this many commands with NOT READY 04/01 (becoming ready).
    pub becoming_ready_after_move: u32,
    /// Answer this many commands with the vendor "pause mode" NOT READY 04/85.
    pub vendor_pause: u32,
    /// The import/export door is open: moves to or from it fail with NOT READY 3A/02.
    pub import_export_open: bool,
}
