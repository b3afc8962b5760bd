//! Property tests: any tree of files written by either writer reads back with no problems
//! and the same checksums; corrupted or truncated streams give problems or errors, never a
//! panic and never a clean bill of health for changed data.

use std::fs;

use asto_images::iso::{self, IsoOptions};
use asto_images::read::{read_iso, read_tar};
use asto_images::tar::{self, TarOptions};
use asto_images::{Entry, EntryKind, Timestamp, UnitContent};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn unit_from(dir: &std::path::Path, files: &[(String, Vec<u8>)]) -> UnitContent {
    let mut entries = Vec::new();
    for (i, (name, data)) in files.iter().enumerate() {
        let src = dir.join(format!("src{i}"));
        fs::write(&src, data).unwrap();
        entries.push(Entry {
            path: name.clone(),
            kind: EntryKind::File { source: src, size: data.len() as u64, sha256: None },
            mode: 0o644,
            uid: 1000,
            gid: 1000,
            mtime: Timestamp::new(1_600_000_000 + i as i64, (i as u32) * 1000),
        });
    }
    UnitContent { volume_id: "ARC-PROP-000001".into(), request: "p".into(), created: Timestamp::new(1, 0), entries }
}

/// Paths of one to three components from a mixed alphabet, deduplicated.
fn tree() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = "[a-zA-Z0-9 ._é日-]{1,40}".prop_filter("not . or ..", |s| s != "." && s != "..");
    let path = proptest::collection::vec(name, 1..3).prop_map(|c| c.join("/"));
    proptest::collection::btree_map(path, proptest::collection::vec(any::<u8>(), 0..5000), 1..12).prop_map(|m| {
        // A path cannot be both a file and a parent directory.
        let keys: Vec<String> = m.keys().cloned().collect();
        m.into_iter().filter(|(k, _)| !keys.iter().any(|o| o.starts_with(&format!("{k}/")))).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn both_formats_read_back_what_was_written(files in tree(), flip in any::<prop::sample::Index>()) {
        let dir = tempfile::tempdir().unwrap();
        let unit = unit_from(dir.path(), &files);
        let mut iso_bytes = Vec::new();
        let iso_plan = iso::plan(&unit, &IsoOptions::default()).unwrap();
        iso_plan.write_to(&mut iso_bytes).unwrap();
        let mut tar_bytes = Vec::new();
        let tar_plan = tar::plan(&unit, &TarOptions { record_size: 64 * 1024 }).unwrap();
        tar_plan.write_to(&mut tar_bytes).unwrap();
        let expected: std::collections::BTreeMap<String, [u8; 32]> =
            files.iter().map(|(p, d)| (p.clone(), Sha256::digest(d).into())).collect();
        for read in [read_iso(&iso_bytes[..]).unwrap(), read_tar(&tar_bytes[..]).unwrap()] {
            prop_assert!(read.problems.is_empty(), "{:?}", read.problems);
            let got: std::collections::BTreeMap<String, [u8; 32]> =
                read.files.iter().map(|f| (f.path.clone(), f.sha256)).collect();
            prop_assert_eq!(&got, &expected);
        }
        // Flip one byte of one file's data: the readers must notice.
        if let Some(e) = iso_plan.extents().iter().find(|e| e.size > 0 && !e.path.contains("MANIFEST") && !e.path.contains("SHA256")) {
            let at = e.byte_offset as usize + flip.index(e.size as usize);
            iso_bytes[at] ^= 0x5a;
            let read = read_iso(&iso_bytes[..]).unwrap();
            prop_assert!(read.problems.iter().any(|p| p.contains(&format!("{:?}", e.path))), "{:?}", read.problems);
        }
        if let Some(m) = tar_plan.members().iter().filter(|m| m.size > 0).nth(2) {
            let at = m.data_offset as usize + flip.index(m.size as usize);
            tar_bytes[at] ^= 0x5a;
            let read = read_tar(&tar_bytes[..]).unwrap();
            prop_assert!(!read.problems.is_empty());
        }
    }

    #[test]
    fn damaged_streams_never_panic(files in tree(), cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..40), keep in any::<prop::sample::Index>()) {
        let dir = tempfile::tempdir().unwrap();
        let unit = unit_from(dir.path(), &files);
        let mut iso_bytes = Vec::new();
        iso::plan(&unit, &IsoOptions::default()).unwrap().write_to(&mut iso_bytes).unwrap();
        let mut tar_bytes = Vec::new();
        tar::plan(&unit, &TarOptions { record_size: 64 * 1024 }).unwrap().write_to(&mut tar_bytes).unwrap();
        for (at, byte) in &cuts {
            // Damage the metadata region, where parsers are exercised.
            let i = at.index(iso_bytes.len().min(64 * 1024));
            iso_bytes[i] = *byte;
            let j = at.index(tar_bytes.len().min(8 * 1024));
            tar_bytes[j] = *byte;
        }
        let _ = read_iso(&iso_bytes[..]);
        let _ = read_tar(&tar_bytes[..]);
        let _ = read_iso(&iso_bytes[..keep.index(iso_bytes.len())]);
        let _ = read_tar(&tar_bytes[..keep.index(tar_bytes.len())]);
    }
}

#[test]
fn an_empty_unit_still_carries_its_manifest() {
    let unit = UnitContent { volume_id: "EMPTY".into(), request: "r".into(), created: Timestamp::new(0, 0), entries: vec![] };
    let mut iso_bytes = Vec::new();
    iso::plan(&unit, &IsoOptions::default()).unwrap().write_to(&mut iso_bytes).unwrap();
    let mut tar_bytes = Vec::new();
    tar::plan(&unit, &TarOptions::default()).unwrap().write_to(&mut tar_bytes).unwrap();
    for read in [read_iso(&iso_bytes[..]).unwrap(), read_tar(&tar_bytes[..]).unwrap()] {
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert!(read.files.is_empty());
        assert_eq!(read.manifest.unwrap().unit, "EMPTY");
    }
}

#[test]
fn iso_reader_stops_at_the_volume_size_and_notices_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_from(dir.path(), &[("a/b.fits".into(), vec![9u8; 10_000])]);
    let mut bytes = Vec::new();
    let plan = iso::plan(&unit, &IsoOptions::default()).unwrap();
    plan.write_to(&mut bytes).unwrap();
    let total = bytes.len();
    // A drive may return run-out after the image: it is not part of it.
    bytes.extend(std::iter::repeat_n(0xffu8, 1 << 20));
    let read = read_iso(&bytes[..]).unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    // A short read-back is an error, not a clean result.
    let err = read_iso(&bytes[..total - 2048]).unwrap_err();
    assert!(err.to_string().contains("ends early"), "{err}");
}
