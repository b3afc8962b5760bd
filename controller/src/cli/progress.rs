//! Progress bars for pipeline actions, one per copy being written or verified, drawn from the
//! pipeline's progress events (in-process for `asto demo`, over SSE for `asto watch`).

use std::collections::HashMap;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::Progress;

pub struct ProgressView {
    bars: MultiProgress,
    style: ProgressStyle,
    active: HashMap<String, ProgressBar>,
    /// Actions finished so far.
    pub finished: usize,
}

impl ProgressView {
    /// A view drawing on stderr, or nothing with `hidden`.
    pub fn new(hidden: bool) -> ProgressView {
        let bars = MultiProgress::new();
        if hidden {
            bars.set_draw_target(ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template("{prefix:>32} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        ProgressView { bars, style, active: HashMap::new(), finished: 0 }
    }

    pub fn apply(&mut self, event: Progress) {
        match event {
            Progress::Started { key, action, unit, device, total } => {
                let bar = self.bars.add(ProgressBar::new(total.max(1)));
                bar.set_style(self.style.clone());
                bar.set_prefix(format!("{action} {unit}{}", device.map(|d| format!(" on {d}")).unwrap_or_default()));
                if action == "prepare" {
                    bar.set_message("planning");
                }
                self.active.insert(key, bar);
            }
            Progress::Bytes { key, done } => {
                if let Some(b) = self.active.get(&key) {
                    b.set_position(done);
                }
            }
            Progress::Finished { key, ok, message } => {
                if let Some(b) = self.active.remove(&key) {
                    if ok {
                        b.set_position(b.length().unwrap_or(0));
                    }
                    b.finish_with_message(if ok { format!("ok: {message}") } else { format!("FAILED: {message}") });
                }
                self.finished += 1;
            }
        }
    }
}
