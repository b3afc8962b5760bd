//! Device identity: what a device says it is, so it can be recognised by serial number
//! whatever its `/dev` node is called after a reboot.

use serde::{Deserialize, Serialize};

/// INQUIRY-style identity of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIdentity {
    pub vendor: String,
    pub product: String,
    pub revision: String,
    pub serial: String,
}
