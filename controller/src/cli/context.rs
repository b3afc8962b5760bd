//! What most commands need: the configuration, the catalogue, and (for the pipeline) the
//! embedded agent built from the configuration's devices.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use asto_agent::{Agent, AgentConfig, Backend, DeviceKind, DeviceSpec};
use rusqlite::Connection;

use crate::config::{self, Config, StageKind};
use crate::media::MediaKind;

/// `--config`: the controller's configuration file.
#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArg {
    /// Configuration file.
    #[arg(long, env = "ASTO_CONFIG", default_value = Config::DEFAULT_PATH)]
    pub config: PathBuf,
}

impl ConfigArg {
    pub fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(&self.config)?)
    }

    /// The configuration and an open, migrated catalogue.
    pub fn open(&self) -> anyhow::Result<(Config, Connection)> {
        let config = self.load()?;
        let conn = crate::catalogue::open(&config.catalogue).with_context(|| format!("opening the catalogue {}", config.catalogue.display()))?;
        Ok((config, conn))
    }
}

/// The embedded agent for this configuration's devices.
pub fn embedded_agent(config: &Config) -> anyhow::Result<Arc<Agent>> {
    let devices = config
        .devices
        .iter()
        .filter(|d| d.agent.is_none())
        .map(|d| DeviceSpec {
            name: d.name.clone(),
            kind: match d.kind {
                MediaKind::Tape => DeviceKind::Tape,
                MediaKind::Optical => DeviceKind::Optical,
            },
            backend: match d.backend {
                config::Backend::Sim => Backend::Sim {
                    dir: d.dir.clone().unwrap_or_else(|| Path::new("/nonexistent").to_owned()),
                    serial: d.serial.clone().unwrap_or_else(|| format!("SIM-{}", d.name)),
                    rate: d.rate,
                },
                config::Backend::Scsi => Backend::Scsi {
                    path: d.path.clone().unwrap_or_default(),
                    changer: config.jukebox_of(&d.name).map(|j| j.changer.clone()),
                    element: d.element,
                },
            },
        })
        .collect();
    let agent = Agent::new(&AgentConfig {
        devices,
        shelf: config.sim.as_ref().map(|s| s.shelf.clone()),
        media_stage: config.stages.get(StageKind::Media).path.clone(),
        jukeboxes: config.jukeboxes.iter().filter(|j| j.agent.is_none()).map(|j| (j.name.clone(), j.changer.clone())).collect(),
    })?;
    Ok(Arc::new(agent))
}
