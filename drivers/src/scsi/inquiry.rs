//! INQUIRY: standard data (peripheral type, vendor, product, revision) and the unit serial
//! number VPD page (0x80), so devices are recognised by serial whatever their node is called.

use std::time::Duration;

use super::command::{ScsiError, execute_with_retry};
use super::retry::RetryPolicy;
use super::transport::{DataTransfer, ScsiTransport};
use crate::DeviceIdentity;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Peripheral device type: sequential-access (tape).
pub const PDT_TAPE: u8 = 0x01;
/// Peripheral device type: medium changer.
pub const PDT_CHANGER: u8 = 0x08;
/// Peripheral device type: CD/DVD (MMC).
pub const PDT_OPTICAL: u8 = 0x05;

/// Decoded standard INQUIRY data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inquiry {
    pub peripheral_type: u8,
    pub removable: bool,
    pub vendor: String,
    pub product: String,
    pub revision: String,
}

/// Why INQUIRY data could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("INQUIRY data too short: {0} bytes, at least 36 needed")]
pub struct ShortInquiry(pub usize);

fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_matches(|c: char| c == ' ' || c == '\0').to_string()
}

impl Inquiry {
    /// Decode standard INQUIRY data.
    pub fn decode(b: &[u8]) -> Result<Inquiry, ShortInquiry> {
        if b.len() < 36 {
            return Err(ShortInquiry(b.len()));
        }
        Ok(Inquiry {
            peripheral_type: b[0] & 0x1f,
            removable: b[1] & 0x80 != 0,
            vendor: ascii(&b[8..16]),
            product: ascii(&b[16..32]),
            revision: ascii(&b[32..36]),
        })
    }

    /// Encode as 36 bytes of standard INQUIRY data (for simulated targets).
    pub fn encode(&self) -> Vec<u8> {
        fn field(s: &str, n: usize) -> Vec<u8> {
            let mut v: Vec<u8> = s.bytes().take(n).collect();
            v.resize(n, b' ');
            v
        }
        let mut b = vec![0u8; 36];
        b[0] = self.peripheral_type & 0x1f;
        b[1] = if self.removable { 0x80 } else { 0 };
        b[2] = 0x06; // SPC-4
        b[3] = 0x02; // response data format
        b[4] = 31; // additional length
        if self.peripheral_type == PDT_CHANGER {
            b[6] |= 0x08;
        }
        b[8..16].copy_from_slice(&field(&self.vendor, 8));
        b[16..32].copy_from_slice(&field(&self.product, 16));
        b[32..36].copy_from_slice(&field(&self.revision, 4));
        b
    }
}

/// Decode the unit serial number VPD page (0x80).
pub fn decode_serial_page(b: &[u8]) -> Option<String> {
    if b.len() < 4 || b[1] != 0x80 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    let end = (4 + len).min(b.len());
    Some(ascii(&b[4..end]))
}

/// Encode the unit serial number VPD page (0x80).
pub fn encode_serial_page(peripheral_type: u8, serial: &str) -> Vec<u8> {
    let mut b = vec![peripheral_type & 0x1f, 0x80, 0, serial.len().min(255) as u8];
    b.extend(serial.bytes().take(255));
    b
}

/// Send standard INQUIRY.
pub fn inquiry(t: &mut dyn ScsiTransport, policy: &RetryPolicy) -> Result<Inquiry, ScsiError> {
    let mut buf = [0u8; 96];
    let cdb = [0x12, 0, 0, 0, buf.len() as u8, 0];
    let n = execute_with_retry(t, policy, &cdb, DataTransfer::FromDevice(&mut buf), TIMEOUT, &mut |_| {})?;
    Inquiry::decode(&buf[..n]).map_err(|e| ScsiError::BadData { device: t.device_name(), what: "INQUIRY", detail: e.to_string() })
}

/// Read the unit serial number (VPD 0x80); empty when the device has none.
pub fn serial_number(t: &mut dyn ScsiTransport, policy: &RetryPolicy) -> Result<String, ScsiError> {
    let mut buf = [0u8; 255];
    let cdb = [0x12, 0x01, 0x80, 0, buf.len() as u8, 0];
    match execute_with_retry(t, policy, &cdb, DataTransfer::FromDevice(&mut buf), TIMEOUT, &mut |_| {}) {
        Ok(n) => Ok(decode_serial_page(&buf[..n]).unwrap_or_default()),
        Err(e) if e.sense().is_some_and(|s| s.key == super::SenseKey::IllegalRequest) => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// INQUIRY + serial as a [`DeviceIdentity`].
pub fn identity(t: &mut dyn ScsiTransport, policy: &RetryPolicy) -> Result<(Inquiry, DeviceIdentity), ScsiError> {
    let inq = inquiry(t, policy)?;
    let serial = serial_number(t, policy)?;
    let id = DeviceIdentity { vendor: inq.vendor.clone(), product: inq.product.clone(), revision: inq.revision.clone(), serial };
    Ok((inq, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inquiry_round_trip_and_trimming() {
        let inq = Inquiry { peripheral_type: PDT_TAPE, removable: true, vendor: "IBM".into(), product: "ULT3580-TD9".into(), revision: "Q3F0".into() };
        let b = inq.encode();
        assert_eq!(&b[8..16], b"IBM     ");
        assert_eq!(Inquiry::decode(&b).unwrap(), inq);
        assert!(Inquiry::decode(&b[..20]).is_err());
    }

    #[test]
    fn serial_page() {
        assert_eq!(decode_serial_page(&encode_serial_page(1, "10WT012345")), Some("10WT012345".into()));
        assert_eq!(decode_serial_page(&[1, 0x83, 0, 0]), None);
        // Length claims more than arrived: take what arrived.
        assert_eq!(decode_serial_page(&[1, 0x80, 0, 20, b'A', b'B', b' ']), Some("AB".into()));
    }
}
