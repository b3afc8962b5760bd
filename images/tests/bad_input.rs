//! Bad input gets a clear error naming the problem, before or instead of a good-looking image.

mod common;

use std::fs;

use asto_images::iso::{self, IsoOptions};
use asto_images::tar::{self, TarOptions};
use asto_images::{check_capacity, Entry, EntryKind, ImageError, Timestamp, UnitContent};

fn unit(entries: Vec<Entry>) -> UnitContent {
    UnitContent { volume_id: "ARC-TEST-1".into(), request: "r".into(), created: Timestamp::new(1, 0), entries }
}

fn file(path: &str, source: &std::path::Path, size: u64, sha256: Option<[u8; 32]>) -> Entry {
    Entry {
        path: path.into(),
        kind: EntryKind::File { source: source.to_owned(), size, sha256 },
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: Timestamp::new(1, 0),
    }
}

/// Both writers, on the same unit.
fn write_both(u: &UnitContent) -> [Result<(), ImageError>; 2] {
    let iso = iso::plan(u, &IsoOptions::default()).and_then(|p| p.write_to(std::io::sink()).map(|_| ()));
    let tar = tar::plan(u, &TarOptions::default()).and_then(|p| p.write_to(std::io::sink()).map(|_| ()));
    [iso, tar]
}

#[test]
fn vanished_and_unreadable_sources_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    for r in write_both(&unit(vec![file("a", &gone, 3, None)])) {
        let e = r.unwrap_err();
        assert!(matches!(e, ImageError::Unreadable { .. }), "{e}");
        assert!(e.to_string().contains("gone"), "{e}");
    }
    // A directory where a file was planned cannot be read as one.
    for r in write_both(&unit(vec![file("a", dir.path(), 3, None)])) {
        assert!(matches!(r, Err(ImageError::Unreadable { .. })), "{r:?}");
    }
}

#[test]
fn a_file_that_changes_size_after_planning_fails_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("growing.fits");
    fs::write(&p, vec![7u8; 10_000]).unwrap();
    let u = unit(vec![file("growing.fits", &p, 10_000, None)]);
    let iso_plan = iso::plan(&u, &IsoOptions::default()).unwrap();
    let tar_plan = tar::plan(&u, &TarOptions::default()).unwrap();
    fs::write(&p, vec![7u8; 10_001]).unwrap();
    for r in [iso_plan.write_to(std::io::sink()).map(|_| ()), tar_plan.write_to(std::io::sink()).map(|_| ())] {
        let e = r.unwrap_err();
        assert!(matches!(e, ImageError::SourceChanged { .. }), "{e}");
        assert!(e.to_string().contains("growing.fits") && e.to_string().contains("longer"), "{e}");
    }
    fs::write(&p, vec![7u8; 9_000]).unwrap();
    let e = iso_plan.write_to(std::io::sink()).unwrap_err();
    assert!(e.to_string().contains("ended after 9000"), "{e}");
}

#[test]
fn content_that_differs_from_the_ingest_checksum_fails_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    fs::write(&p, b"changed").unwrap();
    for r in write_both(&unit(vec![file("f", &p, 7, Some([0xaa; 32]))])) {
        let e = r.unwrap_err();
        assert!(matches!(e, ImageError::SourceChanged { .. }), "{e}");
        assert!(e.to_string().contains("recorded"), "{e}");
    }
}

#[test]
fn bad_paths_and_volume_ids_are_refused_at_planning() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    fs::write(&p, b"x").unwrap();
    for bad in ["../escape", "/abs", "a//b", "SHA256SUMS", "MANIFEST.json"] {
        let u = unit(vec![file(bad, &p, 1, None)]);
        assert!(matches!(iso::plan(&u, &IsoOptions::default()), Err(ImageError::BadPath { .. })), "{bad}");
        assert!(matches!(tar::plan(&u, &TarOptions::default()), Err(ImageError::BadPath { .. })), "{bad}");
    }
    let mut u = unit(vec![file("f", &p, 1, None)]);
    u.volume_id = "X".repeat(33);
    assert!(matches!(iso::plan(&u, &IsoOptions::default()), Err(ImageError::BadVolumeId { .. })));
}

#[test]
fn an_image_larger_than_the_medium_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    fs::write(&p, vec![1u8; 100_000]).unwrap();
    let plan = iso::plan(&unit(vec![file("f", &p, 100_000, None)]), &IsoOptions::default()).unwrap();
    let e = check_capacity(plan.total_bytes(), 64 * 1024).unwrap_err();
    assert!(matches!(e, ImageError::DoesNotFit { .. }), "{e}");
    assert!(check_capacity(plan.total_bytes(), plan.total_bytes()).is_ok());
}
