//! End-to-end tests of the spine: the real `asto` binary on simulated devices, from ingest to
//! verified volumes; rollback from every state before cleanup; a crash during a write; bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use asto_drivers::tape::TapeDrive;
use asto_hw_sim::file_tape::{FileTapeConfig, FileTapeDrive};
use asto_tests::{Workspace, asto_ok, sample_files};
use serde_json::Value;

fn catalogue(ws: &Workspace) -> rusqlite::Connection {
    rusqlite::Connection::open(ws.root().join("catalogue.db")).expect("open catalogue")
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Files listed on a simulated tape, read back independently of asto's verifier.
fn tape_listing(ws: &Workspace, barcode: &str, start_block: u64) -> Vec<(String, String)> {
    let cart = ws.root().join("sim/shelf").join(format!("{barcode}.tape"));
    let mut drive = FileTapeDrive::new(FileTapeConfig { dir: ws.dir.path().to_owned(), serial: "T".into(), max_block: 1 << 20, rate: None });
    drive.load(&cart, 1 << 40).expect("load cartridge");
    drive.locate(start_block).expect("locate");
    struct Blocks<'a>(&'a mut FileTapeDrive, Vec<u8>, usize, usize);
    impl std::io::Read for Blocks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.2 == self.3 {
                match self.0.read_block(&mut self.1).map_err(std::io::Error::other)? {
                    asto_drivers::tape::ReadOutcome::Data(n) => (self.2, self.3) = (0, n),
                    _ => return Ok(0),
                }
            }
            let n = (self.3 - self.2).min(buf.len());
            buf[..n].copy_from_slice(&self.1[self.2..self.2 + n]);
            self.2 += n;
            Ok(n)
        }
    }
    let summary = asto_images::read::read_tar(Blocks(&mut drive, vec![0; 1 << 20], 0, 0)).expect("read tar from tape");
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    summary.files.into_iter().map(|f| (f.path, hex::encode(f.sha256))).collect()
}

#[test]
fn demo_runs_to_verified_volumes_and_says_where_every_file_went() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("demo");
    let out = asto_ok(["demo", "--dir", ws.to_str().unwrap(), "--size", "24MB", "--files", "60", "--fast", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let files = v["files"].as_array().unwrap();
    // 60 archive files plus the user copies of the first nights.
    assert!(files.len() > 60, "{}", files.len());
    let mut volumes_of_unit: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let copies = f["copies"].as_array().unwrap();
        assert_eq!(copies.len(), 2, "two verified copies of {}", f["path"]);
        let (a, b) = (copies[0][1].as_str().unwrap(), copies[1][1].as_str().unwrap());
        assert_ne!(a, b, "copies on distinct volumes");
        let location = copies[0][2].as_str().unwrap();
        match f["stage"].as_str().unwrap() {
            "archive" => assert!(location.starts_with("jukebox:"), "{location}"),
            _ => assert_eq!(location, "export"),
        }
        volumes_of_unit.entry(f["unit"].as_str().unwrap().to_owned()).or_default().extend([a.to_owned(), b.to_owned()]);
    }
    // The user request (~ a quarter of 24 MB on 64 MiB DEMO-CDs) and the archive request.
    assert!(volumes_of_unit.keys().any(|u| u.starts_with("ARC-LTO5-")));
    assert!(volumes_of_unit.keys().any(|u| u.starts_with("USR-DCD-")));
    // Cleanup removed the files from their stages once every copy was verified.
    let left: Vec<_> = walkdir::WalkDir::new(ws.join("stages/archive")).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()).collect();
    assert!(left.is_empty(), "archive stage still holds {} files", left.len());
}

/// Ingest archive and user data, queue both requests.
fn two_requests(ws: &Workspace) -> (i64, i64) {
    let src = sample_files(ws.dir.path(), "src/night1", 12, 300_000, 7);
    let src2 = sample_files(ws.dir.path(), "src/night2", 8, 200_000, 8);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap(), src2.to_str().unwrap()]);
    ws.ok(["ingest", "--stage", "user", src2.to_str().unwrap()]);
    let a = ws.json(["request", "flush", "raw"]);
    let files: Vec<String> = (0..8).map(|i| format!("night2/obs{i:03}.fits")).collect();
    let mut args = vec!["request", "submit", "--media", "DEMO-CD", "--copies", "2"];
    args.extend(files.iter().map(String::as_str));
    let u = ws.json(args);
    (a["id"].as_i64().unwrap(), u["id"].as_i64().unwrap())
}

#[test]
fn rollback_from_every_state_before_cleanup_then_redo() {
    for stop in [None, Some("prepare"), Some("write"), Some("verify"), Some("ingest")] {
        let ws = Workspace::new(&["--demo-cd-capacity", "2MiB"]);
        let (archive, user) = two_requests(&ws);
        if let Some(stop) = stop {
            ws.ok(["run", "--stop-after", stop]);
        }
        let conn = catalogue(&ws);
        let written_before = count(&conn, "SELECT count(*) FROM copies WHERE volume_id IS NOT NULL");
        for id in [archive, user] {
            let r = ws.json(["request", "rollback", &id.to_string()]);
            assert_eq!(r["request"], id);
        }
        let ctx = format!("rollback after {stop:?}");
        assert_eq!(count(&conn, "SELECT count(*) FROM units WHERE state <> 'rolled_back'"), 0, "{ctx}");
        assert_eq!(count(&conn, "SELECT count(*) FROM copies WHERE state <> 'rolled_back'"), 0, "{ctx}");
        assert_eq!(count(&conn, "SELECT count(*) FROM devices WHERE reserved_by IS NOT NULL"), 0, "{ctx}");
        // Written tapes are reusable, written discs (write-once) discarded; none counts as holding data.
        assert_eq!(count(&conn, "SELECT count(*) FROM volumes WHERE state NOT IN ('scratch', 'discarded')"), 0, "{ctx}");
        if stop.is_some_and(|s| s != "prepare") {
            assert!(written_before > 0, "{ctx}: something was written before the rollback");
            assert!(count(&conn, "SELECT count(*) FROM volumes WHERE state = 'scratch' AND media_type = 'LTO-5'") > 0, "{ctx}");
        }
        let media_stage: Vec<_> = std::fs::read_dir(ws.root().join("stages/media")).map(|d| d.collect()).unwrap_or_default();
        assert!(media_stage.is_empty(), "{ctx}: prepared units left in the media stage");
        // Every file is still in its stage.
        let staged = walkdir::WalkDir::new(ws.root().join("stages")).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()).count();
        assert_eq!(staged, 28, "{ctx}");
        // The archive files went back to an open request: flush and run write them after all.
        let again = ws.json(["request", "flush", "raw"]);
        ws.ok(["run"]);
        let status = ws.json(["request", "status", &again["id"].as_i64().unwrap().to_string()]);
        assert_eq!(status[0]["state"], "done", "{ctx}: {status}");
        assert_eq!(status[0]["files"], 20, "{ctx}");
        // Rolled-back requests stay rolled back and cannot be rolled back twice.
        let err = ws.fails(["request", "rollback", &archive.to_string()]);
        assert!(err.contains("already rolled back"), "{err}");
    }
}

#[test]
fn done_request_cannot_be_rolled_back() {
    let ws = Workspace::new(&[]);
    let (archive, _) = two_requests(&ws);
    ws.ok(["run"]);
    let err = ws.fails(["request", "rollback", &archive.to_string()]);
    assert!(err.contains("is done"), "{err}");
}

#[test]
fn crash_during_write_resumes_with_nothing_lost_or_duplicated() {
    // Slow tape drives so the write is surely in progress when the process is killed.
    let ws = Workspace::new(&["--tape-rate", "8MB"]);
    let src = sample_files(ws.dir.path(), "src/night", 40, 400_000, 3);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    let req = ws.json(["request", "flush", "raw"])["id"].as_i64().unwrap();

    let mut child = ws.cmd(["run"]).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let started = lines.by_ref().map_while(Result::ok).any(|l| l.contains("write started"));
    assert!(started, "the runner never started a write");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();

    let conn = catalogue(&ws);
    assert!(count(&conn, "SELECT count(*) FROM copies WHERE state = 'writing'") > 0, "killed mid-write");
    drop(conn);

    let out = ws.ok(["run"]);
    assert!(out.contains("1 requests done"), "{out}");
    let status = ws.json(["request", "status", &req.to_string()]);
    assert_eq!(status[0]["state"], "done");
    let conn = catalogue(&ws);
    assert!(count(&conn, "SELECT count(*) FROM events WHERE action = 'recover'") > 0);

    // Read every verified copy back, independently: each holds each file exactly once, with its
    // ingest checksum.
    let expected: BTreeMap<String, String> = conn
        .prepare("SELECT path, sha256 FROM files")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(expected.len(), 40);
    let copies: Vec<(String, u64)> = conn
        .prepare("SELECT v.barcode, c.start_block FROM copies c JOIN volumes v ON v.id = c.volume_id WHERE c.state = 'verified'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(copies.len(), 2);
    for (barcode, start) in copies {
        let listing = tape_listing(&ws, &barcode, start);
        let names: BTreeSet<&str> = listing.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names.len(), listing.len(), "{barcode}: a file appears twice");
        let got: BTreeMap<String, String> = listing.into_iter().collect();
        assert_eq!(got, expected, "{barcode}: files differ from the catalogue");
    }
}

fn snapshot(ws: &Workspace) -> (Value, Vec<String>) {
    let status = ws.json(["request", "status"]);
    let files = walkdir::WalkDir::new(ws.root().join("stages"))
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.path().display().to_string())
        .collect();
    (status, files)
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let ws = Workspace::new(&["--demo-cd-capacity", "2MiB"]);
    let src = sample_files(ws.dir.path(), "src/ok", 3, 10_000, 1);
    ws.ok(["ingest", "--stage", "user", src.to_str().unwrap()]);
    let big = sample_files(ws.dir.path(), "src/big", 1, 3 << 20, 2);
    ws.ok(["ingest", "--stage", "user", big.to_str().unwrap()]);
    let before = snapshot(&ws);

    let missing = ws.dir.path().join("src/ok/nope.fits");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["ingest".into(), "--class".into(), "raw".into(), src.join("obs000.fits").display().to_string(), missing.display().to_string()], "nope.fits"),
        (vec!["ingest".into(), "--class".into(), "nosuch".into(), src.display().to_string()], "unknown data class 'nosuch'"),
        (vec!["ingest".into(), "--class".into(), "raw".into(), "--as".into(), "../escape".into(), src.display().to_string()], "escapes"),
        (vec!["request".into(), "submit".into(), "--media".into(), "DEMO-CD".into(), "big/obs000.fits".into()], "larger"),
        (vec!["request".into(), "submit".into(), "--media".into(), "FLOPPY".into(), "ok/obs000.fits".into()], "unknown media type 'FLOPPY'"),
        (vec!["request".into(), "submit".into(), "--media".into(), "DEMO-CD".into(), "--copies".into(), "0".into(), "ok/obs000.fits".into()], "at least 1"),
        (vec!["request".into(), "submit".into(), "--media".into(), "DEMO-CD".into(), "--copies".into(), "99".into(), "ok/obs000.fits".into()], "99 copies"),
        (vec!["request".into(), "submit".into(), "--media".into(), "DEMO-CD".into(), "../../etc/passwd".into()], "escapes"),
        (vec!["request".into(), "submit".into(), "--media".into(), "DEMO-CD".into(), "ok/absent.fits".into()], "not in the user stage"),
        (vec!["request".into(), "rollback".into(), "4242".into()], "no request 4242"),
    ];
    for (args, needle) in &cases {
        let err = ws.fails(args);
        assert!(err.contains(needle), "{args:?}: expected {needle:?} in: {err}");
        assert_eq!(snapshot(&ws), before, "{args:?} changed something");
    }

    // A symlink pointing outside the tree being ingested.
    let tree = sample_files(ws.dir.path(), "src/linked", 1, 100, 3);
    std::os::unix::fs::symlink("/etc/hostname", tree.join("outside.fits")).unwrap();
    let err = ws.fails(["ingest", "--class", "raw", tree.to_str().unwrap()]);
    assert!(err.contains("outside"), "{err}");
    assert_eq!(snapshot(&ws), before);

    // A symlink inside the stage that leads out of it is refused when a request names it.
    std::os::unix::fs::symlink("/etc/hostname", ws.root().join("stages/user/ok/sneaky.fits")).unwrap();
    let conn = catalogue(&ws);
    conn.execute(
        "INSERT INTO files (stage, path, size, sha256, crc32, format, compression, mode, mtime_ns, ingested_at)
         VALUES ('user', 'ok/sneaky.fits', 1, 'x', 0, 'fits', 'none', 420, 0, '2026-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    let err = ws.fails(["request", "submit", "--media", "DEMO-CD", "ok/sneaky.fits"]);
    assert!(err.contains("outside the stage"), "{err}");
    assert_eq!(count(&conn, "SELECT count(*) FROM requests"), 0);
}

#[test]
fn full_stage_refuses_new_data_and_names_the_stage() {
    let ws = Workspace::new(&[]);
    let text = std::fs::read_to_string(&ws.config).unwrap().replace(r#"archive = { path = "stages/archive", reserve = "64MiB" }"#, r#"archive = { path = "stages/archive", reserve = "64MiB", quota = "1MB" }"#);
    std::fs::write(&ws.config, text).unwrap();
    let src = sample_files(ws.dir.path(), "src/n", 3, 400_000, 5);
    let err = ws.fails(["ingest", "--class", "raw", src.to_str().unwrap()]);
    assert!(err.contains("stage 'archive' is full"), "{err}");
    assert!(!Path::new(&ws.root().join("stages/archive/raw")).exists() || walkdir::WalkDir::new(ws.root().join("stages/archive")).into_iter().filter_map(Result::ok).all(|e| !e.file_type().is_file()));
    // The user stage is separate and still takes data.
    ws.ok(["ingest", "--stage", "user", src.to_str().unwrap()]);
    // A reserve larger than the disk also refuses.
    let text = std::fs::read_to_string(&ws.config).unwrap().replace(r#"reserve = "64MiB", quota = "1MB""#, r#"reserve = "1000TB""#);
    std::fs::write(&ws.config, text).unwrap();
    let err = ws.fails(["ingest", "--class", "raw", src.to_str().unwrap()]);
    assert!(err.contains("is full"), "{err}");
}

#[test]
fn bad_medium_is_marked_and_the_copy_rewritten_on_another_volume() {
    let ws = Workspace::new(&["--archive-copies", "1"]);
    // The first cartridge the drive gets fails at its third block.
    std::fs::create_dir_all(ws.root().join("sim/tape0")).unwrap();
    std::fs::write(ws.root().join("sim/tape0/faults.json"), r#"{"write_error_at_block": 2, "medium": "AS0001L5"}"#).unwrap();
    let src = sample_files(ws.dir.path(), "src/night", 6, 300_000, 9);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    ws.ok(["request", "flush", "raw"]);
    ws.ok(["run"]);
    let volumes = ws.json(["volumes", "list"]);
    let state = |b: &str| volumes.as_array().unwrap().iter().find(|v| v["barcode"] == b).map(|v| v["state"].as_str().unwrap().to_owned());
    assert_eq!(state("AS0001L5").as_deref(), Some("bad"), "{volumes}");
    assert_eq!(state("AS0002L5").as_deref(), Some("full"), "{volumes}");
    let status = ws.json(["request", "status", "1"]);
    assert_eq!(status[0]["state"], "done");
}

#[test]
fn device_fault_moves_the_work_to_a_peer_in_the_group() {
    let ws = Workspace::new(&["--archive-copies", "1"]);
    std::fs::create_dir_all(ws.root().join("sim/tape0")).unwrap();
    std::fs::write(ws.root().join("sim/tape0/faults.json"), r#"{"offline": true}"#).unwrap();
    let src = sample_files(ws.dir.path(), "src/night", 6, 300_000, 10);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    ws.ok(["request", "flush", "raw"]);
    ws.ok(["run"]);
    let devices = ws.json(["devices"]);
    let tape0 = devices.as_array().unwrap().iter().find(|d| d["name"] == "tape0").unwrap();
    assert_eq!(tape0["state"], "down", "{devices}");
    assert!(tape0["note"].as_str().unwrap().contains("offline"), "{tape0}");
    let units = ws.json(["units", "list"]);
    assert_eq!(units[0]["copies"][0]["device"], "tape1", "{units}");
    assert_eq!(units[0]["copies"][0]["state"], "verified");
    // The volume the dead drive had started is back to scratch (rewritable), not lost.
    let volumes = ws.json(["volumes", "list"]);
    assert!(volumes.as_array().unwrap().iter().all(|v| v["state"] != "writing"), "{volumes}");
}

#[test]
fn programme_membership_is_granted_and_file_rights_shown() {
    let ws = Workspace::new(&[]);
    let src = sample_files(ws.dir.path(), "src/night", 1, 1000, 12);
    ws.ok(["ingest", "--class", "raw", src.to_str().unwrap()]);
    let granted = ws.json(["rights", "grant", "--programme", "116.28N5.001", "--user", "alice"]);
    assert_eq!(granted["user"], "alice");
    let conn = catalogue(&ws);
    assert_eq!(count(&conn, "SELECT count(*) FROM programme_members WHERE programme = '116.28N5.001' AND user = 'alice'"), 1);
    assert_eq!(count(&conn, "SELECT count(*) FROM events WHERE action = 'rights'"), 1);
    let shown = ws.json(["rights", "show", "raw/night/obs000.fits"]);
    assert!(shown["proprietary_until"].is_null(), "{shown}");
    let err = ws.fails(["rights", "show", "raw/night/none.fits"]);
    assert!(err.contains("not in the catalogue"), "{err}");
}
