//! `asto inbox watch`: the passive ingest daemon. Watches an inbox for trigger files, queues
//! ingest requests in the catalogue and archives them; `--once` does one pass and exits (tests,
//! systemd timers).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::context::ConfigArg;
use super::output;
use crate::archive::inbox;
use crate::archive::ingest::ArchiveOptions;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Watch an inbox: queue the requests of `NAME.ready` triggers and archive `NAME`.
    Watch(WatchArgs),
}

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The inbox directory.
    #[arg(long)]
    pub inbox: PathBuf,
    /// Process what is there, then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between passes.
    #[arg(long, default_value_t = 5.0)]
    pub period: f64,
    /// Data class for triggers that name none.
    #[arg(long)]
    pub class: Option<String>,
    /// Directory inside the class for triggers that name none.
    #[arg(long = "as")]
    pub prefix: Option<String>,
    /// Owner for triggers (and headers) that name none.
    #[arg(long)]
    pub owner: Option<String>,
    /// Programme for triggers (and headers) that name none.
    #[arg(long)]
    pub programme: Option<String>,
    /// Proprietary period end for triggers (and headers) that name none.
    #[arg(long)]
    pub proprietary_until: Option<String>,
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    let Command::Watch(args) = cmd;
    let (config, mut conn) = args.config.open()?;
    let dir = inbox::check_inbox(&config, &args.inbox)?;
    if !(args.period.is_finite() && args.period > 0.0) {
        anyhow::bail!("--period must be a positive number of seconds");
    }
    let defaults = ArchiveOptions {
        class: args.class,
        prefix: args.prefix,
        owner: args.owner,
        programme: args.programme,
        proprietary_until: args.proprietary_until,
    };
    let mut failed = 0usize;
    loop {
        let report = inbox::pass(&mut conn, &config, &dir, &defaults)?;
        failed += report.rejected.len() + report.processed.iter().filter(|o| !o.ok).count();
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else if !report.processed.is_empty() || !report.rejected.is_empty() {
            output::table(
                &["name", "result", "archived as", "version"],
                report.rejected.iter().map(|(n, e)| vec![n.clone(), format!("rejected: {e}"), String::new(), String::new()]).chain(report.processed.iter().map(|o| {
                    let (path, v) = o.archived.as_ref().map(|a| (a.path.clone(), a.version.to_string())).unwrap_or_default();
                    vec![o.name.clone(), if o.ok { "archived".into() } else { format!("failed: {}", o.error.clone().unwrap_or_default()) }, path, v]
                })),
            );
        }
        if args.once {
            break;
        }
        // The daemon's own schedule between passes.
        std::thread::sleep(Duration::from_secs_f64(args.period));
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
