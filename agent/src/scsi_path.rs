//! Where a SCSI device is: a SCSI generic node on this host (`/dev/sg3`), or a device of a
//! simulated site served by `asto-hwsim` (`hwsim:/srv/site/hwsim.sock` for its library,
//! `hwsim:/srv/site/hwsim.sock#1` for its drive 1). Real and simulated devices are then driven by
//! the same SSC and SMC drivers; only the transport differs.

use std::fmt;
use std::path::PathBuf;

use asto_drivers::scsi::sg_io::SgDevice;
use asto_drivers::scsi::{ScsiTransport, TransportError};
use asto_hw_sim::remote::{RemoteTarget, RemoteTransport};

/// The address of a SCSI device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScsiPath {
    /// A SCSI generic node.
    Sg(PathBuf),
    /// A device of a simulated site.
    HwSim { socket: PathBuf, target: RemoteTarget },
}

impl ScsiPath {
    /// Parse `/dev/sgN`, `hwsim:SOCKET` or `hwsim:SOCKET#DRIVE`.
    pub fn parse(text: &str) -> Result<ScsiPath, String> {
        if let Some(rest) = text.strip_prefix("hwsim:") {
            let (socket, target) = match rest.rsplit_once('#') {
                Some((socket, n)) => {
                    let n: u16 = n.parse().map_err(|_| format!("'{text}': the drive number after '#' must be 0 to 65535"))?;
                    (socket, RemoteTarget::Drive(n))
                }
                None => (rest, RemoteTarget::Library),
            };
            if socket.is_empty() {
                return Err(format!("'{text}': hwsim: needs the path of the simulator's socket"));
            }
            return Ok(ScsiPath::HwSim { socket: PathBuf::from(socket), target });
        }
        if text.starts_with('/') {
            return Ok(ScsiPath::Sg(PathBuf::from(text)));
        }
        Err(format!("'{text}' is not a SCSI device address: use a SCSI generic node (/dev/sgN) or hwsim:SOCKET[#DRIVE]"))
    }

    /// Open a transport to the device.
    pub fn open(&self) -> Result<Box<dyn ScsiTransport>, TransportError> {
        Ok(match self {
            ScsiPath::Sg(path) => Box::new(SgDevice::open(path)?),
            ScsiPath::HwSim { socket, target } => Box::new(RemoteTransport::connect(socket, *target)?),
        })
    }
}

impl fmt::Display for ScsiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScsiPath::Sg(p) => write!(f, "{}", p.display()),
            ScsiPath::HwSim { socket, target: RemoteTarget::Library } => write!(f, "hwsim:{}", socket.display()),
            ScsiPath::HwSim { socket, target: RemoteTarget::Drive(n) } => write!(f, "hwsim:{}#{n}", socket.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_back() {
        for text in ["/dev/sg3", "hwsim:/srv/site/hwsim.sock", "hwsim:/srv/site/hwsim.sock#1"] {
            assert_eq!(ScsiPath::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            ScsiPath::parse("hwsim:/s.sock#2").unwrap(),
            ScsiPath::HwSim { socket: "/s.sock".into(), target: RemoteTarget::Drive(2) }
        );
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        assert!(ScsiPath::parse("sg3").unwrap_err().contains("/dev/sgN"));
        assert!(ScsiPath::parse("hwsim:/s.sock#x").unwrap_err().contains("drive number"));
        assert!(ScsiPath::parse("hwsim:").unwrap_err().contains("socket"));
    }
}
