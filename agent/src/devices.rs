//! The devices an agent drives, by name, and how media get into them.
//!
//! A device is reached through a backend. Today that is hw-sim's file-backed simulators, whose
//! media live on a simulated shelf; real backends (SSC/SMC over SG_IO, xorriso) plug in here as
//! further variants, implementing the same `TapeDrive` / `Burner` seams.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use asto_drivers::optical::Burner;
use asto_drivers::tape::TapeDrive;
use asto_hw_sim::file_burner::{FileBurner, FileBurnerConfig};
use asto_hw_sim::file_tape::{FileTapeConfig, FileTapeDrive};
use asto_hw_sim::shelf::{MediumKind, Shelf};
use serde::{Deserialize, Serialize};

use crate::error::AgentError;
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
}

/// A configured device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSpec {
    pub name: String,
    pub kind: DeviceKind,
    #[serde(flatten)]
    pub backend: Backend,
}

/// A device with its driver.
pub enum Device {
    SimTape(FileTapeDrive),
    SimBurner(FileBurner),
}

impl Device {
    fn open(spec: &DeviceSpec) -> Result<Device, AgentError> {
        let Backend::Sim { dir, serial, rate } = &spec.backend;
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
        }
    }

    pub fn tape(&mut self, name: &str) -> Result<&mut dyn TapeDrive, AgentError> {
        match self {
            Device::SimTape(d) => Ok(d),
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
        let shelf = self.shelf()?;
        let mut dev = self.lock(device)?;
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
        }
        Ok(())
    }

    /// Names of the devices.
    pub fn names(&self) -> Vec<String> {
        self.devices.keys().cloned().collect()
    }

    /// Take the medium out of `device`.
    pub fn unload(&self, device: &str) -> Result<(), AgentError> {
        let mut dev = self.lock(device)?;
        match &mut *dev {
            Device::SimTape(d) => d.unload().map_err(|source| AgentError::Tape { device: device.into(), source }),
            Device::SimBurner(b) => b.eject().map_err(|source| AgentError::Burn { device: device.into(), source }),
        }
    }
}
