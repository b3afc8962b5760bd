//! Sharing one simulated site between processes over a Unix socket, through the same SCSI
//! transport seam: the `asto-hwsim` server executes CDBs on the site's library and drives, and
//! [`RemoteTransport`] is the client side a driver talks through, exactly as it would talk to
//! `/dev/sgN`.
//!
//! Wire format, one exchange per command (integers little-endian):
//! request  = "AH1" · target (0 library, 1 drive) · drive u16 · direction (0 none, 1 to device,
//!            2 from device) · timeout-ms u32 · cdb-len u8 · cdb · data-len u32 · data (to device)
//! response = 0 · status u8 · sense-len u8 · sense · residual u32 · data-len u32 · data (from device)
//!          | 1 · message-len u32 · message (the command could not be delivered)
//!
//! The simulator also stands in for the operator's hands at the library door (put a volume into
//! the import/export slot, take one out), which real hardware gets from a person:
//! request  = "AHO" · json-len u32 · JSON [`OperatorAction`]
//! response = 0 · len u32 · "" | 1 · message-len u32 · message (why it could not be done)

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use asto_drivers::scsi::{CommandOutcome, DataTransfer, ScsiStatus, ScsiTransport, TransportError};

const MAGIC: &[u8; 3] = b"AH1";
const OPERATOR_MAGIC: &[u8; 3] = b"AHO";

/// What an operator does at a simulated library's door.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OperatorAction {
    /// Put volume `barcode` into a free import/export slot; for an optical jukebox `disc` is the
    /// image of the disc (burned elsewhere).
    Import { barcode: String, disc: Option<PathBuf> },
    /// Take volume `barcode` out of the import/export slot.
    TakeOut { barcode: String },
}

/// A decoded message (server side).
#[derive(Debug)]
pub enum Message {
    Scsi(Request),
    Operator(OperatorAction),
}
/// Largest data phase accepted on the wire.
pub const MAX_DATA: usize = 16 << 20;

/// Which device of the site a command is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteTarget {
    Library,
    Drive(u16),
}

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    pub target: RemoteTarget,
    pub direction: u8,
    pub timeout: Duration,
    pub cdb: Vec<u8>,
    /// Data to the device, or the length wanted from it.
    pub data: Vec<u8>,
    pub data_len: usize,
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Read one message (server side). `Ok(None)` at a clean end of stream.
pub fn read_message(r: &mut impl Read) -> std::io::Result<Option<Message>> {
    let mut magic = [0u8; 3];
    match r.read_exact(&mut magic) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if &magic == OPERATOR_MAGIC {
        let n = read_u32(r)? as usize;
        if n > 64 << 10 {
            return Err(bad(format!("operator request of {n} bytes is too long")));
        }
        let mut json = vec![0u8; n];
        r.read_exact(&mut json)?;
        let action = serde_json::from_slice(&json).map_err(|e| bad(format!("unreadable operator request: {e}")))?;
        return Ok(Some(Message::Operator(action)));
    }
    if &magic != MAGIC {
        return Err(bad("not an asto-hwsim request"));
    }
    let mut head = [0u8; 4];
    r.read_exact(&mut head)?;
    let target = match head[0] {
        0 => RemoteTarget::Library,
        1 => RemoteTarget::Drive(u16::from_le_bytes([head[1], head[2]])),
        t => return Err(bad(format!("unknown target {t}"))),
    };
    let direction = head[3];
    if direction > 2 {
        return Err(bad(format!("unknown data direction {direction}")));
    }
    let timeout = Duration::from_millis(u64::from(read_u32(r)?));
    let mut len = [0u8; 1];
    r.read_exact(&mut len)?;
    let mut cdb = vec![0u8; usize::from(len[0])];
    r.read_exact(&mut cdb)?;
    let data_len = read_u32(r)? as usize;
    if data_len > MAX_DATA {
        return Err(bad(format!("data phase of {data_len} bytes exceeds {MAX_DATA}")));
    }
    let mut data = Vec::new();
    if direction == 1 {
        data.resize(data_len, 0);
        r.read_exact(&mut data)?;
    }
    Ok(Some(Message::Scsi(Request { target, direction, timeout, cdb, data, data_len })))
}

/// Write the answer to an operator action (server side).
pub fn write_operator_response(w: &mut impl Write, result: Result<(), String>) -> std::io::Result<()> {
    let (kind, msg) = match result {
        Ok(()) => (0u8, String::new()),
        Err(m) => (1, m),
    };
    w.write_all(&[kind])?;
    w.write_all(&(msg.len() as u32).to_le_bytes())?;
    w.write_all(msg.as_bytes())?;
    w.flush()
}

/// Client side: do what an operator does at the door of the library served on `socket`.
pub fn operator(socket: &Path, action: &OperatorAction) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("{}: {e}", socket.display());
    let mut stream = UnixStream::connect(socket).map_err(fail)?;
    let json = serde_json::to_vec(action).map_err(|e| e.to_string())?;
    let mut msg = OPERATOR_MAGIC.to_vec();
    msg.extend_from_slice(&(json.len() as u32).to_le_bytes());
    msg.extend_from_slice(&json);
    stream.write_all(&msg).map_err(fail)?;
    let mut kind = [0u8; 1];
    stream.read_exact(&mut kind).map_err(fail)?;
    let n = read_u32(&mut stream).map_err(fail)? as usize;
    let mut text = vec![0u8; n.min(64 << 10)];
    stream.read_exact(&mut text).map_err(fail)?;
    if kind[0] == 0 { Ok(()) } else { Err(String::from_utf8_lossy(&text).into_owned()) }
}

/// Write a response (server side).
pub fn write_response(w: &mut impl Write, result: Result<(CommandOutcome, &[u8]), String>) -> std::io::Result<()> {
    match result {
        Ok((o, data)) => {
            w.write_all(&[0, o.status.to_byte(), o.sense.len().min(255) as u8])?;
            w.write_all(&o.sense[..o.sense.len().min(255)])?;
            w.write_all(&(o.residual as u32).to_le_bytes())?;
            w.write_all(&(data.len() as u32).to_le_bytes())?;
            w.write_all(data)?;
        }
        Err(msg) => {
            w.write_all(&[1])?;
            w.write_all(&(msg.len() as u32).to_le_bytes())?;
            w.write_all(msg.as_bytes())?;
        }
    }
    w.flush()
}

/// Client side: a SCSI transport to one device of a site served by `asto-hwsim`.
#[derive(Debug)]
pub struct RemoteTransport {
    socket: PathBuf,
    target: RemoteTarget,
    reader: BufReader<UnixStream>,
    writer: BufWriter<UnixStream>,
}

impl RemoteTransport {
    /// Connect to the server at `socket`.
    pub fn connect(socket: &Path, target: RemoteTarget) -> Result<Self, TransportError> {
        let device = socket.display().to_string();
        let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => TransportError::NotFound { device },
            std::io::ErrorKind::PermissionDenied => TransportError::PermissionDenied { device },
            _ => TransportError::Io(e),
        })?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(RemoteTransport { socket: socket.to_path_buf(), target, reader, writer: BufWriter::with_capacity(1 << 20, stream) })
    }

    fn exchange(&mut self, cdb: &[u8], data: &mut DataTransfer<'_>, timeout: Duration) -> std::io::Result<Result<CommandOutcome, String>> {
        let (target, drive) = match self.target {
            RemoteTarget::Library => (0u8, 0u16),
            RemoteTarget::Drive(n) => (1, n),
        };
        let direction = match data {
            DataTransfer::None => 0u8,
            DataTransfer::ToDevice(_) => 1,
            DataTransfer::FromDevice(_) => 2,
        };
        let w = &mut self.writer;
        w.write_all(MAGIC)?;
        let d = drive.to_le_bytes();
        w.write_all(&[target, d[0], d[1], direction])?;
        w.write_all(&u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX).to_le_bytes())?;
        w.write_all(&[cdb.len() as u8])?;
        w.write_all(cdb)?;
        w.write_all(&(data.len() as u32).to_le_bytes())?;
        if let DataTransfer::ToDevice(b) = data {
            w.write_all(b)?;
        }
        w.flush()?;
        let r = &mut self.reader;
        let mut kind = [0u8; 1];
        r.read_exact(&mut kind)?;
        if kind[0] == 1 {
            let n = read_u32(r)? as usize;
            let mut msg = vec![0u8; n.min(64 << 10)];
            r.read_exact(&mut msg)?;
            return Ok(Err(String::from_utf8_lossy(&msg).into_owned()));
        }
        let mut head = [0u8; 2];
        r.read_exact(&mut head)?;
        let mut sense = vec![0u8; usize::from(head[1])];
        r.read_exact(&mut sense)?;
        let residual = read_u32(r)? as usize;
        let n = read_u32(r)? as usize;
        match data {
            DataTransfer::FromDevice(buf) if n <= buf.len() => r.read_exact(&mut buf[..n])?,
            _ if n == 0 => {}
            _ => return Err(bad(format!("server sent {n} unexpected data bytes"))),
        }
        Ok(Ok(CommandOutcome { status: ScsiStatus::from_byte(head[0]), sense, residual }))
    }
}

impl ScsiTransport for RemoteTransport {
    fn execute(&mut self, cdb: &[u8], mut data: DataTransfer<'_>, timeout: Duration) -> Result<CommandOutcome, TransportError> {
        if !matches!(cdb.len(), 6 | 10 | 12 | 16) {
            return Err(TransportError::BadCdb(cdb.len()));
        }
        if data.len() > MAX_DATA {
            return Err(TransportError::BufferTooLarge(data.len()));
        }
        match self.exchange(cdb, &mut data, timeout) {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(msg)) => Err(TransportError::Remote(msg)),
            Err(e) => Err(TransportError::Remote(format!("{}: {e}", self.socket.display()))),
        }
    }

    fn device_name(&self) -> String {
        match self.target {
            RemoteTarget::Library => format!("hwsim:{}:library", self.socket.display()),
            RemoteTarget::Drive(n) => format!("hwsim:{}:drive{n}", self.socket.display()),
        }
    }
}
