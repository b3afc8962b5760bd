//! SCSI plumbing shared by the tape (SSC) and changer (SMC) drivers.
//!
//! Everything a device driver sends goes through one seam, [`ScsiTransport`]: execute one CDB with
//! a data direction, a buffer and a timeout, and get back status, sense bytes and the residual.
//! The real implementation is [`sg_io::SgDevice`] (`SG_IO` on `/dev/sgN`); `hw-sim` implements the
//! same trait in software, so the driver code that CI runs is the code that runs on hardware.
//!
//! Around the seam: [`sense`] decodes sense data (fixed and descriptor formats), [`asc`] names the
//! sense keys and additional sense codes, [`retry`] decides which conditions are worth retrying,
//! [`command`] turns a raw outcome into a typed result, and [`inquiry`] reads INQUIRY and the unit
//! serial number page, which both device types need.

pub mod asc;
pub mod command;
pub mod inquiry;
pub mod retry;
pub mod sense;
pub mod sg_io;
pub mod transport;

pub use command::{ScsiError, execute, execute_with_retry};
pub use sense::{Sense, SenseFormat, SenseKey};
pub use transport::{cdb_length, CommandOutcome, DataTransfer, ScsiStatus, ScsiTransport, TransportError};
