//! Data stages: the configured disk areas files live in until they are safely on media.
//!
//! Three distinct areas (archive, user, media) so that one cannot starve another: each has a
//! free-space reserve (and optionally a quota), and data that would eat into it is refused up
//! front with an error naming the stage. Paths inside a stage are always relative and checked:
//! `..`, absolute paths and symlinks leading outside the stage are refused.

use std::path::{Component, Path, PathBuf};

use crate::config::{Config, StageConfig, StageKind};
use crate::error::{Error, Result};

/// Check that `rel` is a plain relative path: no empty, `.` or `..` components, not absolute.
pub fn check_relative(rel: &str) -> Result<()> {
    let bad = |why: &str| Error::input(format!("path '{rel}' {why}"));
    if rel.is_empty() {
        return Err(bad("is empty"));
    }
    if rel.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    if rel.starts_with('/') {
        return Err(bad("is absolute; stage and medium paths are relative"));
    }
    for part in rel.split('/') {
        match part {
            "" => return Err(bad("has an empty component")),
            "." | ".." => return Err(bad("escapes its stage ('.' or '..' component)")),
            _ => {}
        }
    }
    Ok(())
}

/// A data stage.
#[derive(Debug, Clone)]
pub struct Stage<'a> {
    pub kind: StageKind,
    pub config: &'a StageConfig,
}

impl<'a> Stage<'a> {
    pub fn new(config: &'a Config, kind: StageKind) -> Stage<'a> {
        Stage { kind, config: config.stages.get(kind) }
    }

    pub fn root(&self) -> &Path {
        &self.config.path
    }

    /// Create the stage directory if needed.
    pub fn ensure(&self) -> Result<()> {
        std::fs::create_dir_all(self.root()).map_err(|e| Error::file(self.root(), e))
    }

    /// Absolute path of `rel`, without touching the disk.
    pub fn path(&self, rel: &str) -> Result<PathBuf> {
        check_relative(rel)?;
        Ok(self.root().join(rel))
    }

    /// Absolute path of an existing file `rel`, checked to resolve inside the stage (a symlink
    /// pointing outside is refused).
    pub fn resolve_existing(&self, rel: &str) -> Result<PathBuf> {
        let path = self.path(rel)?;
        let real = path.canonicalize().map_err(|e| Error::file(&path, e))?;
        let root = self.root().canonicalize().map_err(|e| Error::file(self.root(), e))?;
        if !real.starts_with(&root) {
            return Err(Error::input(format!(
                "'{rel}' in the {} stage resolves to {}, outside the stage",
                self.kind.as_str(),
                real.display()
            )));
        }
        Ok(path)
    }

    /// Refuse `incoming` bytes if they would eat into the reserve or exceed the quota;
    /// `used` is what the stage already holds according to the catalogue.
    pub fn check_room(&self, incoming: u64, used: u64) -> Result<()> {
        let free = free_bytes(self.root())?;
        let mut available = free.saturating_sub(self.config.reserve);
        if let Some(quota) = self.config.quota {
            available = available.min(quota.saturating_sub(used));
        }
        if incoming > available {
            return Err(Error::StageFull {
                stage: self.kind.as_str().into(),
                needed: incoming,
                available,
                reserve: self.config.reserve,
            });
        }
        Ok(())
    }
}

/// Free bytes for unprivileged users on the filesystem holding `path` (or, if it does not
/// exist yet, its nearest existing ancestor).
pub fn free_bytes(path: &Path) -> Result<u64> {
    let existing = path.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"));
    let st = nix::sys::statvfs::statvfs(existing).map_err(|e| Error::file(existing, e.into()))?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// Turn a filesystem path relative to some root into a '/'-separated stage path.
pub fn to_stage_path(rel: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(
                p.to_str().ok_or_else(|| Error::input(format!("path {} is not valid UTF-8", rel.display())))?,
            ),
            _ => return Err(Error::input(format!("path {} is not a plain relative path", rel.display()))),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_checked() {
        assert!(check_relative("night1/a.fits").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "a//b", "./a"] {
            assert!(check_relative(bad).is_err(), "{bad:?} accepted");
        }
        let e = check_relative("a/../../etc").unwrap_err().to_string();
        assert!(e.contains("escapes"), "{e}");
    }
}
