//! `asto distribute submit|run|status`: distribution requests — archive files delivered as a
//! verified `.tar.gz` bundle or on user media — processed several at once (7 by default).

use std::path::PathBuf;
use std::process::ExitCode;

use super::browse::RightsArgs;
use super::context::{ConfigArg, embedded_agent};
use super::output;
use crate::archive::distribution::{self, DEFAULT_PARALLEL, DistributionRequest, Method, ProcessOptions};
use crate::size::human;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Ask for archive files: a tar.gz bundle (default) or user media (`--media TYPE`).
    Submit {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        rights: RightsArgs,
        /// Deliver on user media of this type instead of a bundle.
        #[arg(long)]
        media: Option<String>,
        /// Copies of the user media.
        #[arg(long, default_value_t = 1)]
        copies: u32,
        /// Archive paths (as `asto browse` lists them) or `#ID`.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Process the queued requests, several at once, until none is left.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Most requests processed at once.
        #[arg(long, env = "ASTO_DISTRIBUTION_PARALLEL", default_value_t = DEFAULT_PARALLEL)]
        max_parallel: usize,
        /// Where bundles go (default: `distribution/` beside the catalogue).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// State of requests (all, or the ids named).
    Status {
        #[command(flatten)]
        config: ConfigArg,
        ids: Vec<i64>,
    },
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Submit { config, rights, media, copies, files } => {
            let (config, mut conn) = config.open()?;
            let method = match media {
                Some(media_type) => Method::Media { media_type, copies },
                None => Method::Bundle,
            };
            let id = distribution::submit(&mut conn, &config, &DistributionRequest { principal: rights.principal()?, files, method })?;
            if json {
                output::json(&serde_json::json!({ "id": id }))?;
            } else {
                println!("distribution request {id} queued");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config, max_parallel, out } => {
            let (config, _conn) = config.open()?;
            let agent = embedded_agent(&config)?;
            let out_dir = out.unwrap_or_else(|| distribution::default_out_dir(&config));
            let report = distribution::process(&config, agent, &ProcessOptions { max_parallel, out_dir })?;
            if json {
                output::json(&report)?;
            } else {
                println!(
                    "{} requests done, {} failed; at most {} ran at once (limit {})",
                    report.done.len(),
                    report.failed.len(),
                    report.peak_parallel,
                    report.max_parallel
                );
                for (id, e) in &report.failed {
                    println!("request {id}: {e}");
                }
            }
            Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Command::Status { config, ids } => {
            let (_config, conn) = config.open()?;
            let list = distribution::status(&conn, &ids)?;
            if json {
                output::json(&list)?;
            } else {
                output::table(
                    &["id", "requester", "method", "state", "files", "delivered", "error"],
                    list.iter().map(|s| {
                        vec![
                            s.id.to_string(),
                            s.requester.clone(),
                            s.method.clone(),
                            s.state.clone(),
                            s.files.to_string(),
                            match (&s.bundle, s.bytes, s.user_request) {
                                (Some(b), Some(n), _) => format!("{b} ({})", human(n)),
                                (_, _, Some(r)) => format!("user request {r}"),
                                _ => String::new(),
                            },
                            s.error.clone().unwrap_or_default(),
                        ]
                    }),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
