//! A writer that counts and SHA-256-hashes the bytes passing through it, for callers that make a
//! file and must record its size and checksum without reading it again (compressed copies of
//! unit files, distribution bundles).

use std::io::Write;

use sha2::{Digest, Sha256};

pub struct HashingWriter<W> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter { inner, sha: Sha256::new(), bytes: 0 }
    }

    /// The inner writer, the bytes written, and their SHA-256.
    pub fn finish(self) -> (W, u64, [u8; 32]) {
        (self.inner, self.bytes, self.sha.finalize().into())
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_hashes_what_passes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (inner, n, sha) = w.finish();
        assert_eq!((inner.as_slice(), n), (&b"abc"[..], 3));
        assert_eq!(hex::encode(sha), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
