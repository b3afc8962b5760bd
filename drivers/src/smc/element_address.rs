//! Mode page 0x1D, Element Address Assignment: where each element type starts and how many
//! there are. Maps differ per vendor and are not contiguous across types, so nothing assumes
//! drives start at 0.

/// First address and count of each element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ElementAddressAssignment {
    pub first_transport: u16,
    pub transports: u16,
    pub first_storage: u16,
    pub storage: u16,
    pub first_import_export: u16,
    pub import_export: u16,
    pub first_drive: u16,
    pub drives: u16,
}

impl ElementAddressAssignment {
    /// Decode a MODE SENSE(6) reply (4-byte header, block descriptors skipped, page 0x1D).
    pub fn decode_mode_sense(b: &[u8]) -> Option<Self> {
        if b.len() < 4 {
            return None;
        }
        let start = 4 + usize::from(b[3]);
        Self::decode_page(b.get(start..)?)
    }

    /// Decode the page itself (from its page code byte).
    pub fn decode_page(p: &[u8]) -> Option<Self> {
        if p.len() < 18 || p[0] & 0x3f != 0x1d {
            return None;
        }
        let w = |i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
        Some(ElementAddressAssignment {
            first_transport: w(2),
            transports: w(4),
            first_storage: w(6),
            storage: w(8),
            first_import_export: w(10),
            import_export: w(12),
            first_drive: w(14),
            drives: w(16),
        })
    }

    /// Encode as a MODE SENSE(6) reply with DBD (header + 20-byte page).
    pub fn encode_mode_sense(&self) -> Vec<u8> {
        let mut b = vec![23, 0, 0, 0, 0x1d, 0x12];
        for v in [
            self.first_transport,
            self.transports,
            self.first_storage,
            self.storage,
            self.first_import_export,
            self.import_export,
            self.first_drive,
            self.drives,
        ] {
            b.extend(v.to_be_bytes());
        }
        b.extend([0, 0]);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's worked example: mhvtl's STK L80 personality (markh794/mhvtl issues
    /// #105/#106): picker at 1, 40 slots from 1000, 4 I/E from 10, 4 drives from 500.
    #[test]
    fn stk_l80_worked_example() {
        let reply = [
            0x17, 0x00, 0x10, 0x00, 0x1d, 0x12, 0x00, 0x01, 0x00, 0x01, 0x03, 0xe8, 0x00, 0x28, 0x00, 0x0a, 0x00, 0x04, 0x01, 0xf4,
            0x00, 0x04, 0x00, 0x00,
        ];
        let a = ElementAddressAssignment::decode_mode_sense(&reply).unwrap();
        assert_eq!(
            a,
            ElementAddressAssignment {
                first_transport: 1,
                transports: 1,
                first_storage: 1000,
                storage: 40,
                first_import_export: 10,
                import_export: 4,
                first_drive: 500,
                drives: 4
            }
        );
        assert_eq!(a.encode_mode_sense()[4..], reply[4..]);
        assert!(ElementAddressAssignment::decode_mode_sense(&reply[..10]).is_none());
    }
}
