//! The udev rules in `udev/`: udev itself parses them without a complaint (`udevadm test`, run in
//! a private mount namespace so the host's rules directories are untouched), and a syntax check
//! of our own pins down what they must do: group asto, mode 0660, a symlink by serial number
//! for changers, tape drives and burners, and every GOTO has its LABEL.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn rules_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../udev/60-asto.rules")
}

/// One `KEY{attr}OP"value"` of a rule.
#[derive(Debug)]
struct Pair {
    key: String,
    op: String,
    value: String,
}

/// Split a rule line into its pairs, as udev does: comma-separated, values double-quoted.
fn parse_line(line: &str) -> Result<Vec<Pair>, String> {
    let mut pairs = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| "=!+-:".contains(c)).ok_or_else(|| format!("no operator in {rest:?}"))?;
        let key = rest[..key_end].trim().to_owned();
        let after = &rest[key_end..];
        let op = ["==", "!=", "+=", "-=", ":=", "="].into_iter().find(|op| after.starts_with(op)).ok_or_else(|| format!("bad operator in {after:?}"))?;
        let after = after[op.len()..].trim_start();
        let body = after.strip_prefix('"').ok_or_else(|| format!("value of {key} is not quoted"))?;
        let close = body.find('"').ok_or_else(|| format!("unterminated value of {key}"))?;
        pairs.push(Pair { key, op: op.to_owned(), value: body[..close].to_owned() });
        rest = body[close + 1..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return Err(format!("expected ',' before {rest:?}"));
        }
    }
    Ok(pairs)
}

fn base_key(key: &str) -> &str {
    key.split('{').next().unwrap_or(key)
}

#[test]
fn the_rules_are_well_formed_and_do_what_the_docs_say() {
    let text = std::fs::read_to_string(rules_file()).unwrap();
    let known_match = ["ACTION", "KERNEL", "SUBSYSTEM", "SUBSYSTEMS", "ATTRS", "ATTR", "ENV", "KERNELS", "DRIVERS"];
    let known_assign = ["GROUP", "MODE", "OWNER", "SYMLINK", "ENV", "IMPORT", "GOTO", "LABEL", "TAG", "RUN"];
    let (mut gotos, mut labels) = (BTreeSet::new(), BTreeSet::new());
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let pairs = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        for p in &pairs {
            let k = base_key(&p.key);
            let ok = match p.op.as_str() {
                "==" | "!=" => known_match.contains(&k),
                _ => known_assign.contains(&k),
            };
            assert!(ok, "line {}: unexpected {}{}", n + 1, p.key, p.op);
            if k == "GOTO" {
                gotos.insert(p.value.clone());
            }
            if k == "LABEL" {
                labels.insert(p.value.clone());
            }
            if k == "MODE" {
                assert_eq!(p.value, "0660", "line {}", n + 1);
            }
            if k == "GROUP" {
                assert_eq!(p.value, "asto", "line {}", n + 1);
            }
        }
        rules.push(pairs);
    }
    assert_eq!(gotos, labels, "every GOTO needs its LABEL");
    // Permissions and a symlink by serial for each kind of device.
    for (kind, subsystem, link) in [
        ("changer", "scsi_generic", "asto/changer-$env{ID_SERIAL}"),
        ("tape", "scsi_tape", "asto/tape-$env{ID_SERIAL}"),
        ("tape", "scsi_generic", "asto/tape-$env{ID_SERIAL}-sg"),
        ("burner", "block", "asto/burner-$env{ID_SERIAL}"),
    ] {
        let has = |pred: &dyn Fn(&Pair) -> bool| rules.iter().any(|r| r.iter().any(|p| p.key == "SUBSYSTEM" && p.value.contains(subsystem)) && r.iter().any(pred));
        assert!(has(&|p| p.key == "GROUP" && p.value == "asto"), "{kind}: no group rule on {subsystem}");
        assert!(has(&|p| p.key == "SYMLINK" && p.op == "+=" && p.value == link), "{kind}: no symlink {link}");
    }
    assert!(text.contains("scsi_id --export"), "the serial number comes from scsi_id");
}

/// `udevadm test` with our rules in a private `/run/udev/rules.d` and an `/etc/group` that has
/// the asto group: every diagnostic udev prints about the file.
fn udevadm_diagnostics(rules: &Path) -> Option<(bool, Vec<String>)> {
    let tmp = tempfile::tempdir().unwrap();
    let group = tmp.path().join("group");
    let mut groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    groups.push_str("asto:x:990:\n");
    std::fs::write(&group, groups).unwrap();
    let script = format!(
        "set -e; mount -t tmpfs none /run/udev/rules.d; mount --bind {group} /etc/group; cp {rules} /run/udev/rules.d/; udevadm test /sys/class/mem/null 2>&1",
        group = group.display(),
        rules = rules.display()
    );
    std::fs::create_dir_all("/run/udev/rules.d").ok()?;
    let out = Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && !text.contains("Reading rules file") {
        return None;
    }
    let name = rules.file_name()?.to_string_lossy().into_owned();
    let read = text.lines().any(|l| l.contains("Reading rules file") && l.contains(&name));
    let diags = text.lines().filter(|l| l.contains(&format!("{name}:"))).map(str::to_owned).collect();
    Some((read, diags))
}

#[test]
fn udev_parses_the_rules_without_complaint() {
    let has_udevadm = Command::new("udevadm").arg("--version").output().is_ok_and(|o| o.status.success());
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if !has_udevadm || !root {
        // A private mount namespace needs root; the syntax test above still runs.
        eprintln!("udevadm test skipped: udevadm {has_udevadm}, root {root}");
        return;
    }
    let Some((read, diags)) = udevadm_diagnostics(&rules_file()) else {
        eprintln!("udevadm test skipped: no private mount namespace here");
        return;
    };
    assert!(read, "udevadm did not read the rules file");
    assert!(diags.is_empty(), "udev complains:\n{}", diags.join("\n"));

    // The same run catches a broken rule, so the check above can fail.
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("60-asto.rules");
    std::fs::write(&broken, "SUBSYSTEM==\"scsi_tape\", GRUOP=\"asto\"\n").unwrap();
    let (_, diags) = udevadm_diagnostics(&broken).unwrap();
    assert!(diags.iter().any(|d| d.contains("GRUOP")), "{diags:?}");
}
