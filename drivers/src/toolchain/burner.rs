//! [`TemplateBurner`]: a [`Burner`] whose writing (and optional preparation) is done by external
//! commands from templates. A write template that names `{image}` gets the image as a file in the
//! work directory (removed afterwards); one that does not gets it streamed on standard input.

use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::template::{CommandTemplate, Placeholders, StepError, StepOutcome, StepReport};
use crate::DeviceIdentity;
use crate::optical::{BurnError, Burner, DiscState, DiscStatus, ImageProducer, Progress};

/// Configuration of a template-driven burner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBurnerConfig {
    /// Device address handed to `{device}` (`/dev/sr0`, `stdio:/path`, …).
    pub device: String,
    /// Writing step.
    pub write: CommandTemplate,
    /// Optional preparation step (image from a source tree: `{source}`, `{volid}`, `{image}`).
    #[serde(default)]
    pub prepare: Option<CommandTemplate>,
    /// Where images are staged when a step needs a file.
    pub workdir: PathBuf,
    /// Medium capacity in bytes (the tools cannot be asked generically).
    pub capacity: u64,
    #[serde(default)]
    pub speed: Option<String>,
}

/// A burner driven by command templates.
pub struct TemplateBurner {
    config: TemplateBurnerConfig,
    last: Option<StepReport>,
}

fn step_error(e: StepError) -> BurnError {
    BurnError::Device(e.to_string())
}

impl TemplateBurner {
    pub fn new(config: TemplateBurnerConfig) -> Self {
        TemplateBurner { config, last: None }
    }

    /// Report of the last step that ran.
    pub fn last_report(&self) -> Option<&StepReport> {
        self.last.as_ref()
    }

    fn device_path(&self) -> &Path {
        Path::new(self.config.device.strip_prefix("stdio:").unwrap_or(&self.config.device))
    }

    fn values(&self) -> Placeholders {
        let mut v = Placeholders::new();
        v.insert("device", self.config.device.clone());
        v.insert("device_path", self.device_path().display().to_string());
        v.insert("workdir", self.config.workdir.display().to_string());
        v.insert("speed", self.config.speed.clone().unwrap_or_else(|| "0".into()));
        v
    }

    fn judge(&mut self, report: StepReport, image: u64) -> Result<(), BurnError> {
        let detail = if report.detail.is_empty() { format!("exit code {:?}", report.exit_code) } else { report.detail.clone() };
        let r = match report.outcome {
            StepOutcome::Ok => Ok(()),
            StepOutcome::MediumFault => Err(BurnError::WriteFailed(detail)),
            StepOutcome::TooLarge => Err(BurnError::TooLarge { image, free: self.config.capacity }),
            StepOutcome::DeviceFault => Err(BurnError::Device(detail)),
            StepOutcome::BadInput => Err(BurnError::Device(format!("unusable input: {detail}"))),
        };
        self.last = Some(report);
        r
    }

    /// Run the preparation step: build an image of `source` with volume id `volid`; returns the
    /// image path (in the work directory) and its size.
    pub fn prepare(&mut self, source: &Path, volid: &str) -> Result<(PathBuf, u64), BurnError> {
        let Some(t) = self.config.prepare.clone() else {
            return Err(BurnError::Device("this tool chain has no preparation step".into()));
        };
        std::fs::create_dir_all(&self.config.workdir)?;
        let image = self.config.workdir.join(format!("{volid}.iso"));
        let mut v = self.values();
        v.insert("source", source.display().to_string());
        v.insert("volid", volid.to_string());
        v.insert("image", image.display().to_string());
        let report = t.run(&v, None).map_err(step_error)?;
        if report.outcome != StepOutcome::Ok {
            let _ = std::fs::remove_file(&image);
        }
        self.judge(report, 0)?;
        let size = std::fs::metadata(&image).map_err(|e| BurnError::Device(format!("preparation produced no image at {}: {e}", image.display())))?.len();
        Ok((image, size))
    }

    /// Write a prepared image file.
    pub fn write_image(&mut self, image: &Path) -> Result<(), BurnError> {
        let size = std::fs::metadata(image)?.len();
        let mut producer = |w: &mut dyn Write| -> std::io::Result<()> {
            std::io::copy(&mut std::fs::File::open(image)?, w).map(|_| ())
        };
        self.burn(size, &mut producer, &mut |_| {})
    }
}

impl Burner for TemplateBurner {
    fn identity(&mut self) -> Result<DeviceIdentity, BurnError> {
        let program = self.config.write.argv.first().cloned().unwrap_or_default();
        Ok(DeviceIdentity { vendor: "external".into(), product: program, revision: String::new(), serial: self.config.device.clone() })
    }

    fn disc_status(&mut self) -> Result<DiscStatus, BurnError> {
        let used = match std::fs::metadata(self.device_path()) {
            Ok(m) if m.is_file() => m.len(),
            _ => 0,
        };
        let state = if used == 0 { DiscState::Blank } else { DiscState::Closed };
        Ok(DiscStatus { state, free_bytes: self.config.capacity.saturating_sub(used), profile: "external tool chain".into() })
    }

    fn burn(&mut self, image_size: u64, producer: ImageProducer<'_>, progress: Progress<'_>) -> Result<(), BurnError> {
        let status = self.disc_status()?;
        if status.state != DiscState::Blank {
            return Err(BurnError::NotBlank(status.state));
        }
        if image_size > status.free_bytes {
            return Err(BurnError::TooLarge { image: image_size, free: status.free_bytes });
        }
        let t = self.config.write.clone();
        let mut v = self.values();
        v.insert("size", image_size.to_string());
        v.insert("sectors", image_size.div_ceil(2048).to_string());
        let written = std::cell::Cell::new(0u64);
        let mut counting = |w: &mut dyn Write| -> std::io::Result<()> {
            let mut c = Counting { inner: w, n: &written, limit: image_size, progress: &mut *progress };
            producer(&mut c)?;
            if written.get() != image_size {
                // Fail the feed so the tool is stopped before it sees a clean end of input.
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "image producer delivered fewer bytes than announced"));
            }
            Ok(())
        };
        let report = if t.uses("image") {
            std::fs::create_dir_all(&self.config.workdir)?;
            let image = self.config.workdir.join(format!("burn-{}.iso", std::process::id()));
            let r = (|| -> Result<StepReport, BurnError> {
                let mut f = std::io::BufWriter::new(std::fs::File::create(&image)?);
                counting(&mut f).map_err(|e| size_or_io(e, image_size, written.get()))?;
                f.flush()?;
                drop(f);
                if written.get() != image_size {
                    return Err(BurnError::SizeMismatch { expected: image_size, got: written.get() });
                }
                v.insert("image", image.display().to_string());
                t.run(&v, None).map_err(step_error)
            })();
            let _ = std::fs::remove_file(&image);
            r?
        } else {
            match t.run(&v, Some(&mut counting)) {
                Err(StepError::Io { source, .. }) => return Err(size_or_io(source, image_size, written.get())),
                other => other.map_err(step_error)?,
            }
        };
        self.judge(report, image_size)
    }

    fn read_back(&mut self, len: u64) -> Result<Box<dyn Read + '_>, BurnError> {
        let f = std::fs::File::open(self.device_path()).map_err(|e| BurnError::ReadFailed(format!("{}: {e}", self.config.device)))?;
        Ok(Box::new(f.take(len)))
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BurnError> {
        let f = std::fs::File::open(self.device_path()).map_err(|e| BurnError::ReadFailed(format!("{}: {e}", self.config.device)))?;
        f.read_exact_at(buf, offset).map_err(|e| BurnError::ReadFailed(format!("{} at byte {offset}: {e}", self.config.device)))
    }

    fn eject(&mut self) -> Result<(), BurnError> {
        Ok(())
    }
}

fn size_or_io(e: std::io::Error, expected: u64, got: u64) -> BurnError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        BurnError::SizeMismatch { expected, got: if got == expected { expected + 1 } else { got } }
    } else {
        BurnError::Io(e)
    }
}

struct Counting<'a, 'p> {
    inner: &'a mut dyn Write,
    n: &'a std::cell::Cell<u64>,
    limit: u64,
    progress: &'a mut (dyn FnMut(u64) + 'p),
}

impl Write for Counting<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.n.get() + buf.len() as u64 > self.limit {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "image producer wrote more than announced"));
        }
        let k = self.inner.write(buf)?;
        self.n.set(self.n.get() + k as u64);
        (self.progress)(self.n.get());
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
