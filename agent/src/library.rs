//! Media inside a library or jukebox, moved through the media changer seam: bringing a volume
//! from its slot into a drive before an action, putting it away afterwards (into storage, or out
//! through the import/export slot for user media), and the jukebox operations the controller
//! asks for — an inventory, and importing a volume an operator put into the import/export slot.
//!
//! Volumes are found by their barcode (volume tag), never by a slot number remembered from an
//! earlier inventory: another process or an operator may have moved them since.

use asto_drivers::changer::{ChangerError, ChangerStatus, Element, ElementKind, MediaChanger};
use asto_drivers::scsi::ScsiTransport;
use asto_drivers::smc::SmcChanger;
use tracing::{info, warn};

use crate::error::AgentError;
use crate::scsi_path::ScsiPath;

/// Where a volume goes when a drive is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stow {
    /// Back into storage: the slot it came from if that is free, else the first free one.
    Storage,
    /// Out through the import/export slot (user media, handed to the requester).
    Export,
}

/// A library reached through its changer.
#[derive(Debug, Clone)]
pub struct Library {
    changer: ScsiPath,
}

impl Library {
    pub fn new(changer: ScsiPath) -> Library {
        Library { changer }
    }

    fn err(&self, source: ChangerError) -> AgentError {
        AgentError::Changer { changer: self.changer.to_string(), source }
    }

    fn open(&self) -> Result<SmcChanger<Box<dyn ScsiTransport>>, AgentError> {
        let transport = self
            .changer
            .open()
            .map_err(|e| self.err(ChangerError::NotReady(format!("cannot open {}: {e}", self.changer))))?;
        Ok(SmcChanger::new(transport))
    }

    /// Everything the changer reports, with volume tags.
    pub fn status(&self) -> Result<ChangerStatus, AgentError> {
        self.open()?.status().map_err(|e| self.err(e))
    }

    /// What drive `element` holds (barcode), if anything.
    pub fn in_drive(&self, element: u16) -> Result<Option<String>, AgentError> {
        let st = self.status()?;
        let drive = st.drive(element).ok_or_else(|| self.err(ChangerError::NoSuchElement(format!("drive {element}"))))?;
        Ok(if drive.full { Some(drive.volume_tag.clone().unwrap_or_default()) } else { None })
    }

    /// Move `barcode` from wherever it is in the library into drive `element` (which must be
    /// empty).
    pub fn mount(&self, element: u16, barcode: &str) -> Result<(), AgentError> {
        let mut changer = self.open()?;
        let st = changer.status().map_err(|e| self.err(e))?;
        let from = st.find_volume(barcode).cloned().ok_or_else(|| AgentError::NotInLibrary {
            barcode: barcode.into(),
            changer: self.changer.to_string(),
            place: "any slot",
        })?;
        match from.kind {
            ElementKind::Drive if from.number == element => Ok(()),
            ElementKind::Drive => Err(AgentError::VolumeBusy { barcode: barcode.into(), drive: from.number }),
            _ => {
                info!(volume = barcode, slot = from.number, drive = element, "loading from slot");
                changer.load(from.number, element).map_err(|e| self.err(e))
            }
        }
    }

    /// Move what drive `element` holds (already unloaded by the drive) to a slot; returns the
    /// slot number, or `None` when the drive was empty. Another host may take the chosen slot
    /// between looking and moving; then the move is planned again.
    pub fn put_away(&self, element: u16, stow: Stow) -> Result<Option<u16>, AgentError> {
        let mut changer = self.open()?;
        let mut attempts = 0;
        loop {
            let st = changer.status().map_err(|e| self.err(e))?;
            let drive = st.drive(element).cloned().ok_or_else(|| self.err(ChangerError::NoSuchElement(format!("drive {element}"))))?;
            if !drive.full {
                return Ok(None);
            }
            let dest = destination(&st, &drive, stow).ok_or_else(|| {
                self.err(ChangerError::DestinationFull(format!("no free storage slot for the volume in drive {element}")))
            })?;
            info!(volume = drive.volume_tag.as_deref().unwrap_or(""), drive = element, slot = dest, "putting away");
            match changer.unload(element, dest) {
                Ok(()) => return Ok(Some(dest)),
                Err(ChangerError::DestinationFull(_)) if attempts < 3 => attempts += 1,
                Err(e) => return Err(self.err(e)),
            }
        }
    }

    /// Take `barcode` from an import/export slot into a free storage slot and confirm by its
    /// label (volume tag) that the right volume arrived there. Returns the storage slot.
    pub fn import(&self, barcode: &str) -> Result<u16, AgentError> {
        let mut changer = self.open()?;
        let st = changer.status().map_err(|e| self.err(e))?;
        if let Some(e) = st.slots.iter().find(|e| e.kind == ElementKind::Storage && e.volume_tag.as_deref() == Some(barcode)) {
            // Imported already (a repeated request after a lost answer).
            return Ok(e.number);
        }
        let from = st
            .slots
            .iter()
            .find(|e| e.kind == ElementKind::ImportExport && e.volume_tag.as_deref() == Some(barcode))
            .cloned()
            .ok_or_else(|| AgentError::NotInLibrary { barcode: barcode.into(), changer: self.changer.to_string(), place: "the import/export slot" })?;
        let dest = st
            .first_empty_slot()
            .map(|e| e.number)
            .ok_or_else(|| self.err(ChangerError::DestinationFull("no free storage slot for an import".into())))?;
        changer.transfer(from.number, dest).map_err(|e| self.err(e))?;
        let after = changer.status().map_err(|e| self.err(e))?;
        match after.slot(dest).and_then(|e| e.volume_tag.clone()) {
            Some(tag) if tag == barcode => {
                info!(volume = barcode, slot = dest, "imported");
                Ok(dest)
            }
            other => {
                warn!(volume = barcode, slot = dest, found = ?other, "imported volume does not carry the expected label");
                Err(AgentError::Medium {
                    barcode: barcode.into(),
                    message: format!("after the import, slot {dest} holds {:?}, not the expected volume", other.unwrap_or_default()),
                })
            }
        }
    }
}

/// The slot a volume leaving `drive` goes to.
fn destination(st: &ChangerStatus, drive: &Element, stow: Stow) -> Option<u16> {
    let free_storage = || {
        drive
            .source
            .and_then(|addr| st.slots.iter().find(|e| e.address == addr && e.kind == ElementKind::Storage && !e.full))
            .or_else(|| st.first_empty_slot())
            .map(|e| e.number)
    };
    match stow {
        Stow::Storage => free_storage(),
        Stow::Export => match st.slots.iter().find(|e| e.kind == ElementKind::ImportExport && !e.full) {
            Some(e) => Some(e.number),
            None => {
                warn!(drive = drive.number, "import/export slot is full: the user volume goes into storage");
                free_storage()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(kind: ElementKind, number: u16, address: u16, tag: Option<&str>) -> Element {
        Element {
            kind,
            address,
            number,
            full: tag.is_some(),
            volume_tag: tag.map(str::to_owned),
            source: None,
            exception: None,
            identifier: None,
        }
    }

    /// Slots 1–3 (addresses 1000–1002), I/E slot 4 (address 10), one drive holding `A1` from slot 2.
    fn status(slot2: Option<&str>, ie: Option<&str>) -> (ChangerStatus, Element) {
        let drive = Element { source: Some(1001), ..element(ElementKind::Drive, 0, 500, Some("A1")) };
        let st = ChangerStatus {
            transports: vec![],
            drives: vec![drive.clone()],
            slots: vec![
                element(ElementKind::Storage, 1, 1000, Some("B1")),
                element(ElementKind::Storage, 2, 1001, slot2),
                element(ElementKind::Storage, 3, 1002, None),
                element(ElementKind::ImportExport, 4, 10, ie),
            ],
        };
        (st, drive)
    }

    #[test]
    fn a_volume_goes_back_to_its_own_slot_when_that_is_free() {
        let (st, drive) = status(None, None);
        assert_eq!(destination(&st, &drive, Stow::Storage), Some(2));
    }

    #[test]
    fn a_taken_home_slot_means_the_first_free_one() {
        let (st, drive) = status(Some("C1"), None);
        assert_eq!(destination(&st, &drive, Stow::Storage), Some(3));
    }

    #[test]
    fn user_media_leave_through_the_import_export_slot_or_wait_in_storage() {
        let (st, drive) = status(None, None);
        assert_eq!(destination(&st, &drive, Stow::Export), Some(4));
        let (st, drive) = status(None, Some("X1"));
        assert_eq!(destination(&st, &drive, Stow::Export), Some(2));
    }
}
