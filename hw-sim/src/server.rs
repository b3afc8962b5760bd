//! The `asto-hwsim` server loop: serves one simulated site over a Unix socket so several
//! processes (agents, the CLI, tests) share one library and its drives. Each connection gets a
//! thread; commands to one device are serialised by the device itself. The site is saved after
//! every command that changes it (data reads and writes excepted: cartridges persist their
//! index at filemarks) and when the server stops.

use std::io::{BufReader, BufWriter};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asto_drivers::scsi::{DataTransfer, ScsiTransport};

use crate::remote::{Message, OperatorAction, RemoteTarget, Request, read_message, write_operator_response, write_response};
use crate::scsi_library::SimSite;

/// Opcodes that change nothing worth saving (or are saved by the cartridge itself).
const READ_ONLY_OR_DATA: &[u8] = &[0x00, 0x03, 0x05, 0x08, 0x0a, 0x12, 0x1a, 0x34, 0x4d, 0xb8];

struct Shared {
    site: SimSite,
    save_lock: Mutex<()>,
}

fn execute(shared: &Shared, req: &Request) -> Result<(asto_drivers::scsi::CommandOutcome, Vec<u8>), String> {
    let mut transport: Box<dyn ScsiTransport> = match req.target {
        RemoteTarget::Library => Box::new(shared.site.library()),
        RemoteTarget::Drive(n) => Box::new(
            shared.site.drive(usize::from(n)).ok_or_else(|| format!("the site has {} drive(s), no drive {n}", shared.site.drive_count()))?,
        ),
    };
    let mut inbuf = vec![0u8; if req.direction == 2 { req.data_len } else { 0 }];
    let data = match req.direction {
        1 => DataTransfer::ToDevice(&req.data),
        2 => DataTransfer::FromDevice(&mut inbuf),
        _ => DataTransfer::None,
    };
    let outcome = transport.execute(&req.cdb, data, req.timeout).map_err(|e| e.to_string())?;
    if req.direction == 2 {
        inbuf.truncate(req.data_len - outcome.residual.min(req.data_len));
    }
    if !req.cdb.first().is_some_and(|op| READ_ONLY_OR_DATA.contains(op)) {
        let _guard = shared.save_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = shared.site.save() {
            tracing::error!(error = %e, "cannot save the simulated site");
        }
    }
    Ok((outcome, inbuf))
}

fn connection(shared: Arc<Shared>, stream: UnixStream) {
    let Ok(read_half) = stream.try_clone() else { return };
    let mut r = BufReader::with_capacity(1 << 20, read_half);
    let mut w = BufWriter::new(stream);
    loop {
        let req = match read_message(&mut r) {
            Ok(Some(Message::Scsi(req))) => req,
            Ok(Some(Message::Operator(action))) => {
                let _guard = shared.save_lock.lock().unwrap_or_else(|p| p.into_inner());
                let result = match &action {
                    OperatorAction::Import { barcode, disc } => shared.site.operator_import(barcode, disc.as_deref()),
                    OperatorAction::TakeOut { barcode } => shared.site.operator_take_out(barcode),
                };
                tracing::info!(?action, ok = result.is_ok(), "operator action");
                if write_operator_response(&mut w, result).is_err() {
                    return;
                }
                continue;
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "dropping a client that sent a malformed request");
                let _ = write_response(&mut w, Err(e.to_string()));
                return;
            }
        };
        let result = execute(&shared, &req);
        let reply = match &result {
            Ok((o, data)) => Ok((o.clone(), data.as_slice())),
            Err(msg) => Err(msg.clone()),
        };
        if write_response(&mut w, reply).is_err() {
            return;
        }
    }
}

/// Serve `site` on `listener` until `stop` is set; then save the site.
pub fn serve(site: SimSite, listener: UnixListener, stop: &AtomicBool) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let shared = Arc::new(Shared { site, save_lock: Mutex::new(()) });
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                let s = Arc::clone(&shared);
                std::thread::spawn(move || connection(s, stream));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e),
        }
    }
    let _guard = shared.save_lock.lock().unwrap_or_else(|p| p.into_inner());
    shared.site.save().map_err(|e| std::io::Error::other(e.to_string()))
}
