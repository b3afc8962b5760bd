//! Optical burners through xorriso (libburn) run as an external program: real drives
//! (`/dev/srN`) and `stdio:` pseudo-drives (a regular file behaving as a drive), so the real tool
//! path runs in CI. [`output`] parses what xorriso prints (media status, progress, check
//! results); [`burner`] implements the [`Burner`](crate::optical::Burner) seam; [`verify`] checks
//! written media by their recorded MD5 tags and against a source tree.

pub mod burner;
pub mod output;
pub mod verify;

pub use burner::{XorrisoBurner, XorrisoConfig};
pub use output::BurnEvent;
pub use verify::{CompareOutcome, Md5Outcome};
