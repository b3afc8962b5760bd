//! The optical burner seam.
//!
//! asto knows the exact size of an image before writing its first byte (the images crate plans
//! the layout), so a burner is told the size up front, checks it against the medium's free space,
//! and is fed the image as a stream: no image file on disk unless a tool needs one.

use std::io::{Read, Write};

use crate::DeviceIdentity;

/// State of the disc in a burner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscState {
    Blank,
    Appendable,
    Closed,
}

/// What the burner reports about the loaded disc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscStatus {
    pub state: DiscState,
    /// Free space in bytes (for a blank disc: its capacity).
    pub free_bytes: u64,
    /// Media profile as the drive names it (e.g. "DVD+R", "BD-R sequential", "stdio file").
    pub profile: String,
}

/// Progress of a burn, in bytes written so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// Produces the image into the burner's writer. Called once per burn.
pub type ImageProducer<'a> = &'a mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>;

/// Errors of a burner.
#[derive(Debug, thiserror::Error)]
pub enum BurnError {
    #[error("no disc in the burner")]
    NoMedium,
    #[error("disc is not blank ({0:?})")]
    NotBlank(DiscState),
    #[error("image of {image} bytes exceeds the {free} bytes free on the disc")]
    TooLarge { image: u64, free: u64 },
    #[error("the image producer delivered {got} bytes, {expected} were announced")]
    SizeMismatch { expected: u64, got: u64 },
    #[error("write failed: {0}")]
    WriteFailed(String),
    #[error("read failed: {0}")]
    ReadFailed(String),
    #[error("burner error: {0}")]
    Device(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl BurnError {
    /// Does this error mean the disc is bad (write elsewhere) rather than the burner?
    pub fn is_medium_fault(&self) -> bool {
        matches!(self, BurnError::WriteFailed(_) | BurnError::ReadFailed(_) | BurnError::NotBlank(_))
    }
}

/// An optical burner with a disc loaded.
pub trait Burner: Send {
    /// What the burner says it is.
    fn identity(&mut self) -> Result<DeviceIdentity, BurnError>;
    /// State and free space of the loaded disc.
    fn disc_status(&mut self) -> Result<DiscStatus, BurnError>;
    /// Burn one session of exactly `image_size` bytes, produced by `producer`, and close the disc.
    fn burn(&mut self, image_size: u64, producer: ImageProducer<'_>, progress: Progress<'_>) -> Result<(), BurnError>;
    /// Read `len` bytes back from the start of the written session.
    fn read_back(&mut self, len: u64) -> Result<Box<dyn Read + '_>, BurnError>;
    /// Read `buf.len()` bytes at byte `offset` of the written session (for single-file retrieval).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BurnError>;
    /// Eject the disc.
    fn eject(&mut self) -> Result<(), BurnError>;
}
