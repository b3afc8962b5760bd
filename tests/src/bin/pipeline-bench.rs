//! Benchmark: 40 units over 4 simulated burners at a rated speed, through the real pipeline
//! (prepare, write, read-back verify, cleanup), against the ideal makespan — total bytes moved
//! divided by the aggregate rated speed. A makespan within 10 % of the ideal means preparation and
//! bookkeeping overlap the device work instead of adding to it.
//!
//! Run: `cargo run --release -p asto-tests --bin pipeline-bench` (results go into doc/benchmarks.md).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use asto_controller::cli::context::{ConfigArg, embedded_agent};
use asto_controller::config::StageKind;
use asto_controller::ingest::{IngestOptions, ingest};
use asto_controller::pipeline::{self, RunOptions};
use asto_controller::requests::{self, Layout, UserRequest};
use asto_controller::workspace::{self, SimWorkspace};

const UNITS: usize = 40;
const DEVICES: usize = 4;
const RATE: u64 = 40_000_000; // bytes per second per device
const CAPACITY: u64 = 16 << 20;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ws = SimWorkspace { burners: DEVICES, burner_rate: Some(RATE), demo_cd_capacity: CAPACITY, ..SimWorkspace::default() };
    let config_path = workspace::create(&dir.path().join("ws"), &ws)?;
    let (config, mut conn) = ConfigArg { config: config_path }.open()?;

    // One directory per unit, each just under a disc: 7 files of 2 MiB.
    let src = dir.path().join("src");
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for u in 0..UNITS {
        let d = src.join(format!("night{u:02}"));
        std::fs::create_dir_all(&d)?;
        for f in 0..7 {
            let mut data = vec![0u8; 2 << 20];
            for chunk in data.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
            }
            std::fs::write(d.join(format!("f{f}.fits")), data)?;
        }
        dirs.push(d);
    }
    let report = ingest(&mut conn, &config, &dirs, &IngestOptions { stage: StageKind::User, class: None, prefix: None })?;
    let files = report.files.iter().map(|f| f.path.clone()).collect();
    let req = UserRequest {
        files,
        media_type: "DEMO-CD".into(),
        copies: 1,
        compress: false,
        layout: Layout::Keep,
        prefix: String::new(),
        group: None,
        requester: "bench".into(),
        source: "bench".into(),
    };
    let id = requests::submit_user(&mut conn, &config, &req)?;
    let status = requests::status(&conn, Some(id))?;
    let agent = embedded_agent(&config)?;
    let started = Instant::now();
    let summary = pipeline::run(&mut conn, &config, Arc::clone(&agent), &RunOptions { stop_after: None, max_prepares: 2 }, None)?;
    let elapsed = started.elapsed().as_secs_f64();
    let image_bytes: u64 = conn.query_row("SELECT sum(image_bytes) FROM units WHERE request_id = ?1", [id], |r| r.get(0))?;
    // Every byte is written once and read back once, each at the rated speed.
    let ideal = 2.0 * image_bytes as f64 / (DEVICES as f64 * RATE as f64);
    println!("units: {} (packed from {} files), copies written {}, verified {}", status[0].units, report.files.len(), summary.written, summary.verified);
    println!("bytes moved: {:.1} MB written + the same read back", image_bytes as f64 / 1e6);
    println!("ideal makespan (2 × bytes / ({DEVICES} × {} MB/s)): {ideal:.2} s", RATE / 1_000_000);
    println!("measured makespan: {elapsed:.2} s = {:.1} % of ideal ({:+.1} %)", 100.0 * elapsed / ideal, 100.0 * (elapsed - ideal) / ideal);
    if status[0].units as usize != UNITS || summary.verified as usize != UNITS {
        anyhow::bail!("expected {UNITS} units verified");
    }
    Ok(())
}
