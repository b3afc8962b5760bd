//! Command descriptor blocks of the SSC commands asto sends, built from the SSC layouts (the
//! simulator decodes the same bytes, so both sides share these opcodes).

/// TEST UNIT READY.
pub const TEST_UNIT_READY: u8 = 0x00;
/// REWIND.
pub const REWIND: u8 = 0x01;
/// REQUEST SENSE.
pub const REQUEST_SENSE: u8 = 0x03;
/// READ BLOCK LIMITS.
pub const READ_BLOCK_LIMITS: u8 = 0x05;
/// READ(6).
pub const READ_6: u8 = 0x08;
/// WRITE(6).
pub const WRITE_6: u8 = 0x0a;
/// WRITE FILEMARKS(6).
pub const WRITE_FILEMARKS_6: u8 = 0x10;
/// SPACE(6).
pub const SPACE_6: u8 = 0x11;
/// INQUIRY.
pub const INQUIRY: u8 = 0x12;
/// MODE SELECT(6).
pub const MODE_SELECT_6: u8 = 0x15;
/// ERASE(6).
pub const ERASE_6: u8 = 0x19;
/// MODE SENSE(6).
pub const MODE_SENSE_6: u8 = 0x1a;
/// LOAD/UNLOAD.
pub const LOAD_UNLOAD: u8 = 0x1b;
/// PREVENT/ALLOW MEDIUM REMOVAL.
pub const PREVENT_ALLOW: u8 = 0x1e;
/// LOCATE(10).
pub const LOCATE_10: u8 = 0x2b;
/// READ POSITION.
pub const READ_POSITION: u8 = 0x34;
/// LOG SENSE.
pub const LOG_SENSE: u8 = 0x4d;
/// LOCATE(16).
pub const LOCATE_16: u8 = 0x92;

/// SPACE codes (byte 1 bits 3:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaceCode {
    Blocks = 0,
    Filemarks = 1,
    EndOfData = 3,
}

fn len24(n: u32) -> [u8; 3] {
    let b = n.to_be_bytes();
    [b[1], b[2], b[3]]
}

/// READ(6) of one variable-length block of at most `len` bytes (`sili`: suppress ILI on short blocks).
pub fn read6(len: u32, sili: bool) -> [u8; 6] {
    let l = len24(len);
    [READ_6, if sili { 0x02 } else { 0 }, l[0], l[1], l[2], 0]
}

/// WRITE(6) of one variable-length block.
pub fn write6(len: u32) -> [u8; 6] {
    let l = len24(len);
    [WRITE_6, 0, l[0], l[1], l[2], 0]
}

/// WRITE FILEMARKS(6).
pub fn write_filemarks6(count: u32, immediate: bool) -> [u8; 6] {
    let l = len24(count);
    [WRITE_FILEMARKS_6, u8::from(immediate), l[0], l[1], l[2], 0]
}

/// SPACE(6) with a signed 24-bit count.
pub fn space6(code: SpaceCode, count: i32) -> [u8; 6] {
    let b = count.to_be_bytes();
    [SPACE_6, code as u8, b[1], b[2], b[3], 0]
}

/// Decode the signed 24-bit count of a SPACE(6).
pub fn space6_count(cdb: &[u8]) -> i32 {
    let raw = i32::from_be_bytes([0, cdb[2], cdb[3], cdb[4]]);
    if raw & 0x80_0000 != 0 { raw - 0x100_0000 } else { raw }
}

/// REWIND.
pub fn rewind() -> [u8; 6] {
    [REWIND, 0, 0, 0, 0, 0]
}

/// LOAD/UNLOAD.
pub fn load_unload(load: bool) -> [u8; 6] {
    [LOAD_UNLOAD, 0, 0, 0, u8::from(load), 0]
}

/// LOCATE(10) to a logical object (BT = 0).
pub fn locate10(object: u32) -> [u8; 10] {
    let o = object.to_be_bytes();
    [LOCATE_10, 0, 0, o[0], o[1], o[2], o[3], 0, 0, 0]
}

/// LOCATE(16) to a logical object.
pub fn locate16(object: u64) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = LOCATE_16;
    c[4..12].copy_from_slice(&object.to_be_bytes());
    c
}

/// READ POSITION, long form (service action 0x06).
pub fn read_position_long() -> [u8; 10] {
    [READ_POSITION, 0x06, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// READ POSITION, short form (service action 0x00).
pub fn read_position_short() -> [u8; 10] {
    [READ_POSITION, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// READ BLOCK LIMITS.
pub fn read_block_limits() -> [u8; 6] {
    [READ_BLOCK_LIMITS, 0, 0, 0, 0, 0]
}

/// MODE SENSE(6) of `page` with block descriptor.
pub fn mode_sense6(page: u8, alloc: u8) -> [u8; 6] {
    [MODE_SENSE_6, 0, page & 0x3f, 0, alloc, 0]
}

/// MODE SELECT(6) with PF, `len` bytes of parameter list.
pub fn mode_select6(len: u8) -> [u8; 6] {
    [MODE_SELECT_6, 0x10, 0, 0, len, 0]
}

/// LOG SENSE of `page`, cumulative values.
pub fn log_sense(page: u8, alloc: u16) -> [u8; 10] {
    let a = alloc.to_be_bytes();
    [LOG_SENSE, 0, 0x40 | (page & 0x3f), 0, 0, 0, 0, a[0], a[1], 0]
}

/// TEST UNIT READY.
pub fn test_unit_ready() -> [u8; 6] {
    [TEST_UNIT_READY, 0, 0, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layouts() {
        assert_eq!(write6(262_144), [0x0a, 0, 0x04, 0, 0, 0]);
        assert_eq!(read6(1 << 20, true), [0x08, 2, 0x10, 0, 0, 0]);
        assert_eq!(space6(SpaceCode::Filemarks, -1), [0x11, 1, 0xff, 0xff, 0xff, 0]);
        assert_eq!(locate10(0x01020304)[3..7], [1, 2, 3, 4]);
        assert_eq!(log_sense(0x12, 64), [0x4d, 0, 0x52, 0, 0, 0, 0, 0, 64, 0]);
    }

    proptest! {
        #[test]
        fn space_count_round_trips(n in -0x80_0000i32..0x80_0000) {
            prop_assert_eq!(space6_count(&space6(SpaceCode::Blocks, n)), n);
        }
    }
}
