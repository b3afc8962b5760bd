//! A simulated site on disk: one library with its drives and cartridges in a directory, so that
//! separate processes (each `asto` invocation, a test, the `asto-hwsim` server) see the same
//! library, like mhvtl's `PERSIST: True`.
//!
//! Layout of the directory:
//! - `site.json` — configuration ([`SiteConfig`]; optional, defaults to an LTO-9 library),
//! - `library_contents` — mhvtl-style contents (see [`super::contents`]), rewritten on save,
//! - `state.json` — drive positions and threading, and where each loaded cartridge came from,
//! - `faults.json` — optional armed faults (`{"library": {…}, "drives": [{…}]}`),
//! - `media/<barcode>/` — one file-backed cartridge per barcode, created blank on first load,
//! - `lock` — held (flock) while a process has the site open, so processes take turns.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::contents::{ContentsError, LibraryContents};
use super::faults::LibraryFaults;
use super::bay::{Bay, DiscBay};
use super::target::{LibraryLayout, LibrarySpec, SimLibrary};
use crate::scsi_tape::cartridge::CartridgeError;
use crate::scsi_tape::{Cartridge, CartridgeMeta, SimTapeDrive, TapeDriveConfig, TapeFaults};

/// What the library's drives are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LibraryKind {
    /// A tape library with SCSI tape drives.
    #[default]
    Tape,
    /// An optical jukebox whose bays burn discs as `stdio:` pseudo-drive files.
    Optical,
}

/// Configuration of a simulated site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    pub kind: LibraryKind,
    pub library_serial: String,
    pub layout: LibraryLayout,
    /// Template for the drives; drive N gets serial `<serial>N`.
    pub drive: TapeDriveConfig,
    /// Capacity of cartridges created on first load, bytes.
    pub cartridge_capacity: u64,
    /// Early-warning zone of those cartridges, bytes.
    pub early_warning_zone: u64,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            kind: LibraryKind::Tape,
            library_serial: "SIMLIB0001".into(),
            layout: LibraryLayout::default(),
            drive: TapeDriveConfig::default(),
            cartridge_capacity: 18_000_000_000_000,
            early_warning_zone: 2 << 20,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct DriveState {
    threaded: bool,
    position: usize,
    source: Option<u16>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct SiteState {
    drives: Vec<DriveState>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SiteFaults {
    library: LibraryFaults,
    drives: Vec<TapeFaults>,
}

/// Why a site could not be created, opened or saved.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {detail}")]
    Json { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Contents { path: PathBuf, source: ContentsError },
    #[error(transparent)]
    Cartridge(#[from] CartridgeError),
    #[error("{0} is not a simulated site (no library_contents)")]
    NotASite(PathBuf),
    #[error("{0} already holds a simulated site")]
    Exists(PathBuf),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SiteError + '_ {
    move |source| SiteError::Io { path: path.to_path_buf(), source }
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, SiteError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| SiteError::Json { path: path.into(), detail: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(SiteError::Io { path: path.into(), source: e }),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SiteError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// An open simulated site (holds the site lock until dropped).
pub struct SimSite {
    dir: PathBuf,
    kind: LibraryKind,
    library: SimLibrary,
    drives: Vec<Bay>,
    _lock: Flock<File>,
}

impl std::fmt::Debug for SimSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimSite").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SimSite {
    /// Create a site in `dir` with `contents`.
    pub fn create(dir: &Path, config: &SiteConfig, contents: &LibraryContents) -> Result<(), SiteError> {
        if dir.join("library_contents").exists() {
            return Err(SiteError::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir.join("media")).map_err(io(dir))?;
        let json = serde_json::to_vec_pretty(config).map_err(|e| SiteError::Json { path: dir.join("site.json"), detail: e.to_string() })?;
        write_atomic(&dir.join("site.json"), &json)?;
        write_atomic(&dir.join("library_contents"), contents.render().as_bytes())
    }

    /// Open the site in `dir`, waiting for other processes to close it.
    pub fn open(dir: &Path) -> Result<SimSite, SiteError> {
        let contents_path = dir.join("library_contents");
        if !contents_path.exists() {
            return Err(SiteError::NotASite(dir.to_path_buf()));
        }
        let lock_path = dir.join("lock");
        let lock_file = File::create(&lock_path).map_err(io(&lock_path))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| SiteError::Io { path: lock_path.clone(), source: std::io::Error::from(errno) })?;
        let config: SiteConfig = read_json(&dir.join("site.json"))?;
        let text = std::fs::read_to_string(&contents_path).map_err(io(&contents_path))?;
        let contents = LibraryContents::parse(&text).map_err(|source| SiteError::Contents { path: contents_path.clone(), source })?;
        let state: SiteState = read_json(&dir.join("state.json"))?;
        let faults: SiteFaults = read_json(&dir.join("faults.json"))?;
        let media = dir.join("media");
        let new_cartridge = CartridgeMeta { early_warning_zone: config.early_warning_zone, ..CartridgeMeta::new("", config.cartridge_capacity) };
        let mut drives = Vec::new();
        for (i, loaded) in contents.drives.iter().enumerate() {
            // DVCID carries a 10-character serial: 8 of the template and a 2-digit index.
            let serial = format!("{:.8}{i:02}", config.drive.serial);
            if config.kind == LibraryKind::Optical {
                let bay = DiscBay::new(&serial, media.clone());
                if let Some(barcode) = loaded {
                    bay.insert(barcode);
                }
                drives.push(Bay::Disc(bay));
                continue;
            }
            let drive_config = TapeDriveConfig { serial, ..config.drive.clone() };
            let drive = SimTapeDrive::new(&format!("drive{i}"), drive_config);
            let st = state.drives.get(i);
            if let Some(barcode) = loaded {
                let cdir = media.join(barcode);
                let cart = if cdir.join("meta.json").exists() {
                    Cartridge::open(&cdir)?
                } else {
                    Cartridge::create(&cdir, CartridgeMeta { barcode: barcode.clone(), ..new_cartridge.clone() })?
                };
                // The drive is known to hold it (insert cannot fail on an empty drive).
                let _ = drive.insert(cart);
                drive.restore_position(st.map_or(0, |s| s.position), st.is_none_or(|s| s.threaded));
            }
            if let Some(f) = faults.drives.get(i) {
                drive.set_faults(f.clone());
            }
            drives.push(Bay::Tape(drive));
        }
        let spec = LibrarySpec {
            serial: config.library_serial.clone(),
            layout: config.layout,
            media_dir: media,
            new_cartridge,
            slots: contents.slots.clone(),
            import_export: contents.import_export.clone(),
        };
        let library = SimLibrary::new("library", spec, drives.clone());
        for (i, s) in state.drives.iter().enumerate() {
            library.restore_drive_source(i, s.source);
        }
        library.set_faults(faults.library);
        Ok(SimSite { dir: dir.to_path_buf(), kind: config.kind, library, drives, _lock: lock })
    }

    /// The library (an SMC target).
    pub fn library(&self) -> SimLibrary {
        self.library.clone()
    }

    /// Tape drive `n` (an SSC target); `None` if there is none (or the site is a jukebox).
    pub fn drive(&self, n: usize) -> Option<SimTapeDrive> {
        match self.drives.get(n) {
            Some(Bay::Tape(d)) => Some(d.clone()),
            _ => None,
        }
    }

    /// Disc bay `n` of an optical jukebox.
    pub fn disc_bay(&self, n: usize) -> Option<DiscBay> {
        match self.drives.get(n) {
            Some(Bay::Disc(b)) => Some(b.clone()),
            _ => None,
        }
    }

    /// Number of drives.
    pub fn drive_count(&self) -> usize {
        self.drives.len()
    }

    /// Directory of the site.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An operator puts volume `barcode` into the first free import/export slot. For an optical
    /// jukebox, `disc` is the image of a disc burned elsewhere, which becomes that volume; tape
    /// cartridges come in by barcode (a cartridge of this site, or a new blank one).
    pub fn operator_import(&self, barcode: &str, disc: Option<&Path>) -> Result<(), String> {
        if barcode.is_empty() || !barcode.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("barcode {barcode:?} must be letters and digits"));
        }
        let snap = self.library.snapshot();
        let present = snap.slots.iter().chain(&snap.import_export).chain(&snap.drives).any(|b| b.as_deref() == Some(barcode));
        if present {
            return Err(format!("volume {barcode} is already in the library"));
        }
        let Some(free) = snap.import_export.iter().position(Option::is_none) else {
            return Err("the import/export slots are full: take a volume out first".into());
        };
        match (self.kind, disc) {
            (LibraryKind::Optical, Some(image)) => {
                let dest = self.dir.join("media").join(format!("{barcode}.iso"));
                std::fs::copy(image, &dest).map_err(|e| format!("copying {} to {}: {e}", image.display(), dest.display()))?;
            }
            (LibraryKind::Optical, None) => return Err("an optical jukebox needs the disc's image to import it".into()),
            (LibraryKind::Tape, Some(_)) => return Err("tape cartridges are imported by barcode, without an image".into()),
            (LibraryKind::Tape, None) => {}
        }
        if !self.library.operator_import(free, barcode) {
            return Err("the import/export slot was taken meanwhile".into());
        }
        self.save().map_err(|e| e.to_string())
    }

    /// An operator takes volume `barcode` out of the import/export slot.
    pub fn operator_take_out(&self, barcode: &str) -> Result<(), String> {
        if !self.library.operator_take_out(barcode) {
            return Err(format!("volume {barcode} is not in an import/export slot"));
        }
        self.save().map_err(|e| e.to_string())
    }

    /// Persist contents, drive state and cartridge indexes.
    pub fn save(&self) -> Result<(), SiteError> {
        let snap = self.library.snapshot();
        let sources = snap.drive_sources;
        let contents = LibraryContents { drives: snap.drives, pickers: 1, import_export: snap.import_export, slots: snap.slots };
        let mut state = SiteState::default();
        for (i, bay) in self.drives.iter().enumerate() {
            let (threaded, position) = match bay {
                Bay::Tape(d) => {
                    d.sync()?;
                    (d.contents().is_some_and(|(_, t)| t), d.object_position())
                }
                Bay::Disc(_) => (false, 0),
            };
            state.drives.push(DriveState { threaded, position, source: sources.get(i).copied().flatten() });
        }
        let json = serde_json::to_vec_pretty(&state).map_err(|e| SiteError::Json { path: self.dir.join("state.json"), detail: e.to_string() })?;
        write_atomic(&self.dir.join("state.json"), &json)?;
        write_atomic(&self.dir.join("library_contents"), contents.render().as_bytes())
    }
}
