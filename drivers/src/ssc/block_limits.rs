//! READ BLOCK LIMITS reply: the smallest and largest block the drive accepts (6 bytes:
//! granularity, 24-bit maximum, 16-bit minimum). A write outside these limits is refused before
//! it reaches the drive.

/// Block length limits of a drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BlockLimits {
    pub granularity: u8,
    pub max: u32,
    pub min: u16,
}

impl BlockLimits {
    /// Decode the 6-byte reply.
    pub fn decode(b: &[u8]) -> Option<BlockLimits> {
        (b.len() >= 6).then(|| BlockLimits {
            granularity: b[0] & 0x1f,
            max: u32::from_be_bytes([0, b[1], b[2], b[3]]),
            min: u16::from_be_bytes([b[4], b[5]]),
        })
    }

    /// Encode the 6-byte reply.
    pub fn encode(&self) -> [u8; 6] {
        let m = self.max.to_be_bytes();
        let n = self.min.to_be_bytes();
        [self.granularity & 0x1f, m[1], m[2], m[3], n[0], n[1]]
    }

    /// Does a block of `len` bytes fit?
    pub fn allows(&self, len: usize) -> bool {
        len >= usize::from(self.min) && len <= self.max as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lto_limits() {
        let l = BlockLimits::decode(&[0, 0xff, 0xff, 0xff, 0, 1]).unwrap();
        assert_eq!(l, BlockLimits { granularity: 0, max: 16_777_215, min: 1 });
        assert_eq!(l.encode(), [0, 0xff, 0xff, 0xff, 0, 1]);
        assert!(l.allows(1 << 20) && !l.allows(0));
        assert!(BlockLimits::decode(&[0; 5]).is_none());
    }
}
