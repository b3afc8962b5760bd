//! A real `asto controller` on loopback for end-to-end tests, and raw HTTP calls to it through
//! curl (an independent client, not the CLI's own).

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStderr, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Workspace;

pub const ADMIN: &str = "admin-secret-0123456789";
pub const USER: &str = "user-secret-0123456789";
/// Tokens of two agents, named `hostA` and `hostB` in the tests' configurations.
pub const HOST_A: &str = "host-a-secret-0123456789";
pub const HOST_B: &str = "host-b-secret-0123456789";

/// A spawned process (an agent), killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running controller; killed when dropped. Its log goes to `controller.log` in the
/// workspace, or is handed to the test with [`start_with_log`].
pub struct Controller {
    pub child: Child,
    pub url: String,
    pub log_file: Option<std::path::PathBuf>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `[api]` table with an admin (`ops`) and a user (`astro`) token, plus `extra` lines
/// (more tokens, `lease_secs`), appended to the workspace's configuration.
pub fn with_api_and(ws: &Workspace, extra: &str) {
    let mut text = std::fs::read_to_string(&ws.config).expect("read configuration");
    text.push_str(&format!(
        "\n[api]\nlisten = \"127.0.0.1:0\"\n{extra}\n[[api.token]]\nname = \"ops\"\nrole = \"admin\"\ntoken = \"{ADMIN}\"\n[[api.token]]\nname = \"astro\"\nrole = \"user\"\ntoken = \"{USER}\"\n"
    ));
    std::fs::write(&ws.config, text).expect("write configuration");
}

/// The `[api]` table with admin and user tokens and the tokens of agents `hostA` and `hostB`.
pub fn with_api_and_agents(ws: &Workspace, lease_secs: u64) {
    with_api_and(
        ws,
        &format!(
            "lease_secs = {lease_secs}\n[[api.token]]\nname = \"hostA\"\nrole = \"agent\"\ntoken = \"{HOST_A}\"\n\
             [[api.token]]\nname = \"hostB\"\nrole = \"agent\"\ntoken = \"{HOST_B}\"\n"
        ),
    );
}

/// The `[api]` table with an admin and a user token.
pub fn with_api(ws: &Workspace) {
    with_api_and(ws, "");
}

fn spawn(ws: &Workspace, stderr: Stdio) -> (Child, String) {
    let mut child = ws.cmd(["controller", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(stderr).spawn().expect("spawn controller");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("controller stdout")).read_line(&mut line).expect("read controller stdout");
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("controller said {line:?}")).to_owned();
    (child, format!("http://{addr}"))
}

/// Start `asto controller` on a free loopback port; returns once it listens.
pub fn start(ws: &Workspace) -> Controller {
    let log = ws.root().join("controller.log");
    let file = std::fs::File::create(&log).expect("create controller.log");
    let (child, url) = spawn(ws, Stdio::from(file));
    Controller { child, url, log_file: Some(log) }
}

/// Start the controller and hand its log lines to the test (which must keep reading them).
pub fn start_with_log(ws: &Workspace) -> (Controller, Lines<BufReader<ChildStderr>>) {
    let mut child_url = spawn(ws, Stdio::piped());
    let stderr = child_url.0.stderr.take().expect("controller stderr");
    (Controller { child: child_url.0, url: child_url.1, log_file: None }, BufReader::new(stderr).lines())
}

/// A raw HTTP call: (status, body text).
pub fn call_text(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let mut args = vec!["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method];
    let auth;
    if let Some(t) = token {
        auth = format!("Authorization: Bearer {t}");
        args.extend(["-H", auth.as_str()]);
    }
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    args.push(url);
    let out = std::process::Command::new("curl").args(&args).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// A raw HTTP call with a JSON answer: (status, body).
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let (code, text) = call_text(method, url, token, body);
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Poll `f` until it returns Some, or panic after `secs` seconds (waiting on observable state,
/// bounded by a deadline).
pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait until request `id` is done, by asking the API; on a timeout the controller's log is
/// part of the failure message.
pub fn wait_done(c: &Controller, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (code, v) = call("GET", &format!("{}/v1/requests/{id}", c.url), Some(USER), None);
        assert_eq!(code, 200, "{v}");
        if v["state"] == "done" {
            return v;
        }
        if Instant::now() > deadline {
            let log = c.log_file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()).unwrap_or_default();
            panic!("request {id} not done: {v}\ncontroller log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
