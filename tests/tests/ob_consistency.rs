//! The consistency check on real clusters: both rules pass after normal operation, and OBs
//! deleted, altered or added behind replication's back are reported exactly, found through
//! the differing buckets only. A replication conflict shows up in the status with its reason,
//! and replication resumes once the row is fixed.

mod ob_support;

use ob_support::{Topology, add_obs, add_run, json_nums, wait_until};

fn rule<'a>(report: &'a serde_json::Value, rule: i64, site: &str) -> &'a serde_json::Value {
    report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["rule"] == rule && r["site"] == site)
        .unwrap_or_else(|| panic!("rule {rule} for {site} in {report:#}"))
}

#[test]
fn rules_pass_then_detect_injected_divergence() {
    let topo = Topology::start_with(3, "\n[ob.check]\nbucket_size = 100\n");
    let mut hq = topo.sql("hq");
    let mut paranal = topo.sql("paranal");
    let mut lasilla = topo.sql("lasilla");
    add_run(&mut hq, 1, "SM", "HQ", None);
    add_obs(&mut hq, 1, &(1..=2000).collect::<Vec<i64>>());
    add_run(&mut paranal, 5001, "VM", "PARANAL", None);
    add_obs(&mut paranal, 5001, &(500_000..500_300).collect::<Vec<i64>>());
    add_run(&mut lasilla, 6001, "VM", "LASILLA", None);
    add_obs(&mut lasilla, 6001, &(600_000..600_100).collect::<Vec<i64>>());

    let ok = topo.asto_json(&["check", "--wait", "30"]);
    assert_eq!(ok["consistent"], true, "{ok:#}");
    let r1 = rule(&ok, 1, "PARANAL");
    assert_eq!(r1["hq_rows"], 2000);
    assert_eq!(r1["site_rows"], 2000);
    assert_eq!(r1["buckets"], 21);
    assert_eq!(rule(&ok, 2, "PARANAL")["site_rows"], 300);
    assert_eq!(rule(&ok, 2, "LASILLA")["hq_rows"], 100);

    // Behind replication's back: changes under session_replication_role = replica that no
    // publication carries (sites publish only their VM rows, HQ only SM rows, sites no deletes).
    let sneak = |c: &mut postgres::Client, sql: &str| {
        c.batch_execute(&format!("SET session_replication_role = replica; {sql}; SET session_replication_role = origin"))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    sneak(&mut paranal, "DELETE FROM ob WHERE ob_id = 150");
    sneak(&mut paranal, "INSERT INTO ob (ob_id, run_id, mode, site, status) VALUES (2500, 1, 'SM', 'HQ', 'P')");
    sneak(&mut lasilla, "UPDATE ob SET status = 'C' WHERE ob_id = 777");
    sneak(&mut hq, "DELETE FROM ob WHERE ob_id = 500123");
    sneak(&mut hq, "UPDATE ob SET name = 'tampered' WHERE ob_id = 500200");
    sneak(&mut lasilla, "DELETE FROM ob WHERE ob_id = 600050");

    let out = topo.asto(&["--json", "check", "--wait", "30"]);
    assert_eq!(out.status.code(), Some(2), "a divergence exits with 2");
    let bad: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(bad["consistent"], false);
    let r1p = rule(&bad, 1, "PARANAL");
    assert_eq!(json_nums(&r1p["only_at_hq"]), vec![150], "deleted at the site");
    assert_eq!(json_nums(&r1p["only_at_site"]), vec![2500], "added at the site");
    assert!(json_nums(&r1p["differing"]).is_empty());
    assert_eq!(r1p["buckets_differing"], 2, "only the two affected buckets are drilled into");
    let r1l = rule(&bad, 1, "LASILLA");
    assert_eq!(json_nums(&r1l["differing"]), vec![777], "altered at the site");
    assert_eq!(r1l["buckets_differing"], 1);
    let r2p = rule(&bad, 2, "PARANAL");
    assert_eq!(json_nums(&r2p["only_at_site"]), vec![500_123], "missing from HQ's repository");
    assert_eq!(json_nums(&r2p["differing"]), vec![500_200], "altered at HQ");
    let r2l = rule(&bad, 2, "LASILLA");
    assert_eq!(json_nums(&r2l["only_at_hq"]), vec![600_050], "vanished at the site without a purge");
    // The human report names them too.
    let text = String::from_utf8_lossy(&topo.asto(&["check", "--wait", "0"]).stdout).into_owned();
    assert!(text.contains("only at PARANAL: 2500") && text.contains("differing: 777") && text.contains("INCONSISTENT"), "{text}");

    // A conflict: PARANAL already has OB 3000 when HQ creates it; the apply worker stops and
    // status says why.
    sneak(&mut paranal, "INSERT INTO ob (ob_id, run_id, mode, site, status) VALUES (3000, 1, 'SM', 'HQ', 'P')");
    add_obs(&mut hq, 1, &[3000]);
    let mut status = serde_json::Value::Null;
    let conflicted = |s: &serde_json::Value| {
        s["links"].as_array().unwrap().iter().any(|l| {
            l["subscription"] == "asto_paranal_from_hq" && l["worker_running"] == false && l["apply_errors"].as_i64() >= Some(1)
        })
    };
    wait_until("the PARANAL apply worker fails", || {
        let out = topo.asto(&["--json", "status"]);
        status = serde_json::from_slice(&out.stdout).expect("JSON status");
        conflicted(&status)
    });
    assert_eq!(status["healthy"], false);
    let link = status["links"].as_array().unwrap().iter().find(|l| l["subscription"] == "asto_paranal_from_hq").unwrap();
    let problem = link["problem"].as_str().expect("a failing link has a problem");
    assert!(problem.contains("conflicts") && problem.contains("SKIP"), "{problem}");
    // Fixing the row lets the worker apply HQ's change on its next attempt.
    sneak(&mut paranal, "DELETE FROM ob WHERE ob_id = 3000");
    wait_until("HQ's OB 3000 at PARANAL", || {
        paranal.query_opt("SELECT 1 FROM ob WHERE ob_id = 3000 AND name = 'OB 3000'", &[]).unwrap().is_some()
    });
}
