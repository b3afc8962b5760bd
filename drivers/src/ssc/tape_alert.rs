//! TapeAlert: the drive's own health flags, read from LOG SENSE page 0x12 (TapeAlert response:
//! all 64 flags as one bitmap, flag 1 in the most significant bit) so that reading does not
//! depend on the per-flag parameters of page 0x2E. Flags that mean "stop using this medium or
//! drive" are marked critical, following the SSC flag table.

/// LOG SENSE page: TapeAlert response.
pub const PAGE_TAPE_ALERT_RESPONSE: u8 = 0x12;
/// LOG SENSE page: TapeAlert (one parameter per flag; older drives have only this one).
pub const PAGE_TAPE_ALERT: u8 = 0x2e;

const NAMES: &[(u8, &str)] = &[
    (0x01, "read warning"),
    (0x02, "write warning"),
    (0x03, "hard error"),
    (0x04, "media"),
    (0x05, "read failure"),
    (0x06, "write failure"),
    (0x07, "media life"),
    (0x08, "not data grade"),
    (0x09, "write protect"),
    (0x0a, "no removal"),
    (0x0b, "cleaning media"),
    (0x0c, "unsupported format"),
    (0x0d, "recoverable mechanical cartridge failure"),
    (0x0e, "unrecoverable mechanical cartridge failure"),
    (0x0f, "memory chip in cartridge failure"),
    (0x10, "forced eject"),
    (0x11, "read only format"),
    (0x12, "tape directory corrupted on load"),
    (0x13, "nearing media life"),
    (0x14, "clean now"),
    (0x15, "clean periodic"),
    (0x16, "expired cleaning media"),
    (0x17, "invalid cleaning tape"),
    (0x18, "retension requested"),
    (0x19, "dual-port interface error"),
    (0x1a, "cooling fan failure"),
    (0x1b, "power supply failure"),
    (0x1c, "power consumption"),
    (0x1d, "drive maintenance"),
    (0x1e, "hardware A"),
    (0x1f, "hardware B"),
    (0x20, "interface"),
    (0x21, "eject media"),
    (0x22, "microcode update fail"),
    (0x23, "drive humidity"),
    (0x24, "drive temperature"),
    (0x25, "drive voltage"),
    (0x26, "predictive failure"),
    (0x27, "diagnostics required"),
    (0x32, "lost statistics"),
    (0x33, "tape directory invalid at unload"),
    (0x34, "tape system area write failure"),
    (0x35, "tape system area read failure"),
    (0x36, "no start of data"),
    (0x37, "loading failure"),
    (0x38, "unload failure"),
    (0x39, "automation interface failure"),
    (0x3a, "firmware failure"),
    (0x3b, "WORM medium integrity check failed"),
    (0x3c, "WORM medium overwrite attempted"),
    (0x3d, "encryption policy violation"),
];

const CRITICAL: &[u8] = &[
    0x04, 0x05, 0x06, 0x09, 0x0e, 0x10, 0x16, 0x17, 0x1e, 0x1f, 0x21, 0x26, 0x29, 0x2d, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
];

/// The set TapeAlert flags (1–64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapeAlerts(pub u64);

/// One raised flag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TapeAlertFlag {
    pub flag: u8,
    pub name: &'static str,
    pub critical: bool,
}

impl TapeAlerts {
    /// Bit of flag `n` (1 = most significant).
    fn bit(n: u8) -> u64 {
        1u64 << (64 - u32::from(n.clamp(1, 64)))
    }

    /// Raise flag `n`.
    pub fn set(&mut self, n: u8) {
        self.0 |= Self::bit(n);
    }

    /// Is flag `n` raised?
    pub fn contains(&self, n: u8) -> bool {
        (1..=64).contains(&n) && self.0 & Self::bit(n) != 0
    }

    /// The raised flags with names.
    pub fn flags(&self) -> Vec<TapeAlertFlag> {
        (1..=64u8)
            .filter(|n| self.contains(*n))
            .map(|flag| TapeAlertFlag {
                flag,
                name: NAMES.iter().find(|(f, _)| *f == flag).map_or("reserved", |(_, n)| n),
                critical: CRITICAL.contains(&flag),
            })
            .collect()
    }

    /// Is any critical flag raised?
    pub fn any_critical(&self) -> bool {
        self.flags().iter().any(|f| f.critical)
    }

    /// Decode a LOG SENSE page 0x12 reply.
    pub fn decode_page(b: &[u8]) -> Option<TapeAlerts> {
        if b.len() < 4 || b[0] & 0x3f != PAGE_TAPE_ALERT_RESPONSE {
            return None;
        }
        let end = (4 + usize::from(u16::from_be_bytes([b[2], b[3]]))).min(b.len());
        let mut pos = 4;
        while pos + 4 <= end {
            let code = u16::from_be_bytes([b[pos], b[pos + 1]]);
            let len = usize::from(b[pos + 3]);
            if code == 0 && len >= 8 && pos + 12 <= end {
                return Some(TapeAlerts(u64::from_be_bytes(b[pos + 4..pos + 12].try_into().ok()?)));
            }
            pos += 4 + len;
        }
        None
    }

    /// Decode a LOG SENSE page 0x2E reply: parameters 0x0001–0x0040, bit 0 of each value.
    pub fn decode_page_2e(b: &[u8]) -> Option<TapeAlerts> {
        if b.len() < 4 || b[0] & 0x3f != PAGE_TAPE_ALERT {
            return None;
        }
        let end = (4 + usize::from(u16::from_be_bytes([b[2], b[3]]))).min(b.len());
        let mut alerts = TapeAlerts::default();
        let mut pos = 4;
        while pos + 4 <= end {
            let code = u16::from_be_bytes([b[pos], b[pos + 1]]);
            let len = usize::from(b[pos + 3]);
            if (1..=64).contains(&code) && len >= 1 && pos + 4 < end && b[pos + 4] & 1 != 0 {
                alerts.set(code as u8);
            }
            pos += 4 + len;
        }
        Some(alerts)
    }

    /// Encode a LOG SENSE page 0x2E reply (64 one-byte parameters).
    pub fn encode_page_2e(&self) -> Vec<u8> {
        let mut b = vec![PAGE_TAPE_ALERT, 0, 0, 0];
        for flag in 1..=64u8 {
            b.extend([0, flag, 0x03, 1, u8::from(self.contains(flag))]);
        }
        let len = (b.len() - 4) as u16;
        b[2..4].copy_from_slice(&len.to_be_bytes());
        b
    }

    /// Encode a LOG SENSE page 0x12 reply.
    pub fn encode_page(&self) -> Vec<u8> {
        let mut b = vec![PAGE_TAPE_ALERT_RESPONSE, 0, 0, 12, 0, 0, 0x03, 8];
        b.extend(self.0.to_be_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_and_bit_order() {
        let mut a = TapeAlerts::default();
        a.set(1);
        a.set(0x14);
        assert_eq!(a.0 >> 63, 1, "flag 1 is the most significant bit");
        let d = TapeAlerts::decode_page(&a.encode_page()).unwrap();
        assert_eq!(d, a);
        let names: Vec<_> = d.flags().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["read warning", "clean now"]);
        assert!(!d.any_critical());
        a.set(6);
        assert!(a.any_critical());
    }

    #[test]
    fn page_2e_round_trip() {
        let mut a = TapeAlerts::default();
        a.set(3);
        a.set(64);
        assert_eq!(TapeAlerts::decode_page_2e(&a.encode_page_2e()), Some(a));
        assert_eq!(TapeAlerts::decode_page_2e(&a.encode_page()), None);
    }

    #[test]
    fn wrong_page_is_rejected() {
        assert_eq!(TapeAlerts::decode_page(&[0x2e, 0, 0, 0]), None);
    }
}
