//! The `SHA256SUMS` file: one line per regular file, in the format `sha256sum -c` checks
//! (including its escaping of backslashes and newlines in names).

use crate::unit::FileDigest;

/// Renders the list. Its length depends on the paths only, not on the checksums.
pub(crate) fn render(files: &[FileDigest]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in files {
        let escape = f.path.contains(['\\', '\n', '\r']);
        if escape {
            out.push(b'\\');
        }
        out.extend_from_slice(hex::encode(f.sha256).as_bytes());
        out.extend_from_slice(b"  ");
        if escape {
            for c in f.path.chars() {
                match c {
                    '\\' => out.extend_from_slice(b"\\\\"),
                    '\n' => out.extend_from_slice(b"\\n"),
                    '\r' => out.extend_from_slice(b"\\r"),
                    c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
        } else {
            out.extend_from_slice(f.path.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// Parses a list back into (path, checksum) pairs; errors name the offending line.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<(String, [u8; 32])>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "SHA256SUMS is not UTF-8".to_owned())?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || format!("SHA256SUMS line {} is malformed: {line:?}", n + 1);
        let (escaped, line) = match line.strip_prefix('\\') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let (hash, name) = line.split_once("  ").ok_or_else(bad)?;
        let mut sha = [0u8; 32];
        hex::decode_to_slice(hash, &mut sha).map_err(|_| bad())?;
        let path = if escaped {
            let mut path = String::new();
            let mut chars = name.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some('\\') => path.push('\\'),
                        Some('n') => path.push('\n'),
                        Some('r') => path.push('\r'),
                        _ => return Err(bad()),
                    }
                } else {
                    path.push(c);
                }
            }
            path
        } else {
            name.to_owned()
        };
        out.push((path, sha));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_any_name(names in proptest::collection::vec("[a-z\\\\\n\r ä]{1,12}", 0..6), byte in any::<u8>()) {
            let files: Vec<_> = names.iter().map(|p| FileDigest { path: p.clone(), size: 1, sha256: [byte; 32] }).collect();
            let parsed = parse(&render(&files)).unwrap();
            let back: Vec<_> = files.iter().map(|f| (f.path.clone(), f.sha256)).collect();
            prop_assert_eq!(parsed, back);
        }
    }

    #[test]
    fn escapes_like_coreutils() {
        let f = FileDigest { path: "a\\b\nc".into(), size: 0, sha256: [0xab; 32] };
        let text = String::from_utf8(render(&[f])).unwrap();
        assert!(text.starts_with("\\abab"));
        assert!(text.ends_with("  a\\\\b\\nc\n"));
    }
}
