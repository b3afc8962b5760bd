//! The agent as a daemon on a media host: it registers its devices with the controller, leases
//! actions for its free devices, runs each on its own thread, streams progress (which keeps the
//! lease alive) and reports the outcome with the action's fence. If the agent dies, its leases run
//! out and the controller gives the work to another device; a result that arrives after that is
//! refused by the fence.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{info, warn};

use crate::wire::{ActionProgress, ActionResult, Job, LeaseRequest, LeasedAction, Outcome, Registration};
use crate::{Agent, AgentError};

/// How the agent gets at the files of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataAccess {
    /// Read the controller's paths where they exist here (shared stages), fetch the rest.
    Auto,
    /// Always fetch over HTTP.
    Http,
    /// Always read the controller's paths (the stages are mounted at the same place).
    Shared,
}

/// How the agent reaches its controller.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Base URL, e.g. `http://controller:7420`.
    pub controller: String,
    pub token: String,
    /// How often to ask for work when idle.
    pub poll: Duration,
    pub data: DataAccess,
    /// Where fetched files are kept while a copy is written.
    pub cache: std::path::PathBuf,
    /// Where to serve `/metrics`, if anywhere.
    pub metrics_listen: Option<String>,
    /// HTTPS: extra trusted CA and the client certificate.
    pub tls: crate::http::ClientTls,
}

/// A failure to talk to the controller.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("controller {url}: {message}")]
    Http { url: String, message: String },
    #[error(transparent)]
    Agent(#[from] AgentError),
}

struct Api {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
    data: DataAccess,
    cache: std::path::PathBuf,
    metrics: Arc<crate::metrics::AgentMetrics>,
}

impl Api {
    fn post<B: serde::Serialize, R: serde::de::DeserializeOwned>(&self, path: &str, body: &B) -> Result<R, RemoteError> {
        let url = format!("{}{path}", self.base);
        let err = |message: String| RemoteError::Http { url: url.clone(), message };
        let resp = self.http.post(&url).bearer_auth(&self.token).json(body).send().map_err(|e| err(e.to_string()))?;
        let status = resp.status();
        let value: serde_json::Value = resp.json().map_err(|e| err(format!("{status}: unreadable reply: {e}")))?;
        if !status.is_success() {
            let msg = value.get("error").and_then(|v| v.as_str()).unwrap_or("no message").to_owned();
            return Err(err(format!("{status}: {msg}")));
        }
        serde_json::from_value(value).map_err(|e| err(format!("unexpected reply: {e}")))
    }
}

/// Run the agent daemon until `stop` is set.
pub fn run(agent: Arc<Agent>, config: &RemoteConfig, stop: &AtomicBool) -> Result<(), RemoteError> {
    let http = crate::http::client(&config.tls, Some(Duration::from_secs(60)))
        .map_err(|e| RemoteError::Http { url: config.controller.clone(), message: e.to_string() })?;
    let jukeboxes = agent.jukebox_names();
    let devices = agent.device_names();
    let metrics = Arc::new(crate::metrics::AgentMetrics::new(&devices));
    if let Some(listen) = &config.metrics_listen {
        let listener = std::net::TcpListener::bind(listen).map_err(|e| RemoteError::Http { url: listen.clone(), message: format!("cannot serve metrics: {e}") })?;
        let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.clone());
        info!(address = %address, "agent metrics listening");
        crate::metrics::serve(listener, metrics.clone());
    }
    let api = Arc::new(Api {
        base: config.controller.trim_end_matches('/').to_owned(),
        token: config.token.clone(),
        http,
        data: config.data,
        cache: config.cache.clone(),
        metrics,
    });
    let registration = Registration { devices: devices.clone(), jukeboxes: jukeboxes.clone(), version: env!("CARGO_PKG_VERSION").into() };
    let _: serde_json::Value = api.post("/v1/agent/register", &registration)?;
    info!(devices = ?devices, jukeboxes = ?jukeboxes, controller = %config.controller, "agent registered");
    // A jukebox takes one action at a time, like a device.
    let devices: Vec<String> = devices.into_iter().chain(jukeboxes).collect();
    let busy: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(HashSet::new()));
    while !stop.load(Ordering::Relaxed) {
        let free: Vec<String> = {
            let busy = busy.lock().unwrap_or_else(|p| p.into_inner());
            devices.iter().filter(|d| !busy.contains(*d)).cloned().collect()
        };
        let leased: Option<LeasedAction> = if free.is_empty() {
            None
        } else {
            match api.post("/v1/agent/lease", &LeaseRequest { free_devices: free }) {
                Ok(l) => l,
                Err(e) => {
                    api.metrics.lease_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(error = %e, "lease request failed");
                    None
                }
            }
        };
        let Some(action) = leased else {
            std::thread::sleep(config.poll);
            continue;
        };
        let device = action.job.device().to_owned();
        info!(action = action.id, device = %device, "action leased");
        api.metrics.leased.fetch_add(1, Ordering::Relaxed);
        api.metrics.set_busy(&device, true);
        busy.lock().unwrap_or_else(|p| p.into_inner()).insert(device.clone());
        let (agent, api, busy) = (agent.clone(), api.clone(), busy.clone());
        std::thread::spawn(move || {
            execute(&agent, &api, &action);
            api.metrics.set_busy(&device, false);
            busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&device);
        });
    }
    Ok(())
}

/// Run one leased action and report its outcome.
fn execute(agent: &Agent, api: &Api, action: &LeasedAction) {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let done = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        // The lease is kept alive by a report every third of it, whether bytes move or not: a
        // real drive can spend minutes rewinding or locating, and a changer moving a volume.
        let done = &done;
        scope.spawn(move || heartbeat(api, action, done, &stopped));
        let outcome = run_action(agent, api, action, done);
        drop(stop);
        report(api, action, outcome);
    });
}

fn heartbeat(api: &Api, action: &LeasedAction, done: &std::sync::atomic::AtomicU64, stopped: &std::sync::mpsc::Receiver<()>) {
    let id = action.id;
    let interval = Duration::from_millis((action.lease_secs * 1000 / 3).max(200));
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
        let progress = ActionProgress { fence: action.fence, done: done.load(Ordering::Relaxed) };
        if let Err(e) = api.post::<_, serde_json::Value>(&format!("/v1/agent/actions/{id}/progress"), &progress) {
            warn!(action = id, error = %e, "progress not accepted");
        }
    }
}

fn run_action(agent: &Agent, api: &Api, action: &LeasedAction, done: &std::sync::atomic::AtomicU64) -> Outcome {
    let id = action.id;
    let mut reported = 0u64;
    let device = action.job.device().to_owned();
    let mut progress = |now: u64| {
        api.metrics.add_bytes(&device, now.saturating_sub(reported));
        reported = now;
        done.store(now, Ordering::Relaxed);
    };
    match &action.job {
        Job::Write(job) => {
            let workdir = api.cache.join(format!("action-{id}"));
            let outcome = match localize(api, job, &workdir) {
                Err(e) => Outcome::Failed { message: e.to_string(), blame: crate::Blame::Other },
                Ok(job) => match agent.write(&job, &mut progress) {
                    Ok(r) => Outcome::Written(r),
                    Err(e) => Outcome::Failed { message: e.to_string(), blame: e.blame() },
                },
            };
            if workdir.exists()
                && let Err(e) = std::fs::remove_dir_all(&workdir)
            {
                warn!(action = id, error = %e, "fetched files not removed");
            }
            outcome
        }
        Job::Verify(job) => match agent.verify_and_put_away(job, &mut progress) {
            Ok(r) => Outcome::Verified(r),
            Err(e) => Outcome::Failed { message: e.to_string(), blame: e.blame() },
        },
        Job::Inventory(job) => match agent.inventory(&job.jukebox) {
            Ok(status) => Outcome::Inventory(status),
            Err(e) => Outcome::Failed { message: e.to_string(), blame: e.blame() },
        },
        Job::Import(job) => match agent.import(&job.jukebox, &job.barcode) {
            Ok(slot) => Outcome::Imported { slot },
            Err(e) => Outcome::Failed { message: e.to_string(), blame: e.blame() },
        },
        Job::Retrieve(job) => {
            // Read into the agent's own space (checked against the catalogue's SHA-256 there),
            // then hand the bytes to the controller, which checks them again.
            let part = api.cache.join(format!("action-{id}.retrieved"));
            let outcome = match std::fs::create_dir_all(&api.cache).and_then(|()| match std::fs::remove_file(&part) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }) {
                Err(e) => Outcome::Failed { message: format!("{}: {e}", part.display()), blame: crate::Blame::Other },
                Ok(()) => match agent.retrieve(&crate::retrieve::RetrieveJob { dest: part.clone(), ..job.clone() }) {
                    Ok(report) => match upload(api, action, &part) {
                        Ok(()) => Outcome::Retrieved(report),
                        Err(e) => Outcome::Failed { message: e.to_string(), blame: crate::Blame::Other },
                    },
                    Err(e) => Outcome::Failed { message: e.to_string(), blame: e.blame() },
                },
            };
            let _ = std::fs::remove_file(&part);
            outcome
        }
    }
}

/// Send a retrieved file to the controller (`PUT /v1/agent/actions/{id}/file`).
fn upload(api: &Api, action: &LeasedAction, path: &std::path::Path) -> Result<(), RemoteError> {
    let url = format!("{}/v1/agent/actions/{}/file?fence={}", api.base, action.id, action.fence);
    let err = |message: String| RemoteError::Http { url: url.clone(), message };
    let file = std::fs::File::open(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    // A large file takes longer than the client's default timeout; the heartbeat keeps the lease.
    let resp = api
        .http
        .put(&url)
        .bearer_auth(&api.token)
        .timeout(Duration::from_secs(24 * 3600))
        .body(reqwest::blocking::Body::from(file))
        .send()
        .map_err(|e| err(e.to_string()))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        return Err(err(format!("{status}: {text}")));
    }
    Ok(())
}

fn report(api: &Api, action: &LeasedAction, outcome: Outcome) {
    let (id, fence) = (action.id, action.fence);
    let counter = if matches!(outcome, Outcome::Failed { .. }) { &api.metrics.failed } else { &api.metrics.succeeded };
    counter.fetch_add(1, Ordering::Relaxed);
    match api.post::<_, serde_json::Value>(&format!("/v1/agent/actions/{id}/result"), &ActionResult { fence, outcome }) {
        Ok(_) => info!(action = id, "result delivered"),
        Err(e) => {
            api.metrics.results_refused.fetch_add(1, Ordering::Relaxed);
            warn!(action = id, error = %e, "result refused");
        }
    }
}

/// The write job with every source file readable here: the controller's path where the stages
/// are shared, otherwise a copy fetched over HTTP into `workdir`.
fn localize(api: &Api, job: &crate::wire::WriteJob, workdir: &std::path::Path) -> Result<crate::wire::WriteJob, RemoteError> {
    let mut job = job.clone();
    for file in &mut job.unit.files {
        let local = match api.data {
            DataAccess::Shared => true,
            DataAccess::Auto => file.source.is_file(),
            DataAccess::Http => false,
        };
        if !local {
            let dest = workdir.join(&file.medium_path);
            fetch(api, file, &dest)?;
            file.source = dest;
        }
    }
    Ok(job)
}

/// Fetch one file from the controller's stages, resuming a partial download with a range
/// request, and check its size and SHA-256 against the catalogue's.
fn fetch(api: &Api, file: &crate::wire::UnitFile, dest: &std::path::Path) -> Result<(), RemoteError> {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Write};
    let url = format!("{}/v1/agent/source", api.base);
    let err = |message: String| RemoteError::Http { url: format!("{url}?path={}", file.source.display()), message };
    let io = |e: std::io::Error| err(format!("{}: {e}", dest.display()));
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let have = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    if have < file.size {
        let mut req = api.http.get(&url).bearer_auth(&api.token).query(&[("path", &file.source)]);
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        let mut resp = req.send().map_err(|e| err(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let body: serde_json::Value = resp.json().unwrap_or_default();
            return Err(err(format!("{status}: {}", body.get("error").and_then(|v| v.as_str()).unwrap_or("no message"))));
        }
        let append = status == reqwest::StatusCode::PARTIAL_CONTENT;
        let mut out = std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(dest).map_err(io)?;
        std::io::copy(&mut resp, &mut out).map_err(io)?;
        out.flush().map_err(io)?;
    }
    let mut input = std::fs::File::open(dest).map_err(io)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        size += n as u64;
    }
    let digest = hex::encode(sha.finalize());
    if size != file.size || digest != file.sha256 {
        let _ = std::fs::remove_file(dest);
        return Err(err(format!("fetched {size} bytes with SHA-256 {digest}, the catalogue says {} bytes, {}", file.size, file.sha256)));
    }
    api.metrics.files_fetched.fetch_add(1, Ordering::Relaxed);
    api.metrics.bytes_fetched.fetch_add(size, Ordering::Relaxed);
    info!(file = %file.medium_path, bytes = size, "fetched over HTTP");
    Ok(())
}
