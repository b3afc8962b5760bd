//! `asto ob`: the OB topology from the `[ob]` table of the configuration file — initialise it,
//! show its status, run the archiving procedures, recover archived OBs and check consistency.
//!
//! Exit status: 0 when all is well, 2 when `status` finds an unhealthy node or link or `check`
//! finds a divergence, 1 on errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::ob::archive::{self, ArchiveReport, MovedOb};
use crate::ob::check::{self, CheckReport};
use crate::ob::config::{self, ObConfig};
use crate::ob::health::{self, LinkHealth, StatusReport};
use crate::ob::{init, recover, replication};

/// Where the configuration comes from.
#[derive(clap::Args, Debug)]
pub struct ConfigArg {
    /// Configuration file; its [ob] table describes the topology.
    #[arg(long, env = "ASTO_CONFIG", default_value = config::DEFAULT_CONFIG_PATH)]
    config: PathBuf,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Create the databases, apply schema migrations on every node, create publications and
    /// subscriptions. Safe to run again.
    Init {
        #[command(flatten)]
        config: ConfigArg,
        /// Seconds to wait for new subscriptions to finish their initial copy (0: do not wait).
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Nodes (schema, OB counts, last procedure calls) and replication links (lag, retained
    /// WAL, disabled subscriptions and why).
    Status {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Run an archiving procedure.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Move archived OBs from HQ's history back into operations (they replicate to the sites).
    Recover {
        #[command(flatten)]
        config: ConfigArg,
        /// OB ids to recover.
        #[arg(required = true, value_name = "OB_ID")]
        ob_ids: Vec<i64>,
        /// Report what would be recovered, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check the two consistency rules (bucketed hashes, then the exact differing OBs).
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// Only these sites (default: all).
        #[arg(long = "site", value_name = "SITE")]
        sites: Vec<String>,
        /// Seconds to wait for replication to catch up before comparing (0: do not wait).
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum ArchiveCommand {
    /// Service-mode archiving at HQ (every ESO period): SM OBs of runs older than
    /// [ob.archive] sm_age_months move to history; the sites run their part by replication.
    Sm {
        #[command(flatten)]
        config: ConfigArg,
        /// Archive as if it were this date (YYYY-MM-DD or RFC 3339); default now.
        #[arg(long)]
        as_of: Option<String>,
        /// Report what would move, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait until every site has run its part (0: do not wait).
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    /// Visitor-mode archiving at the sites (monthly): VM OBs older than [ob.archive]
    /// vm_age_days are removed at the site; HQ keeps them.
    Vm {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this site (default: every site).
        #[arg(long, env = "ASTO_OB_SITE")]
        site: Option<String>,
        /// Archive as if it were this date (YYYY-MM-DD or RFC 3339); default now.
        #[arg(long)]
        as_of: Option<String>,
        /// Report what would move, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn load(arg: &ConfigArg) -> anyhow::Result<ObConfig> {
    Ok(ObConfig::load(&arg.config)?)
}

fn emit_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value).context("encoding JSON output")?);
    Ok(())
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Init { config, wait } => {
            let cfg = load(&config)?;
            let report = init::init(&cfg, Duration::from_secs(wait)).context("initialising the OB topology")?;
            if json {
                emit_json(&report)?;
            } else {
                for n in &report.nodes {
                    let applied = if n.migrations_applied.is_empty() {
                        "up to date".to_owned()
                    } else {
                        format!("applied {:?}", n.migrations_applied)
                    };
                    let created = if n.database_created { ", database created" } else { "" };
                    println!("{:<10} {:<4} schema v{} ({applied}{created})", n.node, n.role.as_str(), n.schema_version);
                }
                for s in &report.subscriptions_created {
                    println!("subscription {s} created");
                }
                if let Some(e) = &report.sync_error {
                    println!("warning: the initial copy is still running: {e}; see asto ob status");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { config } => {
            let cfg = load(&config)?;
            let report = health::status(&cfg);
            if json {
                emit_json(&report)?;
            } else {
                print_status(&report);
            }
            Ok(if report.healthy { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Command::Archive(ArchiveCommand::Sm { config, as_of, dry_run, wait }) => {
            let cfg = load(&config)?;
            let report = archive::archive_sm(&cfg, as_of.as_deref(), dry_run).context("SM archiving at HQ")?;
            if wait > 0 && !dry_run {
                replication::wait_for_sync(&cfg, Duration::from_secs(wait))
                    .context("waiting for the sites to run their part")?;
            }
            if json {
                emit_json(&report)?;
            } else {
                print_archive(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Archive(ArchiveCommand::Vm { config, site, as_of, dry_run }) => {
            let cfg = load(&config)?;
            let reports = archive::archive_vm(&cfg, site.as_deref(), as_of.as_deref(), dry_run).context("VM archiving")?;
            if json {
                emit_json(&reports)?;
            } else {
                reports.iter().for_each(print_archive);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Recover { config, ob_ids, dry_run } => {
            let cfg = load(&config)?;
            let report = recover::recover(&cfg, &ob_ids, dry_run).context("recovering OBs at HQ")?;
            if json {
                emit_json(&report)?;
            } else {
                let verb = if dry_run { "would recover" } else { "recovered" };
                println!("{verb} {} OB(s)", report.obs.len());
                print_obs(&report.obs);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config, sites, wait } => {
            let cfg = load(&config)?;
            let report = check::check(&cfg, &sites, Duration::from_secs(wait)).context("consistency check")?;
            if json {
                emit_json(&report)?;
            } else {
                print_check(&report);
            }
            Ok(if report.consistent { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
    }
}

fn print_obs(obs: &[MovedOb]) {
    for o in obs.iter().take(50) {
        println!("  OB {:>10}  run {:>10}  status {}  last changed {}", o.ob_id, o.run_id, o.status, o.last_changed);
    }
    if obs.len() > 50 {
        println!("  … and {} more (use --json for all)", obs.len() - 50);
    }
}

fn print_archive(r: &ArchiveReport) {
    let verb = if r.dry_run { "would move" } else { "moved" };
    println!("{} {}: {verb} {} OB(s) last changed before {} (as of {})", r.node, r.procedure, r.obs.len(), r.cutoff, r.as_of);
    print_obs(&r.obs);
}

fn print_link(l: &LinkHealth) {
    let opt = |v: Option<i64>| v.map_or("-".to_owned(), |b| b.to_string());
    let lag = l.replay_lag_seconds.map_or("-".to_owned(), |s| format!("{s:.3}s"));
    let state = match l.enabled {
        Some(true) => "enabled",
        Some(false) => "DISABLED",
        None => "unknown",
    };
    println!(
        "  {:<28} {:>8} -> {:<8} {:<8} lag {} B / {lag}, retained WAL {} B",
        l.subscription,
        l.publisher,
        l.subscriber,
        state,
        opt(l.lag_bytes),
        opt(l.retained_wal_bytes)
    );
    if let Some(p) = &l.problem {
        println!("    problem: {p}");
    }
}

fn print_status(r: &StatusReport) {
    println!("nodes:");
    for n in &r.nodes {
        let count = |v: Option<i64>| v.map_or("-".to_owned(), |c| c.to_string());
        println!(
            "  {:<10} {:<4} schema v{}  SM {}  VM {}  history {}",
            n.node,
            n.role.as_str(),
            n.schema_version.map_or("-".to_owned(), |v| v.to_string()),
            count(n.sm_obs),
            count(n.vm_obs),
            count(n.history_obs)
        );
        if let Some(e) = &n.error {
            println!("    problem: {e}");
        }
        for c in &n.last_calls {
            println!(
                "    {} {} call {} rows {} {}",
                c.at,
                c.proc,
                c.call_id.map_or("-".to_owned(), |i| i.to_string()),
                c.rows_affected.map_or("-".to_owned(), |i| i.to_string()),
                c.outcome
            );
        }
    }
    println!("replication:");
    r.links.iter().for_each(print_link);
    println!("{}", if r.healthy { "healthy" } else { "UNHEALTHY" });
}

fn list(ids: &[i64]) -> String {
    let shown: Vec<String> = ids.iter().take(20).map(i64::to_string).collect();
    let more = if ids.len() > 20 { format!(" … ({} in all)", ids.len()) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

fn print_check(r: &CheckReport) {
    if let Some(e) = &r.sync_error {
        println!("replication did not catch up: {e}");
    }
    for l in r.links.iter().filter(|l| !l.healthy()) {
        print_link(l);
    }
    for rule in &r.rules {
        let verdict = if rule.consistent { "ok" } else { "DIVERGED" };
        println!(
            "rule {} {:<8} {verdict}: {} (HQ {} rows, site {} rows, {} of {} buckets differ)",
            rule.rule, rule.site, rule.description, rule.hq_rows, rule.site_rows, rule.buckets_differing, rule.buckets
        );
        if !rule.only_at_hq.is_empty() {
            println!("  only at HQ: {}", list(&rule.only_at_hq));
        }
        if !rule.only_at_site.is_empty() {
            println!("  only at {}: {}", rule.site, list(&rule.only_at_site));
        }
        if !rule.differing.is_empty() {
            println!("  differing: {}", list(&rule.differing));
        }
    }
    println!("{}", if r.consistent { "consistent" } else { "INCONSISTENT" });
}
