//! Shared fixtures for the interoperability tests: a hostile source tree, a unit built from
//! it, tree comparison, and running external tools.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use asto_images::{scan_directory, Timestamp, UnitContent};

/// A tree with the names and shapes that break naive writers.
pub fn hostile_tree(root: &Path) {
    let w = |rel: &str, data: &[u8]| {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
    };
    w("plain.txt", b"plain\n");
    w("empty", b"");
    w("ünïcödé/日本語のファイル名.dat", "non-ascii".as_bytes());
    w(&"n".repeat(255), b"255-byte name");
    w(&format!("long/{}.fits", "é".repeat(120)), b"255-byte utf-8 name");
    w("case/Name", b"upper");
    w("case/name", b"lower");
    w("case/NAME", b"all upper");
    w("sp ace/it's \"quoted\" $(x) `y` & ; | * ? [a] {b} #!~", b"metacharacters");
    w("back\\slash", b"backslash");
    w("new\nline", b"newline in name");
    let deep: String = (0..40).map(|i| format!("level{i:02}/")).collect();
    w(&format!("{deep}bottom.txt"), b"deep");
    fs::create_dir_all(root.join("empty-dir/nested-empty")).unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    w("data/big.bin", &big);
    w("data/thirty-character-long-name-x.fits.gz", b"gz");
    w("data/thirty-character-long-name-y.fits.gz", b"gz2");
    w(&format!("joliet/{}", "j".repeat(100)), b"joliet-1");
    w(&format!("joliet/{}2", "j".repeat(100)), b"joliet-2");
    fs::hard_link(root.join("plain.txt"), root.join("hardlink.txt")).unwrap();
    symlink("plain.txt", root.join("rel-link")).unwrap();
    symlink("/etc/hostname", root.join("abs-link")).unwrap();
    symlink("../data/big.bin", root.join("case/up-link")).unwrap();
    symlink(format!("{}/x", "t".repeat(300)), root.join("long-link")).unwrap();
    fs::set_permissions(root.join("plain.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::set_permissions(root.join("data/big.bin"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(root.join("case"), fs::Permissions::from_mode(0o750)).unwrap();
    // Fixed times so mtimes are checkable: whole seconds except one.
    let set = |rel: &str, secs: i64, nanos: i64| {
        use nix::sys::stat::{utimensat, UtimensatFlags};
        use nix::sys::time::TimeSpec;
        let t = TimeSpec::new(secs, nanos);
        utimensat(nix::fcntl::AT_FDCWD, &root.join(rel), &t, &t, UtimensatFlags::NoFollowSymlink).unwrap();
    };
    set("plain.txt", 1_000_000_000, 0);
    set("data/big.bin", 1_600_000_000, 250_000_000);
    set("rel-link", 1_500_000_000, 0);
}

pub fn unit_of(root: &Path, volume_id: &str) -> UnitContent {
    UnitContent {
        volume_id: volume_id.into(),
        request: "REQ-TEST-1".into(),
        created: Timestamp::new(1_795_556_404, 0),
        entries: scan_directory(root).unwrap(),
    }
}

/// What a comparison looks at for one path.
#[derive(Debug, PartialEq, Eq)]
pub enum Node {
    File { data: Vec<u8>, mode: u32, mtime: i64 },
    Dir { mode: u32 },
    Link { target: PathBuf },
}

/// Everything below `root`, keyed by relative path; `skip` names at the root are ignored.
pub fn snapshot(root: &Path, skip: &[&str]) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<PathBuf, Node>) {
        for item in fs::read_dir(dir).unwrap() {
            let item = item.unwrap();
            let path = item.path();
            let rel = path.strip_prefix(root).unwrap().to_owned();
            if dir == root && skip.iter().any(|s| item.file_name() == *s) {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            let node = if meta.file_type().is_symlink() {
                Node::Link { target: fs::read_link(&path).unwrap() }
            } else if meta.is_dir() {
                walk(root, &path, skip, out);
                Node::Dir { mode: meta.mode() & 0o7777 }
            } else {
                Node::File { data: fs::read(&path).unwrap(), mode: meta.mode() & 0o7777, mtime: meta.mtime() }
            };
            out.insert(rel, node);
        }
    }
    walk(root, root, skip, &mut out);
    out
}

/// Asserts two trees are equal, naming the first difference.
pub fn assert_same_tree(source: &Path, extracted: &Path, skip: &[&str]) {
    let a = snapshot(source, &[]);
    let b = snapshot(extracted, skip);
    let a_keys: Vec<_> = a.keys().collect();
    let b_keys: Vec<_> = b.keys().collect();
    assert_eq!(a_keys, b_keys, "different path sets");
    for (k, v) in &a {
        assert_eq!(Some(v), b.get(k), "differs: {k:?}");
    }
}

/// Runs a command, panicking with its output on failure; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
