//! `archive-bench`: performance figures of the archive catalogue at the scale the archive
//! services are designed for (a benchmark, not a timed test):
//! - metadata ingest rate: files with their FITS-like keywords, full-text entry, version and
//!   rights recorded through the same library functions archive ingest uses, in transactions of
//!   10 000 files;
//! - browse latency (p50/p95/max) over the full catalogue for keyword, date-range, free-text and
//!   name-pattern queries, as the public (so the rights filter is part of every query).
//!
//! Usage: `cargo run --release -p asto-tests --bin archive-bench -- [--files N] [--queries N]
//! [--keep DIR]`. Results go to stdout as Markdown.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use asto_controller::archive::browse::{BrowseQuery, browse};
use asto_controller::archive::fits::Value;
use asto_controller::archive::metadata::{FileMetadata, store};
use asto_controller::archive::rights::{Principal, Rights, set};
use asto_controller::archive::versions;

struct Options {
    files: u64,
    queries: usize,
    keep: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut o = Options { files: 1_000_000, queries: 400, keep: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--files" => o.files = value()?.parse().map_err(|_| "--files needs a number")?,
            "--queries" => o.queries = value()?.parse().map_err(|_| "--queries needs a number")?,
            "--keep" => o.keep = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const INSTRUMENTS: &[&str] = &["WFI", "FORS2", "UVES", "HAWKI", "MUSE", "XSHOOTER", "SOFI", "EFOSC2"];

/// Date of day `d` after 2020-01-01 (proleptic Gregorian, 365/366-day years).
fn date(day: u64, secs: u64) -> String {
    let (mut y, mut d) = (2020u64, day);
    loop {
        let len = if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) { 366 } else { 365 };
        if d < len {
            break;
        }
        d -= len;
        y += 1;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let months = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut m = 0;
    while d >= months[m] {
        d -= months[m];
        m += 1;
    }
    format!("{y:04}-{:02}-{:02}T{:02}:{:02}:{:02}", m + 1, d + 1, secs / 3600, secs / 60 % 60, secs % 60)
}

fn metadata(i: u64, rng: &mut Rng) -> FileMetadata {
    let instrument = INSTRUMENTS[rng.below(INSTRUMENTS.len() as u64) as usize];
    let object = format!("NGC {}", rng.below(2000));
    let date_obs = date(rng.below(5 * 365), rng.below(86_400));
    let programme = format!("1{:02}.A-{:04}(A)", rng.below(20), rng.below(500));
    let mut keywords = std::collections::BTreeMap::new();
    keywords.insert("INSTRUME".into(), Value::Str(instrument.into()));
    keywords.insert("OBJECT".into(), Value::Str(object.clone()));
    keywords.insert("DATE-OBS".into(), Value::Str(date_obs.clone()));
    keywords.insert("PROG_ID".into(), Value::Str(programme.clone()));
    keywords.insert("OBS_ID".into(), Value::Int(i as i64));
    keywords.insert("EXPTIME".into(), Value::Real(rng.below(3600) as f64));
    keywords.insert("TELESCOP".into(), Value::Str("ESO-VLT-U1".into()));
    for k in 0..12 {
        keywords.insert(format!("ESO DET KEY{k}"), Value::Int(rng.below(1000) as i64));
    }
    FileMetadata {
        date_obs: Some(date_obs),
        instrument: Some(instrument.into()),
        telescope: Some("ESO-VLT-U1".into()),
        object: Some(object),
        ra: Some(rng.below(360_000) as f64 / 1000.0),
        dec: Some(rng.below(180_000) as f64 / 1000.0 - 90.0),
        exptime: Some(rng.below(3600) as f64),
        programme: Some(programme),
        obs_id: Some(i.to_string()),
        keywords,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    let temp = tempfile::tempdir()?;
    let dir = o.keep.clone().unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench-catalogue.db");
    let _ = std::fs::remove_file(&path);
    let mut conn = asto_controller::catalogue::open(&path)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    let start = Instant::now();
    let batch = 10_000u64;
    let mut i = 0u64;
    while i < o.files {
        let tx = conn.transaction()?;
        for j in i..(i + batch).min(o.files) {
            let night = j / 500;
            let path = format!("raw/n{night:05}/obs{j:08}.fits");
            tx.execute(
                "INSERT INTO files (id, stage, path, size, sha256, crc32, format, compression, data_class, mode, mtime_ns, ingested_at, state)
                 VALUES (?1, 'archive', ?2, 16777216, ?3, 0, 'fits', 'none', 'raw', 420, 0, '2026-01-01T00:00:00.000Z', 'archived')",
                rusqlite::params![j as i64 + 1, path, format!("{:064x}", j)],
            )?;
            let id = j as i64 + 1;
            let meta = metadata(j, &mut rng);
            store(&tx, id, &path, Some(&meta))?;
            versions::record(&tx, id, &path, 1)?;
            let proprietary = rng.below(10) == 0;
            set(&tx, id, &Rights { owner: Some(format!("pi{}", rng.below(300))), programme: meta.programme.clone(), proprietary_until: proprietary.then(|| "2999-01-01T00:00:00.000Z".to_owned()) })?;
        }
        tx.commit()?;
        i = (i + batch).min(o.files);
    }
    let ingest = start.elapsed();
    let size = std::fs::metadata(&path)?.len();

    let mut by_kind: Vec<(&str, Vec<Duration>, u64)> = vec![("keyword", vec![], 0), ("date range", vec![], 0), ("free text, words", vec![], 0), ("free text, phrase", vec![], 0), ("name pattern", vec![], 0)];
    for q in 0..o.queries {
        let kind = q % by_kind.len();
        let query = match kind {
            0 => BrowseQuery {
                keywords: vec![
                    ("instrument".into(), INSTRUMENTS[rng.below(8) as usize].into()),
                    ("object".into(), format!("NGC {}", rng.below(2000))),
                ],
                limit: 100,
                ..Default::default()
            },
            1 => {
                let day = date(rng.below(5 * 365), 0);
                BrowseQuery { date_from: Some(day[..10].to_owned()), date_to: Some(day[..10].to_owned()), limit: 100, ..Default::default() }
            }
            2 => BrowseQuery { text: Some(format!("NGC {}", rng.below(2000))), limit: 100, ..Default::default() },
            3 => BrowseQuery { text: Some(format!("\"NGC {}\"", rng.below(2000))), limit: 100, ..Default::default() },
            _ => BrowseQuery { name: Some(format!("raw/n{:05}/obs*", rng.below(o.files.div_ceil(500).max(1)))), limit: 100, ..Default::default() },
        };
        let t = Instant::now();
        let r = browse(&conn, &query, &Principal::Public)?;
        by_kind[kind].1.push(t.elapsed());
        by_kind[kind].2 += r.files.len() as u64;
    }

    println!("# archive-bench\n");
    println!("catalogue of {} files ({:.1} MiB on disk)\n", o.files, size as f64 / (1 << 20) as f64);
    println!("| metadata ingest | value |\n|---|---|");
    println!("| time | {:.1} s |", ingest.as_secs_f64());
    println!("| rate | {:.0} files/s |\n", o.files as f64 / ingest.as_secs_f64());
    println!("| browse ({} queries, limit 100, as the public) | p50 ms | p95 ms | max ms | rows returned |\n|---|---|---|---|---|", o.queries);
    let mut all = Vec::new();
    for (name, mut times, rows) in by_kind {
        times.sort();
        all.extend(times.iter().copied());
        println!("| {name} | {} | {} | {} | {rows} |", ms(percentile(&times, 0.5)), ms(percentile(&times, 0.95)), ms(times.last().copied().unwrap_or_default()));
    }
    all.sort();
    println!("| all | {} | {} | {} | |", ms(percentile(&all, 0.5)), ms(percentile(&all, 0.95)), ms(all.last().copied().unwrap_or_default()));
    Ok(())
}
