//! The `asto` binary against a simulated site served by `asto-hwsim` (several processes sharing
//! one library over its socket), and `asto changer --backend mtx` running an mtx program.

use std::os::unix::fs::PermissionsExt;

use asto_tests::hwsim::serve;
use asto_tests::{asto, asto_ok};

#[test]
fn cli_processes_share_a_served_library() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().display().to_string();
    let server = serve(dir.path());
    // Default site: 2 drives, 20 slots + 2 I/E, A00001L9… in slots 1–10.
    let v: serde_json::Value = serde_json::from_str(&asto_ok(["--json", "changer", "status", "--sim", &s])).unwrap();
    assert_eq!(v["slots"].as_array().unwrap().len(), 22);
    assert_eq!(v["slots"][9]["volume_tag"], "A00010L9");
    // The server holds the site; each command is a separate process talking through the socket.
    asto_ok(["changer", "load", "--sim", &s, "4", "1"]);
    let w: serde_json::Value = serde_json::from_str(&asto_ok(["--json", "tape", "weof", "--sim", &s, "--drive", "1", "2"])).unwrap();
    assert_eq!(w["file"], 2);
    let st: serde_json::Value = serde_json::from_str(&asto_ok(["--json", "tape", "status", "--sim", &s, "--drive", "1"])).unwrap();
    assert!(st["device"].as_str().unwrap().starts_with("hwsim:"), "{st}");
    assert_eq!(st["position"]["file"], 2);
    drop(server);
    // Saved on stop: without the server the CLI opens the site directly and sees the same state.
    let text = asto_ok(["changer", "status", "--sim", &s]);
    assert!(text.contains("Data Transfer Element 1:Full (Storage Element 4 Loaded):VolumeTag = A00004L9"), "{text}");
}

#[test]
fn mtx_backend_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    // Replays a capture in the mtx 1.3 layout (HERA-Team/heratape, scripts/tape_scan_to_db.py,
    // first lines) and records its arguments.
    let capture = "  Storage Changer /dev/sg25:2 Drives, 3 Slots ( 1 Import/Export )\n\
Data Transfer Element 0:Full (Storage Element 8 Loaded):VolumeTag = 042142L9\n\
Data Transfer Element 1:Empty\n      Storage Element 1:Full :VolumeTag=HER006L9\n      Storage Element 2:Empty\n      Storage Element 3 IMPORT/EXPORT:Full :VolumeTag=HER003L9\n";
    std::fs::write(dir.path().join("status.txt"), capture).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {d}/args.log\ncase \"$3\" in status) cat {d}/status.txt;; load) echo 'source Element Address 1001 is Empty' >&2; exit 1;; *) exit 0;; esac\n",
        d = dir.path().display()
    );
    let mtx = dir.path().join("mtx");
    std::fs::write(&mtx, script).unwrap();
    std::fs::set_permissions(&mtx, std::fs::Permissions::from_mode(0o755)).unwrap();
    let m = mtx.display().to_string();
    let v: serde_json::Value = serde_json::from_str(&asto_ok(["--json", "changer", "status", "--device", "/dev/sg25", "--backend", "mtx", "--mtx", &m])).unwrap();
    assert_eq!(v["drives"][0]["volume_tag"], "042142L9");
    assert_eq!(v["slots"][2]["kind"], "import_export");
    asto_ok(["changer", "transfer", "--device", "/dev/sg25", "--backend", "mtx", "--mtx", &m, "1", "2"]);
    let out = asto(["changer", "load", "--device", "/dev/sg25", "--backend", "mtx", "--mtx", &m, "2", "1"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));
    let log = std::fs::read_to_string(dir.path().join("args.log")).unwrap();
    assert_eq!(log.lines().collect::<Vec<_>>(), ["-f /dev/sg25 status", "-f /dev/sg25 transfer 1 2", "-f /dev/sg25 load 2 1"]);
}
