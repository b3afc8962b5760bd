//! MODE SENSE / MODE SELECT (6) for a tape drive: the header (write protect, buffered mode), the
//! block descriptor (density code, block length; 0 = variable) and the data compression page
//! (0x0F, DCE bit). asto runs drives in variable-block mode with compression chosen per media type.

/// Data compression mode page code.
pub const PAGE_COMPRESSION: u8 = 0x0f;
/// Device configuration mode page code.
pub const PAGE_DEVICE_CONFIGURATION: u8 = 0x10;

/// What MODE SENSE says about the loaded medium and the drive's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MediumParameters {
    pub write_protected: bool,
    pub buffer_mode: u8,
    pub density_code: u8,
    /// Block length of the descriptor; 0 = variable-block mode.
    pub block_length: u32,
    /// Data compression enabled (DCE), when the compression page was returned.
    pub compression: Option<bool>,
}

impl MediumParameters {
    /// Decode a MODE SENSE(6) reply (header, optional block descriptor, optional page 0x0F).
    pub fn decode(b: &[u8]) -> Option<MediumParameters> {
        if b.len() < 4 {
            return None;
        }
        let total = (usize::from(b[0]) + 1).min(b.len());
        let bd_len = usize::from(b[3]);
        let (density_code, block_length) = if bd_len >= 8 && b.len() >= 12 {
            (b[4], u32::from_be_bytes([0, b[9], b[10], b[11]]))
        } else {
            (0, 0)
        };
        let mut compression = None;
        let mut pos = 4 + bd_len;
        while pos + 2 <= total {
            let code = b[pos] & 0x3f;
            let len = usize::from(b[pos + 1]);
            if code == PAGE_COMPRESSION && pos + 2 < total {
                compression = Some(b[pos + 2] & 0x80 != 0);
            }
            pos += 2 + len;
        }
        Some(MediumParameters {
            write_protected: b[2] & 0x80 != 0,
            buffer_mode: (b[2] >> 4) & 0x07,
            density_code,
            block_length,
            compression,
        })
    }

    /// Encode a MODE SENSE(6) reply with block descriptor and, if `compression` is set, page 0x0F.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; 12];
        b[2] = (if self.write_protected { 0x80 } else { 0 }) | ((self.buffer_mode & 7) << 4);
        b[3] = 8;
        b[4] = self.density_code;
        b[9..12].copy_from_slice(&self.block_length.to_be_bytes()[1..]);
        if let Some(dce) = self.compression {
            b.extend(compression_page(dce));
        }
        b[0] = (b.len() - 1) as u8;
        b
    }
}

/// The 16-byte data compression page with DCE set or clear (DCC set: the drive can compress).
pub fn compression_page(enabled: bool) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = PAGE_COMPRESSION;
    p[1] = 14;
    p[2] = (if enabled { 0x80 } else { 0 }) | 0x40;
    p[3] = 0x80; // DDE: decompress on read
    p[4..8].copy_from_slice(&1u32.to_be_bytes()); // compression algorithm: ALDC default
    p[8..12].copy_from_slice(&1u32.to_be_bytes());
    p
}

/// MODE SELECT(6) parameter list: header (buffered mode 1), block descriptor with `block_length`,
/// and optionally the compression page.
pub fn select_parameters(density_code: u8, block_length: u32, compression: Option<bool>) -> Vec<u8> {
    let mut b = vec![0u8; 12];
    b[2] = 0x10;
    b[3] = 8;
    b[4] = density_code;
    b[9..12].copy_from_slice(&block_length.to_be_bytes()[1..]);
    if let Some(dce) = compression {
        b.extend(compression_page(dce));
    }
    b
}

/// Decode a MODE SELECT(6) parameter list into (block length, compression) — for targets.
pub fn decode_select(b: &[u8]) -> Option<(Option<u32>, Option<bool>)> {
    if b.len() < 4 {
        return None;
    }
    let bd_len = usize::from(b[3]);
    if 4 + bd_len > b.len() {
        return None;
    }
    let block = (bd_len >= 8).then(|| u32::from_be_bytes([0, b[9], b[10], b[11]]));
    let mut compression = None;
    let mut pos = 4 + bd_len;
    while pos + 2 < b.len() {
        let code = b[pos] & 0x3f;
        let len = usize::from(b[pos + 1]);
        if code == PAGE_COMPRESSION {
            compression = Some(b[pos + 2] & 0x80 != 0);
        }
        pos += 2 + len;
    }
    Some((block, compression))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_and_without_page() {
        for compression in [None, Some(true), Some(false)] {
            let p = MediumParameters { write_protected: true, buffer_mode: 1, density_code: 0x60, block_length: 0, compression };
            assert_eq!(MediumParameters::decode(&p.encode()), Some(p));
        }
    }

    #[test]
    fn select_decodes() {
        let b = select_parameters(0, 262_144, Some(false));
        assert_eq!(decode_select(&b), Some((Some(262_144), Some(false))));
        assert_eq!(decode_select(&[0, 0, 0x10, 8, 0]), None);
    }

    #[test]
    fn header_only_reply() {
        let p = MediumParameters::decode(&[3, 0, 0x80, 0]).unwrap();
        assert!(p.write_protected);
        assert_eq!(p.block_length, 0);
        assert_eq!(p.compression, None);
    }
}
