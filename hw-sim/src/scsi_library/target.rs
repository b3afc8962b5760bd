//! The simulated SMC target: element address assignment page, READ ELEMENT STATUS per element
//! type with volume tags and drive identifiers, MOVE MEDIUM with the sense real libraries return
//! (05/3B/0E source empty, 05/3B/0D destination full, 05/21/01 invalid address, 05/3A/00 tape
//! still threaded in the drive), INITIALIZE ELEMENT STATUS, and injected faults.
//!
//! Moving a cartridge into a drive opens its file-backed cartridge and inserts it into the
//! simulated tape drive, so the SSC driver sees the medium change (UNIT ATTENTION 28/00).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use asto_drivers::changer::ElementKind;
use asto_drivers::scsi::inquiry::{self, Inquiry, PDT_CHANGER};
use asto_drivers::scsi::{CommandOutcome, DataTransfer, ScsiTransport, Sense, SenseKey, TransportError};
use asto_drivers::smc::cdb;
use asto_drivers::smc::element_address::ElementAddressAssignment;
use asto_drivers::smc::element_status::{self, ElementDescriptor};

use super::faults::LibraryFaults;
use super::bay::Bay;
use crate::scsi_tape::{Cartridge, CartridgeMeta};

/// Where each element type starts (the default is mhvtl's STK L80 personality: picker 1,
/// import/export from 10, drives from 500, storage from 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LibraryLayout {
    pub transport: u16,
    pub first_import_export: u16,
    pub first_drive: u16,
    pub first_storage: u16,
}

impl Default for LibraryLayout {
    fn default() -> Self {
        LibraryLayout { transport: 1, first_import_export: 10, first_drive: 500, first_storage: 1000 }
    }
}

/// What a library is made of. `media_dir` holds one cartridge directory per barcode; a barcode
/// without one gets a blank cartridge like `new_cartridge` on first load.
#[derive(Debug, Clone)]
pub struct LibrarySpec {
    pub serial: String,
    pub layout: LibraryLayout,
    pub media_dir: PathBuf,
    pub new_cartridge: CartridgeMeta,
    /// Barcodes in the storage slots (`None` = empty).
    pub slots: Vec<Option<String>>,
    /// Barcodes in the import/export slots.
    pub import_export: Vec<Option<String>>,
}

/// Who holds which cartridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibrarySnapshot {
    pub slots: Vec<Option<String>>,
    pub import_export: Vec<Option<String>>,
    pub drives: Vec<Option<String>>,
    /// Storage element each drive's cartridge came from.
    pub drive_sources: Vec<Option<u16>>,
}

/// A cartridge sitting in a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotVolume {
    pub barcode: String,
    /// Storage element it was last taken from (SValid).
    pub source: Option<u16>,
}

#[derive(Debug)]
struct State {
    layout: LibraryLayout,
    serial: String,
    media_dir: PathBuf,
    new_cartridge: CartridgeMeta,
    slots: Vec<Option<SlotVolume>>,
    import_export: Vec<Option<SlotVolume>>,
    drives: Vec<Bay>,
    drive_sources: Vec<Option<u16>>,
    unit_attentions: VecDeque<(u8, u8)>,
    faults: LibraryFaults,
    not_ready_for: u32,
}

/// A simulated SCSI media changer (clones share the library).
#[derive(Debug, Clone)]
pub struct SimLibrary {
    name: String,
    state: Arc<Mutex<State>>,
}

/// Where an element address points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Storage(usize),
    ImportExport(usize),
    Drive(usize),
}

type Reply = Result<usize, Sense>;

fn illegal(field: u16) -> Sense {
    Sense::new(SenseKey::IllegalRequest, 0x24, 0).with_cdb_field(field)
}

impl SimLibrary {
    /// A library built from `spec` around `drives`.
    pub fn new(name: &str, spec: LibrarySpec, drives: Vec<Bay>) -> SimLibrary {
        let vol = |b: Option<String>| b.map(|barcode| SlotVolume { barcode, source: None });
        let n = drives.len();
        let state = State {
            layout: spec.layout,
            serial: spec.serial,
            media_dir: spec.media_dir,
            new_cartridge: spec.new_cartridge,
            slots: spec.slots.into_iter().map(vol).collect(),
            import_export: spec.import_export.into_iter().map(vol).collect(),
            drives,
            drive_sources: vec![None; n],
            unit_attentions: VecDeque::new(),
            faults: LibraryFaults::default(),
            not_ready_for: 0,
        };
        SimLibrary { name: name.to_string(), state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arm faults.
    pub fn set_faults(&self, faults: LibraryFaults) {
        self.lock().faults = faults;
    }

    /// Simulate a power-on reset (UNIT ATTENTION 29/00 on the next command).
    pub fn power_on_reset(&self) {
        self.lock().unit_attentions.push_back((0x29, 0));
    }

    /// An operator put a cartridge into import/export slot `n` (from 0) — UNIT ATTENTION 28/01.
    pub fn operator_import(&self, n: usize, barcode: &str) -> bool {
        let mut s = self.lock();
        match s.import_export.get_mut(n) {
            Some(slot @ None) => {
                *slot = Some(SlotVolume { barcode: barcode.to_string(), source: None });
                s.unit_attentions.push_back((0x28, 0x01));
                true
            }
            _ => false,
        }
    }

    /// An operator took the volume `barcode` out of an import/export slot.
    pub fn operator_take_out(&self, barcode: &str) -> bool {
        let mut s = self.lock();
        match s.import_export.iter_mut().find(|v| v.as_ref().is_some_and(|v| v.barcode == barcode)) {
            Some(slot) => {
                *slot = None;
                s.unit_attentions.push_back((0x28, 0x01));
                true
            }
            None => false,
        }
    }

    /// Storage, import/export and drive contents (barcodes), and drive sources.
    pub fn snapshot(&self) -> LibrarySnapshot {
        let s = self.lock();
        let names = |v: &[Option<SlotVolume>]| v.iter().map(|o| o.as_ref().map(|x| x.barcode.clone())).collect();
        LibrarySnapshot {
            slots: names(&s.slots),
            import_export: names(&s.import_export),
            drives: s.drives.iter().map(|d| d.contents().map(|(b, _)| b)).collect(),
            drive_sources: s.drive_sources.clone(),
        }
    }

    /// Restore the recorded source of a drive's cartridge (persisted state).
    pub fn restore_drive_source(&self, drive: usize, source: Option<u16>) {
        if let Some(s) = self.lock().drive_sources.get_mut(drive) {
            *s = source;
        }
    }

    /// The drives (or disc bays) of this library.
    pub fn drives(&self) -> Vec<Bay> {
        self.lock().drives.clone()
    }
}

impl State {
    fn addresses(&self) -> ElementAddressAssignment {
        ElementAddressAssignment {
            first_transport: self.layout.transport,
            transports: 1,
            first_storage: self.layout.first_storage,
            storage: self.slots.len() as u16,
            first_import_export: self.layout.first_import_export,
            import_export: self.import_export.len() as u16,
            first_drive: self.layout.first_drive,
            drives: self.drives.len() as u16,
        }
    }

    fn resolve(&self, address: u16) -> Option<Slot> {
        let l = &self.layout;
        let within = |first: u16, n: usize| address >= first && usize::from(address - first) < n;
        if within(l.first_storage, self.slots.len()) {
            Some(Slot::Storage(usize::from(address - l.first_storage)))
        } else if within(l.first_import_export, self.import_export.len()) {
            Some(Slot::ImportExport(usize::from(address - l.first_import_export)))
        } else if within(l.first_drive, self.drives.len()) {
            Some(Slot::Drive(usize::from(address - l.first_drive)))
        } else {
            None
        }
    }

    fn descriptors(&self, kind: ElementKind) -> Vec<ElementDescriptor> {
        let slot = |kind, first: u16, v: &[Option<SlotVolume>]| -> Vec<ElementDescriptor> {
            v.iter()
                .enumerate()
                .map(|(i, o)| ElementDescriptor {
                    kind,
                    address: first + i as u16,
                    full: o.is_some(),
                    except: false,
                    access: true,
                    asc: 0,
                    ascq: 0,
                    source: o.as_ref().and_then(|v| v.source),
                    primary_tag: o.as_ref().map(|v| v.barcode.clone()),
                    identifier: None,
                })
                .collect()
        };
        match kind {
            ElementKind::Transport => vec![ElementDescriptor {
                kind,
                address: self.layout.transport,
                full: false,
                except: false,
                access: false,
                asc: 0,
                ascq: 0,
                source: None,
                primary_tag: None,
                identifier: None,
            }],
            ElementKind::Storage => slot(kind, self.layout.first_storage, &self.slots),
            ElementKind::ImportExport => slot(kind, self.layout.first_import_export, &self.import_export),
            ElementKind::Drive => self
                .drives
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let contents = d.contents();
                    ElementDescriptor {
                        kind,
                        address: self.layout.first_drive + i as u16,
                        full: contents.is_some(),
                        except: false,
                        // A loaded (threaded) drive is not accessible to the picker.
                        access: !contents.as_ref().is_some_and(|(_, threaded)| *threaded),
                        asc: 0,
                        ascq: 0,
                        source: self.drive_sources[i],
                        primary_tag: contents.map(|(b, _)| b),
                        identifier: Some(d.serial()),
                    }
                })
                .collect(),
        }
    }

    fn execute(&mut self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        let op = cdb[0];
        if op == 0x12 {
            return self.inquiry(cdb, data);
        }
        if op == 0x03 {
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
        if self.not_ready_for > 0 {
            self.not_ready_for -= 1;
            return Err(Sense::new(SenseKey::NotReady, 0x04, 0x01));
        }
        match op {
            0x00 => Ok(0),
            cdb::MODE_SENSE_6 => match cdb[2] & 0x3f {
                0x1d | 0x3f => out(data, &self.addresses().encode_mode_sense()),
                _ => Err(illegal(2)),
            },
            cdb::READ_ELEMENT_STATUS => self.read_element_status(cdb, data),
            cdb::MOVE_MEDIUM => self.move_medium(cdb),
            cdb::INITIALIZE_ELEMENT_STATUS => {
                self.not_ready_for = self.faults.becoming_ready_after_move;
                Ok(0)
            }
            0x1e => Ok(0),
            _ => Err(Sense::new(SenseKey::IllegalRequest, 0x20, 0)),
        }
    }

    fn inquiry(&self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        if cdb[1] & 1 != 0 {
            return match cdb[2] {
                0x00 => out(data, &[PDT_CHANGER, 0, 0, 2, 0x00, 0x80]),
                0x80 => out(data, &inquiry::encode_serial_page(PDT_CHANGER, &self.serial)),
                _ => Err(illegal(2)),
            };
        }
        let inq = Inquiry { peripheral_type: PDT_CHANGER, removable: true, vendor: "STK".into(), product: "L80".into(), revision: "0105".into() };
        out(data, &inq.encode())
    }

    fn read_element_status(&self, cdb: &[u8], data: DataTransfer<'_>) -> Reply {
        let voltag = cdb[1] & 0x10 != 0;
        let type_code = cdb[1] & 0x0f;
        let start = u16::from_be_bytes([cdb[2], cdb[3]]);
        let count = usize::from(u16::from_be_bytes([cdb[4], cdb[5]]));
        let dvcid = cdb[6] & 0x01 != 0;
        let alloc = u32::from_be_bytes([0, cdb[7], cdb[8], cdb[9]]) as usize;
        let kinds: &[ElementKind] = match type_code {
            0 => &[ElementKind::Transport, ElementKind::Storage, ElementKind::ImportExport, ElementKind::Drive],
            1 => &[ElementKind::Transport],
            2 => &[ElementKind::Storage],
            3 => &[ElementKind::ImportExport],
            4 => &[ElementKind::Drive],
            _ => return Err(illegal(1)),
        };
        if dvcid && type_code != 4 {
            // Real libraries reject DVCID on non-drive elements.
            return Err(illegal(6));
        }
        let mut reply: Vec<u8> = Vec::new();
        let mut total_elements = 0usize;
        let mut first_addr = None;
        for kind in kinds {
            let mut descs: Vec<_> = self.descriptors(*kind).into_iter().filter(|d| d.address >= start).collect();
            descs.sort_by_key(|d| d.address);
            descs.truncate(count.saturating_sub(total_elements));
            if descs.is_empty() {
                continue;
            }
            first_addr.get_or_insert(descs[0].address);
            total_elements += descs.len();
            let page = element_status::encode(*kind, &descs, voltag, dvcid);
            reply.extend_from_slice(&page[8..]);
        }
        if total_elements == 0 && type_code != 0 {
            return Err(Sense::new(SenseKey::IllegalRequest, 0x21, 0x01));
        }
        let mut out_bytes = Vec::with_capacity(8 + reply.len());
        out_bytes.extend(first_addr.unwrap_or(start).to_be_bytes());
        out_bytes.extend((total_elements as u16).to_be_bytes());
        out_bytes.push(0);
        out_bytes.extend(&(reply.len() as u32).to_be_bytes()[1..]);
        out_bytes.extend(reply);
        out_bytes.truncate(alloc);
        out(data, &out_bytes)
    }

    fn take(&mut self, from: Slot) -> Result<SlotVolume, Sense> {
        match from {
            Slot::Storage(i) => self.slots[i].take().ok_or(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0e)),
            Slot::ImportExport(i) => self.import_export[i].take().ok_or(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0e)),
            Slot::Drive(i) => {
                let barcode = match &self.drives[i] {
                    Bay::Tape(drive) => match drive.contents() {
                        None => return Err(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0e)),
                        Some((_, true)) => return Err(Sense::new(SenseKey::IllegalRequest, 0x3a, 0x00)),
                        Some((barcode, false)) => {
                            drive.take().map_err(|_| Sense::new(SenseKey::HardwareError, 0x53, 0x01))?;
                            barcode
                        }
                    },
                    Bay::Disc(bay) => bay.take().ok_or(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0e))?,
                };
                let source = self.drive_sources[i].take();
                Ok(SlotVolume { barcode, source })
            }
        }
    }

    fn occupied(&self, at: Slot) -> bool {
        match at {
            Slot::Storage(i) => self.slots[i].is_some(),
            Slot::ImportExport(i) => self.import_export[i].is_some(),
            Slot::Drive(i) => self.drives[i].contents().is_some(),
        }
    }

    fn open_cartridge(&self, barcode: &str) -> Result<Cartridge, Sense> {
        let dir = self.media_dir.join(barcode);
        let r = if dir.join("meta.json").exists() {
            Cartridge::open(&dir)
        } else {
            Cartridge::create(&dir, CartridgeMeta { barcode: barcode.to_string(), ..self.new_cartridge.clone() })
        };
        r.map_err(|e| {
            tracing::error!(volume = barcode, error = %e, "cannot open simulated cartridge");
            Sense::new(SenseKey::HardwareError, 0x53, 0x00)
        })
    }

    fn move_medium(&mut self, cdb: &[u8]) -> Reply {
        let source = u16::from_be_bytes([cdb[4], cdb[5]]);
        let destination = u16::from_be_bytes([cdb[6], cdb[7]]);
        let (Some(from), Some(to)) = (self.resolve(source), self.resolve(destination)) else {
            return Err(Sense::new(SenseKey::IllegalRequest, 0x21, 0x01));
        };
        if self.faults.import_export_open && (matches!(from, Slot::ImportExport(_)) || matches!(to, Slot::ImportExport(_))) {
            return Err(Sense::new(SenseKey::NotReady, 0x3a, 0x02));
        }
        if self.faults.move_failure {
            return Err(Sense::new(SenseKey::HardwareError, 0x53, 0x00));
        }
        if from == to {
            return if self.occupied(from) { Ok(0) } else { Err(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0e)) };
        }
        if !self.occupied(from) {
            return Err(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0e));
        }
        if self.occupied(to) {
            return Err(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0d));
        }
        // Open the cartridge before taking it out, so a failure leaves everything in place.
        let cartridge = match to {
            Slot::Drive(i) if matches!(self.drives[i], Bay::Tape(_)) => {
                let barcode = match from {
                    Slot::Storage(i) => self.slots[i].as_ref().map(|v| v.barcode.clone()),
                    Slot::ImportExport(i) => self.import_export[i].as_ref().map(|v| v.barcode.clone()),
                    Slot::Drive(i) => self.drives[i].contents().map(|(b, _)| b),
                };
                let barcode = barcode.ok_or(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0e))?;
                if matches!(from, Slot::Drive(_)) {
                    None
                } else {
                    Some(self.open_cartridge(&barcode)?)
                }
            }
            _ => None,
        };
        let mut volume = self.take(from)?;
        if matches!(from, Slot::Storage(_)) {
            volume.source = Some(source);
        }
        match to {
            Slot::Storage(i) => self.slots[i] = Some(SlotVolume { source: None, ..volume }),
            Slot::ImportExport(i) => self.import_export[i] = Some(volume),
            Slot::Drive(i) => {
                match &self.drives[i] {
                    Bay::Tape(drive) => {
                        let cartridge = match cartridge {
                            Some(c) => c,
                            None => self.open_cartridge(&volume.barcode)?,
                        };
                        drive.insert(cartridge).map_err(|_| Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0d))?;
                    }
                    Bay::Disc(bay) => {
                        if !bay.insert(&volume.barcode) {
                            return Err(Sense::new(SenseKey::IllegalRequest, 0x3b, 0x0d));
                        }
                    }
                }
                self.drive_sources[i] = volume.source;
            }
        }
        tracing::info!(source, destination, "simulated library moved a cartridge");
        self.not_ready_for = self.faults.becoming_ready_after_move;
        Ok(0)
    }
}

fn out(data: DataTransfer<'_>, reply: &[u8]) -> Reply {
    match data {
        DataTransfer::FromDevice(buf) => {
            let n = buf.len().min(reply.len());
            buf[..n].copy_from_slice(&reply[..n]);
            Ok(n)
        }
        _ => Ok(0),
    }
}

impl ScsiTransport for SimLibrary {
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
            Ok(n) => Ok(CommandOutcome::good_with_residual(len - n.min(len))),
            Err(sense) => {
                tracing::trace!(device = %self.name, opcode = cdb[0], %sense, "check condition");
                Ok(CommandOutcome::check(sense.to_fixed_bytes(), len))
            }
        }
    }

    fn device_name(&self) -> String {
        format!("sim:{}", self.name)
    }
}
