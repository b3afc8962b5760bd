//! `asto scsi sense` agrees with `sg_decode_sense` (sg3-utils) on a corpus of sense data: the
//! conditions a tape drive or a changer reports (the reference behaviour matrix), in fixed and
//! descriptor format, current and deferred, with and without a valid INFORMATION field.

use std::process::Command;

use asto_tests::asto_ok;

/// Sense data a tape drive or changer returns, one vector per documented condition.
const CORPUS: &[&str] = &[
    "70 00 00 00 00 00 00 0a 00 00 00 00 00 00 00 00 00 00", // no sense
    "f0 00 80 00 00 01 00 0a 00 00 00 00 00 01 00 00 00 00", // READ hit a filemark, residual 256
    "f0 00 40 00 00 00 00 0a 00 00 00 00 00 02 00 00 00 00", // early warning on WRITE
    "f0 00 4d 00 04 00 00 0a 00 00 00 00 00 02 00 00 00 00", // physical end: VOLUME OVERFLOW
    "f0 00 20 ff ff fc 00 0a 00 00 00 00 00 00 00 00 00 00", // block longer than requested (ILI, -1024)
    "f0 00 20 00 00 02 00 0a 00 00 00 00 00 00 00 00 00 00", // shorter block (ILI, +512)
    "f0 00 08 00 00 00 06 0a 00 00 00 00 00 05 00 00 00 00", // BLANK CHECK end of data
    "f0 00 40 00 00 00 03 0a 00 00 00 00 00 04 00 00 00 00", // SPACE backwards hit BOP
    "70 00 00 00 00 00 00 0a 00 00 00 00 00 17 00 00 00 00", // cleaning requested
    "70 00 02 00 00 00 00 0a 00 00 00 00 3a 00 00 00 00 00", // no medium
    "70 00 02 00 00 00 00 0a 00 00 00 00 04 01 00 00 00 00", // becoming ready
    "70 00 02 00 00 00 00 0a 00 00 00 00 04 12 00 00 00 00", // offline
    "70 00 02 00 00 00 00 0a 00 00 00 00 04 85 00 00 00 00", // IBM library pause mode (vendor ASCQ)
    "70 00 02 00 00 00 00 0a 00 00 00 00 30 03 00 00 00 00", // cleaning cartridge installed
    "70 00 03 00 00 00 00 0a 00 00 00 00 0c 00 00 00 00 00", // write error
    "70 00 03 00 00 00 00 0a 00 00 00 00 11 00 00 00 00 00", // unrecovered read error
    "70 00 03 00 00 00 00 0a 00 00 00 00 53 00 00 00 00 00", // load failed
    "70 00 04 00 00 00 00 0a 00 00 00 00 44 00 00 00 00 00", // internal target failure
    "70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 c0 00 02", // invalid field in CDB, byte 2
    "70 00 05 00 00 00 00 0a 00 00 00 00 26 00 00 80 00 04", // invalid field in parameter list
    "70 00 05 00 00 00 00 0a 00 00 00 00 20 00 00 00 00 00", // invalid opcode
    "70 00 05 00 00 00 00 0a 00 00 00 00 21 01 00 00 00 00", // invalid element address
    "70 00 05 00 00 00 00 0a 00 00 00 00 3b 0d 00 00 00 00", // destination element full
    "70 00 05 00 00 00 00 0a 00 00 00 00 3b 0e 00 00 00 00", // source element empty
    "70 00 05 00 00 00 00 0a 00 00 00 00 3a 00 00 00 00 00", // changer MOVE: medium not present
    "70 00 05 00 00 00 00 0a 00 00 00 00 53 02 00 00 00 00", // medium removal prevented
    "70 00 06 00 00 00 00 0a 00 00 00 00 28 00 00 00 00 00", // medium may have changed
    "70 00 06 00 00 00 00 0a 00 00 00 00 28 01 00 00 00 00", // import/export element accessed
    "70 00 06 00 00 00 00 0a 00 00 00 00 29 00 00 00 00 00", // power on / reset
    "70 00 07 00 00 00 00 0a 00 00 00 00 27 00 00 00 00 00", // write protected
    "70 00 07 00 00 00 00 0a 00 00 00 00 30 0c 00 00 00 00", // WORM overwrite attempted
    "70 00 0b 00 00 00 00 0a 00 00 00 00 83 00 00 00 00 00", // vendor-specific ASC
    "71 00 03 00 00 00 00 0a 00 00 00 00 0c 00 00 00 00 00", // deferred write error
    "72 08 00 05 00 00 00 10 00 0a 80 00 00 00 00 00 00 00 00 07 04 02 00 c0", // descriptor: info + FM/EOM
    "72 00 00 00 00 00 00 04 04 02 00 a0", // descriptor: stream FILEMARK + ILI
    "72 0d 00 02 00 00 00 00", // descriptor: volume overflow, end of medium
    "73 03 11 00 00 00 00 00", // descriptor, deferred read error
];

/// What both decoders must agree on.
#[derive(Debug, PartialEq)]
struct Decoded {
    descriptor: bool,
    deferred: bool,
    key: String,
    additional: String,
    info: Option<u64>,
    flags: Vec<&'static str>,
}

fn from_sg_decode_sense(hex: &str) -> Decoded {
    let out = Command::new("sg_decode_sense").args(hex.split(' ')).output().expect("run sg_decode_sense (sg3-utils)");
    assert!(out.status.success(), "sg_decode_sense failed on {hex}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let second = lines.next().unwrap_or_default();
    let additional = second.strip_prefix("Additional sense: ").unwrap_or(second).trim().to_string();
    let mut info = None;
    for l in text.lines() {
        if let Some(rest) = l.split("Info fld=0x").nth(1) {
            info = u64::from_str_radix(rest.split_whitespace().next().unwrap_or_default(), 16).ok();
        }
        if let Some(rest) = l.split("Information: 0x").nth(1) {
            info = u64::from_str_radix(rest.trim(), 16).ok();
        }
    }
    let mut flags = Vec::new();
    let has = |short: &str, long: &str| text.lines().any(|l| l.split_whitespace().any(|w| w == short) || l.contains(long));
    if has("FMK", "FILEMARK") {
        flags.push("filemark");
    }
    if has("EOM", "(EOM)") {
        flags.push("eom");
    }
    if has("ILI", "(ILI)") {
        flags.push("ili");
    }
    Decoded {
        descriptor: first.starts_with("Descriptor"),
        deferred: first.contains("deferred"),
        key: first.split("Sense key: ").nth(1).unwrap_or_default().trim().to_string(),
        additional,
        info,
        flags,
    }
}

fn from_asto(hex: &str) -> Decoded {
    let v: serde_json::Value = serde_json::from_str(&asto_ok(["--json", "scsi", "sense", hex])).expect("JSON");
    let descriptor = v["format"] == "descriptor";
    let info = v["information"].as_i64().map(|i| if descriptor { i as u64 } else { u64::from(i as u32) });
    let flags = ["filemark", "eom", "ili"].into_iter().filter(|f| v[*f] == true).collect();
    Decoded {
        descriptor,
        deferred: v["deferred"] == true,
        key: v["sense_key"].as_str().unwrap_or_default().to_string(),
        additional: v["additional_sense"].as_str().unwrap_or_default().to_string(),
        info,
        flags,
    }
}

#[test]
fn agrees_with_sg_decode_sense_on_the_corpus() {
    for hex in CORPUS {
        let theirs = from_sg_decode_sense(hex);
        let ours = from_asto(hex);
        assert_eq!(ours, theirs, "sense {hex}");
    }
}

#[test]
fn text_output_names_the_condition() {
    let out = asto_ok(["scsi", "sense", "f0 00 80 00 00 01 00 0a 00 00 00 00 00 01 00 00 00 00"]);
    assert!(out.contains("Sense key: No Sense"), "{out}");
    assert!(out.contains("Filemark detected"), "{out}");
    assert!(out.contains("Info fld=0x100 [256]") && out.contains("FMK"), "{out}");
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let out = asto_tests::asto(["scsi", "sense", "7x 00"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"7x\" is not a hex byte"));
    let out = asto_tests::asto(["scsi", "sense", "45 00 00"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("response code 0x45"));
}
