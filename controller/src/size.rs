//! Byte sizes as operators write them in configuration and on the command line
//! (`4.7 GB`, `100 MiB`, `256k`, `1500000000`), and back for display.

/// Parse a size: a number with an optional decimal (k, M, G, T: powers of 1000) or binary
/// (KiB, MiB, GiB, TiB: powers of 1024) unit; `B` and blanks are optional.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("'{text}' is not a size (expected e.g. 4.7GB, 100MiB, 65536)"))?;
    let unit = unit.trim();
    let unit = unit.strip_suffix(['B', 'b']).unwrap_or(unit);
    let factor: u64 = match unit {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" | "KI" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        other => return Err(format!("'{text}': unknown size unit '{other}' (use k, M, G, T or KiB, MiB, GiB, TiB)")),
    };
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("'{text}' is out of range"));
    }
    Ok(bytes.round() as u64)
}

/// Serde helper: a size given as a number of bytes or as a string with a unit.
pub mod serde_size {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(n),
            Raw::Text(s) => super::parse_size(&s).map_err(serde::de::Error::custom),
        }
    }

    pub mod option {
        use serde::{Deserialize, Deserializer};

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
            Option::<super::Raw>::deserialize(d)?
                .map(|raw| match raw {
                    super::Raw::Int(n) => Ok(n),
                    super::Raw::Text(s) => super::super::parse_size(&s).map_err(serde::de::Error::custom),
                })
                .transpose()
        }
    }
}

/// Human-readable binary size (`1.5 GiB`).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_and_binary_units() {
        assert_eq!(parse_size("65536").unwrap(), 65536);
        assert_eq!(parse_size("4.7GB").unwrap(), 4_700_000_000);
        assert_eq!(parse_size("100 MiB").unwrap(), 100 << 20);
        assert_eq!(parse_size("256k").unwrap(), 256_000);
        assert_eq!(parse_size("1.5 TB").unwrap(), 1_500_000_000_000);
    }

    #[test]
    fn rejects_nonsense_with_the_text_named() {
        let e = parse_size("12 parsecs").unwrap_err();
        assert!(e.contains("12 parsecs"), "{e}");
        assert!(parse_size("").is_err());
        assert!(parse_size("-3").is_err());
    }
}
