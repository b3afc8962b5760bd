//! Write: one copy of a prepared unit onto one medium, streamed.
//!
//! Tape: a label file (file 0) identifies the volume, then the unit as one tape file of pax tar
//! in fixed-size records, ended by a filemark. Optical: the ISO image is produced straight into
//! the burner. In both cases the image writer re-reads every source file and checks it against
//! the checksum recorded at ingest, so a file changed since ingest fails the write instead of
//! producing a medium that disagrees with the catalogue.

use asto_images::ImageError;

use crate::devices::DeviceSet;
use crate::error::AgentError;
use crate::prepare::Plan;
use crate::tape_stream::RecordWriter;
use crate::wire::{MediumRef, WriteJob, WriteReport};

/// The label block at the beginning of every asto tape.
pub fn volume_label(medium: &MediumRef) -> Vec<u8> {
    let label = serde_json::json!({
        "asto_volume_label": 1,
        "barcode": medium.barcode,
        "media_type": medium.media_type,
        "asto_version": env!("CARGO_PKG_VERSION"),
    });
    let mut bytes = b"ASTO VOLUME LABEL\n".to_vec();
    bytes.extend_from_slice(label.to_string().as_bytes());
    bytes.push(b'\n');
    bytes
}

pub fn write_copy(devices: &DeviceSet, job: &WriteJob, progress: &mut dyn FnMut(u64)) -> Result<WriteReport, AgentError> {
    let device = job.device.as_str();
    let unit = &job.unit.unit;
    let plan = Plan::of(&job.unit)?;
    if plan.total_bytes() > job.medium.capacity {
        return Err(AgentError::DoesNotFit { unit: unit.clone(), image: plan.total_bytes(), capacity: job.medium.capacity });
    }
    devices.load(device, &job.medium)?;
    let mut dev = devices.lock(device)?;
    let image_err = |source: ImageError| AgentError::Image { unit: unit.clone(), source };
    match plan {
        Plan::Tar(plan) => {
            let drive = dev.tape(device)?;
            let tape = |source| AgentError::Tape { device: device.into(), source };
            drive.rewind().map_err(tape)?;
            drive.write_block(&volume_label(&job.medium)).map_err(tape)?;
            drive.write_filemarks(1).map_err(tape)?;
            let start = drive.position().map_err(tape)?;
            let mut writer = RecordWriter::new(drive, plan.record_size(), progress);
            let written = plan.write_to(&mut writer).and_then(|s| writer.finish().map(|()| s).map_err(ImageError::Write));
            let early_warning = writer.early_warning;
            let summary = match (written, writer.error.take()) {
                (Ok(s), _) => s,
                (Err(_), Some(tape_error)) => return Err(tape(tape_error)),
                (Err(e), None) => return Err(image_err(e)),
            };
            let end = drive.write_filemarks(1).map_err(tape)?;
            Ok(WriteReport {
                copy_id: job.copy_id,
                barcode: job.medium.barcode.clone(),
                tape_file: start.file.or(Some(1)),
                start_block: Some(start.block),
                image_bytes: summary.bytes,
                image_sha256: hex::encode(summary.image_sha256),
                early_warning: early_warning || end == asto_drivers::tape::WriteOutcome::EarlyWarning,
            })
        }
        Plan::Iso(plan) => {
            let burner = dev.burner(device)?;
            let burn = |source| AgentError::Burn { device: device.into(), source };
            let mut summary = None;
            let mut failure = None;
            let result = burner.burn(
                plan.total_bytes(),
                &mut |out| match plan.write_to(out) {
                    Ok(s) => {
                        summary = Some(s);
                        Ok(())
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        failure = Some(e);
                        Err(std::io::Error::other(msg))
                    }
                },
                progress,
            );
            match (result, failure) {
                // The image writer failed for a reason of its own (a source changed): not the disc's fault.
                (Err(_), Some(e @ (ImageError::SourceChanged { .. } | ImageError::Unreadable { .. }))) => return Err(image_err(e)),
                (Err(e), _) => return Err(burn(e)),
                (Ok(()), _) => {}
            }
            let summary = summary.ok_or_else(|| image_err(ImageError::Internal("burn finished without an image".into())))?;
            Ok(WriteReport {
                copy_id: job.copy_id,
                barcode: job.medium.barcode.clone(),
                tape_file: None,
                start_block: None,
                image_bytes: summary.bytes,
                image_sha256: hex::encode(summary.image_sha256),
                early_warning: false,
            })
        }
    }
}
