//! `asto rights`: who may see proprietary data — programme membership, and a file's rights.

use std::process::ExitCode;

use super::context::ConfigArg;
use super::output;
use crate::archive::{retrieve::find_file, rights};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Make a user a member of a programme: they see its proprietary files.
    Grant {
        #[command(flatten)]
        config: ConfigArg,
        /// Programme id (e.g. 116.28N5.001).
        #[arg(long)]
        programme: String,
        /// User name (as in their API token's name).
        #[arg(long)]
        user: String,
    },
    /// Show the owner, programme and proprietary period of an archive file.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// Archive path or #ID.
        file: String,
    },
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Grant { config, programme, user } => {
            let (_, conn) = config.open()?;
            rights::grant(&conn, &programme, &user)?;
            crate::catalogue::events::record(&conn, "rights", "info", &Default::default(), &format!("{user} added to programme {programme}"))?;
            if json {
                output::json(&serde_json::json!({ "programme": programme, "user": user }))?;
            } else {
                println!("{user} is a member of programme {programme}");
            }
        }
        Command::Show { config, file } => {
            let (_, conn) = config.open()?;
            let f = find_file(&conn, &file)?;
            let r = rights::get(&conn, f.id)?;
            if json {
                output::json(&r)?;
            } else {
                output::table(
                    &["file", "owner", "programme", "proprietary until"],
                    [vec![f.path, r.owner.unwrap_or_default(), r.programme.unwrap_or_default(), r.proprietary_until.unwrap_or_else(|| "public".into())]],
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
