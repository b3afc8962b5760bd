//! The web status page in headless Chromium, driven over WebDriver (chromedriver on loopback),
//! against a real controller with simulated devices in the middle of a slow tape write: the page
//! shows the devices, the write's progress and the operator prompts, a prompt is acknowledged by
//! clicking its button, and a screenshot is saved.


use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use asto_tests::{Workspace, sample_files};
use asto_tests::api::{USER, call, call_text, start, wait_done, wait_for, with_api};
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver on a free loopback port; killed when dropped.
struct Driver {
    child: Child,
    url: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = call_text("DELETE", &format!("{}/session/{}", self.url, self.session), None, None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wd(method: &str, url: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string());
    let (code, v) = call(method, url, None, Some(body.as_deref().unwrap_or("{}")).filter(|_| method == "POST"));
    assert_eq!(code, 200, "WebDriver {method} {url}: {v}");
    v["value"].clone()
}

impl Driver {
    fn start(profile: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver").arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("chromedriver (Debian package chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        wait_for("chromedriver", 30, || (call("GET", &format!("{url}/status"), None, None).1["value"]["ready"] == true).then_some(()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                     "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display()), "--window-size=1280,1200"]
        }}}});
        let mut driver = Driver { child, url, session: String::new() };
        let v = wd("POST", &format!("{}/session", driver.url), Some(caps));
        driver.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_owned();
        driver
    }

    fn path(&self, p: &str) -> String {
        format!("{}/session/{}{p}", self.url, self.session)
    }

    fn go(&self, url: &str) {
        wd("POST", &self.path("/url"), Some(json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let v = wd("POST", &self.path("/element"), Some(json!({"using": "css selector", "value": css})));
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_owned()
    }

    fn js(&self, script: &str) -> Value {
        wd("POST", &self.path("/execute/sync"), Some(json!({"script": script, "args": []})))
    }

    fn text(&self, css: &str) -> String {
        self.js(&format!("const e = document.querySelector({css:?}); return e ? e.innerText : '';")).as_str().unwrap_or("").to_owned()
    }

    fn screenshot(&self, to: &Path) {
        let b64 = wd("GET", &self.path("/screenshot"), None).as_str().unwrap().to_owned();
        let mut decode = Command::new("base64").arg("-d").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        {
            use std::io::Write;
            decode.stdin.take().unwrap().write_all(b64.as_bytes()).unwrap();
        }
        let out = decode.wait_with_output().unwrap();
        assert!(out.status.success() && out.stdout.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::write(to, out.stdout).unwrap();
    }
}

#[test]
fn status_page_shows_a_write_in_flight_and_acknowledges_a_prompt() {
    let ws = Workspace::new(&["--tape-rate", "8MB", "--demo-cd-capacity", "4MiB", "--archive-copies", "1"]);
    with_api(&ws);
    let user = sample_files(ws.dir.path(), "src/night", 3, 200_000, 3);
    ws.ok(["ingest", "--stage", "user", user.to_str().unwrap()]);
    // 40 MB for tape at 8 MB/s: the write takes seconds, long enough to watch.
    let archive = sample_files(ws.dir.path(), "src/raw", 10, 4_000_000, 4);
    ws.ok(["ingest", "--class", "raw", archive.to_str().unwrap()]);
    let c = start(&ws);

    // The page itself is public; its data is not.
    let (code, html) = call_text("GET", &format!("{}/ui/", c.url), None, None);
    assert_eq!(code, 200);
    assert!(html.contains("<title>asto status</title>"));
    assert_eq!(call_text("GET", &format!("{}/ui/app.js", c.url), None, None).0, 200);

    let shots = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let d = Driver::start(profile.path());
    d.go(&format!("{}/", c.url));
    wait_for("the token form", 20, || (d.js("return !document.querySelector('#login').hidden") == true).then_some(()));
    let input = d.find("#token");
    wd("POST", &d.path(&format!("/element/{input}/value")), Some(json!({ "text": USER })));
    assert_eq!(d.js("return document.querySelector('#token').value"), USER);
    let button = d.find("#connect");
    wd("POST", &d.path(&format!("/element/{button}/click")), Some(json!({})));
    wait_for("the token stored", 20, || (d.js("return sessionStorage.getItem('asto-token')") == USER).then_some(()));

    // Devices as the catalogue has them.
    let devices = wait_for("devices on the page", 20, || {
        let t = d.text("#devices");
        ["tape0", "tape1", "burner0", "burner1"].iter().all(|n| t.contains(n)).then_some(t)
    });
    assert!(devices.contains("up") && devices.contains("tapes"), "{devices}");

    // Work arrives while the page is open: a user CD and the archive data to tape.
    let body = r#"{"files": ["night/obs000.fits", "night/obs001.fits", "night/obs002.fits"], "media": "DEMO-CD"}"#;
    let (code, user_req) = call("POST", &format!("{}/v1/requests", c.url), Some(USER), Some(body));
    assert_eq!(code, 201, "{user_req}");
    let (code, archive_req) = call("POST", &format!("{}/v1/requests/flush", c.url), Some(USER), Some(r#"{"class": "raw"}"#));
    assert_eq!(code, 200, "{archive_req}");

    // Mid-write: a tape write with a percentage, and the user CD's take-out prompt.
    let progress = wait_for("a tape write in progress on the page", 60, || {
        let v = d.js(
            "const e = [...document.querySelectorAll('#progress .item[data-action=write]')].find(e => e.dataset.device.startsWith('tape')); \
             return e ? [e.innerText, e.querySelector('progress').value] : null;",
        );
        let pct = v[1].as_f64().unwrap_or(0.0);
        (pct > 0.0 && pct < 100.0).then(|| v[0].as_str().unwrap_or("").to_owned())
    });
    assert!(progress.contains("write ARC-") && progress.contains("% of"), "{progress}");
    wait_done(&c, user_req["id"].as_i64().unwrap());
    let (_, prompts) = call("GET", &format!("{}/v1/prompts", c.url), Some(USER), None);
    let prompt = prompts[0].clone();
    let id = prompt["id"].as_i64().unwrap_or_else(|| panic!("no prompt: {prompts}"));
    let shown = wait_for("the prompt on the page", 20, || {
        let t = d.text(&format!("[data-prompt='{id}']"));
        (!t.is_empty()).then_some(t)
    });
    assert!(shown.contains("take_out") && shown.contains("acknowledge"), "{shown}");
    let requests = d.text("#requests");
    assert!(requests.contains("DEMO-CD") && requests.contains("LTO-5"), "{requests}");
    let writing = d.text("#progress");
    let mid_write = shots.path().join("status-mid-write.png");
    d.screenshot(&mid_write);
    let (_, state) = call("GET", &format!("{}/v1/requests/{}", c.url, archive_req["id"]), Some(USER), None);
    assert_ne!(state["state"], "done", "the screenshot was meant to be mid-write; progress was {writing}");

    // Acknowledge through the page.
    let ack = d.find(&format!("button.ack[data-id='{id}']"));
    wd("POST", &d.path(&format!("/element/{ack}/click")), Some(json!({})));
    let acked = wait_for("the acknowledgement in the catalogue", 20, || {
        let (_, all) = call("GET", &format!("{}/v1/prompts?all=true", c.url), Some(USER), None);
        all.as_array().unwrap().iter().find(|p| p["id"] == id && !p["acked_at"].is_null()).cloned()
    });
    assert_eq!(acked["acked_by"], "astro");
    wait_for("the prompt gone from the page", 20, || d.text(&format!("[data-prompt='{id}']")).is_empty().then_some(()));

    // When the archive request is done, its volume is online in the jukebox and on the page.
    wait_done(&c, archive_req["id"].as_i64().unwrap());
    let volumes = wait_for("the archive volume in the jukebox on the page", 30, || {
        let t = d.text("#volumes");
        t.contains("jukebox:").then_some(t)
    });
    assert!(volumes.contains("LTO-5"), "{volumes}");
    let done = shots.path().join("status-done.png");
    d.screenshot(&done);

    // Keep the screenshots where a person can look at them after the run.
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ops_web");
    std::fs::create_dir_all(&keep).unwrap();
    for shot in [&mid_write, &done] {
        let size = std::fs::metadata(shot).unwrap().len();
        assert!(size > 10_000, "{} is only {size} bytes", shot.display());
        std::fs::copy(shot, keep.join(shot.file_name().unwrap())).unwrap();
    }
    eprintln!("screenshots in {}", keep.display());
}
