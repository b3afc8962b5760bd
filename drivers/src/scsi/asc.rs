//! Names of sense keys and of the additional sense codes (ASC/ASCQ) a tape drive or a media
//! changer reports in practice, with the wording of SPC, so logs and `asto scsi sense` read the
//! same as the standard and the usual tools. Unknown codes are printed numerically, marking the
//! vendor-specific ranges (ASC ≥ 0x80, or ASCQ ≥ 0x80).

/// Sense key name.
pub fn sense_key_text(key: u8) -> &'static str {
    match key & 0x0f {
        0x0 => "No Sense",
        0x1 => "Recovered Error",
        0x2 => "Not Ready",
        0x3 => "Medium Error",
        0x4 => "Hardware Error",
        0x5 => "Illegal Request",
        0x6 => "Unit Attention",
        0x7 => "Data Protect",
        0x8 => "Blank Check",
        0x9 => "Vendor specific(9)",
        0xa => "Copy Aborted",
        0xb => "Aborted Command",
        0xc => "Equal",
        0xd => "Volume Overflow",
        0xe => "Miscompare",
        _ => "Completed",
    }
}

/// (ASC, ASCQ, text) for the codes that matter to tape drives and changers.
const ASC_TEXTS: &[(u8, u8, &str)] = &[
    (0x00, 0x00, "No additional sense information"),
    (0x00, 0x01, "Filemark detected"),
    (0x00, 0x02, "End-of-partition/medium detected"),
    (0x00, 0x03, "Setmark detected"),
    (0x00, 0x04, "Beginning-of-partition/medium detected"),
    (0x00, 0x05, "End-of-data detected"),
    (0x00, 0x07, "Programmable early warning detected"),
    (0x00, 0x17, "Cleaning requested"),
    (0x04, 0x00, "Logical unit not ready, cause not reportable"),
    (0x04, 0x01, "Logical unit is in process of becoming ready"),
    (0x04, 0x02, "Logical unit not ready, initializing command required"),
    (0x04, 0x03, "Logical unit not ready, manual intervention required"),
    (0x04, 0x04, "Logical unit not ready, format in progress"),
    (0x04, 0x12, "Logical unit not ready, offline"),
    (0x0c, 0x00, "Write error"),
    (0x11, 0x00, "Unrecovered read error"),
    (0x14, 0x00, "Recorded entity not found"),
    (0x14, 0x01, "Record not found"),
    (0x14, 0x03, "End-of-data not found"),
    (0x15, 0x00, "Random positioning error"),
    (0x1a, 0x00, "Parameter list length error"),
    (0x20, 0x00, "Invalid command operation code"),
    (0x21, 0x01, "Invalid element address"),
    (0x24, 0x00, "Invalid field in cdb"),
    (0x25, 0x00, "Logical unit not supported"),
    (0x26, 0x00, "Invalid field in parameter list"),
    (0x27, 0x00, "Write protected"),
    (0x28, 0x00, "Not ready to ready change, medium may have changed"),
    (0x28, 0x01, "Import or export element accessed"),
    (0x29, 0x00, "Power on, reset, or bus device reset occurred"),
    (0x29, 0x01, "Power on occurred"),
    (0x29, 0x02, "SCSI bus reset occurred"),
    (0x2a, 0x01, "Mode parameters changed"),
    (0x30, 0x00, "Incompatible medium installed"),
    (0x30, 0x03, "Cleaning cartridge installed"),
    (0x30, 0x0c, "WORM medium - overwrite attempted"),
    (0x31, 0x00, "Medium format corrupted"),
    (0x3a, 0x00, "Medium not present"),
    (0x3a, 0x01, "Medium not present - tray closed"),
    (0x3a, 0x02, "Medium not present - tray open"),
    (0x3b, 0x00, "Sequential positioning error"),
    (0x3b, 0x0c, "Position past beginning of medium"),
    (0x3b, 0x0d, "Medium destination element full"),
    (0x3b, 0x0e, "Medium source element empty"),
    (0x3b, 0x11, "Medium magazine not accessible"),
    (0x3b, 0x12, "Medium magazine removed"),
    (0x3f, 0x01, "Microcode has been changed"),
    (0x44, 0x00, "Internal target failure"),
    (0x50, 0x00, "Write append error"),
    (0x51, 0x00, "Erase failure"),
    (0x53, 0x00, "Media load or eject failed"),
    (0x53, 0x01, "Unload tape failure"),
    (0x53, 0x02, "Medium removal prevented"),
    (0x5d, 0x00, "Failure prediction threshold exceeded"),
];

/// Text for an ASC/ASCQ pair.
pub fn asc_text(asc: u8, ascq: u8) -> String {
    if let Some((_, _, text)) = ASC_TEXTS.iter().find(|(a, q, _)| *a == asc && *q == ascq) {
        return (*text).to_string();
    }
    if asc >= 0x80 {
        format!("vendor specific ASC={asc:02X}, ASCQ={ascq:02X} (hex)")
    } else if ascq >= 0x80 {
        format!("ASC={asc:02X}, vendor specific qualification ASCQ={ascq:02X} (hex)")
    } else {
        format!("ASC={asc:02X}, ASCQ={ascq:02X} (hex)")
    }
}

/// Is this ASC/ASCQ in the known table?
pub fn is_known(asc: u8, ascq: u8) -> bool {
    ASC_TEXTS.iter().any(|(a, q, _)| *a == asc && *q == ascq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_vendor_codes() {
        assert_eq!(asc_text(0x3b, 0x0e), "Medium source element empty");
        assert_eq!(asc_text(0x04, 0x85), "ASC=04, vendor specific qualification ASCQ=85 (hex)");
        assert_eq!(asc_text(0x83, 0x00), "vendor specific ASC=83, ASCQ=00 (hex)");
        assert!(is_known(0x00, 0x02));
        assert!(!is_known(0x04, 0x85));
        assert_eq!(sense_key_text(0xd), "Volume Overflow");
    }

    #[test]
    fn table_has_no_duplicates() {
        for (i, (a, q, _)) in ASC_TEXTS.iter().enumerate() {
            assert!(!ASC_TEXTS[i + 1..].iter().any(|(b, r, _)| a == b && q == r), "{a:02x}/{q:02x} twice");
        }
    }
}
