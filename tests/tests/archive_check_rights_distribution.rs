//! End-to-end tests of the consistency check tool, data rights and distribution, with the real
//! `asto` binary on simulated devices and real `tar` and `sha256sum` reading the bundles.

use std::path::Path;
use std::process::Command;

use asto_tests::{Workspace, sample_files};
use serde_json::Value;

fn catalogue(ws: &Workspace) -> rusqlite::Connection {
    rusqlite::Connection::open(ws.root().join("catalogue.db")).expect("open catalogue")
}

/// Run with `--json`, expecting exit code `code`; returns the parsed output.
fn json_exit(ws: &Workspace, args: &[&str], code: i32) -> Value {
    let out = ws.cmd(args).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn kinds(report: &Value) -> Vec<(String, String)> {
    report["problems"].as_array().unwrap().iter().map(|p| (p["kind"].as_str().unwrap().to_owned(), p["subject"].as_str().unwrap().to_owned())).collect()
}

#[test]
fn consistency_check_finds_injected_problems_and_is_clean_otherwise() {
    let ws = Workspace::new(&[]);
    let src = sample_files(ws.dir.path(), "src/night1", 4, 100_000, 3);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    let clean = json_exit(&ws, &["check"], 0);
    assert_eq!((clean["clean"].as_bool(), clean["stage_files_checked"].as_u64()), (Some(true), Some(4)), "{clean}");

    let stage = ws.root().join("stages/archive/raw/night1");
    // Corrupt one file (same size), remove another, drop in an unregistered one.
    let mut data = std::fs::read(stage.join("obs000.fits")).unwrap();
    data[5000] ^= 0xff;
    std::fs::remove_file(stage.join("obs000.fits")).unwrap();
    std::fs::write(stage.join("obs000.fits"), data).unwrap();
    std::fs::remove_file(stage.join("obs001.fits")).unwrap();
    std::fs::write(stage.join("stray.fits"), b"who put this here").unwrap();
    let report = json_exit(&ws, &["check", "--stage"], 2);
    assert_eq!(
        kinds(&report),
        [
            ("checksum_mismatch".to_owned(), "archive:raw/night1/obs000.fits".to_owned()),
            ("missing".into(), "archive:raw/night1/obs001.fits".into()),
            ("unregistered".into(), "archive:raw/night1/stray.fits".into()),
        ]
    );
}

#[test]
fn consistency_check_reverifies_volumes_in_the_jukebox() {
    let ws = Workspace::new(&[]);
    let src = sample_files(ws.dir.path(), "src/night1", 6, 500_000, 4);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    ws.ok(["request", "flush", "raw"]);
    ws.ok(["run"]);
    let clean = json_exit(&ws, &["check", "--volumes", "all"], 0);
    assert_eq!((clean["volumes_checked"].as_u64(), clean["copies_checked"].as_u64()), (Some(2), Some(2)), "{clean}");

    // The medium now returns one flipped bit inside the unit on every drive.
    for d in ["tape0", "tape1"] {
        std::fs::write(ws.root().join(format!("sim/{d}/faults.json")), r#"{"flip_bit_at_byte": 1500000}"#).unwrap();
    }
    let barcodes: Vec<String> = catalogue(&ws).prepare("SELECT barcode FROM volumes ORDER BY barcode").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let report = json_exit(&ws, &["check", "--volumes", &barcodes[0], "NOSUCH"], 2);
    let k = kinds(&report);
    assert_eq!(k, [("unknown_volume".to_owned(), "NOSUCH".to_owned()), ("copy_mismatch".into(), barcodes[0].clone())], "{report}");
    assert!(report["problems"][1]["detail"].as_str().unwrap().contains("obs00"), "the differing file is named: {report}");
    let stored: i64 = catalogue(&ws).query_row("SELECT count(*) FROM check_reports WHERE problems > 0", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 1);
}

/// Archive small text files through the inbox as proprietary to `ann` in programme P-1.
fn proprietary_files(ws: &Workspace) {
    let inbox = ws.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for i in 0..3 {
        std::fs::write(inbox.join(format!("notes{i}.txt")), format!("observing notes {i}\n").repeat(1000)).unwrap();
        std::fs::write(inbox.join(format!("notes{i}.txt.ready")), "owner = \"ann\"\nprogramme = \"P-1\"\nproprietary_until = \"2999-01-01\"\n").unwrap();
    }
    std::fs::write(inbox.join("public.txt"), "released long ago\n").unwrap();
    std::fs::write(inbox.join("public.txt.ready"), "proprietary_until = \"2001-01-01\"\n").unwrap();
    ws.ok(["inbox", "watch", "--inbox", inbox.to_str().unwrap(), "--once", "--class", "raw"]);
}

#[test]
fn rights_are_enforced_for_retrieve_and_user_media_and_overrides_are_logged() {
    let ws = Workspace::new(&[]);
    proprietary_files(&ws);
    let out = ws.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = out.to_str().unwrap();
    for who in [vec![], vec!["--as-user", "bob"]] {
        let mut args = vec!["retrieve", "-o", o, "raw/notes0.txt"];
        args.extend(who);
        let err = ws.fails(&args);
        assert!(err.contains("proprietary until 2999-01-01") && err.contains("may not have it"), "{err}");
    }
    assert!(!out.join("notes0.txt").exists());
    ws.ok(["retrieve", "-o", o, "raw/public.txt"]);
    ws.ok(["retrieve", "-o", o, "--as-user", "ann", "raw/notes0.txt"]);
    assert_eq!(std::fs::read_to_string(out.join("notes0.txt")).unwrap(), "observing notes 0\n".repeat(1000));
    let err = ws.fails(["retrieve", "-o", o, "--admin", " ", "raw/notes1.txt"]);
    assert!(err.contains("needs a reason"), "{err}");
    ws.ok(["retrieve", "-o", o, "--admin", "helpdesk ticket 7", "raw/notes1.txt"]);
    let logged: String = catalogue(&ws).query_row("SELECT detail FROM events WHERE action = 'rights_override'", [], |r| r.get(0)).unwrap();
    assert!(logged.contains("raw/notes1.txt") && logged.contains("helpdesk ticket 7"), "{logged}");

    // User media: refused for others, delivered through the pipeline for the owner.
    let err = ws.fails(["distribute", "submit", "--as-user", "bob", "--media", "DEMO-CD", "raw/notes2.txt"]);
    assert!(err.contains("may not have it"), "{err}");
    let id = ws.json(["distribute", "submit", "--as-user", "ann", "--media", "DEMO-CD", "raw/notes2.txt", "raw/public.txt"])["id"].as_i64().unwrap();
    let report = ws.json(["distribute", "run"]);
    assert_eq!(report["done"], serde_json::json!([id]), "{report}");
    let status = &ws.json(["distribute", "status", &id.to_string()])[0];
    let request = status["user_request"].as_i64().unwrap();
    ws.ok(["run"]);
    let r = ws.json(["request", "status", &request.to_string()]);
    assert_eq!((r[0]["state"].as_str(), r[0]["files"].as_u64()), (Some("done"), Some(2)), "{r}");
}

fn tool(cmd: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(cmd).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Most intervals [start, finish] (RFC 3339 strings) open at one time.
fn max_overlap(rows: &[(String, String)]) -> usize {
    rows.iter().map(|(s, _)| rows.iter().filter(|(s2, f2)| s2 <= s && s < f2).count()).max().unwrap_or(0)
}

#[test]
fn distribution_bundles_are_verified_and_the_concurrency_limit_holds_under_a_burst() {
    let ws = Workspace::new(&[]);
    let src = sample_files(ws.dir.path(), "src/night1", 12, 1 << 20, 9);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    let mut ids = Vec::new();
    for i in 0..12 {
        let files: Vec<String> = (0..4).map(|k| format!("raw/night1/obs{:03}.fits", (i + k) % 12)).collect();
        let mut args = vec!["distribute", "submit"];
        args.extend(files.iter().map(String::as_str));
        ids.push(ws.json(args)["id"].as_i64().unwrap());
    }
    let report = ws.json(["distribute", "run"]);
    assert_eq!(report["done"].as_array().unwrap().len(), 12, "{report}");
    assert_eq!(report["max_parallel"], 7, "7 at once by default");
    let peak = report["peak_parallel"].as_u64().unwrap();
    assert!((2..=7).contains(&peak), "{report}");
    let conn = catalogue(&ws);
    let times = |first: i64| -> Vec<(String, String)> {
        conn.prepare("SELECT started_at, finished_at FROM distributions WHERE id >= ?1")
            .unwrap()
            .query_map([first], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(max_overlap(&times(ids[0])) <= 7);

    // Each bundle reads with the standard tools and its checksums hold.
    let status = ws.json(["distribute", "status", &ids[3].to_string()]);
    let bundle = status[0]["bundle"].as_str().unwrap().to_owned();
    let x = ws.dir.path().join("x");
    std::fs::create_dir_all(&x).unwrap();
    let listing = tool("tar", &["-tzf", &bundle], &x);
    assert!(listing.contains("raw/night1/obs003.fits") && listing.contains("SHA256SUMS"), "{listing}");
    tool("tar", &["-xzf", &bundle], &x);
    let checked = tool("sha256sum", &["-c", "SHA256SUMS"], &x);
    assert_eq!(checked.matches(": OK").count(), 4, "{checked}");

    // A lower limit is a limit too.
    let mut more = Vec::new();
    for i in 0..5 {
        more.push(ws.json(["distribute", "submit", &format!("raw/night1/obs{i:03}.fits")])["id"].as_i64().unwrap());
    }
    let report = ws.json(["distribute", "run", "--max-parallel", "2"]);
    assert_eq!(report["done"].as_array().unwrap().len(), 5, "{report}");
    assert!(report["peak_parallel"].as_u64().unwrap() <= 2, "{report}");
    assert!(max_overlap(&times(more[0])) <= 2);
    let err = ws.fails(["distribute", "submit", "raw/night1/nope.fits"]);
    assert!(err.contains("not in the catalogue"), "{err}");
}
