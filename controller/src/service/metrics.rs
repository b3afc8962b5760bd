//! `/metrics`: the controller in Prometheus text format, so sites plug asto into the monitoring
//! they already run.
//!
//! Everything is computed from the catalogue at scrape time — the catalogue is the truth, so
//! the numbers survive restarts and agree with `asto devices` and `asto units`. Byte counts and
//! failures come from the event log (`write done` carries "N bytes, …"; a write's duration is
//! from its `start` to its `done` event for the same copy), so no extra bookkeeping is needed.
//! With an `[ob]` table, the OB module's replication links are measured too (lag in bytes and
//! seconds, whether each link is healthy), connecting to the databases at scrape time with the
//! module's `connect_timeout_s`.
//! Like every other endpoint it needs a token (Prometheus: `authorization: credentials: …`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::Connection;

use super::api::ApiState;
use super::auth::{Refusal, authorize};
use crate::config::Role;
use crate::error::Result;

/// One metric family: help, type and its samples (labels, value).
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family { name, help, kind, samples: Vec::new() }
    }

    fn add(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push((labels, value));
    }
}

/// Escape a label value for the text format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            if labels.is_empty() {
                let _ = writeln!(out, "{} {value}", f.name);
            } else {
                let _ = writeln!(out, "{}{{{}}} {value}", f.name, labels.join(","));
            }
        }
    }
    out
}

/// `SELECT label, count` into a family, with every expected label present (0 when absent).
fn by_state(conn: &Connection, f: &mut Family, sql: &str, states: &[&str]) -> Result<()> {
    let mut counts: BTreeMap<String, i64> = states.iter().map(|s| (s.to_string(), 0)).collect();
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        counts.insert(state, n);
    }
    for (state, n) in counts {
        f.add(vec![("state", state)], n as f64);
    }
    Ok(())
}

/// Leading byte count of a `write done` detail ("12345 bytes, sha256 …").
fn leading_bytes(detail: &str) -> Option<u64> {
    detail.split_whitespace().next()?.parse().ok()
}

fn seconds_between(start: &str, end: &str) -> Option<f64> {
    let s = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let e = chrono::DateTime::parse_from_rfc3339(end).ok()?;
    Some((e - s).num_milliseconds().max(0) as f64 / 1000.0)
}

#[derive(Default)]
struct DeviceWrites {
    bytes: u64,
    seconds: f64,
    done: u64,
    failed: u64,
    verify_failed: u64,
    last_throughput: Option<f64>,
}

/// Every metric family, from the catalogue.
pub fn collect(conn: &Connection) -> Result<String> {
    let mut families = Vec::new();

    let mut requests = Family::new("asto_requests", "gauge", "Requests by state.");
    by_state(conn, &mut requests, "SELECT state, count(*) FROM requests GROUP BY state", &["open", "queued", "done", "rolled_back"])?;
    families.push(requests);

    let mut units = Family::new("asto_units", "gauge", "Units by state.");
    by_state(conn, &mut units, "SELECT state, count(*) FROM units GROUP BY state", &["queued", "prepared", "verified", "ingested", "cleaned", "rolled_back"])?;
    families.push(units);

    let mut copies = Family::new("asto_copies", "gauge", "Copies by state.");
    by_state(conn, &mut copies, "SELECT state, count(*) FROM copies GROUP BY state", &["pending", "writing", "written", "verified", "rolled_back"])?;
    families.push(copies);

    // Queue depths: what waits for each stage of the pipeline.
    let mut queues = Family::new("asto_queue_depth", "gauge", "Work waiting: units to prepare, copies to write, copies to verify.");
    for (queue, sql) in [
        ("prepare", "SELECT count(*) FROM units WHERE state = 'queued'"),
        ("write", "SELECT count(*) FROM copies c JOIN units u ON u.id = c.unit_id WHERE c.state = 'pending' AND u.state = 'prepared'"),
        ("verify", "SELECT count(*) FROM copies WHERE state = 'written'"),
    ] {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
        queues.add(vec![("queue", queue.into())], n as f64);
    }
    families.push(queues);

    // Devices and what they did, from the event log.
    let mut devices: Vec<(String, String, String, bool)> = Vec::new();
    {
        let mut stmt = conn.prepare("SELECT name, kind, state, reserved_by IS NOT NULL FROM devices ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        for row in rows {
            devices.push(row?);
        }
    }
    let mut writes: BTreeMap<String, DeviceWrites> = devices.iter().map(|d| (d.0.clone(), DeviceWrites::default())).collect();
    {
        let mut stmt = conn.prepare(
            "SELECT d.device, d.detail, d.at,
                    (SELECT s.at FROM events s WHERE s.action = 'write' AND s.phase = 'start' AND s.copy_id = d.copy_id AND s.id < d.id ORDER BY s.id DESC LIMIT 1)
             FROM events d WHERE d.action = 'write' AND d.phase = 'done' AND d.device IS NOT NULL ORDER BY d.id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?)))?;
        for row in rows {
            let (device, detail, done_at, start_at) = row?;
            let w = writes.entry(device).or_default();
            w.done += 1;
            let bytes = detail.as_deref().and_then(leading_bytes).unwrap_or(0);
            w.bytes += bytes;
            if let Some(secs) = start_at.as_deref().and_then(|s| seconds_between(s, &done_at)) {
                w.seconds += secs;
                if secs > 0.0 {
                    w.last_throughput = Some(bytes as f64 / secs);
                }
            }
        }
    }
    {
        let mut stmt = conn.prepare("SELECT device, action, count(*) FROM events WHERE phase = 'failed' AND action IN ('write', 'verify') AND device IS NOT NULL GROUP BY device, action")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
        for row in rows {
            let (device, action, n) = row?;
            let w = writes.entry(device).or_default();
            if action == "write" {
                w.failed += n as u64;
            } else {
                w.verify_failed += n as u64;
            }
        }
    }
    let mut up = Family::new("asto_device_up", "gauge", "1 when the device is up, 0 when marked down.");
    let mut busy = Family::new("asto_device_busy", "gauge", "1 while the device is reserved by a write or verify.");
    for (name, kind, state, reserved) in &devices {
        up.add(vec![("device", name.clone()), ("kind", kind.clone())], if state == "up" { 1.0 } else { 0.0 });
        busy.add(vec![("device", name.clone())], if *reserved { 1.0 } else { 0.0 });
    }
    families.push(up);
    families.push(busy);
    let mut bytes = Family::new("asto_device_written_bytes_total", "counter", "Bytes written per device (completed writes).");
    let mut seconds = Family::new("asto_device_write_seconds_total", "counter", "Time spent in completed writes per device.");
    let mut throughput = Family::new("asto_device_last_write_throughput_bytes_per_second", "gauge", "Throughput of the device's last completed write.");
    let mut done = Family::new("asto_device_writes_total", "counter", "Writes per device by result.");
    let mut verify_failed = Family::new("asto_device_verify_failures_total", "counter", "Verify failures (read-back mismatch or error) per device.");
    for (device, w) in &writes {
        let l = || vec![("device", device.clone())];
        bytes.add(l(), w.bytes as f64);
        seconds.add(l(), w.seconds);
        if let Some(t) = w.last_throughput {
            throughput.add(l(), t.round());
        }
        done.add(vec![("device", device.clone()), ("result", "done".into())], w.done as f64);
        done.add(vec![("device", device.clone()), ("result", "failed".into())], w.failed as f64);
        verify_failed.add(l(), w.verify_failed as f64);
    }
    families.extend([bytes, seconds, throughput, done, verify_failed]);

    // Retries: every write attempt of a copy after its first.
    let retries: i64 = conn.query_row("SELECT coalesce(sum(attempts - 1), 0) FROM copies WHERE attempts > 1", [], |r| r.get(0))?;
    let mut r = Family::new("asto_copy_retries_total", "counter", "Write attempts of copies beyond their first.");
    r.add(vec![], retries as f64);
    families.push(r);

    let mut volumes = Family::new("asto_volumes", "gauge", "Volumes by state.");
    by_state(conn, &mut volumes, "SELECT state, count(*) FROM volumes GROUP BY state", &["writing", "full", "scratch", "bad", "discarded"])?;
    families.push(volumes);
    let online: i64 = conn.query_row("SELECT count(*) FROM volumes WHERE location LIKE 'jukebox:%'", [], |r| r.get(0))?;
    let mut jukebox = Family::new("asto_volumes_in_jukebox", "gauge", "Volumes online in a jukebox slot.");
    jukebox.add(vec![], online as f64);
    families.push(jukebox);

    let open: i64 = conn.query_row("SELECT count(*) FROM prompts WHERE acked_at IS NULL", [], |r| r.get(0))?;
    let mut prompts = Family::new("asto_prompts_open", "gauge", "Operator prompts waiting for an acknowledgement.");
    prompts.add(vec![], open as f64);
    families.push(prompts);

    let mut agents = Family::new("asto_agent_last_seen_seconds", "gauge", "Seconds since each agent's last heartbeat.");
    {
        let now = crate::catalogue::now();
        let mut stmt = conn.prepare("SELECT name, last_seen FROM agents ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (name, seen) = row?;
            if let Some(age) = seconds_between(&seen, &now) {
                agents.add(vec![("agent", name)], age);
            }
        }
    }
    families.push(agents);

    Ok(render(&families))
}

/// The OB module's replication links, when the configuration file has an `[ob]` table.
pub fn collect_ob(file: &std::path::Path) -> String {
    let Ok(text) = std::fs::read_to_string(file) else { return String::new() };
    if !toml::from_str::<toml::Table>(&text).is_ok_and(|t| t.contains_key("ob")) {
        return String::new();
    }
    let cfg = match crate::ob::config::ObConfig::parse(&text, file) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "OB metrics skipped: the [ob] table is invalid");
            return String::new();
        }
    };
    let mut healthy = Family::new("asto_ob_replication_healthy", "gauge", "1 when an OB replication link is working, 0 when it has a problem.");
    let mut lag_bytes = Family::new("asto_ob_replication_lag_bytes", "gauge", "WAL the subscriber has not confirmed yet, per OB replication link.");
    let mut lag_seconds = Family::new("asto_ob_replication_lag_seconds", "gauge", "Replay lag reported by the publisher, per OB replication link.");
    let mut silence = Family::new("asto_ob_replication_seconds_since_last_message", "gauge", "Time since the subscriber last heard from the publisher.");
    for h in crate::ob::health::replication_health(&cfg) {
        let l = || vec![("subscription", h.subscription.clone()), ("publisher", h.publisher.clone()), ("subscriber", h.subscriber.clone())];
        healthy.add(l(), if h.healthy() { 1.0 } else { 0.0 });
        if let Some(b) = h.lag_bytes {
            lag_bytes.add(l(), b as f64);
        }
        if let Some(t) = h.replay_lag_seconds {
            lag_seconds.add(l(), t);
        }
        if let Some(t) = h.seconds_since_last_message {
            silence.add(l(), t);
        }
    }
    render(&[healthy, lag_bytes, lag_seconds, silence])
}

async fn metrics(State(s): State<ApiState>, headers: HeaderMap) -> Response {
    let tokens = s.config.api.as_ref().map(|a| a.tokens.as_slice()).unwrap_or(&[]);
    if let Err(r) = authorize(&headers, tokens, Role::User) {
        let (status, m) = match r {
            Refusal::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, m),
            Refusal::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        };
        return (status, m).into_response();
    }
    let (db, file) = (s.db.clone(), s.config.file.clone());
    let text = tokio::task::spawn_blocking(move || {
        let catalogue = {
            let conn = db.lock().unwrap_or_else(|p| p.into_inner());
            collect(&conn)
        };
        // Outside the catalogue lock: this one may wait for databases.
        catalogue.map(|text| text + &collect_ob(&file))
    })
    .await;
    match text {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics not collected");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics task failed: {e}")).into_response(),
    }
}

/// The `/metrics` route, with its state, to merge into the API's router.
pub fn routes<S: Clone + Send + Sync + 'static>(state: ApiState) -> Router<S> {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let mut f = Family::new("asto_x", "gauge", "An example.");
        f.add(vec![("device", "a\"b".into())], 1.5);
        f.add(vec![], 2.0);
        let text = render(&[f]);
        assert_eq!(text, "# HELP asto_x An example.\n# TYPE asto_x gauge\nasto_x{device=\"a\\\"b\"} 1.5\nasto_x 2\n");
    }

    #[test]
    fn reads_bytes_and_durations_from_event_details() {
        assert_eq!(leading_bytes("1048576 bytes, sha256 ab"), Some(1 << 20));
        assert_eq!(leading_bytes("garbage"), None);
        assert_eq!(seconds_between("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:02.500Z"), Some(2.5));
    }
}
