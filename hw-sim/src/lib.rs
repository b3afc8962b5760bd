//! Simulated hardware for asto, behind the same seams as real devices (the traits of the
//! `drivers` crate), with fault injection, so CI and the demo run the real code paths without
//! hardware.

pub mod faults;
pub mod file_burner;
pub mod file_tape;
pub mod rate;
pub mod remote;
pub mod shelf;
pub mod scsi_library;
pub mod scsi_tape;
pub mod server;
