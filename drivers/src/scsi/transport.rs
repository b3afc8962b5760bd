//! The transport seam: execute one SCSI command.
//!
//! A transport knows nothing of tapes or changers. It carries a CDB, moves data in one direction
//! and reports what the target answered: status, sense bytes and how much of the buffer was not
//! transferred. Only failures to *deliver* the command are errors here; a CHECK CONDITION is a
//! normal outcome that the command layer ([`super::command`]) interprets.

use std::time::Duration;

/// Direction and buffer of the data phase of a command.
#[derive(Debug)]
pub enum DataTransfer<'a> {
    /// No data phase.
    None,
    /// Data sent to the device (WRITE, MODE SELECT, …).
    ToDevice(&'a [u8]),
    /// Data received from the device (READ, INQUIRY, MODE SENSE, …).
    FromDevice(&'a mut [u8]),
}

impl DataTransfer<'_> {
    /// Length of the data buffer in bytes.
    pub fn len(&self) -> usize {
        match self {
            DataTransfer::None => 0,
            DataTransfer::ToDevice(b) => b.len(),
            DataTransfer::FromDevice(b) => b.len(),
        }
    }

    /// Borrow again for one more attempt of the same command.
    pub fn reborrow(&mut self) -> DataTransfer<'_> {
        match self {
            DataTransfer::None => DataTransfer::None,
            DataTransfer::ToDevice(b) => DataTransfer::ToDevice(b),
            DataTransfer::FromDevice(b) => DataTransfer::FromDevice(b),
        }
    }

    /// Is there no data phase (or an empty buffer)?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// SCSI status byte as returned by the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScsiStatus {
    Good,
    CheckCondition,
    ConditionMet,
    Busy,
    ReservationConflict,
    TaskSetFull,
    AcaActive,
    TaskAborted,
    Other(u8),
}

impl ScsiStatus {
    /// Decode a status byte.
    pub fn from_byte(b: u8) -> Self {
        match b & 0xfe {
            0x00 => ScsiStatus::Good,
            0x02 => ScsiStatus::CheckCondition,
            0x04 => ScsiStatus::ConditionMet,
            0x08 => ScsiStatus::Busy,
            0x18 => ScsiStatus::ReservationConflict,
            0x28 => ScsiStatus::TaskSetFull,
            0x30 => ScsiStatus::AcaActive,
            0x40 => ScsiStatus::TaskAborted,
            _ => ScsiStatus::Other(b),
        }
    }

    /// The status byte.
    pub fn to_byte(self) -> u8 {
        match self {
            ScsiStatus::Good => 0x00,
            ScsiStatus::CheckCondition => 0x02,
            ScsiStatus::ConditionMet => 0x04,
            ScsiStatus::Busy => 0x08,
            ScsiStatus::ReservationConflict => 0x18,
            ScsiStatus::TaskSetFull => 0x28,
            ScsiStatus::AcaActive => 0x30,
            ScsiStatus::TaskAborted => 0x40,
            ScsiStatus::Other(b) => b,
        }
    }
}

/// CDB length implied by an operation code's group (SAM): 6, 10, 12 or 16 bytes; `None` for
/// the reserved and vendor-specific groups.
pub fn cdb_length(opcode: u8) -> Option<usize> {
    match opcode >> 5 {
        0 => Some(6),
        1 | 2 => Some(10),
        4 => Some(16),
        5 => Some(12),
        _ => None,
    }
}

/// What the target answered to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub status: ScsiStatus,
    /// Sense bytes (empty unless CHECK CONDITION with autosense).
    pub sense: Vec<u8>,
    /// Bytes of the data buffer that were not transferred.
    pub residual: usize,
}

impl CommandOutcome {
    /// GOOD status, everything transferred.
    pub fn good() -> Self {
        CommandOutcome { status: ScsiStatus::Good, sense: Vec::new(), residual: 0 }
    }

    /// GOOD status with `residual` bytes not transferred.
    pub fn good_with_residual(residual: usize) -> Self {
        CommandOutcome { status: ScsiStatus::Good, sense: Vec::new(), residual }
    }

    /// CHECK CONDITION with the given sense bytes.
    pub fn check(sense: Vec<u8>, residual: usize) -> Self {
        CommandOutcome { status: ScsiStatus::CheckCondition, sense, residual }
    }
}

/// The command could not be delivered or its result could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("device {device} does not exist")]
    NotFound { device: String },
    #[error("device {device} is busy (opened by another process)")]
    Busy { device: String },
    #[error("permission denied opening {device}")]
    PermissionDenied { device: String },
    #[error("command timed out after {0:?}")]
    Timeout(Duration),
    #[error("host adapter reported status {host_status:#04x} ({text})")]
    Host { host_status: u16, text: &'static str },
    #[error("SCSI driver reported status {0:#04x}")]
    Driver(u16),
    #[error("{device} is not a SCSI generic device (SG_IO refused: {errno})")]
    NotScsi { device: String, errno: String },
    #[error("CDB of {0} bytes is not a valid SCSI command length")]
    BadCdb(usize),
    #[error("data buffer of {0} bytes is too large for one command")]
    BufferTooLarge(usize),
    #[error("I/O error talking to the device: {0}")]
    Io(#[from] std::io::Error),
    #[error("simulator connection: {0}")]
    Remote(String),
}

/// Executes SCSI commands on one logical unit.
pub trait ScsiTransport: Send {
    /// Run one command. `cdb` is 6, 10, 12 or 16 bytes.
    fn execute(&mut self, cdb: &[u8], data: DataTransfer<'_>, timeout: Duration)
    -> Result<CommandOutcome, TransportError>;

    /// A name for logs and errors (`/dev/sg3`, `sim:drive0`, …).
    fn device_name(&self) -> String;
}

impl<T: ScsiTransport + ?Sized> ScsiTransport for Box<T> {
    fn execute(&mut self, cdb: &[u8], data: DataTransfer<'_>, timeout: Duration)
    -> Result<CommandOutcome, TransportError> {
        (**self).execute(cdb, data, timeout)
    }

    fn device_name(&self) -> String {
        (**self).device_name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bytes_round_trip() {
        for b in [0x00u8, 0x02, 0x04, 0x08, 0x18, 0x28, 0x30, 0x40] {
            assert_eq!(ScsiStatus::from_byte(b).to_byte(), b);
        }
        assert_eq!(ScsiStatus::from_byte(0x02), ScsiStatus::CheckCondition);
        assert_eq!(ScsiStatus::from_byte(0x22), ScsiStatus::Other(0x22));
    }

    #[test]
    fn cdb_groups() {
        assert_eq!(cdb_length(0x0a), Some(6));
        assert_eq!(cdb_length(0x2b), Some(10));
        assert_eq!(cdb_length(0x5a), Some(10));
        assert_eq!(cdb_length(0xa5), Some(12));
        assert_eq!(cdb_length(0xb8), Some(12));
        assert_eq!(cdb_length(0x92), Some(16));
        assert_eq!(cdb_length(0xe0), None);
    }
}
