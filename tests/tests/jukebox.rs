//! The services issue's must-show run: the real `asto controller`, two `asto agent` processes and
//! two `asto-hwsim` servers — a tape library (two LTO-9 drives, 30 slots, one import/export slot)
//! whose changer the controller's host drives, and an optical jukebox whose changer agent B's
//! host drives (through leased import actions) — plus two simulated burners. Three requests run to completion: archive
//! to tape with 2 copies (written in the library's drives, one per agent), a user DVD with 1 copy,
//! archive to BD with 2 copies (burned in standalone burners, then put into the jukebox's
//! import/export slot by the "operator" and moved into storage by the jukebox). Every copy is
//! verified by reading it back; the archive volumes end in storage slots, as the changers
//! themselves report; the stages are empty.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use asto_hw_sim::scsi_library::{LibraryContents, LibraryKind, SimSite, SiteConfig};
use asto_tests::api::{ADMIN, HOST_A, HOST_B, Proc, USER, call, start, wait_done, wait_for, with_api_and_agents};
use asto_tests::hwsim::{hwsim_bin, serve};
use asto_tests::{Workspace, asto_ok, sample_files};
use serde_json::Value;

/// A site with two drives (at `rate` bytes per second, if any), 30 storage slots and one
/// import/export slot; `cartridges` blank cartridges in the first slots.
fn site(dir: &Path, kind: LibraryKind, cartridges: usize, rate: Option<u64>) {
    let mut contents = LibraryContents::empty(2, 30, 1);
    for i in 0..cartridges {
        contents.slots[i] = Some(format!("A{:05}L9", i + 1));
    }
    let mut config = SiteConfig { kind, cartridge_capacity: 4 << 30, ..SiteConfig::default() };
    config.drive.rated_bytes_per_sec = rate;
    config.drive.buffer_bytes = 1 << 20;
    SimSite::create(dir, &config, &contents).unwrap();
}

fn configure(ws: &Workspace, tapes: &Path, discs: &Path, lease_secs: u64) {
    let root = ws.root();
    let tape_sock = tapes.join("hwsim.sock");
    let disc_sock = discs.join("hwsim.sock");
    let mut text = std::fs::read_to_string(&ws.config).unwrap();
    // The workspace's own devices stay (embedded, unused here); the run uses these.
    for (name, element, agent) in [("lto0", 0, "hostA"), ("lto1", 1, "hostB")] {
        text.push_str(&format!(
            "\n[[device]]\nname = \"{name}\"\nkind = \"tape\"\nbackend = \"scsi\"\npath = \"hwsim:{}#{element}\"\njukebox = \"tapelib\"\nelement = {element}\nagent = \"{agent}\"\n",
            tape_sock.display()
        ));
    }
    for (name, agent) in [("bd0", "hostA"), ("bd1", "hostB")] {
        text.push_str(&format!("\n[[device]]\nname = \"{name}\"\nkind = \"optical\"\nbackend = \"sim\"\ndir = \"sim/{name}\"\nagent = \"{agent}\"\n"));
    }
    text.push_str(&format!(
        "\n[[jukebox]]\nname = \"tapelib\"\nkind = \"tape\"\nchanger = \"hwsim:{}\"\nmedia_type = \"LTO-9\"\n\
         \n[[jukebox]]\nname = \"discjb\"\nkind = \"optical\"\nchanger = \"hwsim:{}\"\nagent = \"hostB\"\n",
        tape_sock.display(),
        disc_sock.display()
    ));
    text.push_str("\n[[group]]\nname = \"library\"\ndevices = [\"lto0\", \"lto1\"]\nmedia = [\"LTO-9\"]\n");
    text.push_str("\n[[group]]\nname = \"burners\"\ndevices = [\"bd0\", \"bd1\"]\nmedia = [\"DVD+R\", \"BD-R25\"]\n");
    text.push_str("\n[class.tape]\nmedia = \"LTO-9\"\ncopies = 2\ngroup = \"library\"\n");
    text.push_str("\n[class.disc]\nmedia = \"BD-R25\"\ncopies = 2\ngroup = \"burners\"\n");
    std::fs::write(&ws.config, text).unwrap();
    with_api_and_agents(ws, lease_secs);
    for (host, token, element, burner) in [("hostA", HOST_A, 0, "bd0"), ("hostB", HOST_B, 1, "bd1")] {
        let a = format!(
            "controller = \"CONTROLLER\"\ntoken = \"{token}\"\nmedia_stage = \"{host}/media\"\nshelf = \"{}\"\npoll_ms = 100\ndata = \"shared\"\n\
             \n[[device]]\nname = \"lto{element}\"\nkind = \"tape\"\nbackend = \"scsi\"\npath = \"hwsim:{}#{element}\"\nchanger = \"hwsim:{}\"\nelement = {element}\n\
             \n[[device]]\nname = \"{burner}\"\nkind = \"optical\"\nbackend = \"sim\"\ndir = \"{}\"\nserial = \"SIM-{burner}\"\n",
            root.join("sim/shelf").display(),
            tape_sock.display(),
            tape_sock.display(),
            root.join("sim").join(burner).display()
        );
        // Agent B's host also drives the optical jukebox's changer.
        let a = if host == "hostB" { format!("{a}\n[[jukebox]]\nname = \"discjb\"\nchanger = \"hwsim:{}\"\n", disc_sock.display()) } else { a };
        std::fs::write(root.join(format!("{host}.toml")), a).unwrap();
    }
}

fn start_agent(ws: &Workspace, host: &str, url: &str) -> Proc {
    let path = ws.root().join(format!("{host}.toml"));
    let text = std::fs::read_to_string(&path).unwrap().replace("CONTROLLER", url);
    std::fs::write(&path, text).unwrap();
    let log = std::fs::File::create(ws.root().join(format!("{host}.log"))).unwrap();
    let child = asto_tests::asto(["agent", "--config", path.to_str().unwrap()]).stderr(Stdio::from(log)).stdout(Stdio::null()).spawn().unwrap();
    Proc(child)
}

fn catalogue(ws: &Workspace) -> rusqlite::Connection {
    rusqlite::Connection::open(ws.root().join("catalogue.db")).unwrap()
}

/// `(barcode, state, location)` of the volumes of request `id`'s copies.
fn volumes_of(ws: &Workspace, id: i64) -> Vec<(String, String, String, String)> {
    catalogue(ws)
        .prepare(
            "SELECT v.barcode, c.state, v.location, c.device FROM copies c JOIN volumes v ON v.id = c.volume_id
             JOIN units u ON u.id = c.unit_id WHERE u.request_id = ?1 AND c.state = 'verified' ORDER BY c.copy_no",
        )
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Storage slot (number) → barcode, as the changer of a served site reports it.
fn storage(site: &Path) -> Vec<(u64, String)> {
    let v: Value = serde_json::from_str(&asto_ok(["--json", "changer", "status", "--sim", site.to_str().unwrap()])).unwrap();
    v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "storage" && e["full"] == true)
        .map(|e| (e["number"].as_u64().unwrap(), e["volume_tag"].as_str().unwrap_or("").to_owned()))
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn library_and_jukebox_take_the_archive_volumes_of_three_requests() {
    let ws = Workspace::new(&[]);
    let tapes = ws.root().join("tapelib");
    let discs = ws.root().join("discjb");
    site(&tapes, LibraryKind::Tape, 6, None);
    site(&discs, LibraryKind::Optical, 0, None);
    let _tape_server = serve(&tapes);
    let _disc_server = serve(&discs);
    configure(&ws, &tapes, &discs, 10);

    let t = sample_files(ws.dir.path(), "t/night1", 8, 300_000, 31);
    let d = sample_files(ws.dir.path(), "d/night2", 6, 250_000, 32);
    let u = sample_files(ws.dir.path(), "u/request", 5, 200_000, 33);
    ws.ok(["ingest", "--class", "tape", t.to_str().unwrap()]);
    ws.ok(["ingest", "--class", "disc", d.to_str().unwrap()]);
    ws.ok(["ingest", "--stage", "user", u.to_str().unwrap()]);

    let c = start(&ws);
    let url = c.url.clone();
    let _a = start_agent(&ws, "hostA", &url);
    let _b = start_agent(&ws, "hostB", &url);

    let flush = |class: &str| {
        let (code, v) = call("POST", &format!("{url}/v1/requests/flush"), Some(ADMIN), Some(&format!("{{\"class\": \"{class}\"}}")));
        assert_eq!(code, 200, "{v}");
        v["id"].as_i64().unwrap()
    };
    let tape_req = flush("tape");
    let disc_req = flush("disc");
    let files: Vec<String> = (0..5).map(|i| format!("\"request/obs{i:03}.fits\"")).collect();
    let body = format!("{{\"files\": [{}], \"media\": \"DVD+R\", \"copies\": 1, \"group\": \"burners\"}}", files.join(", "));
    let (code, v) = call("POST", &format!("{url}/v1/requests"), Some(USER), Some(&body));
    assert_eq!(code, 201, "{v}");
    let user_req = v["id"].as_i64().unwrap();

    // The two BDs were burned in standalone burners: the controller asks the operator to put
    // each into the jukebox's import/export slot. The operator does (the simulator's door),
    // acknowledges, and the jukebox takes it in before the next one goes into the single slot.
    let shelf = ws.root().join("sim/shelf");
    let disc_sock = discs.join("hwsim.sock");
    for _ in 0..2 {
        let prompt = wait_for("a move_volume prompt", 180, || {
            let (_, v) = call("GET", &format!("{url}/v1/prompts"), Some(ADMIN), None);
            v.as_array().unwrap().iter().find(|p| p["kind"] == "move_volume").cloned()
        });
        assert_eq!(prompt["device"], "discjb", "{prompt}");
        assert!(prompt["message"].as_str().unwrap().contains("import/export slot"), "{prompt}");
        let barcode = prompt["volume"].as_str().unwrap().to_owned();
        let disc = shelf.join(format!("{barcode}.disc"));
        let out = Command::new(hwsim_bin())
            .args(["import", "--socket", disc_sock.to_str().unwrap(), &barcode, "--disc", disc.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (code, v) = call("POST", &format!("{url}/v1/prompts/{}/ack", prompt["id"]), Some(ADMIN), None);
        assert_eq!(code, 200, "{v}");
        wait_for("the disc to be taken into storage", 60, || {
            let loc: String = catalogue(&ws).query_row("SELECT location FROM volumes WHERE barcode = ?1", [&barcode], |r| r.get(0)).unwrap();
            loc.starts_with("jukebox:discjb:").then_some(())
        });
    }

    // The imports ran on agent B, which drives the jukebox; agent A may not claim it.
    let imports: i64 = catalogue(&ws)
        .query_row("SELECT count(*) FROM actions WHERE kind = 'import' AND agent = 'hostB' AND state = 'collected'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(imports, 2);
    let (code, v) = call("POST", &format!("{url}/v1/agent/register"), Some(HOST_A), Some(r#"{"devices": [], "jukeboxes": ["discjb"], "version": "x"}"#));
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("jukebox 'discjb' is not configured as agent hostA's"), "{v}");

    let done_tape = wait_done(&c, tape_req);
    let done_disc = wait_done(&c, disc_req);
    let done_user = wait_done(&c, user_req);
    assert_eq!(done_tape["copies_verified"], 2, "{done_tape}");
    assert_eq!(done_disc["copies_verified"], 2, "{done_disc}");
    assert_eq!(done_user["copies_verified"], 1, "{done_user}");

    // Tape copies: one in each library drive (one per agent), on library cartridges, now in the
    // storage slots the catalogue names — the library's own element status agrees.
    let tape_vols = volumes_of(&ws, tape_req);
    assert_eq!(tape_vols.len(), 2);
    let devices: Vec<&str> = tape_vols.iter().map(|v| v.3.as_str()).collect();
    assert!(devices.contains(&"lto0") && devices.contains(&"lto1"), "{tape_vols:?}");
    let in_library = storage(&tapes);
    for (barcode, _, location, _) in &tape_vols {
        assert!(barcode.starts_with('A') && barcode.ends_with("L9"), "a library cartridge: {barcode}");
        let slot: u64 = location.strip_prefix("jukebox:tapelib:").unwrap_or_else(|| panic!("{barcode} at {location}")).parse().unwrap();
        assert!(in_library.contains(&(slot, barcode.clone())), "{barcode} in slot {slot}: {in_library:?}");
    }
    // Blank cartridges the library held were inventoried as scratch; the two written are full.
    let scratch: i64 = catalogue(&ws).query_row("SELECT count(*) FROM volumes WHERE state = 'scratch' AND location LIKE 'jukebox:tapelib:%'", [], |r| r.get(0)).unwrap();
    assert_eq!(scratch, 4);

    // BD copies: in the jukebox's storage slots, as the jukebox reports.
    let disc_vols = volumes_of(&ws, disc_req);
    assert_eq!(disc_vols.len(), 2);
    let in_jukebox = storage(&discs);
    for (barcode, _, location, _) in &disc_vols {
        let slot: u64 = location.strip_prefix("jukebox:discjb:").unwrap_or_else(|| panic!("{barcode} at {location}")).parse().unwrap();
        assert!(in_jukebox.contains(&(slot, barcode.clone())), "{barcode} in slot {slot}: {in_jukebox:?}");
    }

    // The user DVD goes to the requester: a take_out prompt names it.
    let user_vols = volumes_of(&ws, user_req);
    assert_eq!(user_vols.len(), 1);
    let (_, prompts) = call("GET", &format!("{url}/v1/prompts"), Some(ADMIN), None);
    assert!(
        prompts.as_array().unwrap().iter().any(|p| p["kind"] == "take_out" && p["volume"] == user_vols[0].0.as_str()),
        "{prompts}"
    );

    // Every copy was read back: five verifications done.
    let verified: i64 = catalogue(&ws).query_row("SELECT count(*) FROM events WHERE action = 'verify' AND phase = 'done' AND copy_id IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(verified, 5);

    // Retrieval from media goes through the agent that drives a library drive: it loads the
    // cartridge from its slot, reads only the file's records and uploads them, checked twice.
    let got = ws.root().join("retrieved.fits");
    let path: String = catalogue(&ws)
        .query_row("SELECT path FROM files WHERE stage = 'archive' AND path LIKE '%night1/obs003.fits'", [], |r| r.get(0))
        .unwrap();
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-o", got.to_str().unwrap(), "-H", &format!("Authorization: Bearer {USER}")])
        .arg(format!("{url}/v1/retrieve?file={path}&from_media=true"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}{}", String::from_utf8_lossy(&std::fs::read(&got).unwrap_or_default()));
    assert!(head.contains("x-asto-source: volume"), "{head}");
    assert!(tape_vols.iter().any(|v| head.contains(&format!("x-asto-volume: {}", v.0.to_lowercase()))), "{head}");
    assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(t.join("obs003.fits")).unwrap());
    let retrievals: i64 = catalogue(&ws)
        .query_row("SELECT count(*) FROM actions WHERE kind = 'retrieve' AND agent IN ('hostA', 'hostB') AND state = 'collected'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(retrievals, 1);

    // The stages are clean: the files are on verified media, and prepared units are gone.
    for stage in ["stages/archive", "stages/user", "stages/media"] {
        let left = files_under(&ws.root().join(stage));
        assert!(left.is_empty(), "{stage} still holds {left:?}");
    }
}

/// An embedded agent drives a library with no blank cartridges: the controller asks for blank
/// media; the operator puts two into the import/export slots and acknowledges; the next run takes
/// them in as scratch, writes a user request on one, and sends it out through an import/export
/// slot with a `take_out` prompt.
#[test]
fn empty_library_asks_for_blanks_and_user_tapes_leave_through_the_mail_slot() {
    let ws = Workspace::new(&[]);
    let tapes = ws.root().join("tapelib");
    // The only cartridge holds someone else's data: a filemark written by hand.
    let mut contents = LibraryContents::empty(2, 30, 2);
    contents.slots[0] = Some("F00001L9".into());
    SimSite::create(&tapes, &SiteConfig { cartridge_capacity: 4 << 30, ..SiteConfig::default() }, &contents).unwrap();
    let _server = serve(&tapes);
    let sock = tapes.join("hwsim.sock");
    let site = tapes.to_str().unwrap();
    asto_ok(["changer", "load", "--sim", site, "1", "0"]);
    asto_ok(["tape", "weof", "--sim", site, "--drive", "0", "1"]);
    asto_ok(["tape", "unload", "--sim", site, "--drive", "0"]);
    asto_ok(["changer", "unload", "--sim", site, "0", "1"]);
    let mut text = std::fs::read_to_string(&ws.config).unwrap();
    for element in [0, 1] {
        text.push_str(&format!(
            "\n[[device]]\nname = \"lto{element}\"\nkind = \"tape\"\nbackend = \"scsi\"\npath = \"hwsim:{}#{element}\"\njukebox = \"tapelib\"\nelement = {element}\n",
            sock.display()
        ));
    }
    text.push_str(&format!("\n[[jukebox]]\nname = \"tapelib\"\nkind = \"tape\"\nchanger = \"hwsim:{}\"\nmedia_type = \"LTO-9\"\n", sock.display()));
    text.push_str("\n[[group]]\nname = \"library\"\ndevices = [\"lto0\", \"lto1\"]\nmedia = [\"LTO-9\"]\n");
    std::fs::write(&ws.config, text).unwrap();
    let u = sample_files(ws.dir.path(), "u/request", 4, 150_000, 34);
    ws.ok(["ingest", "--stage", "user", u.to_str().unwrap()]);
    let files: Vec<String> = (0..4).map(|i| format!("request/obs{i:03}.fits")).collect();
    let mut submit = vec!["request", "submit", "--media", "LTO-9", "--group", "library"];
    submit.extend(files.iter().map(String::as_str));
    ws.ok(submit);

    // The foreign cartridge is not overwritten but marked bad; with no blank cartridge left,
    // nothing is written, and the operator is asked for blanks, once.
    ws.ok(["run"]);
    ws.ok(["run"]);
    let (state, note): (String, String) =
        catalogue(&ws).query_row("SELECT state, note FROM volumes WHERE barcode = 'F00001L9'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(state, "bad");
    assert!(note.contains("holds data asto did not write") && note.contains("not overwritten"), "{note}");
    let prompts = ws.json(["prompts", "list"]);
    let blanks: Vec<&Value> = prompts.as_array().unwrap().iter().filter(|p| p["kind"] == "load_blank").collect();
    assert_eq!(blanks.len(), 1, "{prompts}");
    assert_eq!(blanks[0]["device"], "tapelib");
    let written: i64 = catalogue(&ws).query_row("SELECT count(*) FROM copies WHERE state <> 'pending'", [], |r| r.get(0)).unwrap();
    assert_eq!(written, 0);

    for barcode in ["B00001L9", "B00002L9"] {
        let out = Command::new(hwsim_bin()).args(["import", "--socket", sock.to_str().unwrap(), barcode]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // A third does not fit the two import/export slots: the simulator says so.
    let out = Command::new(hwsim_bin()).args(["import", "--socket", sock.to_str().unwrap(), "B00003L9"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("import/export slots are full"));
    ws.ok(["prompts", "ack", &blanks[0]["id"].to_string()]);
    ws.ok(["run"]);

    let (barcode, state, location): (String, String, String) = catalogue(&ws)
        .query_row(
            "SELECT v.barcode, c.state, v.location FROM copies c JOIN volumes v ON v.id = c.volume_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(state, "verified");
    assert!(barcode.starts_with("B0000"), "{barcode}");
    assert_eq!(location, "export");
    let other = if barcode == "B00001L9" { "B00002L9" } else { "B00001L9" };
    let (other_state, other_location): (String, String) =
        catalogue(&ws).query_row("SELECT state, location FROM volumes WHERE barcode = ?1", [other], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(other_state, "scratch");
    assert!(other_location.starts_with("jukebox:tapelib:"), "{other_location}");
    // The library agrees: the written tape waits in an import/export slot, the other in storage.
    let v: Value = serde_json::from_str(&asto_ok(["--json", "changer", "status", "--sim", tapes.to_str().unwrap()])).unwrap();
    let kind_of = |tag: &str| v["slots"].as_array().unwrap().iter().find(|e| e["volume_tag"] == tag).map(|e| e["kind"].clone());
    assert_eq!(kind_of(&barcode), Some(Value::from("import_export")), "{v}");
    assert_eq!(kind_of(other), Some(Value::from("storage")), "{v}");
    let prompts = ws.json(["prompts", "list"]);
    assert!(prompts.as_array().unwrap().iter().any(|p| p["kind"] == "take_out" && p["volume"] == barcode.as_str()), "{prompts}");
}

/// `kill -9` of the agent writing in one library drive: its lease runs out, the drive is taken
/// out of service and the half-written cartridge goes back to scratch; once the agent is back,
/// the copy is written again (the library first puts the half-written cartridge away) and the
/// request completes with both copies verified in storage slots.
#[test]
fn killed_agent_in_a_library_loses_its_lease_and_the_copy_is_written_again() {
    let ws = Workspace::new(&[]);
    let tapes = ws.root().join("tapelib");
    let discs = ws.root().join("discjb");
    site(&tapes, LibraryKind::Tape, 6, Some(4_000_000));
    site(&discs, LibraryKind::Optical, 0, None);
    let _tape_server = serve(&tapes);
    let _disc_server = serve(&discs);
    configure(&ws, &tapes, &discs, 2);
    let t = sample_files(ws.dir.path(), "t/night1", 30, 400_000, 35);
    ws.ok(["ingest", "--class", "tape", t.to_str().unwrap()]);
    let c = start(&ws);
    let url = c.url.clone();
    let mut a = start_agent(&ws, "hostA", &url);
    let _b = start_agent(&ws, "hostB", &url);
    let (_, v) = call("POST", &format!("{url}/v1/requests/flush"), Some(ADMIN), Some(r#"{"class": "tape"}"#));
    let id = v["id"].as_i64().unwrap();
    let barcode: String = wait_for("agent A writing in drive 0", 120, || {
        catalogue(&ws)
            .query_row("SELECT v.barcode FROM copies c JOIN volumes v ON v.id = c.volume_id WHERE c.device = 'lto0' AND c.state = 'writing'", [], |r| r.get(0))
            .ok()
    });
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    // The lease runs out: drive 0 is down, the half-written cartridge is scratch again.
    wait_for("the lease to expire", 60, || {
        let conn = catalogue(&ws);
        let down: String = conn.query_row("SELECT state FROM devices WHERE name = 'lto0'", [], |r| r.get(0)).unwrap();
        let state: String = conn.query_row("SELECT state FROM volumes WHERE barcode = ?1", [&barcode], |r| r.get(0)).unwrap();
        (down == "down" && state == "scratch").then_some(())
    });
    let _a = start_agent(&ws, "hostA", &url);
    let done = wait_done(&c, id);
    assert_eq!(done["copies_verified"], 2, "{done}");
    let vols = volumes_of(&ws, id);
    let devices: Vec<&str> = vols.iter().map(|v| v.3.as_str()).collect();
    assert!(devices.contains(&"lto0") && devices.contains(&"lto1"), "{vols:?}");
    let in_library = storage(&tapes);
    for (b, _, location, _) in &vols {
        let slot: u64 = location.strip_prefix("jukebox:tapelib:").unwrap_or_else(|| panic!("{b} at {location}")).parse().unwrap();
        assert!(in_library.contains(&(slot, b.clone())), "{b} in slot {slot}: {in_library:?}");
    }
    let expired: i64 = catalogue(&ws)
        .query_row("SELECT count(*) FROM events WHERE action = 'write' AND phase = 'failed' AND device = 'lto0' AND detail LIKE '%lease expired%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(expired, 1);
}
