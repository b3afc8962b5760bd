//! End-to-end tests of agents on other hosts: the real `asto controller` and two `asto agent`
//! processes on loopback, sharing the simulated media shelf (as hosts share a library).

use std::io::{BufRead, BufReader};
use std::process::{ChildStderr, Stdio};

use asto_tests::api::{ADMIN, HOST_A, HOST_B, Proc, call, start, wait_done, with_api_and_agents};
use asto_tests::{Workspace, sample_files};
use serde_json::Value;

/// Remote tape drives: `ta0` on agent hostA, `tb0` and `tb1` on agent hostB.
fn configure(ws: &Workspace, rate: &str) {
    let mut text = std::fs::read_to_string(&ws.config).unwrap();
    for (name, agent) in [("ta0", "hostA"), ("tb0", "hostB"), ("tb1", "hostB")] {
        text.push_str(&format!(
            "\n[[device]]\nname = \"{name}\"\nkind = \"tape\"\nbackend = \"sim\"\ndir = \"sim/{name}\"\nserial = \"SIM-{name}\"\nagent = \"{agent}\"\n"
        ));
    }
    text.push_str("\n[[group]]\nname = \"remote-tapes\"\ndevices = [\"ta0\", \"tb0\", \"tb1\"]\nmedia = [\"LTO-6\"]\n");
    text.push_str("\n[class.remote]\nmedia = \"LTO-6\"\ncopies = 2\ngroup = \"remote-tapes\"\n");
    std::fs::write(&ws.config, text).unwrap();
    with_api_and_agents(ws, 2);
    let root = ws.root();
    for (host, token, devices) in [("hostA", HOST_A, vec!["ta0"]), ("hostB", HOST_B, vec!["tb0", "tb1"])] {
        // Agent B fetches unit files over HTTP, as a host without the stages mounted would.
        let (data, metrics) = if host == "hostB" { ("http", "metrics_listen = \"127.0.0.1:0\"\n") } else { ("shared", "") };
        let mut a = format!(
            "controller = \"CONTROLLER\"\ntoken = \"{token}\"\nmedia_stage = \"{host}/media\"\nshelf = \"{}\"\npoll_ms = 100\ndata = \"{data}\"\n{metrics}",
            root.join("sim/shelf").display()
        );
        for d in devices {
            a.push_str(&format!(
                "\n[[device]]\nname = \"{d}\"\nkind = \"tape\"\nbackend = \"sim\"\ndir = \"{}\"\nserial = \"SIM-{d}\"\nrate = {rate}\n",
                root.join("sim").join(d).display()
            ));
        }
        std::fs::write(root.join(format!("{host}.toml")), a).unwrap();
    }
}

fn start_agent(ws: &Workspace, host: &str, url: &str) -> (Proc, std::io::Lines<BufReader<ChildStderr>>) {
    let path = ws.root().join(format!("{host}.toml"));
    let text = std::fs::read_to_string(&path).unwrap().replace("CONTROLLER", url);
    std::fs::write(&path, text).unwrap();
    let mut child = asto_tests::asto(["agent", "--config", path.to_str().unwrap()]).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    (Proc(child), lines)
}

fn catalogue(ws: &Workspace) -> rusqlite::Connection {
    rusqlite::Connection::open(ws.root().join("catalogue.db")).unwrap()
}

#[test]
fn two_agents_write_the_copies_of_a_unit_on_distinct_devices() {
    let ws = Workspace::new(&[]);
    configure(&ws, "0");
    let src = sample_files(ws.dir.path(), "src/night", 12, 200_000, 21);
    ws.ok(["ingest", "--class", "remote", src.to_str().unwrap()]);
    let c = start(&ws);
    let url = c.url.clone();
    let (_a, _) = start_agent(&ws, "hostA", &url);
    let (b, b_log) = start_agent(&ws, "hostB", &url);
    // Agent B's log, line by line, as it comes.
    let (tx, b_lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in b_log.map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let metrics_at = b_lines
        .iter()
        .find_map(|l| l.contains("agent metrics listening").then(|| l.rsplit('=').next().unwrap_or("").trim().to_owned()))
        .expect("agent B announces its metrics address");
    let (code, v) = call("POST", &format!("{url}/v1/requests/flush"), Some(ADMIN), Some(r#"{"class": "remote"}"#));
    assert_eq!(code, 200, "{v}");
    let done = wait_done(&c, v["id"].as_i64().unwrap());
    assert_eq!(done["copies_verified"], 2);
    let conn = catalogue(&ws);
    let devices: Vec<String> = conn.prepare("SELECT device FROM copies WHERE state = 'verified' ORDER BY copy_no").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(devices.len(), 2);
    assert_ne!(devices[0], devices[1]);
    assert!(devices.iter().all(|d| ["ta0", "tb0", "tb1"].contains(&d.as_str())), "{devices:?}");
    let (_, agents) = call("GET", &format!("{url}/v1/agents"), Some(ADMIN), None);
    let names: Vec<&str> = agents.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"hostA") && names.contains(&"hostB"), "{names:?}");
    // An agent cannot claim a device that is not configured as its own.
    let (code, v) = call("POST", &format!("{url}/v1/agent/register"), Some(HOST_A), Some(r#"{"devices": ["tb0"], "version": "x"}"#));
    assert_eq!(code, 400, "{v}");
    // Nor can a user or an unknown token act as an agent.
    assert_eq!(call("POST", &format!("{url}/v1/agent/lease"), Some("nobody-0123456789abcdef"), Some(r#"{"free_devices": []}"#)).0, 401);
    // Files are served to agents only from inside the data stages.
    assert_eq!(call("GET", &format!("{url}/v1/agent/source?path=/etc/passwd"), Some(HOST_B), None).0, 404);
    // Agent B's own metrics: its write and verification, the bytes its device moved, the files it
    // fetched over HTTP.
    let out = std::process::Command::new("curl").args(["-s", &format!("http://{metrics_at}/metrics")]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |name: &str| text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    assert_eq!(value("asto_agent_actions_succeeded_total"), 2, "{text}");
    assert_eq!(value("asto_agent_files_fetched_total"), 12, "{text}");
    assert!(value("asto_agent_device_bytes_total{device=\"tb0\"}") > 0, "{text}");
    // Agent B wrote its copy from files fetched over HTTP (checksums checked on arrival).
    drop(b);
    let log: Vec<String> = b_lines.iter().collect();
    assert!(log.iter().any(|l| l.contains("fetched over HTTP")), "{log:?}");
}

#[test]
fn killed_agent_loses_its_lease_and_the_copy_is_written_elsewhere() {
    let ws = Workspace::new(&[]);
    configure(&ws, "8000000");
    let src = sample_files(ws.dir.path(), "src/night", 30, 400_000, 22);
    ws.ok(["ingest", "--class", "remote", src.to_str().unwrap()]);
    let c = start(&ws);
    let url = c.url.clone();
    let (mut a, a_log) = start_agent(&ws, "hostA", &url);
    let (_b, _) = start_agent(&ws, "hostB", &url);
    let (_, v) = call("POST", &format!("{url}/v1/requests/flush"), Some(ADMIN), Some(r#"{"class": "remote"}"#));
    let id = v["id"].as_i64().unwrap();
    // Agent A leases the first copy's write on ta0; kill it while it writes.
    assert!(a_log.map_while(Result::ok).any(|l| l.contains("action leased")));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(a.0.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    a.0.wait().unwrap();

    let done = wait_done(&c, id);
    assert_eq!(done["copies_verified"], 2, "{done}");
    let conn = catalogue(&ws);
    let devices: Vec<String> = conn.prepare("SELECT device FROM copies WHERE state = 'verified'").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert!(!devices.contains(&"ta0".to_string()), "the dead agent's device holds no verified copy: {devices:?}");
    let (fence, action): (i64, i64) = conn.query_row("SELECT fence, id FROM actions WHERE device = 'ta0' AND state = 'expired'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    // The partly written volume was marked for reuse (and may already hold the rewritten copy).
    let job: String = conn.query_row("SELECT job FROM actions WHERE id = ?1", [action], |r| r.get(0)).unwrap();
    let barcode = serde_json::from_str::<Value>(&job).unwrap()["medium"]["barcode"].as_str().unwrap().to_owned();
    let released: i64 = conn
        .query_row("SELECT count(*) FROM events WHERE action = 'write' AND phase = 'failed' AND volume = ?1", [&barcode], |r| r.get(0))
        .unwrap();
    assert_eq!(released, 1, "{barcode}");
    let state: String = conn.query_row("SELECT state FROM volumes WHERE barcode = ?1", [&barcode], |r| r.get(0)).unwrap();
    assert!(state == "scratch" || state == "full", "{barcode} is {state}");
    let ta0: String = conn.query_row("SELECT state FROM devices WHERE name = 'ta0'", [], |r| r.get(0)).unwrap();
    assert_eq!(ta0, "down");
    // A late result from the dead agent is refused by the fence.
    let late = format!(r#"{{"fence": {fence}, "outcome": {{"outcome": "failed", "message": "late", "blame": "other"}}}}"#);
    let (code, v) = call("POST", &format!("{url}/v1/agent/actions/{action}/result"), Some(HOST_A), Some(&late));
    assert_eq!(code, 409, "{v}");
}
