//! `asto tape`: drive one tape drive directly — a real one through SG_IO (`--device /dev/sgN`) or
//! a drive of a simulated site (`--sim DIR --drive N`) — with the same SSC driver either way.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use asto_drivers::scsi::ScsiTransport;
use asto_drivers::scsi::retry::RetryPolicy;
use asto_drivers::scsi::sg_io::SgDevice;
use asto_drivers::ssc::{DriveStatus, SscDrive};
use asto_drivers::tape::TapeDrive;
use asto_hw_sim::remote::{RemoteTarget, RemoteTransport};
use asto_hw_sim::scsi_library::SimSite;

/// Which device to talk to.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// SCSI generic node of the device (e.g. /dev/sg3).
    #[arg(long, conflicts_with = "sim")]
    pub device: Option<PathBuf>,
    /// Directory of a simulated site (library, drives, cartridges); served by asto-hwsim when
    /// it holds a live `hwsim.sock`.
    #[arg(long)]
    pub sim: Option<PathBuf>,
    /// Drive number within the simulated site (from 0).
    #[arg(long, default_value_t = 0)]
    pub drive: usize,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Identity, readiness, medium parameters, position and TapeAlert flags.
    Status(Target),
    /// Rewind to the beginning of the tape.
    Rewind(Target),
    /// Space to end of data (ready to append).
    Eod(Target),
    /// Space forward over COUNT filemarks.
    Fsf {
        #[command(flatten)]
        target: Target,
        #[arg(default_value_t = 1)]
        count: u32,
    },
    /// Space backward over COUNT filemarks.
    Bsf {
        #[command(flatten)]
        target: Target,
        #[arg(default_value_t = 1)]
        count: u32,
    },
    /// Write COUNT filemarks at the current position.
    Weof {
        #[command(flatten)]
        target: Target,
        #[arg(default_value_t = 1)]
        count: u32,
    },
    /// Load (thread) the medium.
    Load(Target),
    /// Unload (eject) the medium.
    Unload(Target),
}

/// An open drive, and the simulated site to save afterwards if it is one.
struct Opened {
    drive: SscDrive<Box<dyn ScsiTransport>>,
    site: Option<SimSite>,
}

fn open(t: &Target) -> anyhow::Result<Opened> {
    match (&t.device, &t.sim) {
        (Some(dev), None) => {
            let sg = SgDevice::open(dev)?;
            Ok(Opened { drive: SscDrive::new(Box::new(sg)), site: None })
        }
        (None, Some(dir)) => {
            // A site served by asto-hwsim is reached through its socket (the server holds it).
            if let Ok(remote) = RemoteTransport::connect(&dir.join("hwsim.sock"), RemoteTarget::Drive(t.drive as u16)) {
                return Ok(Opened { drive: SscDrive::with_policy(Box::new(remote), RetryPolicy::immediate()), site: None });
            }
            let site = SimSite::open(dir).with_context(|| format!("opening simulated site {}", dir.display()))?;
            let sim = site
                .drive(t.drive)
                .with_context(|| format!("simulated site {} has {} drive(s), no drive {}", dir.display(), site.drive_count(), t.drive))?;
            Ok(Opened { drive: SscDrive::with_policy(Box::new(sim), RetryPolicy::immediate()), site: Some(site) })
        }
        _ => anyhow::bail!("name the drive with --device /dev/sgN or --sim DIR"),
    }
}

fn print_status(s: &DriveStatus) {
    println!("Drive:       {} ({} {} {}), serial {}", s.device, s.vendor, s.product, s.revision, s.serial);
    match &s.not_ready {
        None => println!("State:       ready"),
        Some(why) => println!("State:       not ready: {why}"),
    }
    if let Some(m) = &s.medium {
        let block = if m.block_length == 0 { "variable".to_string() } else { format!("{} bytes", m.block_length) };
        let compression = match m.compression {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown",
        };
        println!("Medium:      density 0x{:02x}, block size {block}, compression {compression}{}", m.density_code, if m.write_protected { ", write protected" } else { "" });
    }
    if let Some(l) = &s.block_limits {
        println!("Block limits: {} to {} bytes", l.min, l.max);
    }
    if let Some(p) = &s.position {
        let file = p.file.map_or("?".to_string(), |f| f.to_string());
        let mut flags = Vec::new();
        if p.beginning_of_partition {
            flags.push("BOT");
        }
        if p.early_warning {
            flags.push("EW");
        }
        println!("Position:    file {file}, logical object {}{}", p.object, if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(" ")) });
    }
    if s.tape_alerts.is_empty() {
        println!("TapeAlert:   none");
    } else {
        for f in &s.tape_alerts {
            println!("TapeAlert:   {:02x} {}{}", f.flag, f.name, if f.critical { " (critical)" } else { "" });
        }
    }
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    let target = match &cmd {
        Command::Status(t) | Command::Rewind(t) | Command::Eod(t) | Command::Load(t) | Command::Unload(t) => t.clone(),
        Command::Fsf { target, .. } | Command::Bsf { target, .. } | Command::Weof { target, .. } => target.clone(),
    };
    let mut o = open(&target)?;
    let d = &mut o.drive;
    let done = |what: &str, d: &mut SscDrive<Box<dyn ScsiTransport>>| -> anyhow::Result<()> {
        let pos = d.position().ok();
        if json {
            let v = serde_json::json!({"done": what, "block": pos.map(|p| p.block), "file": pos.and_then(|p| p.file)});
            println!("{v}");
        } else if let Some(p) = pos {
            println!("{what}: now at file {}, logical object {}", p.file.map_or("?".into(), |f| f.to_string()), p.block);
        } else {
            println!("{what}");
        }
        Ok(())
    };
    match cmd {
        Command::Status(_) => {
            let s = d.status()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print_status(&s);
            }
        }
        Command::Rewind(_) => {
            d.rewind().context("rewind")?;
            done("rewound", d)?;
        }
        Command::Eod(_) => {
            d.ready().context("drive not ready")?;
            d.space_to_end_of_data().context("space to end of data")?;
            done("at end of data", d)?;
        }
        Command::Fsf { count, .. } => {
            d.ready().context("drive not ready")?;
            d.space_filemarks(i64::from(count)).with_context(|| format!("space forward {count} filemark(s)"))?;
            done("spaced forward", d)?;
        }
        Command::Bsf { count, .. } => {
            d.ready().context("drive not ready")?;
            d.space_filemarks(-i64::from(count)).with_context(|| format!("space backward {count} filemark(s)"))?;
            done("spaced backward", d)?;
        }
        Command::Weof { count, .. } => {
            d.ready().context("drive not ready")?;
            let outcome = d.write_filemarks(count).with_context(|| format!("write {count} filemark(s)"))?;
            if outcome == asto_drivers::tape::WriteOutcome::EarlyWarning {
                eprintln!("asto: warning: the tape is past its early-warning point");
            }
            done("filemarks written", d)?;
        }
        Command::Load(_) => {
            d.load().context("load")?;
            done("loaded", d)?;
        }
        Command::Unload(_) => {
            d.unload().context("unload")?;
            if json {
                println!("{}", serde_json::json!({"done": "unloaded"}));
            } else {
                println!("unloaded");
            }
        }
    }
    if let Some(site) = o.site {
        site.save().context("saving the simulated site")?;
    }
    Ok(ExitCode::SUCCESS)
}
