//! `doc/configuration.md` documents every key: a configuration that uses every key the loader
//! accepts must pass `asto config check`, and each of its keys (as the reference spells them:
//! `device[i].serial`, `class.<name>.copies`, `stages.<stage>.reserve`) must be in the document.
//! The document's own example must pass the check too.

use std::collections::BTreeSet;
use std::path::Path;

use asto_tests::asto;

fn doc() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../doc/configuration.md")).unwrap()
}

/// Every leaf key of `value`, spelled as the reference does.
fn keys(prefix: &str, value: &toml::Value, out: &mut BTreeSet<String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let name = match prefix {
                    "class" => "class.<name>".to_owned(),
                    "stages" => "stages.<stage>".to_owned(),
                    "" => k.clone(),
                    p => format!("{p}.{k}"),
                };
                let is_table_array = matches!(v, toml::Value::Array(a) if a.first().is_some_and(toml::Value::is_table));
                if is_table_array {
                    for item in v.as_array().into_iter().flatten() {
                        keys(&format!("{name}[i]"), item, out);
                    }
                } else if v.is_table() {
                    keys(&name, v, out);
                } else {
                    out.insert(name);
                }
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

const FULL: &str = r#"
catalogue = "state/catalogue.db"

[stages]
archive = { path = "stages/archive", reserve = "1MiB", quota = "1TiB" }
user = { path = "stages/user", reserve = "1MiB", quota = "1TiB" }
media = { path = "stages/media", reserve = "1MiB", quota = "1TiB" }

[units]
counter_width = 6

[tape]
record_size = "256KiB"

[[media_type]]
name = "M-DISC"
kind = "optical"
capacity = "25GB"
rewritable = false
label = "MDISC"

[[device]]
name = "tape0"
kind = "tape"
backend = "sim"
dir = "sim/tape0"
serial = "SIM-tape0"
rate = "160MB"
agent = "host-b"

[[group]]
name = "tapes"
devices = ["tape0"]
media = ["LTO-8"]

[class.raw]
media = "LTO-8"
copies = 1
group = "tapes"

[sim]
shelf = "sim/shelf"
jukebox = "sim-jukebox"
jukebox_slots = 50

[api]
listen = "127.0.0.1:7420"
lease_secs = 30
[[api.token]]
name = "host-b"
role = "agent"
token = "agent-secret-0123456789"
[[api.token]]
name = "admin"
role = "admin"
token_file = "admin.token"

[ob]
connect_timeout_s = 5
[ob.hq]
name = "HQ"
conninfo = "host=127.0.0.1 dbname=asto_ob"
[[ob.sites]]
name = "PARANAL"
conninfo = "host=127.0.0.1 port=5433 dbname=asto_ob"
[ob.archive]
sm_age_months = 18
vm_age_days = 30
[ob.check]
bucket_size = 10000
"#;

fn check(dir: &Path, text: &str) -> std::process::Output {
    let file = dir.join("asto.toml");
    std::fs::write(&file, text).unwrap();
    asto(["config", "check", "--config"]).arg(&file).output().unwrap()
}

#[test]
fn every_key_is_documented() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("state")).unwrap();
    std::fs::write(tmp.path().join("admin.token"), "admin-secret-0123456789\n").unwrap();
    let out = check(tmp.path(), FULL);
    assert!(out.status.success(), "the full configuration is refused: {}", String::from_utf8_lossy(&out.stderr));

    let mut all = BTreeSet::new();
    keys("", &toml::from_str::<toml::Value>(FULL).unwrap(), &mut all);
    assert!(all.len() >= 40, "{all:?}");
    let doc = doc();
    let missing: Vec<&String> = all.iter().filter(|k| !doc.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "doc/configuration.md does not document {missing:?}");
    // The agent's file.
    for key in ["controller", "token", "token_file", "media_stage", "shelf", "poll_ms"] {
        assert!(doc.contains(&format!("| `{key}` |")), "agent key {key} is not documented");
    }
}

#[test]
fn the_documented_example_is_valid() {
    let doc = doc();
    let start = doc.find("```toml\n").expect("an example") + "```toml\n".len();
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().display().to_string();
    std::fs::create_dir_all(tmp.path().join("var/lib/asto")).unwrap();
    std::fs::create_dir_all(tmp.path().join("etc/asto")).unwrap();
    std::fs::write(tmp.path().join("etc/asto/admin.token"), "admin-secret-0123456789\n").unwrap();
    let relocated = example.replace("\"/", &format!("\"{root}/"));
    let out = check(tmp.path(), &relocated);
    assert!(out.status.success(), "the example in doc/configuration.md is refused: {}", String::from_utf8_lossy(&out.stderr));
}
