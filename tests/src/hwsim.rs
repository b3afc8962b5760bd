//! Simulated sites served by the real `asto-hwsim` binary, shared by the processes of a test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::asto_bin;

/// The asto-hwsim binary of this build (built on demand, like the asto binary).
pub fn hwsim_bin() -> PathBuf {
    let bin = asto_bin().with_file_name("asto-hwsim");
    if !bin.exists() {
        let release = asto_bin().parent().and_then(|p| p.file_name()).is_some_and(|n| n == "release");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "-p", "asto-hw-sim", "--bin", "asto-hwsim"]);
        if release {
            build.arg("--release");
        }
        assert!(build.status().expect("run cargo build").success(), "building asto-hwsim failed");
    }
    bin
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
