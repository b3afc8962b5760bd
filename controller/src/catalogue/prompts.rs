//! Operator prompts: what the pipeline needs a person for. They are rows in the catalogue, listed
//! and acknowledged through the API and CLI, so no daemon ever blocks on a terminal.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Prompt {
    pub id: i64,
    pub kind: String,
    pub message: String,
    pub request: Option<i64>,
    pub volume: Option<String>,
    pub device: Option<String>,
    pub created_at: String,
    pub acked_at: Option<String>,
    pub acked_by: Option<String>,
}

/// Raise a prompt inside the caller's transaction.
pub fn raise(conn: &Connection, kind: &str, message: &str, request: Option<i64>, volume: Option<&str>, device: Option<&str>) -> Result<i64> {
    conn.execute(
        "INSERT INTO prompts (kind, message, request_id, volume, device, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![kind, message, request, volume, device, super::now()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Open prompts, or all with `all`.
pub fn list(conn: &Connection, all: bool) -> Result<Vec<Prompt>> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, message, request_id, volume, device, created_at, acked_at, acked_by FROM prompts
         WHERE ?1 OR acked_at IS NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([all], |r| {
        Ok(Prompt {
            id: r.get(0)?,
            kind: r.get(1)?,
            message: r.get(2)?,
            request: r.get(3)?,
            volume: r.get(4)?,
            device: r.get(5)?,
            created_at: r.get(6)?,
            acked_at: r.get(7)?,
            acked_by: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Acknowledge a prompt: the operator did what it asked. Taking out user media moves the volume
/// out of the library's custody.
pub fn acknowledge(conn: &mut Connection, id: i64, by: &str) -> Result<Prompt> {
    let tx = conn.transaction()?;
    let row: Option<(String, Option<String>, Option<String>)> = tx
        .query_row("SELECT kind, volume, acked_at FROM prompts WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((kind, volume, acked)) = row else { return Err(Error::NotFound(format!("there is no prompt {id}"))) };
    if let Some(at) = acked {
        return Err(Error::Conflict(format!("prompt {id} was already acknowledged at {at}")));
    }
    tx.execute("UPDATE prompts SET acked_at = ?2, acked_by = ?3 WHERE id = ?1", params![id, super::now(), by])?;
    if let (Some(v), "take_out") = (&volume, kind.as_str()) {
        tx.execute("UPDATE volumes SET location = 'delivered', updated_at = ?2 WHERE barcode = ?1", params![v, super::now()])?;
    }
    super::events::record(&tx, "prompt", "done", &super::events::Subject { volume: volume.as_deref(), ..Default::default() }, &format!("prompt {id} acknowledged by {by}"))?;
    tx.commit()?;
    let all = list(conn, true)?;
    all.into_iter().find(|p| p.id == id).ok_or_else(|| Error::NotFound(format!("there is no prompt {id}")))
}
