//! `asto run`: run the pipeline until no more work can be started, with the embedded agent.
//!
//! One runner at a time per catalogue: the runner holds an exclusive lock next to the catalogue,
//! because on start it recovers interrupted work, which must not be another live runner's.

use std::fs::File;
use std::process::ExitCode;

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};

use super::context::{ConfigArg, embedded_agent};
use super::output;
use crate::config::Config;
use crate::pipeline::{self, Phase, RunOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Stop after this phase (prepare, write, verify, ingest).
    #[arg(long, value_enum)]
    pub stop_after: Option<Phase>,
    /// Units prepared at once.
    #[arg(long, default_value_t = 2)]
    pub max_prepares: usize,
}

/// Take the runner lock of a catalogue, or fail naming the holder.
pub fn lock_runner(config: &Config) -> anyhow::Result<Flock<File>> {
    let path = config.catalogue.with_extension("runner.lock");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| anyhow::anyhow!("another pipeline runner holds {} ({e}); one runner per catalogue", path.display()))
}

pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let (config, mut conn) = args.config.open()?;
    let _lock = lock_runner(&config)?;
    let agent = embedded_agent(&config)?;
    let opts = RunOptions { stop_after: args.stop_after, max_prepares: args.max_prepares };
    let summary = pipeline::run(&mut conn, &config, agent, &opts, None)?;
    if json {
        output::json(&summary)?;
    } else {
        println!(
            "prepared {} units, wrote {} copies, verified {}, {} failures, {} requests done",
            summary.prepared, summary.written, summary.verified, summary.failed, summary.requests_done
        );
        for s in &summary.stalled {
            println!("waiting: {s}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
