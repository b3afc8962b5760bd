//! `asto browse`: find archive files by name pattern, keyword values, date range and free text,
//! as a user (`--as-user`), the public (default) or an administrator (`--admin REASON`, logged).

use std::process::ExitCode;

use super::context::ConfigArg;
use super::output;
use crate::archive::browse::{BrowseQuery, browse, parse_keyword};
use crate::archive::rights::Principal;
use crate::size::human;

/// Who is asking: decides what proprietary data is visible.
#[derive(clap::Args, Debug, Clone)]
pub struct RightsArgs {
    /// Act as this user: proprietary data they own or whose programme they are in is visible.
    #[arg(long, conflicts_with = "admin")]
    pub as_user: Option<String>,
    /// Override data rights as an administrator; the reason is written to the event log.
    #[arg(long, value_name = "REASON")]
    pub admin: Option<String>,
}

impl RightsArgs {
    pub fn principal(&self) -> anyhow::Result<Principal> {
        Ok(match (&self.as_user, &self.admin) {
            (Some(name), _) => Principal::User { name: name.clone() },
            (None, Some(reason)) => {
                if reason.trim().is_empty() {
                    anyhow::bail!("--admin needs a reason: it goes to the event log");
                }
                let name = std::env::var("USER").unwrap_or_else(|_| "admin".into());
                Principal::Admin { name, reason: reason.clone() }
            }
            (None, None) => Principal::Public,
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub rights: RightsArgs,
    /// File-name pattern (glob; without '/' it matches the file name).
    #[arg(long)]
    pub name: Option<String>,
    /// KEY=VALUE over catalogued keywords (instrument, object, programme, obs_id, ...) or any
    /// header keyword; repeatable, all must match.
    #[arg(long = "key", short = 'k', value_name = "KEY=VALUE")]
    pub keywords: Vec<String>,
    /// Observations from this date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss), inclusive.
    #[arg(long)]
    pub from: Option<String>,
    /// Observations up to this date, inclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Most files listed.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// Free text: words that must all appear in the file name or header (quote a phrase:
    /// '"NGC 253"').
    pub text: Vec<String>,
}

pub fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let (_config, conn) = args.config.open()?;
    let keywords = args.keywords.iter().map(|k| parse_keyword(k)).collect::<Result<Vec<_>, _>>()?;
    let text = (!args.text.is_empty()).then(|| args.text.join(" "));
    let q = BrowseQuery { name: args.name, keywords, date_from: args.from, date_to: args.to, text, limit: args.limit };
    let result = browse(&conn, &q, &args.rights.principal()?)?;
    if json {
        output::json(&result)?;
    } else {
        output::table(
            &["id", "path", "v", "size", "date-obs", "instrument", "object", "programme", "state", "proprietary until"],
            result.files.iter().map(|f| {
                vec![
                    f.file_id.to_string(),
                    f.path.clone(),
                    f.version.to_string(),
                    human(f.size),
                    f.date_obs.clone().unwrap_or_default(),
                    f.instrument.clone().unwrap_or_default(),
                    f.object.clone().unwrap_or_default(),
                    f.programme.clone().unwrap_or_default(),
                    f.state.clone(),
                    f.proprietary_until.clone().filter(|_| f.proprietary).unwrap_or_default(),
                ]
            }),
        );
        if result.hidden > 0 {
            println!("{} more matching files are proprietary and not shown", result.hidden);
        }
    }
    Ok(ExitCode::SUCCESS)
}
