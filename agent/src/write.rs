//! Write: one copy of a prepared unit onto one medium, streamed.
//!
//! Tape: a label file (file 0) identifies the volume, then the unit as one tape file of pax tar
//! in fixed-size records, ended by a filemark. Optical: the ISO image is produced straight into
//! the burner. In both cases the image writer re-reads every source file and checks it against
//! the checksum recorded at ingest, so a file changed since ingest fails the write instead of
//! producing a medium that disagrees with the catalogue.

use asto_drivers::tape::{ReadOutcome, TapeDrive, TapeError};
use asto_images::ImageError;

use crate::devices::DeviceSet;
use crate::error::AgentError;
use crate::prepare::Plan;
use crate::tape_stream::RecordWriter;
use crate::wire::{MediumRef, WriteJob, WriteReport};

/// How an asto label block begins.
const LABEL_MAGIC: &[u8] = b"ASTO VOLUME LABEL\n";

/// The label block at the beginning of every asto tape.
pub fn volume_label(medium: &MediumRef) -> Vec<u8> {
    let label = serde_json::json!({
        "asto_volume_label": 1,
        "barcode": medium.barcode,
        "media_type": medium.media_type,
        "asto_version": env!("CARGO_PKG_VERSION"),
    });
    let mut bytes = LABEL_MAGIC.to_vec();
    bytes.extend_from_slice(label.to_string().as_bytes());
    bytes.push(b'\n');
    bytes
}

enum Foreign {
    Tape(TapeError),
    Data(String),
}

/// A volume new to the catalogue may be blank or carry an asto label; anything else on it is
/// someone's data, which is not overwritten.
fn refuse_foreign_data(drive: &mut dyn TapeDrive, barcode: &str) -> Result<(), Foreign> {
    let mut block = vec![0u8; 1 << 20];
    match drive.read_block(&mut block) {
        Ok(ReadOutcome::EndOfData) | Err(TapeError::BeyondEndOfData) => Ok(()),
        Ok(ReadOutcome::Data(n)) if block[..n].starts_with(LABEL_MAGIC) => Ok(()),
        Ok(ReadOutcome::Data(n)) => Err(Foreign::Data(format!("{barcode} holds data asto did not write (a {n}-byte first block): not overwritten"))),
        Ok(ReadOutcome::Filemark) => Err(Foreign::Data(format!("{barcode} holds data asto did not write (a filemark first): not overwritten"))),
        Err(TapeError::BlockTooLarge { block, .. }) => {
            Err(Foreign::Data(format!("{barcode} holds data asto did not write (a {block}-byte first block): not overwritten")))
        }
        Err(e) => Err(Foreign::Tape(e)),
    }
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
            if job.blank_only {
                refuse_foreign_data(drive, &job.medium.barcode).map_err(|e| match e {
                    Foreign::Tape(source) => tape(source),
                    Foreign::Data(message) => AgentError::Medium { barcode: job.medium.barcode.clone(), message },
                })?;
                drive.rewind().map_err(tape)?;
            }
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
