//! `asto request submit|flush|status|rollback`.

use std::process::ExitCode;

use super::client::RemoteArg;
use super::context::ConfigArg;
use super::output;
use crate::pipeline::rollback::rollback;
use crate::requests::{self, Layout, UserRequest};
use crate::size::human;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Submit a user request: files from the user stage onto user media.
    Submit {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        remote: RemoteArg,
        /// Media type (e.g. DVD+R, BD-R25, LTO-8, or a configured one).
        #[arg(long)]
        media: String,
        /// Number of copies, each on a distinct device and volume.
        #[arg(long, default_value_t = 1)]
        copies: u32,
        /// Gzip files that are not compressed yet.
        #[arg(long)]
        compress: bool,
        /// Directory layout on the medium: keep (stage paths) or flat.
        #[arg(long, default_value = "keep")]
        layout: String,
        /// Directory on the medium to put everything under.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Device group (default: the first group that writes the media type).
        #[arg(long)]
        group: Option<String>,
        /// Who asked for it.
        #[arg(long, default_value = "operator")]
        requester: String,
        /// Files in the user stage (paths relative to it).
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Queue the open archive request of a data class now, however full.
    Flush {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        remote: RemoteArg,
        /// The data class.
        class: String,
    },
    /// Show one request, or all.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        remote: RemoteArg,
        id: Option<i64>,
    },
    /// Undo a request at any stage before cleanup.
    Rollback {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        remote: RemoteArg,
        id: i64,
    },
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Submit { config, remote, media, copies, compress, layout, prefix, group, requester, files } => {
            if let Some(c) = remote.client()? {
                let body = serde_json::json!({
                    "files": files, "media": media, "copies": copies, "compress": compress,
                    "layout": layout, "prefix": prefix, "group": group, "requester": requester,
                });
                let v = c.post("/v1/requests", &body)?;
                if json {
                    output::json(&v)?;
                } else {
                    println!("user request {} queued: {} units", v["id"], v["units"]);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let (config, mut conn) = config.open()?;
            let req = UserRequest {
                files,
                media_type: media,
                copies,
                compress,
                layout: Layout::parse(&layout)?,
                prefix,
                group,
                requester,
                source: "cli".into(),
            };
            let id = requests::submit_user(&mut conn, &config, &req)?;
            let status = requests::status(&conn, Some(id))?;
            if json {
                output::json(&status[0])?;
            } else {
                println!("user request {id} queued: {} units", status[0].units);
            }
        }
        Command::Flush { config, remote, class } => {
            if let Some(c) = remote.client()? {
                let v = c.post("/v1/requests/flush", &serde_json::json!({ "class": class }))?;
                if json {
                    output::json(&v)?;
                } else if v.is_null() {
                    println!("class {class} has no files waiting");
                } else {
                    println!("archive request {} of class {class} queued: {} units", v["id"], v["units"]);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let (config, mut conn) = config.open()?;
            match requests::flush(&mut conn, &config, &class)? {
                Some(id) => {
                    let status = requests::status(&conn, Some(id))?;
                    if json {
                        output::json(&status[0])?;
                    } else {
                        println!("archive request {id} of class {class} queued: {} units", status[0].units);
                    }
                }
                None => {
                    if json {
                        output::json(&serde_json::Value::Null)?;
                    } else {
                        println!("class {class} has no files waiting");
                    }
                }
            }
        }
        Command::Status { config, remote, id } => {
            let all: Vec<requests::RequestStatus> = match remote.client()? {
                Some(c) => match id {
                    Some(id) => vec![serde_json::from_value(c.get(&format!("/v1/requests/{id}"))?)?],
                    None => serde_json::from_value(c.get("/v1/requests")?)?,
                },
                None => {
                    let (_, conn) = config.open()?;
                    requests::status(&conn, id)?
                }
            };
            if json {
                output::json(&all)?;
            } else {
                output::table(
                    &["id", "kind", "state", "class", "media", "copies", "files", "size", "units verified", "copies verified"],
                    all.iter().map(|r| {
                        vec![
                            r.id.to_string(),
                            r.kind.clone(),
                            r.state.clone(),
                            r.data_class.clone().unwrap_or_default(),
                            r.media_type.clone(),
                            r.copies.to_string(),
                            r.files.to_string(),
                            human(r.bytes),
                            format!("{}/{}", r.units_verified, r.units),
                            format!("{}/{}", r.copies_verified, r.copies_total),
                        ]
                    }),
                );
            }
        }
        Command::Rollback { config, remote, id } => {
            let report: crate::pipeline::rollback::RollbackReport = match remote.client()? {
                Some(c) => serde_json::from_value(c.post(&format!("/v1/requests/{id}/rollback"), &serde_json::Value::Null)?)?,
                None => {
                    let (config, mut conn) = config.open()?;
                    rollback(&mut conn, &config, id)?
                }
            };
            if json {
                output::json(&report)?;
            } else {
                println!(
                    "request {id} rolled back: {} units, {} prepared units removed, volumes returned: {}",
                    report.units,
                    report.prepared_removed,
                    if report.volumes_returned.is_empty() { "none".into() } else { report.volumes_returned.join(", ") }
                );
                if let Some(open) = report.files_returned_to {
                    println!("its files are back in open archive request {open}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
