//! `asto scsi`: SCSI helpers for operators. `asto scsi sense HEX` decodes sense bytes copied from
//! a kernel log, a drive's error report or another tool, the way `sg_decode_sense` does.

use std::process::ExitCode;

use anyhow::Context;
use asto_drivers::scsi::{Sense, SenseFormat};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Decode sense data given as hex bytes ("70 00 05 …", "0x70,0x00", or "700005…").
    Sense {
        /// Hex bytes; several arguments are joined.
        #[arg(required = true)]
        hex: Vec<String>,
    },
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Sense { hex } => {
            let bytes = parse_hex(&hex.join(" "))?;
            let sense = Sense::decode(&bytes).with_context(|| format!("cannot decode {} sense bytes", bytes.len()))?;
            if json {
                let mut v = serde_json::to_value(&sense)?;
                v["sense_key"] = sense.key.text().into();
                v["additional_sense"] = sense.asc_text().into();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", describe(&sense));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Parse hex bytes separated by blanks or commas, with optional `0x` prefixes; a run of hex digits
/// without separators is read two digits per byte.
pub fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()) {
        let t = token.strip_prefix("0x").or_else(|| token.strip_prefix("0X")).unwrap_or(token);
        if t.len() <= 2 {
            out.push(u8::from_str_radix(t, 16).with_context(|| format!("{token:?} is not a hex byte"))?);
        } else {
            anyhow::ensure!(t.len() % 2 == 0, "{token:?} has an odd number of hex digits");
            for i in (0..t.len()).step_by(2) {
                let pair = t.get(i..i + 2).with_context(|| format!("{token:?} is not hex"))?;
                out.push(u8::from_str_radix(pair, 16).with_context(|| format!("{token:?} is not hex"))?);
            }
        }
    }
    anyhow::ensure!(!out.is_empty(), "no sense bytes given");
    Ok(out)
}

/// Human-readable decoding, laid out like `sg_decode_sense`.
pub fn describe(s: &Sense) -> String {
    let format = match s.format {
        SenseFormat::Fixed => "Fixed",
        SenseFormat::Descriptor => "Descriptor",
    };
    let when = if s.deferred { "<<<deferred>>>" } else { "current" };
    let mut out = format!("{format} format, {when}; Sense key: {}\n", s.key.text());
    let text = s.asc_text();
    if asto_drivers::scsi::asc::is_known(s.asc, s.ascq) {
        out += &format!("Additional sense: {text}\n");
    } else {
        out += &format!("{text}\n");
    }
    let mut flags = Vec::new();
    if s.filemark {
        flags.push("FMK");
    }
    if s.eom {
        flags.push("EOM");
    }
    if s.ili {
        flags.push("ILI");
    }
    match (s.information, s.format) {
        (Some(info), SenseFormat::Fixed) => {
            let v = info as u32;
            out += &format!("  Info fld=0x{v:x} [{v}] {}\n", flags.join(" "));
        }
        (Some(info), SenseFormat::Descriptor) => {
            out += &format!("  Information: 0x{:016x}\n", info as u64);
            if !flags.is_empty() {
                out += &format!("  Stream commands: {}\n", flags.join(" "));
            }
        }
        (None, _) if !flags.is_empty() => out += &format!("  {}\n", flags.join(" ")),
        (None, _) => {}
    }
    if let Some([b0, hi, lo]) = s.sense_key_specific {
        let field = u16::from_be_bytes([hi, lo]);
        let place = if b0 & 0x40 != 0 { "Command" } else { "Data parameters" };
        out += &format!("  Sense Key Specific: Error in {place}: byte {field}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex("70 00 05").unwrap(), [0x70, 0, 5]);
        assert_eq!(parse_hex("0x70,0x0 05").unwrap(), [0x70, 0, 5]);
        assert_eq!(parse_hex("700005").unwrap(), [0x70, 0, 5]);
        assert!(parse_hex("7g").is_err());
        assert!(parse_hex("700").is_err());
        assert!(parse_hex(" ").is_err());
    }
}
