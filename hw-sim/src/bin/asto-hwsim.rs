//! `asto-hwsim`: serve a simulated site (library, tape drives, cartridges) over a Unix socket so
//! several asto processes share it.
//!
//! `asto-hwsim --dir DIR [--socket PATH]` — the socket defaults to `DIR/hwsim.sock`. A directory
//! without a site gets a default one: 2 LTO-9 drives, 20 slots, 2 import/export slots, cartridges
//! A00001L9–A00010L9 in slots 1–10. Stops cleanly (saving the site) on SIGTERM or SIGINT.
//!
//! The operator's hands at the library door, against a running server:
//! `asto-hwsim import --socket PATH BARCODE [--disc IMAGE]` puts a volume into a free
//! import/export slot (an optical jukebox needs the disc's image); `asto-hwsim take-out --socket
//! PATH BARCODE` takes one out.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use asto_hw_sim::remote::OperatorAction;
use asto_hw_sim::scsi_library::{LibraryContents, SimSite, SiteConfig};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn usage() -> ExitCode {
    eprintln!("usage: asto-hwsim --dir DIR [--socket PATH]");
    eprintln!("       asto-hwsim import --socket PATH BARCODE [--disc IMAGE]");
    eprintln!("       asto-hwsim take-out --socket PATH BARCODE");
    ExitCode::from(2)
}

/// `import` / `take-out`: what an operator does at the door of a served library.
fn operator(command: &str, args: impl Iterator<Item = String>) -> ExitCode {
    let (mut socket, mut disc, mut barcode) = (None, None, None);
    let mut args = args;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--socket" => socket = args.next().map(PathBuf::from),
            "--disc" if command == "import" => disc = args.next().map(PathBuf::from),
            other if !other.starts_with('-') && barcode.is_none() => barcode = Some(other.to_owned()),
            other => {
                eprintln!("asto-hwsim {command}: unknown argument {other:?}");
                return usage();
            }
        }
    }
    let (Some(socket), Some(barcode)) = (socket, barcode) else { return usage() };
    let action = match command {
        "import" => OperatorAction::Import { barcode: barcode.clone(), disc: disc.map(|d| std::path::absolute(&d).unwrap_or(d)) },
        _ => OperatorAction::TakeOut { barcode: barcode.clone() },
    };
    match asto_hw_sim::remote::operator(&socket, &action) {
        Ok(()) => {
            println!("asto-hwsim: {command} {barcode}: done");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("asto-hwsim: {command} {barcode}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let mut first = std::env::args().skip(1).peekable();
    if let Some(cmd) = first.peek().cloned()
        && (cmd == "import" || cmd == "take-out")
    {
        return operator(&cmd, first.skip(1));
    }
    let mut dir: Option<PathBuf> = std::env::var_os("ASTO_HWSIM_DIR").map(PathBuf::from);
    let mut socket: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => dir = args.next().map(PathBuf::from),
            "--socket" => socket = args.next().map(PathBuf::from),
            "--help" | "-h" => return usage(),
            other => {
                eprintln!("asto-hwsim: unknown argument {other:?}");
                return usage();
            }
        }
    }
    let Some(dir) = dir else { return usage() };
    let socket = socket.unwrap_or_else(|| dir.join("hwsim.sock"));
    match run(&dir, &socket) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("asto-hwsim: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &std::path::Path, socket: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    if !dir.join("library_contents").exists() {
        let mut contents = LibraryContents::empty(2, 20, 2);
        for i in 0..10 {
            contents.slots[i] = Some(format!("A{:05}L9", i + 1));
        }
        SimSite::create(dir, &SiteConfig::default(), &contents)?;
    }
    let site = SimSite::open(dir)?;
    let handler = nix::sys::signal::SigHandler::Handler(on_signal);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        nix::sys::signal::signal(nix::sys::signal::Signal::SIGTERM, handler)?;
        nix::sys::signal::signal(nix::sys::signal::Signal::SIGINT, handler)?;
    }
    let _ = std::fs::remove_file(socket);
    let listener = std::os::unix::net::UnixListener::bind(socket)?;
    println!("asto-hwsim: serving {} on {}", dir.display(), socket.display());
    std::io::stdout().flush()?;
    asto_hw_sim::server::serve(site, listener, &STOP)?;
    let _ = std::fs::remove_file(socket);
    println!("asto-hwsim: stopped, site saved");
    Ok(())
}
