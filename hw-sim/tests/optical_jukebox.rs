//! A simulated optical jukebox: the SMC driver moves discs between slots and burner bays, and
//! the xorriso burner writes and reads the disc in a bay as a `stdio:` pseudo-drive — the real
//! tool path, with discs that keep their contents as they travel.

use std::io::Read;
use std::process::Command;

use asto_drivers::changer::MediaChanger;
use asto_drivers::optical::{Burner, DiscState};
use asto_drivers::scsi::retry::RetryPolicy;
use asto_drivers::smc::SmcChanger;
use asto_drivers::xorriso::verify::check_md5;
use asto_drivers::xorriso::{Md5Outcome, XorrisoBurner, XorrisoConfig};
use asto_hw_sim::scsi_library::{LibraryContents, LibraryKind, SimSite, SiteConfig};

#[test]
fn discs_move_between_slots_and_bays_and_keep_their_contents() {
    let dir = tempfile::tempdir().unwrap();
    let mut contents = LibraryContents::empty(2, 4, 1);
    contents.slots[0] = Some("DVD00001".into());
    contents.slots[1] = Some("DVD00002".into());
    SimSite::create(dir.path(), &SiteConfig { kind: LibraryKind::Optical, ..SiteConfig::default() }, &contents).unwrap();
    let site = SimSite::open(dir.path()).unwrap();
    let mut changer = SmcChanger::with_policy(site.library(), RetryPolicy::immediate());
    assert!(site.disc_bay(0).unwrap().device().is_none(), "empty bay has no disc to burn");
    assert!(site.drive(0).is_none(), "a jukebox has no tape drives");

    // An image with MD5 tags, built by xorriso from a small tree.
    let src = dir.path().join("unit");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("obs.fits"), vec![42u8; 300_000]).unwrap();
    let iso = dir.path().join("unit.iso");
    let ok = Command::new("xorriso").args(["-as", "mkisofs", "-R", "-J", "--md5", "-V", "DVD00001", "-o"]).arg(&iso).arg(&src)
        .stderr(std::process::Stdio::null()).status().unwrap();
    assert!(ok.success());
    let image = std::fs::read(&iso).unwrap();

    changer.load(1, 0).unwrap();
    let device = site.disc_bay(0).unwrap().device().unwrap();
    let mut burner = XorrisoBurner::new(XorrisoConfig { capacity: Some(4_700_372_992), ..XorrisoConfig::new(&device) });
    assert_eq!(burner.disc_status().unwrap().state, DiscState::Blank);
    let mut producer = |w: &mut dyn std::io::Write| w.write_all(&image);
    burner.burn(image.len() as u64, &mut producer, &mut |_| {}).unwrap();

    // Back to a slot, then into the other bay: the same disc, readable and intact.
    changer.unload(0, 3).unwrap();
    changer.load(3, 1).unwrap();
    let st = changer.status().unwrap();
    assert_eq!(st.drive(1).unwrap().volume_tag.as_deref(), Some("DVD00001"));
    assert!(!st.drive(0).unwrap().full);
    let device = site.disc_bay(1).unwrap().device().unwrap();
    let mut reader = XorrisoBurner::new(XorrisoConfig::new(&device));
    assert_eq!(reader.disc_status().unwrap().state, DiscState::Appendable);
    let mut back = Vec::new();
    reader.read_back(image.len() as u64).unwrap().read_to_end(&mut back).unwrap();
    assert!(back == image, "disc contents changed on the way");
    assert_eq!(check_md5(std::path::Path::new("xorriso"), &device).unwrap(), Md5Outcome::Match);

    // The second disc is still blank.
    changer.load(2, 0).unwrap();
    let mut blank = XorrisoBurner::new(XorrisoConfig::new(&site.disc_bay(0).unwrap().device().unwrap()));
    assert_eq!(blank.disc_status().unwrap().state, DiscState::Blank);
    site.save().unwrap();
    let text = std::fs::read_to_string(dir.path().join("library_contents")).unwrap();
    assert!(text.contains("Drive 1: DVD00002") && text.contains("Drive 2: DVD00001"), "{text}");
}
