//! `ob-bench`: performance figures of the OB module on a real local topology (three PostgreSQL
//! 15 clusters started with `scripts/pg-topology.sh`, fsync on):
//! - replication lag of single-OB commits at HQ to both sites (p50/p95/max), from the client
//!   issuing the commit to the apply worker writing the row (noted by a bench-only trigger), so
//!   polling adds nothing;
//! - a bulk load of 200 000 OBs in one transaction at HQ: commit time and time until both sites
//!   have applied it;
//! - the consistency check over 1 000 000 OBs per site: clean, and with three OBs diverged.
//!
//! Usage: `cargo run --release -p asto-tests --bin ob-bench -- [--base-port N] [--lag-commits N]
//! [--bulk N] [--check-rows N] [--keep DIR]`. Results go to stdout as Markdown.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use asto_controller::ob::{ObConfig, check, init, replication};
use postgres::{Client, NoTls};

struct Options {
    base_port: u16,
    lag_commits: usize,
    bulk: i64,
    check_rows: i64,
    keep: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut o = Options { base_port: 56_611, lag_commits: 500, bulk: 200_000, check_rows: 1_000_000, keep: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let num = |v: String| v.parse::<i64>().map_err(|_| format!("{a}: {v:?} is not a number"));
        match a.as_str() {
            "--base-port" => o.base_port = u16::try_from(num(value()?)?).map_err(|_| "--base-port out of range")?,
            "--lag-commits" => o.lag_commits = usize::try_from(num(value()?)?).map_err(|_| "--lag-commits out of range")?,
            "--bulk" => o.bulk = num(value()?)?,
            "--check-rows" => o.check_rows = num(value()?)?,
            "--keep" => o.keep = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    if o.bulk < 1 || o.check_rows < o.bulk {
        return Err("--check-rows must be at least --bulk, and --bulk at least 1".to_owned());
    }
    Ok(o)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-topology.sh")
}

/// Stops the clusters when the bench ends, however it ends.
struct Clusters {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Drop for Clusters {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).output();
    }
}

fn connect(port: u16) -> Result<Client, postgres::Error> {
    let mut c = postgres::Config::new().host("127.0.0.1").port(port).user("postgres").dbname("asto_ob").connect(NoTls)?;
    c.batch_execute("SET TimeZone = 'UTC'")?;
    Ok(c)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// COPY `count` SM OBs starting at `first` into run 1 at HQ, in one transaction.
fn copy_obs(hq: &mut Client, first: i64, count: i64) -> Result<(), Box<dyn std::error::Error>> {
    let mut tx = hq.transaction()?;
    {
        let mut w = tx.copy_in(
            "COPY ob (ob_id, run_id, name, mode, site, status, grade, user_priority, instrument, execution_time_s, target, constraints) FROM STDIN",
        )?;
        let mut buf = Vec::with_capacity(1 << 20);
        for id in first..first + count {
            writeln!(
                buf,
                "{id}\t1\tOB {id}\tSM\tHQ\t+\t?\t1\tMUSE\t1800\t{{\"name\": \"NGC 253\", \"ra\": \"00:47:33.134\", \"dec\": \"-25:17:19.68\"}}\t{{\"airmass\": 1.5, \"seeing\": 0.8}}"
            )?;
            if buf.len() > (1 << 20) - 512 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        w.write_all(&buf)?;
        w.finish()?;
    }
    tx.commit()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    let (dir, temp) = match &o.keep {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new().prefix("asto-ob-bench-").tempdir()?;
            (t.path().to_owned(), Some(t))
        }
    };
    let clusters = Clusters { dir: dir.clone(), _temp: temp };
    let out = Command::new(script()).arg("start").arg(&dir).args(["--base-port", &o.base_port.to_string()]).output()?;
    if !out.status.success() {
        return Err(format!("pg-topology start: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let cfg = ObConfig::load(&dir.join("asto.toml"))?;
    init::init(&cfg, Duration::from_secs(60))?;
    let ports = [o.base_port, o.base_port + 1, o.base_port + 2];
    let mut hq = connect(ports[0])?;
    let mut sites = [connect(ports[1])?, connect(ports[2])?];
    hq.batch_execute(
        "INSERT INTO obs_run (run_id, prog_id, mode, site, instrument) VALUES (1, '116.28N5.001', 'SM', 'HQ', 'MUSE')",
    )?;
    replication::wait_for_sync(&cfg, Duration::from_secs(60))?;

    println!("## OB module (`ob-bench`)\n");
    println!("Three PostgreSQL 15 clusters on loopback (HQ, PARANAL, LASILLA), fsync on, synchronous_commit on.\n");

    // 1. Lag of single-OB commits: from the client issuing the autocommit INSERT at HQ to the
    //    apply worker inserting the row at the site (a bench-only ALWAYS trigger notes the time;
    //    commit timestamps cannot serve, the subscriber records the origin's).
    for site in sites.iter_mut() {
        site.batch_execute(
            "CREATE TABLE bench_applied (ob_id bigint PRIMARY KEY, at float8 NOT NULL);
             CREATE FUNCTION bench_note() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_catalog AS $$
             BEGIN INSERT INTO bench_applied VALUES (NEW.ob_id, extract(epoch FROM clock_timestamp())); RETURN NEW; END $$;
             CREATE TRIGGER bench_note AFTER INSERT ON ob FOR EACH ROW EXECUTE FUNCTION bench_note();
             ALTER TABLE ob ENABLE ALWAYS TRIGGER bench_note;",
        )?;
    }
    let lag_base = 900_000_000_i64;
    let mut issued = Vec::with_capacity(o.lag_commits);
    for i in 0..o.lag_commits as i64 {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs_f64();
        hq.execute(
            "INSERT INTO ob (ob_id, run_id, name, mode, site, status) VALUES ($1, 1, 'lag probe', 'SM', 'HQ', 'P')",
            &[&(lag_base + i)],
        )?;
        issued.push((lag_base + i, t));
    }
    replication::wait_for_sync(&cfg, Duration::from_secs(120))?;
    println!("### Replication lag, {} single-OB commits at HQ, back to back\n", o.lag_commits);
    println!("| site | p50 | p95 | max |\n|---|---|---|---|");
    for (name, site) in ["PARANAL", "LASILLA"].iter().zip(sites.iter_mut()) {
        let applied: std::collections::HashMap<i64, f64> = site
            .query("SELECT ob_id, at FROM bench_applied WHERE ob_id >= $1", &[&lag_base])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut lags: Vec<f64> =
            issued.iter().filter_map(|(id, t)| applied.get(id).map(|a| (a - t) * 1000.0)).collect();
        if lags.len() != issued.len() {
            return Err(format!("{name}: {} of {} probe OBs arrived", lags.len(), issued.len()).into());
        }
        lags.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |",
            percentile(&lags, 0.5),
            percentile(&lags, 0.95),
            percentile(&lags, 1.0)
        );
        site.batch_execute("DROP TRIGGER bench_note ON ob; DROP TABLE bench_applied")?;
    }
    hq.execute("DELETE FROM ob WHERE ob_id >= $1", &[&lag_base])?;
    replication::wait_for_sync(&cfg, Duration::from_secs(120))?;

    // 2. Bulk load.
    let start = Instant::now();
    copy_obs(&mut hq, 1, o.bulk)?;
    let committed = start.elapsed();
    replication::wait_for_sync(&cfg, Duration::from_secs(600))?;
    let applied = start.elapsed();
    println!("\n### Bulk load of {} OBs at HQ (one COPY transaction, validation trigger per row)\n", o.bulk);
    println!("| committed at HQ | applied at both sites | rows/s end to end |\n|---|---|---|");
    println!(
        "| {:.2} s | {:.2} s | {:.0} |",
        committed.as_secs_f64(),
        applied.as_secs_f64(),
        o.bulk as f64 / applied.as_secs_f64()
    );

    // 3. Consistency check over check_rows OBs per site.
    let rest = o.check_rows - o.bulk;
    let mut next = o.bulk + 1;
    while next <= o.check_rows {
        let n = rest.min(200_000).min(o.check_rows - next + 1);
        copy_obs(&mut hq, next, n)?;
        next += n;
    }
    replication::wait_for_sync(&cfg, Duration::from_secs(1200))?;
    for c in std::iter::once(&mut hq).chain(sites.iter_mut()) {
        c.batch_execute("VACUUM ANALYZE ob")?;
    }
    println!("\n### Consistency check over {} OBs per site (both rules, both sites)\n", o.check_rows);
    println!("| case | time | buckets differing | OBs reported |\n|---|---|---|---|");
    let timed = |label: &str| -> Result<(), Box<dyn std::error::Error>> {
        let start = Instant::now();
        let report = check::check(&cfg, &[], Duration::ZERO)?;
        let took = start.elapsed();
        let buckets: usize = report.rules.iter().map(|r| r.buckets_differing).sum();
        let obs: usize = report.rules.iter().map(|r| r.only_at_hq.len() + r.only_at_site.len() + r.differing.len()).sum();
        println!("| {label} | {:.2} s | {buckets} | {obs} |", took.as_secs_f64());
        Ok(())
    };
    timed("consistent")?;
    let (a, b, c) = (o.check_rows / 8, o.check_rows * 2 / 3, o.check_rows - 1);
    sites[0].batch_execute(&format!(
        "SET session_replication_role = replica;
         DELETE FROM ob WHERE ob_id = {a};
         UPDATE ob SET status = 'C' WHERE ob_id = {b};
         SET session_replication_role = origin;"
    ))?;
    sites[1].batch_execute(&format!(
        "SET session_replication_role = replica; DELETE FROM ob WHERE ob_id = {c}; SET session_replication_role = origin"
    ))?;
    timed("3 OBs diverged")?;
    println!(
        "\nRerun: `cargo run --release -p asto-tests --bin ob-bench -- --base-port {} --lag-commits {} --bulk {} --check-rows {}`",
        o.base_port, o.lag_commits, o.bulk, o.check_rows
    );
    drop(clusters);
    Ok(())
}
