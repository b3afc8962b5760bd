//! ISO images written by asto, read back by xorriso, bsdtar, isoinfo and asto's own reader.

mod common;

use std::fs;
use std::process::Command;

use asto_images::iso::{plan, IsoOptions};
use asto_images::{MANIFEST_NAME, SUMS_NAME};
use common::*;

const META: [&str; 2] = [MANIFEST_NAME, SUMS_NAME];

fn written() -> (tempfile::TempDir, std::path::PathBuf, asto_images::iso::IsoPlan) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    hostile_tree(&src);
    let unit = unit_of(&src, "ARC-DVD-000042");
    let plan = plan(&unit, &IsoOptions::default()).unwrap();
    let mut bytes = Vec::new();
    let summary = plan.write_to(&mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, plan.total_bytes());
    assert_eq!(summary.bytes, plan.total_bytes());
    let iso = dir.path().join("unit.iso");
    fs::write(&iso, &bytes).unwrap();
    (dir, iso, plan)
}

#[test]
fn xorriso_extracts_the_same_tree_and_sha256sum_passes() {
    let (dir, iso, _) = written();
    let out = dir.path().join("x");
    run(Command::new("xorriso").args(["-abort_on", "FAILURE", "-return_with", "WARNING", "32", "-osirrox", "on", "-indev"]).arg(&iso).args(["-extract", "/"]).arg(&out));
    assert_same_tree(&dir.path().join("src"), &out, &META);
    run(Command::new("sha256sum").args(["--quiet", "-c", SUMS_NAME]).current_dir(&out));
}

#[test]
fn bsdtar_extracts_the_same_tree() {
    let (dir, iso, _) = written();
    let out = dir.path().join("b");
    fs::create_dir(&out).unwrap();
    run(Command::new("bsdtar").args(["-x", "-p", "-f"]).arg(&iso).arg("-C").arg(&out));
    assert_same_tree(&dir.path().join("src"), &out, &META);
}
