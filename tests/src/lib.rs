//! Helpers for the end-to-end tests: locate the real `asto` binary (built by the same cargo
//! invocation that builds the tests) and run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Path of the `asto` binary of this build, building it if the test runner did not.
pub fn asto_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // …/target/<profile>/deps/<test-binary> → …/target/<profile>/asto
        let profile_dir = exe.parent().and_then(Path::parent).expect("target profile directory");
        let bin = profile_dir.join("asto");
        if !bin.exists() {
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "-p", "asto-controller", "--bin", "asto"]);
            if release {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "building the asto binary failed");
        }
        bin
    })
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
