//! Verify: read a written copy back from the medium and compare every file with the catalogue's
//! checksums. It never trusts the write path: the bytes come from the device, are parsed by the
//! image readers (which also check the medium's own SHA256SUMS and manifest), and must list
//! exactly the unit's files with exactly their ingest checksums.

use std::collections::BTreeMap;

use asto_images::read::{ReadSummary, read_iso, read_tar};

use crate::devices::DeviceSet;
use crate::error::AgentError;
use crate::tape_stream::FileReader;
use crate::wire::{ImageFormat, PreparedUnit, VerifyJob, VerifyReport};

/// Compare what was read with what the unit should hold; a list of differences.
fn compare(unit: &PreparedUnit, read: &ReadSummary) -> Vec<String> {
    let mut problems = read.problems.clone();
    match &read.volume_id {
        Some(v) if v == &unit.unit => {}
        other => problems.push(format!("medium holds unit {other:?}, expected {}", unit.unit)),
    }
    let mut expected: BTreeMap<&str, (u64, &str)> =
        unit.files.iter().map(|f| (f.medium_path.as_str(), (f.size, f.sha256.as_str()))).collect();
    for f in &read.files {
        match expected.remove(f.path.as_str()) {
            None => problems.push(format!("unexpected file {}", f.path)),
            Some((size, sha)) => {
                if size != f.size || sha != hex::encode(f.sha256) {
                    problems.push(format!("{}: read {} bytes sha256 {}, expected {size} bytes sha256 {sha}", f.path, f.size, hex::encode(f.sha256)));
                }
            }
        }
    }
    problems.extend(expected.keys().map(|p| format!("missing file {p}")));
    problems
}

pub fn verify_copy(devices: &DeviceSet, job: &VerifyJob, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, AgentError> {
    let device = job.device.as_str();
    let unit = &job.unit;
    devices.load(device, &job.medium)?;
    let mut dev = devices.lock(device)?;
    let image_err = |source| AgentError::Image { unit: unit.unit.clone(), source };
    let (read, bytes_read) = match unit.format {
        ImageFormat::Tar => {
            let drive = dev.tape(device)?;
            let tape = |source| AgentError::Tape { device: device.into(), source };
            let start = job.start_block.ok_or_else(|| AgentError::Medium {
                barcode: job.medium.barcode.clone(),
                message: "no start block recorded for this copy".into(),
            })?;
            drive.locate(start).map_err(tape)?;
            let mut reader = FileReader::new(drive, 1 << 20);
            let read = read_tar(&mut reader);
            if let Some(e) = reader.error.take() {
                return Err(tape(e));
            }
            progress(reader.bytes_read);
            (read.map_err(image_err)?, reader.bytes_read)
        }
        ImageFormat::Iso => {
            let burner = dev.burner(device)?;
            let burn = |source| AgentError::Burn { device: device.into(), source };
            let mut counted = CountingReader { inner: burner.read_back(unit.image_bytes).map_err(burn)?, n: 0, progress };
            let read = read_iso(&mut counted);
            let n = counted.n;
            match read {
                Ok(r) => (r, n),
                Err(asto_images::ImageError::Read(e)) => {
                    return Err(AgentError::Medium { barcode: job.medium.barcode.clone(), message: format!("read error: {e}") });
                }
                Err(e) => return Err(image_err(e)),
            }
        }
    };
    let problems = compare(unit, &read);
    if !problems.is_empty() {
        return Err(AgentError::VerifyFailed {
            unit: unit.unit.clone(),
            barcode: job.medium.barcode.clone(),
            problems: problems.join("; "),
        });
    }
    Ok(VerifyReport { copy_id: job.copy_id, files_checked: read.files.len(), bytes_read, slot: None })
}

struct CountingReader<'a, R> {
    inner: R,
    n: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl<R: std::io::Read> std::io::Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        if self.n % (4 << 20) < n as u64 {
            (self.progress)(self.n);
        }
        Ok(n)
    }
}
