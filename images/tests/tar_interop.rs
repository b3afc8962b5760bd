//! Tar streams written by asto, read back by GNU tar, bsdtar and asto's own reader.

mod common;

use std::fs;
use std::process::Command;

use asto_images::read::read_tar;
use asto_images::tar::{plan, TarOptions};
use asto_images::{MANIFEST_NAME, SUMS_NAME};
use common::*;

const META: [&str; 2] = [MANIFEST_NAME, SUMS_NAME];

fn written(record_size: usize) -> (tempfile::TempDir, Vec<u8>, asto_images::tar::TarPlan) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    hostile_tree(&src);
    let unit = unit_of(&src, "ARC-LTO-000042");
    let plan = plan(&unit, &TarOptions { record_size }).unwrap();
    let mut bytes = Vec::new();
    let summary = plan.write_to(&mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, plan.total_bytes());
    assert_eq!(summary.bytes, plan.total_bytes());
    (dir, bytes, plan)
}

#[test]
fn gnu_tar_extracts_the_same_tree_and_sha256sum_passes() {
    let (dir, bytes, _) = written(128 * 1024);
    let tar = dir.path().join("unit.tar");
    fs::write(&tar, &bytes).unwrap();
    let out = dir.path().join("gnu");
    fs::create_dir(&out).unwrap();
    run(Command::new("tar").args(["-x", "-b", "256", "-p", "-f"]).arg(&tar).arg("-C").arg(&out));
    assert_same_tree(&dir.path().join("src"), &out, &META);
    run(Command::new("sha256sum").args(["--quiet", "-c", SUMS_NAME]).current_dir(&out));
    // Sub-second mtime survives through pax.
    let list = run(Command::new("tar").args(["--full-time", "-tvf"]).arg(&tar));
    assert!(list.lines().next().unwrap().ends_with(MANIFEST_NAME), "manifest is not the first member:\n{list}");
    let meta = fs::metadata(out.join("data/big.bin")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.mtime(), meta.mtime_nsec()), (1_600_000_000, 250_000_000));
}

#[test]
fn bsdtar_extracts_the_same_tree() {
    let (dir, bytes, _) = written(256 * 1024);
    let out = dir.path().join("bsd");
    fs::create_dir(&out).unwrap();
    let mut child = Command::new("bsdtar")
        .args(["-x", "-p", "-f", "-", "-C"])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert!(child.wait().unwrap().success());
    assert_same_tree(&dir.path().join("src"), &out, &META);
}

#[test]
fn one_member_extracts_alone_from_its_offset() {
    let (dir, bytes, plan) = written(64 * 1024);
    let m = plan.members().iter().find(|m| m.path.ends_with("bottom.txt")).unwrap();
    let tail = dir.path().join("tail.tar");
    fs::write(&tail, &bytes[m.header_offset as usize..]).unwrap();
    let out = run(Command::new("tar").args(["-x", "-O", "-f"]).arg(&tail).arg(&m.path));
    assert_eq!(out, "deep");
    assert_eq!(&bytes[m.data_offset as usize..][..4], b"deep");
}

#[test]
fn own_reader_checks_every_file_and_reports_corruption() {
    let (_dir, mut bytes, plan) = written(64 * 1024);
    let good = read_tar(&bytes[..]).unwrap();
    assert!(good.problems.is_empty(), "{:?}", good.problems);
    assert_eq!(good.volume_id.as_deref(), Some("ARC-LTO-000042"));
    assert_eq!(good.files.len(), good.manifest.as_ref().unwrap().files.len());
    let m = plan.members().iter().find(|m| m.path == "data/big.bin").unwrap();
    bytes[m.data_offset as usize + 1000] ^= 0xff;
    let bad = read_tar(&bytes[..]).unwrap();
    assert!(bad.problems.iter().any(|p| p.contains("data/big.bin")), "{:?}", bad.problems);
}

#[test]
fn own_reader_lists_archives_written_by_gnu_tar() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    hostile_tree(&src);
    // GNU format (././@LongLink names) and POSIX format from another writer.
    for format in ["gnu", "posix", "ustar"] {
        let tar = dir.path().join(format!("{format}.tar"));
        let status = Command::new("tar")
            .args([&format!("--format={format}"), "-cf"])
            .arg(&tar)
            .arg("-C")
            .arg(&src)
            .arg(".")
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        // ustar cannot hold every hostile name; GNU tar then exits 2 but writes the rest.
        assert!(status.success() || format == "ustar", "{format}: {status}");
        let read = asto_images::read::read_tar(fs::File::open(&tar).unwrap()).unwrap();
        let long = read.files.iter().find(|f| f.path == "n".repeat(255));
        if format != "ustar" {
            let long = long.unwrap_or_else(|| panic!("{format}: 255-byte name not read"));
            assert_eq!(long.size, 13);
        }
        let plain = read.files.iter().find(|f| f.path == "plain.txt").unwrap();
        use sha2::Digest;
        assert_eq!(plain.sha256, <[u8; 32]>::from(sha2::Sha256::digest(b"plain\n")));
        assert!(read.problems.iter().any(|p| p.contains(SUMS_NAME)), "a foreign archive has no checksum list");
    }
}
