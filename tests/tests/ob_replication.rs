//! OB module end to end on three real PostgreSQL 15 clusters: SM OBs flow HQ → sites, VM OBs
//! site → HQ only, the site purge is not forwarded, SM archiving is invoked at the sites by
//! replication, recovery replicates back out, both consistency rules hold, and bad data or a
//! change of mode or site is refused with a clear error.

mod ob_support;

use ob_support::{Topology, add_obs, add_run, json_ids, ob_ids, wait_until};

/// An RFC 3339 time `days` from now, by HQ's clock.
fn as_of(topo: &Topology, days: i32) -> String {
    topo.sql("hq")
        .query_one(
            "SELECT to_char((now() + make_interval(days => $1)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            &[&days],
        )
        .expect("format time")
        .get(0)
}

#[test]
fn replication_archiving_recovery_and_rules() {
    let topo = Topology::start(1);
    let mut hq = topo.sql("hq");
    let mut paranal = topo.sql("paranal");
    let mut lasilla = topo.sql("lasilla");

    // SM runs at HQ: run 1 ended long ago, run 2 has no end, run 3 ends far in the future.
    add_run(&mut hq, 1, "SM", "HQ", Some("2024-03-31T00:00:00Z"));
    add_run(&mut hq, 2, "SM", "HQ", None);
    add_run(&mut hq, 3, "SM", "HQ", Some("2099-01-01T00:00:00Z"));
    add_obs(&mut hq, 1, &[1001, 1002, 1003, 1004, 1005]);
    add_obs(&mut hq, 2, &[2001, 2002]);
    add_obs(&mut hq, 3, &[3001]);
    // VM runs and OBs at the sites.
    add_run(&mut paranal, 5001, "VM", "PARANAL", None);
    add_obs(&mut paranal, 5001, &[500_001, 500_002, 500_003]);
    add_run(&mut lasilla, 6001, "VM", "LASILLA", None);
    add_obs(&mut lasilla, 6001, &[600_001]);

    // HQ → sites: SM OBs everywhere.
    let sm = vec![1001, 1002, 1003, 1004, 1005, 2001, 2002, 3001];
    wait_until("SM OBs at PARANAL", || ob_ids(&mut paranal, "mode = 'SM'") == sm);
    wait_until("SM OBs at LASILLA", || ob_ids(&mut lasilla, "mode = 'SM'") == sm);
    // Sites → HQ: VM OBs at HQ, each only from its own site, never to the other site or back.
    wait_until("VM OBs at HQ", || ob_ids(&mut hq, "mode = 'VM'") == vec![500_001, 500_002, 500_003, 600_001]);
    topo.sync();
    assert_eq!(ob_ids(&mut lasilla, "mode = 'VM'"), vec![600_001], "PARANAL's VM OBs must not reach LASILLA");
    assert_eq!(ob_ids(&mut paranal, "mode = 'VM'"), vec![500_001, 500_002, 500_003]);
    let runs_at_lasilla: i64 = lasilla.query_one("SELECT count(*) FROM obs_run", &[]).unwrap().get(0);
    assert_eq!(runs_at_lasilla, 4, "3 SM runs from HQ plus LASILLA's own VM run");

    // Updates flow too, each from its owner.
    paranal.execute("UPDATE ob SET status = 'C', grade = 'A' WHERE ob_id = 500002", &[]).unwrap();
    hq.execute("UPDATE ob SET status = '+' WHERE ob_id = 3001", &[]).unwrap();
    wait_until("VM update at HQ", || {
        let r = hq.query_one("SELECT status::text, version FROM ob WHERE ob_id = 500002", &[]).unwrap();
        r.get::<_, String>(0) == "C" && r.get::<_, i64>(1) == 2
    });
    wait_until("SM update at LASILLA", || {
        lasilla.query_one("SELECT status::text FROM ob WHERE ob_id = 3001", &[]).unwrap().get::<_, String>(0) == "+"
    });

    // VM archiving at PARANAL: dry run reports and changes nothing; the real run empties the
    // site's VM OBs, and HQ keeps its copies.
    let month_ahead = as_of(&topo, 45);
    let dry = topo.asto_json(&["archive", "vm", "--site", "PARANAL", "--as-of", &month_ahead, "--dry-run"]);
    assert_eq!(json_ids(&dry[0]["obs"]), vec![500_001, 500_002, 500_003]);
    assert_eq!(ob_ids(&mut paranal, "mode = 'VM'").len(), 3, "a dry run changes nothing");
    let done = topo.asto_json(&["archive", "vm", "--site", "PARANAL", "--as-of", &month_ahead]);
    assert_eq!(json_ids(&done[0]["obs"]), vec![500_001, 500_002, 500_003]);
    assert!(ob_ids(&mut paranal, "mode = 'VM'").is_empty());
    topo.sync();
    assert_eq!(
        ob_ids(&mut hq, "mode = 'VM' AND site = 'PARANAL'"),
        vec![500_001, 500_002, 500_003],
        "the site purge must not delete HQ's copies"
    );
    assert_eq!(ob_ids(&mut lasilla, "mode = 'VM'"), vec![600_001], "VM archiving of one site leaves the others alone");

    // A stale SM copy at LASILLA that HQ no longer has (written behind replication's back):
    // only the site's own procedure, run by the replicated invocation, removes it.
    lasilla
        .batch_execute(
            "SET session_replication_role = replica;
             INSERT INTO ob (ob_id, run_id, mode, site, status, last_changed) VALUES (1999, 1, 'SM', 'HQ', 'C', '2024-01-01');
             SET session_replication_role = origin;",
        )
        .unwrap();

    // SM archiving at HQ, 19 months ahead: runs 1 and 2 are old, run 3 is still valid.
    let later = as_of(&topo, 19 * 31);
    let dry = topo.asto_json(&["archive", "sm", "--as-of", &later, "--dry-run"]);
    assert_eq!(json_ids(&dry["obs"]), vec![1001, 1002, 1003, 1004, 1005, 2001, 2002]);
    let history: i64 = hq.query_one("SELECT count(*) FROM ob_history", &[]).unwrap().get(0);
    assert_eq!(history, 0, "a dry run moves nothing");
    let done = topo.asto_json(&["archive", "sm", "--as-of", &later, "--wait", "30"]);
    assert_eq!(json_ids(&done["obs"]), vec![1001, 1002, 1003, 1004, 1005, 2001, 2002]);
    assert_eq!(ob_ids(&mut hq, "mode = 'SM'"), vec![3001]);
    let history: Vec<i64> =
        hq.query("SELECT ob_id FROM ob_history ORDER BY 1", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(history, vec![1001, 1002, 1003, 1004, 1005, 2001, 2002]);
    for (name, site) in [("PARANAL", &mut paranal), ("LASILLA", &mut lasilla)] {
        wait_until(&format!("archive call run at {name}"), || {
            site.query_opt("SELECT 1 FROM rpc_log WHERE proc = 'archive_sm' AND outcome = 'ok'", &[]).unwrap().is_some()
        });
        assert_eq!(ob_ids(site, "mode = 'SM'"), vec![3001], "{name} keeps only operational SM OBs");
    }
    let removed_stale: i64 = lasilla
        .query_one("SELECT rows_affected FROM rpc_log WHERE proc = 'archive_sm'", &[])
        .unwrap()
        .get(0);
    assert_eq!(removed_stale, 1, "LASILLA's local procedure removed its stale copy");
    let at_hq: i64 = hq
        .query_one("SELECT count(*) FROM rpc_log WHERE proc = 'archive_sm' AND rows_affected = 7", &[])
        .unwrap()
        .get(0);
    assert_eq!(at_hq, 1);

    // Recovery: bad ids are refused as a whole, nothing moves; good ones return to operations
    // at HQ and replicate to the sites.
    let out = topo.asto(&["recover", "1003", "77"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not in the historical repository: OB 77"), "{err}");
    assert!(ob_ids(&mut hq, "ob_id = 1003").is_empty(), "a refused recovery moves nothing");
    let out = topo.asto(&["recover", "3001"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("3001"), "an operational OB is not in the history");
    let rec = topo.asto_json(&["recover", "1003", "2001"]);
    assert_eq!(json_ids(&rec["obs"]), vec![1003, 2001]);
    assert_eq!(ob_ids(&mut hq, "mode = 'SM'"), vec![1003, 2001, 3001]);
    wait_until("recovered OBs at PARANAL", || ob_ids(&mut paranal, "mode = 'SM'") == vec![1003, 2001, 3001]);
    wait_until("recovered OBs at LASILLA", || ob_ids(&mut lasilla, "mode = 'SM'") == vec![1003, 2001, 3001]);
    let version: i64 = paranal.query_one("SELECT version FROM ob WHERE ob_id = 1003", &[]).unwrap().get(0);
    assert_eq!(version, 2, "a recovered OB carries a new version");

    // Both rules hold after all of this.
    let check = topo.asto_json(&["check"]);
    assert_eq!(check["consistent"], true, "{check:#}");
    assert_eq!(check["rules"].as_array().unwrap().len(), 4);
    let status = topo.asto(&["status"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stdout));
}

#[test]
fn bad_data_and_changes_of_mode_or_site_are_refused() {
    let topo = Topology::start(2);
    // init waited for the initial copy: the topology is live and healthy at once.
    let status = topo.asto(&["status"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stdout));
    let mut hq = topo.sql("hq");
    let mut paranal = topo.sql("paranal");
    add_run(&mut hq, 1, "SM", "HQ", None);
    add_obs(&mut hq, 1, &[10]);
    add_run(&mut paranal, 7, "VM", "PARANAL", None);
    add_obs(&mut paranal, 7, &[70]);
    topo.sync();

    let refused = |c: &mut postgres::Client, sql: &str, needle: &str| {
        let e = c.batch_execute(sql).expect_err(sql);
        let msg = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| e.to_string());
        assert!(msg.contains(needle), "{sql}: {msg:?} does not mention {needle:?}");
    };
    let base = "INSERT INTO ob (ob_id, run_id, mode, site, status";
    refused(&mut hq, &format!("{base}) VALUES (11, 1, 'SM', 'HQ', 'Q')"), "status Q is not a p2 OB status");
    refused(&mut hq, &format!("{base}, grade) VALUES (11, 1, 'SM', 'HQ', 'P', 'Z')"), "grade Z is not a p2 grade");
    refused(&mut hq, &format!("{base}, execution_time_s) VALUES (11, 1, 'SM', 'HQ', 'P', 7200)"), "may not exceed 1 h");
    refused(&mut hq, &format!("{base}, target) VALUES (11, 1, 'SM', 'HQ', 'P', '{{\"ra\": \"25:00:00\"}}')"), "target ra 25:00:00");
    refused(&mut hq, &format!("{base}, target) VALUES (11, 1, 'SM', 'HQ', 'P', '{{\"dec\": \"+95:00:00\"}}')"), "target dec +95:00:00");
    refused(&mut hq, &format!("{base}) VALUES (11, 99, 'SM', 'HQ', 'P')"), "run 99 does not exist");
    refused(&mut hq, &format!("{base}) VALUES (11, 1, 'SM', 'PARANAL', 'P')"), "service-mode OB belongs to HQ");
    refused(&mut hq, &format!("{base}) VALUES (-5, 1, 'SM', 'HQ', 'P')"), "positive number");
    refused(&mut hq, "INSERT INTO obs_run (run_id, prog_id, mode, site) VALUES (8, 'x', 'VM', 'PARANAL')", "owned by PARANAL");
    refused(&mut paranal, &format!("{base}) VALUES (71, 1, 'SM', 'HQ', 'P')"), "owned by HQ");
    // Mode and site never change, at HQ or at a site; nor may a site edit HQ's OBs.
    refused(&mut hq, "UPDATE ob SET mode = 'VM', site = 'PARANAL' WHERE ob_id = 10", "mode and site never change");
    refused(&mut paranal, "UPDATE ob SET site = 'LASILLA' WHERE ob_id = 70", "mode and site never change");
    refused(&mut hq, "UPDATE obs_run SET mode = 'VM' WHERE run_id = 1", "never change after creation");
    refused(&mut paranal, "UPDATE ob SET status = 'C' WHERE ob_id = 10", "OB 10 is owned by HQ");
    refused(&mut hq, "DELETE FROM ob WHERE ob_id = 70", "OB 70 is owned by PARANAL");
    refused(&mut paranal, "INSERT INTO rpc_call (origin, target, proc) VALUES ('PARANAL', 'ALL', 'archive_sm')", "written at HQ only");
    refused(&mut hq, "INSERT INTO rpc_call (origin, target, proc, args) VALUES ('HQ', 'ALL', 'archive_sm', '{\"cutoff\": \"soon\"}')", "needs args.cutoff as a time, got soon");
    refused(&mut hq, "INSERT INTO rpc_call (origin, target, proc) VALUES ('HQ', 'ALL', 'drop_everything')", "not one the sites run");
    assert_eq!(ob_ids(&mut hq, "true"), vec![10, 70], "nothing refused was written");

    // A bad call that slips past HQ's guard fails at the sites without stopping replication,
    // and the status names it.
    hq.batch_execute(
        "SET session_replication_role = replica;
         INSERT INTO rpc_call (origin, target, proc, args) VALUES ('HQ', 'PARANAL', 'archive_sm', '{\"cutoff\": \"soon\"}');
         SET session_replication_role = origin;",
    )
    .unwrap();
    add_obs(&mut hq, 1, &[12]);
    wait_until("OB 12 at PARANAL after the bad call", || ob_ids(&mut paranal, "ob_id = 12") == vec![12]);
    let outcome: String = paranal.query_one("SELECT outcome FROM rpc_log WHERE proc = 'archive_sm'", &[]).unwrap().get(0);
    assert!(outcome.starts_with("failed: invalid input syntax for type timestamp"), "{outcome}");
    let out = topo.asto(&["--json", "status"]);
    assert_eq!(out.status.code(), Some(2));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = status["nodes"][1]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("archive_sm call ") && error.contains("failed: invalid input syntax"), "{status:#}");
    let lasilla_calls: i64 = topo.sql("lasilla").query_one("SELECT count(*) FROM rpc_log", &[]).unwrap().get(0);
    assert_eq!(lasilla_calls, 0, "a call aimed at PARANAL is ignored at LASILLA");

    // Bad command-line input names the problem.
    let bad = |args: &[&str], needle: &str| {
        let out = topo.asto(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle), "{args:?}: {err}");
    };
    bad(&["archive", "sm", "--as-of", "next tuesday"], "\"next tuesday\" is not a date");
    bad(&["archive", "vm", "--site", "ARMAZONES"], "unknown site \"ARMAZONES\"");
    bad(&["check", "--site", "ARMAZONES"], "unknown site \"ARMAZONES\"");
    bad(&["recover", "0"], "positive number");

    // init is idempotent, and refuses a configuration that swaps the nodes' databases.
    let again = topo.asto_json(&["init"]);
    assert!(again["subscriptions_created"].as_array().unwrap().is_empty(), "{again:#}");
    assert!(again["nodes"].as_array().unwrap().iter().all(|n| n["migrations_applied"].as_array().unwrap().is_empty()));
    let text = std::fs::read_to_string(&topo.config).unwrap();
    let swapped = text.replace("name = \"PARANAL\"", "name = \"TMP\"").replace("name = \"LASILLA\"", "name = \"PARANAL\"").replace("name = \"TMP\"", "name = \"LASILLA\"");
    let swapped_path = topo.dir().join("swapped.toml");
    std::fs::write(&swapped_path, swapped).unwrap();
    let out = asto_tests::asto(["ob", "init", "--config"]).arg(&swapped_path).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("initialised as node PARANAL"), "{err}");
}
