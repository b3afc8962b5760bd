//! Copies one source file into an image while hashing it, and proves that what was copied is
//! what was planned: exactly the planned size, and the ingest checksum when one is known.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::ImageError;
use crate::writer::ChunkSink;

/// Size of the copy buffer: large enough for device-sized writes.
pub(crate) const COPY_BUFFER: usize = 1 << 20;

fn read_full(file: &mut File, buf: &mut [u8], path: &Path) -> Result<usize, ImageError> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(ImageError::Unreadable { path: path.to_owned(), source: e }),
        }
    }
    Ok(filled)
}

/// Streams `size` bytes of `path` into `out` (when given; else through `buf` only),
/// returning their SHA-256.
/// Fails if the file is shorter or longer than `size`, or its checksum is not `expected`.
pub(crate) fn copy_verified(
    path: &Path,
    size: u64,
    expected: Option<[u8; 32]>,
    mut out: Option<&mut dyn ChunkSink>,
    buf: &mut [u8],
) -> Result<[u8; 32], ImageError> {
    let mut file = File::open(path).map_err(|e| ImageError::Unreadable { path: path.to_owned(), source: e })?;
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let dst: &mut [u8] = match out.as_mut() {
            Some(sink) => sink.space(),
            None => &mut *buf,
        };
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(dst.len());
        let got = read_full(&mut file, &mut dst[..want], path)?;
        if got == 0 {
            return Err(ImageError::SourceChanged {
                path: path.to_owned(),
                detail: format!("it ended after {} of the planned {size} bytes", size - left),
            });
        }
        hasher.update(&dst[..got]);
        if let Some(sink) = out.as_mut() {
            sink.commit(got)?;
        }
        left -= got as u64;
    }
    let mut probe = [0u8; 1];
    if read_full(&mut file, &mut probe, path)? != 0 {
        return Err(ImageError::SourceChanged {
            path: path.to_owned(),
            detail: format!("it is now longer than the planned {size} bytes"),
        });
    }
    let digest: [u8; 32] = hasher.finalize().into();
    if let Some(expected) = expected
        && expected != digest
    {
        return Err(ImageError::SourceChanged {
            path: path.to_owned(),
            detail: format!("its SHA-256 is {} but {} was recorded", hex::encode(digest), hex::encode(expected)),
        });
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TwoByteChunks(Vec<u8>, [u8; 2]);
    impl ChunkSink for TwoByteChunks {
        fn space(&mut self) -> &mut [u8] {
            &mut self.1
        }
        fn commit(&mut self, n: usize) -> Result<(), ImageError> {
            self.0.extend_from_slice(&self.1[..n]);
            Ok(())
        }
    }

    #[test]
    fn detects_size_and_content_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let mut buf = vec![0; 2];
        let mut out = TwoByteChunks(Vec::new(), [0; 2]);
        let d = copy_verified(&p, 5, None, Some(&mut out), &mut buf).unwrap();
        assert_eq!(out.0, b"hello");
        assert!(copy_verified(&p, 5, Some(d), None, &mut buf).is_ok());
        assert!(matches!(copy_verified(&p, 6, None, None, &mut buf), Err(ImageError::SourceChanged { .. })));
        assert!(matches!(copy_verified(&p, 4, None, None, &mut buf), Err(ImageError::SourceChanged { .. })));
        assert!(matches!(copy_verified(&p, 5, Some([0; 32]), None, &mut buf), Err(ImageError::SourceChanged { .. })));
        assert!(matches!(
            copy_verified(&dir.path().join("missing"), 0, None, None, &mut buf),
            Err(ImageError::Unreadable { .. })
        ));
    }
}
