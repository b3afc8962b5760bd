//! `asto config check`: load the configuration the way the daemons do, then look at what only the
//! host can tell — whether the directories it names can be used — and report every problem with
//! the file and the key, so an operator fixes them all in one pass instead of one per restart.
//!
//! Loading stops at the first structural error (later checks depend on earlier ones, e.g. a
//! group's devices on the device list); the path checks and the `[ob]` table are then checked
//! independently and all their problems reported.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nix::unistd::AccessFlags;
use serde::Serialize;

use super::context::ConfigArg;
use crate::config::{Backend, Config, StageKind};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `asto config …`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Load and check the configuration; report every error with its file and key.
    Check(Args),
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// The key, as written in the file (`stages.media.path`); empty when the loader's message
    /// names it itself.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "configuration {}: {}", self.file.display(), self.message)
        } else {
            write!(f, "configuration {}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

/// This process's user id (the owner of `/proc/self`), for messages.
pub fn uid() -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid().to_string()).unwrap_or_else(|_| "unknown".into())
}

/// Why a directory that must be writable (or creatable) is not.
pub fn directory_problem(dir: &Path) -> Option<String> {
    if dir.exists() {
        if !dir.is_dir() {
            return Some(format!("{} exists and is not a directory", dir.display()));
        }
        if nix::unistd::access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_err() {
            return Some(format!("{} is not writable by this user (uid {})", dir.display(), super::config_check::uid()));
        }
        return None;
    }
    // It will be created: the nearest existing ancestor must be a writable directory.
    let mut ancestor = dir.parent();
    while let Some(a) = ancestor {
        if a.exists() {
            if !a.is_dir() {
                return Some(format!("{} cannot be created: {} is not a directory", dir.display(), a.display()));
            }
            if nix::unistd::access(a, AccessFlags::W_OK | AccessFlags::X_OK).is_err() {
                return Some(format!("{} cannot be created: {} is not writable by this user (uid {})", dir.display(), a.display(), super::config_check::uid()));
            }
            return None;
        }
        ancestor = a.parent();
    }
    Some(format!("{} cannot be created: no existing parent directory", dir.display()))
}

/// Problems with the paths of a loaded configuration: data stages, the catalogue, the simulated
/// shelf and device directories.
pub fn path_problems(config: &Config) -> Vec<Problem> {
    let problem = |key: String, message: String| Problem { file: config.file.clone(), key, message };
    let mut out = Vec::new();
    for kind in [StageKind::Archive, StageKind::User, StageKind::Media] {
        if let Some(m) = directory_problem(&config.stages.get(kind).path) {
            out.push(problem(format!("stages.{}.path", kind.as_str()), m));
        }
    }
    match config.catalogue.parent() {
        Some(parent) if !parent.is_dir() => {
            out.push(problem("catalogue".into(), format!("the catalogue's directory {} does not exist (or is not a directory)", parent.display())))
        }
        Some(parent) if !config.catalogue.exists() => {
            if let Some(m) = directory_problem(parent) {
                out.push(problem("catalogue".into(), format!("the catalogue cannot be created: {m}")));
            }
        }
        _ => {}
    }
    if config.catalogue.exists() && !config.catalogue.is_file() {
        out.push(problem("catalogue".into(), format!("{} is not a regular file", config.catalogue.display())));
    }
    if let Some(m) = config.sim.as_ref().and_then(|sim| directory_problem(&sim.shelf)) {
        out.push(problem("sim.shelf".into(), m));
    }
    for (i, d) in config.devices.iter().enumerate() {
        if let (Backend::Sim, Some(dir)) = (d.backend, &d.dir)
            && let Some(m) = directory_problem(dir)
        {
            out.push(problem(format!("device[{i}].dir"), format!("{m} (device '{}')", d.name)));
        }
    }
    out
}

/// Every problem with the configuration file at `path`.
pub fn check(path: &Path) -> (Option<Config>, Vec<Problem>) {
    let mut problems = Vec::new();
    let config = match Config::load(path) {
        Ok(c) => Some(c),
        Err(crate::error::Error::Config { file, message }) => {
            problems.push(Problem { file, key: String::new(), message });
            None
        }
        Err(e) => {
            problems.push(Problem { file: path.to_owned(), key: String::new(), message: e.to_string() });
            None
        }
    };
    if let Some(c) = &config {
        problems.extend(path_problems(c));
    }
    // The OB module reads its own table; check it too when present.
    if let Ok(text) = std::fs::read_to_string(path)
        && toml::from_str::<toml::Table>(&text).is_ok_and(|t| t.contains_key("ob"))
        && let Err(e) = crate::ob::config::ObConfig::parse(&text, path)
    {
        problems.push(Problem { file: path.to_owned(), key: "ob".into(), message: e.to_string() });
    }
    (config, problems)
}

#[derive(Serialize)]
struct Report<'a> {
    file: &'a Path,
    ok: bool,
    problems: &'a [Problem],
}

pub fn run(command: Command, json: bool) -> anyhow::Result<ExitCode> {
    let Command::Check(args) = command;
    let path = &args.config.config;
    let (_, problems) = check(path);
    tracing::debug!(file = %path.display(), problems = problems.len(), "configuration checked");
    if json {
        super::output::json(&Report { file: path, ok: problems.is_empty(), problems: &problems })?;
    } else if problems.is_empty() {
        println!("{}: ok", path.display());
    } else {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!("{} problem(s) in {}", problems.len(), path.display());
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_under_a_file_cannot_be_created() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let m = directory_problem(&file.join("stage")).unwrap();
        assert!(m.contains("is not a directory"), "{m}");
        assert!(directory_problem(&file).unwrap().contains("exists and is not a directory"));
        assert_eq!(directory_problem(&tmp.path().join("a/b/c")), None);
    }
}
