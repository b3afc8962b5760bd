//! Files of 4 GiB and more: several extents in ISO 9660 (level 3) and a pax `size` record in
//! tar. The source is sparse and the image is written sparsely, so the test needs little disk.

mod common;

use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::process::{Command, Stdio};

use asto_images::iso::{self, IsoOptions};
use asto_images::read::{read_iso, read_tar};
use asto_images::tar::{self, TarOptions};
use asto_images::{Entry, EntryKind, Timestamp, UnitContent};
use common::run;
use sha2::{Digest, Sha256};

const BIG: u64 = (5 << 30) + 12_345;

/// Writes zero runs as holes.
struct SparseWriter(File);

impl Write for SparseWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
        // memcmp against zeros (fast even without optimisation).
        if buf.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()]) {
            self.0.seek(SeekFrom::Current(buf.len() as i64))?;
            Ok(buf.len())
        } else {
            self.0.write(buf)
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let end = self.0.stream_position()?;
        self.0.set_len(end)?;
        self.0.flush()
    }
}

fn big_unit(dir: &std::path::Path) -> (UnitContent, [u8; 32]) {
    let src = dir.join("big.bin");
    let f = File::create(&src).unwrap();
    f.set_len(BIG).unwrap();
    let mut f = fs::OpenOptions::new().write(true).open(&src).unwrap();
    f.seek(SeekFrom::Start(BIG - 5)).unwrap();
    f.write_all(b"tail!").unwrap();
    drop(f);
    let mut h = Sha256::new();
    let zeros = vec![0u8; 1 << 20];
    let mut left = BIG - 5;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        h.update(&zeros[..n]);
        left -= n as u64;
    }
    h.update(b"tail!");
    let sha: [u8; 32] = h.finalize().into();
    let t = Timestamp::new(1_700_000_000, 0);
    let unit = UnitContent {
        volume_id: "ARC-BD-000001".into(),
        request: "big".into(),
        created: t,
        entries: vec![Entry {
            path: "big.bin".into(),
            kind: EntryKind::File { source: src, size: BIG, sha256: Some(sha) },
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: t,
        }],
    };
    (unit, sha)
}

#[test]
fn five_gib_file_round_trips_through_level_3_and_pax() {
    let dir = tempfile::tempdir().unwrap();
    let (unit, sha) = big_unit(dir.path());

    let plan = iso::plan(&unit, &IsoOptions::default()).unwrap();
    let image = dir.path().join("big.iso");
    let summary = plan.write_to(SparseWriter(File::create(&image).unwrap())).unwrap();
    assert_eq!(fs::metadata(&image).unwrap().len(), plan.total_bytes());
    assert_eq!(summary.files[0].sha256, sha);

    // isoinfo lists the extents as separate records; xorriso and libarchive merge them.
    let listing = run(Command::new("isoinfo").args(["-l", "-i"]).arg(&image));
    assert_eq!(listing.matches("BIG.BIN;1").count(), 2, "{listing}");
    let lsl = run(Command::new("xorriso").arg("-indev").arg(&image).args(["-lsl", "/big.bin"]));
    assert!(lsl.contains(&BIG.to_string()), "{lsl}");
    let mut bsdtar = Command::new("bsdtar").arg("-xOf").arg(&image).arg("big.bin").stdout(Stdio::piped()).spawn().unwrap();
    let sum = run(Command::new("sha256sum").stdin(bsdtar.stdout.take().unwrap()));
    assert!(bsdtar.wait().unwrap().success());
    assert!(sum.starts_with(&hex::encode(sha)), "bsdtar extracted different bytes: {sum}");
    let read = read_iso(File::open(&image).unwrap()).unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    assert_eq!((read.files[0].size, read.files[0].sha256), (BIG, sha));

    let plan = tar::plan(&unit, &TarOptions::default()).unwrap();
    let stream = dir.path().join("big.tar");
    plan.write_to(SparseWriter(File::create(&stream).unwrap())).unwrap();
    let list = run(Command::new("tar").arg("-tvf").arg(&stream));
    assert!(list.contains(&BIG.to_string()), "{list}");
    let read = read_tar(File::open(&stream).unwrap()).unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    assert_eq!(read.files[0].size, BIG);
}
