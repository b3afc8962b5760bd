//! Shared by the operations tests: a real `asto controller` on loopback with an `[api]` table,
//! and raw HTTP calls through curl.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use asto_tests::Workspace;
use serde_json::Value;

pub const ADMIN: &str = "admin-secret-0123456789";
pub const USER: &str = "user-secret-0123456789";

/// A running controller; killed when dropped.
pub struct Controller {
    pub child: Child,
    pub url: String,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Add an `[api]` table with an admin and a user token to the workspace's configuration.
pub fn with_api(ws: &Workspace) {
    let mut text = std::fs::read_to_string(&ws.config).unwrap();
    text.push_str(&format!(
        "\n[api]\nlisten = \"127.0.0.1:0\"\n[[api.token]]\nname = \"ops\"\nrole = \"admin\"\ntoken = \"{ADMIN}\"\n[[api.token]]\nname = \"astro\"\nrole = \"user\"\ntoken = \"{USER}\"\n"
    ));
    std::fs::write(&ws.config, text).unwrap();
}

/// Start `asto controller` on a free loopback port; returns once it listens.
pub fn start(ws: &Workspace) -> Controller {
    let mut child = ws.cmd(["controller", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("controller said {line:?}")).to_owned();
    Controller { child, url: format!("http://{addr}") }
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

/// Poll `f` until it returns Some, or panic after `secs` seconds.
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

/// Wait until the request is done, by asking the API.
pub fn wait_done(c: &Controller, id: i64) -> Value {
    wait_for(&format!("request {id} done"), 180, || {
        let (code, v) = call("GET", &format!("{}/v1/requests/{id}", c.url), Some(USER), None);
        assert_eq!(code, 200, "{v}");
        (v["state"] == "done").then_some(v)
    })
}
