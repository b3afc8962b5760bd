//! `asto ob` configuration handling without any database: the [ob] table is found through
//! --config or ASTO_CONFIG, other tables are ignored, and bad or unreachable configurations are
//! reported with the file, the node and the problem.

use asto_tests::asto;

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("asto.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn bad_configurations_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = asto(["ob", "status", "--config", "/nonexistent/asto.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read OB configuration /nonexistent/asto.toml"));

    let p = write(dir.path(), "[controller]\nlisten = \"127.0.0.1:1\"\n");
    let out = asto(["ob", "init"]).env("ASTO_CONFIG", &p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no [ob] table") && err.contains("asto.toml"), "{err}");

    let p = write(dir.path(), "[ob.hq]\nconninfo = \"dbname=a\"\n[[ob.sites]]\nname = \"paranal\"\nconninfo = \"dbname=a\"\n");
    let out = asto(["ob", "check", "--config"]).arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("\"paranal\" must be 1-31 capital letters"), "{err}");

    let out = asto(["ob", "recover", "--config"]).arg(&p).output().unwrap();
    assert!(!out.status.success(), "recover needs OB ids");
}

#[test]
fn unreachable_nodes_are_reported_per_node() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (closed_port(), closed_port());
    let p = write(
        dir.path(),
        &format!(
            "[agent]\nname = \"x\"\n[ob.hq]\nconninfo = \"host=127.0.0.1 port={a} dbname=asto_ob connect_timeout=2\"\n\
             [[ob.sites]]\nname = \"PARANAL\"\nconninfo = \"host=127.0.0.1 port={b} dbname=asto_ob\"\n"
        ),
    );
    let out = asto(["ob", "--json", "status", "--config"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "unhealthy");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["nodes"][0]["reachable"], false);
    assert!(status["nodes"][1]["error"].as_str().unwrap().starts_with("PARANAL: cannot connect"), "{status:#}");
    let out = asto(["ob", "init", "--config"]).arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("HQ: cannot connect"), "{err}");
}
