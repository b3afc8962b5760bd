//! The controller as a service: the HTTP API, the pipeline running continuously with the
//! embedded agent, progress fanned out to API clients, and the agent heartbeat.
//!
//! The pipeline runs on its own thread with its own catalogue connection; API handlers share a
//! second one. SQLite's WAL lets both work at once, and every state change is still one
//! transaction. The daemon holds the runner lock, so no `asto run` competes with it. Stopping it
//! at any moment is safe: on the next start, recovery redoes whatever was interrupted.

pub mod agents;
pub mod archive;
pub mod api;
pub mod auth;
pub mod files;
pub mod metrics;
pub mod tls;
pub mod web;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, params};
use tracing::{error, info, warn};

use crate::catalogue;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipeline::{self, Progress, RunOptions};

/// How long the pipeline sleeps when idle before looking for work written by other processes.
const IDLE_POLL: Duration = Duration::from_secs(2);

fn heartbeat(conn: &Connection, name: &str, started: &str) -> Result<()> {
    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into());
    conn.execute(
        "INSERT INTO agents (name, host, embedded, version, started_at, last_seen) VALUES (?1, ?2, 1, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET host = excluded.host, version = excluded.version, started_at = excluded.started_at, last_seen = excluded.last_seen",
        params![name, host, env!("CARGO_PKG_VERSION"), started, catalogue::now()],
    )?;
    Ok(())
}

/// Run the pipeline until `stop` is set, waking up on `wake` or every `IDLE_POLL`.
fn pipeline_loop(
    mut conn: Connection,
    config: Arc<Config>,
    agent: Arc<asto_agent::Agent>,
    wake: std::sync::mpsc::Receiver<()>,
    progress: tokio::sync::broadcast::Sender<String>,
    stop: Arc<AtomicBool>,
) {
    let started = catalogue::now();
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = heartbeat(&conn, "embedded", &started) {
            warn!(error = %e, "agent heartbeat not recorded");
        }
        let (tx, rx) = channel::<Progress>();
        let fan_out = progress.clone();
        let forwarder = std::thread::spawn(move || {
            for p in rx {
                if let Ok(json) = serde_json::to_string(&p) {
                    let _ = fan_out.send(json);
                }
            }
        });
        match pipeline::run(&mut conn, &config, agent.clone(), &RunOptions { stop_after: None, max_prepares: 2 }, Some(tx)) {
            Ok(s) if s.prepared + s.written + s.verified + s.requests_done > 0 => {
                info!(prepared = s.prepared, written = s.written, verified = s.verified, done = s.requests_done, "pipeline idle");
            }
            Ok(_) => {}
            Err(e) => error!(error = %e, "pipeline stopped with an error; retrying"),
        }
        let _ = forwarder.join();
        match wake.recv_timeout(IDLE_POLL) {
            Ok(()) => while wake.try_recv().is_ok() {},
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

/// Serve the API on `listen` and run the pipeline until SIGTERM or SIGINT.
pub fn serve(config: Config, listen: &str) -> Result<()> {
    let api = config.api.clone().ok_or_else(|| Error::Config {
        file: config.file.clone(),
        message: "the controller daemon needs an [api] table with at least one [[api.token]]".into(),
    })?;
    if api.tokens.is_empty() {
        return Err(Error::Config { file: config.file.clone(), message: "[api] has no [[api.token]]: every call would be refused".into() });
    }
    let config = Arc::new(config);
    let pipeline_conn = catalogue::open(&config.catalogue)?;
    let api_conn = catalogue::open(&config.catalogue)?;
    let agent = crate::cli::context::embedded_agent(&config).map_err(|e| Error::State(format!("{e:#}")))?;
    let (wake_tx, wake_rx) = channel();
    let (progress_tx, _) = tokio::sync::broadcast::channel(1024);
    let stop = Arc::new(AtomicBool::new(false));

    // Certificate problems are reported before anything listens.
    let tls_config = config.api.as_ref().and_then(|a| a.tls.as_ref()).map(tls::server_config).transpose()?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| Error::State(format!("starting the async runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| Error::input(format!("cannot listen on {listen}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| Error::State(e.to_string()))?;
        let pipeline = {
            let (config, agent, progress, stop) = (config.clone(), agent.clone(), progress_tx.clone(), stop.clone());
            std::thread::spawn(move || pipeline_loop(pipeline_conn, config, agent, wake_rx, progress, stop))
        };
        let state = api::ApiState {
            config: config.clone(),
            db: Arc::new(Mutex::new(api_conn)),
            wake: wake_tx.clone(),
            progress: progress_tx,
            agent: agent.clone(),
        };
        // Tests and scripts read the address from here (listen on port 0 picks a free one).
        println!("listening on {bound}");
        info!(address = %bound, tls = tls_config.is_some(), "controller API listening");
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        if let Some(period) = sd_notify::watchdog_enabled() {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period / 2);
                loop {
                    tick.tick().await;
                    let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                }
            });
        }
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
            info!("stopping");
        };
        let served = match tls_config {
            Some(tls_config) => {
                let listener = tls::TlsListener::new(listener, tls_config).map_err(|e| Error::State(e.to_string()))?;
                axum::serve(listener, api::router(state)).with_graceful_shutdown(shutdown).await
            }
            None => axum::serve(listener, api::router(state)).with_graceful_shutdown(shutdown).await,
        };
        served.map_err(|e| Error::State(format!("API server: {e}")))?;
        stop.store(true, Ordering::Relaxed);
        let _ = wake_tx.send(());
        // An action in flight finishes with the process; anything interrupted is redone on the
        // next start (recovery), so there is no need to wait for long device operations here.
        drop(pipeline);
        Ok(())
    })
}
