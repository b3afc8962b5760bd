//! The action pipeline: prepare → write → verify → (archive) jukebox ingest → cleanup.
//!
//! One runner thread owns the catalogue connection and makes every state transition, each in one
//! transaction that also logs the event; actions that touch files and devices run on worker
//! threads through the agent and report back over a channel. Preparation of the next units runs
//! while others are being written, so devices do not wait. Copies of a unit go to distinct
//! devices of the request's group; each device is reserved in the catalogue while it works.
//!
//! A crash can happen anywhere: on start the runner first recovers (interrupted writes go back to
//! pending and their half-written volumes are scratched or discarded; reservations are released),
//! and every action is idempotent, so the request completes with nothing lost or duplicated.

pub mod actions;
pub mod jobs;
pub mod jukebox;
pub mod recovery;
pub mod rollback;
pub mod state;

pub use actions::lease_deadline;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use asto_agent::wire::{Job, Outcome, PreparedUnit, VerifyJob, VerifyReport, WriteJob, WriteReport};
use asto_agent::{Agent, AgentError, Blame, DeviceKind};
use rusqlite::{Connection, OptionalExtension, params};
use tracing::{info, warn};

use crate::catalogue::{self, events};
use crate::config::{Config, StageKind};
use crate::error::{Error, Result};
use crate::stage::Stage;
use state::{CopyEvent, CopyState, UnitEvent, UnitState, copy_next, unit_next};

/// How often a copy is attempted before the runner stops retrying it and reports it.
pub const MAX_ATTEMPTS: u32 = 3;

/// Stop the pipeline after a phase (operators may prepare by day and write by night; tests
/// roll back from every state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Phase {
    Prepare,
    Write,
    Verify,
    Ingest,
}

/// Progress reported while the pipeline runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// An action started on a copy (or a unit, for prepare): `total` bytes to move.
    Started { key: String, action: String, unit: String, device: Option<String>, total: u64 },
    /// Bytes moved so far.
    Bytes { key: String, done: u64 },
    /// The action ended.
    Finished { key: String, ok: bool, message: String },
}

enum Done {
    Prepared { unit: i64, result: std::result::Result<PreparedUnit, AgentError> },
    Written { copy: i64, device: String, result: std::result::Result<WriteReport, AgentError> },
    Verified { copy: i64, device: String, result: std::result::Result<VerifyReport, AgentError> },
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop after this phase.
    pub stop_after: Option<Phase>,
    /// Most units prepared at once.
    pub max_prepares: usize,
}

/// What a run achieved and what it left.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunSummary {
    pub prepared: u64,
    pub written: u64,
    pub verified: u64,
    pub failed: u64,
    pub requests_done: u64,
    /// Work that remains and why (no device, too many failures, stopped by --stop-after).
    pub stalled: Vec<String>,
}

/// Run the pipeline until no more work can be started.
pub fn run(conn: &mut Connection, config: &Config, agent: Arc<Agent>, opts: &RunOptions, progress: Option<Sender<Progress>>) -> Result<RunSummary> {
    sync_devices(conn, config)?;
    recovery::recover(conn, config)?;
    jukebox::inventory(conn, config, &agent)?;
    let (tx, rx) = channel();
    let mut runner = Runner {
        conn,
        config,
        agent,
        opts: opts.clone(),
        tx,
        rx,
        progress,
        preparing: HashSet::new(),
        busy_copies: HashSet::new(),
        busy_devices: HashSet::new(),
        failed_units: HashSet::new(),
        remote: HashMap::new(),
        summary: RunSummary::default(),
    };
    runner.run()?;
    Ok(runner.summary)
}

/// Bring the catalogue's devices and groups in line with the configuration.
pub fn sync_devices(conn: &mut Connection, config: &Config) -> Result<()> {
    let tx = conn.transaction()?;
    for d in &config.devices {
        tx.execute(
            "INSERT INTO devices (name, kind, backend, serial) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, backend = excluded.backend, serial = excluded.serial",
            params![d.name, d.kind.as_str(), d.backend.as_str(), d.serial],
        )?;
    }
    tx.execute("DELETE FROM device_group_members", [])?;
    for g in &config.groups {
        tx.execute("INSERT OR IGNORE INTO device_groups (name) VALUES (?1)", [&g.name])?;
        for d in &g.devices {
            tx.execute("INSERT INTO device_group_members (group_name, device_name) VALUES (?1, ?2)", [&g.name, d])?;
        }
    }
    tx.commit()?;
    Ok(())
}

struct Runner<'a> {
    conn: &'a mut Connection,
    config: &'a Config,
    agent: Arc<Agent>,
    opts: RunOptions,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    progress: Option<Sender<Progress>>,
    preparing: HashSet<i64>,
    busy_copies: HashSet<i64>,
    busy_devices: HashSet<String>,
    /// Units whose preparation failed in this run (not retried until the next run).
    failed_units: HashSet<i64>,
    /// Actions dispatched to agents on other hosts: action id → (copy, device).
    remote: HashMap<i64, (i64, String)>,
    summary: RunSummary,
}

/// How often the runner looks at the results of remote actions while it waits.
const REMOTE_POLL: Duration = Duration::from_millis(200);

fn unit_state(s: &str) -> Result<UnitState> {
    UnitState::parse(s).ok_or_else(|| Error::State(format!("unknown unit state {s}")))
}

fn copy_state(s: &str) -> Result<CopyState> {
    CopyState::parse(s).ok_or_else(|| Error::State(format!("unknown copy state {s}")))
}

fn illegal(e: state::Illegal) -> Error {
    Error::State(e.to_string())
}

impl Runner<'_> {
    fn allows(&self, phase: Phase) -> bool {
        self.opts.stop_after.is_none_or(|stop| phase <= stop)
    }

    fn run(&mut self) -> Result<()> {
        loop {
            self.advance()?;
            // Verifications first: a volume just written is still in its drive.
            let started = self.start_prepares()? + self.start_verifies()? + self.start_writes()?;
            let in_flight = !self.preparing.is_empty() || !self.busy_copies.is_empty();
            if !in_flight && started == 0 {
                break;
            }
            if in_flight {
                match self.rx.recv_timeout(REMOTE_POLL) {
                    Ok(done) => self.apply(done)?,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return Err(Error::State("worker channel closed".into())),
                }
                if !self.remote.is_empty() {
                    self.collect_remote()?;
                }
            }
        }
        self.summary.stalled = self.stalled()?;
        Ok(())
    }

    // ----- prepare ---------------------------------------------------------------------------

    fn start_prepares(&mut self) -> Result<usize> {
        let limit = self.opts.max_prepares.max(1);
        if self.preparing.len() >= limit {
            return Ok(0);
        }
        // User requests first: a large archive backlog must not starve them.
        let units: Vec<i64> = self
            .conn
            .prepare(
                "SELECT u.id FROM units u JOIN requests r ON r.id = u.request_id
                 WHERE u.state = 'queued' ORDER BY (r.kind = 'archive'), u.id",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut started = 0;
        for unit in units {
            if self.preparing.len() >= limit {
                break;
            }
            if self.preparing.contains(&unit) || self.failed_units.contains(&unit) {
                continue;
            }
            let spec = jobs::unit_spec(self.conn, self.config, unit)?;
            events::record(self.conn, "prepare", "start", &events::Subject { unit: Some(unit), ..Default::default() }, &spec.unit)?;
            info!(unit = %spec.unit, files = spec.files.len(), "prepare");
            emit(&self.progress, Progress::Started {
                key: format!("u{unit}"),
                action: "prepare".into(),
                unit: spec.unit.clone(),
                device: None,
                total: spec.files.iter().map(|f| f.size).sum(),
            });
            self.preparing.insert(unit);
            let (agent, tx) = (self.agent.clone(), self.tx.clone());
            std::thread::spawn(move || {
                let result = agent.prepare(&spec);
                let _ = tx.send(Done::Prepared { unit, result });
            });
            started += 1;
        }
        Ok(started)
    }

    fn prepared(&mut self, unit: i64, result: std::result::Result<PreparedUnit, AgentError>) -> Result<()> {
        self.preparing.remove(&unit);
        let subject = events::Subject { unit: Some(unit), ..Default::default() };
        let prepared = match result {
            Ok(p) => p,
            Err(e) => {
                warn!(unit, error = %e, "prepare failed");
                self.failed_units.insert(unit);
                self.summary.failed += 1;
                events::record(self.conn, "prepare", "failed", &subject, &e.to_string())?;
                emit(&self.progress, Progress::Finished { key: format!("u{unit}"), ok: false, message: e.to_string() });
                return Ok(());
            }
        };
        let tx = self.conn.transaction()?;
        let (state, archive): (String, bool) = tx.query_row(
            "SELECT u.state, r.kind = 'archive' FROM units u JOIN requests r ON r.id = u.request_id WHERE u.id = ?1",
            [unit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let from = unit_state(&state)?;
        match unit_next(from, UnitEvent::Prepared, archive, &[]) {
            Ok(to) => {
                let json = serde_json::to_string(&prepared).map_err(|e| Error::State(e.to_string()))?;
                tx.execute(
                    "UPDATE units SET state = ?2, prepared = ?3, image_bytes = ?4, updated_at = ?5 WHERE id = ?1",
                    params![unit, to.as_str(), json, prepared.image_bytes, catalogue::now()],
                )?;
                jobs::record_offsets(&tx, unit, &prepared)?;
                events::record(&tx, "prepare", "done", &subject, &format!("{} bytes", prepared.image_bytes))?;
                tx.commit()?;
                self.summary.prepared += 1;
            }
            Err(_) => {
                // Rolled back while being prepared: throw the preparation away.
                drop(tx);
                self.agent.discard(&prepared)?;
            }
        }
        emit(&self.progress, Progress::Finished { key: format!("u{unit}"), ok: true, message: format!("{} bytes", prepared.image_bytes) });
        Ok(())
    }

    // ----- write -----------------------------------------------------------------------------

    /// Devices of `group` that can take a copy of `unit` now.
    fn free_devices(&self, group: &str, unit: i64) -> Result<Vec<String>> {
        let devices: Vec<String> = self
            .conn
            .prepare(
                "SELECT d.name FROM device_group_members m JOIN devices d ON d.name = m.device_name
                 WHERE m.group_name = ?1 AND d.state = 'up' AND d.reserved_by IS NULL
                   AND d.name NOT IN (SELECT device FROM copies WHERE unit_id = ?2 AND device IS NOT NULL
                                      AND state IN ('writing', 'written', 'verified'))
                 ORDER BY d.name",
            )?
            .query_map(params![group, unit], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(devices.into_iter().filter(|d| !self.busy_devices.contains(d)).collect())
    }

    fn start_writes(&mut self) -> Result<usize> {
        if !self.allows(Phase::Write) {
            return Ok(0);
        }
        let pending: Vec<(i64, i64, String, String)> = self
            .conn
            .prepare(
                "SELECT c.id, c.unit_id, r.device_group, r.media_type FROM copies c
                 JOIN units u ON u.id = c.unit_id JOIN requests r ON r.id = u.request_id
                 WHERE c.state = 'pending' AND u.state = 'prepared' AND c.attempts < ?1
                 ORDER BY (r.kind = 'archive'), c.unit_id, c.copy_no",
            )?
            .query_map([MAX_ATTEMPTS], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let mut started = 0;
        for (copy, unit, group, media_name) in pending {
            if self.busy_copies.contains(&copy) {
                continue;
            }
            let Some(device) = self.free_devices(&group, unit)?.into_iter().next() else { continue };
            let media = self.config.media_type(&media_name)?.clone();
            let library = self.config.jukebox_of(&device).cloned();
            // A rewritable volume scratched earlier is reused before a new one is taken.
            // A drive in a library writes a scratch volume of that library.
            let reuse: Option<String> = if let Some(j) = &library {
                let Some(b) = jukebox::scratch_volume(self.conn, j, &media.name)? else { continue };
                Some(b)
            } else if media.rewritable {
                self.conn
                    .query_row(
                        "SELECT barcode FROM volumes WHERE state = 'scratch' AND media_type = ?1 AND location NOT LIKE 'jukebox:%' ORDER BY id LIMIT 1",
                        [&media.name],
                        |r| r.get(0),
                    )
                    .optional()?
            } else {
                None
            };
            let wanted = asto_agent::wire::MediumRef {
                barcode: String::new(),
                media_type: media.name.clone(),
                capacity: media.capacity,
                profile: media.profile.clone(),
            };
            let kind = match media.kind {
                crate::media::MediaKind::Tape => DeviceKind::Tape,
                crate::media::MediaKind::Optical => DeviceKind::Optical,
            };
            let barcode = match (&library, reuse) {
                (Some(_), Some(b)) => b,
                (_, reuse) => self.agent.provision(kind, &wanted, reuse.as_deref())?,
            };
            // A library volume keeps its home slot as its location while it is in a drive.
            let location = library.is_none().then(|| format!("drive:{device}"));
            let unit_prepared = jobs::prepared_unit(self.conn, unit)?;
            let tx = self.conn.transaction()?;
            let now = catalogue::now();
            tx.execute(
                "INSERT INTO volumes (barcode, media_type, state, location, capacity, updated_at) VALUES (?1, ?2, 'writing', coalesce(?3, 'shelf'), ?4, ?5)
                 ON CONFLICT (barcode) DO UPDATE SET state = 'writing', location = coalesce(?3, location), bytes_used = 0, note = NULL, updated_at = excluded.updated_at",
                params![barcode, media.name, location, media.capacity, now],
            )?;
            let volume: i64 = tx.query_row("SELECT id FROM volumes WHERE barcode = ?1", [&barcode], |r| r.get(0))?;
            let to = copy_next(CopyState::Pending, CopyEvent::StartWrite, UnitState::Prepared).map_err(illegal)?;
            tx.execute(
                "UPDATE copies SET state = ?2, device = ?3, volume_id = ?4, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                params![copy, to.as_str(), device, volume],
            )?;
            tx.execute("UPDATE devices SET reserved_by = ?2 WHERE name = ?1", params![device, copy])?;
            let subject = events::Subject { unit: Some(unit), copy: Some(copy), device: Some(&device), volume: Some(&barcode), ..Default::default() };
            events::record(&tx, "write", "start", &subject, &unit_prepared.unit)?;
            tx.commit()?;
            info!(unit = %unit_prepared.unit, copy, device = %device, volume = %barcode, bytes = unit_prepared.image_bytes, "write started");
            let medium = jobs::medium(self.conn, self.config, volume)?;
            // A volume asto never wrote (found in a library) is written only if it holds nothing else.
            let blank_only: bool =
                self.conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM copies WHERE volume_id = ?1 AND id <> ?2)", params![volume, copy], |r| r.get(0))?;
            let job = WriteJob { copy_id: copy, device: device.clone(), medium, unit: unit_prepared, blank_only };
            self.launch(copy, &device, Job::Write(job))?;
            started += 1;
        }
        Ok(started)
    }

    fn written(&mut self, copy: i64, device: String, result: std::result::Result<WriteReport, AgentError>) -> Result<()> {
        self.busy_copies.remove(&copy);
        self.busy_devices.remove(&device);
        let tx = self.conn.transaction()?;
        let CopyContext { from, unit, unit_st, volume, barcode, rewritable } = copy_context(&tx, self.config, copy, &device)?;
        let subject = events::Subject { unit: Some(unit), copy: Some(copy), device: Some(&device), volume: Some(&barcode), ..Default::default() };
        match result {
            Ok(report) => match copy_next(from, CopyEvent::Written, unit_st) {
                Ok(to) => {
                    tx.execute(
                        "UPDATE copies SET state = ?2, tape_file = ?3, start_block = ?4, image_sha256 = ?5, written_at = ?6 WHERE id = ?1",
                        params![copy, to.as_str(), report.tape_file, report.start_block, report.image_sha256, catalogue::now()],
                    )?;
                    tx.execute(
                        "UPDATE volumes SET state = 'full', bytes_used = ?2, updated_at = ?3 WHERE id = ?1",
                        params![volume, report.image_bytes, catalogue::now()],
                    )?;
                    events::record(&tx, "write", "done", &subject, &format!("{} bytes, sha256 {}", report.image_bytes, report.image_sha256))?;
                    self.summary.written += 1;
                    emit(&self.progress, Progress::Finished { key: format!("c{copy}"), ok: true, message: format!("written to {barcode}") });
                }
                Err(_) => {
                    // The request was rolled back while this copy was being written.
                    release_volume(&tx, volume, rewritable, "written after its request was rolled back")?;
                    events::record(&tx, "write", "info", &subject, "result discarded: request rolled back")?;
                    emit(&self.progress, Progress::Finished { key: format!("c{copy}"), ok: false, message: "rolled back".into() });
                }
            },
            Err(e) => {
                self.summary.failed += 1;
                warn!(copy, device = %device, volume = %barcode, error = %e, "write failed");
                fail_copy(&tx, copy, from, unit_st, volume, &device, rewritable, &e)?;
                events::record(&tx, "write", "failed", &subject, &e.to_string())?;
                emit(&self.progress, Progress::Finished { key: format!("c{copy}"), ok: false, message: e.to_string() });
            }
        }
        tx.commit()?;
        Ok(())
    }

    // ----- verify ----------------------------------------------------------------------------

    fn start_verifies(&mut self) -> Result<usize> {
        if !self.allows(Phase::Verify) {
            return Ok(0);
        }
        let written: Vec<(i64, i64, String, Option<String>, i64, Option<u64>, bool)> = self
            .conn
            .prepare(
                "SELECT c.id, c.unit_id, r.device_group, c.device, c.volume_id, c.start_block, r.kind <> 'archive' FROM copies c
                 JOIN units u ON u.id = c.unit_id JOIN requests r ON r.id = u.request_id
                 WHERE c.state = 'written' ORDER BY c.id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
            .collect::<Result<_, _>>()?;
        let mut started = 0;
        for (copy, unit, group, wrote_on, volume, start_block, export) in written {
            if self.busy_copies.contains(&copy) {
                continue;
            }
            // Verify in the drive that wrote it (the volume is still there), or any free peer.
            let free: Vec<String> = self
                .conn
                .prepare(
                    "SELECT d.name FROM device_group_members m JOIN devices d ON d.name = m.device_name
                     WHERE m.group_name = ?1 AND d.state = 'up' AND d.reserved_by IS NULL ORDER BY d.name",
                )?
                .query_map([&group], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?
                .into_iter()
                .filter(|d| !self.busy_devices.contains(d))
                .collect();
            // In a library the volume waits in the drive that wrote it (another agent's drive
            // cannot take it out), unless that drive is down.
            let stays: Option<String> = match wrote_on.as_deref().filter(|d| self.config.jukebox_of(d).is_some()) {
                Some(d) => self.conn.query_row("SELECT name FROM devices WHERE name = ?1 AND state = 'up'", [d], |r| r.get(0)).optional()?,
                None => None,
            };
            let device = match (stays, wrote_on.filter(|d| free.contains(d))) {
                (Some(d), _) if !free.contains(&d) => continue,
                (Some(d), _) | (None, Some(d)) => d,
                (None, None) => match free.into_iter().next() {
                    Some(d) => d,
                    None => continue,
                },
            };
            let unit_prepared = jobs::prepared_unit(self.conn, unit)?;
            let medium = jobs::medium(self.conn, self.config, volume)?;
            let tx = self.conn.transaction()?;
            tx.execute("UPDATE devices SET reserved_by = ?2 WHERE name = ?1", params![device, copy])?;
            let subject = events::Subject { unit: Some(unit), copy: Some(copy), device: Some(&device), volume: Some(&medium.barcode), ..Default::default() };
            events::record(&tx, "verify", "start", &subject, &unit_prepared.unit)?;
            tx.commit()?;
            info!(unit = %unit_prepared.unit, copy, device = %device, volume = %medium.barcode, "verify started");
            let job = VerifyJob { copy_id: copy, device: device.clone(), medium, unit: unit_prepared, start_block, export };
            self.launch(copy, &device, Job::Verify(job))?;
            started += 1;
        }
        Ok(started)
    }

    fn verified(&mut self, copy: i64, device: String, result: std::result::Result<VerifyReport, AgentError>) -> Result<()> {
        self.busy_copies.remove(&copy);
        self.busy_devices.remove(&device);
        let tx = self.conn.transaction()?;
        let CopyContext { from, unit, unit_st, volume, barcode, rewritable } = copy_context(&tx, self.config, copy, &device)?;
        let subject = events::Subject { unit: Some(unit), copy: Some(copy), device: Some(&device), volume: Some(&barcode), ..Default::default() };
        match result {
            Ok(report) => {
                if let Ok(to) = copy_next(from, CopyEvent::Verified, unit_st) {
                    tx.execute("UPDATE copies SET state = ?2, verified_at = ?3 WHERE id = ?1", params![copy, to.as_str(), catalogue::now()])?;
                    // Out of the drive: into the library slot the agent put it in, or the shelf.
                    // (A library volume not put away keeps its home slot until an inventory sees it.)
                    let place = match (report.slot, self.config.jukebox_of(&device)) {
                        (Some(slot), Some(j)) => Some(jukebox::location(&j.name, slot)),
                        (None, Some(_)) => None,
                        (_, None) => Some("shelf".to_owned()),
                    };
                    if let Some(place) = place {
                        tx.execute("UPDATE volumes SET location = ?2, updated_at = ?3 WHERE id = ?1", params![volume, place, catalogue::now()])?;
                    }
                    events::record(&tx, "verify", "done", &subject, &format!("{} files, {} bytes read back", report.files_checked, report.bytes_read))?;
                    self.summary.verified += 1;
                }
                emit(&self.progress, Progress::Finished { key: format!("v{copy}"), ok: true, message: format!("{} files match", report.files_checked) });
            }
            Err(e) => {
                self.summary.failed += 1;
                warn!(copy, device = %device, volume = %barcode, error = %e, "verify failed");
                if e.blame() == Blame::Device {
                    // The drive failed, not necessarily the medium: verify again on a peer.
                    tx.execute("UPDATE devices SET state = 'down', note = ?2 WHERE name = ?1", params![device, e.to_string()])?;
                } else {
                    fail_copy(&tx, copy, from, unit_st, volume, &device, rewritable, &e)?;
                }
                events::record(&tx, "verify", "failed", &subject, &e.to_string())?;
                emit(&self.progress, Progress::Finished { key: format!("v{copy}"), ok: false, message: e.to_string() });
            }
        }
        tx.commit()?;
        Ok(())
    }

    // ----- unit and request progress -----------------------------------------------------------

    /// Units whose copies are all verified become verified; archive units go into the jukebox;
    /// requests whose units are all done are cleaned up.
    fn advance(&mut self) -> Result<()> {
        let units: Vec<(i64, String, bool, i64)> = self
            .conn
            .prepare(
                "SELECT u.id, u.state, r.kind = 'archive', u.request_id FROM units u JOIN requests r ON r.id = u.request_id
                 WHERE u.state IN ('prepared', 'verified')",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        for (unit, st, archive, request) in units {
            let copies: Vec<CopyState> = self
                .conn
                .prepare("SELECT state FROM copies WHERE unit_id = ?1")?
                .query_map([unit], |r| r.get::<_, String>(0))?
                .map(|s| s.map_err(Error::from).and_then(|s| copy_state(&s)))
                .collect::<Result<_>>()?;
            let mut st = unit_state(&st)?;
            if st == UnitState::Prepared {
                let Ok(to) = unit_next(st, UnitEvent::AllCopiesVerified, archive, &copies) else { continue };
                let tx = self.conn.transaction()?;
                tx.execute("UPDATE units SET state = ?2, updated_at = ?3 WHERE id = ?1", params![unit, to.as_str(), catalogue::now()])?;
                if !archive {
                    // User media go out to the requester through the import/export slot, and an
                    // operator is asked to take them out.
                    tx.execute(
                        "UPDATE volumes SET location = 'export', updated_at = ?2 WHERE id IN (SELECT volume_id FROM copies WHERE unit_id = ?1)",
                        params![unit, catalogue::now()],
                    )?;
                    let volumes: Vec<(String, String)> = tx
                        .prepare("SELECT v.barcode, u.name FROM copies c JOIN volumes v ON v.id = c.volume_id JOIN units u ON u.id = c.unit_id WHERE c.unit_id = ?1 ORDER BY c.copy_no")?
                        .query_map([unit], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<_, _>>()?;
                    for (barcode, name) in volumes {
                        catalogue::prompts::raise(
                            &tx,
                            "take_out",
                            &format!("take user volume {barcode} (unit {name}, request {request}) out of the import/export slot and hand it to the requester"),
                            Some(request),
                            Some(&barcode),
                            None,
                        )?;
                    }
                }
                events::record(&tx, "verify", "done", &events::Subject { request: Some(request), unit: Some(unit), ..Default::default() }, "all copies verified")?;
                tx.commit()?;
                st = to;
            }
            if st == UnitState::Verified && archive && self.allows(Phase::Ingest) {
                self.jukebox_ingest(unit, request)?;
            }
        }
        if self.opts.stop_after.is_none() {
            self.cleanup_requests()?;
        }
        Ok(())
    }

    /// Get a verified archive unit's volumes into a jukebox; the unit is ingested when they all are.
    fn jukebox_ingest(&mut self, unit: i64, request: i64) -> Result<()> {
        if self.config.jukeboxes.is_empty() {
            return self.simulated_ingest(unit, request);
        }
        if jukebox::ingest_unit(self.conn, self.config, &self.agent, unit, request)? {
            let to = unit_next(UnitState::Verified, UnitEvent::JukeboxIngested, true, &[]).map_err(illegal)?;
            self.conn.execute("UPDATE units SET state = ?2, updated_at = ?3 WHERE id = ?1", params![unit, to.as_str(), catalogue::now()])?;
        }
        Ok(())
    }

    /// Without configured jukeboxes, the simulated jukebox of `[sim]` only records slots in the
    /// catalogue (the demo's appliance has no library).
    fn simulated_ingest(&mut self, unit: i64, request: i64) -> Result<()> {
        let Some(sim) = &self.config.sim else { return Ok(()) };
        let tx = self.conn.transaction()?;
        let volumes: Vec<(i64, String)> = tx
            .prepare("SELECT v.id, v.barcode FROM copies c JOIN volumes v ON v.id = c.volume_id WHERE c.unit_id = ?1 ORDER BY c.copy_no")?
            .query_map([unit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let prefix = format!("jukebox:{}:", sim.jukebox);
        let used: Vec<String> = tx
            .prepare("SELECT location FROM volumes WHERE location LIKE ?1 || '%'")?
            .query_map([&prefix], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let taken: HashSet<u32> = used.iter().filter_map(|l| l.strip_prefix(&prefix)?.parse().ok()).collect();
        let mut free = (1..=sim.jukebox_slots).filter(|s| !taken.contains(s));
        for (volume, barcode) in &volumes {
            let Some(slot) = free.next() else {
                warn!(unit, jukebox = %sim.jukebox, "jukebox full: archive volumes stay on the shelf");
                return Ok(());
            };
            tx.execute(
                "UPDATE volumes SET location = ?2, updated_at = ?3 WHERE id = ?1",
                params![volume, format!("{prefix}{slot}"), catalogue::now()],
            )?;
            events::record(
                &tx,
                "jukebox_ingest",
                "done",
                &events::Subject { request: Some(request), unit: Some(unit), volume: Some(barcode), ..Default::default() },
                &format!("{} slot {slot}", sim.jukebox),
            )?;
        }
        let to = unit_next(UnitState::Verified, UnitEvent::JukeboxIngested, true, &[]).map_err(illegal)?;
        tx.execute("UPDATE units SET state = ?2, updated_at = ?3 WHERE id = ?1", params![unit, to.as_str(), catalogue::now()])?;
        tx.commit()?;
        Ok(())
    }

    /// Requests whose units are all through: remove prepared work, and the files from their
    /// stage (they are now on verified media), and mark the request done.
    fn cleanup_requests(&mut self) -> Result<()> {
        let requests: Vec<(i64, bool)> = self
            .conn
            .prepare(
                "SELECT r.id, r.kind = 'archive' FROM requests r WHERE r.state = 'queued'
                 AND NOT EXISTS (SELECT 1 FROM units u WHERE u.request_id = r.id
                                 AND u.state NOT IN (CASE WHEN r.kind = 'archive' THEN 'ingested' ELSE 'verified' END))
                 AND EXISTS (SELECT 1 FROM units u WHERE u.request_id = r.id)",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (request, archive) in requests {
            let units: Vec<i64> = self.conn.prepare("SELECT id FROM units WHERE request_id = ?1")?.query_map([request], |r| r.get(0))?.collect::<Result<_, _>>()?;
            let prepared: Vec<PreparedUnit> = units.iter().map(|&u| jobs::prepared_unit(self.conn, u)).collect::<Result<_>>()?;
            let tx = self.conn.transaction()?;
            for &u in &units {
                let st: String = tx.query_row("SELECT state FROM units WHERE id = ?1", [u], |r| r.get(0))?;
                let to = unit_next(unit_state(&st)?, UnitEvent::CleanedUp, archive, &[]).map_err(illegal)?;
                tx.execute("UPDATE units SET state = ?2, updated_at = ?3 WHERE id = ?1", params![u, to.as_str(), catalogue::now()])?;
            }
            // Files leave the stage unless another live request still needs them.
            let leaving: Vec<(i64, String, String)> = tx
                .prepare(
                    "SELECT f.id, f.stage, f.path FROM request_files rf JOIN files f ON f.id = rf.file_id
                     WHERE rf.request_id = ?1 AND f.state = 'staged'
                       AND NOT EXISTS (SELECT 1 FROM request_files o JOIN requests r ON r.id = o.request_id
                                       WHERE o.file_id = f.id AND o.request_id <> ?1 AND r.state IN ('open', 'queued'))",
                )?
                .query_map([request], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let new_state = if archive { "archived" } else { "delivered" };
            for (id, _, _) in &leaving {
                tx.execute("UPDATE files SET state = ?2 WHERE id = ?1", params![id, new_state])?;
            }
            tx.execute("UPDATE requests SET state = 'done', updated_at = ?2 WHERE id = ?1", params![request, catalogue::now()])?;
            events::record(&tx, "cleanup", "done", &events::Subject { request: Some(request), ..Default::default() }, &format!("{} files left their stage", leaving.len()))?;
            tx.commit()?;
            // After the commit: the catalogue says the files are on media; now free the disk.
            for p in &prepared {
                if let Err(e) = self.agent.discard(p) {
                    warn!(unit = %p.unit, error = %e, "could not remove the prepared unit");
                }
            }
            for (_, stage, path) in leaving {
                let Some(kind) = StageKind::parse(&stage) else { continue };
                let file = Stage::new(self.config, kind).path(&path)?;
                if let Err(e) = std::fs::remove_file(&file) {
                    warn!(file = %file.display(), error = %e, "could not remove a cleaned-up file from its stage");
                }
            }
            info!(request, "request done");
            self.summary.requests_done += 1;
        }
        Ok(())
    }

    /// Start a write or verification of a copy: announce it, mark the copy and its device busy,
    /// and run it.
    fn launch(&mut self, copy: i64, device: &str, job: Job) -> Result<()> {
        let (unit, total) = match &job {
            Job::Write(j) => (j.unit.unit.clone(), j.unit.image_bytes),
            Job::Verify(j) => (j.unit.unit.clone(), j.unit.image_bytes),
            _ => (String::new(), 0),
        };
        emit(&self.progress, Progress::Started { key: progress_key(job.kind(), copy), action: job.kind().into(), unit, device: Some(device.to_owned()), total });
        self.busy_copies.insert(copy);
        self.busy_devices.insert(device.to_owned());
        self.run_job(copy, device, job)
    }

    /// Run a write or verification: on a remote agent's device through the lease table, on an
    /// embedded device on a worker thread that reports progress and its result.
    fn run_job(&mut self, copy: i64, device: &str, job: Job) -> Result<()> {
        if let Some(owner) = self.remote_agent(device) {
            return self.dispatch(copy, device, &owner, job);
        }
        let (agent, tx, progress, device) = (self.agent.clone(), self.tx.clone(), self.progress.clone(), device.to_owned());
        std::thread::spawn(move || {
            let key = progress_key(job.kind(), copy);
            let mut report = |done| {
                if let Some(p) = &progress {
                    let _ = p.send(Progress::Bytes { key: key.clone(), done });
                }
            };
            let done = match job {
                Job::Write(job) => Done::Written { copy, device, result: agent.write(&job, &mut report) },
                Job::Verify(job) => {
                    // The volume leaves the drive: to the jukebox (archive) or to the user.
                    let result = agent.verify_and_put_away(&job, &mut report);
                    Done::Verified { copy, device, result }
                }
                // Jukebox actions are not copies; they never come this way.
                other => Done::Written { copy, device, result: Err(AgentError::Config(format!("a {} action is not a copy's", other.kind()))) },
            };
            let _ = tx.send(done);
        });
        Ok(())
    }

    // ----- actions on agents of other hosts -----------------------------------------------------

    /// The agent that owns `device`, when it is not the embedded one.
    fn remote_agent(&self, device: &str) -> Option<String> {
        self.config.devices.iter().find(|d| d.name == device).and_then(|d| d.agent.clone())
    }

    /// Queue an action for a remote agent. It must be leased (and then reported on) within the
    /// lease time, or it is given to another device.
    fn dispatch(&mut self, copy: i64, device: &str, agent: &str, job: Job) -> Result<()> {
        let id = actions::queue(self.conn, self.config, &job, Some(copy), None, agent)?;
        info!(action = id, kind = job.kind(), copy, device, agent, "dispatched to agent");
        self.remote.insert(id, (copy, device.to_owned()));
        Ok(())
    }

    /// Turn finished and expired remote actions into results.
    fn collect_remote(&mut self) -> Result<()> {
        let ids: Vec<i64> = self.remote.keys().copied().collect();
        let now = catalogue::now();
        for id in ids {
            let (kind, state, expires, agent, result): (String, String, String, String, Option<String>) = self.conn.query_row(
                "SELECT kind, state, lease_expires, agent, result FROM actions WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
            let outcome = match state.as_str() {
                "done" => {
                    self.conn.execute("UPDATE actions SET state = 'collected' WHERE id = ?1", [id])?;
                    actions::outcome(result)
                }
                "queued" | "leased" if expires < now => {
                    // Fence the action off first: a result arriving from now on is refused.
                    let changed = self.conn.execute("UPDATE actions SET state = 'expired' WHERE id = ?1 AND state IN ('queued', 'leased')", [id])?;
                    if changed == 0 {
                        continue;
                    }
                    warn!(action = id, agent = %agent, "lease expired: the work goes to another device");
                    Outcome::Failed { message: format!("lease expired: agent {agent} stopped reporting"), blame: Blame::Device }
                }
                _ => continue,
            };
            let Some((copy, device)) = self.remote.remove(&id) else { continue };
            let remote_err = |message: String, blame: Blame| AgentError::Remote { agent: agent.clone(), message, blame };
            let done = match (kind.as_str(), outcome) {
                ("write", Outcome::Written(r)) => Done::Written { copy, device, result: Ok(r) },
                ("verify", Outcome::Verified(r)) => Done::Verified { copy, device, result: Ok(r) },
                ("write", Outcome::Failed { message, blame }) => Done::Written { copy, device, result: Err(remote_err(message, blame)) },
                (_, Outcome::Failed { message, blame }) => Done::Verified { copy, device, result: Err(remote_err(message, blame)) },
                (k, _) => Done::Written { copy, device, result: Err(remote_err(format!("agent answered a {k} action with the wrong outcome"), Blame::Other)) },
            };
            self.apply(done)?;
        }
        Ok(())
    }

    fn apply(&mut self, done: Done) -> Result<()> {
        match done {
            Done::Prepared { unit, result } => self.prepared(unit, result),
            Done::Written { copy, device, result } => self.written(copy, device, result),
            Done::Verified { copy, device, result } => self.verified(copy, device, result),
        }
    }

    /// Why work that remains was not done.
    fn stalled(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let rows: Vec<(String, String, u32, Option<String>, String)> = self
            .conn
            .prepare(
                "SELECT u.name, c.state, c.attempts, c.last_error, r.device_group FROM copies c
                 JOIN units u ON u.id = c.unit_id JOIN requests r ON r.id = u.request_id
                 WHERE c.state IN ('pending', 'written') AND u.state NOT IN ('rolled_back', 'cleaned')
                 ORDER BY u.name, c.copy_no",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
            .collect::<Result<_, _>>()?;
        let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (unit, state, attempts, error, group) in rows {
            let reason = if attempts >= MAX_ATTEMPTS {
                format!("failed {attempts} times, last: {}", error.unwrap_or_default())
            } else if let Some(stop) = self.opts.stop_after {
                format!("stopped after {stop:?} ({state})")
            } else {
                format!("no usable device in group '{group}' ({state})")
            };
            by_reason.entry(reason).or_default().push(unit);
        }
        let failed_prep: Vec<String> = self.failed_units.iter().map(|u| format!("unit {u}")).collect();
        if !failed_prep.is_empty() {
            by_reason.insert("preparation failed".into(), failed_prep);
        }
        for (reason, mut units) in by_reason {
            units.dedup();
            out.push(format!("{}: {reason}", units.join(", ")));
        }
        Ok(out)
    }
}

/// A write or verification failed: blame the medium or the device, and send the copy back
/// to be written again (on another volume; on another device if this one is at fault).
#[allow(clippy::too_many_arguments)]
fn fail_copy(
    tx: &Connection,
    copy: i64,
    from: CopyState,
    unit_st: UnitState,
    volume: i64,
    device: &str,
    rewritable: bool,
    e: &AgentError,
) -> Result<()> {
    match e.blame() {
        Blame::Medium => {
            tx.execute(
                "UPDATE volumes SET state = 'bad', location = CASE WHEN location LIKE 'jukebox:%' THEN location ELSE 'shelf' END,
                 note = ?2, updated_at = ?3 WHERE id = ?1",
                params![volume, e.to_string(), catalogue::now()],
            )?;
        }
        Blame::Device => {
            tx.execute("UPDATE devices SET state = 'down', note = ?2 WHERE name = ?1", params![device, e.to_string()])?;
            release_volume(tx, volume, rewritable, "write interrupted by a device fault")?;
        }
        Blame::Other => release_volume(tx, volume, rewritable, "write failed")?,
    }
    if let Ok(to) = copy_next(from, CopyEvent::Failed, unit_st) {
        tx.execute("UPDATE copies SET state = ?2, last_error = ?3 WHERE id = ?1", params![copy, to.as_str(), e.to_string()])?;
    }
    Ok(())
}

/// What a result handler needs to know about the copy it concerns.
struct CopyContext {
    from: CopyState,
    unit: i64,
    unit_st: UnitState,
    volume: i64,
    barcode: String,
    rewritable: bool,
}

/// Read a copy's context and release the device it held, inside the result's transaction.
fn copy_context(tx: &Connection, config: &Config, copy: i64, device: &str) -> Result<CopyContext> {
    let (state, unit, unit_st, volume, barcode, media_name): (String, i64, String, i64, String, String) = tx.query_row(
        "SELECT c.state, c.unit_id, u.state, c.volume_id, v.barcode, v.media_type FROM copies c
         JOIN units u ON u.id = c.unit_id JOIN volumes v ON v.id = c.volume_id WHERE c.id = ?1",
        [copy],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    tx.execute("UPDATE devices SET reserved_by = NULL WHERE name = ?1 AND reserved_by = ?2", params![device, copy])?;
    let rewritable = config.media_type(&media_name).map(|m| m.rewritable).unwrap_or(false);
    Ok(CopyContext { from: copy_state(&state)?, unit, unit_st: unit_state(&unit_st)?, volume, barcode, rewritable })
}

/// The key of a copy's write or verification in progress events.
pub fn progress_key(kind: &str, copy: i64) -> String {
    format!("{}{copy}", if kind == "write" { "c" } else { "v" })
}

fn emit(progress: &Option<Sender<Progress>>, p: Progress) {
    if let Some(tx) = progress {
        let _ = tx.send(p);
    }
}

/// A volume whose write did not complete: rewritable media go back to scratch, write-once media
/// are discarded (a partly burned disc cannot be used again).
pub fn release_volume(conn: &Connection, volume: i64, rewritable: bool, why: &str) -> Result<()> {
    let state = if rewritable { "scratch" } else { "discarded" };
    conn.execute(
        "UPDATE volumes SET state = ?2, location = CASE WHEN location LIKE 'jukebox:%' THEN location ELSE 'shelf' END,
         bytes_used = 0, note = ?3, updated_at = ?4 WHERE id = ?1",
        params![volume, state, why, catalogue::now()],
    )?;
    Ok(())
}
