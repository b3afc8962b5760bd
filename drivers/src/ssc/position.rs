//! READ POSITION replies: the long form (32 bytes: partition, logical object number, logical file
//! number) that asto uses, and the short form (20 bytes) older drives answer with.

/// Decoded READ POSITION data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PositionReply {
    pub beginning_of_partition: bool,
    pub end_of_partition: bool,
    /// Between early warning and end of partition.
    pub early_warning: bool,
    pub partition: u32,
    pub object: u64,
    /// Logical file number (filemarks before the position), long form only.
    pub file: Option<u64>,
}

impl PositionReply {
    /// Decode the 32-byte long form.
    pub fn decode_long(b: &[u8]) -> Option<PositionReply> {
        if b.len() < 24 {
            return None;
        }
        if b[0] & 0x0c != 0 {
            // MPU / LONU: position unknown.
            return None;
        }
        Some(PositionReply {
            beginning_of_partition: b[0] & 0x80 != 0,
            end_of_partition: b[0] & 0x40 != 0,
            early_warning: b[0] & 0x01 != 0,
            partition: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            object: u64::from_be_bytes(b[8..16].try_into().ok()?),
            file: Some(u64::from_be_bytes(b[16..24].try_into().ok()?)),
        })
    }

    /// Decode the 20-byte short form.
    pub fn decode_short(b: &[u8]) -> Option<PositionReply> {
        if b.len() < 8 || b[0] & 0x04 != 0 {
            return None;
        }
        Some(PositionReply {
            beginning_of_partition: b[0] & 0x80 != 0,
            end_of_partition: b[0] & 0x40 != 0,
            early_warning: b[0] & 0x01 != 0,
            partition: u32::from(b[1]),
            object: u64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]])),
            file: None,
        })
    }

    fn flags(&self) -> u8 {
        (if self.beginning_of_partition { 0x80 } else { 0 })
            | (if self.end_of_partition { 0x40 } else { 0 })
            | u8::from(self.early_warning)
    }

    /// Encode the long form.
    pub fn encode_long(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0] = self.flags();
        b[4..8].copy_from_slice(&self.partition.to_be_bytes());
        b[8..16].copy_from_slice(&self.object.to_be_bytes());
        b[16..24].copy_from_slice(&self.file.unwrap_or(0).to_be_bytes());
        b
    }

    /// Encode the short form (first = last block location; nothing buffered).
    pub fn encode_short(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[0] = self.flags();
        b[1] = self.partition as u8;
        let o = (self.object as u32).to_be_bytes();
        b[4..8].copy_from_slice(&o);
        b[8..12].copy_from_slice(&o);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_short_round_trip() {
        let p = PositionReply { beginning_of_partition: false, end_of_partition: false, early_warning: true, partition: 0, object: 5_000_000_000, file: Some(3) };
        assert_eq!(PositionReply::decode_long(&p.encode_long()), Some(p));
        let s = PositionReply { object: 42, file: None, ..p };
        assert_eq!(PositionReply::decode_short(&s.encode_short()), Some(s));
    }

    #[test]
    fn unknown_position_is_none() {
        let mut b = [0u8; 32];
        b[0] = 0x04;
        assert_eq!(PositionReply::decode_long(&b), None);
        assert_eq!(PositionReply::decode_short(&b[..20]), None);
    }
}
