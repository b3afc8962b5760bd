//! Faults a simulated SCSI tape drive can be told to produce, each answered with the sense data a
//! real drive gives for it, so the driver's handling of every one of them is exercised.

use serde::{Deserialize, Serialize};

/// Armed faults of one simulated tape drive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TapeFaults {
    /// WRITE at this logical object number fails with MEDIUM ERROR 0C/00 (write error).
    pub write_error_at_object: Option<u64>,
    /// READ of this logical object fails with MEDIUM ERROR 11/00 (unrecovered read error).
    pub read_error_at_object: Option<u64>,
    /// READ of this logical object returns its data with the lowest bit of byte 0 flipped.
    pub flip_bit_at_object: Option<u64>,
    /// The physical end of medium comes after this many payload bytes (a short cartridge).
    pub early_end_of_medium: Option<u64>,
    /// The drive is offline: NOT READY 04/12 to everything but INQUIRY.
    pub offline: bool,
    /// Answer this many commands with the vendor "pause mode" NOT READY 04/85.
    pub vendor_pause: u32,
    /// Answer this many commands with NOT READY 04/01 (becoming ready), as after a load.
    pub becoming_ready: u32,
    /// LOAD fails with MEDIUM ERROR 53/00 (load or eject failed).
    pub load_failure: bool,
    /// Behave like an older drive without the TapeAlert response log page (0x12): only 0x2E.
    pub no_tape_alert_response_page: bool,
}
