//! `asto retrieve`: get archived files back — from their stage, or positioned straight to them
//! on a volume in the jukebox — checked against the catalogue's SHA-256.

use std::path::PathBuf;
use std::process::ExitCode;

use super::browse::RightsArgs;
use super::context::{ConfigArg, embedded_agent};
use super::output;
use crate::archive::retrieve::{RetrieveOptions, retrieve};
use crate::size::human;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub rights: RightsArgs,
    /// Where to put the files: a directory, or a file name when retrieving one file.
    #[arg(long, short = 'o', default_value = ".")]
    pub output: PathBuf,
    /// Read from a volume even if the stage still holds the file.
    #[arg(long)]
    pub from_media: bool,
    /// Archive paths (as `asto browse` lists them) or `#ID`.
    #[arg(required = true)]
    pub files: Vec<String>,
}

pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let (config, conn) = args.config.open()?;
    if args.files.len() > 1 && !args.output.is_dir() {
        anyhow::bail!("{} is not a directory; retrieving several files needs one", args.output.display());
    }
    let agent = embedded_agent(&config)?;
    let opts = RetrieveOptions { principal: args.rights.principal()?, from_media: args.from_media };
    let mut done = Vec::new();
    for f in &args.files {
        done.push(retrieve(&conn, &config, &agent, f, &args.output, &opts)?);
    }
    if json {
        output::json(&done)?;
    } else {
        output::table(
            &["path", "to", "size", "from", "volume", "read"],
            done.iter().map(|r| {
                vec![
                    r.path.clone(),
                    r.dest.display().to_string(),
                    human(r.size),
                    r.source.clone(),
                    r.volume.clone().unwrap_or_default(),
                    match r.located_block {
                        Some(b) => format!("{} in {} blocks from block {b}", human(r.bytes_read), r.blocks_read),
                        None => human(r.bytes_read),
                    },
                ]
            }),
        );
    }
    Ok(ExitCode::SUCCESS)
}
