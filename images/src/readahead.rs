//! Asks the kernel to start reading the next source files while the current one is copied
//! and hashed, so a cold disk does not idle while the CPU hashes (`posix_fadvise` WILLNEED;
//! advice only: failures change nothing but speed and are ignored).

use std::fs::File;
use std::path::PathBuf;

use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};

/// How far ahead of the file being copied the kernel is asked to read.
const WINDOW: u64 = 64 << 20;

/// The source files of one image in write order, advised a window ahead.
pub(crate) struct ReadAhead {
    files: Vec<(PathBuf, u64)>,
    next: usize,
    advised_end: u64,
}

impl ReadAhead {
    pub(crate) fn new(files: Vec<(PathBuf, u64)>) -> Self {
        ReadAhead { files, next: 0, advised_end: 0 }
    }

    /// Called before copying file number `index`, which starts `start` bytes into the
    /// concatenation of all files.
    pub(crate) fn before(&mut self, index: usize, start: u64) {
        while self.next < self.files.len() && (self.next <= index + 1 || self.advised_end < start + WINDOW) {
            let (path, size) = &self.files[self.next];
            if *size > 0
                && let Ok(file) = File::open(path)
            {
                let _ = posix_fadvise(&file, 0, 0, PosixFadviseAdvice::POSIX_FADV_WILLNEED);
            }
            self.advised_end += size;
            self.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_window_ahead_and_tolerates_missing_files() {
        let files = vec![("/nonexistent/a".into(), 10u64), ("/nonexistent/b".into(), WINDOW), ("/nonexistent/c".into(), 1)];
        let mut ra = ReadAhead::new(files);
        ra.before(0, 0);
        assert_eq!(ra.next, 2, "the next file and a full window are advised");
        ra.before(1, 10);
        assert_eq!(ra.next, 3);
    }
}
