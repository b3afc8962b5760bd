//! `asto image`: build an ISO 9660 or pax tar image of a directory, and verify an image
//! against the checksum list and manifest it carries.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use asto_images::iso::{self, IsoOptions};
use asto_images::read::{read_iso, read_tar, ReadSummary};
use asto_images::tar::{self, TarOptions};
use asto_images::{check_capacity, scan_directory, Timestamp, UnitContent, WriteSummary};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ISO 9660 level 3 with Rock Ridge and Joliet (optical media).
    Iso,
    /// POSIX pax tar in fixed-size records (tape).
    Tar,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Build an image of DIR, streamed to FILE (or stdout with `--out -`).
    Build {
        #[arg(long, value_enum)]
        format: Format,
        /// Volume ID / unit name (default: the directory's name, upper-cased).
        #[arg(long)]
        volid: Option<String>,
        /// Tar record size in bytes (64 KiB ..= 1 MiB, multiple of 512).
        #[arg(long, default_value_t = tar::DEFAULT_RECORD)]
        block_size: usize,
        /// Request name recorded in the manifest.
        #[arg(long, default_value = "manual")]
        request: String,
        /// Refuse to write an image larger than this many bytes (the medium's capacity).
        #[arg(long)]
        capacity: Option<u64>,
        /// Output file, or `-` for stdout.
        #[arg(long)]
        out: PathBuf,
        dir: PathBuf,
    },
    /// List an image and check every file against its SHA256SUMS and manifest.
    Verify {
        /// Image format (detected from the content when omitted).
        #[arg(long, value_enum)]
        format: Option<Format>,
        file: PathBuf,
    },
}

pub fn run(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Build { format, volid, block_size, request, capacity, out, dir } => {
            build(format, volid, block_size, request, capacity, &out, &dir, json)
        }
        Command::Verify { format, file } => match verify(format, &file, json) {
            // `asto image verify … | head`: a reader that stops early is not an error.
            Err(e) if e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => {
                Ok(ExitCode::SUCCESS)
            }
            other => other,
        },
    }
}

/// Creation time: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn creation_time() -> anyhow::Result<Timestamp> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: i64 = v.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number"))?;
        return Ok(Timestamp::new(secs, 0));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).context("system clock before 1970")?;
    Ok(Timestamp::new(i64::try_from(now.as_secs()).unwrap_or(i64::MAX), 0))
}

enum Plan {
    Iso(iso::IsoPlan),
    Tar(tar::TarPlan),
}

impl Plan {
    fn total(&self) -> u64 {
        match self {
            Plan::Iso(p) => p.total_bytes(),
            Plan::Tar(p) => p.total_bytes(),
        }
    }
    fn write_to(&self, out: impl Write) -> Result<WriteSummary, asto_images::ImageError> {
        match self {
            Plan::Iso(p) => p.write_to(out),
            Plan::Tar(p) => p.write_to(out),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    format: Format,
    volid: Option<String>,
    block_size: usize,
    request: String,
    capacity: Option<u64>,
    out: &Path,
    dir: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let volume_id = match volid {
        Some(v) => v,
        None => dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_uppercase()))
            .unwrap_or_else(|| "ASTO".to_owned()),
    };
    let entries = scan_directory(dir).with_context(|| format!("scanning {}", dir.display()))?;
    let unit = UnitContent { volume_id: volume_id.clone(), request, created: creation_time()?, entries };
    let plan = match format {
        Format::Iso => Plan::Iso(iso::plan(&unit, &IsoOptions::default())?),
        Format::Tar => Plan::Tar(tar::plan(&unit, &TarOptions { record_size: block_size })?),
    };
    if let Some(capacity) = capacity {
        check_capacity(plan.total(), capacity)?;
    }
    tracing::info!(volume = %volume_id, bytes = plan.total(), ?format, "building image");

    let summary = if out == Path::new("-") {
        let stdout = io::stdout().lock();
        plan.write_to(stdout).context("writing the image to stdout (the output is not a valid image)")?
    } else {
        write_file(&plan, out)?
    };
    if out != Path::new("-") {
        if json {
            let v = serde_json::json!({
                "volume_id": volume_id,
                "format": format!("{format:?}").to_lowercase(),
                "bytes": summary.bytes,
                "files": summary.files.len(),
                "image_sha256": hex::encode(summary.image_sha256),
                "out": out.display().to_string(),
            });
            println!("{v}");
        } else {
            println!(
                "{}: {} bytes, {} files, sha256 {}",
                out.display(),
                summary.bytes,
                summary.files.len(),
                hex::encode(summary.image_sha256)
            );
        }
    } else {
        eprintln!("asto: {} bytes, {} files, sha256 {}", summary.bytes, summary.files.len(), hex::encode(summary.image_sha256));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to a hidden sibling and renames it into place, so a failed build leaves nothing
/// that looks like an image.
fn write_file(plan: &Plan, out: &Path) -> anyhow::Result<WriteSummary> {
    let name = out.file_name().with_context(|| format!("{} has no file name", out.display()))?;
    let partial = out.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let result = plan.write_to(io::BufWriter::new(&file)).map_err(anyhow::Error::from).and_then(|s| {
        file.sync_all().context("syncing the image")?;
        Ok(s)
    });
    match result {
        Ok(summary) => {
            fs::rename(&partial, out).with_context(|| format!("renaming into {}", out.display()))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e.context(format!("building {} failed; nothing was written there", out.display())))
        }
    }
}

fn detect(file: &mut File) -> anyhow::Result<Format> {
    let mut head = vec![0u8; 32_774];
    let n = file.read(&mut head)?;
    let mut filled = n;
    while filled < head.len() {
        let m = file.read(&mut head[filled..])?;
        if m == 0 {
            break;
        }
        filled += m;
    }
    file.seek(SeekFrom::Start(0))?;
    if filled >= 32_774 && &head[32_769..32_774] == b"CD001" {
        return Ok(Format::Iso);
    }
    if filled >= 263 && &head[257..262] == b"ustar" {
        return Ok(Format::Tar);
    }
    bail!("neither an ISO 9660 image nor a ustar/pax tar stream")
}

fn verify(format: Option<Format>, path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let format = match format {
        Some(f) => f,
        None => detect(&mut file).with_context(|| format!("{}", path.display()))?,
    };
    let input = BufReader::with_capacity(1 << 20, file);
    let summary: ReadSummary = match format {
        Format::Iso => read_iso(input),
        Format::Tar => read_tar(input),
    }
    .with_context(|| format!("reading {}", path.display()))?;
    if json {
        let v = serde_json::json!({
            "volume_id": summary.volume_id,
            "unit": summary.manifest.as_ref().map(|m| m.unit.clone()),
            "request": summary.manifest.as_ref().map(|m| m.request.clone()),
            "files": summary.files.iter().map(|f| serde_json::json!({
                "path": f.path, "size": f.size, "sha256": hex::encode(f.sha256)
            })).collect::<Vec<_>>(),
            "problems": summary.problems,
            "ok": summary.problems.is_empty(),
        });
        println!("{v}");
    } else {
        let mut out = io::stdout().lock();
        writeln!(out, "volume: {}", summary.volume_id.as_deref().unwrap_or("-"))?;
        for f in &summary.files {
            writeln!(out, "{}  {:>12}  {:?}", hex::encode(f.sha256), f.size, f.path)?;
        }
        for p in &summary.problems {
            writeln!(out, "PROBLEM: {p}")?;
        }
        writeln!(
            out,
            "{} files, {}",
            summary.files.len(),
            if summary.problems.is_empty() { "all match SHA256SUMS and the manifest".to_owned() } else { format!("{} problems", summary.problems.len()) }
        )?;
    }
    Ok(if summary.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
