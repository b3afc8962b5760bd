//! Errors of the agent's actions, classified so the controller knows what to blame: the medium
//! (mark the volume bad, write the unit elsewhere), the device (mark it down, move the work to a
//! peer), the source data (stop and tell the operator), or the verification (a failed write).

use asto_drivers::optical::BurnError;
use asto_drivers::tape::TapeError;
use asto_images::ImageError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("unknown device '{0}'")]
    UnknownDevice(String),
    #[error("device '{device}' is a {actual} device, not {wanted}")]
    WrongDeviceKind { device: String, actual: &'static str, wanted: &'static str },
    #[error("tape device '{device}': {source}")]
    Tape { device: String, source: TapeError },
    #[error("burner '{device}': {source}")]
    Burn { device: String, source: BurnError },
    #[error("unit {unit}: {source}")]
    Image { unit: String, source: ImageError },
    #[error("unit {unit} does not fit: image of {image} bytes, medium holds {capacity}")]
    DoesNotFit { unit: String, image: u64, capacity: u64 },
    #[error("verification of unit {unit} on {barcode} failed: {problems}")]
    VerifyFailed { unit: String, barcode: String, problems: String },
    #[error("medium {barcode}: {message}")]
    Medium { barcode: String, message: String },
    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("changer {changer}: {source}")]
    Changer { changer: String, source: asto_drivers::changer::ChangerError },
    #[error("volume {barcode} is not in {place} of the library at {changer}")]
    NotInLibrary { barcode: String, changer: String, place: &'static str },
    #[error("volume {barcode} is in drive {drive} of the library; that drive must give it back first")]
    VolumeBusy { barcode: String, drive: u16 },
    #[error("configuration: {0}")]
    Config(String),
    /// An action run by an agent on another host failed (or its lease ran out).
    #[error("agent {agent}: {message}")]
    Remote { agent: String, message: String, blame: Blame },
}

/// Who is to blame for a failed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Blame {
    /// The medium: mark the volume bad and write the copy on another one.
    Medium,
    /// The device: mark it down and move the work to a peer.
    Device,
    /// Anything else (source data, configuration): stop and report.
    Other,
}

impl AgentError {
    pub fn blame(&self) -> Blame {
        match self {
            AgentError::Tape { source, .. } if source.is_medium_fault() => Blame::Medium,
            AgentError::Burn { source, .. } if source.is_medium_fault() => Blame::Medium,
            AgentError::VerifyFailed { .. } | AgentError::Medium { .. } => Blame::Medium,
            AgentError::Tape { .. } | AgentError::Burn { .. } | AgentError::Changer { .. } => Blame::Device,
            AgentError::Remote { blame, .. } => *blame,
            _ => Blame::Other,
        }
    }
}
