//! The `asto-hwsim` server: several clients share one simulated library over a Unix socket,
//! through the same SCSI seam and drivers as real devices, and the site is saved when the server
//! stops.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use asto_drivers::changer::MediaChanger;
use asto_drivers::scsi::retry::RetryPolicy;
use asto_drivers::scsi::TransportError;
use asto_drivers::smc::SmcChanger;
use asto_drivers::ssc::SscDrive;
use asto_drivers::tape::{ReadOutcome, TapeDrive};
use asto_hw_sim::remote::{RemoteTarget, RemoteTransport};

/// Start the server and wait for its "serving" line.
fn start(dir: &Path) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_asto-hwsim"))
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start asto-hwsim");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).unwrap();
    assert!(line.starts_with("asto-hwsim: serving"), "{line}");
    child
}

fn stop(mut child: Child) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn clients_share_one_library() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let sock = dir.path().join("hwsim.sock");
    let connect = |t| RemoteTransport::connect(&sock, t).unwrap();
    // Client 1 loads a tape; client 2 writes to it; client 3 sees both effects.
    let mut changer = SmcChanger::with_policy(connect(RemoteTarget::Library), RetryPolicy::immediate());
    let st = changer.status().unwrap();
    assert_eq!((st.drives.len(), st.slots.len()), (2, 22));
    changer.load(3, 1).unwrap();
    let writer = std::thread::spawn({
        let t = connect(RemoteTarget::Drive(1));
        move || {
            let mut d = SscDrive::with_policy(t, RetryPolicy::immediate());
            d.ready().unwrap();
            for i in 0..8u8 {
                d.write_block(&vec![i; 256 * 1024]).unwrap();
            }
            d.write_filemarks(1).unwrap();
            d.rewind().unwrap();
        }
    });
    writer.join().unwrap();
    let mut reader = SscDrive::with_policy(connect(RemoteTarget::Drive(1)), RetryPolicy::immediate());
    let mut buf = vec![0u8; 256 * 1024];
    assert_eq!(reader.read_block(&mut buf).unwrap(), ReadOutcome::Data(256 * 1024));
    assert!(buf.iter().all(|b| *b == 0));
    let other = SmcChanger::with_policy(connect(RemoteTarget::Library), RetryPolicy::immediate()).status().unwrap();
    assert_eq!(other.drive(1).unwrap().volume_tag.as_deref(), Some("A00003L9"));
    // A drive the site does not have is a transport error naming the problem.
    let mut missing = connect(RemoteTarget::Drive(9));
    let err = asto_drivers::scsi::execute(&mut missing, &[0u8; 6], asto_drivers::scsi::DataTransfer::None, std::time::Duration::from_secs(1)).unwrap_err();
    assert!(err.to_string().contains("no drive 9"), "{err}");
    stop(server);
    let contents = std::fs::read_to_string(dir.path().join("library_contents")).unwrap();
    assert!(contents.contains("Drive 2: A00003L9"), "{contents}");
    assert!(!dir.path().join("hwsim.sock").exists());
}

#[test]
fn no_server_is_reported_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let err = RemoteTransport::connect(&dir.path().join("hwsim.sock"), RemoteTarget::Library).unwrap_err();
    assert!(matches!(err, TransportError::NotFound { .. }));
}
