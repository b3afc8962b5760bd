//! `asto watch`: live progress bars per device, from the controller's event stream.

use std::process::ExitCode;

use super::client::RemoteArg;
use crate::pipeline::Progress;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArg,
    /// Stop after this many finished actions (for scripts); default: watch until interrupted.
    #[arg(long)]
    pub count: Option<usize>,
}

pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.remote.client()?.ok_or_else(|| anyhow::anyhow!("asto watch needs --controller (or ASTO_CONTROLLER)"))?;
    let mut view = super::progress::ProgressView::new(json);
    // Said once the controller holds our subscription: nothing after this line is missed.
    let on_connect = || eprintln!("asto: watching the controller's progress");
    client.events("/v1/progress", on_connect, |data| {
        if json {
            println!("{data}");
        }
        if let Ok(p) = serde_json::from_str::<Progress>(data) {
            view.apply(p);
        }
        args.count.is_none_or(|n| view.finished < n)
    })?;
    Ok(ExitCode::SUCCESS)
}
