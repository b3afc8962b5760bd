//! The API over HTTPS with client certificates: a CA, a controller certificate and an agent
//! certificate made with the real `openssl` tool; the controller refuses callers without a
//! certificate from that CA (and plain HTTP), while an agent and the CLI with theirs work — the
//! agent writes and verifies a copy through it.

use std::path::Path;
use std::process::{Command, Stdio};

use asto_tests::api::{ADMIN, HOST_A, Proc, start, wait_for, with_api_and};
use asto_tests::{Workspace, sample_files};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `ca.pem`, `server.pem`/`server.key` (for 127.0.0.1) and `client.pem`/`client.key` in `dir`.
fn certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(dir, &[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=asto test CA"]].concat());
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for who in ["server", "client"] {
        let key = format!("{who}.key");
        let csr = format!("{who}.csr");
        let pem = format!("{who}.pem");
        let ext = format!("{who}.ext");
        openssl(dir, &[&["req"][..], &ec, &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={who}")]].concat());
        openssl(dir, &["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", &pem, "-days", "2", "-extfile", &ext]);
    }
}

/// curl against the controller; returns (exit status success, body).
fn curl(url: &str, extra: &[&str]) -> (bool, String) {
    let out = Command::new("curl").args(["-s", "-S", "-H", &format!("Authorization: Bearer {ADMIN}")]).args(extra).arg(url).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn client_certificates_are_required_and_an_agent_with_one_writes_through_https() {
    let ws = Workspace::new(&[]);
    let root = ws.root();
    let tls = root.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    certificates(&tls);
    let mut text = std::fs::read_to_string(&ws.config).unwrap();
    text.push_str("\n[[device]]\nname = \"ta0\"\nkind = \"tape\"\nbackend = \"sim\"\ndir = \"sim/ta0\"\nagent = \"hostA\"\n");
    text.push_str("\n[[group]]\nname = \"remote\"\ndevices = [\"ta0\"]\nmedia = [\"LTO-6\"]\n");
    text.push_str("\n[class.remote]\nmedia = \"LTO-6\"\ncopies = 1\ngroup = \"remote\"\n");
    std::fs::write(&ws.config, text).unwrap();
    with_api_and(
        &ws,
        &format!(
            "tls_cert = \"tls/server.pem\"\ntls_key = \"tls/server.key\"\nclient_ca = \"tls/ca.pem\"\n\
             [[api.token]]\nname = \"hostA\"\nrole = \"agent\"\ntoken = \"{HOST_A}\"\n"
        ),
    );
    let src = sample_files(ws.dir.path(), "src/night", 6, 100_000, 41);
    ws.ok(["ingest", "--class", "remote", src.to_str().unwrap()]);
    let c = start(&ws);
    let https = c.url.replace("http://", "https://");
    let ca = tls.join("ca.pem");
    let (cert, key) = (tls.join("client.pem"), tls.join("client.key"));
    let ca_arg = ["--cacert", ca.to_str().unwrap()];
    let with_cert = [&ca_arg[..], &["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]].concat();

    // Without a client certificate the handshake fails; plain HTTP gets nothing either.
    let (ok, said) = curl(&format!("{https}/v1/requests"), &ca_arg);
    assert!(!ok, "a caller without a certificate got in: {said}");
    let (ok, said) = curl(&format!("{}/v1/requests", c.url), &[]);
    assert!(!ok || !said.contains('['), "plain HTTP was served: {said}");
    // With one, the token still decides.
    let (ok, said) = curl(&format!("{https}/v1/requests"), &with_cert);
    assert!(ok && said.starts_with('['), "{said}");

    // The CLI with its certificate.
    let out = ws
        .cmd(["request", "flush", "remote", "--controller", &https, "--token", ADMIN, "--json"])
        .args(["--ca-file", ca.to_str().unwrap(), "--client-cert", cert.to_str().unwrap(), "--client-key", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let flushed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = flushed["id"].as_i64().unwrap();

    // An agent with its certificate leases the write and the verification over HTTPS.
    let agent_toml = root.join("hostA.toml");
    std::fs::write(
        &agent_toml,
        format!(
            "controller = \"{https}\"\ntoken = \"{HOST_A}\"\nmedia_stage = \"hostA/media\"\nshelf = \"{}\"\npoll_ms = 100\n\
             ca_file = \"tls/ca.pem\"\nclient_cert = \"tls/client.pem\"\nclient_key = \"tls/client.key\"\n\
             [[device]]\nname = \"ta0\"\nkind = \"tape\"\nbackend = \"sim\"\ndir = \"{}\"\nserial = \"SIM-ta0\"\n",
            root.join("sim/shelf").display(),
            root.join("sim/ta0").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(root.join("hostA.log")).unwrap();
    let _agent = Proc(asto_tests::asto(["agent", "--config", agent_toml.to_str().unwrap()]).stderr(Stdio::from(log)).stdout(Stdio::null()).spawn().unwrap());
    let conn = rusqlite::Connection::open(root.join("catalogue.db")).unwrap();
    wait_for("the request to be done", 120, || {
        let state: String = conn.query_row("SELECT state FROM requests WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        (state == "done").then_some(())
    });
    let verified: i64 = conn.query_row("SELECT count(*) FROM copies WHERE state = 'verified' AND device = 'ta0'", [], |r| r.get(0)).unwrap();
    assert_eq!(verified, 1);

    // An agent configured without the client certificate cannot even register.
    let bare = root.join("bare.toml");
    let text = std::fs::read_to_string(&agent_toml).unwrap().replace("client_cert = \"tls/client.pem\"\nclient_key = \"tls/client.key\"\n", "");
    std::fs::write(&bare, text).unwrap();
    let out = asto_tests::asto(["agent", "--config", bare.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/v1/agent/register"), "{}", String::from_utf8_lossy(&out.stderr));

    // A controller pointed at a missing key says which file, and serves nothing.
    drop(c);
    let text = std::fs::read_to_string(&ws.config).unwrap().replace("tls/server.key", "tls/missing.key");
    std::fs::write(&ws.config, text).unwrap();
    let err = ws.fails(["controller", "--listen", "127.0.0.1:0"]);
    assert!(err.contains("missing.key"), "{err}");
}
