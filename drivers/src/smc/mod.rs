//! SMC (SCSI media changer): a tape library over the [`ScsiTransport`](crate::scsi::ScsiTransport)
//! seam, implementing [`MediaChanger`](crate::changer::MediaChanger); and the `mtx` backend for
//! libraries the native path can't handle.
//!
//! One file per page or reply: [`element_address`] (mode page 0x1D), [`element_status`] (READ
//! ELEMENT STATUS data), [`cdb`] (command blocks), [`changer`] (the driver with the real-library
//! quirks), [`mtx`] (running `mtx` and parsing `mtx status`).

pub mod cdb;
pub mod changer;
pub mod element_address;
pub mod element_status;
pub mod mtx;

pub use changer::SmcChanger;
pub use element_address::ElementAddressAssignment;
pub use mtx::MtxChanger;
