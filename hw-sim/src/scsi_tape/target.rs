//! The simulated SSC target: decodes the CDBs a tape driver sends and answers them with data,
//! status and sense exactly as the reference behaviour matrix of a real drive prescribes (early
//! warning with the data written, VOLUME OVERFLOW before writing at the physical end, FILEMARK
//! and BLANK CHECK on reads, ILI with a signed residual, unit attentions after load and reset).
//!
//! It implements [`ScsiTransport`], so the real [`SscDrive`](asto_drivers::ssc::SscDrive) drives
//! it unchanged. Handles are cheap clones sharing one drive, so a simulated library can move
//! cartridges in and out of a drive that a driver is talking to.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use asto_drivers::scsi::inquiry::{self, Inquiry, PDT_TAPE};
use asto_drivers::scsi::{CommandOutcome, DataTransfer, ScsiTransport, Sense, SenseKey, TransportError};
use asto_drivers::ssc::cdb;
use asto_drivers::ssc::mode::{self, MediumParameters};
use asto_drivers::ssc::{BlockLimits, PositionReply, TapeAlerts};

use super::cartridge::{Cartridge, TapeObject};
use super::faults::TapeFaults;

/// How a simulated drive presents itself.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TapeDriveConfig {
    pub vendor: String,
    pub product: String,
    pub revision: String,
    pub serial: String,
    pub max_block: u32,
    pub min_block: u16,
    /// Rated (native) speed in bytes per second; `None` = as fast as the host allows.
    pub rated_bytes_per_sec: Option<u64>,
    /// Drive buffer: data accepted ahead of the tape (LTO-9 drives hold 1 GiB or more). A write
    /// waits only when the buffer is full; a filemark (without IMMED), rewind, unload or
    /// positioning waits until the buffer is on tape. If the host feeds too slowly the buffer
    /// runs dry and the drive stops, losing the time, as a real drive does.
    pub buffer_bytes: u64,
}

impl Default for TapeDriveConfig {
    fn default() -> Self {
        TapeDriveConfig {
            vendor: "IBM".into(),
            product: "ULT3580-TD9".into(),
            revision: "S1M0".into(),
            serial: "SIMTD90001".into(),
            max_block: 0xff_ffff,
            min_block: 1,
            rated_bytes_per_sec: None,
            buffer_bytes: 512 << 20,
        }
    }
}

/// A failure of the simulator's own controls (not a SCSI condition).
#[derive(Debug, thiserror::Error)]
pub enum SimTapeError {
    #[error("drive {0} already holds a cartridge")]
    Occupied(String),
    #[error("drive {0} is empty")]
    Empty(String),
    #[error("drive {0} has the tape threaded; unload it first")]
    Threaded(String),
}

#[derive(Debug)]
struct State {
    config: TapeDriveConfig,
    cartridge: Option<Cartridge>,
    threaded: bool,
    pos: usize,
    block_length: u32,
    compression: bool,
    unit_attentions: VecDeque<(u8, u8)>,
    faults: TapeFaults,
    alerts: TapeAlerts,
    next_free: Instant,
}

/// A simulated SCSI tape drive (cheap to clone; clones share the drive).
#[derive(Debug, Clone)]
pub struct SimTapeDrive {
    name: String,
    state: Arc<Mutex<State>>,
}

type Reply = Result<(usize, usize), Sense>;

fn illegal(field: u16) -> Sense {
    Sense::new(SenseKey::IllegalRequest, 0x24, 0).with_cdb_field(field)
}

impl SimTapeDrive {
    /// An empty drive.
    pub fn new(name: &str, config: TapeDriveConfig) -> SimTapeDrive {
        let state = State {
            config,
            cartridge: None,
            threaded: false,
            pos: 0,
            block_length: 0,
            compression: true,
            unit_attentions: VecDeque::from([(0x29, 0x00)]),
            faults: TapeFaults::default(),
            alerts: TapeAlerts::default(),
            next_free: Instant::now(),
        };
        SimTapeDrive { name: name.to_string(), state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the drive half-updated in a way that
        // matters more than losing the simulation, so take the state as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Put a cartridge into the drive and thread it (as a library or an operator does);
    /// the next command sees UNIT ATTENTION 28/00.
    pub fn insert(&self, cartridge: Cartridge) -> Result<(), SimTapeError> {
        let mut s = self.lock();
        if s.cartridge.is_some() {
            return Err(SimTapeError::Occupied(self.name.clone()));
        }
        tracing::debug!(device = %self.name, volume = %cartridge.meta().barcode, "cartridge inserted");
        s.cartridge = Some(cartridge);
        s.threaded = true;
        s.pos = 0;
        // A load positions the tape at BOT; "medium may have changed" supersedes a pending reset.
        s.unit_attentions.clear();
        s.unit_attentions.push_back((0x28, 0x00));
        Ok(())
    }

    /// Take the cartridge out (a library's picker); refused while the tape is threaded.
    pub fn take(&self) -> Result<Cartridge, SimTapeError> {
        let mut s = self.lock();
        if s.cartridge.is_none() {
            return Err(SimTapeError::Empty(self.name.clone()));
        }
        if s.threaded {
            return Err(SimTapeError::Threaded(self.name.clone()));
        }
        s.pos = 0;
        s.cartridge.take().ok_or_else(|| SimTapeError::Empty(self.name.clone()))
    }

    /// Barcode of the cartridge in the drive, and whether it is threaded.
    pub fn contents(&self) -> Option<(String, bool)> {
        let s = self.lock();
        s.cartridge.as_ref().map(|c| (c.meta().barcode.clone(), s.threaded))
    }

    /// Unit serial number of the drive.
    pub fn serial(&self) -> String {
        self.lock().config.serial.clone()
    }

    /// Current logical object number (for persisting the drive state).
    pub fn object_position(&self) -> usize {
        self.lock().pos
    }

    /// Restore a position (for persisted drive state).
    pub fn restore_position(&self, pos: usize, threaded: bool) {
        let mut s = self.lock();
        let max = s.cartridge.as_ref().map_or(0, |c| c.objects().len());
        s.pos = pos.min(max);
        s.threaded = threaded && s.cartridge.is_some();
        s.unit_attentions.clear();
    }

    /// Arm faults.
    pub fn set_faults(&self, faults: TapeFaults) {
        self.lock().faults = faults;
    }

    /// Raise a TapeAlert flag.
    pub fn raise_tape_alert(&self, flag: u8) {
        self.lock().alerts.set(flag);
    }

    /// Simulate a power-on reset: the tape rewinds, the next command sees UNIT ATTENTION 29/00.
    pub fn power_on_reset(&self) {
        let mut s = self.lock();
        s.pos = 0;
        s.unit_attentions.push_back((0x29, 0x00));
    }

    /// Persist the cartridge index.
    pub fn sync(&self) -> Result<(), super::cartridge::CartridgeError> {
        match self.lock().cartridge.as_mut() {
            Some(c) => c.sync(),
            None => Ok(()),
        }
    }
}

impl State {
    fn medium(&mut self) -> Result<&mut Cartridge, Sense> {
        match (&mut self.cartridge, self.threaded) {
            (Some(c), true) => Ok(c),
            _ => Err(Sense::new(SenseKey::NotReady, 0x3a, 0)),
        }
    }

    fn physical_end(&self, c: &Cartridge) -> u64 {
        self.faults.early_end_of_medium.map_or(c.meta().capacity, |e| e.min(c.meta().capacity))
    }

    fn early_warning_point(&self, c: &Cartridge) -> u64 {
        self.physical_end(c).saturating_sub(c.meta().early_warning_zone)
    }

    /// Account `bytes` moved at the rated speed; wait while the drive buffer is full.
    fn pace(&mut self, bytes: usize) {
        let Some(rate) = self.config.rated_bytes_per_sec.filter(|r| *r > 0) else { return };
        let now = Instant::now();
        // An empty buffer means the tape stopped: the idle time is lost.
        let start = self.next_free.max(now);
        self.next_free = start + Duration::from_secs_f64(bytes as f64 / rate as f64);
        let buffer_time = Duration::from_secs_f64(self.config.buffer_bytes as f64 / rate as f64);
        if let Some(wait) = self.next_free.checked_duration_since(now).and_then(|backlog| backlog.checked_sub(buffer_time)) {
            std::thread::sleep(wait);
        }
    }

    /// Wait until everything in the drive buffer is on tape.
    fn drain(&mut self) {
        if let Some(wait) = self.next_free.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }

    fn store_err(e: super::cartridge::CartridgeError) -> Sense {
        tracing::error!(error = %e, "simulated cartridge store failed");
        Sense::new(SenseKey::HardwareError, 0x44, 0)
    }

    fn execute(&mut self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        let op = cdb[0];
        if op == cdb::INQUIRY {
            return self.inquiry(cdb, data);
        }
        if op == cdb::REQUEST_SENSE {
            return out(data, &Sense::new(SenseKey::NoSense, 0, 0).to_fixed_bytes());
        }
        if self.faults.offline {
            return Err(Sense::new(SenseKey::NotReady, 0x04, 0x12));
        }
        if let Some((asc, ascq)) = self.unit_attentions.pop_front() {
            return Err(Sense::new(SenseKey::UnitAttention, asc, ascq));
        }
        if self.faults.vendor_pause > 0 {
            self.faults.vendor_pause -= 1;
            return Err(Sense::new(SenseKey::NotReady, 0x04, 0x85));
        }
        let medium_command = !matches!(op, cdb::READ_BLOCK_LIMITS | cdb::MODE_SENSE_6 | cdb::MODE_SELECT_6 | cdb::LOG_SENSE | cdb::PREVENT_ALLOW);
        if medium_command && self.cartridge.is_some() && self.faults.becoming_ready > 0 {
            self.faults.becoming_ready -= 1;
            return Err(Sense::new(SenseKey::NotReady, 0x04, 0x01));
        }
        match op {
            cdb::TEST_UNIT_READY => self.medium().map(|_| (0, 0)),
            cdb::READ_BLOCK_LIMITS => {
                let l = BlockLimits { granularity: 0, max: self.config.max_block, min: self.config.min_block };
                out(data, &l.encode())
            }
            cdb::MODE_SENSE_6 => self.mode_sense(cdb, data),
            cdb::MODE_SELECT_6 => self.mode_select(cdb, data),
            cdb::LOG_SENSE => match cdb[2] & 0x3f {
                0x12 if !self.faults.no_tape_alert_response_page => out(data, &self.alerts.encode_page()),
                0x2e => out(data, &self.alerts.encode_page_2e()),
                0x00 => out(data, &[0, 0, 0, 3, 0x00, 0x12, 0x2e]),
                _ => Err(illegal(2)),
            },
            cdb::PREVENT_ALLOW => Ok((0, 0)),
            cdb::REWIND => {
                self.medium()?;
                self.drain();
                self.pos = 0;
                Ok((0, 0))
            }
            cdb::LOAD_UNLOAD => self.load_unload(cdb),
            cdb::READ_6 => self.read(cdb, data),
            cdb::WRITE_6 => self.write(cdb, data),
            cdb::WRITE_FILEMARKS_6 => self.write_filemarks(cdb),
            cdb::SPACE_6 => self.space(cdb),
            cdb::LOCATE_10 => self.locate(u64::from(u32::from_be_bytes([cdb[3], cdb[4], cdb[5], cdb[6]]))),
            cdb::LOCATE_16 if cdb.len() >= 16 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&cdb[4..12]);
                self.locate(u64::from_be_bytes(b))
            }
            cdb::READ_POSITION => self.read_position(cdb, data),
            cdb::ERASE_6 => {
                self.check_writable()?;
                let pos = self.pos;
                self.medium()?.truncate(pos).map_err(Self::store_err)?;
                Ok((0, 0))
            }
            _ => Err(Sense::new(SenseKey::IllegalRequest, 0x20, 0)),
        }
    }

    fn inquiry(&self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        if cdb[1] & 1 != 0 {
            return match cdb[2] {
                0x00 => out(data, &[PDT_TAPE, 0, 0, 2, 0x00, 0x80]),
                0x80 => out(data, &inquiry::encode_serial_page(PDT_TAPE, &self.config.serial)),
                _ => Err(illegal(2)),
            };
        }
        let inq = Inquiry {
            peripheral_type: PDT_TAPE,
            removable: true,
            vendor: self.config.vendor.clone(),
            product: self.config.product.clone(),
            revision: self.config.revision.clone(),
        };
        out(data, &inq.encode())
    }

    fn mode_sense(&mut self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        let page = cdb[2] & 0x3f;
        if !matches!(page, 0x00 | mode::PAGE_COMPRESSION | 0x3f) {
            return Err(illegal(2));
        }
        let (wp, density) = match (&self.cartridge, self.threaded) {
            (Some(c), true) => (c.meta().write_protected, c.meta().density_code),
            _ => (false, 0),
        };
        let p = MediumParameters {
            write_protected: wp,
            buffer_mode: 1,
            density_code: density,
            block_length: self.block_length,
            compression: (page != 0).then_some(self.compression),
        };
        out(data, &p.encode())
    }

    fn mode_select(&mut self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        let DataTransfer::ToDevice(list) = data else { return Err(illegal(4)) };
        let n = usize::from(cdb[4]).min(list.len());
        let (block, compression) = mode::decode_select(&list[..n]).ok_or(Sense::new(SenseKey::IllegalRequest, 0x1a, 0))?;
        if let Some(b) = block {
            if b != 0 && (b > self.config.max_block || b < u32::from(self.config.min_block)) {
                return Err(Sense::new(SenseKey::IllegalRequest, 0x26, 0));
            }
            self.block_length = b;
        }
        if let Some(c) = compression {
            self.compression = c;
        }
        Ok((0, 0))
    }

    fn load_unload(&mut self, cdb: &[u8]) -> Reply {
        self.drain();
        if self.cartridge.is_none() {
            return Err(Sense::new(SenseKey::NotReady, 0x3a, 0));
        }
        if cdb[4] & 1 != 0 {
            if self.faults.load_failure {
                return Err(Sense::new(SenseKey::MediumError, 0x53, 0));
            }
            self.threaded = true;
        } else {
            if let Some(c) = self.cartridge.as_mut() {
                c.sync().map_err(Self::store_err)?;
            }
            self.threaded = false;
        }
        self.pos = 0;
        Ok((0, 0))
    }

    fn check_writable(&mut self) -> Result<(), Sense> {
        if self.medium()?.meta().write_protected {
            return Err(Sense::new(SenseKey::DataProtect, 0x27, 0));
        }
        Ok(())
    }

    fn read(&mut self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        let sili = cdb[1] & 0x02 != 0;
        if cdb[1] & 0x01 != 0 {
            // Fixed-block mode is not simulated: asto runs drives in variable mode.
            return Err(illegal(1));
        }
        let req = u32::from_be_bytes([0, cdb[2], cdb[3], cdb[4]]) as usize;
        let DataTransfer::FromDevice(buf) = data else { return Err(illegal(2)) };
        let req = req.min(buf.len());
        let pos = self.pos;
        let faults = self.faults.clone();
        let c = self.medium()?;
        let Some(obj) = c.objects().get(pos).copied() else {
            return Err(Sense::new(SenseKey::BlankCheck, 0, 5).with_information(req as i64));
        };
        match obj {
            TapeObject::Filemark => {
                self.pos += 1;
                Err(Sense::new(SenseKey::NoSense, 0, 1).with_filemark().with_information(req as i64))
            }
            TapeObject::Block { len, offset } => {
                if faults.read_error_at_object == Some(pos as u64) {
                    return Err(Sense::new(SenseKey::MediumError, 0x11, 0));
                }
                let n = c.read_block(offset, len, &mut buf[..req]).map_err(Self::store_err)?;
                if faults.flip_bit_at_object == Some(pos as u64) && n > 0 {
                    buf[0] ^= 1;
                }
                self.pos += 1;
                self.pace(n);
                let len = len as usize;
                if len == req || (len < req && sili) {
                    Ok((n, req - n))
                } else {
                    Err(Sense::new(SenseKey::NoSense, 0, 0).with_ili().with_information(req as i64 - len as i64))
                }
            }
        }
    }

    fn write(&mut self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        if cdb[1] & 0x01 != 0 {
            return Err(illegal(1));
        }
        let len = u32::from_be_bytes([0, cdb[2], cdb[3], cdb[4]]) as usize;
        let DataTransfer::ToDevice(buf) = data else { return Err(illegal(2)) };
        if len != buf.len() || len == 0 || len > self.config.max_block as usize || len < usize::from(self.config.min_block) {
            return Err(illegal(2));
        }
        self.check_writable()?;
        let pos = self.pos;
        if self.faults.write_error_at_object == Some(pos as u64) {
            return Err(Sense::new(SenseKey::MediumError, 0x0c, 0));
        }
        let c = self.cartridge.as_ref().ok_or(Sense::new(SenseKey::NotReady, 0x3a, 0))?;
        let end = self.physical_end(c);
        let ew = self.early_warning_point(c);
        let used = c.used_before(pos);
        if used + len as u64 > end {
            return Err(Sense::new(SenseKey::VolumeOverflow, 0, 2).with_eom().with_information(len as i64));
        }
        let c = self.medium()?;
        c.truncate(pos).map_err(Self::store_err)?;
        c.append_block(buf).map_err(Self::store_err)?;
        self.pos += 1;
        self.pace(len);
        if used + len as u64 >= ew {
            return Err(Sense::new(SenseKey::NoSense, 0, 2).with_eom().with_information(0));
        }
        Ok((len, 0))
    }

    fn write_filemarks(&mut self, cdb: &[u8]) -> Reply {
        let count = u32::from_be_bytes([0, cdb[2], cdb[3], cdb[4]]);
        if cdb[1] & 0x01 == 0 {
            self.drain();
        }
        self.check_writable()?;
        let pos = self.pos;
        let c = self.cartridge.as_ref().ok_or(Sense::new(SenseKey::NotReady, 0x3a, 0))?;
        let in_ew = c.used_before(pos) >= self.early_warning_point(c);
        let c = self.medium()?;
        if count == 0 {
            c.sync().map_err(Self::store_err)?;
            return Ok((0, 0));
        }
        c.truncate(pos).map_err(Self::store_err)?;
        c.append_filemarks(count as usize).map_err(Self::store_err)?;
        self.pos += count as usize;
        if in_ew {
            return Err(Sense::new(SenseKey::NoSense, 0, 2).with_eom());
        }
        Ok((0, 0))
    }

    fn space(&mut self, cdb: &[u8]) -> Reply {
        self.drain();
        let code = cdb[1] & 0x0f;
        let count = cdb::space6_count(cdb);
        let mut pos = self.pos;
        self.medium()?;
        let objects: &[TapeObject] = self.cartridge.as_ref().map_or(&[], |c| c.objects());
        let eod = objects.len();
        let result = match code {
            3 => {
                pos = eod;
                Ok((0, 0))
            }
            0 | 1 => {
                let filemarks = code == 1;
                let mut remaining = i64::from(count.unsigned_abs());
                let forward = count >= 0;
                let mut outcome = Ok((0, 0));
                while remaining > 0 {
                    if forward {
                        let Some(o) = objects.get(pos) else {
                            outcome = Err(Sense::new(SenseKey::BlankCheck, 0, 5).with_information(remaining));
                            break;
                        };
                        pos += 1;
                        match (o, filemarks) {
                            (TapeObject::Filemark, true) | (TapeObject::Block { .. }, false) => remaining -= 1,
                            (TapeObject::Filemark, false) => {
                                outcome = Err(Sense::new(SenseKey::NoSense, 0, 1).with_filemark().with_information(remaining));
                                break;
                            }
                            (TapeObject::Block { .. }, true) => {}
                        }
                    } else {
                        if pos == 0 {
                            outcome = Err(Sense::new(SenseKey::NoSense, 0, 4).with_eom().with_information(remaining));
                            break;
                        }
                        let o = objects[pos - 1];
                        match (o, filemarks) {
                            (TapeObject::Filemark, true) | (TapeObject::Block { .. }, false) => {
                                pos -= 1;
                                remaining -= 1;
                            }
                            (TapeObject::Filemark, false) => {
                                outcome = Err(Sense::new(SenseKey::NoSense, 0, 1).with_filemark().with_information(remaining));
                                break;
                            }
                            (TapeObject::Block { .. }, true) => pos -= 1,
                        }
                    }
                }
                outcome
            }
            _ => Err(illegal(1)),
        };
        self.pos = pos;
        result
    }

    fn locate(&mut self, target: u64) -> Reply {
        self.drain();
        let eod = self.medium()?.objects().len() as u64;
        if target > eod {
            self.pos = eod as usize;
            return Err(Sense::new(SenseKey::BlankCheck, 0, 5));
        }
        self.pos = target as usize;
        Ok((0, 0))
    }

    fn read_position(&mut self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        let pos = self.pos;
        let c = self.cartridge.as_ref().filter(|_| self.threaded).ok_or(Sense::new(SenseKey::NotReady, 0x3a, 0))?;
        let reply = PositionReply {
            beginning_of_partition: pos == 0,
            end_of_partition: false,
            early_warning: c.used_before(pos) >= self.early_warning_point(c),
            partition: 0,
            object: pos as u64,
            file: Some(c.file_number(pos)),
        };
        match cdb[1] & 0x1f {
            0x00 | 0x01 => out(data, &reply.encode_short()),
            0x06 => out(data, &reply.encode_long()),
            _ => Err(illegal(1)),
        }
    }
}

/// Copy a reply into the data-in buffer: (transferred, residual).
fn out(data: DataTransfer<'_>, reply: &[u8]) -> Reply {
    match data {
        DataTransfer::FromDevice(buf) => {
            let n = buf.len().min(reply.len());
            buf[..n].copy_from_slice(&reply[..n]);
            Ok((n, buf.len() - n))
        }
        _ => Ok((0, 0)),
    }
}

impl ScsiTransport for SimTapeDrive {
    fn execute(&mut self, cdb: &[u8], data: DataTransfer<'_>, _timeout: Duration) -> Result<CommandOutcome, TransportError> {
        if !matches!(cdb.len(), 6 | 10 | 12 | 16) {
            return Err(TransportError::BadCdb(cdb.len()));
        }
        let len = data.len();
        if asto_drivers::scsi::cdb_length(cdb[0]).is_none_or(|n| cdb.len() < n) {
            // Shorter than its operation code's group (or a vendor group): refuse, never index past it.
            let sense = Sense::new(SenseKey::IllegalRequest, 0x20, 0);
            return Ok(CommandOutcome::check(sense.to_fixed_bytes(), len));
        }
        let mut s = self.lock();
        match s.execute(cdb, data) {
            Ok((_, residual)) => Ok(CommandOutcome::good_with_residual(residual)),
            Err(sense) => {
                tracing::trace!(device = %self.name, opcode = cdb[0], %sense, "check condition");
                // For READ/WRITE the INFORMATION field is the residual (negative: an
                // overlength block, whose buffer was filled); without it nothing moved.
                let residual = match (cdb[0], sense.information) {
                    (cdb::READ_6 | cdb::WRITE_6, Some(i)) => usize::try_from(i.max(0)).unwrap_or(len).min(len),
                    _ => len,
                };
                Ok(CommandOutcome::check(sense.to_fixed_bytes(), residual))
            }
        }
    }

    fn device_name(&self) -> String {
        format!("sim:{}", self.name)
    }
}
