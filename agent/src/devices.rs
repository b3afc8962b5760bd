//! The devices an agent drives, by name, and how media get into them.
//!
//! A device is reached through a backend: hw-sim's file-backed simulators, whose media live on a
//! simulated shelf, or a SCSI tape drive (SSC) — a real one through SG_IO or a drive of a
//! simulated site served by `asto-hwsim` — possibly inside a library, whose changer brings the
//! volume an action needs into the drive and puts it away afterwards. Every backend implements
//! the same `TapeDrive` / `Burner` seams, so writing and verifying do not know which it is.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use asto_drivers::optical::Burner;
use asto_drivers::scsi::{ScsiError, ScsiTransport};
use asto_drivers::ssc::SscDrive;
use asto_drivers::tape::{TapeDrive, TapeError};
use asto_hw_sim::file_burner::{FileBurner, FileBurnerConfig};
use asto_hw_sim::file_tape::{FileTapeConfig, FileTapeDrive};
use asto_hw_sim::shelf::{MediumKind, Shelf};
use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::library::{Library, Stow};
use crate::scsi_path::ScsiPath;
use crate::wire::MediumRef;

/// Tape or optical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Tape,
    Optical,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Tape => "tape",
            DeviceKind::Optical => "optical",
        }
    }
}

/// How to reach a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum Backend {
    /// hw-sim's file-backed device; `dir` holds its `faults.json`.
    Sim { dir: PathBuf, serial: String, rate: Option<u64> },
    /// A SCSI tape drive at `path` (`/dev/sgN` or `hwsim:SOCKET#N`); inside a library when
    /// `changer` (the library's address) is set, as its drive number `element`.
    Scsi {
        path: String,
        changer: Option<String>,
        #[serde(default)]
        element: u16,
    },
}

/// A configured device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSpec {
    pub name: String,
    pub kind: DeviceKind,
    #[serde(flatten)]
    pub backend: Backend,
}

/// A SCSI tape drive, connected when first used (and again after a transport failure), and the
/// library it sits in.
pub struct ScsiTape {
    path: ScsiPath,
    library: Option<(Library, u16)>,
    drive: Option<SscDrive<Box<dyn ScsiTransport>>>,
}

impl ScsiTape {
    fn drive(&mut self) -> Result<&mut SscDrive<Box<dyn ScsiTransport>>, TapeError> {
        if self.drive.is_none() {
            let transport = self.path.open().map_err(|e| asto_drivers::ssc::tape_error(ScsiError::Transport(e)))?;
            self.drive = Some(SscDrive::new(transport));
        }
        self.drive.as_mut().ok_or(TapeError::NotReady("not connected".into()))
    }

    /// Make `barcode` the loaded volume: in a library, put away what the drive holds and move the
    /// volume in from its slot; a standalone drive must already hold it (an operator loaded it).
    fn mount(&mut self, name: &str, barcode: &str) -> Result<(), AgentError> {
        let tape = |source| AgentError::Tape { device: name.into(), source };
        let Some((library, element)) = self.library.clone() else {
            return self.drive().and_then(|d| d.ready()).map_err(tape);
        };
        match library.in_drive(element)? {
            Some(tag) if tag == barcode => {}
            Some(_) => {
                self.drive().and_then(TapeDrive::unload).map_err(tape)?;
                library.put_away(element, Stow::Storage)?;
                library.mount(element, barcode)?;
            }
            None => library.mount(element, barcode)?,
        }
        // A library loads (threads) the tape as it inserts it; LOAD makes sure either way.
        let result = self.drive().and_then(|d| d.load()).map_err(tape);
        if result.is_err() {
            self.drive = None;
        }
        result
    }

    /// Unload the tape and, in a library, move it to a slot (returned).
    fn unmount(&mut self, name: &str, stow: Stow) -> Result<Option<u16>, AgentError> {
        let tape = |source| AgentError::Tape { device: name.into(), source };
        match self.drive().and_then(TapeDrive::unload) {
            Ok(()) | Err(TapeError::NoMedium) => {}
            Err(e) => {
                self.drive = None;
                return Err(tape(e));
            }
        }
        match &self.library {
            Some((library, element)) => library.put_away(*element, stow),
            None => Ok(None),
        }
    }
}

/// A device with its driver.
pub enum Device {
    SimTape(FileTapeDrive),
    SimBurner(FileBurner),
    Scsi(ScsiTape),
}

impl Device {
    fn open(spec: &DeviceSpec) -> Result<Device, AgentError> {
        let (dir, serial, rate) = match &spec.backend {
            Backend::Sim { dir, serial, rate } => (dir, serial, rate),
            Backend::Scsi { path, changer, element } => {
                if spec.kind != DeviceKind::Tape {
                    return Err(AgentError::Config(format!("device '{}': the scsi backend drives tape drives only", spec.name)));
                }
                let parse = |text: &str| ScsiPath::parse(text).map_err(|e| AgentError::Config(format!("device '{}': {e}", spec.name)));
                let library = changer.as_deref().map(|c| parse(c).map(|p| (Library::new(p), *element))).transpose()?;
                return Ok(Device::Scsi(ScsiTape { path: parse(path)?, library, drive: None }));
            }
        };
        std::fs::create_dir_all(dir).map_err(|source| AgentError::Io { path: dir.clone(), source })?;
        Ok(match spec.kind {
            DeviceKind::Tape => Device::SimTape(FileTapeDrive::new(FileTapeConfig {
                dir: dir.clone(),
                serial: serial.clone(),
                max_block: 1 << 20,
                rate: *rate,
            })),
            DeviceKind::Optical => {
                Device::SimBurner(FileBurner::new(FileBurnerConfig { dir: dir.clone(), serial: serial.clone(), rate: *rate }))
            }
        })
    }

    pub fn kind(&self) -> DeviceKind {
        match self {
            Device::SimTape(_) => DeviceKind::Tape,
            Device::SimBurner(_) => DeviceKind::Optical,
            Device::Scsi(_) => DeviceKind::Tape,
        }
    }

    pub fn tape(&mut self, name: &str) -> Result<&mut dyn TapeDrive, AgentError> {
        match self {
            Device::SimTape(d) => Ok(d),
            Device::Scsi(d) => d.drive().map(|d| d as &mut dyn TapeDrive).map_err(|source| AgentError::Tape { device: name.into(), source }),
            other => Err(AgentError::WrongDeviceKind { device: name.into(), actual: other.kind().as_str(), wanted: "tape" }),
        }
    }

    pub fn burner(&mut self, name: &str) -> Result<&mut dyn Burner, AgentError> {
        match self {
            Device::SimBurner(b) => Ok(b),
            other => Err(AgentError::WrongDeviceKind { device: name.into(), actual: other.kind().as_str(), wanted: "optical" }),
        }
    }
}

/// The agent's devices and the shelf their media come from.
pub struct DeviceSet {
    devices: BTreeMap<String, Mutex<Device>>,
    shelf: Option<Shelf>,
}

impl DeviceSet {
    pub fn open(specs: &[DeviceSpec], shelf: Option<PathBuf>) -> Result<DeviceSet, AgentError> {
        let mut devices = BTreeMap::new();
        for s in specs {
            devices.insert(s.name.clone(), Mutex::new(Device::open(s)?));
        }
        let shelf = shelf.map(|dir| Shelf::open(&dir).map_err(|source| AgentError::Io { path: dir, source })).transpose()?;
        Ok(DeviceSet { devices, shelf })
    }

    /// Lock a device for an action. A poisoned lock (a panicked action) still hands out the
    /// device: its state is on the medium, which the next action re-reads.
    pub fn lock(&self, name: &str) -> Result<MutexGuard<'_, Device>, AgentError> {
        let m = self.devices.get(name).ok_or_else(|| AgentError::UnknownDevice(name.into()))?;
        Ok(m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn shelf(&self) -> Result<&Shelf, AgentError> {
        self.shelf.as_ref().ok_or_else(|| AgentError::Medium { barcode: String::new(), message: "no media shelf configured".into() })
    }

    /// Get a writable medium for `device`: erase `reuse` (a scratch tape) or take a new blank
    /// one from the supply. Returns its barcode.
    pub fn provision(&self, kind: DeviceKind, media: &MediumRef, reuse: Option<&str>) -> Result<String, AgentError> {
        let shelf = self.shelf()?;
        let io = |source| AgentError::Io { path: PathBuf::from(&media.barcode), source };
        match (kind, reuse) {
            (DeviceKind::Tape, Some(barcode)) => {
                shelf.erase_tape(barcode).map_err(io)?;
                Ok(barcode.to_owned())
            }
            (DeviceKind::Tape, None) => {
                let suffix = media.media_type.strip_prefix("LTO-").map(|g| format!("L{g}")).unwrap_or_else(|| "L0".into());
                shelf.new_tape("AS", &suffix).map_err(io)
            }
            (DeviceKind::Optical, _) => shelf.new_disc("DISC", &media.profile, media.capacity).map_err(io),
        }
    }

    /// Load `medium` into `device` (a no-op if it is already there).
    pub fn load(&self, device: &str, medium: &MediumRef) -> Result<(), AgentError> {
        let mut dev = self.lock(device)?;
        if let Device::Scsi(d) = &mut *dev {
            return d.mount(device, &medium.barcode);
        }
        let shelf = self.shelf()?;
        match &mut *dev {
            Device::SimTape(d) => {
                let path = shelf.path(MediumKind::Tape, &medium.barcode);
                if d.loaded() != Some(path.as_path()) {
                    d.unload().map_err(|source| AgentError::Tape { device: device.into(), source })?;
                    d.load(&path, medium.capacity).map_err(|source| AgentError::Tape { device: device.into(), source })?;
                }
            }
            Device::SimBurner(b) => {
                let path = shelf.path(MediumKind::Disc, &medium.barcode);
                if b.loaded() != Some(path.as_path()) {
                    b.load(&path).map_err(|source| AgentError::Burn { device: device.into(), source })?;
                }
            }
            Device::Scsi(_) => {}
        }
        Ok(())
    }

    /// Names of the devices.
    pub fn names(&self) -> Vec<String> {
        self.devices.keys().cloned().collect()
    }

    /// Take the medium out of `device`; in a library, put it into a slot, which is returned.
    pub fn unload(&self, device: &str, stow: Stow) -> Result<Option<u16>, AgentError> {
        let mut dev = self.lock(device)?;
        match &mut *dev {
            Device::SimTape(d) => d.unload().map(|()| None).map_err(|source| AgentError::Tape { device: device.into(), source }),
            Device::SimBurner(b) => b.eject().map(|()| None).map_err(|source| AgentError::Burn { device: device.into(), source }),
            Device::Scsi(d) => d.unmount(device, stow),
        }
    }
}
