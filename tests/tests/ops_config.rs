//! `asto config check` and `asto doctor` on real workspaces: each misconfiguration is reported
//! with the file and the key, several at once when they are independent; the doctor shows its
//! checks as a table and as JSON and fails when something is wrong. Also the generated shell
//! completions and man pages.

use std::path::Path;

use asto_tests::{Workspace, asto};
use serde_json::Value;

/// `asto config check` on `text` written as the workspace's configuration: (success, stderr, JSON report).
fn check_with(ws: &Workspace, text: &str) -> (bool, String, Value) {
    std::fs::write(&ws.config, text).unwrap();
    let out = ws.cmd(["config", "check"]).output().unwrap();
    let json = ws.cmd(["config", "check", "--json"]).output().unwrap();
    assert_eq!(out.status.success(), json.status.success());
    let report: Value = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&json.stdout)));
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned(), report)
}

fn config_text(ws: &Workspace) -> String {
    std::fs::read_to_string(&ws.config).unwrap()
}

#[test]
fn a_good_configuration_passes() {
    let ws = Workspace::new(&[]);
    let (ok, stderr, report) = check_with(&ws, &config_text(&ws));
    assert!(ok, "{stderr}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn each_misconfiguration_names_the_file_and_the_key() {
    let ws = Workspace::new(&[]);
    let good = config_text(&ws);
    let file = ws.config.display().to_string();
    let blocker = ws.root().join("not-a-dir");
    std::fs::write(&blocker, "a file").unwrap();
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("unknown key", good.replace("[sim]", "[sim]\nshelve = \"x\""), &["shelve"]),
        ("misspelt table key", good.replace("counter_width = 6", "counter_widht = 6"), &["counter_widht"]),
        ("group naming a missing device", good.replace(r#"devices = ["tape0", "tape1"]"#, r#"devices = ["tape0", "tape9"]"#), &["group[0].devices", "'tape9'"]),
        ("overlapping stages", good.replace(r#"path = "stages/user""#, r#"path = "stages/archive/user""#), &["stages.archive.path", "stages.user.path", "overlap"]),
        (
            "stage that cannot be created",
            good.replace(r#"path = "stages/media""#, &format!(r#"path = "{}/media""#, blocker.display())),
            &["stages.media.path", "cannot be created", "is not a directory"],
        ),
        ("stage that is a file", good.replace(r#"path = "stages/user""#, &format!(r#"path = "{}""#, blocker.display())), &["stages.user.path", "is not a directory"]),
        ("missing parent of the catalogue", good.replace(r#"catalogue = "catalogue.db""#, r#"catalogue = "no/such/dir/catalogue.db""#), &["catalogue", "does not exist"]),
        ("bad size", good.replace(r#"reserve = "64MiB" }"#, r#"reserve = "lots" }"#), &["reserve"]),
        ("bad listen address", format!("{good}\n[api]\nlisten = \"nowhere\"\n"), &["api.listen"]),
    ];
    for (what, text, needles) in cases {
        let (ok, stderr, report) = check_with(&ws, &text);
        assert!(!ok, "{what}: accepted");
        assert!(stderr.contains(&file), "{what}: the file is not named: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{what}: {n:?} not in: {stderr}");
        }
        assert_eq!(report["ok"], false, "{what}");
        let problems = report["problems"].as_array().unwrap();
        assert!(!problems.is_empty() && problems.iter().all(|p| p["file"] == file.as_str()), "{what}: {report}");
    }
}

#[test]
fn independent_path_problems_are_all_reported_at_once() {
    let ws = Workspace::new(&[]);
    let blocker = ws.root().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let text = config_text(&ws)
        .replace(r#"path = "stages/media""#, &format!(r#"path = "{}/media""#, blocker.display()))
        .replace(r#"shelf = "sim/shelf""#, &format!(r#"shelf = "{}/shelf""#, blocker.display()))
        .replace(r#"catalogue = "catalogue.db""#, r#"catalogue = "gone/catalogue.db""#);
    let (ok, stderr, report) = check_with(&ws, &text);
    assert!(!ok);
    let keys: Vec<&str> = report["problems"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    for key in ["stages.media.path", "sim.shelf", "catalogue"] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}; {stderr}");
    }
    assert!(stderr.contains("3 problem(s)"), "{stderr}");
}

#[test]
fn doctor_reports_checks_and_fails_on_problems() {
    let ws = Workspace::new(&[]);
    let table = ws.ok(["doctor"]);
    for needle in ["config", "tool xorriso", "tool mtx", "stage archive", "stage media", "catalogue", "device tape0"] {
        assert!(table.contains(needle), "{needle} not in:\n{table}");
    }
    let checks = ws.json(["doctor"]);
    let checks = checks.as_array().unwrap();
    let xorriso = checks.iter().find(|c| c["check"] == "tool xorriso").unwrap();
    assert_eq!(xorriso["status"], "ok");
    assert!(xorriso["detail"].as_str().unwrap().contains("xorriso 1."), "{xorriso}");
    assert!(checks.iter().all(|c| c["status"] != "fail"), "{checks:?}");

    // Once the catalogue exists, the doctor opens it (read-only).
    ws.ok(["units", "list"]);
    let checks = ws.json(["doctor"]);
    let cat = checks.as_array().unwrap().iter().find(|c| c["check"] == "catalogue").unwrap().clone();
    assert_eq!(cat["status"], "ok", "{cat}");
    assert!(cat["detail"].as_str().unwrap().contains("schema version"), "{cat}");

    // A stage's reserve larger than its filesystem: stage space fails, and so does the doctor.
    let text = config_text(&ws).replacen(r#"reserve = "64MiB""#, r#"reserve = "900000TiB""#, 1);
    std::fs::write(&ws.config, text).unwrap();
    let out = ws.cmd(["doctor", "--json"]).output().unwrap();
    assert!(!out.status.success());
    let checks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stage = checks.as_array().unwrap().iter().find(|c| c["check"] == "stage archive").unwrap();
    assert_eq!(stage["status"], "fail", "{stage}");
    assert!(stage["detail"].as_str().unwrap().contains("reserve"), "{stage}");
}

#[test]
fn doctor_fails_when_postgresql_is_unreachable() {
    let ws = Workspace::new(&[]);
    // A loopback port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut text = config_text(&ws);
    text.push_str(&format!(
        "\n[ob.hq]\nname = \"HQ\"\nconninfo = \"host=127.0.0.1 port={port} dbname=asto_ob user=asto\"\n[[ob.sites]]\nname = \"PARANAL\"\nconninfo = \"host=127.0.0.1 port={port} dbname=asto_ob user=asto\"\n"
    ));
    std::fs::write(&ws.config, text).unwrap();
    let out = ws.cmd(["doctor", "--json", "--pg-timeout", "2"]).output().unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let checks: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let pg: Vec<&Value> = checks.as_array().unwrap().iter().filter(|c| c["check"].as_str().unwrap().starts_with("postgresql")).collect();
    assert_eq!(pg.len(), 2, "{checks}");
    assert!(pg.iter().all(|c| c["status"] == "fail" && c["detail"].as_str().unwrap().contains(&port.to_string())), "{pg:?}");
}

#[test]
fn completions_and_man_pages_come_from_the_cli_definition() {
    for (shell, needle) in [("bash", "_asto()"), ("zsh", "#compdef asto"), ("fish", "complete -c asto")] {
        let out = asto(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(needle) && script.contains("doctor") && script.contains("request"), "{shell}: {}", &script[..script.len().min(300)]);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = asto(["man", &dir.path().display().to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for page in ["asto.1", "asto-doctor.1", "asto-config-check.1", "asto-request-submit.1", "asto-controller.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page} is not a man page");
    }
    // Hidden generators stay out of the pages.
    assert!(!Path::new(&dir.path().join("asto-completions.1")).exists());
    let top = std::fs::read_to_string(dir.path().join("asto.1")).unwrap();
    assert!(top.contains("doctor") && !top.contains("completions"), "asto.1 lists the hidden commands");
    let doctor = std::fs::read_to_string(dir.path().join("asto-doctor.1")).unwrap();
    assert!(doctor.contains("pg\\-timeout"), "asto-doctor.1 lacks its options");
}

#[test]
fn the_controller_refuses_to_start_on_a_path_it_cannot_use() {
    let ws = Workspace::new(&[]);
    let blocker = ws.root().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let text = config_text(&ws).replace(r#"path = "stages/media""#, &format!(r#"path = "{}/media""#, blocker.display()))
        + "\n[api]\nlisten = \"127.0.0.1:0\"\n[[api.token]]\nname = \"ops\"\nrole = \"admin\"\ntoken = \"admin-secret-0123456789\"\n";
    std::fs::write(&ws.config, text).unwrap();
    let stderr = ws.fails(["controller", "--listen", "127.0.0.1:0"]);
    assert!(stderr.contains(&ws.config.display().to_string()) && stderr.contains("stages.media.path") && stderr.contains("cannot be created"), "{stderr}");
}
