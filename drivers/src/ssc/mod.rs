//! SSC (SCSI stream commands): a tape drive over the [`ScsiTransport`](crate::scsi::ScsiTransport)
//! seam, implementing [`TapeDrive`](crate::tape::TapeDrive).
//!
//! One file per SCSI page or reply layout, as in Proxmox's `pbs-tape`: [`cdb`] builds the command
//! blocks, [`block_limits`], [`mode`], [`position`] and [`tape_alert`] decode (and, for simulated
//! targets, encode) their replies, and [`drive`] maps sense data to the seam's outcomes — early
//! warning is a state the writer acts on, physical end of medium is an error.

pub mod block_limits;
pub mod cdb;
pub mod drive;
pub mod mode;
pub mod position;
pub mod tape_alert;

pub use block_limits::BlockLimits;
pub use drive::{DriveStatus, SscDrive, tape_error};
pub use mode::MediumParameters;
pub use position::PositionReply;
pub use tape_alert::TapeAlerts;
