//! `asto controller`: the controller daemon (HTTP API + pipeline + embedded agent).

use std::process::ExitCode;

use super::context::ConfigArg;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Address to listen on (default: `[api] listen` of the configuration; port 0 picks one).
    #[arg(long)]
    pub listen: Option<String>,
}

pub fn run(args: Args, _json: bool) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    // Paths the daemon cannot use are start-up errors too, with the file and the key.
    if let Some(p) = super::config_check::path_problems(&config).into_iter().next() {
        anyhow::bail!("{p}");
    }
    let _lock = super::run::lock_runner(&config)?;
    let listen = args.listen.clone().or_else(|| config.api.as_ref().map(|a| a.listen.clone())).unwrap_or_else(|| "127.0.0.1:7420".into());
    crate::service::serve(config, &listen)?;
    Ok(ExitCode::SUCCESS)
}
