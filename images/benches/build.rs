//! Image build throughput, side by side with the tools users would otherwise run.
//!
//! Builds the same ~2 GB, ~20,000-file tree with asto (ISO and tar, in-process, into a
//! counting sink), `xorriso -as mkisofs -R -J`, `genisoimage -R -J` and GNU tar (each into a
//! pipe that is counted), and reads the tree once more as the "merely reading the files"
//! baseline. Reports the median of several warm runs in MB/s (10^6 bytes of output per
//! second) and the ratios. Not a test: numbers go to doc/benchmarks.md.
//!
//! Run: `cargo bench -p asto-images --bench build`
//! Environment: ASTO_BENCH_TREE (tree location, generated if missing; default
//! /tmp/asto-bench-tree), ASTO_BENCH_RUNS (default 3), ASTO_BENCH_COLD=1 (drop the page
//! cache before every run, so sources come from disk; needs root).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use asto_images::iso::{self, IsoOptions};
use asto_images::tar::{self, TarOptions};
use asto_images::{scan_directory, Timestamp, UnitContent};

/// Deterministic pseudo-random bytes (xorshift64*), fast enough not to dominate generation.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// 20,000 files in ~600 directories: 90 % 1–64 KiB, 9.7 % 64–512 KiB, 0.3 % 1–8 MiB,
/// and four files of 100–200 MiB; about 2 GB in all.
fn generate(root: &Path) -> std::io::Result<()> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut buf = vec![0u8; 8 << 20];
    let staging = root.with_extension("partial");
    let _ = fs::remove_dir_all(&staging);
    let mut n = 0u32;
    let mut write = |rng: &mut Rng, size: u64, buf: &mut Vec<u8>| -> std::io::Result<()> {
        let dir = staging.join(format!("d{:02}/s{:03}", n % 24, n % 599));
        fs::create_dir_all(&dir)?;
        let mut f = File::create(dir.join(format!("file-{n:05}.dat")))?;
        let mut left = size;
        while left > 0 {
            let k = left.min(buf.len() as u64) as usize;
            rng.fill(&mut buf[..k]);
            f.write_all(&buf[..k])?;
            left -= k as u64;
        }
        n += 1;
        Ok(())
    };
    for i in 0..20_000u32 {
        let size = match i % 1000 {
            0..=2 => rng.range(1 << 20, 8 << 20),
            3..=99 => rng.range(64 << 10, 512 << 10),
            _ => rng.range(1 << 10, 64 << 10),
        };
        write(&mut rng, size, &mut buf)?;
    }
    for _ in 0..4 {
        let size = rng.range(100 << 20, 200 << 20);
        write(&mut rng, size, &mut buf)?;
    }
    fs::rename(&staging, root)
}

fn read_all(entries: &[asto_images::Entry]) -> u64 {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    for e in entries {
        if let asto_images::EntryKind::File { source, .. } = &e.kind {
            let mut f = File::open(source).expect("open");
            loop {
                let n = f.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
        }
    }
    total
}

/// Counts bytes written.
struct Counter(u64);
impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a tool that writes its output to stdout, counting the bytes.
fn tool(cmd: &mut Command) -> u64 {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn tool");
    let mut out = child.stdout.take().expect("stdout");
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = out.read(&mut buf).expect("read pipe");
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    assert!(child.wait().expect("wait").success(), "{cmd:?} failed");
    total
}

/// Empties the page cache (root only), so the next run reads its sources from disk.
fn drop_caches() {
    let _ = Command::new("sync").status();
    fs::write("/proc/sys/vm/drop_caches", "3\n").expect("drop the page cache (needs root)");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let root = PathBuf::from(std::env::var("ASTO_BENCH_TREE").unwrap_or_else(|_| "/tmp/asto-bench-tree".into()));
    let runs: usize = std::env::var("ASTO_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    if !root.exists() {
        eprintln!("generating {} ...", root.display());
        generate(&root).expect("generate the tree");
    }
    let entries = scan_directory(&root).expect("scan");
    let files = entries.iter().filter(|e| matches!(e.kind, asto_images::EntryKind::File { .. })).count();
    let unit = UnitContent {
        volume_id: "ARC-BENCH-000001".into(),
        request: "bench".into(),
        created: Timestamp::new(1_700_000_000, 0),
        entries: entries.clone(),
    };
    let input = read_all(&entries); // warms the page cache
    println!("tree: {} ({files} files, {input} bytes), {runs} warm runs each, median", root.display());

    let mut results: Vec<(&str, u64, Duration)> = Vec::new();
    let cold = std::env::var("ASTO_BENCH_COLD").is_ok_and(|v| v == "1");
    if cold {
        println!("cold: page cache dropped before every run");
    }
    let mut measure = |name: &'static str, f: &mut dyn FnMut() -> u64| {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs {
            if cold {
                drop_caches();
            }
            let t = Instant::now();
            bytes = f();
            times.push(t.elapsed());
        }
        let m = median(times);
        println!("{name:<34} {:>14} bytes {:>8.2} s {:>8.0} MB/s", bytes, m.as_secs_f64(), bytes as f64 / m.as_secs_f64() / 1e6);
        results.push((name, bytes, m));
    };
    measure("read the files (baseline)", &mut || read_all(&entries));
    measure("asto ISO (plan + stream + SHA-256)", &mut || {
        let plan = iso::plan(&unit, &IsoOptions::default()).expect("plan");
        let mut c = Counter(0);
        plan.write_to(&mut c).expect("write");
        c.0
    });
    measure("asto tar (plan + stream + SHA-256)", &mut || {
        // Checksums unknown, as for `asto image build`: the tar writer hashes first.
        let plan = tar::plan(&unit, &TarOptions::default()).expect("plan");
        let mut c = Counter(0);
        plan.write_to(&mut c).expect("write");
        c.0
    });
    // The agent's path: checksums known from ingest, so no hashing pre-pass.
    let digests = tar::plan(&unit, &TarOptions::default()).expect("plan").write_to(std::io::sink()).expect("write").files;
    let mut known = unit.clone();
    let mut next = digests.iter();
    let mut sorted: Vec<&mut asto_images::Entry> = known.entries.iter_mut().collect();
    sorted.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    for e in sorted {
        if let asto_images::EntryKind::File { sha256, .. } = &mut e.kind {
            *sha256 = next.next().map(|d| d.sha256);
        }
    }
    measure("asto tar (checksums from ingest)", &mut || {
        let plan = tar::plan(&known, &TarOptions::default()).expect("plan");
        let mut c = Counter(0);
        plan.write_to(&mut c).expect("write");
        c.0
    });
    measure("xorriso -as mkisofs -R -J", &mut || {
        tool(Command::new("xorriso").args(["-as", "mkisofs", "-R", "-J", "-quiet", "-o", "-"]).arg(&root))
    });
    measure("genisoimage -R -J", &mut || tool(Command::new("genisoimage").args(["-R", "-J", "-quiet"]).arg(&root)));
    measure("GNU tar -cf -", &mut || tool(Command::new("tar").args(["-cf", "-", "-C"]).arg(&root).arg(".")));

    let rate = |name: &str| {
        results.iter().find(|r| r.0.starts_with(name)).map(|r| r.1 as f64 / r.2.as_secs_f64()).unwrap_or(f64::NAN)
    };
    println!("asto ISO / xorriso      = {:.2}x", rate("asto ISO") / rate("xorriso"));
    println!("asto ISO / genisoimage  = {:.2}x", rate("asto ISO") / rate("genisoimage"));
    println!("asto tar / GNU tar      = {:.2}x (checksums unknown: hashing pre-pass)", rate("asto tar (plan") / rate("GNU tar"));
    println!("asto tar / GNU tar      = {:.2}x (checksums from ingest)", rate("asto tar (checksums") / rate("GNU tar"));
    println!("asto ISO / reading      = {:.2}", rate("asto ISO") / rate("read"));
}
