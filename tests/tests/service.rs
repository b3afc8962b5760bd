//! End-to-end tests of the controller daemon: the real `asto controller` on loopback, driven
//! through its HTTP API and through the CLI in `--controller` mode.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use asto_tests::api::{ADMIN, USER, call, start, start_with_log, wait_done, with_api};
use asto_tests::{Workspace, sample_files};
use serde_json::Value;

#[test]
fn api_refuses_what_it_must_and_runs_requests_to_completion() {
    let ws = Workspace::new(&["--demo-cd-capacity", "4MiB"]);
    with_api(&ws);
    let src = sample_files(ws.dir.path(), "src/night", 10, 300_000, 11);
    ws.ok(["ingest", "--stage", "user", src.to_str().unwrap()]);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    let c = start(&ws);
    let url = |p: &str| format!("{}{p}", c.url);

    // Unauthenticated, wrong token, wrong role.
    assert_eq!(call("GET", &url("/v1/requests"), None, None).0, 401);
    assert_eq!(call("GET", &url("/v1/requests"), Some("not-a-token-at-all"), None).0, 401);
    assert_eq!(call("POST", &url("/v1/requests/1/rollback"), Some(USER), None).0, 403);
    // Malformed JSON, unknown fields, unknown ids, unknown media and groups: 4xx, nothing changed.
    let (code, v) = call("POST", &url("/v1/requests"), Some(USER), Some("{\"files\": [\"night/obs000.fits\""));
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("bad request body"), "{v}");
    assert_eq!(call("POST", &url("/v1/requests"), Some(USER), Some(r#"{"files": [], "media": "DEMO-CD", "colour": "red"}"#)).0, 400);
    assert_eq!(call("GET", &url("/v1/requests/999"), Some(USER), None).0, 404);
    assert_eq!(call("POST", &url("/v1/prompts/999/ack"), Some(USER), None).0, 404);
    let (code, v) = call("POST", &url("/v1/requests"), Some(USER), Some(r#"{"files": ["night/obs000.fits"], "media": "FLOPPY"}"#));
    assert_eq!((code, v["error"].as_str().unwrap().contains("FLOPPY")), (400, true), "{v}");
    let (code, v) = call("POST", &url("/v1/requests"), Some(USER), Some(r#"{"files": ["night/obs000.fits"], "media": "DEMO-CD", "group": "nosuch"}"#));
    assert_eq!((code, v["error"].as_str().unwrap().contains("nosuch")), (400, true), "{v}");
    assert_eq!(call("GET", &url("/v1/nothing-here"), Some(USER), None).0, 404);
    let (_, all) = call("GET", &url("/v1/requests"), Some(USER), None);
    assert_eq!(all.as_array().map(Vec::len), Some(1), "only the open archive request exists: {all}");

    // Live progress: `asto watch` follows the event stream while the requests run.
    let mut watch = asto_tests::asto(["watch", "--controller", &c.url, "--token", USER, "--json", "--count", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut watch_err = BufReader::new(watch.stderr.take().unwrap());
    let mut hello = String::new();
    watch_err.read_line(&mut hello).unwrap();
    assert!(hello.contains("watching"), "{hello}");

    // The CLI against the API.
    let files: Vec<String> = (0..10).map(|i| format!("night/obs{i:03}.fits")).collect();
    let mut args = vec!["request", "submit", "--controller", &c.url, "--token", USER, "--media", "DEMO-CD", "--copies", "2", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = asto_tests::asto(&args).output().unwrap();
    asto_tests::assert_success(&out);
    let user_req: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = asto_tests::asto(["request", "flush", "raw", "--controller", &c.url, "--token", USER, "--json"]).output().unwrap();
    asto_tests::assert_success(&out);
    let archive_req: Value = serde_json::from_slice(&out.stdout).unwrap();
    let user_id = user_req["id"].as_i64().unwrap();
    wait_done(&c, user_id);
    wait_done(&c, archive_req["id"].as_i64().unwrap());
    let watched = watch.wait_with_output().unwrap();
    assert!(watched.status.success());
    let events: Vec<Value> = String::from_utf8_lossy(&watched.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.iter().filter(|e| e["event"] == "finished").count(), 4, "{events:?}");
    assert!(events.iter().any(|e| e["event"] == "started" && e["action"] == "write"), "{events:?}");

    // User media raise take-out prompts; acknowledging one delivers the volume.
    let (_, prompts) = call("GET", &url("/v1/prompts"), Some(USER), None);
    let prompts = prompts.as_array().unwrap().clone();
    assert_eq!(prompts.len(), 2 * user_req["units"].as_i64().unwrap() as usize, "{prompts:?}");
    assert!(prompts.iter().all(|p| p["kind"] == "take_out"));
    let first = prompts[0]["id"].as_i64().unwrap();
    let out = asto_tests::asto(["prompts", "ack", &first.to_string(), "--controller", &c.url, "--token", USER]).output().unwrap();
    asto_tests::assert_success(&out);
    assert_eq!(call("POST", &url(&format!("/v1/prompts/{first}/ack")), Some(USER), None).0, 409, "acknowledged twice");
    let (_, volumes) = call("GET", &url("/v1/volumes"), Some(USER), None);
    let delivered = volumes.as_array().unwrap().iter().filter(|v| v["location"] == "delivered").count();
    assert_eq!(delivered, 1);
    let (_, devices) = call("GET", &url("/v1/devices"), Some(USER), None);
    assert_eq!(devices.as_array().unwrap().len(), 4);
    let (_, agents) = call("GET", &url("/v1/agents"), Some(USER), None);
    assert_eq!(agents[0]["name"], "embedded");

    // Rollback of a done request is a conflict; the admin's attempt is still refused cleanly.
    let (code, v) = call("POST", &url(&format!("/v1/requests/{user_id}/rollback")), Some(ADMIN), None);
    assert_eq!(code, 409, "{v}");
}

#[test]
fn controller_killed_mid_write_resumes_everything_on_restart() {
    let ws = Workspace::new(&["--tape-rate", "8MB"]);
    with_api(&ws);
    let src = sample_files(ws.dir.path(), "src/night", 30, 400_000, 5);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    let (mut c, lines) = start_with_log(&ws);
    let (code, v) = call("POST", &format!("{}/v1/requests/flush", c.url), Some(USER), Some(r#"{"class": "raw"}"#));
    assert_eq!(code, 200, "{v}");
    let id = v["id"].as_i64().unwrap();
    let started = lines.map_while(Result::ok).any(|l| l.contains("write started"));
    assert!(started);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.child.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    c.child.wait().unwrap();
    drop(c);

    let c = start(&ws);
    let done = wait_done(&c, id);
    assert_eq!(done["copies_verified"], 2, "{done}");
}

#[test]
fn browse_and_retrieve_over_the_api_read_from_the_volume_once_the_stage_is_clean() {
    let ws = Workspace::new(&[]);
    with_api(&ws);
    let src = sample_files(ws.dir.path(), "src/night", 6, 200_000, 31);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    let c = start(&ws);
    let (_, v) = call("POST", &format!("{}/v1/requests/flush", c.url), Some(USER), Some(r#"{"class": "raw"}"#));
    wait_done(&c, v["id"].as_i64().unwrap());

    let (code, found) = call("POST", &format!("{}/v1/browse", c.url), Some(USER), Some(r#"{"name": "obs003.fits", "keywords": [], "limit": 0}"#));
    assert_eq!(code, 200, "{found}");
    let files = found["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{found}");
    let path = files[0]["path"].as_str().unwrap().to_owned();
    assert_eq!(files[0]["state"], "archived");

    let out = std::process::Command::new("curl")
        .args(["-s", "-D", "-", "-H", &format!("Authorization: Bearer {USER}"), &format!("{}/v1/retrieve?file={path}", c.url)])
        .output()
        .unwrap();
    let text = out.stdout;
    let split = text.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let (head, body) = (String::from_utf8_lossy(&text[..split]).to_lowercase(), &text[split + 4..]);
    assert!(head.contains("200") && head.contains("x-asto-source: volume"), "{head}");
    assert_eq!(body, std::fs::read(src.join("obs003.fits")).unwrap().as_slice(), "retrieved bytes differ");

    assert_eq!(call("GET", &format!("{}/v1/retrieve?file={path}", c.url), None, None).0, 401);
    assert_eq!(call("GET", &format!("{}/v1/retrieve?file={path}&admin_reason=x", c.url), Some(USER), None).0, 400);
    assert_eq!(call("GET", &format!("{}/v1/retrieve?file=raw/nothing.fits", c.url), Some(USER), None).0, 404);

    // Distribution: a tar.gz bundle made from the volume, downloaded over the API by its requester.
    let body = format!(r#"{{"files": ["{path}"], "delivery": {{"method": "bundle"}}}}"#);
    let (code, d) = call("POST", &format!("{}/v1/distributions", c.url), Some(USER), Some(&body));
    assert_eq!(code, 201, "{d}");
    let id = d["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, st) = call("GET", &format!("{}/v1/distributions/{id}", c.url), Some(USER), None);
        if st["state"] == "done" {
            break;
        }
        assert!(st["state"] != "failed" && Instant::now() < deadline, "{st}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let bundle = ws.dir.path().join("bundle.tar.gz");
    let got = std::process::Command::new("curl")
        .args(["-s", "-f", "-o", bundle.to_str().unwrap(), "-H", &format!("Authorization: Bearer {USER}"), &format!("{}/v1/distributions/{id}/bundle", c.url)])
        .status()
        .unwrap();
    assert!(got.success());
    let listing = std::process::Command::new("tar").args(["-tzf", bundle.to_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("obs003.fits"), "{}", String::from_utf8_lossy(&listing.stdout));
    assert_eq!(call("GET", &format!("{}/v1/distributions/{id}/bundle", c.url), Some(ADMIN), None).0, 200, "admins may fetch it too");
    assert_eq!(call("GET", &format!("{}/v1/distributions/4242", c.url), Some(USER), None).0, 404);
}
