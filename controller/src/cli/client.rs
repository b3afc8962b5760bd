//! The CLI's client for the controller API: `--controller URL --token SECRET` (or `ASTO_CONTROLLER`
//! and `ASTO_TOKEN`). Errors carry the API's own message and status.


use anyhow::{Context, anyhow};
use serde_json::Value;

/// `--controller` and `--token`.
#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArg {
    /// Controller API base URL (e.g. http://127.0.0.1:7420); without it, commands work on the local catalogue.
    #[arg(long, env = "ASTO_CONTROLLER")]
    pub controller: Option<String>,
    /// API token.
    #[arg(long, env = "ASTO_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// HTTPS: a CA certificate file to trust besides the system's.
    #[arg(long, env = "ASTO_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// HTTPS: client certificate (PEM) to present, with --client-key.
    #[arg(long, env = "ASTO_CLIENT_CERT")]
    pub client_cert: Option<std::path::PathBuf>,
    /// HTTPS: the client certificate's private key (PEM).
    #[arg(long, env = "ASTO_CLIENT_KEY")]
    pub client_key: Option<std::path::PathBuf>,
}

/// A connection to the controller API.
pub struct Client {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl RemoteArg {
    /// A client, if `--controller` was given.
    pub fn client(&self) -> anyhow::Result<Option<Client>> {
        let Some(base) = &self.controller else { return Ok(None) };
        let token = self.token.clone().ok_or_else(|| anyhow!("--controller needs --token (or ASTO_TOKEN)"))?;
        let tls = asto_agent::http::ClientTls { ca_file: self.ca_file.clone(), client_cert: self.client_cert.clone(), client_key: self.client_key.clone() };
        let http = asto_agent::http::client(&tls, None)?;
        Ok(Some(Client { base: base.trim_end_matches('/').to_owned(), token, http }))
    }
}

impl Client {
    fn check(resp: reqwest::blocking::Response) -> anyhow::Result<Value> {
        let status = resp.status();
        let body: Value = resp.json().unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            let msg = body.get("error").and_then(Value::as_str).unwrap_or("no message");
            Err(anyhow!("controller refused ({status}): {msg}"))
        }
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().with_context(|| format!("GET {}{path}", self.base))?;
        Self::check(resp)
    }

    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body).send().with_context(|| format!("POST {}{path}", self.base))?;
        Self::check(resp)
    }

    /// Follow the server-sent event stream at `path`: `on_connect` once the stream is open, then
    /// `f` with each event's data until it returns false.
    pub fn events(&self, path: &str, on_connect: impl FnOnce(), mut f: impl FnMut(&str) -> bool) -> anyhow::Result<()> {
        use std::io::BufRead;
        let resp = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send()?;
        if !resp.status().is_success() {
            Self::check(resp)?;
            return Ok(());
        }
        on_connect();
        for line in std::io::BufReader::new(resp).lines() {
            let line = line?;
            if let Some(data) = line.strip_prefix("data:") {
                if !f(data.trim_start()) {
                    break;
                }
            }
        }
        Ok(())
    }
}
