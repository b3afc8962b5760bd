//! `asto image build|verify` end to end: the real binary, real files, real readers.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};

use asto_tests::{asto, asto_ok};

fn tree(root: &Path) {
    fs::create_dir_all(root.join("obs/night 1")).unwrap();
    fs::write(root.join("obs/night 1/frame 'a'.fits"), vec![42u8; 70_000]).unwrap();
    fs::write(root.join("obs/empty"), b"").unwrap();
    fs::write(root.join("README"), b"archive unit\n").unwrap();
    symlink("obs/empty", root.join("link")).unwrap();
}

fn build(format: &str, src: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = asto(["image", "build", "--format", format, "--volid", "ARC-TEST-000007"]);
    cmd.args(extra).arg("--out").arg(out).arg(src).env("SOURCE_DATE_EPOCH", "1700000000");
    cmd.output().unwrap()
}

#[test]
fn build_then_verify_iso_and_tar() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src);
    for (format, extra) in [("iso", &[][..]), ("tar", &["--block-size", "65536"][..])] {
        let out = dir.path().join(format!("unit.{format}"));
        let o = build(format, &src, &out, extra);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let listing = asto_ok(["image", "verify"].map(std::ffi::OsString::from).into_iter().chain([out.clone().into()]));
        assert!(listing.contains("obs/night 1/frame 'a'.fits"), "{listing}");
        assert!(listing.contains("all match"), "{listing}");
        let json: serde_json::Value =
            serde_json::from_str(&asto_ok([std::ffi::OsStr::new("--json"), "image".as_ref(), "verify".as_ref(), out.as_os_str()])).unwrap();
        assert_eq!(json["ok"], true);
        assert_eq!(json["unit"], "ARC-TEST-000007");
        assert_eq!(json["files"].as_array().unwrap().len(), 3);
        if format == "tar" {
            assert_eq!(fs::metadata(&out).unwrap().len() % 65536, 0);
        }
    }
}

#[test]
fn verify_fails_on_a_corrupted_image() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src);
    let out = dir.path().join("unit.iso");
    assert!(build("iso", &src, &out, &[]).status.success());
    let mut bytes = fs::read(&out).unwrap();
    let at = bytes.windows(8).position(|w| w == [42u8; 8]).unwrap();
    bytes[at] = 0;
    fs::write(&out, bytes).unwrap();
    let o = asto(["image", "verify"]).arg(&out).output().unwrap();
    assert!(!o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("PROBLEM") && text.contains("frame 'a'.fits"), "{text}");
}

#[test]
fn stdout_output_equals_the_file_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src);
    let out = dir.path().join("unit.tar");
    assert!(build("tar", &src, &out, &[]).status.success());
    let o = build("tar", &src, Path::new("-"), &[]);
    assert!(o.status.success());
    assert!(o.stdout == fs::read(&out).unwrap(), "stdout differs from the file");
    // GNU tar reads it with the matching blocking factor.
    let mut tar = Command::new("tar").args(["-t", "-b", "512", "-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    tar.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let listed = tar.wait_with_output().unwrap();
    assert!(listed.status.success());
    let names = String::from_utf8_lossy(&listed.stdout);
    assert!(names.starts_with("MANIFEST.json\nSHA256SUMS\n"), "{names}");
}

#[test]
fn refuses_too_small_media_and_bad_input_without_leaving_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src);
    let out = dir.path().join("unit.iso");
    let o = build("iso", &src, &out, &["--capacity", "4096"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not fit"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(fs::read_dir(dir.path()).unwrap().all(|e| e.unwrap().file_name() == "src"), "something was written");

    let o = build("tar", &src, &out, &["--block-size", "1000"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("record size"));

    let o = build("iso", &dir.path().join("missing"), &out, &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));

    nix::unistd::mkfifo(&src.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let o = build("iso", &src, &out, &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("FIFO"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists());
}
