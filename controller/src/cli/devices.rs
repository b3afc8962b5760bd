//! `asto devices`, `asto agents`, `asto prompts list|ack`: local catalogue or the controller API.

use std::process::ExitCode;

use serde_json::Value;

use super::client::RemoteArg;
use super::context::ConfigArg;
use super::output;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub remote: RemoteArg,
}

#[derive(clap::Subcommand, Debug)]
pub enum PromptsCommand {
    /// Open operator prompts (all with --all).
    List {
        #[command(flatten)]
        args: ListArgs,
        #[arg(long)]
        all: bool,
    },
    /// Acknowledge a prompt: it was done.
    Ack {
        #[command(flatten)]
        args: ListArgs,
        id: i64,
        /// Who did it (local mode; the API records the token's name).
        #[arg(long, default_value = "operator")]
        by: String,
    },
}

fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string())).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

fn fetch(args: &ListArgs, path: &str, local: impl FnOnce(&mut rusqlite::Connection) -> anyhow::Result<Value>) -> anyhow::Result<Value> {
    match args.remote.client()? {
        Some(c) => c.get(path),
        None => {
            let (_, mut conn) = args.config.open()?;
            local(&mut conn)
        }
    }
}

pub fn run_devices(args: ListArgs, json: bool) -> anyhow::Result<ExitCode> {
    let v = fetch(&args, "/v1/devices", |c| Ok(serde_json::to_value(crate::listing::devices(c)?)?))?;
    if json {
        output::json(&v)?;
    } else {
        let rows = v.as_array().cloned().unwrap_or_default();
        output::table(
            &["device", "kind", "state", "busy with copy", "groups", "serial", "note"],
            rows.iter().map(|d| vec![s(d, "name"), s(d, "kind"), s(d, "state"), s(d, "busy_with"), s(d, "groups"), s(d, "serial"), s(d, "note")]),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_agents(args: ListArgs, json: bool) -> anyhow::Result<ExitCode> {
    let v = fetch(&args, "/v1/agents", |c| Ok(serde_json::to_value(crate::listing::agents(c)?)?))?;
    if json {
        output::json(&v)?;
    } else {
        let rows = v.as_array().cloned().unwrap_or_default();
        output::table(
            &["agent", "host", "embedded", "version", "started", "last seen"],
            rows.iter().map(|a| vec![s(a, "name"), s(a, "host"), s(a, "embedded"), s(a, "version"), s(a, "started_at"), s(a, "last_seen")]),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_prompts(cmd: PromptsCommand, json: bool) -> anyhow::Result<ExitCode> {
    let v = match &cmd {
        PromptsCommand::List { args, all } => {
            let path = if *all { "/v1/prompts?all=true" } else { "/v1/prompts" };
            fetch(args, path, |c| Ok(serde_json::to_value(crate::catalogue::prompts::list(c, *all)?)?))?
        }
        PromptsCommand::Ack { args, id, by } => match args.remote.client()? {
            Some(c) => c.post(&format!("/v1/prompts/{id}/ack"), &Value::Null)?,
            None => {
                let (_, mut conn) = args.config.open()?;
                serde_json::to_value(crate::catalogue::prompts::acknowledge(&mut conn, *id, by)?)?
            }
        },
    };
    if json {
        output::json(&v)?;
    } else if let PromptsCommand::Ack { id, .. } = cmd {
        println!("prompt {id} acknowledged");
    } else {
        let rows = v.as_array().cloned().unwrap_or_default();
        output::table(&["id", "kind", "message", "raised", "acknowledged"], rows.iter().map(|p| vec![s(p, "id"), s(p, "kind"), s(p, "message"), s(p, "created_at"), s(p, "acked_by")]));
    }
    Ok(ExitCode::SUCCESS)
}
