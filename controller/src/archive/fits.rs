//! FITS headers, read directly: 2880-byte blocks of 36 cards of 80 ASCII characters, ending at
//! the `END` card (FITS Standard 4.0, section 4). Only headers are needed to catalogue a file,
//! and they are small and simple enough that a dependency would be more code to audit than this.
//!
//! Handled: fixed- and free-format values (strings with `''` escapes, logicals, integers, reals
//! with `D` exponents), `HIERARCH` keywords (`HIERARCH ESO OBS ID = ...` becomes `ESO OBS ID`),
//! long strings continued with `CONTINUE` cards, gzip-compressed files (`.fits.gz`), and
//! tile-compressed files (`.fz`), whose primary header is plain FITS and whose observation
//! keywords sit in the first extension (`ZIMAGE = T`): those are merged in.

use std::collections::BTreeMap;
use std::io::Read;

/// Bytes in a FITS block.
pub const BLOCK: usize = 2880;
/// Bytes in a header card.
const CARD: usize = 80;
/// Headers longer than this many blocks are refused as not FITS (a real header has a handful).
const MAX_HEADER_BLOCKS: usize = 2000;

/// A keyword's value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    Real(f64),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Real(r) => Some(*r),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(_) => None,
        }
    }

    /// The value as text (strings trimmed, numbers as written by Rust).
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) => s.trim_end().to_owned(),
            Value::Bool(b) => if *b { "T" } else { "F" }.to_owned(),
            Value::Int(i) => i.to_string(),
            Value::Real(r) => r.to_string(),
        }
    }
}

/// One header: keywords in order of first appearance (later duplicates are ignored, as the
/// standard says a keyword appears once).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub cards: Vec<(String, Value)>,
}

impl Header {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.cards.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    fn insert(&mut self, key: String, value: Value) {
        if self.get(&key).is_none() {
            self.cards.push((key, value));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FitsError {
    #[error("not a FITS file: {0}")]
    NotFits(String),
    #[error("malformed FITS header: {0}")]
    Invalid(String),
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
}

/// Read one header from `input`, positioned at the start of a header block. Returns `None` at a
/// clean end of file (no more HDUs).
fn read_header(input: &mut dyn Read, primary: bool) -> Result<Option<Header>, FitsError> {
    let mut header = Header::default();
    let mut block = vec![0u8; BLOCK];
    let mut pending_long: Option<String> = None;
    for n in 0..MAX_HEADER_BLOCKS {
        if !read_block(input, &mut block)? {
            if n == 0 && !primary {
                return Ok(None);
            }
            return Err(FitsError::Invalid("file ends inside a header (no END card)".into()));
        }
        for (i, card) in block.chunks(CARD).enumerate() {
            if !card.iter().all(|b| (0x20..=0x7e).contains(b)) {
                return Err(if primary && n == 0 && i == 0 {
                    FitsError::NotFits("the first card is not ASCII text".into())
                } else {
                    FitsError::Invalid(format!("card {} holds non-ASCII bytes", n * 36 + i + 1))
                });
            }
            // All bytes are printable ASCII, so this is valid UTF-8.
            let card = std::str::from_utf8(card).map_err(|e| FitsError::Invalid(e.to_string()))?;
            if n == 0 && i == 0 {
                let first = if primary { "SIMPLE  =" } else { "XTENSION=" };
                if !card.starts_with(first) {
                    return Err(FitsError::NotFits(format!("the first card is not {}: '{}'", first.trim_end_matches('='), card.trim_end())));
                }
            }
            let key = card[..8].trim_end();
            if key == "END" {
                if let Some((k, s)) = pending_long.take().and_then(|s| header.cards.last().map(|(k, _)| (k.clone(), s))) {
                    set_last(&mut header, &k, s);
                }
                return Ok(Some(header));
            }
            if key == "CONTINUE" {
                if let (Some(acc), Some(Value::Str(more))) = (pending_long.as_mut(), parse_value(&card[8..]).ok()) {
                    acc.pop(); // the '&' of the previous piece
                    acc.push_str(&more);
                    if !acc.ends_with('&') {
                        let done = std::mem::take(acc);
                        pending_long = None;
                        if let Some(k) = header.cards.last().map(|(k, _)| k.clone()) {
                            set_last(&mut header, &k, done);
                        }
                    }
                }
                continue;
            }
            if let Some(s) = pending_long.take()
                && let Some(k) = header.cards.last().map(|(k, _)| k.clone())
            {
                set_last(&mut header, &k, s);
            }
            let (key, rest) = if key == "HIERARCH" {
                match card[8..].split_once('=') {
                    Some((k, v)) => (k.split_whitespace().collect::<Vec<_>>().join(" "), v),
                    None => continue,
                }
            } else if &card[8..10] == "= " {
                (key.to_owned(), &card[10..])
            } else {
                continue; // COMMENT, HISTORY, blank and other commentary cards
            };
            if key.is_empty() {
                continue;
            }
            match parse_value(rest) {
                Ok(Value::Str(s)) if s.ends_with('&') => {
                    header.insert(key, Value::Str(s.clone()));
                    pending_long = Some(s);
                }
                Ok(v) => header.insert(key, v),
                Err(()) => {} // an undefined or unparseable value: the keyword carries nothing
            }
        }
    }
    Err(FitsError::Invalid(format!("no END card in the first {MAX_HEADER_BLOCKS} blocks")))
}

fn set_last(header: &mut Header, key: &str, value: String) {
    if let Some(slot) = header.cards.iter_mut().find(|(k, _)| k == key) {
        slot.1 = Value::Str(value);
    }
}

/// Fill `block` completely; `false` at end of file before any byte.
fn read_block(input: &mut dyn Read, block: &mut [u8]) -> Result<bool, FitsError> {
    let mut got = 0;
    while got < block.len() {
        let n = input.read(&mut block[got..])?;
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(FitsError::Invalid(format!("file ends inside a {BLOCK}-byte block")));
        }
        got += n;
    }
    Ok(true)
}

/// Parse the value field of a card (after `= `), dropping the comment.
fn parse_value(field: &str) -> Result<Value, ()> {
    let s = field.trim_start();
    if let Some(rest) = s.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    return Ok(Value::Str(out.trim_end().to_owned()));
                }
            } else {
                out.push(c);
            }
        }
        return Err(()); // unterminated string
    }
    let token = s.split('/').next().unwrap_or("").trim();
    match token {
        "" => Err(()),
        "T" => Ok(Value::Bool(true)),
        "F" => Ok(Value::Bool(false)),
        t => {
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Value::Int(i));
            }
            t.replace(['D', 'd'], "E").parse::<f64>().map(Value::Real).map_err(|_| ())
        }
    }
}

/// The observation header of a FITS stream: the primary header, plus (for tile-compressed files,
/// whose primary HDU is empty) the keywords of the first extension that are not already there.
pub fn read_observation_header(input: &mut dyn Read) -> Result<Header, FitsError> {
    let mut primary = read_header(input, true)?.ok_or_else(|| FitsError::NotFits("empty file".into()))?;
    if primary.int("NAXIS").unwrap_or(0) != 0 {
        return Ok(primary);
    }
    // An empty primary HDU: look at the first extension (fpack puts the image there).
    match read_header(input, false) {
        Ok(Some(ext)) if matches!(ext.get("ZIMAGE"), Some(Value::Bool(true))) || primary.cards.len() < 8 => {
            for (k, v) in ext.cards {
                if !matches!(k.as_str(), "XTENSION" | "BITPIX" | "NAXIS" | "PCOUNT" | "GCOUNT" | "TFIELDS" | "EXTNAME")
                    && !k.starts_with("NAXIS")
                    && !k.starts_with('T')
                    && !k.starts_with('Z')
                {
                    primary.insert(k, v);
                }
            }
            Ok(primary)
        }
        // No extension, or an unrelated one, or a damaged one: the primary header is what we have.
        _ => Ok(primary),
    }
}

/// Read the observation header of a file, decompressing gzip (`compression = "gzip"`).
pub fn read_file_header(path: &std::path::Path, compression: &str) -> Result<Header, FitsError> {
    let file = std::fs::File::open(path)?;
    let mut reader: Box<dyn Read> = match compression {
        "gzip" => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))),
        "none" | "fpack" => Box::new(std::io::BufReader::new(file)),
        other => return Err(FitsError::NotFits(format!("cannot read headers of {other}-compressed files"))),
    };
    read_observation_header(&mut reader)
}

/// Header keywords as a JSON-friendly map.
pub fn to_map(header: &Header) -> BTreeMap<String, Value> {
    header.cards.iter().cloned().collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header of the given cards (already formatted, ≤ 80 chars each), padded to blocks.
    pub fn header_bytes(cards: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cards.iter().map(String::as_str).chain(["END"]) {
            out.extend_from_slice(format!("{c:<80}").as_bytes());
        }
        while out.len() % BLOCK != 0 {
            out.push(b' ');
        }
        out
    }

    pub fn card(key: &str, value: &str) -> String {
        format!("{key:<8}= {value:>20}")
    }

    #[test]
    fn parses_values_of_every_kind() {
        let bytes = header_bytes(&[
            card("SIMPLE", "T"),
            card("BITPIX", "16"),
            card("NAXIS", "0"),
            card("EXPTIME", "1.5D2 / seconds"),
            card("OBJECT", "'NGC 253 ''core'''"),
            "HIERARCH ESO OBS ID = 4711 / observation".into(),
            "COMMENT this is not a keyword".into(),
            card("DATE-OBS", "'2024-03-01T02:03:04.5'"),
        ]);
        let h = read_observation_header(&mut bytes.as_slice()).unwrap();
        assert_eq!(h.get("EXPTIME"), Some(&Value::Real(150.0)));
        assert_eq!(h.get("OBJECT"), Some(&Value::Str("NGC 253 'core'".into())));
        assert_eq!(h.get("ESO OBS ID"), Some(&Value::Int(4711)));
        assert_eq!(h.get("DATE-OBS").map(Value::text).as_deref(), Some("2024-03-01T02:03:04.5"));
        assert!(h.get("COMMENT").is_none());
    }

    #[test]
    fn long_strings_are_continued() {
        let bytes = header_bytes(&[card("SIMPLE", "T"), card("NAXIS", "0"), "TITLE   = 'first part &'".into(), "CONTINUE  'second part'".into()]);
        let h = read_observation_header(&mut bytes.as_slice()).unwrap();
        assert_eq!(h.get("TITLE"), Some(&Value::Str("first part second part".into())));
    }

    #[test]
    fn compressed_image_extension_keywords_are_merged() {
        let mut bytes = header_bytes(&[card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0"), card("EXTEND", "T")]);
        bytes.extend(header_bytes(&[
            card("XTENSION", "'BINTABLE'"),
            card("BITPIX", "8"),
            card("NAXIS", "2"),
            card("ZIMAGE", "T"),
            card("TFIELDS", "1"),
            card("INSTRUME", "'WFI'"),
        ]));
        let h = read_observation_header(&mut bytes.as_slice()).unwrap();
        assert_eq!(h.get("INSTRUME"), Some(&Value::Str("WFI".into())));
        assert!(h.get("TFIELDS").is_none() && h.get("ZIMAGE").is_none());
        assert_eq!(h.get("NAXIS"), Some(&Value::Int(0)), "the primary's own keywords win");
    }

    #[test]
    fn bad_input_is_named() {
        let e = read_observation_header(&mut &b"hello world"[..]).unwrap_err().to_string();
        assert!(e.contains("block") || e.contains("not a FITS"), "{e}");
        let mut notfits = vec![b' '; BLOCK];
        notfits[..6].copy_from_slice(b"PLAIN ");
        let e = read_observation_header(&mut notfits.as_slice()).unwrap_err().to_string();
        assert!(e.contains("not a FITS file"), "{e}");
        let no_end: Vec<u8> = format!("{:<2880}", card("SIMPLE", "T")).into_bytes();
        let e = read_observation_header(&mut no_end.as_slice()).unwrap_err().to_string();
        assert!(e.contains("no END"), "{e}");
        let mut binary = header_bytes(&[card("SIMPLE", "T")]);
        binary[100] = 0xff;
        assert!(read_observation_header(&mut binary.as_slice()).is_err());
    }

    #[test]
    fn gzip_files_are_read_through() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.fits.gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
        enc.write_all(&header_bytes(&[card("SIMPLE", "T"), card("NAXIS", "0"), card("TELESCOP", "'VLT'")])).unwrap();
        enc.finish().unwrap();
        let h = read_file_header(&path, "gzip").unwrap();
        assert_eq!(h.get("TELESCOP"), Some(&Value::Str("VLT".into())));
    }
}
