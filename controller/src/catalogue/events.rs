//! The event log: every action is recorded when it starts and when it ends, with the request,
//! unit, copy, device and volume it concerns, so an operator can reconstruct what happened.

use rusqlite::{Connection, params};

use crate::error::Result;

/// What an event concerns. Unset fields are stored as NULL.
#[derive(Debug, Default, Clone)]
pub struct Subject<'a> {
    pub request: Option<i64>,
    pub unit: Option<i64>,
    pub copy: Option<i64>,
    pub device: Option<&'a str>,
    pub volume: Option<&'a str>,
}

/// Record an event inside the caller's transaction.
pub fn record(conn: &Connection, action: &str, phase: &str, subject: &Subject<'_>, detail: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO events (at, action, phase, request_id, unit_id, copy_id, device, volume, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![super::now(), action, phase, subject.request, subject.unit, subject.copy, subject.device, subject.volume, detail],
    )?;
    Ok(())
}
