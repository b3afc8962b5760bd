//! `asto ob`: placeholder until its issue lands.

use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Not available yet.
    Status,
}

pub fn run(_cmd: Command, _json: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`asto ob` is not available in this build yet")
}
