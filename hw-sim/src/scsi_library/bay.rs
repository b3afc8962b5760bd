//! What sits at a library's data-transfer elements: a simulated SCSI tape drive, or — in an
//! optical jukebox — a disc bay whose loaded disc is a `stdio:` pseudo-drive file that xorriso
//! burns and reads like a real disc.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::scsi_tape::SimTapeDrive;

/// A burner bay of a simulated optical jukebox (cheap to clone; clones share the bay).
#[derive(Debug, Clone)]
pub struct DiscBay {
    serial: String,
    media_dir: PathBuf,
    disc: Arc<Mutex<Option<String>>>,
}

impl DiscBay {
    /// An empty bay whose discs live in `media_dir` as `<barcode>.iso`.
    pub fn new(serial: &str, media_dir: PathBuf) -> DiscBay {
        DiscBay { serial: serial.to_string(), media_dir, disc: Arc::new(Mutex::new(None)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.disc.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Barcode of the loaded disc.
    pub fn contents(&self) -> Option<String> {
        self.lock().clone()
    }

    /// The burner address of the loaded disc (`stdio:<media>/<barcode>.iso`), for
    /// `XorrisoBurner`; `None` when the bay is empty.
    pub fn device(&self) -> Option<String> {
        self.contents().map(|b| format!("stdio:{}", self.media_dir.join(format!("{b}.iso")).display()))
    }

    /// Unit serial number of the bay's burner.
    pub fn serial(&self) -> String {
        self.serial.clone()
    }

    /// Put a disc in; false if the bay is occupied.
    pub fn insert(&self, barcode: &str) -> bool {
        let mut d = self.lock();
        if d.is_some() {
            return false;
        }
        *d = Some(barcode.to_string());
        true
    }

    /// Take the disc out.
    pub fn take(&self) -> Option<String> {
        self.lock().take()
    }
}

/// A data-transfer element of a simulated library.
#[derive(Debug, Clone)]
pub enum Bay {
    Tape(SimTapeDrive),
    Disc(DiscBay),
}

impl Bay {
    /// Barcode of the medium inside, and whether it is locked in (a threaded tape).
    pub fn contents(&self) -> Option<(String, bool)> {
        match self {
            Bay::Tape(d) => d.contents(),
            Bay::Disc(b) => b.contents().map(|c| (c, false)),
        }
    }

    /// Serial number reported in the drive's identification descriptor.
    pub fn serial(&self) -> String {
        match self {
            Bay::Tape(d) => d.serial(),
            Bay::Disc(b) => b.serial(),
        }
    }
}
