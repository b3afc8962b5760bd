//! The asto agent: executes actions (prepare, write a copy, verify) on a media host's devices and
//! reports back. The appliance default embeds it in the controller process; the same actions
//! travel as [`wire`] types to agents on other hosts.
//!
//! The agent knows devices, media and images; it knows nothing of the catalogue. Every action is
//! idempotent from the controller's point of view: preparing again replaces the previous
//! preparation, writing a copy again starts from the beginning of the medium, verifying only reads.

mod devices;
mod error;
pub mod http;
pub mod library;
pub mod metrics;
mod prepare;
pub mod remote;
pub mod retrieve;
pub mod scsi_path;
mod tape_stream;
mod verify;
pub mod wire;
mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;

use asto_drivers::changer::ChangerStatus;

pub use devices::{Backend, DeviceKind, DeviceSpec};
pub use error::{AgentError, Blame};
pub use write::volume_label;

use devices::DeviceSet;
use library::{Library, Stow};
use scsi_path::ScsiPath;
use wire::{MediumRef, PreparedUnit, UnitSpec, VerifyJob, VerifyReport, WriteJob, WriteReport};

/// What an agent needs to start.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub devices: Vec<DeviceSpec>,
    /// Where simulated media live (sim backend).
    pub shelf: Option<PathBuf>,
    /// The media stage: working directories of prepared units.
    pub media_stage: PathBuf,
    /// Jukeboxes this agent moves volumes in and inventories: name → changer address.
    pub jukeboxes: Vec<(String, String)>,
}

/// An agent and its devices.
pub struct Agent {
    devices: DeviceSet,
    media_stage: PathBuf,
    jukeboxes: BTreeMap<String, Library>,
}

impl Agent {
    pub fn new(config: &AgentConfig) -> Result<Agent, AgentError> {
        std::fs::create_dir_all(&config.media_stage)
            .map_err(|source| AgentError::Io { path: config.media_stage.clone(), source })?;
        let mut jukeboxes = BTreeMap::new();
        for (name, changer) in &config.jukeboxes {
            let path = ScsiPath::parse(changer).map_err(|e| AgentError::Config(format!("jukebox '{name}': {e}")))?;
            jukeboxes.insert(name.clone(), Library::new(path));
        }
        Ok(Agent { devices: DeviceSet::open(&config.devices, config.shelf.clone())?, media_stage: config.media_stage.clone(), jukeboxes })
    }

    fn jukebox(&self, name: &str) -> Result<&Library, AgentError> {
        self.jukeboxes.get(name).ok_or_else(|| AgentError::Config(format!("this agent does not drive a jukebox named '{name}'")))
    }

    /// What jukebox `name` holds, slot by slot.
    pub fn inventory(&self, name: &str) -> Result<ChangerStatus, AgentError> {
        self.jukebox(name)?.status()
    }

    /// Move `barcode` from the import/export slot of jukebox `name` into a free storage slot,
    /// confirming its label; returns the slot.
    pub fn import(&self, name: &str, barcode: &str) -> Result<u16, AgentError> {
        self.jukebox(name)?.import(barcode)
    }

    /// Plan a unit (and compress its files, if asked) in the media stage.
    pub fn prepare(&self, spec: &UnitSpec) -> Result<PreparedUnit, AgentError> {
        prepare::prepare(spec, &self.media_stage)
    }

    /// Remove what preparing a unit left in the media stage.
    pub fn discard(&self, unit: &PreparedUnit) -> Result<(), AgentError> {
        prepare::discard(unit)
    }

    /// Get a writable medium for a device of `kind`: erase `reuse` (a scratch tape) or take a new
    /// blank one from the simulated shelf. Returns its barcode.
    pub fn provision(&self, kind: DeviceKind, medium: &MediumRef, reuse: Option<&str>) -> Result<String, AgentError> {
        self.devices.provision(kind, medium, reuse)
    }

    /// Names of this agent's devices.
    pub fn device_names(&self) -> Vec<String> {
        self.devices.names()
    }

    /// Names of the jukeboxes this agent drives.
    pub fn jukebox_names(&self) -> Vec<String> {
        self.jukeboxes.keys().cloned().collect()
    }

    /// Write one copy.
    pub fn write(&self, job: &WriteJob, progress: &mut dyn FnMut(u64)) -> Result<WriteReport, AgentError> {
        write::write_copy(&self.devices, job, progress)
    }

    /// Verify one copy by reading it back.
    pub fn verify(&self, job: &VerifyJob, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, AgentError> {
        verify::verify_copy(&self.devices, job, progress)
    }

    /// Read one file back from a volume, positioned straight to it.
    pub fn retrieve(&self, job: &retrieve::RetrieveJob) -> Result<retrieve::RetrieveReport, AgentError> {
        retrieve::retrieve(&self.devices, job)
    }

    /// Verify one copy and take the volume out of the drive: in a library, into a storage slot,
    /// or the import/export slot for user media (`job.export`); the report names the slot.
    pub fn verify_and_put_away(&self, job: &VerifyJob, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, AgentError> {
        let report = self.verify(job, progress)?;
        let stow = if job.export { Stow::Export } else { Stow::Storage };
        // The copy is verified whatever happens next; a volume that cannot be put away stays in
        // the drive, and the drive's next load puts it away.
        let slot = match self.devices.unload(&job.device, stow) {
            Ok(slot) => slot,
            Err(e) => {
                tracing::warn!(device = %job.device, volume = %job.medium.barcode, error = %e, "verified volume not put away");
                None
            }
        };
        Ok(VerifyReport { slot, ..report })
    }

    /// Take the medium out of `device` (in a library: back into storage).
    pub fn unload(&self, device: &str) -> Result<(), AgentError> {
        self.devices.unload(device, Stow::Storage).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use wire::{ImageFormat, UnitFile};

    fn setup(dir: &std::path::Path) -> (Agent, Vec<UnitFile>) {
        let agent = Agent::new(&AgentConfig {
            devices: vec![
                DeviceSpec {
                    name: "tape0".into(),
                    kind: DeviceKind::Tape,
                    backend: Backend::Sim { dir: dir.join("dev/tape0"), serial: "S0".into(), rate: None },
                },
                DeviceSpec {
                    name: "burner0".into(),
                    kind: DeviceKind::Optical,
                    backend: Backend::Sim { dir: dir.join("dev/burner0"), serial: "S1".into(), rate: None },
                },
            ],
            shelf: Some(dir.join("shelf")),
            media_stage: dir.join("media"),
            jukeboxes: Vec::new(),
        })
        .unwrap();
        let mut files = Vec::new();
        for (i, content) in [b"first file".to_vec(), vec![7u8; 300_000]].into_iter().enumerate() {
            let path = dir.join(format!("src{i}"));
            std::fs::write(&path, &content).unwrap();
            files.push(UnitFile {
                medium_path: format!("night/{i}.fits"),
                source: path,
                size: content.len() as u64,
                sha256: hex::encode(Sha256::digest(&content)),
                mode: 0o644,
                mtime_ns: 1_700_000_000_000_000_000,
                compression: "none".into(),
            });
        }
        (agent, files)
    }

    fn spec(files: Vec<UnitFile>, format: ImageFormat, compress: bool) -> UnitSpec {
        UnitSpec {
            unit: "ARC-LTO5-000001".into(),
            request: "1".into(),
            format,
            record_size: 256 << 10,
            compress,
            created_ns: 1_700_000_000_000_000_000,
            capacity: 1 << 30,
            files,
        }
    }

    fn tape_medium(barcode: &str) -> MediumRef {
        MediumRef { barcode: barcode.into(), media_type: "LTO-5".into(), capacity: 1 << 30, profile: "LTO-5".into() }
    }

    #[test]
    fn tape_copy_is_written_and_verified_by_reading_back() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, files) = setup(dir.path());
        let unit = agent.prepare(&spec(files, ImageFormat::Tar, false)).unwrap();
        assert_eq!(unit.image_bytes % (256 << 10), 0);
        let barcode = agent.provision(DeviceKind::Tape, &tape_medium(""), None).unwrap();
        assert_eq!(barcode, "AS0001L5");
        let medium = tape_medium(&barcode);
        let report = agent.write(&WriteJob { copy_id: 1, device: "tape0".into(), medium: medium.clone(), unit: unit.clone(), blank_only: false }, &mut |_| {}).unwrap();
        assert_eq!((report.tape_file, report.start_block), (Some(1), Some(2)), "label block + filemark come first");
        let job = VerifyJob { copy_id: 1, device: "tape0".into(), medium, unit, start_block: report.start_block, export: false };
        let v = agent.verify(&job, &mut |_| {}).unwrap();
        assert_eq!(v.files_checked, 2);

        // A bit flipped on the way back is a failed verification, blamed on the medium.
        std::fs::write(dir.path().join("dev/tape0/faults.json"), r#"{"flip_bit_at_byte": 300000}"#).unwrap();
        agent.unload("tape0").unwrap();
        let err = agent.verify(&job, &mut |_| {}).unwrap_err();
        assert!(matches!(err, AgentError::VerifyFailed { .. }), "{err}");
        assert_eq!(err.blame(), Blame::Medium);
    }

    #[test]
    fn changed_source_fails_the_write_and_is_not_blamed_on_the_medium() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, files) = setup(dir.path());
        let unit = agent.prepare(&spec(files.clone(), ImageFormat::Tar, false)).unwrap();
        std::fs::write(&files[0].source, b"first fil3").unwrap();
        let barcode = agent.provision(DeviceKind::Tape, &tape_medium(""), None).unwrap();
        let err = agent.write(&WriteJob { copy_id: 1, device: "tape0".into(), medium: tape_medium(&barcode), unit, blank_only: false }, &mut |_| {}).unwrap_err();
        assert_eq!(err.blame(), Blame::Other, "{err}");
        assert!(err.to_string().contains("changed"), "{err}");
    }

    #[test]
    fn compression_happens_in_the_media_stage_and_discard_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, files) = setup(dir.path());
        let unit = agent.prepare(&spec(files, ImageFormat::Tar, true)).unwrap();
        assert!(unit.files.iter().all(|f| f.medium_path.ends_with(".gz")));
        assert!(unit.files[1].size < 300_000, "a run of 7s compresses");
        let workdir = unit.workdir.clone().unwrap();
        assert!(workdir.join("night/1.fits.gz").exists());
        agent.discard(&unit).unwrap();
        assert!(!workdir.exists());
    }

    #[test]
    fn oversize_unit_is_refused_at_prepare() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, files) = setup(dir.path());
        let mut s = spec(files, ImageFormat::Tar, false);
        s.capacity = 100_000;
        assert!(matches!(agent.prepare(&s), Err(AgentError::DoesNotFit { .. })));
    }
}
