//! `asto init --sim DIR`: a ready-to-run workspace on simulated devices.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::size::parse_size;
use crate::workspace::{self, SimWorkspace};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory of the new workspace.
    pub dir: PathBuf,
    /// Simulated devices (the only kind `init` sets up; real devices are configured by hand).
    #[arg(long, required = true)]
    pub sim: bool,
    /// Rated speed of the simulated tape drives (e.g. 140MB); default unthrottled.
    #[arg(long)]
    pub tape_rate: Option<String>,
    /// Rated speed of the simulated burners (e.g. 22MB); default unthrottled.
    #[arg(long)]
    pub burner_rate: Option<String>,
    /// Capacity of the DEMO-CD media type.
    #[arg(long, default_value = "64MiB")]
    pub demo_cd_capacity: String,
    /// Copies of archive units.
    #[arg(long, default_value_t = 2)]
    pub archive_copies: u32,
}

pub fn run(args: Args, _json: bool) -> anyhow::Result<ExitCode> {
    let size = |s: &Option<String>| s.as_deref().map(parse_size).transpose().map_err(anyhow::Error::msg);
    let ws = SimWorkspace {
        tape_rate: size(&args.tape_rate)?,
        burner_rate: size(&args.burner_rate)?,
        demo_cd_capacity: parse_size(&args.demo_cd_capacity).map_err(anyhow::Error::msg)?,
        archive_copies: args.archive_copies,
        ..SimWorkspace::default()
    };
    let file = workspace::create(&args.dir, &ws)?;
    println!("{}", file.display());
    Ok(ExitCode::SUCCESS)
}
