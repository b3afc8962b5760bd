//! `asto check`: the consistency check tool. Stage files against the catalogue (`--stage`, the
//! default) and volumes against the catalogue (`--volumes all` or barcodes: every verified copy
//! read back). Prints a report (JSON with `--json`); exits 2 when it found problems.

use std::process::ExitCode;

use super::context::{ConfigArg, embedded_agent};
use super::output;
use crate::archive::consistency::{CheckOptions, Volumes, check};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Check the archive and user stages against the catalogue (default when nothing is named).
    #[arg(long)]
    pub stage: bool,
    /// Re-verify volumes in the jukebox: `all`, or barcodes.
    #[arg(long, num_args = 1.., value_name = "all|BARCODE")]
    pub volumes: Vec<String>,
}

pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let (config, conn) = args.config.open()?;
    let volumes = match args.volumes.as_slice() {
        [] => Volumes::None,
        [all] if all == "all" => Volumes::All,
        list if list.iter().any(|b| b == "all") => anyhow::bail!("--volumes takes `all` or barcodes, not both"),
        list => Volumes::Barcodes(list.to_vec()),
    };
    let stage = args.stage || volumes == Volumes::None;
    let agent = if volumes == Volumes::None { None } else { Some(embedded_agent(&config)?) };
    let report = check(&conn, &config, agent.as_deref(), &CheckOptions { stage, volumes })?;
    if json {
        output::json(&report)?;
    } else {
        output::table(
            &["problem", "where", "detail"],
            report.problems.iter().map(|p| vec![serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(), p.subject.clone(), p.detail.clone()]),
        );
        println!(
            "{} stage files ({} bytes) and {} copies on {} volumes checked: {}",
            report.stage_files_checked,
            report.stage_bytes_checked,
            report.copies_checked,
            report.volumes_checked,
            if report.clean { "consistent".to_owned() } else { format!("{} problems", report.problems.len()) }
        );
    }
    Ok(if report.clean { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
