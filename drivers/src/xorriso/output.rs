//! Parsing xorriso's output: the media report of `-toc -tell_media_space`, progress lines of
//! `-as cdrecord` and native writing, and result lines. Messages arrive on stderr as
//! `xorriso : <SEVERITY> : …` (or `libburn : …`), results on stdout.

use crate::optical::DiscState;

/// What the drive reports about its medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaReport {
    pub vendor: String,
    pub product: String,
    pub revision: String,
    /// "Media current" text, e.g. "stdio file, overwriteable" or "DVD+R".
    pub profile: Option<String>,
    /// `None` when there is no medium.
    pub state: Option<DiscState>,
    /// Writable space in 2048-byte sectors ("Media space").
    pub free_sectors: Option<u64>,
}

/// An event of a burn, parsed from xorriso's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BurnEvent {
    /// `N of M MB written` (cdrecord emulation) or `Writing: Ns P%` (native).
    Progress { done_mb: u64, total_mb: Option<u64> },
    /// A message with a severity of SORRY or above.
    Problem { severity: String, text: String },
    /// "Writing to '…' completed successfully."
    Completed,
}

fn quoted(line: &str, key: &str) -> Option<String> {
    let rest = line.split(key).nth(1)?;
    let rest = rest.strip_prefix('\'')?;
    Some(rest.split('\'').next()?.to_string())
}

/// Parse the report of `xorriso -outdev DEV -toc -tell_media_space`.
pub fn parse_media_report(text: &str) -> MediaReport {
    let mut r = MediaReport { vendor: String::new(), product: String::new(), revision: String::new(), profile: None, state: None, free_sectors: None };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Drive type   :") {
            r.vendor = quoted(rest, "vendor ").unwrap_or_default();
            r.product = quoted(rest, "product ").unwrap_or_default();
            r.revision = quoted(rest, "revision ").unwrap_or_default();
        } else if let Some(rest) = line.strip_prefix("Media current:") {
            r.profile = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("Media status :") {
            let s = rest.trim();
            r.state = if s.contains("is blank") {
                Some(DiscState::Blank)
            } else if s.contains("is appendable") {
                Some(DiscState::Appendable)
            } else if s.contains("is closed") || s.contains("is written") {
                Some(DiscState::Closed)
            } else {
                None
            };
        } else if let Some(rest) = line.strip_prefix("Media space  :") {
            r.free_sectors = rest.trim().trim_end_matches('s').trim().parse().ok();
        }
    }
    if r.profile.as_deref().is_some_and(|p| p.contains("is not present") || p.starts_with("none")) {
        r.state = None;
    }
    r
}

/// Parse one line of xorriso's message output.
pub fn parse_event(line: &str) -> Option<BurnEvent> {
    let l = line.trim();
    if l.starts_with("Writing to '") && l.ends_with("completed successfully.") {
        return Some(BurnEvent::Completed);
    }
    let (source, rest) = l.split_once(" : ")?;
    if !matches!(source.trim(), "xorriso" | "libburn" | "libisofs" | "libisoburn") {
        return None;
    }
    let (severity, text) = rest.split_once(" : ")?;
    let severity = severity.trim();
    if severity == "UPDATE" {
        // "   16 of  289 MB written (fifo 99%) [buf  50%]  12.1x."
        let words: Vec<&str> = text.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "of")
            && words.get(i + 2) == Some(&"MB")
            && words.get(i + 3) == Some(&"written")
        {
            let done_mb = words.get(i.wrapping_sub(1))?.parse().ok()?;
            return Some(BurnEvent::Progress { done_mb, total_mb: words.get(i + 1)?.parse().ok() });
        }
        return None;
    }
    matches!(severity, "SORRY" | "MISHAP" | "FAILURE" | "FATAL" | "ABORT")
        .then(|| BurnEvent::Problem { severity: severity.to_string(), text: text.trim().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Output of xorriso 1.5.4 for a fresh stdio pseudo-drive (captured on this project's CI
    /// machine type).
    const BLANK_STDIO: &str = "Drive current: -outdev 'stdio:/tmp/x.img'
Drive access : exclusive:unrestricted
Drive type   : vendor 'YOYODYNE' product 'WARP DRIVE' revision 'FX01'
Media current: stdio file, overwriteable
Media status : is blank
Media blocks : 0 readable , 38675382 writable , 38675382 overall
Media summary: 0 sessions, 0 data blocks, 0 data, 73.8g free
Media space  : 38675350s
After commit : 38675350s
";

    #[test]
    fn media_report() {
        let r = parse_media_report(BLANK_STDIO);
        assert_eq!((r.vendor.as_str(), r.product.as_str(), r.revision.as_str()), ("YOYODYNE", "WARP DRIVE", "FX01"));
        assert_eq!(r.state, Some(DiscState::Blank));
        assert_eq!(r.free_sectors, Some(38_675_350));
        assert_eq!(r.profile.as_deref(), Some("stdio file, overwriteable"));
        let written = BLANK_STDIO.replace("is blank", "is written , is appendable");
        assert_eq!(parse_media_report(&written).state, Some(DiscState::Appendable));
    }

    #[test]
    fn events() {
        assert_eq!(
            parse_event("xorriso : UPDATE :   16 of  289 MB written (fifo 99%) [buf  50%]  12.1x."),
            Some(BurnEvent::Progress { done_mb: 16, total_mb: Some(289) })
        );
        assert_eq!(parse_event("Writing to 'stdio:/tmp/y.img' completed successfully."), Some(BurnEvent::Completed));
        assert_eq!(
            parse_event("libburn : SORRY : Cannot write desired amount of 32768 bytes. write(2) returned -1. : No space left on device"),
            Some(BurnEvent::Problem { severity: "SORRY".into(), text: "Cannot write desired amount of 32768 bytes. write(2) returned -1. : No space left on device".into() })
        );
        assert_eq!(parse_event("xorriso : NOTE : Re-assessing -outdev"), None);
        assert_eq!(parse_event("random text"), None);
    }
}
