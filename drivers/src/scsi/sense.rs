//! Sense data (SPC): decode fixed (0x70/0x71) and descriptor (0x72/0x73) formats into one shape,
//! and build fixed-format sense for targets that report conditions (the simulator).
//!
//! Tape drivers live on three bits of sense data — FILEMARK, EOM and ILI — plus the INFORMATION
//! field (the residual), so those are decoded from both formats (descriptor format carries them
//! in the stream commands descriptor, type 0x04).

use std::fmt;

use super::asc;

/// Sense key (byte 2 bits 3:0 in fixed format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SenseKey {
    NoSense,
    RecoveredError,
    NotReady,
    MediumError,
    HardwareError,
    IllegalRequest,
    UnitAttention,
    DataProtect,
    BlankCheck,
    VendorSpecific,
    CopyAborted,
    AbortedCommand,
    Reserved,
    VolumeOverflow,
    Miscompare,
    Completed,
}

impl SenseKey {
    /// Decode the low nibble of a byte.
    pub fn from_nibble(n: u8) -> Self {
        use SenseKey::*;
        [
            NoSense, RecoveredError, NotReady, MediumError, HardwareError, IllegalRequest, UnitAttention,
            DataProtect, BlankCheck, VendorSpecific, CopyAborted, AbortedCommand, Reserved, VolumeOverflow,
            Miscompare, Completed,
        ][usize::from(n & 0x0f)]
    }

    /// The 4-bit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Name as SPC (and sg3_utils) print it.
    pub fn text(self) -> &'static str {
        asc::sense_key_text(self.code())
    }
}

/// Which format the sense data came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SenseFormat {
    Fixed,
    Descriptor,
}

/// Decoded sense data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sense {
    pub format: SenseFormat,
    /// A deferred error (0x71/0x73): reports an earlier command, typically a buffered write.
    pub deferred: bool,
    pub key: SenseKey,
    pub asc: u8,
    pub ascq: u8,
    pub filemark: bool,
    pub eom: bool,
    pub ili: bool,
    /// The INFORMATION field when valid (tape: residual in bytes or blocks; signed).
    pub information: Option<i64>,
    /// Command-specific information, when non-zero.
    pub command_specific: Option<u64>,
    /// Sense-key specific bytes (15–17 fixed) when SKSV is set.
    pub sense_key_specific: Option<[u8; 3]>,
    /// Field replaceable unit code, when non-zero.
    pub fru: Option<u8>,
}

/// Why sense bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenseError {
    #[error("sense data is empty")]
    Empty,
    #[error("sense response code {0:#04x} is neither fixed (0x70/0x71) nor descriptor (0x72/0x73) format")]
    UnknownResponseCode(u8),
    #[error("{format:?} sense data needs at least {needed} bytes, got {got}")]
    TooShort { format: SenseFormat, needed: usize, got: usize },
}

impl Sense {
    /// Decode sense bytes. Extra bytes past the additional length are ignored; bytes missing past
    /// the mandatory ones are tolerated as real devices truncate sense.
    pub fn decode(b: &[u8]) -> Result<Sense, SenseError> {
        let first = *b.first().ok_or(SenseError::Empty)?;
        match first & 0x7f {
            0x70 | 0x71 => Self::decode_fixed(b),
            0x72 | 0x73 => Self::decode_descriptor(b),
            other => Err(SenseError::UnknownResponseCode(other)),
        }
    }

    fn decode_fixed(b: &[u8]) -> Result<Sense, SenseError> {
        if b.len() < 3 {
            return Err(SenseError::TooShort { format: SenseFormat::Fixed, needed: 3, got: b.len() });
        }
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let valid = b[0] & 0x80 != 0;
        let information = (valid && b.len() >= 7)
            .then(|| i64::from(i32::from_be_bytes([b[3], b[4], b[5], b[6]])));
        let cmd_specific = u64::from(u32::from_be_bytes([at(8), at(9), at(10), at(11)]));
        let sksv = at(15) & 0x80 != 0;
        Ok(Sense {
            format: SenseFormat::Fixed,
            deferred: b[0] & 0x7f == 0x71,
            key: SenseKey::from_nibble(b[2]),
            asc: at(12),
            ascq: at(13),
            filemark: b[2] & 0x80 != 0,
            eom: b[2] & 0x40 != 0,
            ili: b[2] & 0x20 != 0,
            information,
            command_specific: (cmd_specific != 0).then_some(cmd_specific),
            sense_key_specific: sksv.then(|| [at(15), at(16), at(17)]),
            fru: (at(14) != 0).then(|| at(14)),
        })
    }

    fn decode_descriptor(b: &[u8]) -> Result<Sense, SenseError> {
        if b.len() < 4 {
            return Err(SenseError::TooShort { format: SenseFormat::Descriptor, needed: 4, got: b.len() });
        }
        let mut s = Sense {
            format: SenseFormat::Descriptor,
            deferred: b[0] & 0x7f == 0x73,
            key: SenseKey::from_nibble(b[1]),
            asc: b[2],
            ascq: b[3],
            filemark: false,
            eom: false,
            ili: false,
            information: None,
            command_specific: None,
            sense_key_specific: None,
            fru: None,
        };
        let additional = usize::from(b.get(7).copied().unwrap_or(0));
        let end = (8 + additional).min(b.len());
        let mut pos = 8;
        while pos + 2 <= end {
            let kind = b[pos];
            let len = usize::from(b[pos + 1]);
            let body = &b[pos + 2..(pos + 2 + len).min(end)];
            match (kind, body.len()) {
                (0x00, 10..) if body[0] & 0x80 != 0 => {
                    let v = u64::from_be_bytes([body[2], body[3], body[4], body[5], body[6], body[7], body[8], body[9]]);
                    s.information = Some(v as i64);
                }
                (0x01, 10..) => {
                    let v = u64::from_be_bytes([body[2], body[3], body[4], body[5], body[6], body[7], body[8], body[9]]);
                    s.command_specific = (v != 0).then_some(v);
                }
                (0x02, 5..) if body[2] & 0x80 != 0 => s.sense_key_specific = Some([body[2], body[3], body[4]]),
                (0x03, 2..) => s.fru = (body[1] != 0).then_some(body[1]),
                (0x04, 2..) => {
                    s.filemark = body[1] & 0x80 != 0;
                    s.eom = body[1] & 0x40 != 0;
                    s.ili = body[1] & 0x20 != 0;
                }
                (0x05, 2..) => s.ili = body[1] & 0x20 != 0,
                _ => {}
            }
            pos += 2 + len;
        }
        Ok(s)
    }

    /// A fixed-format current sense with key and ASC/ASCQ, nothing else set.
    pub fn new(key: SenseKey, asc: u8, ascq: u8) -> Sense {
        Sense {
            format: SenseFormat::Fixed,
            deferred: false,
            key,
            asc,
            ascq,
            filemark: false,
            eom: false,
            ili: false,
            information: None,
            command_specific: None,
            sense_key_specific: None,
            fru: None,
        }
    }

    /// Set the FILEMARK bit.
    pub fn with_filemark(mut self) -> Self {
        self.filemark = true;
        self
    }

    /// Set the EOM bit.
    pub fn with_eom(mut self) -> Self {
        self.eom = true;
        self
    }

    /// Set the ILI bit.
    pub fn with_ili(mut self) -> Self {
        self.ili = true;
        self
    }

    /// Set the INFORMATION field (and VALID).
    pub fn with_information(mut self, info: i64) -> Self {
        self.information = Some(info);
        self
    }

    /// Point at the offending CDB byte (ILLEGAL REQUEST, SKSV + C/D).
    pub fn with_cdb_field(mut self, byte: u16) -> Self {
        let [hi, lo] = byte.to_be_bytes();
        self.sense_key_specific = Some([0xc0, hi, lo]);
        self
    }

    /// Encode as 18 bytes of fixed-format sense.
    pub fn to_fixed_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 18];
        b[0] = if self.deferred { 0x71 } else { 0x70 };
        if let Some(info) = self.information {
            b[0] |= 0x80;
            b[3..7].copy_from_slice(&(info as i32).to_be_bytes());
        }
        b[2] = self.key.code()
            | if self.filemark { 0x80 } else { 0 }
            | if self.eom { 0x40 } else { 0 }
            | if self.ili { 0x20 } else { 0 };
        b[7] = 10;
        if let Some(cs) = self.command_specific {
            b[8..12].copy_from_slice(&(cs as u32).to_be_bytes());
        }
        b[12] = self.asc;
        b[13] = self.ascq;
        b[14] = self.fru.unwrap_or(0);
        if let Some(sks) = self.sense_key_specific {
            b[15..18].copy_from_slice(&sks);
        }
        b
    }

    /// Additional sense text for ASC/ASCQ (SPC names).
    pub fn asc_text(&self) -> String {
        asc::asc_text(self.asc, self.ascq)
    }

    /// Is this `key`/`asc`/`ascq`?
    pub fn is(&self, key: SenseKey, asc: u8, ascq: u8) -> bool {
        self.key == key && self.asc == asc && self.ascq == ascq
    }
}

impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({:02X}/{:02X}/{:02X})", self.key.text(), self.asc_text(), self.key.code(), self.asc, self.ascq)?;
        if self.deferred {
            write!(f, " [deferred]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_filemark_with_residual() {
        // READ hit a filemark with 256 bytes not transferred (VALID, FILEMARK, 00/01).
        let b = [0xf0, 0, 0x80, 0, 0, 1, 0, 10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        let s = Sense::decode(&b).unwrap();
        assert_eq!(s.format, SenseFormat::Fixed);
        assert_eq!(s.key, SenseKey::NoSense);
        assert!(s.filemark && !s.eom && !s.ili);
        assert_eq!(s.information, Some(256));
        assert_eq!((s.asc, s.ascq), (0, 1));
    }

    #[test]
    fn fixed_negative_information_for_long_block() {
        // Block longer than requested: ILI with INFO = requested - actual < 0.
        let s = Sense::new(SenseKey::NoSense, 0, 0).with_ili().with_information(-1024);
        let d = Sense::decode(&s.to_fixed_bytes()).unwrap();
        assert!(d.ili);
        assert_eq!(d.information, Some(-1024));
    }

    #[test]
    fn information_ignored_without_valid_bit() {
        let b = [0x70, 0, 0x00, 0, 0, 1, 0, 10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(Sense::decode(&b).unwrap().information, None);
    }

    #[test]
    fn descriptor_with_information_and_stream_bits() {
        let b = [
            0x72, 0x08, 0x00, 0x05, 0, 0, 0, 0x10, // header: BLANK CHECK, 00/05
            0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, // information = 7
            0x04, 0x02, 0x00, 0xc0, // stream: FILEMARK + EOM
        ];
        let s = Sense::decode(&b).unwrap();
        assert_eq!(s.format, SenseFormat::Descriptor);
        assert_eq!(s.key, SenseKey::BlankCheck);
        assert_eq!(s.information, Some(7));
        assert!(s.filemark && s.eom && !s.ili);
        assert_eq!(s.asc_text(), "End-of-data detected");
    }

    #[test]
    fn deferred_and_unknown_codes() {
        let mut b = Sense::new(SenseKey::MediumError, 0x0c, 0).to_fixed_bytes();
        b[0] = 0x71;
        assert!(Sense::decode(&b).unwrap().deferred);
        assert_eq!(Sense::decode(&[0x7f, 0, 0]), Err(SenseError::UnknownResponseCode(0x7f)));
        assert_eq!(Sense::decode(&[]), Err(SenseError::Empty));
        assert!(matches!(Sense::decode(&[0x70, 0]), Err(SenseError::TooShort { .. })));
    }

    #[test]
    fn cdb_field_pointer_round_trips() {
        let s = Sense::new(SenseKey::IllegalRequest, 0x24, 0).with_cdb_field(2);
        let d = Sense::decode(&s.to_fixed_bytes()).unwrap();
        assert_eq!(d.sense_key_specific, Some([0xc0, 0, 2]));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Sense::decode(&bytes);
        }

        #[test]
        fn fixed_round_trip(key in 0u8..16, asc in any::<u8>(), ascq in any::<u8>(), fm: bool, eom: bool, ili: bool,
                            info in proptest::option::of(any::<i32>())) {
            let mut s = Sense::new(SenseKey::from_nibble(key), asc, ascq);
            s.filemark = fm; s.eom = eom; s.ili = ili; s.information = info.map(i64::from);
            prop_assert_eq!(Sense::decode(&s.to_fixed_bytes()).unwrap(), s);
        }
    }
}
