//! [`SmcChanger`]: a media changer driven with SMC commands through any [`ScsiTransport`].
//!
//! Real-library quirks handled here (from code that drives real hardware): unit attentions after
//! door or mail-slot activity are drained before the first MODE SENSE; each element type is
//! queried on its own (VOLTAG and DVCID together, or DVCID on non-drive elements, is rejected by
//! some libraries), DVCID in a separate, optional drive query; at most 0xFFFF bytes and 1000
//! elements per READ ELEMENT STATUS, continuing after the last address returned; descriptors
//! stepped by the returned length; tags trimmed; "becoming ready" after a move retried.

use std::time::Duration;

use super::cdb;
use super::element_address::ElementAddressAssignment;
use super::element_status::{self, ElementDescriptor};
use crate::changer::{ChangerError, ChangerStatus, Element, ElementKind, MediaChanger};
use crate::scsi::inquiry::{self, Inquiry};
use crate::scsi::retry::RetryPolicy;
use crate::scsi::{DataTransfer, ScsiError, ScsiTransport, SenseKey, execute_with_retry};

const SHORT: Duration = Duration::from_secs(60);
const MOVE: Duration = Duration::from_secs(15 * 60);
const INVENTORY: Duration = Duration::from_secs(60 * 60);
const MAX_ELEMENTS_PER_QUERY: u16 = 1000;

/// An SMC media changer.
pub struct SmcChanger<T: ScsiTransport> {
    transport: T,
    policy: RetryPolicy,
}

fn changer_error(e: ScsiError, what: &str) -> ChangerError {
    let Some(s) = e.sense() else {
        return match e {
            ScsiError::Transport(crate::scsi::TransportError::Io(io)) => ChangerError::Io(io),
            other => ChangerError::Device(other.to_string()),
        };
    };
    match (s.key, s.asc, s.ascq) {
        (_, 0x3b, 0x0e) => ChangerError::SourceEmpty(what.to_string()),
        (_, 0x3b, 0x0d) => ChangerError::DestinationFull(what.to_string()),
        (_, 0x21, 0x01) => ChangerError::NoSuchElement(what.to_string()),
        (SenseKey::IllegalRequest, 0x3a, 0x00) => ChangerError::DriveNotUnloaded(what.to_string()),
        (_, 0x3a, 0x02) | (SenseKey::UnitAttention, 0x28, 0x01) => ChangerError::DoorOpen(s.to_string()),
        (SenseKey::NotReady, _, _) => ChangerError::NotReady(s.to_string()),
        (SenseKey::HardwareError | SenseKey::MediumError, _, _) => ChangerError::Hardware(s.to_string()),
        _ => ChangerError::Device(format!("{what}: {s}")),
    }
}

impl<T: ScsiTransport> SmcChanger<T> {
    /// A changer on `transport` with the default retry policy.
    pub fn new(transport: T) -> Self {
        Self::with_policy(transport, RetryPolicy::default())
    }

    /// A changer with an explicit retry policy.
    pub fn with_policy(transport: T, policy: RetryPolicy) -> Self {
        SmcChanger { transport, policy }
    }

    fn run(&mut self, cdb: &[u8], data: DataTransfer<'_>, timeout: Duration) -> Result<usize, ScsiError> {
        let device = self.transport.device_name();
        execute_with_retry(&mut self.transport, &self.policy, cdb, data, timeout, &mut |s| {
            tracing::info!(device = %device, asc = s.asc, ascq = s.ascq, "changer unit attention");
        })
    }

    /// Standard INQUIRY data.
    pub fn inquiry(&mut self) -> Result<Inquiry, ChangerError> {
        inquiry::inquiry(&mut self.transport, &self.policy).map_err(|e| changer_error(e, "INQUIRY"))
    }

    /// The element address assignment page (drains unit attentions first via TEST UNIT READY).
    pub fn element_addresses(&mut self) -> Result<ElementAddressAssignment, ChangerError> {
        self.run(&[0u8; 6], DataTransfer::None, SHORT).map_err(|e| changer_error(e, "TEST UNIT READY"))?;
        let mut buf = [0u8; 255];
        let n = self.run(&cdb::mode_sense_element_address(), DataTransfer::FromDevice(&mut buf), SHORT)
            .map_err(|e| changer_error(e, "MODE SENSE page 0x1D"))?;
        ElementAddressAssignment::decode_mode_sense(&buf[..n])
            .ok_or_else(|| ChangerError::Device(format!("malformed element address assignment page ({n} bytes)")))
    }

    /// READ ELEMENT STATUS of `count` elements of one type from `first`, in as many queries as needed.
    pub fn read_elements(&mut self, type_code: u8, first: u16, count: u16, voltag: bool, dvcid: bool) -> Result<Vec<ElementDescriptor>, ChangerError> {
        let mut out: Vec<ElementDescriptor> = Vec::new();
        let end = u32::from(first) + u32::from(count);
        let mut next = first;
        while u32::from(next) < end && out.len() < usize::from(count) {
            let want = (end - u32::from(next)).min(u32::from(MAX_ELEMENTS_PER_QUERY)) as u16;
            let mut buf = vec![0u8; cdb::MAX_ALLOCATION as usize];
            let c = cdb::read_element_status(type_code, voltag, next, want, dvcid, cdb::MAX_ALLOCATION);
            let n = self.run(&c, DataTransfer::FromDevice(&mut buf), SHORT).map_err(|e| changer_error(e, "READ ELEMENT STATUS"))?;
            let got = element_status::decode(&buf[..n]).map_err(|e| ChangerError::Device(e.to_string()))?;
            let Some(last) = got.iter().map(|d| d.address).max() else { break };
            out.extend(got);
            if last == u16::MAX {
                break;
            }
            next = last + 1;
        }
        Ok(out)
    }

    fn to_elements(kind: ElementKind, descs: Vec<ElementDescriptor>, first_number: u16) -> Vec<Element> {
        let mut descs = descs;
        descs.sort_by_key(|d| d.address);
        descs.dedup_by_key(|d| d.address);
        descs
            .into_iter()
            .enumerate()
            .map(|(i, d)| Element {
                kind,
                address: d.address,
                number: first_number + i as u16,
                full: d.full,
                volume_tag: if d.full { d.primary_tag } else { None },
                source: d.source,
                exception: d.except.then_some((d.asc, d.ascq)),
                identifier: d.identifier,
            })
            .collect()
    }

    fn move_medium(&mut self, source: &Element, destination: &Element) -> Result<(), ChangerError> {
        let what = format!("{} → {}", describe(source), describe(destination));
        tracing::info!(device = %self.transport.device_name(), source = source.address, destination = destination.address, volume = ?source.volume_tag, "MOVE MEDIUM");
        let c = cdb::move_medium(0, source.address, destination.address);
        match self.run(&c, DataTransfer::None, MOVE) {
            Ok(_) => Ok(()),
            Err(e) => Err(match changer_error(e, &what) {
                ChangerError::SourceEmpty(_) => ChangerError::SourceEmpty(describe(source)),
                ChangerError::DestinationFull(_) => ChangerError::DestinationFull(describe(destination)),
                ChangerError::DriveNotUnloaded(_) => ChangerError::DriveNotUnloaded(describe(source)),
                other => other,
            }),
        }
    }
}

fn describe(e: &Element) -> String {
    match e.kind {
        ElementKind::Drive => format!("drive {} (address {})", e.number, e.address),
        ElementKind::Storage => format!("slot {} (address {})", e.number, e.address),
        ElementKind::ImportExport => format!("import/export slot {} (address {})", e.number, e.address),
        ElementKind::Transport => format!("transport (address {})", e.address),
    }
}

impl<T: ScsiTransport> MediaChanger for SmcChanger<T> {
    fn status(&mut self) -> Result<ChangerStatus, ChangerError> {
        let map = self.element_addresses()?;
        let transports = self.read_elements(cdb::TYPE_TRANSPORT, map.first_transport, map.transports, false, false)?;
        let storage = self.read_elements(cdb::TYPE_STORAGE, map.first_storage, map.storage, true, false)?;
        let ie = self.read_elements(cdb::TYPE_IMPORT_EXPORT, map.first_import_export, map.import_export, true, false)?;
        let mut drives = self.read_elements(cdb::TYPE_DRIVE, map.first_drive, map.drives, true, false)?;
        // Drive serials: optional, in their own query.
        match self.read_elements(cdb::TYPE_DRIVE, map.first_drive, map.drives, false, true) {
            Ok(ids) => {
                for d in &mut drives {
                    d.identifier = ids.iter().find(|i| i.address == d.address).and_then(|i| i.identifier.clone());
                }
            }
            Err(e) => tracing::debug!(error = %e, "changer does not report drive identifiers"),
        }
        let n_storage = storage.len() as u16;
        let mut slots = Self::to_elements(ElementKind::Storage, storage, 1);
        slots.extend(Self::to_elements(ElementKind::ImportExport, ie, n_storage + 1));
        Ok(ChangerStatus {
            transports: Self::to_elements(ElementKind::Transport, transports, 0),
            drives: Self::to_elements(ElementKind::Drive, drives, 0),
            slots,
        })
    }

    fn load(&mut self, slot: u16, drive: u16) -> Result<(), ChangerError> {
        let st = self.status()?;
        let src = st.slot(slot).cloned().ok_or_else(|| ChangerError::NoSuchElement(format!("slot {slot}")))?;
        let dst = st.drive(drive).cloned().ok_or_else(|| ChangerError::NoSuchElement(format!("drive {drive}")))?;
        self.move_medium(&src, &dst)
    }

    fn unload(&mut self, drive: u16, slot: u16) -> Result<(), ChangerError> {
        let st = self.status()?;
        let src = st.drive(drive).cloned().ok_or_else(|| ChangerError::NoSuchElement(format!("drive {drive}")))?;
        let dst = st.slot(slot).cloned().ok_or_else(|| ChangerError::NoSuchElement(format!("slot {slot}")))?;
        self.move_medium(&src, &dst)
    }

    fn transfer(&mut self, from: u16, to: u16) -> Result<(), ChangerError> {
        let st = self.status()?;
        let src = st.slot(from).cloned().ok_or_else(|| ChangerError::NoSuchElement(format!("slot {from}")))?;
        let dst = st.slot(to).cloned().ok_or_else(|| ChangerError::NoSuchElement(format!("slot {to}")))?;
        self.move_medium(&src, &dst)
    }

    fn inventory(&mut self) -> Result<(), ChangerError> {
        self.run(&cdb::initialize_element_status(), DataTransfer::None, INVENTORY)
            .map(|_| ())
            .map_err(|e| changer_error(e, "INITIALIZE ELEMENT STATUS"))
    }
}
