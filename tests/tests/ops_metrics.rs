//! `/metrics` on a real controller: refused without a token, valid Prometheus text, and numbers
//! that agree with what the pipeline did (bytes and writes per device, queues, prompts).

#[path = "ob_support/mod.rs"]
mod ob_support;

use std::collections::BTreeMap;

use asto_tests::{Workspace, sample_files};
use asto_tests::api::{USER, call, call_text, start, wait_done, with_api};

/// `name{labels}` → value, checking every line is well formed.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["gauge", "counter"].contains(&kind), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(typed.contains(name), "{name} has no TYPE line");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{line}");
        }
        samples.insert(series.to_owned(), value.parse::<f64>().unwrap_or_else(|e| panic!("{line}: {e}")));
    }
    samples
}

fn sum(samples: &BTreeMap<String, f64>, prefix: &str) -> f64 {
    samples.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
}

#[test]
fn metrics_agree_with_the_pipeline() {
    let ws = Workspace::new(&["--demo-cd-capacity", "4MiB"]);
    with_api(&ws);
    let src = sample_files(ws.dir.path(), "src/night", 6, 300_000, 5);
    ws.ok(["ingest", "--stage", "user", src.to_str().unwrap()]);
    let c = start(&ws);
    let url = format!("{}/metrics", c.url);

    assert_eq!(call_text("GET", &url, None, None).0, 401);
    assert_eq!(call_text("GET", &url, Some("wrong-token-0123456789"), None).0, 401);
    let (code, text) = call_text("GET", &url, Some(USER), None);
    assert_eq!(code, 200, "{text}");
    let before = parse(&text);
    assert_eq!(before["asto_device_up{device=\"burner0\",kind=\"optical\"}"], 1.0);
    assert_eq!(sum(&before, "asto_device_written_bytes_total"), 0.0);

    let files: Vec<String> = (0..6).map(|i| format!("\"night/obs{i:03}.fits\"")).collect();
    let body = format!(r#"{{"files": [{}], "media": "DEMO-CD", "copies": 2}}"#, files.join(", "));
    let (code, req) = call("POST", &format!("{}/v1/requests", c.url), Some(USER), Some(&body));
    assert_eq!(code, 201, "{req}");
    let done = wait_done(&c, req["id"].as_i64().unwrap());
    let units = done["units"].as_i64().unwrap() as f64;

    let (_, text) = call_text("GET", &url, Some(USER), None);
    let after = parse(&text);
    assert_eq!(after["asto_requests{state=\"done\"}"], 1.0, "{text}");
    assert_eq!(sum(&after, "asto_device_writes_total{device=\"burner0\",result=\"done\"}") + sum(&after, "asto_device_writes_total{device=\"burner1\",result=\"done\"}"), 2.0 * units, "{text}");
    // Both copies of every unit: each burner wrote at least the payload of the files it got.
    let bytes = sum(&after, "asto_device_written_bytes_total");
    assert!(bytes >= 2.0 * 6.0 * 300_000.0, "{bytes}\n{text}");
    assert!(after["asto_device_written_bytes_total{device=\"burner0\"}"] > 0.0 && after["asto_device_written_bytes_total{device=\"burner1\"}"] > 0.0);
    assert_eq!(after["asto_device_written_bytes_total{device=\"tape0\"}"], 0.0);
    assert!(sum(&after, "asto_device_write_seconds_total") > 0.0);
    assert!(after.keys().any(|k| k.starts_with("asto_device_last_write_throughput_bytes_per_second{device=\"burner")), "{text}");
    assert_eq!(after["asto_queue_depth{queue=\"write\"}"], 0.0);
    assert_eq!(after["asto_queue_depth{queue=\"verify\"}"], 0.0);
    assert_eq!(after["asto_prompts_open"], 2.0 * units, "user media wait to be taken out: {text}");
    assert_eq!(sum(&after, "asto_device_verify_failures_total"), 0.0);
    assert_eq!(after["asto_copy_retries_total"], 0.0);
    assert!(after.contains_key("asto_agent_last_seen_seconds{agent=\"embedded\"}"), "{text}");
}

#[test]
fn verify_failures_are_counted_per_device() {
    let ws = Workspace::new(&["--archive-copies", "1"]);
    with_api(&ws);
    // Both tape drives silently corrupt what they read back: every verify fails.
    for drive in ["tape0", "tape1"] {
        let dir = ws.root().join("sim").join(drive);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("faults.json"), r#"{"flip_bit_at_byte": 2000000}"#).unwrap();
    }
    let src = sample_files(ws.dir.path(), "src/raw", 4, 2_000_000, 9);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    let c = start(&ws);
    let (code, req) = call("POST", &format!("{}/v1/requests/flush", c.url), Some(USER), Some(r#"{"class": "raw"}"#));
    assert_eq!(code, 200, "{req}");
    let url = format!("{}/metrics", c.url);
    let samples = asto_tests::api::wait_for("a verify failure in the metrics", 120, || {
        let (_, text) = call_text("GET", &url, Some(USER), None);
        let s = parse(&text);
        (sum(&s, "asto_device_verify_failures_total") >= 1.0).then_some(s)
    });
    let failed_on: Vec<&String> = samples.iter().filter(|(k, v)| k.starts_with("asto_device_verify_failures_total") && **v >= 1.0).map(|(k, _)| k).collect();
    assert!(failed_on.iter().all(|k| k.contains("tape")), "{failed_on:?}");
    assert_eq!(sum(&samples, "asto_device_verify_failures_total{device=\"burner"), 0.0);
    // The failed copy was written first: its bytes count, and the request is not done.
    assert!(sum(&samples, "asto_device_written_bytes_total{device=\"tape") >= 8_000_000.0);
    assert_eq!(samples["asto_requests{state=\"done\"}"], 0.0);
}

#[test]
fn ob_replication_links_are_measured() {
    // Three real PostgreSQL clusters (HQ and two sites) with the OB module's replication.
    let topo = ob_support::Topology::start(41);
    let ws = Workspace::new(&[]);
    with_api(&ws);
    let mut text = std::fs::read_to_string(&ws.config).unwrap();
    text.push('\n');
    text.push_str(&std::fs::read_to_string(&topo.config).unwrap());
    std::fs::write(&ws.config, text).unwrap();
    let c = start(&ws);
    let (code, text) = call_text("GET", &format!("{}/metrics", c.url), Some(USER), None);
    assert_eq!(code, 200, "{text}");
    let samples = parse(&text);
    let healthy: Vec<(&String, &f64)> = samples.iter().filter(|(k, _)| k.starts_with("asto_ob_replication_healthy{")).collect();
    // HQ publishes to each site and each site to HQ.
    assert_eq!(healthy.len(), 4, "{text}");
    assert!(healthy.iter().all(|(_, v)| **v == 1.0), "{healthy:?}");
    for pair in [("HQ", "PARANAL"), ("HQ", "LASILLA"), ("PARANAL", "HQ"), ("LASILLA", "HQ")] {
        assert!(healthy.iter().any(|(k, _)| k.contains(&format!("publisher=\"{}\",subscriber=\"{}\"", pair.0, pair.1))), "{pair:?}: {healthy:?}");
    }
    assert_eq!(samples.keys().filter(|k| k.starts_with("asto_ob_replication_lag_bytes{")).count(), 4, "{text}");

    // A site goes down: its links are reported unhealthy, the others stay healthy.
    topo.stop_node("lasilla");
    let (_, text) = call_text("GET", &format!("{}/metrics", c.url), Some(USER), None);
    let samples = parse(&text);
    for (k, v) in samples.iter().filter(|(k, _)| k.starts_with("asto_ob_replication_healthy{")) {
        assert_eq!(*v, if k.contains("LASILLA") { 0.0 } else { 1.0 }, "{k}");
    }
}
