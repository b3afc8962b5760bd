//! The optical format: ISO 9660 level 3 with Rock Ridge and Joliet (in progress).

use std::io::Write;

use crate::error::ImageError;
use crate::unit::{UnitContent, WriteSummary};

/// Options of the ISO writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsoOptions {}

/// Where a file's data lies in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    pub path: String,
    pub byte_offset: u64,
    pub size: u64,
}

/// The exact layout of one unit's ISO image.
#[derive(Debug)]
pub struct IsoPlan {
    total: u64,
    extents: Vec<Extent>,
}

/// Plans the ISO image of `unit`.
pub fn plan(_unit: &UnitContent, _opts: &IsoOptions) -> Result<IsoPlan, ImageError> {
    Err(ImageError::BadOption("the ISO writer is not built yet".into()))
}

impl IsoPlan {
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    pub fn write_to<W: Write>(&self, _out: W) -> Result<WriteSummary, ImageError> {
        Err(ImageError::BadOption("the ISO writer is not built yet".into()))
    }
}
