//! A simulated SCSI media changer (tape library) behind the drivers' SCSI transport seam, and a
//! "site" that persists a library with its drives and cartridges in a directory, so several
//! processes (CLI invocations, tests, the `asto-hwsim` server) can share one simulated library.
//!
//! [`contents`] reads and writes the mhvtl-style library contents file, [`target`] is the SMC
//! target, [`faults`] what it can be told to get wrong, [`site`] the directory that holds it all.

pub mod bay;
pub mod contents;
pub mod faults;
pub mod site;
pub mod target;

pub use bay::{Bay, DiscBay};
pub use contents::LibraryContents;
pub use faults::LibraryFaults;
pub use site::{LibraryKind, SimSite, SiteConfig, SiteError};

pub use target::{LibraryLayout, LibrarySnapshot, LibrarySpec, SimLibrary};
