//! One external command of a tool chain: an argument vector with `{placeholder}`s, the exit
//! codes that mean success, and rules that map output text to outcomes (tools print the reason
//! of a failure; some, like xorriso's `-compare_r`, even exit 0 on a problem).
//!
//! Placeholders: `{device}`, `{device_path}` (device without a `stdio:` prefix), `{image}`,
//! `{source}`, `{volid}`, `{speed}`, `{size}` (bytes), `{sectors}` (2048-byte), `{workdir}`.
//! An unknown placeholder is a configuration error reported before anything runs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// Outcome class a step ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Ok,
    /// The medium is bad (write elsewhere).
    MediumFault,
    /// The device or tool failed.
    DeviceFault,
    /// The image does not fit the medium.
    TooLarge,
    /// The input is unusable (e.g. a file the format cannot hold).
    BadInput,
}

/// Output text → outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRule {
    /// Case-sensitive substring of stdout or stderr.
    pub contains: String,
    pub outcome: StepOutcome,
}

/// An external command template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandTemplate {
    pub argv: Vec<String>,
    #[serde(default = "default_ok_codes")]
    pub ok_exit_codes: Vec<i32>,
    /// Checked in order; the first that matches decides, even over a successful exit code.
    #[serde(default)]
    pub rules: Vec<OutputRule>,
}

fn default_ok_codes() -> Vec<i32> {
    vec![0]
}

/// Writes a step's standard input.
pub type StdinFeed<'a> = &'a mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>;

/// Values for the placeholders.
pub type Placeholders = BTreeMap<&'static str, String>;

const KNOWN: &[&str] = &["device", "device_path", "image", "source", "volid", "speed", "size", "sectors", "workdir"];

/// Result of a step that ran.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    pub outcome: StepOutcome,
    pub exit_code: Option<i32>,
    /// The line that decided the outcome, or the last line of output.
    pub detail: String,
    /// Percentages the tool printed as progress ("12.34% done").
    pub progress: Vec<f32>,
}

/// A step that could not run.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("command template is empty")]
    Empty,
    #[error("unknown placeholder {{{0}}} in command template")]
    UnknownPlaceholder(String),
    #[error("placeholder {{{0}}} has no value for this step")]
    MissingValue(String),
    #[error("unbalanced braces in template argument {0:?}")]
    Unbalanced(String),
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("I/O error feeding {program}: {source}")]
    Io { program: String, source: std::io::Error },
}

impl CommandTemplate {
    /// A template from argv with default success code 0 and no rules.
    pub fn new(argv: &[&str]) -> Self {
        CommandTemplate { argv: argv.iter().map(|s| s.to_string()).collect(), ok_exit_codes: vec![0], rules: Vec::new() }
    }

    /// Add an output rule.
    pub fn rule(mut self, contains: &str, outcome: StepOutcome) -> Self {
        self.rules.push(OutputRule { contains: contains.to_string(), outcome });
        self
    }

    /// Placeholders the template uses (validated against the known set).
    pub fn placeholders(&self) -> Result<Vec<String>, StepError> {
        let mut out = Vec::new();
        for arg in &self.argv {
            let mut rest = arg.as_str();
            while let Some(start) = rest.find('{') {
                let end = rest[start..].find('}').ok_or_else(|| StepError::Unbalanced(arg.clone()))? + start;
                let name = &rest[start + 1..end];
                if !KNOWN.contains(&name) {
                    return Err(StepError::UnknownPlaceholder(name.to_string()));
                }
                out.push(name.to_string());
                rest = &rest[end + 1..];
            }
            if rest.contains('}') {
                return Err(StepError::Unbalanced(arg.clone()));
            }
        }
        Ok(out)
    }

    /// Does the template use `{name}`?
    pub fn uses(&self, name: &str) -> bool {
        self.argv.iter().any(|a| a.contains(&format!("{{{name}}}")))
    }

    /// Expand the placeholders.
    pub fn expand(&self, values: &Placeholders) -> Result<Vec<String>, StepError> {
        if self.argv.is_empty() {
            return Err(StepError::Empty);
        }
        for name in self.placeholders()? {
            if !values.contains_key(name.as_str()) {
                return Err(StepError::MissingValue(name));
            }
        }
        Ok(self
            .argv
            .iter()
            .map(|a| values.iter().fold(a.clone(), |acc, (k, v)| acc.replace(&format!("{{{k}}}"), v)))
            .collect())
    }

    /// Run the command, optionally feeding `stdin` from `feed`, and classify the result.
    pub fn run(
        &self,
        values: &Placeholders,
        feed: Option<StdinFeed<'_>>,
    ) -> Result<StepReport, StepError> {
        let argv = self.expand(values)?;
        let program = argv[0].clone();
        tracing::info!(program = %program, args = ?&argv[1..], "running tool-chain step");
        let mut child = Command::new(&program)
            .args(&argv[1..])
            .stdin(if feed.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| StepError::Spawn { program: program.clone(), source })?;
        let reader = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut lines = Vec::new();
                if let Some(r) = r {
                    lines.extend(BufReader::new(r).lines().map_while(Result::ok));
                }
                lines
            })
        };
        let out_t = reader(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
        let err_t = reader(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
        let mut feed_error = None;
        if let (Some(feed), Some(stdin)) = (feed, child.stdin.take()) {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, stdin);
            if let Err(e) = feed(&mut w).and_then(|_| w.flush()) {
                feed_error = Some(e);
            }
        }
        if feed_error.as_ref().is_some_and(|e| e.kind() != std::io::ErrorKind::BrokenPipe) {
            let _ = child.kill();
        }
        let status = child.wait().map_err(|source| StepError::Io { program: program.clone(), source })?;
        let mut lines = out_t.join().unwrap_or_default();
        lines.extend(err_t.join().unwrap_or_default());
        if let Some(e) = feed_error.filter(|e| e.kind() != std::io::ErrorKind::BrokenPipe) {
            return Err(StepError::Io { program, source: e });
        }
        let progress = lines
            .iter()
            .filter_map(|l| l.split("% done").next().filter(|_| l.contains("% done")))
            .filter_map(|p| p.split_whitespace().last()?.parse().ok())
            .collect();
        let code = status.code();
        let rule = self.rules.iter().find_map(|r| lines.iter().find(|l| l.contains(&r.contains)).map(|l| (r.outcome, l.clone())));
        let last = lines.iter().rev().find(|l| !l.trim().is_empty()).cloned().unwrap_or_default();
        let (outcome, detail) = match (rule, code) {
            (Some((outcome, line)), _) => (outcome, line),
            (None, Some(c)) if self.ok_exit_codes.contains(&c) => (StepOutcome::Ok, last),
            (None, _) => (StepOutcome::DeviceFault, last),
        };
        Ok(StepReport { outcome, exit_code: code, detail: detail.trim().to_string(), progress })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_and_validation() {
        let t = CommandTemplate::new(&["genisoimage", "-V", "{volid}", "-o", "{image}", "{source}"]);
        let mut v = Placeholders::new();
        v.insert("volid", "ARC_0001".into());
        v.insert("image", "/w/u.iso".into());
        assert!(matches!(t.expand(&v), Err(StepError::MissingValue(n)) if n == "source"));
        v.insert("source", "/stage/u".into());
        assert_eq!(t.expand(&v).unwrap(), ["genisoimage", "-V", "ARC_0001", "-o", "/w/u.iso", "/stage/u"]);
        assert!(matches!(CommandTemplate::new(&["x", "{bogus}"]).placeholders(), Err(StepError::UnknownPlaceholder(n)) if n == "bogus"));
        assert!(matches!(CommandTemplate::new(&["x", "{image"]).placeholders(), Err(StepError::Unbalanced(_))));
        assert!(matches!(CommandTemplate::new(&[]).expand(&v), Err(StepError::Empty)));
    }

    #[test]
    fn exit_codes_and_rules_decide() {
        let v = Placeholders::new();
        let ok = CommandTemplate::new(&["sh", "-c", "echo '50.00% done, estimate finish'; exit 0"]).run(&v, None).unwrap();
        assert_eq!((ok.outcome, ok.progress.clone()), (StepOutcome::Ok, vec![50.0]));
        let fail = CommandTemplate::new(&["sh", "-c", "echo boom >&2; exit 3"]).run(&v, None).unwrap();
        assert_eq!((fail.outcome, fail.exit_code, fail.detail.as_str()), (StepOutcome::DeviceFault, Some(3), "boom"));
        // A rule wins over exit 0 (tools that report problems but exit 0).
        let t = CommandTemplate::new(&["sh", "-c", "echo 'Differences detected.'; exit 0"]).rule("Differences detected", StepOutcome::MediumFault);
        assert_eq!(t.run(&v, None).unwrap().outcome, StepOutcome::MediumFault);
        let mut feed = |w: &mut dyn Write| w.write_all(b"hello");
        let cat = CommandTemplate::new(&["sh", "-c", "test \"$(cat)\" = hello"]).run(&v, Some(&mut feed)).unwrap();
        assert_eq!(cat.outcome, StepOutcome::Ok);
        assert!(matches!(CommandTemplate::new(&["/nonexistent/tool"]).run(&v, None), Err(StepError::Spawn { .. })));
    }
}
