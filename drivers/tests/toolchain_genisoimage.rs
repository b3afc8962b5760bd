//! The external-command tool chain for real: genisoimage prepares the image from a staged tree,
//! xorriso's cdrecord emulation (or a plain stream command) writes it to a pseudo-drive, and the
//! outcome is judged from exit codes and output as configured.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use asto_drivers::optical::{BurnError, Burner, DiscState};
use asto_drivers::toolchain::{CommandTemplate, StepOutcome, TemplateBurner, TemplateBurnerConfig};

fn staged_tree(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("stage/ARC-DVD-000042");
    std::fs::create_dir_all(src.join("2026-11-24")).unwrap();
    std::fs::write(src.join("2026-11-24/ONTHE.2026-11-24T01:02:03.fits"), vec![7u8; 500_000]).unwrap();
    std::fs::write(src.join("SHA256SUMS"), b"0000  x\n").unwrap();
    src
}

fn config(dir: &Path, device: &str, write: CommandTemplate) -> TemplateBurnerConfig {
    TemplateBurnerConfig {
        device: device.to_string(),
        write,
        prepare: Some(
            CommandTemplate::new(&["genisoimage", "-quiet", "-R", "-J", "-V", "{volid}", "-o", "{image}", "{source}"])
                .rule("is larger than 4GiB-1", StepOutcome::BadInput),
        ),
        workdir: dir.join("work"),
        capacity: 4_700_372_992,
        speed: None,
    }
}

fn cdrecord() -> CommandTemplate {
    CommandTemplate::new(&["xorriso", "-as", "cdrecord", "dev={device}", "padsize=0", "{image}"])
        .rule("exceeds free space", StepOutcome::TooLarge)
        .rule("No space left on device", StepOutcome::MediumFault)
}

#[test]
fn genisoimage_prepares_and_a_write_template_burns() {
    let dir = tempfile::tempdir().unwrap();
    let src = staged_tree(dir.path());
    let disc = dir.path().join("disc.img");
    let mut b = TemplateBurner::new(config(dir.path(), &format!("stdio:{}", disc.display()), cdrecord()));
    assert_eq!(b.disc_status().unwrap().state, DiscState::Blank);
    let (image, size) = b.prepare(&src, "ARC_DVD_000042").unwrap();
    assert_eq!(size % 2048, 0);
    // isoinfo (genisoimage's reader) sees the volume id.
    let info = Command::new("isoinfo").arg("-d").arg("-i").arg(&image).output().unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains("Volume id: ARC_DVD_000042"));
    b.write_image(&image).unwrap();
    assert_eq!(b.last_report().unwrap().outcome, StepOutcome::Ok);
    let mut back = Vec::new();
    b.read_back(size).unwrap().read_to_end(&mut back).unwrap();
    assert!(back == std::fs::read(&image).unwrap(), "read-back differs from the prepared image");
    assert!(std::fs::read_dir(dir.path().join("work")).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with("burn-")), "staged copy removed");
    assert_eq!(b.disc_status().unwrap().state, DiscState::Closed);
    assert!(matches!(b.write_image(&image), Err(BurnError::NotBlank(_))));
}

#[test]
fn a_stream_template_gets_the_image_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let disc = dir.path().join("stream.img");
    let write = CommandTemplate::new(&["sh", "-c", "cat > \"$0\"", "{device_path}"]);
    let mut b = TemplateBurner::new(config(dir.path(), &disc.display().to_string(), write));
    let image: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut producer = |w: &mut dyn std::io::Write| w.write_all(&image);
    let mut last = 0;
    b.burn(image.len() as u64, &mut producer, &mut |n| last = n).unwrap();
    assert_eq!(last, 100_000);
    assert_eq!(std::fs::read(&disc).unwrap(), image);
    // Short producer: the tool is stopped, the error says so.
    let disc2 = dir.path().join("short.img");
    let write = CommandTemplate::new(&["sh", "-c", "cat > \"$0\"", "{device_path}"]);
    let mut b = TemplateBurner::new(config(dir.path(), &disc2.display().to_string(), write));
    let mut short = |w: &mut dyn std::io::Write| w.write_all(&[1u8; 10]);
    assert!(matches!(b.burn(1000, &mut short, &mut |_| {}), Err(BurnError::SizeMismatch { expected: 1000, got: 10 })));
}

#[test]
fn failures_map_to_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    // genisoimage on a missing tree: non-zero exit, the tool's reason in the error.
    let mut b = TemplateBurner::new(config(dir.path(), "stdio:/dev/null", cdrecord()));
    match b.prepare(&dir.path().join("no-such-stage"), "X") {
        Err(BurnError::Device(why)) => assert!(why.contains("no-such-stage") || why.contains("No such file"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_ne!(b.last_report().unwrap().exit_code, Some(0));
    // Writing to a full device: the rule maps the tool's message to a medium fault.
    let src = staged_tree(dir.path());
    let (image, _) = b.prepare(&src, "FULL_TEST").unwrap();
    let mut full = TemplateBurner::new(config(dir.path(), "stdio:/dev/full", cdrecord()));
    assert!(matches!(full.write_image(&image), Err(e @ BurnError::WriteFailed(_)) if e.is_medium_fault()));
    // Capacity is checked before any tool runs.
    let mut tiny = TemplateBurner::new(TemplateBurnerConfig { capacity: 1000, ..config(dir.path(), "stdio:/tmp/never-written.img", cdrecord()) });
    assert!(matches!(tiny.write_image(&image), Err(BurnError::TooLarge { free: 1000, .. })));
    assert!(!Path::new("/tmp/never-written.img").exists());
    // A template naming an unknown placeholder is refused before running.
    let bad = CommandTemplate::new(&["xorriso", "dev={drive}"]);
    let mut b = TemplateBurner::new(config(dir.path(), "stdio:/tmp/never-written-2.img", bad));
    assert!(matches!(b.write_image(&image), Err(BurnError::Device(m)) if m.contains("unknown placeholder {drive}")));
}
