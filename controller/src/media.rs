//! Media types: what a volume can hold and how a unit is laid out on it.
//!
//! Built-in types carry the real capacities (optical sector counts from the dvdisaster and
//! Wikipedia tables in `reference/optical-media.md`; LTO native capacities from the LTO Program).
//! Sites add their own in the configuration (`[[media_type]]`).

use serde::{Deserialize, Serialize};

/// Tape or optical: decides the image format and the device kind that writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Tape,
    Optical,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Tape => "tape",
            MediaKind::Optical => "optical",
        }
    }
}

/// A kind of medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaType {
    /// Name used in requests and configuration (`DVD+R`, `LTO-8`).
    pub name: String,
    pub kind: MediaKind,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Can a written volume be erased and reused?
    pub rewritable: bool,
    /// Short label used in unit names (`ARC-LTO8-000042`).
    pub label: String,
    /// Media profile reported by a burner, for optical media.
    pub profile: String,
}

const SECTOR: u64 = 2048;

fn optical(name: &str, sectors: u64, label: &str, profile: &str) -> MediaType {
    MediaType {
        name: name.into(),
        kind: MediaKind::Optical,
        capacity: sectors * SECTOR,
        rewritable: false,
        label: label.into(),
        profile: profile.into(),
    }
}

fn lto(generation: u32, capacity: u64) -> MediaType {
    MediaType {
        name: format!("LTO-{generation}"),
        kind: MediaKind::Tape,
        capacity,
        rewritable: true,
        label: format!("LTO{generation}"),
        profile: format!("LTO-{generation}"),
    }
}

/// The media types asto knows without configuration.
pub fn builtin() -> Vec<MediaType> {
    vec![
        optical("CD-R74", 333_000, "CD74", "CD-R"),
        optical("CD-R80", 360_000, "CD80", "CD-R"),
        optical("DVD-R", 2_298_496, "DVDMR", "DVD-R sequential recording"),
        optical("DVD+R", 2_295_104, "DVDPR", "DVD+R"),
        optical("DVD-R-DL", 4_171_712, "DVDMRDL", "DVD-R/DL sequential recording"),
        optical("DVD+R-DL", 4_173_824, "DVDPRDL", "DVD+R/DL"),
        optical("BD-R25", 12_219_392, "BDR25", "BD-R sequential recording"),
        optical("BD-R50", 24_438_784, "BDR50", "BD-R sequential recording"),
        optical("BD-R100", 48_878_592, "BDR100", "BD-R sequential recording"),
        optical("BD-R128", 62_500_864, "BDR128", "BD-R sequential recording"),
        lto(5, 1_500_000_000_000),
        lto(6, 2_500_000_000_000),
        lto(7, 6_000_000_000_000),
        lto(8, 12_000_000_000_000),
        lto(9, 18_000_000_000_000),
    ]
}

/// Bytes of a medium a unit may fill: the capacity less room for the image's own structures
/// (ISO descriptors and directories, tape label and end-of-unit records) and, on tape, the
/// early-warning zone.
pub fn usable_capacity(media: &MediaType) -> u64 {
    let reserve = match media.kind {
        // System area, descriptors, path tables, root directories: well under 512 KiB; the
        // per-file costs are counted by `file_footprint`.
        MediaKind::Optical => 512 << 10,
        // Early warning sits a few MiB before the physical end; keep well clear of it.
        MediaKind::Tape => (media.capacity / 100).max(16 << 20),
    };
    media.capacity.saturating_sub(reserve)
}

/// Bytes a file of `size` bytes at `medium_path` costs on a medium: its data rounded up to the
/// format's block, its headers/directory records, and its lines in SHA256SUMS and the manifest.
pub fn file_footprint(kind: MediaKind, size: u64, medium_path: &str) -> u64 {
    let (block, headers) = match kind {
        // 2048-byte sectors; a directory record with Rock Ridge, a Joliet record, path tables.
        MediaKind::Optical => (2048u64, 2048u64),
        // 512-byte tar blocks; a ustar header and a pax extended header (+ its data block).
        MediaKind::Tape => (512, 1536),
    };
    let data = size.div_ceil(block) * block;
    let listing = 3 * medium_path.len() as u64 + 256;
    data + headers + listing
}

/// Find a media type by name, case-insensitively.
pub fn find<'a>(types: &'a [MediaType], name: &str) -> Option<&'a MediaType> {
    types.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_capacities_match_the_sector_tables() {
        let all = builtin();
        assert_eq!(find(&all, "dvd+r").unwrap().capacity, 4_700_372_992);
        assert_eq!(find(&all, "BD-R25").unwrap().capacity, 25_025_314_816);
        assert_eq!(find(&all, "CD-R80").unwrap().capacity, 737_280_000);
        assert_eq!(find(&all, "LTO-9").unwrap().kind, MediaKind::Tape);
        assert!(find(&all, "LTO-42").is_none());
    }

    #[test]
    fn footprint_covers_block_rounding_and_headers() {
        assert!(file_footprint(MediaKind::Optical, 1, "a") >= 4096);
        assert!(file_footprint(MediaKind::Tape, 0, "a") >= 1536);
        assert!(file_footprint(MediaKind::Tape, 513, "a") >= 1024 + 1536);
    }
}
