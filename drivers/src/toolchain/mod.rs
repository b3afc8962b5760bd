//! Configurable tool chains per media type, as the seed system had: the preparation and writing
//! steps of a media type are either asto's own (streamed image, xorriso, SG_IO) or an external
//! command template with placeholders — e.g. genisoimage/mkisofs to prepare, cdrecord/wodim or
//! growisofs to write — whose exit codes and output are mapped to the same outcomes and events.
//!
//! [`template`] expands and runs one command; [`burner`] turns a write template (and an optional
//! prepare template) into a [`Burner`](crate::optical::Burner).

pub mod burner;
pub mod template;

pub use burner::{TemplateBurner, TemplateBurnerConfig};
pub use template::{CommandTemplate, OutputRule, Placeholders, StepError, StepOutcome, StepReport};
