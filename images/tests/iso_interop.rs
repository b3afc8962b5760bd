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

#[test]
fn isoinfo_sees_rock_ridge_joliet_and_the_volume_id() {
    let (_dir, iso, _) = written();
    let pvd = run(Command::new("isoinfo").arg("-d").arg("-i").arg(&iso));
    assert!(pvd.contains("Volume id: ARC-DVD-000042"), "{pvd}");
    assert!(pvd.contains("Rock Ridge signatures version 1 found"), "{pvd}");
    assert!(pvd.contains("Joliet with UCS level 3 found"), "{pvd}");
    let rr = run(Command::new("isoinfo").args(["-R", "-l", "-i"]).arg(&iso));
    assert!(rr.contains(&"n".repeat(255)), "255-byte Rock Ridge name missing");
    assert!(rr.contains("日本語のファイル名.dat"));
    assert!(rr.contains("lrwxrwxrwx"), "symlink not listed as such");
    let joliet = run(Command::new("isoinfo").args(["-J", "-l", "-i"]).arg(&iso));
    // 101-character names shortened to 64 UCS-2 characters, uniquely.
    assert!(joliet.contains(&format!("  {} ", "j".repeat(64))) || joliet.contains(&format!(" {}\n", "j".repeat(64))), "{joliet}");
    assert!(joliet.contains(&format!("{}~1", "j".repeat(62))), "{joliet}");
    assert!(!joliet.contains("rel-link"), "symlinks do not belong in the Joliet tree");
    // isoinfo cannot print CJK from Joliet; xorriso's Joliet loader can.
    let joliet_tree = run(Command::new("xorriso").args(["-rockridge", "off", "-joliet", "on", "-indev"]).arg(&iso).args(["-find", "/"]));
    assert!(joliet_tree.contains("'/ünïcödé/日本語のファイル名.dat'"), "{joliet_tree}");
    assert!(joliet_tree.contains("'/case/Name'") && joliet_tree.contains("'/case/name'"), "{joliet_tree}");
    // genisoimage's structural checker (path tables, record layout, extents).
    let vfy = run(Command::new("isovfy").arg(&iso));
    assert!(vfy.contains("No errors found"), "{vfy}");
    let plain = run(Command::new("isoinfo").args(["-l", "-i"]).arg(&iso));
    assert!(plain.contains("PLAIN.TXT;1"), "{plain}");
}

#[test]
fn own_reader_checks_every_file_and_reports_corruption() {
    let (_dir, iso, plan) = written();
    let mut bytes = fs::read(&iso).unwrap();
    let good = asto_images::read::read_iso(&bytes[..]).unwrap();
    assert!(good.problems.is_empty(), "{:?}", good.problems);
    assert_eq!(good.volume_id.as_deref(), Some("ARC-DVD-000042"));
    let names: Vec<_> = good.files.iter().map(|f| f.path.as_str()).collect();
    assert!(names.contains(&"new\nline"));
    assert_eq!(good.files.len(), good.manifest.as_ref().unwrap().files.len());
    let e = plan.extents().iter().find(|e| e.path == "data/big.bin").unwrap();
    bytes[e.byte_offset as usize + 7] ^= 1;
    let bad = asto_images::read::read_iso(&bytes[..]).unwrap();
    assert!(bad.problems.iter().any(|p| p.contains("data/big.bin")), "{:?}", bad.problems);
}

#[test]
fn same_unit_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tree(dir.path());
    let unit = unit_of(dir.path(), "V");
    let p = plan(&unit, &IsoOptions::default()).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let sa = p.write_to(&mut a).unwrap();
    plan(&unit, &IsoOptions::default()).unwrap().write_to(&mut b).unwrap();
    assert!(a == b);
    use sha2::Digest;
    assert_eq!(sa.image_sha256, <[u8; 32]>::from(sha2::Sha256::digest(&a)));
}
