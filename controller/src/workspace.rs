//! A self-contained workspace on simulated devices: configuration, stages, catalogue and a
//! shelf of simulated media under one directory. `asto init --sim` and `asto demo` make one; the
//! end-to-end tests run against them.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Shape of a simulated workspace.
#[derive(Debug, Clone)]
pub struct SimWorkspace {
    pub tape_drives: usize,
    pub burners: usize,
    /// Rated speed of the simulated tape drives (bytes/s; None = unthrottled).
    pub tape_rate: Option<u64>,
    /// Rated speed of the simulated burners.
    pub burner_rate: Option<u64>,
    /// Media type of the archive class `raw`.
    pub archive_media: String,
    /// Copies of archive units.
    pub archive_copies: u32,
    /// Capacity of the custom optical media type `DEMO-CD` (small, so packing shows).
    pub demo_cd_capacity: u64,
}

impl Default for SimWorkspace {
    fn default() -> Self {
        SimWorkspace {
            tape_drives: 2,
            burners: 2,
            tape_rate: None,
            burner_rate: None,
            archive_media: "LTO-5".into(),
            archive_copies: 2,
            demo_cd_capacity: 64 << 20,
        }
    }
}

fn rate(r: Option<u64>) -> String {
    r.map(|r| format!("rate = {r}\n")).unwrap_or_default()
}

/// Write the configuration of a simulated workspace in `dir`; returns the configuration file.
pub fn create(dir: &Path, ws: &SimWorkspace) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
    let file = dir.join("asto.toml");
    if file.exists() {
        return Err(Error::input(format!("{} already exists; not overwriting a workspace", file.display())));
    }
    let mut text = format!(
        r#"# asto workspace on simulated devices (hw-sim). Paths are relative to this file.
catalogue = "catalogue.db"

[stages]
archive = {{ path = "stages/archive", reserve = "64MiB" }}
user = {{ path = "stages/user", reserve = "64MiB" }}
media = {{ path = "stages/media", reserve = "64MiB" }}

[units]
counter_width = 6

[sim]
shelf = "sim/shelf"
jukebox = "sim-jukebox"
jukebox_slots = 200

[[media_type]]
name = "DEMO-CD"
kind = "optical"
capacity = {cap}
label = "DCD"

[class.raw]
media = "{archive}"
copies = {copies}
group = "tapes"
"#,
        cap = ws.demo_cd_capacity,
        archive = ws.archive_media,
        copies = ws.archive_copies,
    );
    let tapes: Vec<String> = (0..ws.tape_drives).map(|i| format!("tape{i}")).collect();
    let burners: Vec<String> = (0..ws.burners).map(|i| format!("burner{i}")).collect();
    for t in &tapes {
        text.push_str(&format!(
            "\n[[device]]\nname = \"{t}\"\nkind = \"tape\"\nbackend = \"sim\"\ndir = \"sim/{t}\"\nserial = \"SIM-{t}\"\n{}",
            rate(ws.tape_rate)
        ));
    }
    for b in &burners {
        text.push_str(&format!(
            "\n[[device]]\nname = \"{b}\"\nkind = \"optical\"\nbackend = \"sim\"\ndir = \"sim/{b}\"\nserial = \"SIM-{b}\"\n{}",
            rate(ws.burner_rate)
        ));
    }
    let quoted = |v: &[String]| v.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ");
    text.push_str(&format!(
        "\n[[group]]\nname = \"tapes\"\ndevices = [{}]\nmedia = [\"LTO-5\", \"LTO-6\", \"LTO-7\", \"LTO-8\", \"LTO-9\"]\n",
        quoted(&tapes)
    ));
    text.push_str(&format!(
        "\n[[group]]\nname = \"optical\"\ndevices = [{}]\nmedia = [\"DEMO-CD\", \"CD-R80\", \"DVD+R\", \"DVD-R\", \"BD-R25\"]\n",
        quoted(&burners)
    ));
    std::fs::write(&file, text).map_err(|e| Error::file(&file, e))?;
    Ok(file)
}
