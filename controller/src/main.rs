//! `asto`: controller daemon, embedded agent and operator CLI in one binary.

use std::process::ExitCode;

use asto_controller::cli;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "asto", version, about = "Archive storage: data stages, media units, tape and optical writing, OB replication")]
struct Cli {
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build and verify media images (ISO 9660, pax tar).
    #[command(subcommand)]
    Image(cli::image::Command),
    /// Drive a tape drive directly (SSC over SG_IO, or the simulator).
    #[command(subcommand)]
    Tape(cli::tape::Command),
    /// Drive a media changer directly (SMC over SG_IO, mtx, or the simulator).
    #[command(subcommand)]
    Changer(cli::changer::Command),
    /// SCSI helpers (decode sense data).
    #[command(subcommand)]
    Scsi(cli::scsi::Command),
    /// Observation-block replication and archiving on PostgreSQL.
    #[command(subcommand)]
    Ob(cli::ob::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Image(c) => cli::image::run(c, cli.json),
        Command::Tape(c) => cli::tape::run(c, cli.json),
        Command::Changer(c) => cli::changer::run(c, cli.json),
        Command::Scsi(c) => cli::scsi::run(c, cli.json),
        Command::Ob(c) => cli::ob::run(c, cli.json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("asto: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
