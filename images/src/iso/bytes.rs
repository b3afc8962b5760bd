//! ECMA-119 number and date encodings: both-endian integers, 7-byte directory-record dates
//! and 17-byte volume-descriptor dates.

use crate::civil;
use crate::unit::Timestamp;

/// Sector size of every ISO 9660 image written here.
pub(crate) const SECTOR: u64 = 2048;

pub(crate) fn both_u16(out: &mut [u8], v: u16) {
    out[..2].copy_from_slice(&v.to_le_bytes());
    out[2..4].copy_from_slice(&v.to_be_bytes());
}

pub(crate) fn both_u32(out: &mut [u8], v: u32) {
    out[..4].copy_from_slice(&v.to_le_bytes());
    out[4..8].copy_from_slice(&v.to_be_bytes());
}

/// The 7-byte recording date of directory records and Rock Ridge TF entries (UTC).
pub(crate) fn date7(t: Timestamp) -> [u8; 7] {
    let c = civil::from_unix(t.secs);
    if c.year < 1900 {
        return [0, 1, 1, 0, 0, 0, 0];
    }
    if c.year > 2155 {
        return [255, 12, 31, 23, 59, 59, 0];
    }
    [(c.year - 1900) as u8, c.month as u8, c.day as u8, c.hour as u8, c.minute as u8, c.second as u8, 0]
}

/// The 17-byte volume descriptor date, `YYYYMMDDHHMMSScc` and a zero UTC offset.
pub(crate) fn date17(t: Timestamp) -> [u8; 17] {
    let c = civil::from_unix(t.secs);
    let mut out = [0u8; 17];
    let year = c.year.clamp(1, 9999);
    let text = format!(
        "{year:04}{:02}{:02}{:02}{:02}{:02}{:02}",
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        t.nanos / 10_000_000
    );
    out[..16].copy_from_slice(text.as_bytes());
    out
}

/// The "not specified" volume descriptor date.
pub(crate) fn date17_unset() -> [u8; 17] {
    let mut out = [b'0'; 17];
    out[16] = 0;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_dates_and_numbers() {
        assert_eq!(date7(Timestamp::new(951_782_400, 0)), [100, 2, 29, 0, 0, 0, 0]);
        assert_eq!(&date17(Timestamp::new(0, 990_000_000))[..16], b"1970010100000099");
        let mut b = [0u8; 8];
        both_u32(&mut b, 0x0102_0304);
        assert_eq!(b, [4, 3, 2, 1, 1, 2, 3, 4]);
    }
}
