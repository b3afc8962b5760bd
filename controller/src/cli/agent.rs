//! `asto agent --config agent.toml`: the agent daemon for a media host. It drives the devices in
//! its configuration and takes its work from the controller (register, lease, report).
//!
//! ```toml
//! controller = "http://controller.example:7420"   # https://… when the controller has TLS
//! ca_file = "/etc/asto/tls/ca.pem"       # HTTPS: trust this CA too (optional)
//! client_cert = "/etc/asto/tls/agent.pem" # HTTPS: client certificate and key, when the
//! client_key = "/etc/asto/tls/agent.key"  # controller requires them (optional)
//! token_file = "/etc/asto/agent.token"   # or token = "…"; the token's name is the agent's name
//! media_stage = "/var/lib/asto/media"    # working space: files fetched from the controller
//! data = "auto"                          # auto | http | shared: how unit files are read
//! metrics_listen = "0.0.0.0:9102"        # Prometheus /metrics (optional)
//! shelf = "/var/lib/asto/sim/shelf"      # simulated devices only
//! [[device]]
//! name = "tape2"
//! kind = "tape"
//! backend = "sim"
//! dir = "/var/lib/asto/sim/tape2"
//! serial = "SIM-tape2"
//! [[device]]                             # a drive in a library: the changer moves its volumes
//! name = "lto0"
//! kind = "tape"
//! backend = "scsi"
//! path = "/dev/sg3"                      # hwsim:SOCKET#N for a drive of a simulated site
//! changer = "/dev/sg5"
//! element = 0                            # its drive number in the library
//! [[jukebox]]                            # a jukebox whose changer this host drives
//! name = "jb1"                           # as in the controller's [[jukebox]] (agent = this agent)
//! changer = "/dev/sg7"
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};
use asto_agent::remote::{self, RemoteConfig};
use asto_agent::{Agent, AgentConfig, DeviceSpec};
use serde::Deserialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Agent configuration file.
    #[arg(long, env = "ASTO_AGENT_CONFIG", default_value = "/etc/asto/agent.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFile {
    controller: String,
    token: Option<String>,
    token_file: Option<PathBuf>,
    media_stage: PathBuf,
    shelf: Option<PathBuf>,
    #[serde(default = "default_poll_ms")]
    poll_ms: u64,
    /// auto (shared paths where they exist, HTTP otherwise), http, or shared.
    #[serde(default = "default_data")]
    data: remote::DataAccess,
    /// Address for the Prometheus endpoint (e.g. "0.0.0.0:9102"); none: no endpoint.
    metrics_listen: Option<String>,
    /// HTTPS: a CA to trust for the controller's certificate, besides the system's.
    ca_file: Option<PathBuf>,
    /// HTTPS: the client certificate (PEM) and key this agent presents.
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    #[serde(default)]
    device: Vec<DeviceSpec>,
    /// Jukeboxes whose changers this agent drives (inventories, imports).
    #[serde(default)]
    jukebox: Vec<JukeboxEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JukeboxEntry {
    name: String,
    /// SCSI address of the changer: `/dev/sgN` or `hwsim:SOCKET`.
    changer: String,
}

fn default_poll_ms() -> u64 {
    500
}

fn default_data() -> remote::DataAccess {
    remote::DataAccess::Auto
}

fn load(path: &Path) -> anyhow::Result<(AgentConfig, RemoteConfig)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let f: AgentFile = toml::from_str(&text).map_err(|e| anyhow!("configuration {}: {}", path.display(), e.to_string().trim_end()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let abs = |p: &Path| if p.is_absolute() { p.to_owned() } else { base.join(p) };
    let token = match (f.token, f.token_file) {
        (Some(t), None) => t,
        (None, Some(file)) => std::fs::read_to_string(abs(&file))
            .with_context(|| format!("configuration {}: token_file", path.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned(),
        _ => return Err(anyhow!("configuration {}: exactly one of token or token_file is needed", path.display())),
    };
    if f.device.is_empty() && f.jukebox.is_empty() {
        return Err(anyhow!("configuration {}: no [[device]] and no [[jukebox]]: an agent without devices has nothing to do", path.display()));
    }
    let jukeboxes = f.jukebox.into_iter().map(|j| (j.name, j.changer)).collect();
    let devices = f
        .device
        .into_iter()
        .map(|mut d| {
            if let asto_agent::Backend::Sim { dir, .. } = &mut d.backend {
                *dir = abs(dir);
            }
            d
        })
        .collect();
    Ok((
        AgentConfig { devices, shelf: f.shelf.as_deref().map(abs), media_stage: abs(&f.media_stage), jukeboxes },
        RemoteConfig {
            controller: f.controller,
            token,
            poll: Duration::from_millis(f.poll_ms.max(50)),
            data: f.data,
            cache: abs(&f.media_stage).join("fetched"),
            metrics_listen: f.metrics_listen,
            tls: asto_agent::http::ClientTls {
                ca_file: f.ca_file.as_deref().map(abs),
                client_cert: f.client_cert.as_deref().map(abs),
                client_key: f.client_key.as_deref().map(abs),
            },
        },
    ))
}

pub fn run(args: Args, _json: bool) -> anyhow::Result<ExitCode> {
    let (agent_config, remote_config) = load(&args.config)?;
    let agent = Arc::new(Agent::new(&agent_config)?);
    let stop = Arc::new(AtomicBool::new(false));
    // SIGTERM/SIGINT set the stop flag; the loop notices it within one poll period. Actions in
    // flight end with the process, and the controller reassigns them when their leases run out.
    let mut signals = nix::sys::signal::SigSet::empty();
    signals.add(nix::sys::signal::Signal::SIGTERM);
    signals.add(nix::sys::signal::Signal::SIGINT);
    signals.thread_block()?;
    let flag = stop.clone();
    std::thread::spawn(move || {
        if signals.wait().is_ok() {
            flag.store(true, Ordering::Relaxed);
        }
    });
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    remote::run(agent, &remote_config, &stop)?;
    Ok(ExitCode::SUCCESS)
}
