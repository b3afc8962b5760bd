//! Command descriptor blocks of the SMC commands asto sends.

/// INITIALIZE ELEMENT STATUS.
pub const INITIALIZE_ELEMENT_STATUS: u8 = 0x07;
/// MOVE MEDIUM.
pub const MOVE_MEDIUM: u8 = 0xa5;
/// READ ELEMENT STATUS.
pub const READ_ELEMENT_STATUS: u8 = 0xb8;
/// MODE SENSE(6).
pub const MODE_SENSE_6: u8 = 0x1a;

/// Element type codes of READ ELEMENT STATUS.
pub const TYPE_ALL: u8 = 0;
pub const TYPE_TRANSPORT: u8 = 1;
pub const TYPE_STORAGE: u8 = 2;
pub const TYPE_IMPORT_EXPORT: u8 = 3;
pub const TYPE_DRIVE: u8 = 4;

/// Largest allocation length honoured by all libraries (some ignore the third byte).
pub const MAX_ALLOCATION: u32 = 0xffff;

/// READ ELEMENT STATUS of `count` elements of `element_type` from `start`.
pub fn read_element_status(element_type: u8, voltag: bool, start: u16, count: u16, dvcid: bool, alloc: u32) -> [u8; 12] {
    let s = start.to_be_bytes();
    let c = count.to_be_bytes();
    let a = alloc.min(0xff_ffff).to_be_bytes();
    [
        READ_ELEMENT_STATUS,
        (if voltag { 0x10 } else { 0 }) | (element_type & 0x0f),
        s[0],
        s[1],
        c[0],
        c[1],
        u8::from(dvcid),
        a[1],
        a[2],
        a[3],
        0,
        0,
    ]
}

/// MOVE MEDIUM with the default transport.
pub fn move_medium(transport: u16, source: u16, destination: u16) -> [u8; 12] {
    let t = transport.to_be_bytes();
    let s = source.to_be_bytes();
    let d = destination.to_be_bytes();
    [MOVE_MEDIUM, 0, t[0], t[1], s[0], s[1], d[0], d[1], 0, 0, 0, 0]
}

/// INITIALIZE ELEMENT STATUS.
pub fn initialize_element_status() -> [u8; 6] {
    [INITIALIZE_ELEMENT_STATUS, 0, 0, 0, 0, 0]
}

/// MODE SENSE(6) of the element address assignment page, no block descriptors.
pub fn mode_sense_element_address() -> [u8; 6] {
    [MODE_SENSE_6, 0x08, 0x1d, 0, 0xff, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_worked_example() {
        // sg_raw … b8 04 01 f4 00 04 ff 00 08 00 00 00 in the reference uses byte 6 = 0xFF; ours
        // sets only DVCID.
        assert_eq!(read_element_status(TYPE_DRIVE, false, 500, 4, true, 0x800), [0xb8, 0x04, 0x01, 0xf4, 0, 4, 1, 0, 0x08, 0, 0, 0]);
        assert_eq!(mode_sense_element_address(), [0x1a, 0x08, 0x1d, 0x00, 0xff, 0x00]);
        assert_eq!(move_medium(0, 1000, 500), [0xa5, 0, 0, 0, 0x03, 0xe8, 0x01, 0xf4, 0, 0, 0, 0]);
    }
}
