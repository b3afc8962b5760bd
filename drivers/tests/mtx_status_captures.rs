//! The `mtx status` parser against output captured from real libraries, as published in public
//! repositories (each source cited), and the mtx backend against the real `mtx` program.

use std::os::unix::fs::PermissionsExt;

use asto_drivers::changer::{ChangerError, ElementKind, MediaChanger};
use asto_drivers::smc::mtx::{MtxParseError, parse_status};
use asto_drivers::smc::MtxChanger;

/// Source: proxmox/proxmox-backup, `src/tape/changer/mtx/parse_mtx_status.rs`, unit test
/// `test_changer_status` (a 2-drive, 24-slot library with 4 import/export slots).
const PROXMOX_24_SLOTS: &str = " Storage Changer /dev/tape/by-id/scsi-387408F60F0000:2 Drives, 24 Slots ( 4 Import/Export )
Data Transfer Element 0:Empty
Data Transfer Element 1:Empty
      Storage Element 1:Full :VolumeTag=CLN002CU
      Storage Element 2:Full :VolumeTag=test22L1
      Storage Element 3:Full :VolumeTag=test23L1
      Storage Element 4:Full :VolumeTag=CLN001CU
      Storage Element 5:Full :VolumeTag=test1
      Storage Element 6:Empty
      Storage Element 7:Empty
      Storage Element 8:Empty
      Storage Element 9:Empty
      Storage Element 10:Empty
      Storage Element 11:Empty
      Storage Element 12:Empty
      Storage Element 13:Empty
      Storage Element 14:Empty
      Storage Element 15:Empty
      Storage Element 16:Empty
      Storage Element 17:Empty
      Storage Element 18:Empty
      Storage Element 19:Empty
      Storage Element 20:Empty
      Storage Element 21 IMPORT/EXPORT:Empty
      Storage Element 22 IMPORT/EXPORT:Empty
      Storage Element 23 IMPORT/EXPORT:Empty
      Storage Element 24 IMPORT/EXPORT:Empty
";

/// Source: birdie1/tapebackup, `README.md`, "Show Tape Library (Changer) Status": a TANDBERG
/// StorageLoader with an HP Ultrium 5 drive. mtx first prints the decoded REQUEST SENSE of a
/// unit attention (28/00) and the failed MODE SENSE; the volume tags carry trailing blanks.
const TANDBERG_STORAGELOADER: &str = "mtx: Request Sense: Long Report=yes
mtx: Request Sense: Valid Residual=no
mtx: Request Sense: Error Code=70 (Current)
mtx: Request Sense: Sense Key=Unit Attention
mtx: Request Sense: FileMark=no
mtx: Request Sense: EOM=no
mtx: Request Sense: ILI=no
mtx: Request Sense: Additional Sense Code = 28
mtx: Request Sense: Additional Sense Qualifier = 00
mtx: Request Sense: BPV=no
mtx: Request Sense: Error in CDB=no
mtx: Request Sense: SKSV=no
Mode sense (0x1A) for Page 0x1D failed
  Storage Changer /dev/sg5:1 Drives, 7 Slots ( 0 Import/Export )
Data Transfer Element 0:Empty
      Storage Element 1:Full :VolumeTag=000711L4                        
      Storage Element 2:Full :VolumeTag=A00008L5                        
      Storage Element 3:Full :VolumeTag=A00034L5                        
      Storage Element 4:Full :VolumeTag=A00014L5                        
      Storage Element 5:Full :VolumeTag=A00036L5                        
      Storage Element 6:Full :VolumeTag=A00025L5                        
      Storage Element 7:Full :VolumeTag=000218L5                        
";

/// Source: HERA-Team/heratape, `scripts/tape_scan_to_db.py` (docstring: `sudo mtx -f /dev/sg25
/// status` on an LTO-9 library). Both drives claim storage element 8 as their source — the
/// "never key on the source address" quirk.
const HERA_LTO9: &str = "  Storage Changer /dev/sg25:2 Drives, 24 Slots ( 1 Import/Export )
Data Transfer Element 0:Full (Storage Element 8 Loaded):VolumeTag = 042142L9
Data Transfer Element 1:Full (Storage Element 8 Loaded):VolumeTag = HER002L9
      Storage Element 1:Full :VolumeTag=HER006L9
      Storage Element 2:Full :VolumeTag=HER009L9
      Storage Element 3:Full :VolumeTag=HER012L9
      Storage Element 4:Full :VolumeTag=HER001L9
      Storage Element 5:Full :VolumeTag=HER005L9
      Storage Element 6:Full :VolumeTag=HER008L9
      Storage Element 7:Full :VolumeTag=HER011L9
      Storage Element 8:Empty
      Storage Element 9:Full :VolumeTag=HER004L9
      Storage Element 10:Full :VolumeTag=HER007L9
      Storage Element 11:Full :VolumeTag=HER010L9
      Storage Element 12:Full :VolumeTag=CLN003L1
      Storage Element 13:Full :VolumeTag=HER021L9
      Storage Element 14:Full :VolumeTag=HER018L9
      Storage Element 15:Full :VolumeTag=HER015L9
      Storage Element 16:Full :VolumeTag=HER023L9
      Storage Element 17:Full :VolumeTag=HER020L9
      Storage Element 18:Full :VolumeTag=HER017L9
      Storage Element 19:Full :VolumeTag=HER014L9
      Storage Element 20:Full :VolumeTag=HER022L9
      Storage Element 21:Full :VolumeTag=HER019L9
      Storage Element 22:Full :VolumeTag=HER016L9
      Storage Element 23:Full :VolumeTag=HER013L9
      Storage Element 24 IMPORT/EXPORT:Full :VolumeTag=HER003L9
";

#[test]
fn proxmox_capture() {
    let st = parse_status(PROXMOX_24_SLOTS).unwrap();
    assert_eq!(st.drives.len(), 2);
    assert!(st.drives.iter().all(|d| !d.full));
    assert_eq!(st.slots.len(), 24);
    assert_eq!(st.slots.iter().filter(|s| s.kind == ElementKind::ImportExport).count(), 4);
    assert_eq!(st.slot(5).unwrap().volume_tag.as_deref(), Some("test1"));
    assert_eq!(st.slot(21).unwrap().kind, ElementKind::ImportExport);
    assert_eq!(st.first_empty_slot().unwrap().number, 6);
}

#[test]
fn tandberg_capture_with_sense_preamble_and_padded_tags() {
    let st = parse_status(TANDBERG_STORAGELOADER).unwrap();
    assert_eq!(st.drives.len(), 1);
    assert_eq!(st.slots.len(), 7);
    assert_eq!(st.slot(1).unwrap().volume_tag.as_deref(), Some("000711L4"), "tags are trimmed");
    assert_eq!(st.find_volume("A00036L5").unwrap().number, 5);
    assert!(st.first_empty_slot().is_none());
}

#[test]
fn hera_capture_with_duplicate_source_slots() {
    let st = parse_status(HERA_LTO9).unwrap();
    assert_eq!(st.drives[0].volume_tag.as_deref(), Some("042142L9"));
    assert_eq!(st.drives[1].volume_tag.as_deref(), Some("HER002L9"));
    assert_eq!((st.drives[0].source, st.drives[1].source), (Some(8), Some(8)));
    // Volumes are found by tag, not by the (ambiguous) source slot.
    assert_eq!(st.find_volume("HER002L9").unwrap().kind, ElementKind::Drive);
    assert_eq!(st.slot(24).unwrap().volume_tag.as_deref(), Some("HER003L9"));
    assert_eq!(st.slot(24).unwrap().kind, ElementKind::ImportExport);
}

#[test]
fn damaged_output_is_refused() {
    assert_eq!(parse_status("mtx: cannot open SCSI device\n"), Err(MtxParseError::NoHeader));
    let truncated: String = HERA_LTO9.lines().take(10).map(|l| format!("{l}\n")).collect();
    assert!(matches!(parse_status(&truncated), Err(MtxParseError::CountMismatch { what: "slots", announced: 24, found: 7 })));
    let skipped = PROXMOX_24_SLOTS.replace("Storage Element 7:Empty\n", "");
    assert!(matches!(parse_status(&skipped), Err(MtxParseError::OutOfSequence { found: 8, expected: 7, .. })));
    let garbled = PROXMOX_24_SLOTS.replace("Storage Element 6:Empty", "Storage Element 6:Half");
    assert!(matches!(parse_status(&garbled), Err(MtxParseError::BadLine { .. })));
}

/// A stand-in `mtx` that records its arguments and replays a capture, to test the backend's
/// command lines and exit-code handling.
fn fake_mtx(dir: &std::path::Path, status_text: &str, fail_move_with: Option<&str>) -> std::path::PathBuf {
    let capture = dir.join("status.txt");
    std::fs::write(&capture, status_text).unwrap();
    let log = dir.join("args.log");
    let fail = match fail_move_with {
        Some(msg) => format!("echo '{msg}' >&2; exit 1"),
        None => "exit 0".into(),
    };
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {log}\ncase \"$3\" in status) cat {capture};; load|unload|transfer) {fail};; inventory) exit 0;; *) exit 2;; esac\n",
        log = log.display(),
        capture = capture.display()
    );
    let path = dir.join("mtx");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn backend_command_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = MtxChanger::new(fake_mtx(dir.path(), HERA_LTO9, None), "/dev/sg25");
    assert_eq!(c.status().unwrap().slots.len(), 24);
    c.load(3, 1).unwrap();
    c.unload(0, 8).unwrap();
    c.transfer(2, 24).unwrap();
    c.inventory().unwrap();
    let log = std::fs::read_to_string(dir.path().join("args.log")).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["-f /dev/sg25 status", "-f /dev/sg25 load 3 1", "-f /dev/sg25 unload 8 0", "-f /dev/sg25 transfer 2 24", "-f /dev/sg25 inventory"]
    );
}

#[test]
fn backend_maps_move_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = MtxChanger::new(fake_mtx(dir.path(), HERA_LTO9, Some("source Element Address 1007 is Empty")), "/dev/sg25");
    assert!(matches!(c.load(8, 0), Err(ChangerError::SourceEmpty(_))));
    let dir = tempfile::tempdir().unwrap();
    let mut c = MtxChanger::new(fake_mtx(dir.path(), HERA_LTO9, Some("destination Element Address 500 is Already Full")), "/dev/sg25");
    assert!(matches!(c.load(1, 0), Err(ChangerError::DestinationFull(_))));
}

#[test]
fn real_mtx_on_a_non_changer_is_an_error_not_a_status() {
    let mut c = MtxChanger::new("mtx", "/dev/null");
    match c.status() {
        Err(ChangerError::Mtx(msg)) => assert!(!msg.is_empty()),
        other => panic!("expected an mtx error, got {other:?}"),
    }
    let mut missing = MtxChanger::new("/nonexistent/mtx", "/dev/sg0");
    assert!(matches!(missing.status(), Err(ChangerError::Mtx(m)) if m.contains("cannot run")));
}
