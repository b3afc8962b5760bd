//! [`XorrisoBurner`]: the [`Burner`] seam implemented by running xorriso's cdrecord emulation
//! with the image streamed on its standard input (no image file on disk).
//!
//! Exit policy as the reference recommends: `-abort_on FAILURE`, exit 0 is success; any other
//! exit is mapped from xorriso's messages to the seam's errors ("exceeds free space" → too large,
//! write failures → medium fault). `padsize=0` because the image is sized in advance, `tsize=`
//! so the drive knows the track size before the first byte.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::output::{self, BurnEvent, MediaReport};
use crate::DeviceIdentity;
use crate::optical::{BurnError, Burner, DiscState, DiscStatus, ImageProducer, Progress};

/// Configuration of one burner.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct XorrisoConfig {
    /// The xorriso program.
    pub program: PathBuf,
    /// Drive address: `/dev/srN`, or `stdio:<path>` for a pseudo-drive.
    pub device: String,
    /// Write speed as xorriso takes it (`4d`, `6b`, `max`…); `None` = drive default.
    pub speed: Option<String>,
    /// Emulated medium size in bytes for pseudo-drives (a file has no useful capacity).
    pub capacity: Option<u64>,
    /// Address real drives through `/dev/sgN` (`-scsi_dev_family sg`): avoids the global lock
    /// of the Linux `sr` driver that serialises several burners.
    #[serde(default)]
    pub scsi_dev_family_sg: bool,
}

impl XorrisoConfig {
    /// A burner on `device` with the `xorriso` found on PATH.
    pub fn new(device: &str) -> Self {
        XorrisoConfig { program: PathBuf::from("xorriso"), device: device.to_string(), speed: None, capacity: None, scsi_dev_family_sg: false }
    }

    /// The file behind a `stdio:` pseudo-drive, or the device node of a real drive.
    pub fn path(&self) -> &Path {
        Path::new(self.device.strip_prefix("stdio:").unwrap_or(&self.device))
    }

    fn is_pseudo(&self) -> bool {
        self.device.starts_with("stdio:")
    }

    /// Options that go before any command.
    fn leading_options(&self) -> Vec<String> {
        if self.scsi_dev_family_sg { vec!["-scsi_dev_family".into(), "sg".into()] } else { Vec::new() }
    }
}

/// A burner driven through xorriso.
pub struct XorrisoBurner {
    config: XorrisoConfig,
    events: Vec<BurnEvent>,
}

/// Counts bytes into the burner, refuses more than announced, reports progress.
struct Feed<'a, W: Write> {
    inner: W,
    written: u64,
    attempted: u64,
    limit: u64,
    progress: Progress<'a>,
}

impl<W: Write> Write for Feed<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.attempted = self.written + buf.len() as u64;
        if self.attempted > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("image producer wrote more than the {} bytes announced", self.limit),
            ));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        (self.progress)(self.written);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl XorrisoBurner {
    /// A burner with `config`.
    pub fn new(config: XorrisoConfig) -> Self {
        XorrisoBurner { config, events: Vec::new() }
    }

    /// Events of the last burn (progress, problems, completion).
    pub fn last_events(&self) -> &[BurnEvent] {
        &self.events
    }

    /// The configuration.
    pub fn config(&self) -> &XorrisoConfig {
        &self.config
    }

    fn media_report(&self) -> Result<MediaReport, BurnError> {
        let out = Command::new(&self.config.program)
            .args(self.config.leading_options())
            .args(["-abort_on", "NEVER", "-outdev", &self.config.device, "-toc", "-tell_media_space"])
            .output()
            .map_err(|e| BurnError::Device(format!("cannot run {}: {e}", self.config.program.display())))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if !text.contains("Drive current:") {
            return Err(BurnError::Device(format!("{}: {}", self.config.device, super::verify::last_problem(&text))));
        }
        Ok(output::parse_media_report(&text))
    }

    fn map_failure(&self, code: Option<i32>, text: &str, image: u64, free: u64) -> BurnError {
        let problem = super::verify::last_problem(text);
        if text.contains("exceeds free space") {
            BurnError::TooLarge { image, free }
        } else if text.contains("No space left on device") || text.contains("Cannot write") || text.contains("failure with writing") {
            // The first problem is the cause; later ones only say the job failed.
            let cause = text
                .lines()
                .filter_map(output::parse_event)
                .find_map(|e| match e {
                    BurnEvent::Problem { severity, text } => Some(format!("{severity}: {text}")),
                    _ => None,
                })
                .unwrap_or(problem);
            BurnError::WriteFailed(cause)
        } else if text.contains("No drive") || text.contains("Cannot aquire drive") || text.contains("Cannot acquire drive") {
            BurnError::Device(format!("{}: {problem}", self.config.device))
        } else {
            BurnError::Device(format!("xorriso exited with {}: {problem}", code.map_or("a signal".into(), |c| c.to_string())))
        }
    }
}

impl Burner for XorrisoBurner {
    fn identity(&mut self) -> Result<DeviceIdentity, BurnError> {
        let r = self.media_report()?;
        let serial = if self.config.is_pseudo() {
            self.config.device.clone()
        } else {
            crate::scsi::sg_io::SgDevice::open(self.config.path())
                .ok()
                .and_then(|mut d| crate::scsi::inquiry::serial_number(&mut d, &crate::scsi::retry::RetryPolicy::immediate()).ok())
                .unwrap_or_default()
        };
        Ok(DeviceIdentity { vendor: r.vendor, product: r.product, revision: r.revision, serial })
    }

    fn disc_status(&mut self) -> Result<DiscStatus, BurnError> {
        let r = self.media_report()?;
        let state = r.state.ok_or(BurnError::NoMedium)?;
        let mut free = r.free_sectors.unwrap_or(0) * 2048;
        if let Some(cap) = self.config.capacity {
            let used = if state == DiscState::Blank { 0 } else { std::fs::metadata(self.config.path()).map(|m| m.len()).unwrap_or(cap) };
            free = free.min(cap.saturating_sub(used));
        }
        Ok(DiscStatus { state, free_bytes: free, profile: r.profile.unwrap_or_default() })
    }

    fn burn(&mut self, image_size: u64, producer: ImageProducer<'_>, progress: Progress<'_>) -> Result<(), BurnError> {
        let status = self.disc_status()?;
        if status.state != DiscState::Blank {
            return Err(BurnError::NotBlank(status.state));
        }
        if image_size > status.free_bytes {
            return Err(BurnError::TooLarge { image: image_size, free: status.free_bytes });
        }
        let mut args = self.config.leading_options();
        args.extend(["-abort_on", "FAILURE", "-as", "cdrecord", "-v"].iter().map(|s| s.to_string()));
        args.push(format!("dev={}", self.config.device));
        if let Some(speed) = &self.config.speed {
            args.push(format!("speed={speed}"));
        }
        args.extend(["fs=16m".to_string(), "padsize=0".to_string(), format!("tsize={image_size}"), "-".to_string()]);
        tracing::info!(device = %self.config.device, image_size, speed = ?self.config.speed, "burning with xorriso");
        let mut child = Command::new(&self.config.program)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| BurnError::Device(format!("cannot run {}: {e}", self.config.program.display())))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BurnError::Device("xorriso pipes unavailable".into()));
        };
        let device = self.config.device.clone();
        let collect = |r: Box<dyn Read + Send>, device: String| {
            std::thread::spawn(move || {
                let mut text = String::new();
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    if let Some(ev) = output::parse_event(&line) {
                        tracing::debug!(device = %device, event = ?ev, "xorriso");
                    }
                    text.push_str(&line);
                    text.push('\n');
                }
                text
            })
        };
        let err_thread = collect(Box::new(stderr), device.clone());
        let out_thread = collect(Box::new(stdout), device);
        let mut feed = Feed { inner: std::io::BufWriter::with_capacity(1 << 20, stdin), written: 0, attempted: 0, limit: image_size, progress };
        let produced = producer(&mut feed).and_then(|_| feed.flush());
        let written = feed.written.max(feed.attempted);
        let fed_ok = produced.is_ok() && written == image_size;
        if !fed_ok {
            // Abort before xorriso sees the end of its input: it must not finish a short track.
            let _ = child.kill();
        }
        drop(feed);
        let exit = child.wait()?;
        let text = format!("{}{}", out_thread.join().unwrap_or_default(), err_thread.join().unwrap_or_default());
        self.events = text.lines().filter_map(output::parse_event).collect();
        if let Err(e) = produced {
            return Err(match e.kind() {
                std::io::ErrorKind::InvalidData => BurnError::SizeMismatch { expected: image_size, got: written },
                // xorriso stopped reading: it failed, and its messages say why.
                std::io::ErrorKind::BrokenPipe => self.map_failure(exit.code(), &text, image_size, status.free_bytes),
                _ => BurnError::Io(e),
            });
        }
        if written != image_size {
            return Err(BurnError::SizeMismatch { expected: image_size, got: written });
        }
        if exit.success() && self.events.contains(&BurnEvent::Completed) {
            tracing::info!(device = %self.config.device, image_size, "burn completed");
            return Ok(());
        }
        Err(self.map_failure(exit.code(), &text, image_size, status.free_bytes))
    }

    fn read_back(&mut self, len: u64) -> Result<Box<dyn Read + '_>, BurnError> {
        let f = std::fs::File::open(self.config.path()).map_err(|e| BurnError::ReadFailed(format!("{}: {e}", self.config.device)))?;
        Ok(Box::new(f.take(len)))
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BurnError> {
        let f = std::fs::File::open(self.config.path()).map_err(|e| BurnError::ReadFailed(format!("{}: {e}", self.config.device)))?;
        f.read_exact_at(buf, offset).map_err(|e| BurnError::ReadFailed(format!("{} at byte {offset}: {e}", self.config.device)))
    }

    fn eject(&mut self) -> Result<(), BurnError> {
        if self.config.is_pseudo() {
            return Ok(());
        }
        let out = Command::new(&self.config.program)
            .args(["-outdev", &self.config.device, "-eject", "all"])
            .output()
            .map_err(|e| BurnError::Device(format!("cannot run {}: {e}", self.config.program.display())))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(BurnError::Device(super::verify::last_problem(&String::from_utf8_lossy(&out.stderr))))
        }
    }
}
