//! Verifying written optical media with xorriso: the session MD5 recorded by `--md5` /
//! `-md5 on` (`-check_md5`), and a comparison with the source tree (`-compare_r`), which exits 0
//! even when it finds differences — so its output, not its exit value, decides.

use std::path::Path;
use std::process::Command;

use crate::optical::BurnError;

/// Result of checking the session MD5 tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Md5Outcome {
    Match,
    Mismatch,
    /// The session carries no MD5 tag (written without `--md5`).
    NoTag,
}

/// Result of comparing the medium with a source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareOutcome {
    Identical,
    /// Differences, with xorriso's lines describing them.
    Differs(Vec<String>),
}

fn run(program: &Path, args: &[&str]) -> Result<(i32, String), BurnError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| BurnError::Device(format!("cannot run {}: {e}", program.display())))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text += &String::from_utf8_lossy(&out.stderr);
    Ok((out.status.code().unwrap_or(-1), text))
}

/// Check the loaded session against its recorded MD5.
pub fn check_md5(program: &Path, device: &str) -> Result<Md5Outcome, BurnError> {
    let (code, text) = run(program, &["-md5", "on", "-abort_on", "NEVER", "-return_with", "SORRY", "32", "-indev", device, "-check_md5", "FAILURE", "--"])?;
    if text.contains("Ok, session data match recorded md5") && code == 0 {
        return Ok(Md5Outcome::Match);
    }
    if text.contains("No session MD5 is recorded") {
        return Ok(Md5Outcome::NoTag);
    }
    if text.contains("MD5 MISMATCH") {
        return Ok(Md5Outcome::Mismatch);
    }
    Err(BurnError::ReadFailed(format!("xorriso -check_md5 exited with {code}: {}", last_problem(&text))))
}

/// Compare the medium's tree with `source` (a directory on disk).
pub fn compare_tree(program: &Path, device: &str, source: &Path) -> Result<CompareOutcome, BurnError> {
    let src = source.to_string_lossy();
    let (code, text) = run(program, &["-abort_on", "NEVER", "-indev", device, "-compare_r", &src, "/"])?;
    // -compare_r raises no event on differences and exits 0: read its output.
    if text.contains("Differences detected.") {
        let lines = text.lines().filter(|l| l.starts_with("- ") || l.starts_with("+ ") || l.contains(": CONTENT")).map(str::to_string).collect();
        return Ok(CompareOutcome::Differs(lines));
    }
    if code == 0 && text.contains("Both file objects match as far as expectable") {
        return Ok(CompareOutcome::Identical);
    }
    Err(BurnError::ReadFailed(format!("xorriso -compare_r exited with {code}: {}", last_problem(&text))))
}

/// The last SORRY-or-worse message of an output, for error texts.
pub fn last_problem(text: &str) -> String {
    text.lines()
        .rev()
        .find_map(|l| match super::output::parse_event(l) {
            Some(super::output::BurnEvent::Problem { severity, text }) => Some(format!("{severity}: {text}")),
            _ => None,
        })
        .unwrap_or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string())
}
