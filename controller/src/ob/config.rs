//! The `[ob]` table of the asto configuration file: which PostgreSQL databases form the OB
//! topology (HQ and the observing sites) and the archiving policy. Other tables of the file
//! belong to the rest of the controller and are ignored here.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::error::{ObError, Result};

/// Where `asto ob` looks for its configuration unless told otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/asto/asto.toml";

/// The name HQ always has: SM OBs and runs carry it as their site.
pub const HQ_NAME: &str = "HQ";

/// Whether a node is headquarters or an observing site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    #[serde(rename = "HQ")]
    Hq,
    #[serde(rename = "SITE")]
    Site,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hq => "HQ",
            Role::Site => "SITE",
        }
    }
}

/// One database of the topology.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// `HQ`, or the site name in capitals (`PARANAL`).
    pub name: String,
    pub role: Role,
    /// libpq-style connection string; also what the other nodes' subscriptions use.
    pub conninfo: String,
    pub pg: postgres::Config,
}

/// The OB topology and policies.
#[derive(Debug, Clone)]
pub struct ObConfig {
    pub hq: NodeConfig,
    pub sites: Vec<NodeConfig>,
    /// SM OBs of runs this many months old are archived at HQ (seed: one and a half years).
    pub sm_age_months: u32,
    /// VM OBs this many days old are removed at the sites (seed: 30 days).
    pub vm_age_days: u32,
    /// OB ids per bucket in the consistency check.
    pub bucket_size: i64,
    pub connect_timeout: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOb {
    hq: RawNode,
    #[serde(default)]
    sites: Vec<RawNode>,
    #[serde(default)]
    archive: RawArchive,
    #[serde(default)]
    check: RawCheck,
    connect_timeout_s: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: Option<String>,
    conninfo: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawArchive {
    sm_age_months: Option<u32>,
    vm_age_days: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    bucket_size: Option<i64>,
}

impl ObConfig {
    /// Read the `[ob]` table of the TOML file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ObError::ConfigRead { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parse the `[ob]` table out of a whole configuration file's text; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |message: String| ObError::Config { path: path.to_owned(), message };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_owned()))?;
        let ob = table.remove("ob").ok_or_else(|| bad("no [ob] table".to_owned()))?;
        let raw: RawOb = ob.try_into().map_err(|e: toml::de::Error| bad(format!("[ob]: {}", e.to_string().trim_end())))?;
        Self::from_raw(raw).map_err(bad)
    }

    fn from_raw(raw: RawOb) -> std::result::Result<Self, String> {
        if let Some(name) = &raw.hq.name
            && name != HQ_NAME
        {
            return Err(format!("[ob.hq] name must be {HQ_NAME} (SM OBs carry it as their site), got {name:?}"));
        }
        let hq = node(HQ_NAME.to_owned(), Role::Hq, raw.hq.conninfo)?;
        if raw.sites.is_empty() {
            return Err("no observing sites: add at least one [[ob.sites]] table".to_owned());
        }
        let mut sites = Vec::with_capacity(raw.sites.len());
        for (i, s) in raw.sites.into_iter().enumerate() {
            let name = s.name.ok_or_else(|| format!("[[ob.sites]] number {} has no name", i + 1))?;
            check_site_name(&name)?;
            if sites.iter().any(|n: &NodeConfig| n.name == name) {
                return Err(format!("site {name} is configured twice"));
            }
            sites.push(node(name, Role::Site, s.conninfo)?);
        }
        let sm_age_months = raw.archive.sm_age_months.unwrap_or(18);
        let vm_age_days = raw.archive.vm_age_days.unwrap_or(30);
        if sm_age_months == 0 || vm_age_days == 0 {
            return Err("[ob.archive] ages must be at least 1 (month, day)".to_owned());
        }
        let bucket_size = raw.check.bucket_size.unwrap_or(10_000);
        if !(1..=10_000_000).contains(&bucket_size) {
            return Err(format!("[ob.check] bucket_size must be between 1 and 10000000, got {bucket_size}"));
        }
        Ok(ObConfig {
            hq,
            sites,
            sm_age_months,
            vm_age_days,
            bucket_size,
            connect_timeout: Duration::from_secs(raw.connect_timeout_s.unwrap_or(10).max(1)),
        })
    }

    /// Every node, HQ first.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeConfig> {
        std::iter::once(&self.hq).chain(self.sites.iter())
    }

    /// The site called `name` (case-insensitive).
    pub fn site(&self, name: &str) -> Result<&NodeConfig> {
        self.sites.iter().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            let known: Vec<&str> = self.sites.iter().map(|s| s.name.as_str()).collect();
            ObError::BadRequest(format!("unknown site {name:?} (configured: {})", known.join(", ")))
        })
    }
}

/// Site names become part of publication names and row filters: keep them plain.
pub fn check_site_name(name: &str) -> std::result::Result<(), String> {
    let plain = name.len() <= 31
        && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !plain {
        return Err(format!("site name {name:?} must be 1-31 capital letters, digits or _, starting with a letter"));
    }
    if name == HQ_NAME || name == "ALL" {
        return Err(format!("site name {name:?} is reserved"));
    }
    Ok(())
}

fn node(name: String, role: Role, conninfo: String) -> std::result::Result<NodeConfig, String> {
    let pg = postgres::Config::from_str(&conninfo)
        .map_err(|e| format!("{name}: conninfo {conninfo:?} is not a valid connection string: {e}"))?;
    if pg.get_dbname().is_none() {
        return Err(format!("{name}: conninfo {conninfo:?} names no dbname"));
    }
    Ok(NodeConfig { name, role, conninfo, pg })
}

/// The configuration path: the explicit one, else the default.
pub fn config_path(explicit: Option<PathBuf>) -> PathBuf {
    explicit.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [controller]
        listen = "127.0.0.1:8080"
        [ob.hq]
        conninfo = "host=127.0.0.1 port=5432 dbname=asto_ob user=postgres"
        [[ob.sites]]
        name = "PARANAL"
        conninfo = "host=127.0.0.1 port=5433 dbname=asto_ob"
        [[ob.sites]]
        name = "LASILLA"
        conninfo = "host=127.0.0.1 port=5434 dbname=asto_ob"
        [ob.archive]
        vm_age_days = 31
    "#;

    fn parse(text: &str) -> Result<ObConfig> {
        ObConfig::parse(text, Path::new("test.toml"))
    }

    proptest::proptest! {
        #[test]
        fn plain_site_names_are_accepted(name in "[A-Z][A-Z0-9_]{0,30}") {
            proptest::prop_assume!(name != "HQ" && name != "ALL");
            proptest::prop_assert!(check_site_name(&name).is_ok());
        }

        #[test]
        fn names_that_could_break_sql_are_refused(name in ".*[^A-Z0-9_].*") {
            proptest::prop_assert!(check_site_name(&name).is_err());
        }
    }

    #[test]
    fn reads_the_ob_table_and_ignores_the_others() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.hq.name, "HQ");
        assert_eq!(c.sites.len(), 2);
        assert_eq!(c.sites[1].name, "LASILLA");
        assert_eq!(c.vm_age_days, 31);
        assert_eq!(c.sm_age_months, 18);
        assert_eq!(c.site("paranal").unwrap().name, "PARANAL");
        assert!(c.site("ARMAZONES").unwrap_err().to_string().contains("ARMAZONES"));
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            ("[controller]\nx = 1\n", "no [ob] table"),
            ("[ob.hq]\nconninfo = \"dbname=a\"\n", "no observing sites"),
            ("[ob.hq]\nconninfo = \"dbname=a\"\n[[ob.sites]]\nname = \"paranal\"\nconninfo = \"dbname=a\"\n", "capital letters"),
            ("[ob.hq]\nconninfo = \"dbname=a\"\n[[ob.sites]]\nname = \"ALL\"\nconninfo = \"dbname=a\"\n", "reserved"),
            ("[ob.hq]\nconninfo = \"port=x dbname=a\"\n[[ob.sites]]\nname = \"P\"\nconninfo = \"dbname=a\"\n", "not a valid connection string"),
            ("[ob.hq]\nconninfo = \"host=h\"\n[[ob.sites]]\nname = \"P\"\nconninfo = \"dbname=a\"\n", "names no dbname"),
            ("[ob.hq]\nconninfo = \"dbname=a\"\n[[ob.sites]]\nname = \"P\"\nconninfo = \"dbname=a\"\n[[ob.sites]]\nname = \"P\"\nconninfo = \"dbname=b\"\n", "configured twice"),
            ("[ob.hq]\nconninfo = \"dbname=a\"\nhost = \"x\"\n", "unknown field"),
            ("[ob.hq]\nname = \"GARCHING\"\nconninfo = \"dbname=a\"\n", "must be HQ"),
            ("[ob\n", "invalid OB configuration"),
        ];
        for (text, needle) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e:?} does not mention {needle:?}");
        }
    }
}
