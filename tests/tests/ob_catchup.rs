//! Store and forward: a site that is down while HQ keeps changing (new, updated, deleted,
//! archived and recovered OBs, a replicated archive call) catches up with nothing lost when it
//! returns, and HQ catches up with a site's changes after its own outage. Meanwhile the
//! status shows the broken link and the WAL HQ retains for it — and, past the WAL limit, that
//! the site can no longer catch up.

mod ob_support;

use ob_support::{Topology, add_obs, add_run, ob_ids, wait_until};

#[test]
fn stopped_nodes_catch_up_with_nothing_lost() {
    let topo = Topology::start(4);
    let mut hq = topo.sql("hq");
    let mut lasilla = topo.sql("lasilla");
    add_run(&mut hq, 1, "SM", "HQ", Some("2024-03-31T00:00:00Z"));
    add_run(&mut hq, 3, "SM", "HQ", Some("2099-01-01T00:00:00Z"));
    add_obs(&mut hq, 1, &(1..=50).collect::<Vec<i64>>());
    add_obs(&mut hq, 3, &(100..=110).collect::<Vec<i64>>());
    {
        let mut paranal = topo.sql("paranal");
        add_run(&mut paranal, 5001, "VM", "PARANAL", None);
        add_obs(&mut paranal, 5001, &(500_001..=500_010).collect::<Vec<i64>>());
    }
    topo.sync();

    topo.stop_node("paranal");
    add_obs(&mut hq, 3, &(200..=260).collect::<Vec<i64>>());
    hq.execute("UPDATE ob SET status = 'D' WHERE ob_id BETWEEN 100 AND 105", &[]).unwrap();
    hq.execute("DELETE FROM ob WHERE ob_id = 110", &[]).unwrap();
    let later: String = hq
        .query_one("SELECT to_char((now() + interval '19 months') AT TIME ZONE 'UTC', 'YYYY-MM-DD')", &[])
        .unwrap()
        .get(0);
    let out = topo.asto(&["archive", "sm", "--as-of", &later]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = topo.asto(&["recover", "1", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    add_run(&mut lasilla, 6001, "VM", "LASILLA", None);
    add_obs(&mut lasilla, 6001, &[600_001]);

    // While PARANAL is down: the status names the broken links and HQ keeps WAL for it.
    let out = topo.asto(&["--json", "status"]);
    assert_eq!(out.status.code(), Some(2));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let link = |name: &str| status["links"].as_array().unwrap().iter().find(|l| l["subscription"] == name).unwrap().clone();
    let down = link("asto_paranal_from_hq");
    assert!(down["problem"].as_str().unwrap().contains("PARANAL: cannot connect"), "{down:#}");
    assert!(down["retained_wal_bytes"].as_i64().unwrap() > 0, "{down:#}");
    assert!(down["lag_bytes"].as_i64().unwrap() > 0, "HQ committed changes PARANAL has not confirmed: {down:#}");
    assert!(link("asto_lasilla_from_hq")["problem"].is_null());
    let out = topo.asto(&["check", "--wait", "1"]);
    assert!(!out.status.success(), "a check cannot pass with a site down");

    topo.start_node("paranal");
    let report = topo.asto_json(&["check", "--wait", "30"]);
    assert_eq!(report["consistent"], true, "{report:#}");
    let mut paranal = topo.sql("paranal");
    let expected = ob_ids(&mut hq, "mode = 'SM'");
    assert_eq!(expected.len(), 2 + 10 + 61, "recovered 1 and 2, run 3 without 110, the new 200..260");
    assert_eq!(ob_ids(&mut paranal, "mode = 'SM'"), expected);
    let drafted: i64 = paranal.query_one("SELECT count(*) FROM ob WHERE status = 'D'", &[]).unwrap().get(0);
    assert_eq!(drafted, 6);
    let calls: i64 = paranal.query_one("SELECT count(*) FROM rpc_log WHERE proc = 'archive_sm'", &[]).unwrap().get(0);
    assert_eq!(calls, 1, "the archive invocation made while PARANAL was down ran on its return");

    // The other direction: HQ down while PARANAL changes its VM OBs.
    drop(hq);
    topo.stop_node("hq");
    paranal.execute("UPDATE ob SET status = 'C' WHERE ob_id <= 500005 AND mode = 'VM'", &[]).unwrap();
    add_obs(&mut paranal, 5001, &[500_011, 500_012]);
    topo.start_node("hq");
    let mut hq = topo.sql("hq");
    wait_until("PARANAL's VM changes at HQ", || {
        hq.query_one("SELECT count(*) FILTER (WHERE status = 'C'), count(*) FROM ob WHERE site = 'PARANAL'", &[])
            .map(|r| r.get::<_, i64>(0) == 5 && r.get::<_, i64>(1) == 12)
            .unwrap_or(false)
    });
    let report = topo.asto_json(&["check", "--wait", "30"]);
    assert_eq!(report["consistent"], true, "{report:#}");
}

#[test]
fn a_site_whose_slot_lost_wal_is_reported() {
    let topo = Topology::start(5);
    let mut hq = topo.sql("hq");
    hq.batch_execute("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'").unwrap();
    hq.batch_execute("SELECT pg_reload_conf()").unwrap();
    add_run(&mut hq, 1, "SM", "HQ", None);
    topo.sync();
    topo.stop_node("paranal");
    // Three WAL segments further and a checkpoint: HQ drops the WAL PARANAL still needs.
    for id in 1..=3 {
        add_obs(&mut hq, 1, &[id]);
        hq.batch_execute("SELECT pg_switch_wal()").unwrap();
    }
    hq.batch_execute("CHECKPOINT").unwrap();
    let out = topo.asto(&["--json", "status"]);
    assert_eq!(out.status.code(), Some(2));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let link = status["links"].as_array().unwrap().iter().find(|l| l["subscription"] == "asto_paranal_from_hq").unwrap();
    assert_eq!(link["slot_wal_status"], "lost", "{link:#}");
    let problem = link["problem"].as_str().unwrap();
    assert!(problem.contains("has lost WAL its subscriber still needs") && problem.contains("re-synchronised"), "{problem}");
}
