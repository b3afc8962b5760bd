//! `asto watch`: live progress bars per device, from the controller's event stream.

use std::collections::HashMap;
use std::process::ExitCode;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

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
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>32} [{bar:30}] {bytes:>10}/{total_bytes:<10} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut active: HashMap<String, ProgressBar> = HashMap::new();
    let mut finished = 0usize;
    client.events("/v1/progress", |data| {
        if json {
            println!("{data}");
        }
        let Ok(p) = serde_json::from_str::<Progress>(data) else { return true };
        match p {
            Progress::Started { key, action, unit, device, total } => {
                if !json {
                    let bar = bars.add(ProgressBar::new(total.max(1)));
                    bar.set_style(style.clone());
                    bar.set_prefix(format!("{action} {unit}{}", device.map(|d| format!(" on {d}")).unwrap_or_default()));
                    active.insert(key, bar);
                }
            }
            Progress::Bytes { key, done } => {
                if let Some(b) = active.get(&key) {
                    b.set_position(done);
                }
            }
            Progress::Finished { key, ok, message } => {
                if let Some(b) = active.remove(&key) {
                    b.finish_with_message(if ok { format!("ok: {message}") } else { format!("FAILED: {message}") });
                }
                finished += 1;
            }
        }
        args.count.is_none_or(|n| finished < n)
    })?;
    Ok(ExitCode::SUCCESS)
}
