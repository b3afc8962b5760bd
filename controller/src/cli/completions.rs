//! Shell completions and man pages, generated from the CLI definition itself so they can never
//! disagree with the binary: `asto completions SHELL` prints a completion script, `asto man DIR`
//! writes `asto.1` and one page per subcommand (`asto-request-submit.1`, …). The Debian package
//! runs both at build time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Directory to write the man pages into (created if missing).
    pub dir: PathBuf,
}

/// Print the completion script for `shell` on stdout.
pub fn completions(args: CompletionsArgs, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
    let name = cli.get_name().to_owned();
    // Into a buffer first: writing straight to stdout panics on a closed pipe (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, name, &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("writing the completion script"),
    }
}

/// Write one man page for `cmd` and, recursively, one for each visible subcommand.
fn write_pages(cmd: &clap::Command, name: &str, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let cmd = cmd.clone().name(name.to_owned()).bin_name(name.replace('-', " "));
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page).with_context(|| format!("rendering the man page of {name}"))?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

/// Write `asto.1` and the subcommands' pages into `args.dir`.
pub fn man(args: ManArgs, mut cli: clap::Command, json: bool) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    cli.build();
    let name = cli.get_name().to_owned();
    let mut written = Vec::new();
    write_pages(&cli, &name, &args.dir, &mut written)?;
    tracing::debug!(dir = %args.dir.display(), pages = written.len(), "man pages written");
    if json {
        super::output::json(&written)?;
    } else {
        println!("{} man pages in {}", written.len(), args.dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
