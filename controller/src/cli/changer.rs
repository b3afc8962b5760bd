//! `asto changer`: drive a media changer directly — natively over SG_IO (`--device /dev/sgN`),
//! through the `mtx` program (`--backend mtx`), or a simulated site's library (`--sim DIR`).
//! The text status uses the `mtx status` layout operators already know.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use asto_drivers::changer::{ChangerStatus, ElementKind, MediaChanger};
use asto_drivers::scsi::retry::RetryPolicy;
use asto_drivers::scsi::sg_io::SgDevice;
use asto_drivers::smc::{MtxChanger, SmcChanger};
use asto_hw_sim::remote::{RemoteTarget, RemoteTransport};
use asto_hw_sim::scsi_library::SimSite;

/// How to reach the changer.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SMC commands over SG_IO.
    Native,
    /// The `mtx` program.
    Mtx,
}

/// Which changer to talk to.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// SCSI generic node of the changer (e.g. /dev/sg4).
    #[arg(long, conflicts_with = "sim")]
    pub device: Option<PathBuf>,
    /// Directory of a simulated site (through asto-hwsim when it serves the site).
    #[arg(long)]
    pub sim: Option<PathBuf>,
    /// Backend for --device.
    #[arg(long, value_enum, default_value_t = Backend::Native)]
    pub backend: Backend,
    /// Path of the mtx program (mtx backend).
    #[arg(long, default_value = "mtx")]
    pub mtx: PathBuf,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Drives, slots and import/export slots with their volume tags.
    Status(Target),
    /// Move the medium in SLOT (from 1) into DRIVE (from 0).
    Load {
        #[command(flatten)]
        target: Target,
        slot: u16,
        #[arg(default_value_t = 0)]
        drive: u16,
    },
    /// Move the medium in DRIVE back to SLOT.
    Unload {
        #[command(flatten)]
        target: Target,
        drive: u16,
        slot: u16,
    },
    /// Move a medium from slot FROM to slot TO (import/export slots follow the storage slots).
    Transfer {
        #[command(flatten)]
        target: Target,
        from: u16,
        to: u16,
    },
    /// Re-scan the library (INITIALIZE ELEMENT STATUS), then show its status.
    Inventory(Target),
}

fn open(t: &Target) -> anyhow::Result<(Box<dyn MediaChanger>, Option<SimSite>)> {
    match (&t.device, &t.sim) {
        (Some(dev), None) => match t.backend {
            Backend::Native => Ok((Box::new(SmcChanger::new(SgDevice::open(dev)?)), None)),
            Backend::Mtx => Ok((Box::new(MtxChanger::new(&t.mtx, &dev.display().to_string())), None)),
        },
        (None, Some(dir)) => {
            anyhow::ensure!(t.backend == Backend::Native, "the mtx backend needs a real --device");
            if let Ok(remote) = RemoteTransport::connect(&dir.join("hwsim.sock"), RemoteTarget::Library) {
                return Ok((Box::new(SmcChanger::with_policy(remote, RetryPolicy::immediate())), None));
            }
            let site = SimSite::open(dir).with_context(|| format!("opening simulated site {}", dir.display()))?;
            Ok((Box::new(SmcChanger::with_policy(site.library(), RetryPolicy::immediate())), Some(site)))
        }
        _ => anyhow::bail!("name the changer with --device /dev/sgN or --sim DIR"),
    }
}

/// Render a status in the layout of `mtx status`.
pub fn render_mtx_style(name: &str, st: &ChangerStatus) -> String {
    let ie = st.slots.iter().filter(|e| e.kind == ElementKind::ImportExport).count();
    let mut out = format!("  Storage Changer {name}:{} Drives, {} Slots ( {ie} Import/Export )\n", st.drives.len(), st.slots.len());
    for d in &st.drives {
        if d.full {
            let from = d
                .source
                .and_then(|a| st.slots.iter().find(|s| s.address == a))
                .map_or("Unknown Storage Element Loaded".to_string(), |s| format!("Storage Element {} Loaded", s.number));
            let tag = d.volume_tag.as_ref().map_or(String::new(), |t| format!(":VolumeTag = {t}"));
            out += &format!("Data Transfer Element {}:Full ({from}){tag}\n", d.number);
        } else {
            out += &format!("Data Transfer Element {}:Empty\n", d.number);
        }
    }
    for s in &st.slots {
        let ie = if s.kind == ElementKind::ImportExport { " IMPORT/EXPORT" } else { "" };
        if s.full {
            let tag = s.volume_tag.as_ref().map_or(String::new(), |t| format!(":VolumeTag={t}"));
            out += &format!("      Storage Element {}{ie}:Full {tag}\n", s.number);
        } else {
            out += &format!("      Storage Element {}{ie}:Empty\n", s.number);
        }
    }
    out
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    let target = match &cmd {
        Command::Status(t) | Command::Inventory(t) => t.clone(),
        Command::Load { target, .. } | Command::Unload { target, .. } | Command::Transfer { target, .. } => target.clone(),
    };
    let name = match (&target.device, &target.sim) {
        (Some(d), _) => d.display().to_string(),
        (_, Some(s)) => format!("sim:{}", s.display()),
        _ => String::new(),
    };
    let (mut changer, site) = open(&target)?;
    let report = |what: &str| {
        if json {
            println!("{}", serde_json::json!({ "done": what }));
        } else {
            println!("{what}");
        }
    };
    match cmd {
        Command::Status(_) => {}
        Command::Inventory(_) => changer.inventory().context("inventory")?,
        Command::Load { slot, drive, .. } => {
            changer.load(slot, drive).with_context(|| format!("loading slot {slot} into drive {drive}"))?;
            report(&format!("loaded slot {slot} into drive {drive}"));
        }
        Command::Unload { drive, slot, .. } => {
            changer.unload(drive, slot).with_context(|| format!("unloading drive {drive} to slot {slot}"))?;
            report(&format!("unloaded drive {drive} to slot {slot}"));
        }
        Command::Transfer { from, to, .. } => {
            changer.transfer(from, to).with_context(|| format!("moving slot {from} to slot {to}"))?;
            report(&format!("moved slot {from} to slot {to}"));
        }
    }
    let show_status = matches!(cmd, Command::Status(_) | Command::Inventory(_));
    if show_status {
        let st = changer.status().context("reading changer status")?;
        if json {
            println!("{}", serde_json::to_string_pretty(&st)?);
        } else {
            print!("{}", render_mtx_style(&name, &st));
        }
    }
    if let Some(site) = site {
        site.save().context("saving the simulated site")?;
    }
    Ok(ExitCode::SUCCESS)
}
