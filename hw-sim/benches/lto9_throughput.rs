//! Throughput benchmark: stream a file from disk through the SSC driver to a simulated LTO-9
//! drive rated at 400 MB/s and report the sustained rate against the rated speed.
//!
//! `cargo bench -p asto-hw-sim --bench lto9_throughput [-- --gib 20 --block-kib 1024 --dir DIR]`
//!
//! The source file (incompressible pseudo-random data) is created once in DIR and reused; it is
//! read with a reader thread double-buffering ahead of the writer, as the agent does. The
//! cartridge keeps its index but discards the payload, so the host disk is read once (the feed)
//! rather than also written, and the number measures the driver and the drive model.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Instant;

use asto_drivers::scsi::retry::RetryPolicy;
use asto_drivers::ssc::SscDrive;
use asto_drivers::tape::{TapeDrive, WriteOutcome};
use asto_hw_sim::scsi_tape::{Cartridge, CartridgeMeta, SimTapeDrive, TapeDriveConfig};

const RATED: u64 = 400_000_000;
/// Size of one read from the feed file.
const BUF: usize = 16 << 20;

struct Args {
    bytes: u64,
    block: usize,
    dir: PathBuf,
}

fn args() -> Args {
    let mut a = Args { bytes: 20 * 1_000_000_000, block: 1 << 20, dir: std::env::temp_dir().join("asto-bench") };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        match (v[i].as_str(), v.get(i + 1)) {
            ("--gb", Some(n)) => a.bytes = n.parse::<u64>().unwrap_or(20) * 1_000_000_000,
            ("--block-kib", Some(n)) => a.block = n.parse::<usize>().unwrap_or(1024) * 1024,
            ("--dir", Some(d)) => a.dir = PathBuf::from(d),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// Create (once) `bytes` of xorshift pseudo-random data.
fn source_file(dir: &std::path::Path, bytes: u64) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("feed-{bytes}.bin"));
    if std::fs::metadata(&path).map(|m| m.len() == bytes).unwrap_or(false) {
        return Ok(path);
    }
    eprintln!("creating {} ({} GB of incompressible data)…", path.display(), bytes / 1_000_000_000);
    let mut f = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(&path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 8 << 20];
    let mut left = bytes;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(path)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let src = source_file(&a.dir, a.bytes)?;
    // Drop the page cache of the feed where permitted, so it really comes from disk.
    if std::env::var_os("ASTO_BENCH_WARM").is_none() {
        let _ = std::process::Command::new("sh").args(["-c", "sync; echo 1 > /proc/sys/vm/drop_caches"]).status();
    }
    let cart_dir = a.dir.join("cartridge");
    let _ = std::fs::remove_dir_all(&cart_dir);
    let meta = CartridgeMeta { discard_payload: true, ..CartridgeMeta::new("BENCH1L9", 18_000_000_000_000) };
    let rated = if std::env::var_os("ASTO_BENCH_UNTHROTTLED").is_some() { None } else { Some(RATED) };
    let sim = SimTapeDrive::new("lto9", TapeDriveConfig { rated_bytes_per_sec: rated, ..TapeDriveConfig::default() });
    sim.insert(Cartridge::create(&cart_dir, meta)?)?;
    let mut drive = SscDrive::with_policy(sim, RetryPolicy::immediate());
    drive.ready()?;
    drive.set_parameters(0, Some(false))?;

    // Reader thread: buffers in flight ahead of the writer. O_DIRECT reads into 4 KiB-aligned
    // buffers keep the page cache (and its copy) out of the way on a busy 2-core host.
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize, usize)>(4);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(6);
    for _ in 0..6 {
        empty_tx.send(vec![0u8; BUF + 4096])?;
    }
    let reader = std::thread::spawn(move || -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let direct = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_DIRECT).open(&src);
        let mut f = match direct {
            Ok(f) => f,
            Err(_) => std::fs::File::open(&src)?,
        };
        let _ = nix::fcntl::posix_fadvise(&f, 0, 0, nix::fcntl::PosixFadviseAdvice::POSIX_FADV_SEQUENTIAL);
        while let Ok(mut buf) = empty_rx.recv() {
            let off = buf.as_ptr().align_offset(4096);
            let mut n = 0;
            while n < BUF {
                let k = f.read(&mut buf[off + n..off + BUF])?;
                if k == 0 {
                    break;
                }
                n += k;
            }
            if n == 0 || full_tx.send((buf, off, n)).is_err() {
                break;
            }
        }
        Ok(())
    });

    let start = Instant::now();
    let mut starved = std::time::Duration::ZERO;
    let mut written = 0u64;
    let mut early_warning = false;
    loop {
        let wait = Instant::now();
        let Ok((buf, off, n)) = full_rx.recv() else { break };
        starved += wait.elapsed();
        for block in buf[off..off + n].chunks(a.block) {
            if drive.write_block(block)? == WriteOutcome::EarlyWarning {
                early_warning = true;
            }
            written += block.len() as u64;
        }
        let _ = empty_tx.send(buf);
    }
    drive.write_filemarks(1)?;
    let secs = start.elapsed().as_secs_f64();
    drop(empty_tx);
    reader.join().map_err(|_| "reader thread panicked")??;
    let rate = written as f64 / secs;
    println!("wrote {written} bytes in {secs:.2} s with {} KiB blocks; the writer waited {:.2} s for the feed", a.block / 1024, starved.as_secs_f64());
    println!("sustained {:.1} MB/s = {:.2} % of the rated 400 MB/s (target ≥ 97 %){}", rate / 1e6, 100.0 * rate / RATED as f64, if early_warning { " [early warning seen]" } else { "" });
    let _ = std::fs::remove_dir_all(&cart_dir);
    Ok(())
}
