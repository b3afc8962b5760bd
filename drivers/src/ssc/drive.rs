//! [`SscDrive`]: a tape drive driven with SSC commands through any [`ScsiTransport`].
//!
//! Sense data is mapped to the seam's outcomes as the Linux `st` driver and production tape
//! software do: NO SENSE + EOM on WRITE is early warning (the data *was* written), VOLUME
//! OVERFLOW is the physical end; FILEMARK on READ is a filemark, BLANK CHECK 00/05 is end of data,
//! ILI with a negative INFORMATION field is a block longer than the buffer. After a power-on or
//! reset unit attention the position is unknown and data commands are refused until the tape is
//! rewound, located, spaced to end of data or reloaded.

use std::time::Duration;

use super::block_limits::BlockLimits;
use super::cdb::{self, SpaceCode};
use super::mode::{self, MediumParameters};
use super::position::PositionReply;
use super::tape_alert::TapeAlerts;
use crate::DeviceIdentity;
use crate::scsi::inquiry::{self, Inquiry};
use crate::scsi::retry::RetryPolicy;
use crate::scsi::{DataTransfer, ScsiError, Sense, SenseKey, ScsiTransport, execute, execute_with_retry};
use crate::tape::{ReadOutcome, TapeDrive, TapeError, TapePosition, WriteOutcome};

const SHORT: Duration = Duration::from_secs(60);
const DATA: Duration = Duration::from_secs(15 * 60);
const MOTION: Duration = Duration::from_secs(4 * 60 * 60);

/// Everything `asto tape status` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DriveStatus {
    pub device: String,
    pub vendor: String,
    pub product: String,
    pub revision: String,
    pub serial: String,
    /// `None` when ready, else why not.
    pub not_ready: Option<String>,
    pub medium: Option<MediumParameters>,
    pub block_limits: Option<BlockLimits>,
    pub position: Option<PositionReply>,
    pub tape_alerts: Vec<super::tape_alert::TapeAlertFlag>,
}

/// An SSC tape drive.
pub struct SscDrive<T: ScsiTransport> {
    transport: T,
    policy: RetryPolicy,
    position_unknown: bool,
    limits: Option<BlockLimits>,
}

/// Map a CHECK CONDITION (or other failure) to the seam's error.
pub fn tape_error(err: ScsiError) -> TapeError {
    let Some(sense) = err.sense().cloned() else {
        return match err {
            ScsiError::Transport(crate::scsi::TransportError::Io(e)) => TapeError::Io(e),
            other => TapeError::Device(other.to_string()),
        };
    };
    sense_error(&sense)
}

fn sense_error(sense: &Sense) -> TapeError {
    let text = sense.to_string();
    match (sense.key, sense.asc, sense.ascq) {
        (SenseKey::NotReady, 0x3a, _) => TapeError::NoMedium,
        (SenseKey::NotReady, _, _) => TapeError::NotReady(text),
        (SenseKey::DataProtect, 0x27, _) => TapeError::WriteProtected,
        (SenseKey::DataProtect, _, _) => TapeError::Medium(text),
        (SenseKey::VolumeOverflow, _, _) => TapeError::EndOfMedium,
        (SenseKey::BlankCheck, _, _) => TapeError::BeyondEndOfData,
        (SenseKey::MediumError, 0x14, _) => TapeError::BeyondEndOfData,
        (SenseKey::MediumError, _, _) => TapeError::Medium(text),
        (SenseKey::HardwareError, _, _) => TapeError::Hardware(text),
        (SenseKey::UnitAttention, 0x29, _) => TapeError::PositionUnknown,
        _ => TapeError::Device(text),
    }
}

impl SscDrive<crate::scsi::sg_io::SgDevice> {
    /// Open the tape drive at a SCSI generic node (`/dev/sgN`).
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, TapeError> {
        let dev = crate::scsi::sg_io::SgDevice::open(path).map_err(|e| tape_error(ScsiError::Transport(e)))?;
        Ok(SscDrive::new(dev))
    }
}

impl<T: ScsiTransport> SscDrive<T> {
    /// A drive on `transport` with the default retry policy.
    pub fn new(transport: T) -> Self {
        Self::with_policy(transport, RetryPolicy::default())
    }

    /// A drive with an explicit retry policy.
    pub fn with_policy(transport: T, policy: RetryPolicy) -> Self {
        SscDrive { transport, policy, position_unknown: false, limits: None }
    }

    /// The transport (e.g. to reach a simulator's controls).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    fn note_unit_attention(position_unknown: &mut bool, sense: &Sense) {
        match sense.asc {
            0x29 => *position_unknown = true,
            0x28 => *position_unknown = false,
            _ => {}
        }
        tracing::info!(asc = sense.asc, ascq = sense.ascq, "tape drive unit attention");
    }

    /// Run an idempotent command with retries.
    fn retrying(&mut self, cdb: &[u8], data: DataTransfer<'_>, timeout: Duration) -> Result<usize, ScsiError> {
        let unknown = &mut self.position_unknown;
        execute_with_retry(&mut self.transport, &self.policy, cdb, data, timeout, &mut |s| Self::note_unit_attention(unknown, s))
    }

    /// Run a data/motion command. A command answered with UNIT ATTENTION was not executed, so it
    /// is sent again — unless the attention is a power-on/reset (29/xx): then the position is
    /// lost and the command is refused until the tape is positioned again.
    fn once(&mut self, cdb: &[u8], mut data: DataTransfer<'_>, timeout: Duration) -> Result<usize, ScsiError> {
        let mut attentions = 0;
        loop {
            let r = execute(&mut self.transport, cdb, data.reborrow(), timeout);
            let Err(e) = &r else { return r };
            let Some(s) = e.sense().filter(|s| s.key == SenseKey::UnitAttention) else { return r };
            Self::note_unit_attention(&mut self.position_unknown, s);
            attentions += 1;
            if s.asc == 0x29 || attentions > self.policy.max_unit_attentions {
                return r;
            }
        }
    }

    fn check_position(&self) -> Result<(), TapeError> {
        if self.position_unknown { Err(TapeError::PositionUnknown) } else { Ok(()) }
    }

    /// Standard INQUIRY data.
    pub fn inquiry(&mut self) -> Result<Inquiry, TapeError> {
        inquiry::inquiry(&mut self.transport, &self.policy).map_err(tape_error)
    }

    /// Load the medium (LOAD/UNLOAD with LOAD=1); the position becomes the beginning of tape.
    pub fn load(&mut self) -> Result<(), TapeError> {
        self.retrying(&cdb::load_unload(true), DataTransfer::None, MOTION).map_err(tape_error)?;
        self.position_unknown = false;
        tracing::info!(device = %self.transport.device_name(), "medium loaded");
        Ok(())
    }

    /// READ BLOCK LIMITS (cached).
    pub fn block_limits(&mut self) -> Result<BlockLimits, TapeError> {
        if let Some(l) = self.limits {
            return Ok(l);
        }
        let mut buf = [0u8; 6];
        let n = self.retrying(&cdb::read_block_limits(), DataTransfer::FromDevice(&mut buf), SHORT).map_err(tape_error)?;
        let l = BlockLimits::decode(&buf[..n]).ok_or_else(|| TapeError::Device(format!("READ BLOCK LIMITS returned {n} bytes")))?;
        self.limits = Some(l);
        Ok(l)
    }

    /// MODE SENSE(6) with the compression page: write protect, density, block length, DCE.
    pub fn medium_parameters(&mut self) -> Result<MediumParameters, TapeError> {
        let mut buf = [0u8; 255];
        let cdb = cdb::mode_sense6(mode::PAGE_COMPRESSION, 255);
        let n = self.retrying(&cdb, DataTransfer::FromDevice(&mut buf), SHORT).map_err(tape_error)?;
        MediumParameters::decode(&buf[..n]).ok_or_else(|| TapeError::Device(format!("MODE SENSE returned {n} bytes")))
    }

    /// MODE SELECT the block length (0 = variable) and, optionally, compression.
    pub fn set_parameters(&mut self, block_length: u32, compression: Option<bool>) -> Result<(), TapeError> {
        let current = self.medium_parameters()?;
        let list = mode::select_parameters(current.density_code, block_length, compression);
        self.retrying(&cdb::mode_select6(list.len() as u8), DataTransfer::ToDevice(&list), SHORT).map_err(tape_error)?;
        Ok(())
    }

    /// READ POSITION (long form, falling back to the short form).
    pub fn read_position(&mut self) -> Result<PositionReply, TapeError> {
        let mut buf = [0u8; 32];
        match self.retrying(&cdb::read_position_long(), DataTransfer::FromDevice(&mut buf), SHORT) {
            Ok(n) => PositionReply::decode_long(&buf[..n]).ok_or(TapeError::PositionUnknown),
            Err(e) if e.sense().is_some_and(|s| s.key == SenseKey::IllegalRequest) => {
                let mut buf = [0u8; 20];
                let n = self.retrying(&cdb::read_position_short(), DataTransfer::FromDevice(&mut buf), SHORT).map_err(tape_error)?;
                PositionReply::decode_short(&buf[..n]).ok_or(TapeError::PositionUnknown)
            }
            Err(e) => Err(tape_error(e)),
        }
    }

    /// TapeAlert flags: LOG SENSE page 0x12, or page 0x2E on drives without it.
    pub fn tape_alerts(&mut self) -> Result<TapeAlerts, TapeError> {
        let mut buf = [0u8; 64];
        let cdb = cdb::log_sense(super::tape_alert::PAGE_TAPE_ALERT_RESPONSE, 64);
        match self.retrying(&cdb, DataTransfer::FromDevice(&mut buf), SHORT) {
            Ok(n) => TapeAlerts::decode_page(&buf[..n]).ok_or_else(|| TapeError::Device("malformed TapeAlert log page 0x12".into())),
            Err(e) if e.sense().is_some_and(|s| s.key == SenseKey::IllegalRequest) => {
                let mut buf = [0u8; 512];
                let cdb = cdb::log_sense(super::tape_alert::PAGE_TAPE_ALERT, 512);
                let n = self.retrying(&cdb, DataTransfer::FromDevice(&mut buf), SHORT).map_err(tape_error)?;
                TapeAlerts::decode_page_2e(&buf[..n]).ok_or_else(|| TapeError::Device("malformed TapeAlert log page 0x2E".into()))
            }
            Err(e) => Err(tape_error(e)),
        }
    }

    /// Space over `count` blocks (negative: backwards). Hitting a filemark is an error that leaves
    /// the tape after (forwards) or before (backwards) it.
    pub fn space_blocks(&mut self, count: i32) -> Result<(), TapeError> {
        self.check_position()?;
        match self.once(&cdb::space6(SpaceCode::Blocks, count), DataTransfer::None, MOTION) {
            Ok(_) => Ok(()),
            Err(e) if e.sense().is_some_and(|s| s.filemark) => {
                Err(TapeError::Device(format!("filemark reached while spacing {count} blocks")))
            }
            Err(e) => Err(space_error(e)),
        }
    }

    /// Everything for a status display; each part that fails is left empty.
    pub fn status(&mut self) -> Result<DriveStatus, TapeError> {
        let (inq, id) = inquiry::identity(&mut self.transport, &self.policy).map_err(tape_error)?;
        let _ = inq;
        let not_ready = match self.ready() {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        };
        let ready = not_ready.is_none();
        Ok(DriveStatus {
            device: self.transport.device_name(),
            vendor: id.vendor,
            product: id.product,
            revision: id.revision,
            serial: id.serial,
            not_ready,
            medium: if ready { self.medium_parameters().ok() } else { None },
            block_limits: self.block_limits().ok(),
            position: if ready { self.read_position().ok() } else { None },
            tape_alerts: self.tape_alerts().map(|a| a.flags()).unwrap_or_default(),
        })
    }
}

fn space_error(e: ScsiError) -> TapeError {
    match e.sense() {
        Some(s) if s.key == SenseKey::NoSense && s.eom && s.asc == 0 && s.ascq == 4 => {
            TapeError::Device("beginning of medium reached while spacing backwards".into())
        }
        _ => tape_error(e),
    }
}

impl<T: ScsiTransport> TapeDrive for SscDrive<T> {
    fn identity(&mut self) -> Result<DeviceIdentity, TapeError> {
        inquiry::identity(&mut self.transport, &self.policy).map(|(_, id)| id).map_err(tape_error)
    }

    fn ready(&mut self) -> Result<(), TapeError> {
        self.retrying(&cdb::test_unit_ready(), DataTransfer::None, SHORT).map(|_| ()).map_err(tape_error)
    }

    fn rewind(&mut self) -> Result<(), TapeError> {
        self.retrying(&cdb::rewind(), DataTransfer::None, MOTION).map_err(tape_error)?;
        self.position_unknown = false;
        Ok(())
    }

    fn write_block(&mut self, data: &[u8]) -> Result<WriteOutcome, TapeError> {
        self.check_position()?;
        if data.is_empty() || data.len() > 0xff_ffff {
            return Err(TapeError::BadBlockLength(data.len()));
        }
        if self.limits.is_none() {
            // Learn the limits once; a drive that cannot tell is trusted to refuse bad lengths.
            let _ = self.block_limits();
        }
        if let Some(l) = self.limits
            && !l.allows(data.len())
        {
            return Err(TapeError::BadBlockLength(data.len()));
        }
        match self.once(&cdb::write6(data.len() as u32), DataTransfer::ToDevice(data), DATA) {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(e) => match e.sense() {
                Some(s) if matches!(s.key, SenseKey::NoSense | SenseKey::RecoveredError) && s.eom => {
                    tracing::info!(device = %self.transport.device_name(), "early warning: end of medium is near");
                    Ok(WriteOutcome::EarlyWarning)
                }
                Some(s) if s.key == SenseKey::IllegalRequest && s.asc == 0x24 => Err(TapeError::BadBlockLength(data.len())),
                _ => Err(tape_error(e)),
            },
        }
    }

    fn write_filemarks(&mut self, count: u32) -> Result<WriteOutcome, TapeError> {
        self.check_position()?;
        match self.once(&cdb::write_filemarks6(count, false), DataTransfer::None, DATA) {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(e) => match e.sense() {
                Some(s) if matches!(s.key, SenseKey::NoSense | SenseKey::RecoveredError) && s.eom => Ok(WriteOutcome::EarlyWarning),
                _ => Err(tape_error(e)),
            },
        }
    }

    fn read_block(&mut self, buf: &mut [u8]) -> Result<ReadOutcome, TapeError> {
        self.check_position()?;
        let len = buf.len().min(0xff_ffff);
        match self.once(&cdb::read6(len as u32, false), DataTransfer::FromDevice(&mut buf[..len]), DATA) {
            Ok(n) => Ok(ReadOutcome::Data(n)),
            Err(e) => {
                let Some(s) = e.sense() else { return Err(tape_error(e)) };
                if s.filemark {
                    return Ok(ReadOutcome::Filemark);
                }
                if s.key == SenseKey::BlankCheck && s.asc == 0 && s.ascq == 5 {
                    return Ok(ReadOutcome::EndOfData);
                }
                if s.key == SenseKey::NoSense && s.ili {
                    let info = s.information.unwrap_or(0);
                    if info < 0 {
                        let block = (len as i64 - info) as usize;
                        return Err(TapeError::BlockTooLarge { block, buffer: len });
                    }
                    return Ok(ReadOutcome::Data(len.saturating_sub(info as usize)));
                }
                Err(tape_error(e))
            }
        }
    }

    fn space_filemarks(&mut self, count: i64) -> Result<(), TapeError> {
        self.check_position()?;
        let count = i32::try_from(count).ok().filter(|c| (-0x80_0000..0x80_0000).contains(c))
            .ok_or_else(|| TapeError::Device(format!("cannot space {count} filemarks in one command")))?;
        self.once(&cdb::space6(SpaceCode::Filemarks, count), DataTransfer::None, MOTION).map(|_| ()).map_err(space_error)
    }

    fn space_to_end_of_data(&mut self) -> Result<(), TapeError> {
        self.once(&cdb::space6(SpaceCode::EndOfData, 0), DataTransfer::None, MOTION).map_err(space_error)?;
        self.position_unknown = false;
        Ok(())
    }

    fn locate(&mut self, block: u64) -> Result<(), TapeError> {
        let r = match u32::try_from(block) {
            Ok(b) => self.once(&cdb::locate10(b), DataTransfer::None, MOTION),
            Err(_) => self.once(&cdb::locate16(block), DataTransfer::None, MOTION),
        };
        r.map_err(tape_error)?;
        self.position_unknown = false;
        Ok(())
    }

    fn position(&mut self) -> Result<TapePosition, TapeError> {
        self.check_position()?;
        let p = self.read_position()?;
        Ok(TapePosition { block: p.object, file: p.file })
    }

    fn unload(&mut self) -> Result<(), TapeError> {
        self.retrying(&cdb::load_unload(false), DataTransfer::None, MOTION).map_err(tape_error)?;
        tracing::info!(device = %self.transport.device_name(), "medium unloaded");
        Ok(())
    }
}
