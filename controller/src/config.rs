//! The controller's configuration: one TOML file.
//!
//! Unknown keys are errors (a misspelt key silently ignored is a misconfiguration waiting to
//! bite), relative paths are relative to the file's directory, and everything that refers to
//! something else (a group naming a device, a data class naming a media type) is checked at load
//! time with an error that names the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::media::{self, MediaKind, MediaType};
use crate::size::serde_size;

/// The three data stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageKind {
    Archive,
    User,
    Media,
}

impl StageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Archive => "archive",
            StageKind::User => "user",
            StageKind::Media => "media",
        }
    }

    pub fn parse(s: &str) -> Option<StageKind> {
        match s {
            "archive" => Some(StageKind::Archive),
            "user" => Some(StageKind::User),
            "media" => Some(StageKind::Media),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    pub path: PathBuf,
    /// Free space to keep on the stage's filesystem; ingest refuses data that would eat into it.
    #[serde(default, with = "serde_size")]
    pub reserve: u64,
    /// Most bytes the stage may hold, so stages sharing a filesystem cannot starve each other.
    #[serde(default, with = "serde_size::option")]
    pub quota: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stages {
    pub archive: StageConfig,
    pub user: StageConfig,
    pub media: StageConfig,
}

impl Stages {
    pub fn get(&self, kind: StageKind) -> &StageConfig {
        match kind {
            StageKind::Archive => &self.archive,
            StageKind::User => &self.user,
            StageKind::Media => &self.media,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitsConfig {
    /// Digits of the unit counter in unit names (`ARC-LTO8-000042` has 6).
    #[serde(default = "default_counter_width")]
    pub counter_width: usize,
}

fn default_counter_width() -> usize {
    6
}

impl Default for UnitsConfig {
    fn default() -> Self {
        UnitsConfig { counter_width: default_counter_width() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaTypeConfig {
    pub name: String,
    pub kind: MediaKind,
    #[serde(with = "serde_size")]
    pub capacity: u64,
    #[serde(default)]
    pub rewritable: bool,
    /// Short label for unit names; defaults to the name without punctuation.
    pub label: Option<String>,
}

/// How the agent reaches a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// hw-sim's file-backed device: cartridges and discs are files on the simulated shelf.
    Sim,
    /// A SCSI tape drive (SSC): `/dev/sgN`, or `hwsim:SOCKET#N` for a drive of a simulated site.
    Scsi,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sim => "sim",
            Backend::Scsi => "scsi",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    pub name: String,
    pub kind: MediaKind,
    pub backend: Backend,
    /// Device directory (sim backend: holds `faults.json`).
    pub dir: Option<PathBuf>,
    /// Serial number; the sim backend reports it, real devices are matched by it.
    pub serial: Option<String>,
    /// Rated speed (bytes per second, e.g. "160MB"); the sim backend throttles to it.
    #[serde(default, with = "serde_size::option")]
    pub rate: Option<u64>,
    /// The agent that drives this device (its token's name); none: the embedded agent.
    pub agent: Option<String>,
    /// SCSI address of the drive (scsi backend): `/dev/sgN` or `hwsim:SOCKET#N`.
    pub path: Option<String>,
    /// The jukebox (library) the drive sits in, and its drive number there (from 0).
    pub jukebox: Option<String>,
    #[serde(default)]
    pub element: u16,
}

/// A jukebox or tape library: where verified archive volumes are kept online.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JukeboxConfig {
    pub name: String,
    /// What it holds: tape cartridges or optical discs.
    pub kind: MediaKind,
    /// SCSI address of its changer (SMC): `/dev/sgN`, or `hwsim:SOCKET` for a simulated site.
    pub changer: String,
    /// Media type of cartridges found in it that the catalogue does not know yet: they are taken
    /// as blank scratch volumes (tape libraries).
    pub media_type: Option<String>,
    /// The agent whose host drives its changer (inventories, imports); none: the controller's.
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub name: String,
    pub devices: Vec<String>,
    /// Media types this group writes.
    pub media: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassConfig {
    pub media: String,
    #[serde(default = "default_copies")]
    pub copies: u32,
    pub group: String,
}

fn default_copies() -> u32 {
    2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Where simulated media live.
    pub shelf: PathBuf,
    /// Name of the simulated jukebox verified archive volumes are put into.
    #[serde(default = "default_jukebox")]
    pub jukebox: String,
    /// Storage slots of that jukebox.
    #[serde(default = "default_slots")]
    pub jukebox_slots: u32,
}

fn default_jukebox() -> String {
    "sim-jukebox".into()
}

fn default_slots() -> u32 {
    500
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeConfig {
    /// Tape record (block) size: 64 KiB to 1 MiB; 256 KiB by default.
    #[serde(default = "default_record", with = "serde_size")]
    pub record_size: u64,
}

fn default_record() -> u64 {
    256 << 10
}

impl Default for TapeConfig {
    fn default() -> Self {
        TapeConfig { record_size: default_record() }
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read, submit requests, acknowledge prompts.
    User,
    /// An agent: register, heartbeat, lease and report actions.
    Agent,
    /// Everything, including rollback; admin actions are logged.
    Admin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    pub role: Role,
    /// The secret itself, or
    pub token: Option<String>,
    /// a file holding it (first line).
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiFile {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    token: Vec<TokenConfig>,
    /// Seconds an agent may go without reporting before its action is given to another device.
    #[serde(default = "default_lease")]
    lease_secs: u64,
    /// HTTPS: the controller's certificate chain and key (PEM).
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    /// HTTPS: require client certificates signed by this CA (PEM).
    client_ca: Option<PathBuf>,
}

fn default_lease() -> u64 {
    30
}

fn default_listen() -> String {
    "127.0.0.1:7420".into()
}

/// The controller's HTTP API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub listen: String,
    pub lease_secs: u64,
    /// (name, role, secret)
    pub tokens: Vec<(String, Role, String)>,
    /// HTTPS, when configured.
    pub tls: Option<ApiTls>,
}

/// The API's TLS settings.
#[derive(Debug, Clone)]
pub struct ApiTls {
    /// PEM certificate chain and private key of the controller.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// PEM CA whose client certificates are required from every caller.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    catalogue: PathBuf,
    stages: Stages,
    #[serde(default)]
    units: UnitsConfig,
    #[serde(default)]
    tape: TapeConfig,
    #[serde(default)]
    media_type: Vec<MediaTypeConfig>,
    #[serde(default)]
    device: Vec<DeviceConfig>,
    #[serde(default)]
    group: Vec<GroupConfig>,
    #[serde(default)]
    jukebox: Vec<JukeboxConfig>,
    #[serde(default)]
    class: BTreeMap<String, ClassConfig>,
    sim: Option<SimConfig>,
    api: Option<ApiFile>,
    /// The OB module's own table; it reads and checks it itself.
    #[allow(dead_code)]
    ob: Option<toml::Value>,
}

/// A loaded and checked configuration, with absolute paths.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub catalogue: PathBuf,
    pub stages: Stages,
    pub units: UnitsConfig,
    pub tape: TapeConfig,
    pub media_types: Vec<MediaType>,
    pub devices: Vec<DeviceConfig>,
    pub groups: Vec<GroupConfig>,
    pub jukeboxes: Vec<JukeboxConfig>,
    pub classes: BTreeMap<String, ClassConfig>,
    pub sim: Option<SimConfig>,
    pub api: Option<ApiConfig>,
}

impl Config {
    /// Default location of the configuration file.
    pub const DEFAULT_PATH: &'static str = "/etc/asto/asto.toml";

    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let err = |message: String| Error::Config { file: path.to_owned(), message };
        let raw: ConfigFile = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
        let base = std::path::absolute(&base).map_err(|e| err(format!("cannot resolve {}: {e}", base.display())))?;
        let abs = |p: &Path| if p.is_absolute() { p.to_owned() } else { base.join(p) };

        let mut stages = raw.stages;
        for kind in [StageKind::Archive, StageKind::User, StageKind::Media] {
            let s = match kind {
                StageKind::Archive => &mut stages.archive,
                StageKind::User => &mut stages.user,
                StageKind::Media => &mut stages.media,
            };
            s.path = abs(&s.path);
        }
        let pairs = [
            (StageKind::Archive, StageKind::User),
            (StageKind::Archive, StageKind::Media),
            (StageKind::User, StageKind::Media),
        ];
        for (a, b) in pairs {
            let (pa, pb) = (&stages.get(a).path, &stages.get(b).path);
            if pa.starts_with(pb) || pb.starts_with(pa) {
                return Err(err(format!(
                    "stages.{}.path and stages.{}.path overlap ({} and {}); data stages must be distinct directories",
                    a.as_str(),
                    b.as_str(),
                    pa.display(),
                    pb.display()
                )));
            }
        }

        if !(1..=12).contains(&raw.units.counter_width) {
            return Err(err(format!("units.counter_width = {} is out of range 1..=12", raw.units.counter_width)));
        }
        let rs = raw.tape.record_size;
        if !(64 << 10..=1 << 20).contains(&rs) || rs % 512 != 0 {
            return Err(err(format!("tape.record_size = {rs}: must be 64 KiB to 1 MiB and a multiple of 512")));
        }

        let mut media_types = media::builtin();
        for (i, m) in raw.media_type.iter().enumerate() {
            if media::find(&media_types, &m.name).is_some() {
                return Err(err(format!("media_type[{i}].name = '{}' is already defined", m.name)));
            }
            if m.capacity < 1 << 20 {
                return Err(err(format!("media_type[{i}].capacity = {} bytes is too small (at least 1 MiB)", m.capacity)));
            }
            let label = m.label.clone().unwrap_or_else(|| m.name.chars().filter(char::is_ascii_alphanumeric).collect());
            if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(err(format!("media_type[{i}].label = '{label}' must be letters and digits")));
            }
            media_types.push(MediaType {
                name: m.name.clone(),
                kind: m.kind,
                capacity: m.capacity,
                rewritable: m.rewritable,
                label: label.to_uppercase(),
                profile: m.name.clone(),
            });
        }

        let mut devices = raw.device;
        for (i, d) in devices.iter_mut().enumerate() {
            if d.name.is_empty() || !d.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(err(format!("device[{i}].name = '{}' must be letters, digits, '-', '_' or '.'", d.name)));
            }
            if d.backend == Backend::Sim && d.dir.is_none() {
                return Err(err(format!("device[{i}].dir is required for the sim backend (device '{}')", d.name)));
            }
            d.dir = d.dir.as_deref().map(abs);
            if d.backend == Backend::Scsi {
                let Some(path) = &d.path else {
                    return Err(err(format!("device[{i}].path is required for the scsi backend (device '{}')", d.name)));
                };
                asto_agent::scsi_path::ScsiPath::parse(path).map_err(|e| err(format!("device[{i}].path: {e} (device '{}')", d.name)))?;
                if d.kind != MediaKind::Tape {
                    return Err(err(format!("device[{i}]: the scsi backend drives tape drives only (device '{}')", d.name)));
                }
            }
        }
        for (i, j) in raw.jukebox.iter().enumerate() {
            if j.name.is_empty() || !j.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(err(format!("jukebox[{i}].name = '{}' must be letters, digits, '-', '_' or '.'", j.name)));
            }
            if raw.jukebox[..i].iter().any(|o| o.name == j.name) {
                return Err(err(format!("jukebox[{i}].name = '{}' is defined twice", j.name)));
            }
            asto_agent::scsi_path::ScsiPath::parse(&j.changer).map_err(|e| err(format!("jukebox[{i}].changer: {e} (jukebox '{}')", j.name)))?;
            if let Some(m) = &j.media_type {
                match media::find(&media_types, m) {
                    None => return Err(err(format!("jukebox[{i}].media_type names unknown media type '{m}' (jukebox '{}')", j.name))),
                    Some(mt) if mt.kind != j.kind => {
                        return Err(err(format!("jukebox[{i}]: a {} jukebox cannot hold media type '{m}' (jukebox '{}')", j.kind.as_str(), j.name)));
                    }
                    Some(_) => {}
                }
            }
        }
        for (i, d) in devices.iter().enumerate() {
            let Some(name) = &d.jukebox else { continue };
            let Some(j) = raw.jukebox.iter().find(|j| &j.name == name) else {
                return Err(err(format!("device[{i}].jukebox names jukebox '{name}', which is not defined (device '{}')", d.name)));
            };
            if d.backend != Backend::Scsi || j.kind != d.kind {
                return Err(err(format!("device[{i}].jukebox: only scsi tape drives sit in a jukebox here (device '{}')", d.name)));
            }
            if let Some(o) = devices[..i].iter().find(|o| o.jukebox.as_ref() == Some(name) && o.element == d.element) {
                return Err(err(format!("device[{i}].element = {}: device '{}' is that drive of jukebox '{name}' already", d.element, o.name)));
            }
        }
        for (i, d) in devices.iter().enumerate() {
            if devices[..i].iter().any(|o| o.name == d.name) {
                return Err(err(format!("device[{i}].name = '{}' is defined twice", d.name)));
            }
        }
        for (i, g) in raw.group.iter().enumerate() {
            if raw.group[..i].iter().any(|o| o.name == g.name) {
                return Err(err(format!("group[{i}].name = '{}' is defined twice", g.name)));
            }
            if g.devices.is_empty() {
                return Err(err(format!("group[{i}].devices is empty (group '{}')", g.name)));
            }
            for name in &g.devices {
                let Some(dev) = devices.iter().find(|d| &d.name == name) else {
                    return Err(err(format!("group[{i}].devices names device '{name}', which is not defined (group '{}')", g.name)));
                };
                for m in &g.media {
                    let Some(mt) = media::find(&media_types, m) else {
                        return Err(err(format!("group[{i}].media names unknown media type '{m}' (group '{}')", g.name)));
                    };
                    if mt.kind != dev.kind {
                        return Err(err(format!(
                            "group[{i}]: device '{name}' is a {} device but media type '{m}' is {} (group '{}')",
                            dev.kind.as_str(),
                            mt.kind.as_str(),
                            g.name
                        )));
                    }
                }
            }
        }
        for (name, c) in &raw.class {
            let Some(group) = raw.group.iter().find(|g| g.name == c.group) else {
                return Err(err(format!("class.{name}.group names group '{}', which is not defined", c.group)));
            };
            if media::find(&media_types, &c.media).is_none() {
                return Err(err(format!("class.{name}.media names unknown media type '{}'", c.media)));
            }
            if !group.media.iter().any(|m| m.eq_ignore_ascii_case(&c.media)) {
                return Err(err(format!("class.{name}: group '{}' does not write media type '{}'", c.group, c.media)));
            }
            if c.copies == 0 || c.copies as usize > group.devices.len() {
                return Err(err(format!(
                    "class.{name}.copies = {}: must be 1 to {} (copies go to distinct devices of group '{}')",
                    c.copies,
                    group.devices.len(),
                    c.group
                )));
            }
        }
        let mut sim = raw.sim;
        if let Some(s) = sim.as_mut() {
            s.shelf = abs(&s.shelf);
        }
        if devices.iter().any(|d| d.backend == Backend::Sim) && sim.is_none() {
            return Err(err("devices use the sim backend but there is no [sim] table with a shelf".into()));
        }
        let api = match raw.api {
            None => {
                if let Some((i, d)) = devices.iter().enumerate().find(|(_, d)| d.agent.is_some()) {
                    return Err(err(format!("device[{i}].agent is set (device '{}') but there is no [api] table for agents to reach", d.name)));
                }
                None
            }
            Some(a) => {
                let mut tokens = Vec::new();
                for (i, t) in a.token.iter().enumerate() {
                    let secret = match (&t.token, &t.token_file) {
                        (Some(s), None) => s.clone(),
                        (None, Some(f)) => {
                            let f = abs(f);
                            let text = std::fs::read_to_string(&f)
                                .map_err(|e| err(format!("api.token[{i}].token_file = {}: {e}", f.display())))?;
                            text.lines().next().unwrap_or("").trim().to_owned()
                        }
                        _ => return Err(err(format!("api.token[{i}] needs exactly one of token or token_file (token '{}')", t.name))),
                    };
                    if secret.len() < 16 {
                        return Err(err(format!("api.token[{i}]: the secret of token '{}' is shorter than 16 characters", t.name)));
                    }
                    if tokens.iter().any(|(n, _, s): &(String, Role, String)| n == &t.name || s == &secret) {
                        return Err(err(format!("api.token[{i}]: token '{}' repeats a name or a secret", t.name)));
                    }
                    tokens.push((t.name.clone(), t.role, secret));
                }
                a.listen.parse::<std::net::SocketAddr>().map_err(|e| err(format!("api.listen = '{}': {e}", a.listen)))?;
                for (i, j) in raw.jukebox.iter().enumerate() {
                    if let Some(agent) = &j.agent
                        && !tokens.iter().any(|(n, r, _)| n == agent && *r == Role::Agent)
                    {
                        return Err(err(format!("jukebox[{i}].agent = '{agent}': there is no [[api.token]] with that name and role agent")));
                    }
                }
                for (i, d) in devices.iter().enumerate() {
                    if let Some(agent) = &d.agent {
                        if !tokens.iter().any(|(n, r, _)| n == agent && *r == Role::Agent) {
                            return Err(err(format!("device[{i}].agent = '{agent}': there is no [[api.token]] with that name and role agent")));
                        }
                    }
                }
                if a.lease_secs == 0 {
                    return Err(err("api.lease_secs must be at least 1".into()));
                }
                let tls = match (a.tls_cert, a.tls_key, a.client_ca) {
                    (Some(cert), Some(key), ca) => Some(ApiTls { cert: abs(&cert), key: abs(&key), client_ca: ca.as_deref().map(abs) }),
                    (None, None, None) => None,
                    (None, None, Some(_)) => return Err(err("api.client_ca needs api.tls_cert and api.tls_key: client certificates come with HTTPS".into())),
                    _ => return Err(err("api.tls_cert and api.tls_key go together".into())),
                };
                Some(ApiConfig { listen: a.listen, lease_secs: a.lease_secs, tokens, tls })
            }
        };
        Ok(Config {
            api,
            file: path.to_owned(),
            catalogue: abs(&raw.catalogue),
            stages,
            units: raw.units,
            tape: raw.tape,
            media_types,
            devices,
            groups: raw.group,
            jukeboxes: raw.jukebox,
            classes: raw.class,
            sim,
        })
    }

    pub fn media_type(&self, name: &str) -> Result<&MediaType> {
        media::find(&self.media_types, name).ok_or_else(|| {
            let known: Vec<&str> = self.media_types.iter().map(|m| m.name.as_str()).collect();
            Error::input(format!("unknown media type '{name}' (known: {})", known.join(", ")))
        })
    }

    /// The jukebox that device `name` sits in.
    pub fn jukebox_of(&self, device: &str) -> Option<&JukeboxConfig> {
        let name = self.devices.iter().find(|d| d.name == device)?.jukebox.as_ref()?;
        self.jukeboxes.iter().find(|j| &j.name == name)
    }

    pub fn group(&self, name: &str) -> Result<&GroupConfig> {
        self.groups.iter().find(|g| g.name == name).ok_or_else(|| Error::input(format!("unknown device group '{name}'")))
    }

    /// The first group that writes this media type.
    pub fn group_for_media(&self, media: &MediaType) -> Result<&GroupConfig> {
        self.groups
            .iter()
            .find(|g| g.media.iter().any(|m| m.eq_ignore_ascii_case(&media.name)))
            .ok_or_else(|| Error::input(format!("no device group writes media type '{}'", media.name)))
    }

    pub fn class(&self, name: &str) -> Result<&ClassConfig> {
        self.classes.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.classes.keys().map(String::as_str).collect();
            Error::input(format!("unknown data class '{name}' (configured: {})", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
catalogue = "cat.db"
[stages]
archive = { path = "s/archive", reserve = "1GiB" }
user = { path = "s/user" }
media = { path = "s/media" }
[sim]
shelf = "shelf"
[[device]]
name = "t0"
kind = "tape"
backend = "sim"
dir = "dev/t0"
[[group]]
name = "tapes"
devices = ["t0"]
media = ["LTO-5"]
[class.raw]
media = "LTO-5"
copies = 1
group = "tapes"
"#;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("/etc/asto/asto.toml"), text)
    }

    #[test]
    fn loads_and_resolves_relative_paths() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.catalogue, PathBuf::from("/etc/asto/cat.db"));
        assert_eq!(c.stages.archive.reserve, 1 << 30);
        assert_eq!(c.devices[0].dir.as_deref(), Some(Path::new("/etc/asto/dev/t0")));
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let e = error_of(&BASE.replace("[sim]", "[sim]\nshelve = 1"));
        assert!(e.contains("/etc/asto/asto.toml") && e.contains("shelve"), "{e}");
    }

    #[test]
    fn group_naming_a_missing_device_is_refused() {
        let e = error_of(&BASE.replace(r#"devices = ["t0"]"#, r#"devices = ["t9"]"#));
        assert!(e.contains("group[0].devices") && e.contains("'t9'"), "{e}");
    }

    #[test]
    fn overlapping_stages_are_refused() {
        let e = error_of(&BASE.replace(r#"path = "s/user""#, r#"path = "s/archive/u""#));
        assert!(e.contains("stages.archive.path and stages.user.path overlap"), "{e}");
    }

    #[test]
    fn copies_beyond_the_group_are_refused() {
        let e = error_of(&BASE.replace("copies = 1", "copies = 2"));
        assert!(e.contains("class.raw.copies = 2"), "{e}");
    }

    const LIBRARY: &str = r#"
[[device]]
name = "lto0"
kind = "tape"
backend = "scsi"
path = "hwsim:/srv/site/hwsim.sock#0"
jukebox = "lib"
element = 0
[[jukebox]]
name = "lib"
kind = "tape"
changer = "hwsim:/srv/site/hwsim.sock"
media_type = "LTO-5"
"#;

    #[test]
    fn a_drive_in_a_library_is_found_through_its_jukebox() {
        let c = parse(&format!("{BASE}{LIBRARY}")).unwrap();
        assert_eq!(c.jukebox_of("lto0").map(|j| j.name.as_str()), Some("lib"));
        assert!(c.jukebox_of("t0").is_none());
    }

    #[test]
    fn bad_library_settings_are_named() {
        let cases = [
            (LIBRARY.replace("path = \"hwsim:/srv/site/hwsim.sock#0\"\n", ""), "device[1].path is required"),
            (LIBRARY.replace("#0", "#x"), "drive number"),
            (LIBRARY.replace("jukebox = \"lib\"", "jukebox = \"nolib\""), "jukebox 'nolib', which is not defined"),
            (LIBRARY.replace("changer = \"hwsim:/srv/site/hwsim.sock\"", "changer = \"sg5\""), "jukebox[0].changer"),
            (LIBRARY.replace("media_type = \"LTO-5\"", "media_type = \"DVD+R\""), "cannot hold media type 'DVD+R'"),
            (format!("{LIBRARY}[[device]]\nname = \"lto1\"\nkind = \"tape\"\nbackend = \"scsi\"\npath = \"/dev/sg4\"\njukebox = \"lib\"\n"), "device 'lto0' is that drive"),
        ];
        for (extra, wanted) in cases {
            let e = error_of(&format!("{BASE}{extra}"));
            assert!(e.contains(wanted), "{wanted}: {e}");
        }
    }

    #[test]
    fn tls_settings_come_together() {
        let api = "\n[api]\n[[api.token]]\nname = \"ops\"\nrole = \"admin\"\ntoken = \"0123456789abcdef0\"\n";
        let c = parse(&format!("{BASE}{}", api.replace("[api]\n", "[api]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n"))).unwrap();
        let tls = c.api.unwrap().tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/etc/asto/c.pem"));
        assert!(tls.client_ca.is_none());
        let e = error_of(&format!("{BASE}{}", api.replace("[api]\n", "[api]\ntls_cert = \"c.pem\"\n")));
        assert!(e.contains("api.tls_cert and api.tls_key go together"), "{e}");
        let e = error_of(&format!("{BASE}{}", api.replace("[api]\n", "[api]\nclient_ca = \"ca.pem\"\n")));
        assert!(e.contains("api.client_ca needs api.tls_cert"), "{e}");
    }

    #[test]
    fn media_kind_mismatch_is_refused() {
        let e = error_of(&BASE.replace(r#"media = ["LTO-5"]"#, r#"media = ["DVD+R"]"#));
        assert!(e.contains("tape device") && e.contains("DVD+R"), "{e}");
    }
}
