//! The systemd units and tmpfiles in `systemd/`: every unit passes `systemd-analyze verify`, the
//! daemons are `Type=notify` with a watchdog, the agent's sandbox still reaches its devices, the
//! commands the units run exist in the CLI, and the tmpfiles create state and stage directories.
//!
//! `systemd-analyze verify` checks that `ExecStart=` binaries exist, and nothing is installed in
//! `/usr/bin` on a build machine, so the units are verified in a copy whose `/usr/bin/asto` is
//! the binary of this build (and `/usr/bin/asto-hwsim` an executable stand-in).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use asto_tests::asto_bin;

fn systemd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd")
}

fn unit_files() -> Vec<PathBuf> {
    let mut units: Vec<PathBuf> = std::fs::read_dir(systemd_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service" || e == "timer"))
        .collect();
    units.sort();
    units
}

/// `key → values` of one section of a unit file (keys may repeat).
fn section(path: &Path, name: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut current = String::new();
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = s.to_owned();
        } else if current == name {
            let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("{}: malformed line {line:?}", path.display()));
            keys.entry(k.trim().to_owned()).or_default().push(v.trim().to_owned());
        }
    }
    keys
}

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    let units = unit_files();
    for expected in ["asto-controller.service", "asto-agent.service", "asto-hwsim.service", "asto-check.service", "asto-check.timer"] {
        assert!(units.iter().any(|u| u.ends_with(expected)), "systemd/{expected} is missing");
    }
    let tmp = tempfile::tempdir().unwrap();
    let stand_in = tmp.path().join("asto-hwsim");
    std::fs::write(&stand_in, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    let asto = asto_bin().display().to_string();
    let mut copies = Vec::new();
    for unit in &units {
        let text = std::fs::read_to_string(unit).unwrap();
        let text = text.replace("/usr/bin/asto-hwsim", &stand_in.display().to_string()).replace("/usr/bin/asto ", &format!("{asto} "));
        let copy = tmp.path().join(unit.file_name().unwrap());
        std::fs::write(&copy, text).unwrap();
        copies.push(copy);
    }
    for copy in &copies {
        let out = Command::new("systemd-analyze").arg("verify").arg("--man=no").arg(copy).current_dir(tmp.path()).output().expect("run systemd-analyze");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.trim().is_empty(), "systemd-analyze verify {}: {}\n{stderr}", copy.display(), out.status);
    }
}

#[test]
fn daemons_are_notify_with_a_watchdog_and_the_agent_reaches_its_devices() {
    for daemon in ["asto-controller.service", "asto-agent.service"] {
        let service = section(&systemd_dir().join(daemon), "Service");
        assert_eq!(service["Type"], ["notify"], "{daemon}");
        assert!(service.get("WatchdogSec").is_some_and(|w| w[0] != "0"), "{daemon} has no WatchdogSec");
        assert_eq!(service["User"], ["asto"], "{daemon}");
        for hardening in ["NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "DevicePolicy"] {
            assert!(service.contains_key(hardening), "{daemon} lacks {hardening}");
        }
        let allowed = &service["DeviceAllow"];
        for dev in ["char-scsi_generic rw", "char-scsi_tape rw", "block-sr rw"] {
            assert!(allowed.iter().any(|a| a == dev), "{daemon}: DeviceAllow lacks {dev}: {allowed:?}");
        }
        let groups = service["SupplementaryGroups"].join(" ");
        assert!(groups.contains("tape") && groups.contains("cdrom"), "{daemon}: {groups}");
        assert_ne!(service.get("PrivateDevices").map(|v| v[0].as_str()), Some("yes"), "{daemon} would not see /dev/sg*");
    }
    let timer = section(&systemd_dir().join("asto-check.timer"), "Timer");
    assert!(timer.contains_key("OnCalendar"), "asto-check.timer has no schedule");
}

#[test]
fn the_commands_the_units_run_exist() {
    let mut checked = 0;
    for unit in unit_files() {
        for exec in section(&unit, "Service").get("ExecStart").into_iter().flatten().chain(section(&unit, "Service").get("ExecStartPre").into_iter().flatten())
            .chain(section(&unit, "Service").get("ExecStartPost").into_iter().flatten()) {
            let Some(rest) = exec.strip_prefix("/usr/bin/asto ") else { continue };
            let words: Vec<&str> = rest.split_whitespace().take_while(|w| !w.starts_with('-')).collect();
            let mut args = words.clone();
            args.push("--help");
            let out = Command::new(asto_bin()).args(&args).output().unwrap();
            assert!(out.status.success(), "{}: `asto {}` does not exist: {}", unit.display(), words.join(" "), String::from_utf8_lossy(&out.stderr));
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} commands checked");
}

#[test]
fn tmpfiles_create_state_and_stage_directories() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    // The package's postinst creates the user and group; here they live in the test root.
    std::fs::write(root.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nasto:x:990:990::/var/lib/asto:/usr/sbin/nologin\n").unwrap();
    std::fs::write(root.path().join("etc/group"), "root:x:0:\nasto:x:990:\n").unwrap();
    let out = Command::new("systemd-tmpfiles")
        .arg(format!("--root={}", root.path().display()))
        .arg("--create")
        .arg(systemd_dir().join("asto.conf"))
        .output()
        .expect("run systemd-tmpfiles");
    assert!(out.status.success(), "systemd-tmpfiles: {}", String::from_utf8_lossy(&out.stderr));
    for dir in ["etc/asto", "var/lib/asto", "srv/asto/stage/archive", "srv/asto/stage/user", "srv/asto/stage/media"] {
        let meta = std::fs::metadata(root.path().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert!(meta.is_dir(), "{dir}");
        assert_eq!(meta.permissions().mode() & 0o777, 0o750, "{dir}");
    }
}
