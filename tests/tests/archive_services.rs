//! End-to-end tests of the archive services with the real `asto` binary on simulated devices:
//! trigger-file ingest of real FITS files written by astropy, keyword browse, versioning on
//! re-ingest, and retrieval of single files from tape and optical volumes in the jukebox,
//! positioned without reading the whole volume.

use std::path::{Path, PathBuf};
use std::process::Command;

use asto_tests::{Workspace, sample_files};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A Python 3 that has astropy (Debian's python3-astropy, see scripts/install-test-deps.sh).
fn python_with_astropy() -> PathBuf {
    for candidate in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(candidate).args(["-c", "import astropy.io.fits"]).output().is_ok_and(|o| o.status.success());
        if ok {
            return PathBuf::from(candidate);
        }
    }
    panic!("no python3 with astropy found: install python3-astropy (scripts/install-test-deps.sh)");
}

/// Write FITS files with astropy: a plain image, a gzipped one and a tile-compressed (.fz) one.
fn write_fits(dir: &Path, seed: u32) {
    let script = r#"
import sys
import numpy as np
from astropy.io import fits
out, seed = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(seed)
def header(h, obj, date, instrument, obs_id, prog):
    h['DATE-OBS'] = date
    h['INSTRUME'] = instrument
    h['TELESCOP'] = 'MPG/ESO-2.2'
    h['OBJECT'] = obj
    h['RA'] = (11.888, 'deg')
    h['DEC'] = (-25.288, 'deg')
    h['EXPTIME'] = 300.0
    h['PROG_ID'] = prog
    h['OBS_ID'] = obs_id
    h['HIERARCH ESO DET CHIP NAME'] = 'ccd%02d' % (obs_id - 4700)
data = rng.normal(size=(64, 64)).astype('float32')
p = fits.PrimaryHDU(data)
header(p.header, 'NGC 253', '2024-03-01T01:02:03.5', 'WFI', 4711, '60.A-9001(A)')
p.writeto(out + '/obs001.fits')
g = fits.PrimaryHDU(data * 2)
header(g.header, 'Centaurus A', '2024-03-02T23:59:00', 'FORS2', 4712, '60.A-9002(B)')
g.header['PI'] = 'ann'
g.header['PROP_END'] = '2999-01-01'
g.writeto(out + '/obs002.fits.gz')
c = fits.CompImageHDU(data * 3)
header(c.header, 'Fornax cluster', '2024-03-05T00:10:00', 'WFI', 4713, '60.A-9003(C)')
fits.HDUList([fits.PrimaryHDU(), c]).writeto(out + '/obs003.fits.fz')
"#;
    let out = Command::new(python_with_astropy()).args(["-c", script, dir.to_str().unwrap(), &seed.to_string()]).output().expect("run python3");
    assert!(out.status.success(), "astropy failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn trigger(inbox: &Path, name: &str, content: &str) {
    std::fs::write(inbox.join(format!("{name}.ready")), content).unwrap();
}

fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

fn browse(ws: &Workspace, args: &[&str]) -> Vec<String> {
    let mut all = vec!["browse"];
    all.extend_from_slice(args);
    let v = ws.json(all);
    v["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn trigger_files_ingest_real_fits_with_searchable_keywords_and_versions() {
    let ws = Workspace::new(&[]);
    let inbox = ws.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    write_fits(&inbox, 1);
    let original = sha256_file(&inbox.join("obs001.fits"));
    trigger(&inbox, "obs001.fits", "");
    trigger(&inbox, "obs002.fits.gz", "prefix = \"night1\"\n");
    trigger(&inbox, "obs003.fits.fz", "");
    // A file still being written has no trigger yet and is left alone.
    std::fs::write(inbox.join("obs004.fits"), b"partial").unwrap();

    let out = ws.ok(["inbox", "watch", "--inbox", inbox.to_str().unwrap(), "--once", "--class", "raw", "--json"]);
    let pass: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(pass["queued"], 3, "{pass}");
    let processed = pass["processed"].as_array().unwrap();
    assert!(processed.iter().all(|o| o["ok"] == true), "{pass}");
    for name in ["obs001.fits", "obs002.fits.gz", "obs003.fits.fz"] {
        assert!(!inbox.join(name).exists(), "{name} left in the inbox");
        let receipt: Value = serde_json::from_str(&std::fs::read_to_string(inbox.join(format!("{name}.done"))).unwrap()).unwrap();
        assert_eq!(receipt["archived"]["version"], 1, "{receipt}");
    }
    assert!(inbox.join("obs004.fits").exists() && !inbox.join("obs004.fits.done").exists());

    // Keywords of all three forms are catalogued and searchable (public data only by default).
    assert_eq!(browse(&ws, &["-k", "INSTRUME=wfi"]), ["raw/obs001.fits", "raw/obs003.fits.fz"]);
    assert_eq!(browse(&ws, &["-k", "OBS_ID=4713"]), ["raw/obs003.fits.fz"], "the .fz keywords come from its image extension");
    assert_eq!(browse(&ws, &["-k", "ESO DET CHIP NAME=ccd11"]), ["raw/obs001.fits"]);
    assert_eq!(browse(&ws, &["fornax"]), ["raw/obs003.fits.fz"]);
    assert_eq!(browse(&ws, &["--from", "2024-03-01", "--to", "2024-03-03"]), ["raw/obs001.fits"], "obs002 is proprietary");
    let v = ws.json(["browse", "--from", "2024-03-01", "--to", "2024-03-03"]);
    assert_eq!(v["hidden"], 1, "{v}");
    // The owner named in the gzipped file's header sees it; others do not.
    assert_eq!(browse(&ws, &["--as-user", "ann", "centaurus"]), ["raw/night1/obs002.fits.gz"]);
    assert!(browse(&ws, &["--as-user", "bob", "centaurus"]).is_empty());
    let first = &ws.json(["browse", "--name", "obs001.fits"])["files"][0];
    assert_eq!(first["object"], "NGC 253");
    assert_eq!(first["date_obs"], "2024-03-01T01:02:03.5");
    assert!((first["ra"].as_f64().unwrap() - 11.888).abs() < 1e-9 && first["exptime"] == 300.0, "{first}");
    assert_eq!(first["programme"], "60.A-9001(A)");

    // The same name again: the archive keeps both, the new one as version 2.
    write_fits(&inbox, 2);
    trigger(&inbox, "obs001.fits", "");
    let out = ws.ok(["inbox", "watch", "--inbox", inbox.to_str().unwrap(), "--once", "--class", "raw", "--json"]);
    let pass: Value = serde_json::from_str(out.trim()).unwrap();
    let archived = &pass["processed"][0]["archived"];
    assert_eq!((archived["path"].as_str(), archived["version"].as_u64()), (Some("raw/obs001.v2.fits"), Some(2)), "{pass}");
    let versions = ws.json(["browse", "--name", "obs001*"]);
    let rows: Vec<(String, u64, String)> = versions["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_owned(), f["version"].as_u64().unwrap(), f["logical_path"].as_str().unwrap().to_owned()))
        .collect();
    assert!(rows.contains(&("raw/obs001.fits".into(), 1, "raw/obs001.fits".into())), "{rows:?}");
    assert!(rows.contains(&("raw/obs001.v2.fits".into(), 2, "raw/obs001.fits".into())), "{rows:?}");
    let stage = ws.root().join("stages/archive/raw");
    assert_eq!(sha256_file(&stage.join("obs001.fits")), original, "version 1 is untouched");
    assert_ne!(sha256_file(&stage.join("obs001.v2.fits")), original);

    // A broken trigger and a file that claims to be FITS but is not fail with the reason.
    std::fs::write(inbox.join("junk.fits"), b"SIMPLE? no").unwrap();
    trigger(&inbox, "junk.fits", "");
    let out = ws.cmd(["inbox", "watch", "--inbox", inbox.to_str().unwrap(), "--once", "--class", "raw"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a failed request makes the pass fail");
    let why = std::fs::read_to_string(inbox.join("junk.fits.failed")).unwrap();
    assert!(why.contains("junk.fits") && why.contains("FITS"), "{why}");
    assert!(browse(&ws, &["--name", "junk*"]).is_empty(), "nothing half-archived");
}

/// Archive `n` files of `size` bytes in class `class` (directory `dir`), write them out and
/// return their sources.
fn archive_and_write(ws: &Workspace, class: &str, dir: &str, n: usize, size: usize) -> PathBuf {
    let src = sample_files(ws.dir.path(), &format!("src/{dir}"), n, size, 42);
    ws.ok(["ingest", "--class", class, src.to_str().unwrap()]);
    ws.ok(["request", "flush", class]);
    ws.ok(["run"]);
    src
}

#[test]
fn single_files_come_back_from_tape_positioned_at_their_block() {
    let ws = Workspace::new(&[]);
    let src = archive_and_write(&ws, "raw", "tapes", 20, 1 << 20);
    let conn = rusqlite::Connection::open(ws.root().join("catalogue.db")).unwrap();
    let (start, tape_file): (i64, i64) = conn.query_row("SELECT start_block, tape_file FROM copies WHERE copy_no = 1", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let staged: i64 = conn.query_row("SELECT count(*) FROM files WHERE state = 'staged'", [], |r| r.get(0)).unwrap();
    assert_eq!(staged, 0, "cleanup took the files out of the stage: retrieval must use the volumes");
    // Make the unit's first record unreadable on every drive: a retrieval that read the volume
    // (or the unit) from its start would fail.
    let first_data_block = start - tape_file;
    for d in ["tape0", "tape1"] {
        std::fs::write(ws.root().join(format!("sim/{d}/faults.json")), format!(r#"{{"read_error_at_block": {first_data_block}}}"#)).unwrap();
    }
    let out = ws.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let v = ws.json(["retrieve", "-o", out.to_str().unwrap(), "raw/tapes/obs010.fits"]);
    let v = &v[0];
    assert_eq!(v["source"], "volume", "{v}");
    assert_eq!(sha256_file(&out.join("obs010.fits")), sha256_file(&src.join("obs010.fits")));
    let (read, image) = (v["bytes_read"].as_u64().unwrap(), v["image_bytes"].as_u64().unwrap());
    assert!(read <= (1 << 20) + 2 * (256 << 10), "read {read} bytes for a 1 MiB file");
    assert!(image > 10 * read, "the unit holds {image} bytes; only {read} were read");
    assert!(v["located_block"].as_i64().unwrap() > start + 8, "{v}");

    // Offline volumes: a clear error naming them, and nothing delivered.
    conn.execute("UPDATE volumes SET location = 'shelf'", []).unwrap();
    let err = ws.fails(["retrieve", "-o", out.to_str().unwrap(), "raw/tapes/obs003.fits"]);
    assert!(err.contains("offline volumes") && err.contains("(shelf)") && err.contains("operator prompt"), "{err}");
    assert!(!out.join("obs003.fits").exists());
    let prompts = ws.json(["prompts", "list"]);
    let open: Vec<&Value> = prompts.as_array().unwrap().iter().filter(|p| p["kind"] == "move_volume").collect();
    assert_eq!(open.len(), 1, "{prompts}");
    assert!(open[0]["message"].as_str().unwrap().contains("into the jukebox"), "{prompts}");
    // Asking again does not pile up prompts for the same volume.
    ws.fails(["retrieve", "-o", out.to_str().unwrap(), "raw/tapes/obs004.fits"]);
    let again = ws.json(["prompts", "list"]);
    assert_eq!(again.as_array().unwrap().iter().filter(|p| p["kind"] == "move_volume").count(), 1, "{again}");
}

#[test]
fn single_files_come_back_from_optical_volumes_by_their_extent() {
    let ws = Workspace::new(&[]);
    let mut config = std::fs::read_to_string(&ws.config).unwrap();
    config.push_str("\n[class.discs]\nmedia = \"DEMO-CD\"\ncopies = 1\ngroup = \"optical\"\n");
    std::fs::write(&ws.config, config).unwrap();
    let src = archive_and_write(&ws, "discs", "discs", 10, 1 << 20);
    let out = ws.dir.path().join("obs007.fits");
    let v = ws.json(["retrieve", "-o", out.to_str().unwrap(), "discs/discs/obs007.fits"]);
    let v = &v[0];
    assert_eq!(v["source"], "volume", "{v}");
    assert!(v["volume"].as_str().unwrap().starts_with("DISC"), "{v}");
    assert_eq!(sha256_file(&out), sha256_file(&src.join("obs007.fits")));
    assert_eq!(v["bytes_read"], 1 << 20, "exactly the file's extent is read");
    assert!(v["image_bytes"].as_u64().unwrap() > 10 << 20);
    // An existing destination is never overwritten.
    let err = ws.fails(["retrieve", "-o", out.to_str().unwrap(), "discs/discs/obs007.fits"]);
    assert!(err.contains("already exists"), "{err}");
}
