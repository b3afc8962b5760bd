//! `asto`: controller daemon, embedded agent and operator CLI in one binary.

use std::process::ExitCode;

use asto_controller::cli;
use clap::{CommandFactory, Parser, Subcommand};

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
    // Getting started
    /// Run the whole pipeline on simulated devices with generated data (no setup needed).
    Demo(cli::demo::Args),
    /// Create a workspace on simulated devices.
    Init(cli::init::Args),
    // Daily work
    /// Put files into a data stage and the catalogue.
    Ingest(cli::ingest::Args),
    /// Submit, flush, inspect and roll back requests.
    #[command(subcommand)]
    Request(cli::request::Command),
    /// Run the action pipeline (prepare, write, verify, jukebox ingest, cleanup) until idle.
    Run(cli::run::Args),
    /// Units: one volume's worth of a request.
    #[command(subcommand)]
    Units(cli::units::UnitsCommand),
    /// Volumes: media, their state and location.
    #[command(subcommand)]
    Volumes(cli::units::VolumesCommand),
    /// Devices: state, what they are busy with, their groups.
    Devices(cli::devices::ListArgs),
    /// Operator prompts: list and acknowledge.
    #[command(subcommand)]
    Prompts(cli::devices::PromptsCommand),
    /// Live progress of the controller's pipeline.
    Watch(cli::watch::Args),
    // Archive services
    /// The passive ingest daemon: trigger files in an inbox become archived, versioned files.
    #[command(subcommand)]
    Inbox(cli::inbox::Command),
    /// Find archive files by name pattern, keywords, observation date and free text.
    Browse(cli::browse::Args),
    /// Get archived files back, from their stage or straight from a volume in the jukebox.
    Retrieve(cli::retrieve::Args),
    /// Consistency check: stage files and volumes against the catalogue.
    Check(cli::check::Args),
    /// Distribution requests: archive files as tar.gz bundles or on user media.
    #[command(subcommand)]
    Distribute(cli::distribute::Command),
    /// Data rights: programme membership, and who may see a file.
    #[command(subcommand)]
    Rights(cli::rights::Command),
    // Services
    /// The controller daemon: HTTP API, pipeline and embedded agent.
    Controller(cli::controller::Args),
    /// The agent daemon of a media host: drives its devices, takes work from the controller.
    Agent(cli::agent::Args),
    /// Agents: the embedded one and those on media hosts.
    Agents(cli::devices::ListArgs),
    // Devices and media, directly
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
    // Observation blocks
    /// Observation-block replication and archiving on PostgreSQL.
    #[command(subcommand)]
    Ob(cli::ob::Command),
    // Operations
    /// Check the configuration: every error with its file and key.
    #[command(subcommand)]
    Config(cli::config_check::Command),
    /// Check this host: device permissions, external tools, stage space, catalogue, PostgreSQL.
    Doctor(cli::doctor::Args),
    /// Print a shell completion script (bash, zsh, fish, …).
    #[command(hide = true)]
    Completions(cli::completions::CompletionsArgs),
    /// Write man pages generated from this command line into a directory.
    #[command(hide = true)]
    Man(cli::completions::ManArgs),
}

/// Logs go to stderr; `ASTO_LOG` sets the filter (e.g. `debug`, `asto_controller=trace`).
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ASTO_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // A closed stderr must not kill a daemon: tracing's own report of a failed log write would
    // itself write to stderr and panic.
    // Colours only on a terminal: journald, log files and pipes get plain text.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(if matches!(cli.command, Command::Run(_) | Command::Controller(_) | Command::Agent(_)) { "info" } else { "warn" });
    let result = match cli.command {
        Command::Agent(a) => cli::agent::run(a, cli.json),
        Command::Controller(a) => cli::controller::run(a, cli.json),
        Command::Demo(a) => cli::demo::run(a, cli.json),
        Command::Devices(a) => cli::devices::run_devices(a, cli.json),
        Command::Agents(a) => cli::devices::run_agents(a, cli.json),
        Command::Prompts(c) => cli::devices::run_prompts(c, cli.json),
        Command::Watch(a) => cli::watch::run(a, cli.json),
        Command::Init(a) => cli::init::run(a, cli.json),
        Command::Ingest(a) => cli::ingest::run(a, cli.json),
        Command::Request(c) => cli::request::run(c, cli.json),
        Command::Run(a) => cli::run::run(a, cli.json),
        Command::Units(c) => cli::units::run_units(c, cli.json),
        Command::Volumes(c) => cli::units::run_volumes(c, cli.json),
        Command::Image(c) => cli::image::run(c, cli.json),
        Command::Tape(c) => cli::tape::run(c, cli.json),
        Command::Changer(c) => cli::changer::run(c, cli.json),
        Command::Scsi(c) => cli::scsi::run(c, cli.json),
        Command::Ob(c) => cli::ob::run(c, cli.json),
        Command::Config(c) => cli::config_check::run(c, cli.json),
        Command::Doctor(a) => cli::doctor::run(a, cli.json),
        Command::Completions(a) => cli::completions::completions(a, Cli::command()),
        Command::Man(a) => cli::completions::man(a, Cli::command(), cli.json),
        Command::Inbox(c) => cli::inbox::run(c, cli.json),
        Command::Rights(c) => cli::rights::run(c, cli.json),
        Command::Browse(a) => cli::browse::run(a, cli.json),
        Command::Retrieve(a) => cli::retrieve::run(a, cli.json),
        Command::Check(a) => cli::check::run(a, cli.json),
        Command::Distribute(c) => cli::distribute::run(c, cli.json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("asto: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
