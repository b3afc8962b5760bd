//! `asto demo`: the whole pipeline on simulated devices, with no configuration and no external
//! tool. Makes a workspace, generates observation-like sample data (incompressible, nested),
//! ingests it, submits an archive request (LTO, 2 copies) and a user request (small optical
//! discs, 2 copies), runs everything to verified volumes and shows where every file went.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::channel;

use anyhow::Context;
use indicatif::ProgressBar;

use super::context::{ConfigArg, embedded_agent};
use super::output;
use crate::config::{Config, StageKind};
use crate::ingest::{IngestOptions, ingest};
use crate::pipeline::{self, RunOptions};
use crate::requests::{self, Layout, UserRequest};
use crate::size::{human, parse_size};
use crate::workspace::{self, SimWorkspace};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Workspace directory (must not hold a workspace yet); default: a new temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Total size of the sample data.
    #[arg(long, default_value = "300MB")]
    pub size: String,
    /// Number of sample files.
    #[arg(long, default_value_t = 300)]
    pub files: usize,
    /// Run the simulated devices unthrottled instead of at their rated speeds.
    #[arg(long)]
    pub fast: bool,
}

/// xorshift64*: fast, deterministic, incompressible enough for sample data.
struct SampleRng(u64);

impl SampleRng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Nights of observations plus calibrations: `night-2026-11-NN/ONTT.…fits`, `calib/…`.
fn generate(root: &Path, total: u64, files: usize) -> anyhow::Result<(u64, usize)> {
    let mut rng = SampleRng(0x9E37_79B9_7F4A_7C15);
    let mean = (total / files.max(1) as u64).max(1);
    let nights = (files / 25).clamp(1, 20);
    let mut written = 0;
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..files {
        let dir = if i % 10 == 9 { root.join("calib").join(format!("bias-{:02}", i % 4)) } else { root.join(format!("night-2026-11-{:02}", 1 + i % nights)) };
        std::fs::create_dir_all(&dir)?;
        let size = mean / 10 + rng.next() % (mean * 18 / 10).max(1);
        let path = dir.join(format!("ONTT.2026-11-{:02}T{:02}:{:02}:{:02}.{:03}.fits", 1 + i % nights, (i / 60) % 24, i % 60, (i * 7) % 60, i % 1000));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut left = size;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            rng.fill(&mut buf[..n]);
            f.write_all(&buf[..n])?;
            left -= n as u64;
        }
        f.flush()?;
        written += size;
    }
    Ok((written, nights))
}

pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let total = parse_size(&args.size).map_err(anyhow::Error::msg)?;
    if args.files == 0 || total == 0 {
        anyhow::bail!("--files and --size must be positive");
    }
    let dir = match args.dir {
        Some(d) => d,
        None => tempfile::Builder::new().prefix("asto-demo-").tempdir()?.keep(),
    };
    let ws = SimWorkspace {
        tape_rate: (!args.fast).then_some(140_000_000),
        burner_rate: (!args.fast).then_some(22_160_000),
        ..SimWorkspace::default()
    };
    let config_path = workspace::create(&dir, &ws)?;
    let cfg = ConfigArg { config: config_path.clone() };
    let (config, mut conn) = cfg.open()?;
    let say = |line: String| {
        if !json {
            println!("{line}");
        }
    };
    say(format!("workspace: {}", dir.display()));

    let sample = dir.join("sample-data");
    let (bytes, nights) = generate(&sample, total, args.files).context("generating sample data")?;
    say(format!("sample data: {} files, {} in {}", args.files, human(bytes), sample.display()));

    // Ingest: everything into the archive stage (class raw); the first nights also into the
    // user stage, for an astronomer who wants them on discs.
    let spinner = if json { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    let spinner = spinner.with_message("ingesting (copy or hard link, SHA-256 + CRC32 in one pass)");
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&sample)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    let archived = ingest(&mut conn, &config, &entries, &IngestOptions { stage: StageKind::Archive, class: Some("raw".into()), prefix: None })?;
    let user_nights: Vec<PathBuf> = entries.iter().filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("night"))).take(nights.div_ceil(4)).cloned().collect();
    let for_user = ingest(&mut conn, &config, &user_nights, &IngestOptions { stage: StageKind::User, class: None, prefix: None })?;
    spinner.finish_with_message(format!(
        "ingested {} files into the archive stage, {} into the user stage",
        archived.files.len(),
        for_user.files.len()
    ));

    let archive_request = requests::flush(&mut conn, &config, "raw")?.context("the archive class has no files")?;
    let user_request = requests::submit_user(
        &mut conn,
        &config,
        &UserRequest {
            files: for_user.files.iter().map(|f| f.path.clone()).collect(),
            media_type: "DEMO-CD".into(),
            copies: 2,
            compress: false,
            layout: Layout::Keep,
            prefix: String::new(),
            group: None,
            requester: "astronomer".into(),
            source: "demo".into(),
        },
    )?;
    for s in requests::status(&conn, None)? {
        say(format!("request {} ({}): {} files, {} → {} units of {} × {} copies", s.id, s.kind, s.files, human(s.bytes), s.units, s.media_type, s.copies));
    }

    let summary = run_pipeline(conn, config.clone(), json)?;
    let (_, conn) = cfg.open()?;
    let placements = crate::listing::placements(&conn)?;
    if json {
        output::json(&serde_json::json!({ "workspace": dir, "summary": summary, "files": placements }))?;
    } else {
        output::table(
            &["file", "request", "unit", "copy 1", "copy 2"],
            placements.iter().map(|p| {
                let copy = |n: u32| {
                    p.copies.iter().find(|c| c.0 == n).map(|c| format!("{} @ {}", c.1, c.2)).unwrap_or_else(|| "-".into())
                };
                vec![format!("{}:{}", p.stage, p.path), p.request.to_string(), p.unit.clone(), copy(1), copy(2)]
            }),
        );
        let all = requests::status(&conn, None)?;
        for s in &all {
            println!("request {} ({}): {} — {}/{} copies verified", s.id, s.kind, s.state, s.copies_verified, s.copies_total);
        }
        println!("catalogue: {}    try: asto volumes list --config {}", config.catalogue.display(), config_path.display());
    }
    let done = requests::status(&conn, None)?.iter().filter(|s| [archive_request, user_request].contains(&s.id)).all(|s| s.state == "done");
    if done {
        Ok(ExitCode::SUCCESS)
    } else {
        for s in &summary.stalled {
            eprintln!("asto demo: unfinished: {s}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// Run the pipeline on a worker thread and draw its progress here.
fn run_pipeline(mut conn: rusqlite::Connection, config: Config, quiet: bool) -> anyhow::Result<pipeline::RunSummary> {
    let agent = embedded_agent(&config)?;
    let _lock = super::run::lock_runner(&config)?;
    let (tx, rx) = channel();
    let worker = std::thread::spawn(move || pipeline::run(&mut conn, &config, agent, &RunOptions { stop_after: None, max_prepares: 2 }, Some(tx)));
    let mut view = super::progress::ProgressView::new(quiet);
    for p in rx {
        view.apply(p);
    }
    let summary = worker.join().map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))??;
    Ok(summary)
}
