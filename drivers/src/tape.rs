//! The tape drive seam.
//!
//! Semantics follow SSC as seen through a variable-block-mode drive: one `write_block` writes one
//! tape block; one `read_block` reads one block. Early warning is *not* an error: a write that
//! lands in the early-warning zone succeeds and reports [`WriteOutcome::EarlyWarning`], so the
//! writer can finish its current tape file cleanly and continue on a new volume. Physical end of
//! medium is an error ([`TapeError::EndOfMedium`]).

use crate::DeviceIdentity;

/// Result of a successful write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written, plenty of room left.
    Written,
    /// Written, but the drive is past the early-warning point: finish up and change volumes.
    EarlyWarning,
}

/// Result of a successful read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// A block of this many bytes was read into the buffer.
    Data(usize),
    /// A filemark was read; the tape is positioned after it.
    Filemark,
    /// End of recorded data.
    EndOfData,
}

/// Logical position of the tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapePosition {
    /// Logical object (block or filemark) number from the beginning of the partition.
    pub block: u64,
    /// Tape file number, when the drive knows it.
    pub file: Option<u64>,
}

/// Errors of a tape drive. Each names what a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    #[error("no medium in the drive")]
    NoMedium,
    #[error("drive is not ready ({0})")]
    NotReady(String),
    #[error("medium is write protected")]
    WriteProtected,
    #[error("physical end of medium reached")]
    EndOfMedium,
    #[error("block of {block} bytes does not fit the {buffer}-byte buffer")]
    BlockTooLarge { block: usize, buffer: usize },
    #[error("block length {0} is outside the drive's limits")]
    BadBlockLength(usize),
    #[error("position is beyond the end of data")]
    BeyondEndOfData,
    #[error("tape position is unknown; rewind or locate first")]
    PositionUnknown,
    #[error("medium error: {0}")]
    Medium(String),
    #[error("hardware error: {0}")]
    Hardware(String),
    #[error("device error: {0}")]
    Device(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl TapeError {
    /// Does this error mean the medium is bad (rewrite elsewhere) rather than the drive?
    pub fn is_medium_fault(&self) -> bool {
        matches!(self, TapeError::Medium(_) | TapeError::EndOfMedium | TapeError::WriteProtected)
    }
}

/// A sequential-access (tape) device, positioned in one partition.
pub trait TapeDrive: Send {
    /// What the drive says it is.
    fn identity(&mut self) -> Result<DeviceIdentity, TapeError>;
    /// Is a medium loaded and ready?
    fn ready(&mut self) -> Result<(), TapeError>;
    /// Rewind to the beginning of the partition.
    fn rewind(&mut self) -> Result<(), TapeError>;
    /// Write one block at the current position (erasing everything after it).
    fn write_block(&mut self, data: &[u8]) -> Result<WriteOutcome, TapeError>;
    /// Write `count` filemarks (0 = flush the drive's buffer).
    fn write_filemarks(&mut self, count: u32) -> Result<WriteOutcome, TapeError>;
    /// Read one block into `buf`.
    fn read_block(&mut self, buf: &mut [u8]) -> Result<ReadOutcome, TapeError>;
    /// Space over `count` filemarks (negative: backwards).
    fn space_filemarks(&mut self, count: i64) -> Result<(), TapeError>;
    /// Space to end of recorded data, ready to append.
    fn space_to_end_of_data(&mut self) -> Result<(), TapeError>;
    /// Position at logical object `block` (blocks and filemarks both count).
    fn locate(&mut self, block: u64) -> Result<(), TapeError>;
    /// Current logical position.
    fn position(&mut self) -> Result<TapePosition, TapeError>;
    /// Unload (eject) the medium.
    fn unload(&mut self) -> Result<(), TapeError>;
}
