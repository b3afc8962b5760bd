//! Hardware access for asto: tape drives, media changers and optical burners.
//!
//! This crate knows nothing about the catalogue, requests or the network (DESIGN.md layering
//! rule). It defines the *seams* every device is driven through:
//!
//! - [`tape::TapeDrive`]: block-level access to a sequential-access device (SSC semantics:
//!   variable-length blocks, filemarks, early warning, end of data).
//! - [`optical::Burner`]: an optical burner that writes an image of known size and reads it back.
//!
//! Real devices implement these seams (SSC/SMC over SG_IO, xorriso); `hw-sim` implements the
//! same seams in software so CI and the demo exercise the code that runs on real hardware.

pub mod changer;
pub mod discovery;
pub mod identity;
pub mod optical;
pub mod scsi;
pub mod smc;
pub mod ssc;
pub mod tape;
pub mod toolchain;
pub mod xorriso;

pub use identity::DeviceIdentity;
