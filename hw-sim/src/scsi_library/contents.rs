//! The library contents file, in the spirit of mhvtl's `library_contents.<id>`: a `VERSION:`
//! line, then `Drive N:`, `Picker N:`, `MAP N:` (import/export) and `Slot N:` lines, numbered from
//! 1 without gaps; a barcode after the colon means the element holds that cartridge. asto also
//! accepts a barcode on a `Drive` line (a cartridge left in the drive).

use std::fmt::Write as _;

/// Parsed library contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibraryContents {
    pub drives: Vec<Option<String>>,
    pub pickers: usize,
    pub import_export: Vec<Option<String>>,
    pub slots: Vec<Option<String>>,
}

/// Why a contents file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentsError {
    #[error("line {line}: cannot parse {text:?}")]
    BadLine { line: usize, text: String },
    #[error("line {line}: {kind} {found} out of sequence (expected {expected})")]
    OutOfSequence { line: usize, kind: String, found: usize, expected: usize },
    #[error("barcode {0} appears more than once")]
    DuplicateBarcode(String),
    #[error("line {line}: barcode {barcode:?} is not 1 to 32 printable ASCII characters")]
    BadBarcode { line: usize, barcode: String },
}

impl LibraryContents {
    /// A library with `drives` drives, `slots` storage slots and `ie` import/export slots.
    pub fn empty(drives: usize, slots: usize, ie: usize) -> Self {
        LibraryContents { drives: vec![None; drives], pickers: 1, import_export: vec![None; ie], slots: vec![None; slots] }
    }

    /// Parse the text of a contents file.
    pub fn parse(text: &str) -> Result<Self, ContentsError> {
        let mut c = LibraryContents::default();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with("VERSION:") {
                continue;
            }
            let bad = || ContentsError::BadLine { line: line_no, text: raw.to_string() };
            let (left, right) = line.split_once(':').ok_or_else(bad)?;
            let mut words = left.split_whitespace();
            let kind = words.next().ok_or_else(bad)?;
            let n: usize = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
            let barcode = right.trim();
            let barcode = if barcode.is_empty() {
                None
            } else {
                if barcode.len() > 32 || !barcode.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(ContentsError::BadBarcode { line: line_no, barcode: barcode.to_string() });
                }
                Some(barcode.to_string())
            };
            let list = match kind {
                "Drive" => &mut c.drives,
                "MAP" => &mut c.import_export,
                "Slot" => &mut c.slots,
                "Picker" => {
                    c.pickers += 1;
                    continue;
                }
                _ => return Err(bad()),
            };
            if n != list.len() + 1 {
                return Err(ContentsError::OutOfSequence { line: line_no, kind: kind.to_string(), found: n, expected: list.len() + 1 });
            }
            list.push(barcode);
        }
        let mut seen = std::collections::HashSet::new();
        for b in c.drives.iter().chain(&c.import_export).chain(&c.slots).flatten() {
            if !seen.insert(b) {
                return Err(ContentsError::DuplicateBarcode(b.clone()));
            }
        }
        Ok(c)
    }

    /// Render as a contents file.
    pub fn render(&self) -> String {
        let mut s = String::from("VERSION: 2\n\n");
        let line = |s: &mut String, kind: &str, i: usize, b: &Option<String>| {
            let _ = writeln!(s, "{kind} {}: {}", i + 1, b.as_deref().unwrap_or("")).map(|_| ());
        };
        for (i, d) in self.drives.iter().enumerate() {
            line(&mut s, "Drive", i, d);
        }
        s.push('\n');
        for i in 0..self.pickers.max(1) {
            let _ = writeln!(s, "Picker {}:", i + 1);
        }
        s.push('\n');
        for (i, m) in self.import_export.iter().enumerate() {
            line(&mut s, "MAP", i, m);
        }
        s.push('\n');
        for (i, b) in self.slots.iter().enumerate() {
            line(&mut s, "Slot", i, b);
        }
        s.lines().map(|l| l.trim_end().to_string() + "\n").collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mhvtl_example_shape() {
        let text = "VERSION: 2\nDrive 1:\nPicker 1:\nMAP 1:\nSlot 1: E01001L8\nSlot 2:\nSlot 3: CLN001L1\n";
        let c = LibraryContents::parse(text).unwrap();
        assert_eq!(c.drives, vec![None]);
        assert_eq!(c.pickers, 1);
        assert_eq!(c.import_export, vec![None]);
        assert_eq!(c.slots, vec![Some("E01001L8".into()), None, Some("CLN001L1".into())]);
        assert_eq!(LibraryContents::parse(&c.render()).unwrap(), c);
    }

    #[test]
    fn refusals_name_the_problem() {
        assert!(matches!(LibraryContents::parse("Slot 2: A\n"), Err(ContentsError::OutOfSequence { found: 2, expected: 1, .. })));
        assert!(matches!(LibraryContents::parse("Slot 1: A\nSlot 2: A\n"), Err(ContentsError::DuplicateBarcode(_))));
        assert!(matches!(LibraryContents::parse("Shelf 1: A\n"), Err(ContentsError::BadLine { line: 1, .. })));
        assert!(matches!(LibraryContents::parse("Slot 1: has blank\n"), Err(ContentsError::BadBarcode { .. })));
    }
}
