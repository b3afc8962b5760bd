//! Discovery: find tape drives, media changers and optical burners through sysfs, and identify
//! them by serial number (the unit serial number VPD page the kernel exposes as `vpd_pg80`) so
//! configuration can name devices stably whatever their `/dev` nodes are called after a reboot.
//!
//! Reads `/sys/class/scsi_generic/sgN/device/{type,vendor,model,rev,vpd_pg80}` and the
//! `scsi_tape/`, `scsi_changer/` and `block/` children for the matching upper-level nodes. No
//! libudev needed.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What kind of device a SCSI generic node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Tape,
    Changer,
    Optical,
    Other(u8),
}

/// A device found in sysfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiscoveredDevice {
    pub kind: DeviceKind,
    /// The SCSI generic node (what asto's SG_IO drivers open).
    pub sg: PathBuf,
    /// The upper-level node: `/dev/nstN` (non-rewinding tape), `/dev/schN`, `/dev/srN`.
    pub node: Option<PathBuf>,
    /// host:channel:target:lun.
    pub hctl: String,
    pub vendor: String,
    pub model: String,
    pub revision: String,
    /// Unit serial number, when the kernel exposes the VPD page.
    pub serial: Option<String>,
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn first_child(dir: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names.into_iter().next()
}

/// Discover devices under `sysfs` (normally `/sys`), naming nodes under `dev` (normally `/dev`).
pub fn discover(sysfs: &Path, dev: &Path) -> std::io::Result<Vec<DiscoveredDevice>> {
    let class = sysfs.join("class/scsi_generic");
    let entries = match std::fs::read_dir(&class) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let sg_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(d) = describe(&sg_name, &entry.path(), dev) {
            out.push(d);
        }
    }
    out.sort_by_key(|d| d.sg.to_string_lossy().trim_start_matches(|c: char| !c.is_ascii_digit()).parse::<u32>().unwrap_or(u32::MAX));
    Ok(out)
}

/// Describe the SCSI generic node `sg_name` whose sysfs class entry is `class_entry`.
fn describe(sg_name: &str, class_entry: &Path, dev: &Path) -> Option<DiscoveredDevice> {
    let device = class_entry.join("device");
    let type_code = read_trim(&device.join("type")).parse::<u8>().ok()?;
    let kind = match type_code {
        1 => DeviceKind::Tape,
        8 => DeviceKind::Changer,
        5 => DeviceKind::Optical,
        other => DeviceKind::Other(other),
    };
    let node = match kind {
        DeviceKind::Tape => first_child(&device.join("scsi_tape")).map(|st| dev.join(format!("n{st}"))),
        DeviceKind::Changer => first_child(&device.join("scsi_changer")).map(|ch| dev.join(ch)),
        DeviceKind::Optical => first_child(&device.join("block")).map(|sr| dev.join(sr)),
        DeviceKind::Other(_) => None,
    };
    let hctl = std::fs::canonicalize(&device).ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_default();
    let serial = std::fs::read(device.join("vpd_pg80")).ok().and_then(|b| crate::scsi::inquiry::decode_serial_page(&b)).filter(|s| !s.is_empty());
    Some(DiscoveredDevice {
        kind,
        sg: dev.join(sg_name),
        node,
        hctl,
        vendor: read_trim(&device.join("vendor")),
        model: read_trim(&device.join("model")),
        revision: read_trim(&device.join("rev")),
        serial,
    })
}

/// Discover devices of this machine: through libudev when built with the `udev` feature (the
/// device database, as udev rules see it), through sysfs otherwise.
pub fn discover_system() -> std::io::Result<Vec<DiscoveredDevice>> {
    #[cfg(feature = "udev")]
    {
        discover_udev()
    }
    #[cfg(not(feature = "udev"))]
    {
        discover(Path::new("/sys"), Path::new("/dev"))
    }
}

/// Syspaths of the devices udev knows in `subsystem`, with their kernel names.
#[cfg(feature = "udev")]
pub fn udev_devices(subsystem: &str) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut enumerator = udev::Enumerator::new()?;
    enumerator.match_subsystem(subsystem)?;
    let mut out: Vec<(String, PathBuf)> =
        enumerator.scan_devices()?.map(|d| (d.sysname().to_string_lossy().into_owned(), d.syspath().to_owned())).collect();
    out.sort();
    Ok(out)
}

/// Discover through libudev: udev lists the SCSI generic devices, their attributes are read the
/// same way as in [`discover`].
#[cfg(feature = "udev")]
pub fn discover_udev() -> std::io::Result<Vec<DiscoveredDevice>> {
    let mut out: Vec<DiscoveredDevice> =
        udev_devices("scsi_generic")?.into_iter().filter_map(|(name, syspath)| describe(&name, &syspath, Path::new("/dev"))).collect();
    out.sort_by_key(|d| d.sg.to_string_lossy().trim_start_matches(|c: char| !c.is_ascii_digit()).parse::<u32>().unwrap_or(u32::MAX));
    Ok(out)
}

/// Find the device with this serial number.
pub fn by_serial<'a>(devices: &'a [DiscoveredDevice], serial: &str) -> Option<&'a DiscoveredDevice> {
    devices.iter().find(|d| d.serial.as_deref() == Some(serial))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libudev and sysfs see the same devices: the block devices of this machine (every machine
    /// has some; SCSI tape and changer classes are absent on most build hosts), and the same
    /// SCSI generic devices.
    #[cfg(feature = "udev")]
    #[test]
    fn udev_sees_what_sysfs_sees() {
        let from_udev: Vec<String> = udev_devices("block").unwrap().into_iter().map(|(n, _)| n).collect();
        let mut from_sysfs: Vec<String> =
            std::fs::read_dir("/sys/class/block").unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        from_sysfs.sort();
        assert!(!from_sysfs.is_empty());
        assert_eq!(from_udev, from_sysfs);
        assert_eq!(discover_udev().unwrap(), discover(Path::new("/sys"), Path::new("/dev")).unwrap());
    }

    #[allow(clippy::too_many_arguments)] // a test helper mirroring the sysfs attributes one to one
    fn fake_device(sys: &Path, sg: &str, hctl: &str, type_code: u8, vendor: &str, model: &str, serial: Option<&str>, child: Option<(&str, &str)>) {
        let dev_dir = sys.join("devices/pci0000:00/host0/target/").join(hctl);
        std::fs::create_dir_all(&dev_dir).unwrap();
        std::fs::write(dev_dir.join("type"), format!("{type_code}\n")).unwrap();
        std::fs::write(dev_dir.join("vendor"), format!("{vendor:<8}\n")).unwrap();
        std::fs::write(dev_dir.join("model"), format!("{model:<16}\n")).unwrap();
        std::fs::write(dev_dir.join("rev"), "Q3F0\n").unwrap();
        if let Some(s) = serial {
            std::fs::write(dev_dir.join("vpd_pg80"), crate::scsi::inquiry::encode_serial_page(type_code, s)).unwrap();
        }
        if let Some((sub, name)) = child {
            std::fs::create_dir_all(dev_dir.join(sub).join(name)).unwrap();
        }
        let class = sys.join("class/scsi_generic").join(sg);
        std::fs::create_dir_all(&class).unwrap();
        std::os::unix::fs::symlink(&dev_dir, class.join("device")).unwrap();
    }

    #[test]
    fn finds_and_identifies_devices() {
        let root = tempfile::tempdir().unwrap();
        let sys = root.path();
        fake_device(sys, "sg10", "1:0:0:0", 1, "IBM", "ULT3580-TD9", Some("10WT036260"), Some(("scsi_tape", "st0")));
        fake_device(sys, "sg2", "1:0:0:1", 8, "IBM", "3573-TL", Some("00L4U78A5815_LL0"), Some(("scsi_changer", "sch0")));
        fake_device(sys, "sg3", "2:0:0:0", 5, "HL-DT-ST", "BD-RE BH16NS55", None, Some(("block", "sr0")));
        fake_device(sys, "sg0", "0:0:0:0", 0, "ATA", "disk", None, None);
        let found = discover(sys, Path::new("/dev")).unwrap();
        assert_eq!(found.iter().map(|d| d.sg.display().to_string()).collect::<Vec<_>>(), ["/dev/sg0", "/dev/sg2", "/dev/sg3", "/dev/sg10"]);
        let tape = by_serial(&found, "10WT036260").unwrap();
        assert_eq!(tape.kind, DeviceKind::Tape);
        assert_eq!(tape.node.as_deref(), Some(Path::new("/dev/nst0")));
        assert_eq!((tape.vendor.as_str(), tape.model.as_str(), tape.hctl.as_str()), ("IBM", "ULT3580-TD9", "1:0:0:0"));
        assert_eq!(found[1].kind, DeviceKind::Changer);
        assert_eq!(found[1].node.as_deref(), Some(Path::new("/dev/sch0")));
        assert_eq!(found[2].node.as_deref(), Some(Path::new("/dev/sr0")));
        assert_eq!(found[2].serial, None);
        assert_eq!(found[0].kind, DeviceKind::Other(0));
    }

    #[test]
    fn no_scsi_generic_class_means_no_devices() {
        let root = tempfile::tempdir().unwrap();
        assert!(discover(root.path(), Path::new("/dev")).unwrap().is_empty());
        // The real machine: must not fail, whatever it has.
        assert!(discover_system().is_ok());
    }
}
