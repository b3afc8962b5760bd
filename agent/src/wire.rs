//! Wire types shared by the controller and the agent: the actions an agent executes and what it
//! reports back. They are plain serde types so the same values travel in-process (the embedded
//! agent) and as JSON over HTTP (agents on other hosts).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How a unit is laid out on its medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// ISO 9660 + Rock Ridge + Joliet, for optical media.
    Iso,
    /// pax tar in fixed-size records, one tape file per unit.
    Tar,
}

/// One file of a unit, as the catalogue knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFile {
    pub medium_path: String,
    pub source: PathBuf,
    pub size: u64,
    /// SHA-256 recorded at ingest (hex).
    pub sha256: String,
    pub mode: u32,
    pub mtime_ns: i64,
    /// Compression the file already has (none, gzip, ...).
    pub compression: String,
}

/// Prepare a unit: everything needed to lay it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSpec {
    pub unit: String,
    pub request: String,
    pub format: ImageFormat,
    /// Tape record size (tar).
    pub record_size: usize,
    /// Gzip files that are not compressed yet.
    pub compress: bool,
    /// Creation time of the unit (nanoseconds since the epoch): makes the image deterministic.
    pub created_ns: i64,
    /// Capacity of the medium, checked against the exact image size.
    pub capacity: u64,
    pub files: Vec<UnitFile>,
}

/// A prepared unit: the files as they will be written (compressed copies in the media stage
/// replace their originals), and the exact image size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedUnit {
    pub unit: String,
    pub request: String,
    pub format: ImageFormat,
    pub record_size: usize,
    pub created_ns: i64,
    pub files: Vec<UnitFile>,
    /// Exact bytes of the image (ISO) or tape file (tar).
    pub image_bytes: u64,
    /// Where each file's data starts in the image, for positioning straight to it.
    pub data_offsets: Vec<(String, u64)>,
    /// Working directory in the media stage, removed at cleanup or rollback.
    pub workdir: Option<PathBuf>,
}

/// A medium as the controller identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediumRef {
    pub barcode: String,
    pub media_type: String,
    pub capacity: u64,
    /// Profile of an optical medium (e.g. DVD+R).
    pub profile: String,
}

/// Write one copy of a prepared unit on a device, onto the given medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteJob {
    pub copy_id: i64,
    pub device: String,
    pub medium: MediumRef,
    pub unit: PreparedUnit,
    /// asto never wrote this volume (a cartridge found in a library): it is written only if it is
    /// blank or carries an asto label, never over data asto did not write.
    #[serde(default)]
    pub blank_only: bool,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteReport {
    pub copy_id: i64,
    pub barcode: String,
    /// Tape: file number of the unit on the volume (the label is file 0).
    pub tape_file: Option<u64>,
    /// Tape: logical block where the unit starts.
    pub start_block: Option<u64>,
    pub image_bytes: u64,
    /// SHA-256 of the image as written (hex).
    pub image_sha256: String,
    /// The volume reported early warning: treat it as full.
    pub early_warning: bool,
}

/// Verify one written copy by reading it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyJob {
    pub copy_id: i64,
    pub device: String,
    pub medium: MediumRef,
    pub unit: PreparedUnit,
    pub start_block: Option<u64>,
    /// A user volume: in a library it leaves through the import/export slot after verification.
    #[serde(default)]
    pub export: bool,
}

/// What a verification found (only returned when everything matched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub copy_id: i64,
    pub files_checked: usize,
    pub bytes_read: u64,
    /// The library slot the volume was put into afterwards (drives inside a library).
    #[serde(default)]
    pub slot: Option<u16>,
}

/// Report what a jukebox holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryJob {
    pub jukebox: String,
}

/// Take a volume from a jukebox's import/export slot into a free storage slot, confirming its
/// label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    pub jukebox: String,
    pub barcode: String,
}

/// An action for an agent on another host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Job {
    Write(WriteJob),
    Verify(VerifyJob),
    Inventory(InventoryJob),
    Import(ImportJob),
    /// Read one file from a volume; the agent uploads it before reporting.
    Retrieve(crate::retrieve::RetrieveJob),
}

impl Job {
    /// The device (or jukebox) the action occupies.
    pub fn device(&self) -> &str {
        match self {
            Job::Write(j) => &j.device,
            Job::Verify(j) => &j.device,
            Job::Inventory(j) => &j.jukebox,
            Job::Import(j) => &j.jukebox,
            Job::Retrieve(j) => &j.device,
        }
    }

    /// The action's kind as the controller's action table names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Write(_) => "write",
            Job::Verify(_) => "verify",
            Job::Inventory(_) => "inventory",
            Job::Import(_) => "import",
            Job::Retrieve(_) => "retrieve",
        }
    }
}

/// `POST /v1/agent/register`: the devices this agent drives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub devices: Vec<String>,
    /// Jukeboxes whose changers this agent drives.
    #[serde(default)]
    pub jukeboxes: Vec<String>,
    pub version: String,
}

/// `POST /v1/agent/lease` body: the devices free for work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    pub free_devices: Vec<String>,
}

/// A leased action: do `job`, report progress (which extends the lease) and the outcome, each
/// with `fence`, before `lease_secs` pass without a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasedAction {
    pub id: i64,
    pub fence: i64,
    pub lease_secs: u64,
    pub job: Job,
}

/// Progress of a leased action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionProgress {
    pub fence: i64,
    pub done: u64,
}

/// How a leased action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    Written(WriteReport),
    Verified(VerifyReport),
    Inventory(asto_drivers::changer::ChangerStatus),
    Imported { slot: u16 },
    Retrieved(crate::retrieve::RetrieveReport),
    Failed { message: String, blame: crate::Blame },
}

/// `POST /v1/agent/actions/{id}/result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    pub fence: i64,
    pub outcome: Outcome,
}
