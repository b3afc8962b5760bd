//! The media changer seam: what the agent needs from a tape library or jukebox, whichever way it
//! is driven (SMC over SG_IO, or the `mtx` program for libraries the native path can't handle).
//!
//! Elements are numbered as operators know them from `mtx`: drives from 0, storage slots from 1,
//! import/export slots following the storage slots. Backends map these to element addresses.

use serde::{Deserialize, Serialize};

/// Kind of a changer element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElementKind {
    Transport,
    Storage,
    ImportExport,
    Drive,
}

/// One element and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Element {
    pub kind: ElementKind,
    /// Element address (SMC); for the mtx backend the mtx number.
    pub address: u16,
    /// Operator number: drive index from 0, slot number from 1 (I/E slots follow storage).
    pub number: u16,
    pub full: bool,
    /// Primary volume tag (barcode), trimmed; `None` when empty or unlabelled.
    pub volume_tag: Option<String>,
    /// Storage element the medium came from, when the changer knows it.
    pub source: Option<u16>,
    /// ASC/ASCQ of an exception condition on this element.
    pub exception: Option<(u8, u8)>,
    /// Drive identification (serial) from DVCID, for drives.
    pub identifier: Option<String>,
}

/// Everything a changer reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangerStatus {
    pub transports: Vec<Element>,
    pub drives: Vec<Element>,
    /// Storage slots, then import/export slots.
    pub slots: Vec<Element>,
}

impl ChangerStatus {
    /// The slot with operator number `n` (from 1).
    pub fn slot(&self, n: u16) -> Option<&Element> {
        self.slots.iter().find(|e| e.number == n)
    }

    /// The drive with index `n` (from 0).
    pub fn drive(&self, n: u16) -> Option<&Element> {
        self.drives.iter().find(|e| e.number == n)
    }

    /// Where the volume with this tag is.
    pub fn find_volume(&self, tag: &str) -> Option<&Element> {
        self.drives.iter().chain(&self.slots).find(|e| e.volume_tag.as_deref() == Some(tag))
    }

    /// The first empty storage slot (not import/export).
    pub fn first_empty_slot(&self) -> Option<&Element> {
        self.slots.iter().find(|e| e.kind == ElementKind::Storage && !e.full)
    }
}

/// Errors of a changer, each naming what the operator or the agent can act on.
#[derive(Debug, thiserror::Error)]
pub enum ChangerError {
    #[error("source element {0} is empty")]
    SourceEmpty(String),
    #[error("destination element {0} is full")]
    DestinationFull(String),
    #[error("no such element: {0}")]
    NoSuchElement(String),
    #[error("{0} still has the tape threaded; unload the drive first")]
    DriveNotUnloaded(String),
    #[error("changer is not ready ({0})")]
    NotReady(String),
    #[error("import/export door is open or the mail slot is being accessed ({0})")]
    DoorOpen(String),
    #[error("changer hardware error: {0}")]
    Hardware(String),
    #[error("changer error: {0}")]
    Device(String),
    #[error("mtx: {0}")]
    Mtx(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A media changer.
pub trait MediaChanger: Send {
    /// Full status with volume tags.
    fn status(&mut self) -> Result<ChangerStatus, ChangerError>;
    /// Move the medium in slot `slot` (from 1) into drive `drive` (from 0).
    fn load(&mut self, slot: u16, drive: u16) -> Result<(), ChangerError>;
    /// Move the medium in drive `drive` to slot `slot`.
    fn unload(&mut self, drive: u16, slot: u16) -> Result<(), ChangerError>;
    /// Move a medium from one slot to another (e.g. into the import/export slot).
    fn transfer(&mut self, from: u16, to: u16) -> Result<(), ChangerError>;
    /// Re-scan the library (INITIALIZE ELEMENT STATUS / `mtx inventory`).
    fn inventory(&mut self) -> Result<(), ChangerError>;
}
