//! The real transport: `SG_IO` on a Linux SCSI generic node (`/dev/sgN`).
//!
//! `struct sg_io_hdr` is declared here exactly as in the kernel's `include/scsi/sg.h` (88 bytes on
//! x86_64, asserted in a test) and the ioctl is issued through nix's macros. `ioctl(SG_IO)` returns
//! 0 even when the command failed, so the outcome is read from `status`, `host_status` and
//! `driver_status`; a CHECK CONDITION with sense is reported as such even if a transport error is
//! flagged with it.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::transport::{CommandOutcome, DataTransfer, ScsiStatus, ScsiTransport, TransportError};

/// `SG_IO`: a plain number, not `_IOWR`-encoded.
const SG_IO: u32 = 0x2285;
const SG_DXFER_NONE: i32 = -1;
const SG_DXFER_TO_DEV: i32 = -2;
const SG_DXFER_FROM_DEV: i32 = -3;
const SENSE_BUFFER_LEN: usize = 96;
/// Larger single transfers fail on some HBAs; asto's records are at most 1 MiB anyway.
pub const MAX_TRANSFER: usize = 16 * 1024 * 1024;

/// `struct sg_io_hdr` from `include/scsi/sg.h`.
#[repr(C)]
#[derive(Debug)]
pub struct SgIoHdr {
    pub interface_id: i32,
    pub dxfer_direction: i32,
    pub cmd_len: u8,
    pub mx_sb_len: u8,
    pub iovec_count: u16,
    pub dxfer_len: u32,
    pub dxferp: *mut libc::c_void,
    pub cmdp: *const u8,
    pub sbp: *mut u8,
    pub timeout: u32,
    pub flags: u32,
    pub pack_id: i32,
    pub usr_ptr: *mut libc::c_void,
    pub status: u8,
    pub masked_status: u8,
    pub msg_status: u8,
    pub sb_len_wr: u8,
    pub host_status: u16,
    pub driver_status: u16,
    pub resid: i32,
    pub duration: u32,
    pub info: u32,
}

nix::ioctl_readwrite_bad!(sg_io_ioctl, SG_IO, SgIoHdr);
nix::ioctl_read_bad!(sg_get_reserved_size, 0x2272, libc::c_int);
nix::ioctl_read_bad!(sg_get_sg_tablesize, 0x227f, libc::c_int);

/// Text for a host (HBA) status code (`DID_*`).
fn host_status_text(code: u16) -> &'static str {
    match code {
        0x00 => "ok",
        0x01 => "no connect",
        0x02 => "bus busy",
        0x03 => "time out",
        0x04 => "bad target",
        0x05 => "abort",
        0x06 => "parity",
        0x07 => "error",
        0x08 => "reset",
        0x09 => "bad interrupt",
        0x0a => "passthrough",
        0x0b => "soft error",
        0x0c => "immediate retry",
        0x0d => "requeue",
        0x0e => "transport disrupted",
        0x0f => "transport failfast",
        _ => "unknown",
    }
}

/// What a failed `open()` of a device node means for the operator.
fn open_error(device: &str, e: std::io::Error) -> TransportError {
    let device = device.to_string();
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENODEV) => TransportError::NotFound { device },
        Some(libc::EBUSY) => TransportError::Busy { device },
        Some(libc::EACCES) | Some(libc::EPERM) => TransportError::PermissionDenied { device },
        _ => TransportError::Io(e),
    }
}

/// An open `/dev/sgN`.
#[derive(Debug)]
pub struct SgDevice {
    file: File,
    path: PathBuf,
}

impl SgDevice {
    /// Open a SCSI generic node exclusively (`O_RDWR | O_EXCL`): a second opener gets "busy".
    pub fn open(path: impl AsRef<Path>) -> Result<SgDevice, TransportError> {
        let path = path.as_ref().to_path_buf();
        let device = path.display().to_string();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_EXCL | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| open_error(&device, e))?;
        tracing::debug!(device = %device, "opened SCSI generic device");
        Ok(SgDevice { file, path })
    }

    /// Path of the node.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The largest single transfer this node is likely to accept: the smaller of the sg
    /// reserved buffer and scatter-gather table size × page size (large transfers fail with
    /// EINVAL on some HBAs). Check it against the record size before writing.
    pub fn max_transfer(&self) -> Result<usize, TransportError> {
        let fd = self.file.as_raw_fd();
        let mut reserved: libc::c_int = 0;
        let mut table: libc::c_int = 0;
        // SAFETY: both ioctls write one int into the pointed-to local.
        let r = unsafe { sg_get_reserved_size(fd, &mut reserved) }.and_then(|_| unsafe { sg_get_sg_tablesize(fd, &mut table) });
        if let Err(errno) = r {
            return Err(TransportError::NotScsi { device: self.device_name(), errno: errno.desc().to_string() });
        }
        let by_table = usize::try_from(table).unwrap_or(0) * 4096;
        let reserved = usize::try_from(reserved).unwrap_or(0);
        Ok(match (reserved, by_table) {
            (0, t) => t,
            (r, 0) => r,
            (r, t) => r.max(t).min(MAX_TRANSFER),
        })
    }
}

impl ScsiTransport for SgDevice {
    fn execute(&mut self, cdb: &[u8], data: DataTransfer<'_>, timeout: Duration)
    -> Result<CommandOutcome, TransportError> {
        if !matches!(cdb.len(), 6 | 10 | 12 | 16) {
            return Err(TransportError::BadCdb(cdb.len()));
        }
        if data.len() > MAX_TRANSFER {
            return Err(TransportError::BufferTooLarge(data.len()));
        }
        let mut sense = [0u8; SENSE_BUFFER_LEN];
        let (direction, ptr, len) = match data {
            DataTransfer::None => (SG_DXFER_NONE, std::ptr::null_mut(), 0usize),
            // The kernel only reads from a TO_DEV buffer.
            DataTransfer::ToDevice(b) => (SG_DXFER_TO_DEV, b.as_ptr() as *mut libc::c_void, b.len()),
            DataTransfer::FromDevice(b) => (SG_DXFER_FROM_DEV, b.as_mut_ptr().cast(), b.len()),
        };
        let mut hdr = SgIoHdr {
            interface_id: i32::from(b'S'),
            dxfer_direction: direction,
            cmd_len: cdb.len() as u8,
            mx_sb_len: SENSE_BUFFER_LEN as u8,
            iovec_count: 0,
            dxfer_len: len as u32,
            dxferp: ptr,
            cmdp: cdb.as_ptr(),
            sbp: sense.as_mut_ptr(),
            timeout: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
            flags: 0,
            pack_id: 0,
            usr_ptr: std::ptr::null_mut(),
            status: 0,
            masked_status: 0,
            msg_status: 0,
            sb_len_wr: 0,
            host_status: 0,
            driver_status: 0,
            resid: 0,
            duration: 0,
            info: 0,
        };
        // SAFETY: every pointer in `hdr` refers to a live buffer of the stated length (cdb, the data
        // buffer borrowed for this call, and `sense`) for the duration of the synchronous ioctl.
        let res = unsafe { sg_io_ioctl(self.file.as_raw_fd(), &mut hdr) };
        if let Err(errno) = res {
            return Err(match errno {
                nix::errno::Errno::ENOTTY | nix::errno::Errno::EINVAL if len <= 256 * 1024 => {
                    TransportError::NotScsi { device: self.device_name(), errno: errno.desc().to_string() }
                }
                nix::errno::Errno::EINVAL | nix::errno::Errno::ENOMEM => TransportError::BufferTooLarge(len),
                other => TransportError::Io(std::io::Error::from_raw_os_error(other as i32)),
            });
        }
        let sense_len = usize::from(hdr.sb_len_wr).min(SENSE_BUFFER_LEN);
        let status = ScsiStatus::from_byte(hdr.status);
        let residual = usize::try_from(hdr.resid.max(0)).unwrap_or(0);
        if status == ScsiStatus::CheckCondition && sense_len > 0 {
            return Ok(CommandOutcome::check(sense[..sense_len].to_vec(), residual));
        }
        match hdr.host_status {
            0 => {}
            0x03 => return Err(TransportError::Timeout(timeout)),
            code => return Err(TransportError::Host { host_status: code, text: host_status_text(code) }),
        }
        if hdr.driver_status & 0x0f != 0 && hdr.driver_status & 0x0f != 0x08 {
            return Err(TransportError::Driver(hdr.driver_status));
        }
        Ok(CommandOutcome { status, sense: sense[..sense_len].to_vec(), residual })
    }

    fn device_name(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn sg_io_hdr_matches_the_kernel_layout() {
        assert_eq!(size_of::<SgIoHdr>(), 88);
        assert_eq!(offset_of!(SgIoHdr, dxfer_len), 12);
        assert_eq!(offset_of!(SgIoHdr, dxferp), 16);
        assert_eq!(offset_of!(SgIoHdr, cmdp), 24);
        assert_eq!(offset_of!(SgIoHdr, sbp), 32);
        assert_eq!(offset_of!(SgIoHdr, timeout), 40);
        assert_eq!(offset_of!(SgIoHdr, usr_ptr), 56);
        assert_eq!(offset_of!(SgIoHdr, status), 64);
        assert_eq!(offset_of!(SgIoHdr, host_status), 68);
        assert_eq!(offset_of!(SgIoHdr, resid), 72);
        assert_eq!(offset_of!(SgIoHdr, info), 80);
    }

    #[test]
    fn missing_device_is_reported_as_missing() {
        let err = SgDevice::open("/dev/sg-does-not-exist-4711").unwrap_err();
        assert!(matches!(err, TransportError::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn open_failures_name_the_condition() {
        let e = |errno| open_error("/dev/sg4", std::io::Error::from_raw_os_error(errno)).to_string();
        assert_eq!(e(libc::EBUSY), "device /dev/sg4 is busy (opened by another process)");
        assert_eq!(e(libc::ENXIO), "device /dev/sg4 does not exist");
        assert_eq!(e(libc::EACCES), "permission denied opening /dev/sg4");
    }

    #[test]
    fn non_scsi_node_is_refused_by_the_real_ioctl() {
        let mut dev = SgDevice::open("/dev/null").unwrap();
        let err = dev.execute(&[0u8; 6], DataTransfer::None, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, TransportError::NotScsi { .. }), "{err:?}");
    }

    #[test]
    fn transfer_limits_need_a_scsi_generic_node() {
        let dev = SgDevice::open("/dev/null").unwrap();
        assert!(matches!(dev.max_transfer(), Err(TransportError::NotScsi { .. })));
    }

    #[test]
    fn bad_cdb_length_is_rejected_before_the_ioctl() {
        let mut dev = SgDevice::open("/dev/null").unwrap();
        let err = dev.execute(&[0u8; 7], DataTransfer::None, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, TransportError::BadCdb(7)));
    }
}
