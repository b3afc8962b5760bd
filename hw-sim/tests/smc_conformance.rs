//! Conformance of the simulated library with documented SMC behaviour, through the real SMC
//! changer driver and SSC tape driver: element layouts, volume tags, moves and their sense, the
//! tape-threaded quirk, injected faults, and persistence of a site across processes.

use std::time::Duration;

use asto_drivers::changer::{ChangerError, ElementKind, MediaChanger};
use asto_drivers::scsi::retry::RetryPolicy;
use asto_drivers::scsi::{DataTransfer, ScsiTransport, Sense, SenseKey};
use asto_drivers::smc::{SmcChanger, cdb};
use asto_drivers::ssc::SscDrive;
use asto_drivers::tape::{ReadOutcome, TapeDrive};
use asto_hw_sim::scsi_library::{LibraryContents, LibraryFaults, SimSite, SiteConfig};

fn site(slots: usize, ie: usize, tapes: &[&str]) -> (tempfile::TempDir, SimSite) {
    let dir = tempfile::tempdir().unwrap();
    let mut contents = LibraryContents::empty(2, slots, ie);
    for (i, t) in tapes.iter().enumerate() {
        contents.slots[i] = Some(t.to_string());
    }
    let config = SiteConfig { cartridge_capacity: 64 << 20, ..SiteConfig::default() };
    SimSite::create(dir.path(), &config, &contents).unwrap();
    let site = SimSite::open(dir.path()).unwrap();
    (dir, site)
}

fn changer(site: &SimSite) -> SmcChanger<asto_hw_sim::scsi_library::SimLibrary> {
    SmcChanger::with_policy(site.library(), RetryPolicy::immediate())
}

#[test]
fn status_reports_layout_tags_and_drive_serials() {
    let (_d, site) = site(6, 2, &["A00001L9", "A00002L9"]);
    let st = changer(&site).status().unwrap();
    assert_eq!(st.transports.len(), 1);
    assert_eq!(st.drives.len(), 2);
    assert_eq!(st.drives[0].address, 500);
    assert_eq!(st.drives[1].identifier.as_deref(), Some("SIMTD90001"));
    assert_eq!(st.slots.len(), 8);
    assert_eq!(st.slot(1).unwrap().address, 1000);
    assert_eq!(st.slot(1).unwrap().volume_tag.as_deref(), Some("A00001L9"));
    assert_eq!(st.slot(7).unwrap().kind, ElementKind::ImportExport);
    assert_eq!(st.slot(7).unwrap().address, 10);
    assert!(!st.slot(3).unwrap().full);
}

#[test]
fn load_write_unload_round_trip_through_both_drivers() {
    let (_d, site) = site(4, 1, &["A00001L9"]);
    let mut c = changer(&site);
    c.load(1, 0).unwrap();
    let st = c.status().unwrap();
    assert_eq!(st.drive(0).unwrap().volume_tag.as_deref(), Some("A00001L9"));
    assert_eq!(st.drive(0).unwrap().source, Some(1000));
    assert!(!st.slot(1).unwrap().full);
    let mut tape = SscDrive::with_policy(site.drive(0).unwrap(), RetryPolicy::immediate());
    tape.ready().unwrap();
    tape.write_block(b"archive unit 1").unwrap();
    tape.write_filemarks(1).unwrap();
    // The tape is threaded: the library refuses to pull it (real-library quirk).
    assert!(matches!(c.unload(0, 1), Err(ChangerError::DriveNotUnloaded(_))));
    tape.unload().unwrap();
    c.unload(0, 1).unwrap();
    // Load it into the other drive and read back.
    c.load(1, 1).unwrap();
    let mut tape = SscDrive::with_policy(site.drive(1).unwrap(), RetryPolicy::immediate());
    tape.ready().unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(tape.read_block(&mut buf).unwrap(), ReadOutcome::Data(14));
    assert_eq!(&buf[..14], b"archive unit 1");
}

#[test]
fn move_errors_name_the_element() {
    let (_d, site) = site(4, 1, &["A00001L9", "A00002L9"]);
    let mut c = changer(&site);
    match c.load(3, 0) {
        Err(ChangerError::SourceEmpty(what)) => assert!(what.contains("slot 3"), "{what}"),
        other => panic!("{other:?}"),
    }
    c.load(1, 0).unwrap();
    match c.load(2, 0) {
        Err(ChangerError::DestinationFull(what)) => assert!(what.contains("drive 0"), "{what}"),
        other => panic!("{other:?}"),
    }
    match c.transfer(2, 1) {
        Ok(()) => {}
        other => panic!("slot 1 is empty after the load: {other:?}"),
    }
    assert!(matches!(c.transfer(9, 1), Err(ChangerError::NoSuchElement(_))));
    // Raw: invalid element address → 05/21/01.
    let mut lib = site.library();
    let o = lib.execute(&cdb::move_medium(0, 4242, 1000), DataTransfer::None, Duration::from_secs(1)).unwrap();
    assert!(Sense::decode(&o.sense).unwrap().is(SenseKey::IllegalRequest, 0x21, 0x01));
}

#[test]
fn import_export_and_operator_activity() {
    let (_d, site) = site(4, 2, &["A00001L9"]);
    let mut c = changer(&site);
    c.transfer(1, 5).unwrap();
    let st = c.status().unwrap();
    assert_eq!(st.slot(5).unwrap().volume_tag.as_deref(), Some("A00001L9"));
    assert_eq!(st.slot(5).unwrap().source, Some(1000));
    // An operator drops a tape into the second mail slot: 06/28/01, drained before MODE SENSE.
    assert!(site.library().operator_import(1, "NEW001L9"));
    let st = c.status().unwrap();
    assert_eq!(st.find_volume("NEW001L9").unwrap().number, 6);
    site.library().set_faults(LibraryFaults { import_export_open: true, ..LibraryFaults::default() });
    assert!(matches!(c.transfer(6, 2), Err(ChangerError::DoorOpen(_))));
}

#[test]
fn injected_faults() {
    let (_d, site) = site(4, 1, &["A00001L9"]);
    let mut c = changer(&site);
    let lib = site.library();
    lib.set_faults(LibraryFaults { move_failure: true, ..LibraryFaults::default() });
    match c.load(1, 0) {
        Err(ChangerError::Hardware(why)) => assert!(why.contains("load or eject failed"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Becoming ready after a move and pause mode are retried through.
    lib.set_faults(LibraryFaults { becoming_ready_after_move: 2, vendor_pause: 2, ..LibraryFaults::default() });
    c.load(1, 0).unwrap();
    assert_eq!(c.status().unwrap().drive(0).unwrap().volume_tag.as_deref(), Some("A00001L9"));
    lib.set_faults(LibraryFaults { offline: true, ..LibraryFaults::default() });
    assert!(matches!(c.status(), Err(ChangerError::NotReady(why)) if why.contains("offline")));
    lib.set_faults(LibraryFaults::default());
    lib.power_on_reset();
    c.inventory().unwrap();
    assert!(c.status().is_ok());
}

#[test]
fn element_status_quirks_at_the_scsi_level() {
    let (_d, site) = site(4, 1, &["A00001L9"]);
    let mut lib = site.library();
    // DVCID on storage elements is rejected, as real libraries do.
    let mut buf = vec![0u8; 4096];
    let o = lib.execute(&cdb::read_element_status(cdb::TYPE_STORAGE, true, 1000, 4, true, 4096), DataTransfer::FromDevice(&mut buf), Duration::from_secs(1)).unwrap();
    assert!(Sense::decode(&o.sense).unwrap().is(SenseKey::IllegalRequest, 0x24, 0));
    // The allocation length is honoured: a short buffer gets a truncated but decodable reply.
    let mut small = vec![0u8; 8 + 8 + 48];
    lib.execute(&cdb::read_element_status(cdb::TYPE_STORAGE, true, 1000, 4, false, small.len() as u32), DataTransfer::FromDevice(&mut small), Duration::from_secs(1)).unwrap();
    let d = asto_drivers::smc::element_status::decode(&small).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].primary_tag.as_deref(), Some("A00001L9"));
}

#[test]
fn large_libraries_are_read_in_chunks() {
    let (_d, site) = site(1500, 0, &[]);
    let st = changer(&site).status().unwrap();
    assert_eq!(st.slots.len(), 1500);
    assert_eq!(st.slot(1500).unwrap().address, 1000 + 1499);
}

#[test]
fn site_persists_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let mut contents = LibraryContents::empty(1, 3, 1);
    contents.slots[0] = Some("P00001L9".into());
    SimSite::create(dir.path(), &SiteConfig { cartridge_capacity: 16 << 20, ..SiteConfig::default() }, &contents).unwrap();
    {
        let site = SimSite::open(dir.path()).unwrap();
        changer(&site).load(1, 0).unwrap();
        let mut tape = SscDrive::with_policy(site.drive(0).unwrap(), RetryPolicy::immediate());
        tape.ready().unwrap();
        tape.write_block(b"first").unwrap();
        tape.write_block(b"second").unwrap();
        site.save().unwrap();
    }
    let text = std::fs::read_to_string(dir.path().join("library_contents")).unwrap();
    assert!(text.contains("Drive 1: P00001L9"), "{text}");
    let site = SimSite::open(dir.path()).unwrap();
    let mut tape = SscDrive::with_policy(site.drive(0).unwrap(), RetryPolicy::immediate());
    assert_eq!(tape.position().unwrap().block, 2, "position survives");
    tape.rewind().unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(tape.read_block(&mut buf).unwrap(), ReadOutcome::Data(5));
    let st = changer(&site).status().unwrap();
    assert_eq!(st.drive(0).unwrap().source, Some(1000));
    assert!(SimSite::create(dir.path(), &SiteConfig::default(), &contents).is_err());
}

mod garbage {
    //! Property: no CDB, however malformed, panics the simulated library.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_cdb_gets_an_answer(len in prop_oneof![Just(6usize), Just(10), Just(12), Just(16)],
                                  bytes in proptest::collection::vec(any::<u8>(), 16),
                                  data_len in 0usize..4096) {
            let (_d, site) = site(4, 1, &["A00001L9"]);
            let mut lib = site.library();
            let mut buf = vec![0u8; data_len];
            prop_assert!(lib.execute(&bytes[..len], DataTransfer::FromDevice(&mut buf), Duration::from_secs(1)).is_ok());
        }
    }
}
