//! The xorriso burner for real: xorriso writing to `stdio:` pseudo-drives (regular files behaving
//! as drives), images built by xorriso's mkisofs emulation with MD5 tags, verification by
//! read-back, by the recorded MD5 and against the source tree, and the failure paths.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use asto_drivers::optical::{BurnError, Burner, DiscState};
use asto_drivers::xorriso::verify::{check_md5, compare_tree};
use asto_drivers::xorriso::{BurnEvent, CompareOutcome, Md5Outcome, XorrisoBurner, XorrisoConfig};

struct Fixture {
    dir: tempfile::TempDir,
    source: PathBuf,
    iso: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("unit");
    std::fs::create_dir_all(source.join("night1")).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(source.join("night1/frame.fits"), &data).unwrap();
    std::fs::write(source.join("SHA256SUMS"), b"placeholder\n").unwrap();
    let iso = dir.path().join("unit.iso");
    let st = Command::new("xorriso")
        .args(["-as", "mkisofs", "-R", "-J", "--md5", "-V", "ARC_TEST_0001", "-o"])
        .arg(&iso)
        .arg(&source)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run xorriso");
    assert!(st.success());
    Fixture { dir, source, iso }
}

fn burner(path: &Path) -> XorrisoBurner {
    XorrisoBurner::new(XorrisoConfig::new(&format!("stdio:{}", path.display())))
}

fn burn_file(b: &mut XorrisoBurner, iso: &Path) -> Result<Vec<u64>, BurnError> {
    let size = std::fs::metadata(iso).unwrap().len();
    let mut seen = Vec::new();
    let mut producer = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        std::io::copy(&mut std::fs::File::open(iso)?, w)?;
        Ok(())
    };
    b.burn(size, &mut producer, &mut |n| seen.push(n))?;
    Ok(seen)
}

#[test]
fn burn_read_back_and_verify() {
    let f = fixture();
    let target = f.dir.path().join("disc.img");
    let mut b = burner(&target);
    let id = b.identity().unwrap();
    assert_eq!((id.vendor.as_str(), id.product.as_str()), ("YOYODYNE", "WARP DRIVE"));
    let st = b.disc_status().unwrap();
    assert_eq!(st.state, DiscState::Blank);
    assert!(st.profile.contains("stdio file"), "{}", st.profile);
    let image = std::fs::read(&f.iso).unwrap();
    let progress = burn_file(&mut b, &f.iso).unwrap();
    assert_eq!(progress.last().copied(), Some(image.len() as u64), "progress reaches the image size");
    assert!(b.last_events().contains(&BurnEvent::Completed));
    // Exact-length read-back equals the image (the pseudo-drive pads the last chunk).
    let mut back = Vec::new();
    b.read_back(image.len() as u64).unwrap().read_to_end(&mut back).unwrap();
    assert!(back == image, "read-back differs from the image");
    let mut pvd = [0u8; 5];
    b.read_at(16 * 2048 + 1, &mut pvd).unwrap();
    assert_eq!(&pvd, b"CD001");
    // The disc is no longer blank.
    assert_eq!(b.disc_status().unwrap().state, DiscState::Appendable);
    assert!(matches!(burn_file(&mut b, &f.iso), Err(BurnError::NotBlank(DiscState::Appendable))));
    // Verification by the recorded MD5 and against the source.
    let dev = format!("stdio:{}", target.display());
    assert_eq!(check_md5(Path::new("xorriso"), &dev).unwrap(), Md5Outcome::Match);
    assert_eq!(compare_tree(Path::new("xorriso"), &dev, &f.source).unwrap(), CompareOutcome::Identical);
}

#[test]
fn corruption_is_detected_by_md5_and_by_compare_despite_exit_zero() {
    let f = fixture();
    let target = f.dir.path().join("disc.img");
    let mut b = burner(&target);
    burn_file(&mut b, &f.iso).unwrap();
    let dev = format!("stdio:{}", target.display());
    // 9 bytes overwritten inside the file's data.
    let file = std::fs::OpenOptions::new().write(true).open(&target).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"XXXXXXXXX", 200_000).unwrap();
    assert_eq!(check_md5(Path::new("xorriso"), &dev).unwrap(), Md5Outcome::Mismatch);
    match compare_tree(Path::new("xorriso"), &dev, &f.source).unwrap() {
        CompareOutcome::Differs(lines) => assert!(lines.iter().any(|l| l.contains("frame.fits")), "{lines:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn image_without_md5_tags_is_reported_as_such() {
    let f = fixture();
    let plain = f.dir.path().join("plain.iso");
    let st = Command::new("xorriso").args(["-as", "mkisofs", "-R", "-o"]).arg(&plain).arg(&f.source).stderr(std::process::Stdio::null()).status().unwrap();
    assert!(st.success());
    assert_eq!(check_md5(Path::new("xorriso"), &format!("stdio:{}", plain.display())).unwrap(), Md5Outcome::NoTag);
}

#[test]
fn capacity_and_size_checks_refuse_before_writing() {
    let f = fixture();
    let target = f.dir.path().join("small.img");
    let mut b = XorrisoBurner::new(XorrisoConfig { capacity: Some(1_000_000), ..XorrisoConfig::new(&format!("stdio:{}", target.display())) });
    assert_eq!(b.disc_status().unwrap().free_bytes, 1_000_000);
    match burn_file(&mut b, &f.iso) {
        Err(BurnError::TooLarge { image, free }) => assert_eq!((image, free), (std::fs::metadata(&f.iso).unwrap().len(), 1_000_000)),
        other => panic!("{other:?}"),
    }
    assert!(!target.exists(), "nothing written");
    // A producer that delivers less (or more) than announced is a failed burn, not a disc.
    let mut b = burner(&f.dir.path().join("short.img"));
    let mut short = |w: &mut dyn std::io::Write| w.write_all(&[0u8; 4096]);
    assert!(matches!(b.burn(1 << 20, &mut short, &mut |_| {}), Err(BurnError::SizeMismatch { expected: 1_048_576, got: 4096 })));
    let mut long = |w: &mut dyn std::io::Write| w.write_all(&vec![0u8; 100_000]);
    assert!(matches!(b.burn(65_536, &mut long, &mut |_| {}), Err(BurnError::SizeMismatch { expected: 65_536, .. })));
}

#[test]
fn write_failure_on_a_full_device_is_a_medium_fault() {
    let f = fixture();
    let mut b = XorrisoBurner::new(XorrisoConfig::new("stdio:/dev/full"));
    match burn_file(&mut b, &f.iso) {
        Err(e @ BurnError::WriteFailed(_)) => assert!(e.is_medium_fault() && e.to_string().contains("No space left"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn several_burners_option_is_accepted_by_xorriso() {
    let f = fixture();
    let target = f.dir.path().join("sg.img");
    let mut b = XorrisoBurner::new(XorrisoConfig { scsi_dev_family_sg: true, speed: Some("max".into()), ..XorrisoConfig::new(&format!("stdio:{}", target.display())) });
    burn_file(&mut b, &f.iso).unwrap();
    assert_eq!(std::fs::read(&target).unwrap()[..std::fs::metadata(&f.iso).unwrap().len() as usize], std::fs::read(&f.iso).unwrap()[..]);
}

#[test]
fn missing_program_is_reported() {
    let mut b = XorrisoBurner::new(XorrisoConfig { program: "/nonexistent/xorriso".into(), ..XorrisoConfig::new("stdio:/tmp/x") });
    assert!(matches!(b.disc_status(), Err(BurnError::Device(m)) if m.contains("cannot run")));
}
