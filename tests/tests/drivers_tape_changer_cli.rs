//! `asto tape` and `asto changer` end to end: the real binary against a simulated site (library,
//! drives and cartridges in a directory, shared by every invocation), with the same SSC and SMC
//! drivers that run against `/dev/sgN`.

use std::path::Path;

use asto_tests::{asto, asto_ok};
use serde_json::Value;

fn site(slots: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("VERSION: 2\nDrive 1:\nDrive 2:\nPicker 1:\nMAP 1:\n");
    for (i, b) in slots.iter().enumerate() {
        text += &format!("Slot {}: {b}\n", i + 1);
    }
    std::fs::write(dir.path().join("library_contents"), text).unwrap();
    dir
}

fn sim(dir: &Path) -> String {
    dir.display().to_string()
}

fn json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&asto_ok(&all)).expect("JSON output")
}

fn fails_with(args: &[&str], needle: &str) {
    let out = asto(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(err.contains(needle), "{args:?}: stderr {err:?} lacks {needle:?}");
}

#[test]
fn changer_status_lists_tags_in_mtx_layout_and_json() {
    let d = site(&["A00001L9", "", "A00003L9"]);
    let s = sim(d.path());
    let text = asto_ok(["changer", "status", "--sim", &s]);
    assert!(text.contains(":2 Drives, 4 Slots ( 1 Import/Export )"), "{text}");
    assert!(text.contains("      Storage Element 1:Full :VolumeTag=A00001L9\n"), "{text}");
    assert!(text.contains("      Storage Element 2:Empty\n"), "{text}");
    assert!(text.contains("      Storage Element 4 IMPORT/EXPORT:Empty"), "{text}");
    let v = json(&["changer", "status", "--sim", &s]);
    assert_eq!(v["drives"].as_array().unwrap().len(), 2);
    assert_eq!(v["slots"][2]["volume_tag"], "A00003L9");
    assert_eq!(v["slots"][3]["kind"], "import_export");
}

#[test]
fn a_tape_session_across_invocations() {
    let d = site(&["A00001L9", "A00002L9"]);
    let s = sim(d.path());
    asto_ok(["changer", "load", "--sim", &s, "2", "1"]);
    let v = json(&["changer", "status", "--sim", &s]);
    assert_eq!(v["drives"][1]["volume_tag"], "A00002L9");
    assert_eq!(v["drives"][1]["source"], 1001);
    let st = json(&["tape", "status", "--sim", &s, "--drive", "1"]);
    assert_eq!(st["not_ready"], Value::Null);
    assert_eq!(st["position"]["beginning_of_partition"], true);
    assert_eq!(st["medium"]["density_code"], 0x60);
    assert_eq!(st["serial"], "SIMTD90001");
    // Three empty tape files, then position by filemarks.
    let w = json(&["tape", "weof", "--sim", &s, "--drive", "1", "3"]);
    assert_eq!((w["file"].as_u64(), w["block"].as_u64()), (Some(3), Some(3)));
    asto_ok(["tape", "rewind", "--sim", &s, "--drive", "1"]);
    let f = json(&["tape", "fsf", "--sim", &s, "--drive", "1", "2"]);
    assert_eq!(f["file"], 2);
    let b = json(&["tape", "bsf", "--sim", &s, "--drive", "1", "1"]);
    assert_eq!(b["block"], 1, "backwards ends before the filemark");
    let e = json(&["tape", "eod", "--sim", &s, "--drive", "1"]);
    assert_eq!(e["block"], 3);
    fails_with(&["tape", "fsf", "--sim", &s, "--drive", "1", "1"], "beyond the end of data");
    // The library will not pull a threaded tape; unload the drive first.
    fails_with(&["changer", "unload", "--sim", &s, "1", "2"], "still has the tape threaded");
    asto_ok(["tape", "unload", "--sim", &s, "--drive", "1"]);
    let st = json(&["tape", "status", "--sim", &s, "--drive", "1"]);
    assert!(st["not_ready"].as_str().unwrap().contains("no medium"), "{st}");
    asto_ok(["tape", "load", "--sim", &s, "--drive", "1"]);
    asto_ok(["tape", "unload", "--sim", &s, "--drive", "1"]);
    asto_ok(["changer", "unload", "--sim", &s, "1", "2"]);
    // The cartridge kept its three filemarks.
    asto_ok(["changer", "load", "--sim", &s, "2", "0"]);
    let e = json(&["tape", "eod", "--sim", &s]);
    assert_eq!(e["file"], 3);
}

#[test]
fn transfers_and_inventory() {
    let d = site(&["A00001L9", ""]);
    let s = sim(d.path());
    asto_ok(["changer", "transfer", "--sim", &s, "1", "3"]);
    let text = asto_ok(["changer", "inventory", "--sim", &s]);
    assert!(text.contains("Storage Element 3 IMPORT/EXPORT:Full :VolumeTag=A00001L9"), "{text}");
    fails_with(&["changer", "transfer", "--sim", &s, "1", "2"], "source element slot 1 (address 1000) is empty");
    fails_with(&["changer", "transfer", "--sim", &s, "3", "9"], "no such element: slot 9");
}

#[test]
fn injected_faults_reach_the_operator() {
    let d = site(&["A00001L9", "A00002L9"]);
    let s = sim(d.path());
    asto_ok(["changer", "load", "--sim", &s, "1", "0"]);
    std::fs::write(d.path().join("faults.json"), r#"{"library": {"move_failure": true}, "drives": [{"offline": true}]}"#).unwrap();
    fails_with(&["changer", "load", "--sim", &s, "2", "1"], "Media load or eject failed");
    fails_with(&["tape", "rewind", "--sim", &s], "offline");
    let st = json(&["tape", "status", "--sim", &s]);
    assert!(st["not_ready"].as_str().unwrap().contains("offline"));
    std::fs::write(d.path().join("faults.json"), r#"{"library": {"no_such_fault": 1}}"#).unwrap();
    fails_with(&["changer", "status", "--sim", &s], "unknown field");
}

#[test]
fn missing_or_wrong_devices_are_reported_as_such() {
    fails_with(&["tape", "status", "--device", "/dev/sg-missing-99"], "device /dev/sg-missing-99 does not exist");
    fails_with(&["changer", "status", "--device", "/dev/null"], "/dev/null is not a SCSI generic device");
    fails_with(&["tape", "status"], "--device /dev/sgN or --sim DIR");
    let d = tempfile::tempdir().unwrap();
    fails_with(&["tape", "status", "--sim", &sim(d.path())], "is not a simulated site");
    let d = site(&["A00001L9"]);
    fails_with(&["tape", "status", "--sim", &sim(d.path()), "--drive", "7"], "has 2 drive(s), no drive 7");
    std::fs::write(d.path().join("library_contents"), "Slot 2: X\n").unwrap();
    fails_with(&["changer", "status", "--sim", &sim(d.path())], "out of sequence");
}

#[test]
fn concurrent_invocations_share_one_library() {
    let d = site(&["A00001L9", "A00002L9", "A00003L9", "A00004L9"]);
    let s = sim(d.path());
    // Independent moves from four processes at once: the site lock serialises them, so no
    // process saves a library state that overwrites another's move.
    let ops: [&[&str]; 4] = [
        &["changer", "load", "--sim", &s, "1", "0"],
        &["changer", "load", "--sim", &s, "2", "1"],
        &["changer", "transfer", "--sim", &s, "3", "5"],
        &["changer", "status", "--sim", &s],
    ];
    let children: Vec<_> = ops.iter().map(|args| asto(*args).spawn().unwrap()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let v = json(&["changer", "status", "--sim", &s]);
    assert_eq!(v["drives"][0]["volume_tag"], "A00001L9");
    assert_eq!(v["drives"][1]["volume_tag"], "A00002L9");
    assert_eq!(v["slots"][4]["volume_tag"], "A00003L9");
    assert_eq!(v["slots"][3]["volume_tag"], "A00004L9");
}
