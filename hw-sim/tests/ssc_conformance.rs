//! Conformance of the simulated SCSI tape drive with the documented behaviour of real drives
//! (the behaviour matrix of SSC drives as the Linux st driver and production tape software see
//! them), exercised through the real SSC driver — and, for the exact sense bytes, at the SCSI
//! level.

use std::time::Duration;

use asto_drivers::scsi::retry::RetryPolicy;
use asto_drivers::scsi::{DataTransfer, ScsiStatus, ScsiTransport, Sense, SenseKey};
use asto_drivers::ssc::{SscDrive, cdb};
use asto_drivers::tape::{ReadOutcome, TapeDrive, TapeError, WriteOutcome};
use asto_hw_sim::scsi_tape::{Cartridge, CartridgeMeta, SimTapeDrive, TapeDriveConfig, TapeFaults};

const MIB: u64 = 1 << 20;

struct Rig {
    _dir: tempfile::TempDir,
    sim: SimTapeDrive,
    drive: SscDrive<SimTapeDrive>,
}

fn rig_with(meta: CartridgeMeta) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let cart = Cartridge::create(&dir.path().join(&meta.barcode), meta).unwrap();
    let sim = SimTapeDrive::new("drive0", TapeDriveConfig::default());
    sim.insert(cart).unwrap();
    let mut drive = SscDrive::with_policy(sim.clone(), RetryPolicy::immediate());
    drive.ready().unwrap();
    Rig { _dir: dir, sim, drive }
}

fn rig() -> Rig {
    rig_with(CartridgeMeta::new("A00001L9", 64 * MIB))
}

fn block(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
}

/// Raw command against the simulator: status and decoded sense.
fn raw(sim: &mut SimTapeDrive, cdb: &[u8], data: DataTransfer<'_>) -> (ScsiStatus, Option<Sense>, usize) {
    let o = sim.execute(cdb, data, Duration::from_secs(1)).unwrap();
    let sense = (!o.sense.is_empty()).then(|| Sense::decode(&o.sense).unwrap());
    (o.status, sense, o.residual)
}

#[test]
fn reads_across_filemarks_and_end_of_data() {
    let mut r = rig();
    let (a, b) = (block(1, 1000), block(2, 3000));
    assert_eq!(r.drive.write_block(&a).unwrap(), WriteOutcome::Written);
    r.drive.write_filemarks(1).unwrap();
    r.drive.write_block(&b).unwrap();
    r.drive.write_filemarks(1).unwrap();
    r.drive.rewind().unwrap();
    let mut buf = vec![0u8; 4096];
    assert_eq!(r.drive.read_block(&mut buf).unwrap(), ReadOutcome::Data(1000));
    assert_eq!(&buf[..1000], &a[..]);
    assert_eq!(r.drive.read_block(&mut buf).unwrap(), ReadOutcome::Filemark);
    assert_eq!(r.drive.read_block(&mut buf).unwrap(), ReadOutcome::Data(3000));
    assert_eq!(&buf[..3000], &b[..]);
    assert_eq!(r.drive.read_block(&mut buf).unwrap(), ReadOutcome::Filemark);
    assert_eq!(r.drive.read_block(&mut buf).unwrap(), ReadOutcome::EndOfData);
    let p = r.drive.position().unwrap();
    assert_eq!((p.block, p.file), (4, Some(2)));
}

#[test]
fn sense_of_reads_matches_the_matrix() {
    let mut r = rig();
    r.drive.write_block(&block(0, 100)).unwrap();
    r.drive.write_filemarks(1).unwrap();
    r.drive.rewind().unwrap();
    // Block longer than the request: key 0, ILI, INFO = requested - actual (negative).
    let mut buf = [0u8; 40];
    let (st, s, _) = raw(&mut r.sim, &cdb::read6(40, false), DataTransfer::FromDevice(&mut buf));
    let s = s.unwrap();
    assert_eq!(st, ScsiStatus::CheckCondition);
    assert!(s.ili && s.key == SenseKey::NoSense);
    assert_eq!(s.information, Some(-60));
    // Filemark: key 0, FILEMARK, 00/01, INFO = residual, nothing transferred.
    let mut buf = [0u8; 512];
    let (_, s, resid) = raw(&mut r.sim, &cdb::read6(512, false), DataTransfer::FromDevice(&mut buf));
    let s = s.unwrap();
    assert!(s.filemark && s.is(SenseKey::NoSense, 0, 1));
    assert_eq!((s.information, resid), (Some(512), 512));
    // End of data: BLANK CHECK 00/05.
    let (_, s, _) = raw(&mut r.sim, &cdb::read6(512, false), DataTransfer::FromDevice(&mut buf));
    assert!(s.unwrap().is(SenseKey::BlankCheck, 0, 5));
    // Shorter block, SILI = 0: ILI with positive INFO; SILI = 1: GOOD with residual.
    r.drive.rewind().unwrap();
    let (_, s, resid) = raw(&mut r.sim, &cdb::read6(512, false), DataTransfer::FromDevice(&mut buf));
    assert_eq!((s.unwrap().information, resid), (Some(412), 412));
    r.drive.rewind().unwrap();
    let (st, s, resid) = raw(&mut r.sim, &cdb::read6(512, true), DataTransfer::FromDevice(&mut buf));
    assert_eq!((st, s, resid), (ScsiStatus::Good, None, 412));
}

#[test]
fn block_longer_than_buffer_is_reported_and_skipped() {
    let mut r = rig();
    r.drive.write_block(&block(0, 2048)).unwrap();
    r.drive.write_block(&block(9, 10)).unwrap();
    r.drive.rewind().unwrap();
    let mut small = [0u8; 512];
    match r.drive.read_block(&mut small) {
        Err(TapeError::BlockTooLarge { block, buffer }) => assert_eq!((block, buffer), (2048, 512)),
        other => panic!("expected BlockTooLarge, got {other:?}"),
    }
    // Positioned after the long block, as st leaves it.
    assert_eq!(r.drive.read_block(&mut small).unwrap(), ReadOutcome::Data(10));
    assert_eq!(&small[..10], &block(9, 10)[..]);
}

#[test]
fn early_warning_sequence_then_physical_end() {
    // 10 MiB cartridge, 2 MiB early-warning zone: 1 MiB blocks 1–7 are plain writes, the 8th
    // reaches the early-warning point, 9 and 10 still fit, the 11th hits the physical end.
    let mut r = rig_with(CartridgeMeta { early_warning_zone: 2 * MIB, ..CartridgeMeta::new("EW0001L9", 10 * MIB) });
    let b = block(3, MIB as usize);
    let outcomes: Vec<_> = (0..10).map(|_| r.drive.write_block(&b).unwrap()).collect();
    assert!(outcomes[..7].iter().all(|o| *o == WriteOutcome::Written), "{outcomes:?}");
    assert!(outcomes[7..].iter().all(|o| *o == WriteOutcome::EarlyWarning), "{outcomes:?}");
    assert_eq!(r.drive.write_filemarks(1).unwrap(), WriteOutcome::EarlyWarning);
    assert!(matches!(r.drive.write_block(&b), Err(TapeError::EndOfMedium)));
    // Nothing half-written: the refused block is not on the tape.
    assert_eq!(r.drive.position().unwrap().block, 11);
    r.drive.rewind().unwrap();
    r.drive.space_to_end_of_data().unwrap();
    assert_eq!(r.drive.position().unwrap().block, 11);
    // The sense bytes: EW = key 0 + EOM 00/02 INFO 0; physical end = VOLUME OVERFLOW + EOM.
    r.drive.locate(9).unwrap();
    let (_, s, resid) = raw(&mut r.sim, &cdb::write6(MIB as u32), DataTransfer::ToDevice(&b));
    let s = s.unwrap();
    assert!(s.eom && s.is(SenseKey::NoSense, 0, 2));
    assert_eq!((s.information, resid), (Some(0), 0));
    let (_, s, _) = raw(&mut r.sim, &cdb::write6(MIB as u32), DataTransfer::ToDevice(&b));
    let s = s.unwrap();
    assert!(s.eom && s.is(SenseKey::VolumeOverflow, 0, 2));
}

#[test]
fn spacing_and_locating() {
    let mut r = rig();
    for f in 0..3u8 {
        r.drive.write_block(&block(f, 64)).unwrap();
        r.drive.write_block(&block(f, 64)).unwrap();
        r.drive.write_filemarks(1).unwrap();
    }
    r.drive.rewind().unwrap();
    r.drive.space_filemarks(2).unwrap();
    let p = r.drive.position().unwrap();
    assert_eq!((p.block, p.file), (6, Some(2)));
    r.drive.space_filemarks(-1).unwrap();
    assert_eq!(r.drive.position().unwrap().block, 5, "backwards ends before the filemark");
    assert!(matches!(r.drive.space_filemarks(5), Err(TapeError::BeyondEndOfData)));
    assert!(matches!(r.drive.locate(100), Err(TapeError::BeyondEndOfData)));
    r.drive.locate(3).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(r.drive.read_block(&mut buf).unwrap(), ReadOutcome::Data(64));
    assert_eq!(buf[0], 1);
    // SPACE blocks over a filemark: FILEMARK 00/01 with the remaining count; backwards to BOP: 00/04.
    r.drive.rewind().unwrap();
    let (_, s, _) = raw(&mut r.sim, &cdb::space6(cdb::SpaceCode::Blocks, 5), DataTransfer::None);
    let s = s.unwrap();
    assert!(s.filemark && s.is(SenseKey::NoSense, 0, 1));
    assert_eq!(s.information, Some(3));
    let (_, s, _) = raw(&mut r.sim, &cdb::space6(cdb::SpaceCode::Filemarks, -4), DataTransfer::None);
    let s = s.unwrap();
    assert!(s.eom && s.is(SenseKey::NoSense, 0, 4));
    let (_, s, _) = raw(&mut r.sim, &cdb::space6(cdb::SpaceCode::Filemarks, 9), DataTransfer::None);
    let s = s.unwrap();
    assert!(s.is(SenseKey::BlankCheck, 0, 5));
    assert_eq!(s.information, Some(6));
    // Append at end of data.
    r.drive.space_to_end_of_data().unwrap();
    r.drive.write_block(&block(7, 64)).unwrap();
    assert_eq!(r.drive.position().unwrap().file, Some(3));
}

#[test]
fn writing_in_the_middle_erases_the_rest() {
    let mut r = rig();
    for i in 0..5 {
        r.drive.write_block(&block(i, 128)).unwrap();
    }
    r.drive.locate(2).unwrap();
    r.drive.write_filemarks(1).unwrap();
    r.drive.rewind().unwrap();
    r.drive.space_to_end_of_data().unwrap();
    assert_eq!(r.drive.position().unwrap().block, 3);
}

#[test]
fn write_protected_cartridge() {
    let mut r = rig_with(CartridgeMeta { write_protected: true, ..CartridgeMeta::new("WP0001L9", 8 * MIB) });
    assert!(matches!(r.drive.write_block(b"x"), Err(TapeError::WriteProtected)));
    assert!(matches!(r.drive.write_filemarks(1), Err(TapeError::WriteProtected)));
    assert!(r.drive.medium_parameters().unwrap().write_protected);
}

#[test]
fn empty_drive_and_unit_attentions() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimTapeDrive::new("d", TapeDriveConfig::default());
    let mut drive = SscDrive::with_policy(sim.clone(), RetryPolicy::immediate());
    assert!(matches!(drive.ready(), Err(TapeError::NoMedium)));
    assert!(matches!(drive.rewind(), Err(TapeError::NoMedium)));
    let (_, s, _) = raw(&mut sim.clone(), &cdb::test_unit_ready(), DataTransfer::None);
    assert!(s.unwrap().is(SenseKey::NotReady, 0x3a, 0));
    sim.insert(Cartridge::create(&dir.path().join("C"), CartridgeMeta::new("C", 4 * MIB)).unwrap()).unwrap();
    // Medium changed: 06/28/00 on the next command; waiting for ready absorbs it and the
    // position (unknown since the power-on attention) is the beginning of the tape again.
    drive.ready().unwrap();
    drive.write_block(b"data").unwrap();
    let other = SimTapeDrive::new("e", TapeDriveConfig::default());
    other.insert(Cartridge::create(&dir.path().join("D"), CartridgeMeta::new("D", 4 * MIB)).unwrap()).unwrap();
    let (_, s, _) = raw(&mut other.clone(), &cdb::test_unit_ready(), DataTransfer::None);
    assert!(s.unwrap().is(SenseKey::UnitAttention, 0x28, 0));
    let (st, _, _) = raw(&mut other.clone(), &cdb::test_unit_ready(), DataTransfer::None);
    assert_eq!(st, ScsiStatus::Good);
    // Power-on reset: 06/29/00, position unknown until the tape is positioned again.
    sim.power_on_reset();
    assert!(matches!(drive.write_block(b"more"), Err(TapeError::PositionUnknown)));
    assert!(matches!(drive.read_block(&mut [0u8; 8]), Err(TapeError::PositionUnknown)));
    drive.rewind().unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(drive.read_block(&mut buf).unwrap(), ReadOutcome::Data(4));
}

#[test]
fn injected_faults_give_specific_errors() {
    let mut r = rig();
    r.drive.write_block(&block(0, 100)).unwrap();
    r.sim.set_faults(TapeFaults { write_error_at_object: Some(1), ..TapeFaults::default() });
    match r.drive.write_block(&block(1, 100)) {
        Err(e @ TapeError::Medium(_)) => assert!(e.to_string().contains("Write error") && e.is_medium_fault()),
        other => panic!("{other:?}"),
    }
    r.sim.set_faults(TapeFaults { read_error_at_object: Some(0), ..TapeFaults::default() });
    r.drive.rewind().unwrap();
    match r.drive.read_block(&mut [0u8; 100]) {
        Err(e @ TapeError::Medium(_)) => assert!(e.to_string().contains("Unrecovered read error")),
        other => panic!("{other:?}"),
    }
    r.sim.set_faults(TapeFaults { flip_bit_at_object: Some(0), ..TapeFaults::default() });
    let mut buf = [0u8; 100];
    r.drive.read_block(&mut buf).unwrap();
    assert_ne!(&buf[..], &block(0, 100)[..], "bit flip must corrupt the data returned");
    r.sim.set_faults(TapeFaults { offline: true, ..TapeFaults::default() });
    match r.drive.ready() {
        Err(TapeError::NotReady(why)) => assert!(why.contains("offline"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Pause mode and becoming ready are retried by the driver until they pass.
    r.sim.set_faults(TapeFaults { vendor_pause: 2, becoming_ready: 2, ..TapeFaults::default() });
    r.drive.ready().unwrap();
    // Endless pause: reported, not hung.
    r.sim.set_faults(TapeFaults { vendor_pause: 100, ..TapeFaults::default() });
    assert!(matches!(r.drive.ready(), Err(TapeError::NotReady(why)) if why.contains("ASCQ=85")));
    r.sim.set_faults(TapeFaults { early_end_of_medium: Some(300), ..TapeFaults::default() });
    r.drive.rewind().unwrap();
    r.drive.write_block(&block(0, 200)).unwrap_or(WriteOutcome::Written);
    assert!(matches!(r.drive.write_block(&block(0, 200)), Err(TapeError::EndOfMedium)));
    r.sim.set_faults(TapeFaults { load_failure: true, ..TapeFaults::default() });
    r.drive.unload().unwrap();
    match r.drive.load() {
        Err(e @ TapeError::Medium(_)) => assert!(e.to_string().contains("load or eject failed")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn limits_modes_and_tape_alerts() {
    let mut r = rig();
    let l = r.drive.block_limits().unwrap();
    assert_eq!((l.min, l.max), (1, 0xff_ffff));
    r.drive.set_parameters(0, Some(false)).unwrap();
    let p = r.drive.medium_parameters().unwrap();
    assert_eq!((p.block_length, p.compression, p.density_code), (0, Some(false), 0x60));
    assert!(r.drive.set_parameters(0x100_0000 - 1, None).is_ok());
    r.drive.set_parameters(0, None).unwrap();
    assert!(r.drive.tape_alerts().unwrap().flags().is_empty());
    r.sim.raise_tape_alert(0x14);
    let flags = r.drive.tape_alerts().unwrap().flags();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].name, "clean now");
    // Drives without page 0x12: the driver falls back to page 0x2E and reads the same flags.
    r.sim.set_faults(TapeFaults { no_tape_alert_response_page: true, ..TapeFaults::default() });
    let flags = r.drive.tape_alerts().unwrap().flags();
    assert_eq!(flags.iter().map(|f| f.flag).collect::<Vec<_>>(), [0x14]);
    r.sim.set_faults(TapeFaults::default());
    // Illegal CDB field: 05/24/00 with a field pointer.
    let (_, s, _) = raw(&mut r.sim, &cdb::mode_sense6(0x2a, 255), DataTransfer::FromDevice(&mut [0u8; 255]));
    let s = s.unwrap();
    assert!(s.is(SenseKey::IllegalRequest, 0x24, 0));
    assert_eq!(s.sense_key_specific, Some([0xc0, 0, 2]));
    let id = r.drive.identity().unwrap();
    assert_eq!((id.vendor.as_str(), id.serial.as_str()), ("IBM", "SIMTD90001"));
}

#[test]
fn cartridge_contents_survive_unload_and_a_new_drive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("P00001L9");
    {
        let sim = SimTapeDrive::new("a", TapeDriveConfig::default());
        sim.insert(Cartridge::create(&path, CartridgeMeta::new("P00001L9", 4 * MIB)).unwrap()).unwrap();
        let mut d = SscDrive::with_policy(sim.clone(), RetryPolicy::immediate());
        d.write_block(b"persisted").unwrap();
        d.write_filemarks(1).unwrap();
        d.unload().unwrap();
        let c = sim.take().unwrap();
        assert_eq!(c.objects().len(), 2);
    }
    let sim = SimTapeDrive::new("b", TapeDriveConfig::default());
    sim.insert(Cartridge::open(&path).unwrap()).unwrap();
    let mut d = SscDrive::with_policy(sim, RetryPolicy::immediate());
    let mut buf = [0u8; 64];
    assert_eq!(d.read_block(&mut buf).unwrap(), ReadOutcome::Data(9));
    assert_eq!(&buf[..9], b"persisted");
}

mod model {
    //! Property: any sequence of block and filemark writes reads back as written.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Block(u8, usize),
        Filemark,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![(any::<u8>(), 1usize..3000).prop_map(|(t, n)| Op::Block(t, n)), Just(Op::Filemark)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn read_back_equals_written(ops in proptest::collection::vec(op(), 0..40)) {
            let mut r = rig();
            for o in &ops {
                match o {
                    Op::Block(t, n) => { r.drive.write_block(&block(*t, *n)).unwrap(); }
                    Op::Filemark => { r.drive.write_filemarks(1).unwrap(); }
                }
            }
            r.drive.rewind().unwrap();
            let mut buf = vec![0u8; 4096];
            for o in &ops {
                match (o, r.drive.read_block(&mut buf).unwrap()) {
                    (Op::Block(t, n), ReadOutcome::Data(m)) => { prop_assert_eq!(m, *n); prop_assert_eq!(&buf[..m], &block(*t, *n)[..]); }
                    (Op::Filemark, ReadOutcome::Filemark) => {}
                    (o, got) => prop_assert!(false, "expected {:?}, got {:?}", o, got),
                }
            }
            prop_assert_eq!(r.drive.read_block(&mut buf).unwrap(), ReadOutcome::EndOfData);
        }
    }
}

#[test]
fn blocks_outside_the_drive_limits_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimTapeDrive::new("small", TapeDriveConfig { max_block: 65_536, min_block: 512, ..TapeDriveConfig::default() });
    sim.insert(Cartridge::create(&dir.path().join("L"), CartridgeMeta::new("L", 8 * MIB)).unwrap()).unwrap();
    let mut d = SscDrive::with_policy(sim.clone(), RetryPolicy::immediate());
    d.ready().unwrap();
    assert!(matches!(d.write_block(&[0u8; 100_000]), Err(TapeError::BadBlockLength(100_000))));
    assert!(matches!(d.write_block(&[0u8; 100]), Err(TapeError::BadBlockLength(100))));
    d.write_block(&[1u8; 65_536]).unwrap();
    assert_eq!(d.position().unwrap().block, 1, "only the valid block reached the tape");
    // Sent anyway (raw), the drive itself refuses with 05/24/00.
    let (_, s, _) = raw(&mut sim.clone(), &cdb::write6(100_000), DataTransfer::ToDevice(&[0u8; 100_000]));
    assert!(s.unwrap().is(SenseKey::IllegalRequest, 0x24, 0));
}

mod garbage {
    //! Property: no CDB, however malformed, panics a simulated target.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_cdb_gets_an_answer(len in prop_oneof![Just(6usize), Just(10), Just(12), Just(16)],
                                  bytes in proptest::collection::vec(any::<u8>(), 16),
                                  data_len in 0usize..4096, to_device: bool) {
            let mut r = rig();
            let cdb = &bytes[..len];
            let mut buf = vec![0u8; data_len];
            let data = if to_device { DataTransfer::ToDevice(&buf[..]) } else { DataTransfer::FromDevice(&mut buf[..]) };
            prop_assert!(r.sim.execute(cdb, data, Duration::from_secs(1)).is_ok());
        }
    }
}
