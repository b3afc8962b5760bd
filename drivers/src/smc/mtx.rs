//! The `mtx` backend: runs the `mtx` program (path configurable) for libraries the native SMC
//! path can't handle, and parses `mtx status` (mtx 1.3.x layout).
//!
//! Parsing is lenient where real output varies — decoded REQUEST SENSE lines before the status,
//! `VolumeTag = ` on drive lines and `VolumeTag=` on slot lines, trailing blanks after tags,
//! alternate volume tags — and strict where a wrong answer would move the wrong tape: element
//! numbers must be in sequence and the counts must match the header.

use std::path::PathBuf;
use std::process::Command;

use crate::changer::{ChangerError, ChangerStatus, Element, ElementKind, MediaChanger};

/// Why `mtx status` output could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtxParseError {
    #[error("no \"Storage Changer\" header line")]
    NoHeader,
    #[error("line {line}: cannot parse {text:?}")]
    BadLine { line: usize, text: String },
    #[error("line {line}: element {found} out of sequence (expected {expected})")]
    OutOfSequence { line: usize, found: u16, expected: u16 },
    #[error("header announces {announced} {what}, {found} listed")]
    CountMismatch { what: &'static str, announced: u16, found: u16 },
}

fn volume_tag(rest: &str) -> Option<String> {
    // ":VolumeTag = X", ":VolumeTag=X", " :VolumeTag=X", then maybe ":AlternateVolumeTag=…".
    let idx = rest.find("VolumeTag")?;
    if rest[..idx].ends_with("Alternate") {
        return None;
    }
    let after = rest[idx + "VolumeTag".len()..].trim_start();
    let after = after.strip_prefix('=')?.trim_start();
    let tag = after.split(":AlternateVolumeTag").next().unwrap_or("").trim();
    (!tag.is_empty()).then(|| tag.to_string())
}

fn header_counts(line: &str) -> Option<(u16, u16, u16)> {
    let (_, counts) = line.rsplit_once(':')?;
    let mut nums = counts.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse::<u16>());
    let d = nums.next()?.ok()?;
    let s = nums.next()?.ok()?;
    let i = nums.next().and_then(|r| r.ok()).unwrap_or(0);
    Some((d, s, i))
}

/// Parse the output of `mtx status`.
pub fn parse_status(text: &str) -> Result<ChangerStatus, MtxParseError> {
    let mut lines = text.lines().enumerate().skip_while(|(_, l)| !l.trim_start().starts_with("Storage Changer"));
    let (_, header) = lines.next().ok_or(MtxParseError::NoHeader)?;
    let counts = header_counts(header);
    let mut st = ChangerStatus::default();
    for (i, raw) in lines {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let bad = || MtxParseError::BadLine { line: line_no, text: raw.to_string() };
        if let Some(rest) = line.strip_prefix("Data Transfer Element ") {
            let (num, state) = rest.split_once(':').ok_or_else(bad)?;
            let number: u16 = num.trim().parse().map_err(|_| bad())?;
            let expected = st.drives.len() as u16;
            if number != expected {
                return Err(MtxParseError::OutOfSequence { line: line_no, found: number, expected });
            }
            let full = state.starts_with("Full");
            if !full && !state.starts_with("Empty") {
                return Err(bad());
            }
            let source = state
                .split("(Storage Element ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|n| n.parse().ok());
            st.drives.push(Element {
                kind: ElementKind::Drive,
                address: number,
                number,
                full,
                volume_tag: if full { volume_tag(state) } else { None },
                source,
                exception: None,
                identifier: None,
            });
        } else if let Some(rest) = line.strip_prefix("Storage Element ") {
            let (left, state) = rest.split_once(':').ok_or_else(bad)?;
            let ie = left.contains("IMPORT/EXPORT");
            let number: u16 = left.split_whitespace().next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
            let expected = st.slots.len() as u16 + 1;
            if number != expected {
                return Err(MtxParseError::OutOfSequence { line: line_no, found: number, expected });
            }
            let full = state.starts_with("Full");
            if !full && !state.starts_with("Empty") {
                return Err(bad());
            }
            st.slots.push(Element {
                kind: if ie { ElementKind::ImportExport } else { ElementKind::Storage },
                address: number,
                number,
                full,
                volume_tag: if full { volume_tag(state) } else { None },
                source: None,
                exception: None,
                identifier: None,
            });
        } else {
            return Err(bad());
        }
    }
    if let Some((d, s, ie)) = counts {
        let found_ie = st.slots.iter().filter(|e| e.kind == ElementKind::ImportExport).count() as u16;
        for (what, announced, found) in [("drives", d, st.drives.len() as u16), ("slots", s, st.slots.len() as u16), ("import/export slots", ie, found_ie)] {
            if announced != found {
                return Err(MtxParseError::CountMismatch { what, announced, found });
            }
        }
    }
    Ok(st)
}

/// A changer driven by the `mtx` program.
pub struct MtxChanger {
    program: PathBuf,
    device: String,
}

impl MtxChanger {
    /// `mtx -f <device>` with `program` as the mtx binary.
    pub fn new(program: impl Into<PathBuf>, device: &str) -> Self {
        MtxChanger { program: program.into(), device: device.to_string() }
    }

    fn run(&self, args: &[String]) -> Result<String, ChangerError> {
        tracing::debug!(device = %self.device, ?args, "running mtx");
        let out = Command::new(&self.program)
            .arg("-f")
            .arg(&self.device)
            .args(args)
            .output()
            .map_err(|e| ChangerError::Mtx(format!("cannot run {}: {e}", self.program.display())))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let all = format!("{stdout}{stderr}");
        let last = all.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
        let lower = all.to_ascii_lowercase();
        Err(if lower.contains("is empty") || lower.contains("source element empty") {
            ChangerError::SourceEmpty(last)
        } else if lower.contains("already full") || lower.contains("destination element full") {
            ChangerError::DestinationFull(last)
        } else if lower.contains("no such file") || lower.contains("cannot open") || lower.contains("could not open") {
            ChangerError::Mtx(format!("{}: {last}", self.device))
        } else {
            ChangerError::Mtx(format!("`mtx {}` exited with {}: {last}", args.join(" "), out.status))
        })
    }
}

impl MediaChanger for MtxChanger {
    fn status(&mut self) -> Result<ChangerStatus, ChangerError> {
        let out = self.run(&["status".into()])?;
        parse_status(&out).map_err(|e| ChangerError::Mtx(format!("cannot parse `mtx status`: {e}")))
    }

    fn load(&mut self, slot: u16, drive: u16) -> Result<(), ChangerError> {
        self.run(&["load".into(), slot.to_string(), drive.to_string()]).map(|_| ())
    }

    fn unload(&mut self, drive: u16, slot: u16) -> Result<(), ChangerError> {
        self.run(&["unload".into(), slot.to_string(), drive.to_string()]).map(|_| ())
    }

    fn transfer(&mut self, from: u16, to: u16) -> Result<(), ChangerError> {
        self.run(&["transfer".into(), from.to_string(), to.to_string()]).map(|_| ())
    }

    fn inventory(&mut self) -> Result<(), ChangerError> {
        self.run(&["inventory".into()]).map(|_| ())
    }
}
