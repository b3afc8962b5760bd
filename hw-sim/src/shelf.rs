//! The shelf: where simulated media live when they are not in a drive, and the supply of blank
//! media (the operator's box of new cartridges and discs).
//!
//! Every medium is a file named after its barcode. A new blank medium gets the next free
//! barcode with the requested prefix and suffix (`AS0001L5`, `DVD0001`); creating the file with
//! `create_new` makes numbering safe across processes.

use std::path::{Path, PathBuf};

use crate::{file_burner, file_tape};

/// Kind of simulated medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediumKind {
    Tape,
    Disc,
}

impl MediumKind {
    fn extension(self) -> &'static str {
        match self {
            MediumKind::Tape => "tape",
            MediumKind::Disc => "disc",
        }
    }
}

/// A directory of simulated media.
#[derive(Debug, Clone)]
pub struct Shelf {
    dir: PathBuf,
}

impl Shelf {
    pub fn open(dir: &Path) -> Result<Shelf, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        Ok(Shelf { dir: dir.to_owned() })
    }

    /// File of the medium with this barcode.
    pub fn path(&self, kind: MediumKind, barcode: &str) -> PathBuf {
        self.dir.join(format!("{barcode}.{}", kind.extension()))
    }

    /// Does a medium with this barcode exist?
    pub fn contains(&self, kind: MediumKind, barcode: &str) -> bool {
        self.path(kind, barcode).exists()
    }

    /// Make a new blank tape; returns its barcode.
    pub fn new_tape(&self, prefix: &str, suffix: &str) -> Result<String, std::io::Error> {
        self.new_medium(MediumKind::Tape, prefix, suffix, file_tape::create_cartridge)
    }

    /// Make a new blank disc of the given profile and capacity; returns its barcode.
    pub fn new_disc(&self, prefix: &str, profile: &str, capacity: u64) -> Result<String, std::io::Error> {
        self.new_medium(MediumKind::Disc, prefix, "", |path| file_burner::create_disc(path, profile, capacity))
    }

    /// Erase a tape so it is blank again (a rewritable medium returned to scratch).
    pub fn erase_tape(&self, barcode: &str) -> Result<(), std::io::Error> {
        std::fs::File::create(self.path(MediumKind::Tape, barcode)).map(|_| ())
    }

    fn new_medium(
        &self,
        kind: MediumKind,
        prefix: &str,
        suffix: &str,
        create: impl Fn(&Path) -> Result<(), std::io::Error>,
    ) -> Result<String, std::io::Error> {
        for n in 1..1_000_000u32 {
            let barcode = format!("{prefix}{n:04}{suffix}");
            // Barcodes are unique across kinds, as on a real library's labels.
            if self.contains(MediumKind::Tape, &barcode) || self.contains(MediumKind::Disc, &barcode) {
                continue;
            }
            match create(&self.path(kind, &barcode)) {
                Ok(()) => return Ok(barcode),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other(format!("no free barcode left with prefix {prefix}")))
    }
}
