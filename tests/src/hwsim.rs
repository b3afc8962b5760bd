//! Simulated sites served by the real `asto-hwsim` binary, shared by the processes of a test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::process::{Child, Command, Stdio};

use crate::asto_bin;

/// The asto-hwsim binary of this build, built (once per test process) with the same profile as
/// the tests, like the asto binary: a stale one would miss what the tests need.
pub fn hwsim_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin_dir = asto_bin().parent().expect("binary directory").to_owned();
        let mut build = Command::new(env!("CARGO"));
        crate::as_from_a_shell(&mut build);
        build.args(["build", "--quiet", "-p", "asto-hw-sim", "--bin", "asto-hwsim"]);
        if bin_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        if let Some(target) = bin_dir.parent() {
            build.env("CARGO_TARGET_DIR", target);
        }
        assert!(build.status().expect("run cargo build").success(), "building asto-hwsim failed");
        bin_dir.join("asto-hwsim")
    })
    .clone()
}

/// A running `asto-hwsim` server; stopped with SIGTERM (saving the site) when dropped.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0.id() as i32), nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

/// Serve the site in `dir` (on `dir/hwsim.sock`); returns once the server listens.
pub fn serve(dir: &Path) -> Server {
    let mut child = Command::new(hwsim_bin()).arg("--dir").arg(dir).stdout(Stdio::piped()).spawn().expect("start asto-hwsim");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("read asto-hwsim stdout");
    assert!(line.starts_with("asto-hwsim: serving"), "{line}");
    Server(child)
}
