//! Reads a tar stream front to back (as a tape returns it): pax, ustar and GNU long-name
//! headers, hashing each regular file without holding it in memory.

use std::io::{BufReader, ErrorKind, Read};

use sha2::{Digest, Sha256};

use super::check::against_lists;
use super::{ReadSummary, MAX_METADATA};
use crate::error::ImageError;
use crate::tar::{checksum_ok, parse_octal, parse_pax, BLOCK};
use crate::unit::FileDigest;
use crate::{MANIFEST_NAME, SUMS_NAME};

const FORMAT: &str = "tar";
/// Largest pax or GNU long-name payload accepted.
const MAX_EXTENSION: u64 = 1 << 20;

struct Stream<R: Read> {
    inner: BufReader<R>,
    offset: u64,
}

impl<R: Read> Stream<R> {
    /// Fills `buf`; Ok(false) on a clean end of stream before the first byte.
    fn block(&mut self, buf: &mut [u8]) -> Result<bool, ImageError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => {
                    return Err(malformed(format!("stream ends inside a block at offset {}", self.offset + filled as u64)));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ImageError::Read(e)),
            }
        }
        self.offset += buf.len() as u64;
        Ok(true)
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), ImageError> {
        if buf.is_empty() || self.block(buf)? {
            Ok(())
        } else {
            Err(malformed(format!("stream ends early at offset {}", self.offset)))
        }
    }

    /// Reads `size` bytes of member data plus padding, feeding them to `sink`.
    fn data(&mut self, size: u64, buf: &mut [u8], mut sink: impl FnMut(&[u8])) -> Result<(), ImageError> {
        let mut left = size.next_multiple_of(BLOCK as u64);
        let mut useful = size;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.exact(&mut buf[..n])?;
            let keep = useful.min(n as u64) as usize;
            sink(&buf[..keep]);
            useful -= keep as u64;
            left -= n as u64;
        }
        Ok(())
    }
}

fn malformed(detail: String) -> ImageError {
    ImageError::Malformed { format: FORMAT, detail }
}

fn field_str(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn clean_path(p: &str) -> String {
    let p = p.strip_prefix("./").unwrap_or(p);
    p.trim_end_matches('/').to_owned()
}

/// Reads a whole tar stream, checks every file against `SHA256SUMS` and the manifest.
pub fn read_tar<R: Read>(input: R) -> Result<ReadSummary, ImageError> {
    let mut s = Stream { inner: BufReader::with_capacity(1 << 20, input), offset: 0 };
    let mut buf = vec![0u8; 1 << 20];
    let mut files = Vec::new();
    let mut sums = None;
    let mut manifest = None;
    let mut problems = Vec::new();
    let mut pax_path: Option<String> = None;
    let mut pax_link: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let mut gnu_name: Option<String> = None;
    let mut ended = false;
    let mut header = [0u8; BLOCK];

    while s.block(&mut header)? {
        let at = s.offset - BLOCK as u64;
        if header.iter().all(|&b| b == 0) {
            ended = true;
            break;
        }
        if !checksum_ok(&header) {
            return Err(malformed(format!("bad header checksum at offset {at}")));
        }
        let typeflag = header[156];
        let raw_size = parse_octal(&header[124..136]).ok_or_else(|| malformed(format!("bad size field at offset {at}")))?;
        match typeflag {
            b'x' | b'L' | b'K' => {
                if raw_size > MAX_EXTENSION {
                    return Err(malformed(format!("extension header of {raw_size} bytes at offset {at}")));
                }
                let mut data = Vec::with_capacity(raw_size as usize);
                s.data(raw_size, &mut buf, |b| data.extend_from_slice(b))?;
                if typeflag == b'L' {
                    gnu_name = Some(field_str(&data));
                } else if typeflag == b'K' {
                    pax_link = Some(field_str(&data));
                } else {
                    for (key, value) in parse_pax(&data).map_err(|e| malformed(format!("{e} at offset {at}")))? {
                        match key.as_str() {
                            "path" => pax_path = Some(String::from_utf8_lossy(&value).into_owned()),
                            "linkpath" => pax_link = Some(String::from_utf8_lossy(&value).into_owned()),
                            "size" => {
                                let v = std::str::from_utf8(&value).ok().and_then(|v| v.parse().ok());
                                pax_size = Some(v.ok_or_else(|| malformed(format!("bad pax size at offset {at}")))?);
                            }
                            _ => {}
                        }
                    }
                }
                continue;
            }
            _ => {}
        }
        let size = pax_size.take().unwrap_or(raw_size);
        let name = match (pax_path.take(), gnu_name.take()) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => {
                let name = field_str(&header[..100]);
                let prefix = if &header[257..262] == b"ustar" { field_str(&header[345..500]) } else { String::new() };
                if prefix.is_empty() { name } else { format!("{prefix}/{name}") }
            }
        };
        let path = clean_path(&name);
        let link = pax_link.take().unwrap_or_else(|| field_str(&header[157..257]));
        match typeflag {
            b'0' | 0 | b'7' => {
                let keep = (path == SUMS_NAME || path == MANIFEST_NAME) && size <= MAX_METADATA;
                let mut hasher = Sha256::new();
                let mut kept = Vec::new();
                s.data(size, &mut buf, |b| {
                    hasher.update(b);
                    if keep {
                        kept.extend_from_slice(b);
                    }
                })?;
                match path.as_str() {
                    p if p == SUMS_NAME => sums = Some(kept),
                    p if p == MANIFEST_NAME => manifest = Some(kept),
                    _ => files.push(FileDigest { path, size, sha256: hasher.finalize().into() }),
                }
            }
            b'1' => {
                // A hard link: the same content as an earlier member, listed under this name.
                let target = clean_path(&link);
                match files.iter().find(|f: &&FileDigest| f.path == target).cloned() {
                    Some(f) => files.push(FileDigest { path, ..f }),
                    None => problems.push(format!("{path:?}: hard link to {target:?}, which is not in the stream before it")),
                }
            }
            b'g' | b'5' | b'2' | b'3' | b'4' | b'6' => s.data(size_if_data(typeflag, size), &mut buf, |_| {})?,
            other => {
                problems.push(format!("{path:?}: unknown member type {:?} skipped", other as char));
                s.data(size, &mut buf, |_| {})?;
            }
        }
    }
    if !ended {
        problems.push("the stream ends without the end-of-archive blocks".to_owned());
    }
    // Drain the record padding so the device read completes.
    std::io::copy(&mut s.inner, &mut std::io::sink()).map_err(ImageError::Read)?;

    let (manifest, mut found) = against_lists(&files, sums.as_deref(), manifest.as_deref());
    problems.append(&mut found);
    Ok(ReadSummary { volume_id: manifest.as_ref().map(|m| m.unit.clone()), manifest, files, problems })
}

/// Members other than regular files carry data only for global headers.
fn size_if_data(typeflag: u8, size: u64) -> u64 {
    if typeflag == b'g' { size } else { 0 }
}
