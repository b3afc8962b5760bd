//! Helpers for the end-to-end tests: locate the real `asto` binary (built by the same cargo
//! invocation that builds the tests) and run it.

pub mod api;
pub mod hwsim;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Path of the `asto` binary of this build. It is (re)built once per test process with the
/// same profile: `cargo test -p asto-tests` alone would otherwise run a stale binary.
pub fn asto_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // …/target/<profile>/deps/<test-binary> → …/target/<profile>/asto
        let profile_dir = exe.parent().and_then(Path::parent).expect("target profile directory");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut build = Command::new(env!("CARGO"));
        crate::as_from_a_shell(&mut build);
        build.args(["build", "--quiet", "-p", "asto-controller", "--bin", "asto"]);
        if release {
            build.arg("--release");
        }
        if let Some(target) = profile_dir.parent() {
            build.env("CARGO_TARGET_DIR", target);
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "building the asto binary failed");
        profile_dir.join("asto")
    })
}

/// Drop the variables cargo sets for the test crate itself (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, …) from a nested `cargo build`: ring's build script reruns when they change,
/// and with the test crate's values the TLS stack would be rebuilt on every test run.
pub fn as_from_a_shell(build: &mut Command) {
    const SET_FOR_CRATES: &[&str] = &["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "CARGO_RUSTC_CURRENT_DIR"];
    for (key, _) in std::env::vars_os() {
        if let Some(k) = key.to_str()
            && SET_FOR_CRATES.iter().any(|p| k.starts_with(p))
        {
            build.env_remove(&key);
        }
    }
}

/// A `Command` for `asto` with the given arguments.
pub fn asto<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(asto_bin());
    cmd.args(args);
    cmd
}

/// Run `asto`, panicking with its output if it fails; returns stdout.
pub fn asto_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = asto(args).output().expect("spawn asto");
    assert_success(&out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Panic with stdout and stderr unless the process succeeded.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "asto failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A workspace on simulated devices, made by `asto init --sim` in a temporary directory.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Workspace {
    /// `extra` are further `asto init` options (e.g. `--tape-rate 20MB`).
    pub fn new(extra: &[&str]) -> Workspace {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path().join("ws");
        let mut args = vec!["init".to_string(), "--sim".into(), root.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = asto_ok(&args);
        let config = PathBuf::from(out.trim());
        assert!(config.exists(), "asto init printed {out}");
        Workspace { dir, config }
    }

    pub fn root(&self) -> PathBuf {
        self.config.parent().expect("workspace root").to_owned()
    }

    /// `asto <args> --config <this workspace>`.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = asto(args);
        cmd.arg("--config").arg(&self.config);
        cmd
    }

    /// Run and require success; returns stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self.cmd(args).output().expect("spawn asto");
        assert_success(&out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run with `--json` and parse stdout.
    pub fn json<I, S>(&self, args: I) -> serde_json::Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.cmd(args);
        cmd.arg("--json");
        let out = cmd.output().expect("spawn asto");
        assert_success(&out);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Run and require failure; returns stderr.
    pub fn fails<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self.cmd(args).output().expect("spawn asto");
        assert!(!out.status.success(), "expected failure, got success:\n{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// Write `n` files of pseudo-random (incompressible) bytes under `dir/<sub>/`, `size` bytes each.
pub fn sample_files(dir: &Path, sub: &str, n: usize, size: usize, seed: u64) -> PathBuf {
    let root = dir.join(sub);
    std::fs::create_dir_all(&root).expect("create sample dir");
    let mut state = seed | 1;
    for i in 0..n {
        let mut data = vec![0u8; size];
        for chunk in data.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = state.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        std::fs::write(root.join(format!("obs{i:03}.fits")), data).expect("write sample file");
    }
    root
}
