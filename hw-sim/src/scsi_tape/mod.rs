//! A simulated SCSI tape drive behind the drivers' SCSI transport seam.
//!
//! Unlike the file-backed `TapeDrive` simulator, this one speaks SSC: the real SSC driver sends it
//! CDBs and decodes its sense data, so the driver code CI runs is the code that drives hardware.
//! [`cartridge`] is the medium (file-backed, to the byte), [`target`] the drive, [`faults`] what
//! it can be told to get wrong.

pub mod cartridge;
pub mod faults;
pub mod target;

pub use cartridge::{Cartridge, CartridgeMeta};
pub use faults::TapeFaults;
pub use target::{SimTapeDrive, TapeDriveConfig};
