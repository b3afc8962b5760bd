//! The output side shared by both writers: counts and hashes every byte on its way to the
//! device, and checks the writer kept to its plan.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

use crate::error::ImageError;

/// Zeros for padding.
pub(crate) const ZEROS: [u8; 4096] = [0; 4096];

/// A writer that hashes and counts what passes through it.
pub(crate) struct ImageSink<W: Write> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> ImageSink<W> {
    pub(crate) fn new(inner: W) -> Self {
        ImageSink { inner, hasher: Sha256::new(), written: 0 }
    }

    #[allow(dead_code)]
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), ImageError> {
        self.write_all(bytes).map_err(ImageError::Write)
    }

    /// Writes `n` zero bytes.
    pub(crate) fn zeros(&mut self, mut n: u64) -> Result<(), ImageError> {
        while n > 0 {
            let chunk = n.min(ZEROS.len() as u64) as usize;
            self.put(&ZEROS[..chunk])?;
            n -= chunk as u64;
        }
        Ok(())
    }

    /// Pads with zeros up to the absolute position `offset`.
    pub(crate) fn pad_to(&mut self, offset: u64) -> Result<(), ImageError> {
        if offset < self.written {
            return Err(ImageError::Internal(format!("position {} already past {offset}", self.written)));
        }
        self.zeros(offset - self.written)
    }

    /// Flushes and checks the total against the plan.
    pub(crate) fn finish(mut self, planned: u64) -> Result<[u8; 32], ImageError> {
        self.inner.flush().map_err(ImageError::Write)?;
        if self.written != planned {
            return Err(ImageError::Internal(format!("wrote {} bytes, planned {planned}", self.written)));
        }
        Ok(self.hasher.finalize().into())
    }
}

impl<W: Write> Write for ImageSink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
