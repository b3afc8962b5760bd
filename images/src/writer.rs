//! The output side shared by both writers: cuts the image into large chunks, writes them to
//! the device on the caller's thread and hashes them on a second thread (SHA-256 of the whole
//! image would otherwise halve the throughput), and checks the writer kept to its plan.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

use sha2::{Digest, Sha256};

use crate::error::ImageError;

/// Zeros for padding.
pub(crate) const ZEROS: [u8; 4096] = [0; 4096];

/// Size of the chunks handed to the device and the hashing thread.
pub(crate) const CHUNK: usize = 1 << 20;

/// Chunks in flight between the writer and the hashing thread.
const IN_FLIGHT: usize = 4;

/// A destination that lends out buffer space, so file data is read straight into the chunk
/// that goes to the device.
pub(crate) trait ChunkSink {
    /// Free space of the current chunk (never empty).
    fn space(&mut self) -> &mut [u8];
    /// Marks the first `n` bytes of `space()` as filled.
    fn commit(&mut self, n: usize) -> Result<(), ImageError>;
}

/// Writes an image in chunks, counting and hashing every byte.
pub(crate) struct ImageSink<'s, W: Write> {
    inner: W,
    chunk: Vec<u8>,
    filled: usize,
    written: u64,
    to_hasher: Option<SyncSender<Vec<u8>>>,
    recycled: Receiver<Vec<u8>>,
    hasher: ScopedJoinHandle<'s, [u8; 32]>,
}

impl<'s, W: Write> ImageSink<'s, W> {
    pub(crate) fn new<'e>(inner: W, scope: &'s Scope<'s, 'e>) -> Self {
        let (to_hasher, chunks) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (recycle, recycled) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let hasher = scope.spawn(move || {
            let mut h = Sha256::new();
            for chunk in chunks {
                h.update(&chunk);
                let _ = recycle.try_send(chunk);
            }
            h.finalize().into()
        });
        ImageSink { inner, chunk: vec![0; CHUNK], filled: 0, written: 0, to_hasher: Some(to_hasher), recycled, hasher }
    }

    /// Sends the filled part of the current chunk to the device and the hasher.
    fn ship(&mut self) -> Result<(), ImageError> {
        if self.filled == 0 {
            return Ok(());
        }
        self.inner.write_all(&self.chunk[..self.filled]).map_err(ImageError::Write)?;
        let next = self.recycled.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
        let mut full = std::mem::replace(&mut self.chunk, next);
        full.truncate(self.filled);
        self.filled = 0;
        let tx = self.to_hasher.as_ref().ok_or_else(|| ImageError::Internal("hasher already finished".into()))?;
        tx.send(full).map_err(|_| ImageError::Internal("the hashing thread stopped".into()))?;
        self.chunk.resize(CHUNK, 0);
        Ok(())
    }

    pub(crate) fn put(&mut self, mut bytes: &[u8]) -> Result<(), ImageError> {
        while !bytes.is_empty() {
            let space = self.space();
            let n = space.len().min(bytes.len());
            space[..n].copy_from_slice(&bytes[..n]);
            self.commit(n)?;
            bytes = &bytes[n..];
        }
        Ok(())
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

    /// Flushes, checks the total against the plan and returns the image's SHA-256.
    pub(crate) fn finish(mut self, planned: u64) -> Result<[u8; 32], ImageError> {
        self.ship()?;
        self.inner.flush().map_err(ImageError::Write)?;
        drop(self.to_hasher.take());
        let digest = self.hasher.join().map_err(|_| ImageError::Internal("the hashing thread panicked".into()))?;
        if self.written != planned {
            return Err(ImageError::Internal(format!("wrote {} bytes, planned {planned}", self.written)));
        }
        Ok(digest)
    }
}

impl<W: Write> ChunkSink for ImageSink<'_, W> {
    fn space(&mut self) -> &mut [u8] {
        &mut self.chunk[self.filled..]
    }

    fn commit(&mut self, n: usize) -> Result<(), ImageError> {
        self.filled += n;
        self.written += n as u64;
        if self.filled == CHUNK {
            self.ship()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_counts_what_it_writes() {
        let mut out = Vec::new();
        let digest = std::thread::scope(|s| {
            let mut sink = ImageSink::new(&mut out, s);
            sink.put(&vec![3u8; CHUNK + 17]).unwrap();
            sink.pad_to(3 * CHUNK as u64).unwrap();
            assert!(sink.pad_to(5).is_err());
            sink.finish(3 * CHUNK as u64).unwrap()
        });
        assert_eq!(out.len(), 3 * CHUNK);
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&out)));
    }
}
