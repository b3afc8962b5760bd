//! Shared by the OB end-to-end tests: a private three-cluster topology (HQ, PARANAL, LASILLA)
//! started through `scripts/pg-topology.sh` on free loopback ports and stopped by a Drop guard,
//! SQL access to each node, and polling with a deadline for replicated state.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use asto_tests::{asto, assert_success};
use postgres::{Client, NoTls};

pub const NODES: [&str; 3] = ["hq", "paranal", "lasilla"];

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-topology.sh")
}

/// Three consecutive free loopback ports, spread by process id so parallel test binaries differ.
fn free_base_port(salt: u16) -> u16 {
    let mut base = 20_000 + ((std::process::id() as u16).wrapping_mul(7).wrapping_add(salt.wrapping_mul(101)) % 30_000);
    loop {
        let free = (0..3).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return base;
        }
        base = if base > 60_000 { 20_000 } else { base + 3 };
    }
}

/// A running topology; stopped (and its directory removed) when dropped, even on panic.
pub struct Topology {
    dir: tempfile::TempDir,
    pub config: PathBuf,
    pub base_port: u16,
}

impl Topology {
    /// Start the clusters and run `asto ob init` on them.
    pub fn start(salt: u16) -> Self {
        Self::start_with(salt, "")
    }

    /// Like `start`, appending `extra_config` to the generated configuration file.
    pub fn start_with(salt: u16, extra_config: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("asto-ob-").tempdir().expect("temp dir");
        let base_port = free_base_port(salt);
        let topo = Topology { config: dir.path().join("asto.toml"), dir, base_port };
        let out = topo.script(&["start", "--base-port", &base_port.to_string(), "--no-fsync"]);
        assert!(out.status.success(), "pg-topology start failed: {}", String::from_utf8_lossy(&out.stderr));
        if !extra_config.is_empty() {
            let mut text = std::fs::read_to_string(&topo.config).expect("read generated config");
            text.push_str(extra_config);
            std::fs::write(&topo.config, text).expect("write config");
        }
        let out = topo.asto(&["init"]);
        assert_success(&out);
        topo
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Run the topology script with `action` and the remaining arguments.
    pub fn script(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(script());
        cmd.arg(args[0]).arg(self.dir.path()).args(&args[1..]);
        cmd.output().expect("run pg-topology.sh")
    }

    pub fn stop_node(&self, node: &str) {
        let out = self.script(&["stop", "--node", node]);
        assert!(out.status.success(), "stopping {node}: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn start_node(&self, node: &str) {
        let out = self.script(&["start", "--node", node]);
        assert!(out.status.success(), "starting {node}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `asto ob <args> --config <this topology>`.
    pub fn asto(&self, args: &[&str]) -> Output {
        let mut full: Vec<&str> = vec!["ob"];
        full.extend_from_slice(args);
        let mut cmd = asto(&full);
        cmd.env("ASTO_CONFIG", &self.config);
        cmd.output().expect("spawn asto")
    }

    /// `asto --json ob <args>`, which must succeed; parsed output.
    pub fn asto_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.asto(&full);
        assert_success(&out);
        serde_json::from_slice(&out.stdout).expect("asto --json prints JSON")
    }

    pub fn port(&self, node: &str) -> u16 {
        let i = NODES.iter().position(|n| *n == node).expect("known node");
        self.base_port + i as u16
    }

    /// A SQL session on `node` (hq, paranal, lasilla), in UTC.
    pub fn sql(&self, node: &str) -> Client {
        let mut c = postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port(node))
            .user("postgres")
            .dbname("asto_ob")
            .connect(NoTls)
            .unwrap_or_else(|e| panic!("connect to {node}: {e}"));
        c.batch_execute("SET TimeZone = 'UTC'").expect("set time zone");
        c
    }

    /// Wait until every link delivered what was committed before the call.
    pub fn sync(&self) {
        let cfg = asto_controller::ob::ObConfig::load(&self.config).expect("load config");
        asto_controller::ob::replication::wait_for_sync(&cfg, Duration::from_secs(30)).expect("replication catches up");
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if std::env::var_os("ASTO_OB_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("keeping the topology in {}", self.dir.path().display());
        }
        let _ = self.script(&["stop"]);
    }
}

/// Poll `probe` every 50 ms until it returns true, failing after 30 s with `what`.
pub fn wait_until(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out after 30 s waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The sorted OB ids `node` has for `filter` (an SQL condition on table ob).
pub fn ob_ids(c: &mut Client, filter: &str) -> Vec<i64> {
    c.query(&format!("SELECT ob_id FROM ob WHERE {filter} ORDER BY ob_id"), &[])
        .expect("query OB ids")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Insert a run.
pub fn add_run(c: &mut Client, run_id: i64, mode: &str, site: &str, valid_to: Option<&str>) {
    c.execute(
        "INSERT INTO obs_run (run_id, prog_id, mode, site, instrument, valid_to)
         VALUES ($1, '116.28N5.001', $2, $3, 'MUSE', $4::text::timestamptz)",
        &[&run_id, &mode, &site, &valid_to],
    )
    .expect("insert run");
}

/// Insert OBs with the given ids into a run (mode and site taken from the run).
pub fn add_obs(c: &mut Client, run_id: i64, ids: &[i64]) {
    c.execute(
        "INSERT INTO ob (ob_id, run_id, name, mode, site, status, grade, user_priority, instrument,
                         execution_time_s, target, constraints)
         SELECT i, r.run_id, 'OB ' || i, r.mode, r.site, 'P', '?', 1, r.instrument, 1800,
                '{\"name\": \"NGC 253\", \"ra\": \"00:47:33.134\", \"dec\": \"-25:17:19.68\", \"equinox\": \"J2000\"}',
                '{\"airmass\": 1.5, \"seeing\": 0.8, \"skyTransparency\": \"Clear\"}'
           FROM unnest($2::bigint[]) AS i, obs_run r WHERE r.run_id = $1",
        &[&run_id, &ids],
    )
    .expect("insert OBs");
}

/// The ids in a JSON array of objects with an `ob_id` field.
pub fn json_ids(v: &serde_json::Value) -> Vec<i64> {
    v.as_array().expect("array").iter().map(|o| o["ob_id"].as_i64().expect("ob_id")).collect()
}

/// A JSON array of numbers as i64s.
pub fn json_nums(v: &serde_json::Value) -> Vec<i64> {
    v.as_array().expect("array").iter().map(|n| n.as_i64().expect("number")).collect()
}
