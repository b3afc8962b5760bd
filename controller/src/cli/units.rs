//! `asto units list` and `asto volumes list`.

use std::process::ExitCode;

use super::context::ConfigArg;
use super::output;
use crate::listing;
use crate::size::human;

#[derive(clap::Subcommand, Debug)]
pub enum UnitsCommand {
    /// List units and their copies.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Only the units of this request.
        #[arg(long)]
        request: Option<i64>,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum VolumesCommand {
    /// List volumes: state, location and what they hold.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run_units(cmd: UnitsCommand, json: bool) -> anyhow::Result<ExitCode> {
    let UnitsCommand::List { config, request } = cmd;
    let (_, conn) = config.open()?;
    let units = listing::units(&conn, request)?;
    if json {
        output::json(&units)?;
    } else {
        output::table(
            &["unit", "request", "state", "files", "size", "copies"],
            units.iter().map(|u| {
                let copies = u
                    .copies
                    .iter()
                    .map(|c| format!("{}:{}{}", c.copy, c.state, c.volume.as_ref().map(|v| format!(" {v}")).unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ");
                vec![u.name.clone(), u.request.to_string(), u.state.clone(), u.files.to_string(), human(u.bytes), copies]
            }),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_volumes(cmd: VolumesCommand, json: bool) -> anyhow::Result<ExitCode> {
    let VolumesCommand::List { config } = cmd;
    let (_, conn) = config.open()?;
    let volumes = listing::volumes(&conn)?;
    if json {
        output::json(&volumes)?;
    } else {
        output::table(
            &["volume", "media", "state", "location", "used", "units", "note"],
            volumes.iter().map(|v| {
                vec![
                    v.barcode.clone(),
                    v.media_type.clone(),
                    v.state.clone(),
                    v.location.clone(),
                    format!("{} / {}", human(v.bytes_used), human(v.capacity)),
                    v.units.join(" "),
                    v.note.clone().unwrap_or_default(),
                ]
            }),
        );
    }
    Ok(ExitCode::SUCCESS)
}
