//! `asto ingest`: put files into a data stage and the catalogue.

use std::path::PathBuf;
use std::process::ExitCode;

use super::context::ConfigArg;
use super::output;
use crate::config::StageKind;
use crate::ingest::{IngestOptions, ingest};
use crate::size::human;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Stage to ingest into: archive or user.
    #[arg(long, default_value = "archive")]
    pub stage: String,
    /// Data class (archive stage): decides media type, copies and device group.
    #[arg(long)]
    pub class: Option<String>,
    /// Directory inside the stage to put the files under.
    #[arg(long = "as")]
    pub prefix: Option<String>,
    /// Files and directories to ingest (directories recursively, keeping their structure).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let (config, mut conn) = args.config.open()?;
    let stage = StageKind::parse(&args.stage)
        .filter(|s| *s != StageKind::Media)
        .ok_or_else(|| anyhow::anyhow!("unknown stage '{}' (ingest into archive or user)", args.stage))?;
    let report = ingest(&mut conn, &config, &args.paths, &IngestOptions { stage, class: args.class, prefix: args.prefix })?;
    if json {
        output::json(&report)?;
    } else {
        output::table(
            &["id", "path", "size", "sha256", "format", "copied"],
            report.files.iter().map(|f| {
                vec![
                    f.id.to_string(),
                    f.path.clone(),
                    human(f.size),
                    f.sha256[..16].to_string(),
                    f.format.clone(),
                    if f.linked { "hard link" } else { "copy" }.to_string(),
                ]
            }),
        );
        let total: u64 = report.files.iter().map(|f| f.size).sum();
        println!("{} files, {} ingested into the {} stage", report.files.len(), human(total), stage.as_str());
        if let Some(r) = report.queued_request {
            println!("archive request {r} filled a volume and is queued");
        }
    }
    Ok(ExitCode::SUCCESS)
}
