//! A rated-speed model: simulated devices move data no faster than a real one would, so
//! progress, overlap of preparation and writing, and timing behave realistically in the demo.

use std::time::{Duration, Instant};

/// Throttles a byte stream to `bytes_per_sec` (None = unthrottled).
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_sec: Option<u64>,
    start: Instant,
    moved: u64,
}

impl RateLimiter {
    pub fn new(bytes_per_sec: Option<u64>) -> RateLimiter {
        RateLimiter { bytes_per_sec, start: Instant::now(), moved: 0 }
    }

    /// Account for `n` bytes moved; blocks until the device would have moved them.
    pub fn consume(&mut self, n: u64) {
        self.moved += n;
        let Some(rate) = self.bytes_per_sec.filter(|r| *r > 0) else { return };
        let due = Duration::from_secs_f64(self.moved as f64 / rate as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}
