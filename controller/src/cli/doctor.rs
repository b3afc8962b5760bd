//! `asto doctor`: is this host ready to run asto? One look at everything that fails outside the
//! code — configuration, device permissions, external tools, stage space, the catalogue and the
//! OB module's PostgreSQL databases — with a line per check, so an operator sees what to fix
//! before a daemon stumbles over it. Exits non-zero when any check fails.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use nix::unistd::AccessFlags;
use serde::Serialize;

use super::config_check;
use super::context::ConfigArg;
use crate::config::{Config, StageKind};
use crate::media::MediaKind;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Seconds to wait for each PostgreSQL database of the `[ob]` table.
    #[arg(long, default_value_t = 5)]
    pub pg_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked: `config`, `device /dev/sg3`, `tool xorriso`, `stage media`, …
    pub check: String,
    pub status: Status,
    pub detail: String,
}

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check { check: name.into(), status, detail: detail.into() }
}

/// Device nodes the agent opens: SCSI generic (changers and drives), non-rewinding tape, optical.
fn device_nodes(dev: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dev) else { return Vec::new() };
    let mut nodes: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                ["sg", "nst", "sr"].iter().any(|prefix| n.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit())))
            })
        })
        .collect();
    nodes.sort();
    nodes
}

fn device_checks(config: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    for node in device_nodes(Path::new("/dev")) {
        let name = format!("device {}", node.display());
        match nix::unistd::access(&node, AccessFlags::R_OK | AccessFlags::W_OK) {
            Ok(()) => out.push(check(name, Status::Ok, "read and write")),
            Err(e) => out.push(check(
                name,
                Status::Fail,
                format!("{e}: this user (uid {}) cannot open it; install the udev rules and add the user to group asto", super::config_check::uid()),
            )),
        }
    }
    for (i, d) in config.devices.iter().enumerate() {
        if let Some(dir) = &d.dir {
            // A simulated device's directory is made on first use; it must be creatable.
            let (status, detail) = match config_check::directory_problem(dir) {
                None => (Status::Ok, dir.display().to_string()),
                Some(m) => (Status::Fail, format!("device[{i}].dir: {m}")),
            };
            out.push(check(format!("device {} (simulated)", d.name), status, detail));
        }
    }
    if out.is_empty() {
        out.push(check("devices", Status::Warn, "no configured devices and no /dev/sg*, /dev/nst*, /dev/sr* nodes"));
    }
    out
}

/// The first line of `tool args…`, or why it could not be run.
fn tool_version(tool: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(tool).args(args).output().map_err(|e| format!("not found ({e})"))?;
    let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
    let text = String::from_utf8_lossy(&text);
    Ok(text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(no version output)").to_owned())
}

fn tool_checks(config: &Config) -> Vec<Check> {
    let optical = config.devices.iter().any(|d| d.kind != MediaKind::Tape);
    // xorriso burns and reads optical media; mtx is the fallback changer backend.
    let tools: [(&str, &[&str], Status, &str); 2] = [
        ("xorriso", &["-version"], if optical { Status::Fail } else { Status::Warn }, "burning and verifying optical media"),
        ("mtx", &["--version"], Status::Warn, "the mtx changer backend"),
    ];
    tools
        .iter()
        .map(|(tool, args, missing, why)| match tool_version(tool, args) {
            Ok(v) => check(format!("tool {tool}"), Status::Ok, v),
            Err(e) => check(format!("tool {tool}"), *missing, format!("{e}; needed for {why} (Debian package {tool})")),
        })
        .collect()
}

fn stage_checks(config: &Config) -> Vec<Check> {
    [StageKind::Archive, StageKind::User, StageKind::Media]
        .into_iter()
        .map(|kind| {
            let stage = config.stages.get(kind);
            let name = format!("stage {}", kind.as_str());
            match crate::stage::free_bytes(&stage.path) {
                Err(e) => check(name, Status::Fail, e.to_string()),
                Ok(free) if free <= stage.reserve => check(
                    name,
                    Status::Fail,
                    format!("{}: {} free, at or below the reserve of {}", stage.path.display(), crate::size::human(free), crate::size::human(stage.reserve)),
                ),
                Ok(free) => check(name, Status::Ok, format!("{}: {} free (reserve {})", stage.path.display(), crate::size::human(free), crate::size::human(stage.reserve))),
            }
        })
        .collect()
}

fn catalogue_check(config: &Config) -> Check {
    let path = &config.catalogue;
    if !path.exists() {
        return check("catalogue", Status::Warn, format!("{} does not exist yet; the first command that needs it creates it", path.display()));
    }
    // Read-only: the doctor must not migrate or lock anything.
    let opened = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).and_then(|c| {
        let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let integrity: String = c.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        Ok((version, integrity))
    });
    match opened {
        Ok((version, integrity)) if integrity == "ok" => check("catalogue", Status::Ok, format!("{} (schema version {version})", path.display())),
        Ok((_, integrity)) => check("catalogue", Status::Fail, format!("{}: integrity check: {integrity}", path.display())),
        Err(e) => check("catalogue", Status::Fail, format!("{}: {e}", path.display())),
    }
}

fn postgres_checks(path: &Path, timeout: Duration) -> Vec<Check> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let has_ob = toml::from_str::<toml::Table>(&text).is_ok_and(|t| t.contains_key("ob"));
    if !has_ob {
        return Vec::new();
    }
    let ob = match crate::ob::config::ObConfig::parse(&text, path) {
        Ok(ob) => ob,
        Err(e) => return vec![check("postgresql", Status::Fail, e.to_string())],
    };
    ob.nodes()
        .map(|node| {
            let mut pg = node.pg.clone();
            pg.connect_timeout(timeout);
            let name = format!("postgresql {}", node.name);
            match pg.connect(postgres::NoTls).and_then(|mut c| c.query_one("SELECT version()", &[])) {
                Ok(row) => {
                    let version: String = row.get(0);
                    check(name, Status::Ok, version.split(" on ").next().unwrap_or(&version).to_owned())
                }
                Err(e) => check(name, Status::Fail, format!("cannot connect ({}): {e}", node.conninfo)),
            }
        })
        .collect()
}

/// Every check, in the order they are shown.
pub fn diagnose(path: &Path, pg_timeout: Duration) -> Vec<Check> {
    let (config, problems) = config_check::check(path);
    let mut out: Vec<Check> = if problems.is_empty() {
        vec![check("config", Status::Ok, path.display().to_string())]
    } else {
        problems.iter().map(|p| check("config", Status::Fail, p.to_string())).collect()
    };
    if let Some(config) = &config {
        out.extend(device_checks(config));
        out.extend(tool_checks(config));
        out.extend(stage_checks(config));
        out.push(catalogue_check(config));
    }
    out.extend(postgres_checks(path, pg_timeout));
    out
}

pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let checks = diagnose(&args.config.config, Duration::from_secs(args.pg_timeout.max(1)));
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    tracing::debug!(checks = checks.len(), failed, "doctor done");
    if json {
        super::output::json(&checks)?;
    } else {
        super::output::table(&["check", "status", "detail"], checks.iter().map(|c| vec![c.check.clone(), c.status.as_str().into(), c.detail.clone()]));
        if failed > 0 {
            eprintln!("{failed} check(s) failed");
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
