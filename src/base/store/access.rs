//! Partner tokens (only their SHA-256) and the append-only audit log of
//! every request to the partner API and the officer pages.

use rusqlite::{params, OptionalExtension};

use super::{now, Result, Store};
use crate::base::printable::printable;

/// A line to append to the audit log: who (a partner or an officer, or
/// nobody), what request, the answer.
pub struct AuditEntry<'a> {
    pub actor: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub bytes: u64,
    pub detail: Option<&'a str>,
}

/// A line of the audit log.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: Option<String>,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub bytes: i64,
    pub detail: Option<String>,
}

/// The longest request path the audit log keeps, in bytes.
pub(crate) const MAX_AUDIT_PATH: usize = 1024;

/// A partner token as stored: its id, partner and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub partner: String,
    pub issued_at: String,
    pub revoked_at: Option<String>,
}

impl Store {
    /// Stores a new token's SHA-256 for `partner`; returns the token id.
    pub fn add_token(&self, partner: &str, sha256: &str) -> Result<i64> {
        let conn = self.connection();
        conn.execute(
            "INSERT INTO partner_tokens (partner_id, sha256, issued_at) VALUES (?1, ?2, ?3)",
            params![partner, sha256, now()],
        )
        .map_err(self.err("store token"))?;
        Ok(conn.last_insert_rowid())
    }

    /// Ends a token; `false` when no such live token exists.
    pub fn revoke_token(&self, token_id: i64) -> Result<bool> {
        let n = self
            .connection()
            .execute(
                "UPDATE partner_tokens SET revoked_at = ?2 WHERE token_id = ?1 AND revoked_at IS NULL",
                params![token_id, now()],
            )
            .map_err(self.err("revoke token"))?;
        Ok(n == 1)
    }

    /// The partner of a live token with this SHA-256.
    pub fn token_partner(&self, sha256: &str) -> Result<Option<String>> {
        self.connection()
            .query_row(
                "SELECT partner_id FROM partner_tokens WHERE sha256 = ?1 AND revoked_at IS NULL",
                [sha256],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("look up token"))
    }

    /// Every token, oldest first (never the token itself).
    pub fn tokens(&self) -> Result<Vec<TokenRow>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT token_id, partner_id, issued_at, revoked_at FROM partner_tokens ORDER BY token_id")
            .map_err(self.err("list tokens"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TokenRow { id: r.get(0)?, partner: r.get(1)?, issued_at: r.get(2)?, revoked_at: r.get(3)? })
            })
            .map_err(self.err("list tokens"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("list tokens"))?;
        Ok(rows)
    }

    /// Appends one line to the audit log.
    ///
    /// Text from requests is stored with control and bidirectional
    /// characters escaped (a login id with a newline cannot forge a line),
    /// and cut: a path at 1,024 bytes, an actor at 128, a detail at 2,048.
    pub fn audit(&self, entry: &AuditEntry) -> Result<()> {
        let actor = entry.actor.map(|a| printable(a, 128));
        let (method, path) = (printable(entry.method, 16), printable(entry.path, MAX_AUDIT_PATH));
        let detail = entry.detail.map(|d| printable(d, 2048));
        self.connection()
            .execute(
                "INSERT INTO audit (at, actor, method, path, status, bytes, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![now(), actor, method, path, entry.status, entry.bytes as i64, detail],
            )
            .map_err(self.err("append to the audit log"))?;
        Ok(())
    }

    /// The newest audit lines first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditRow>> {
        self.audit_rows("ORDER BY audit_id DESC LIMIT ?1", limit as i64)
    }

    /// The newest requests of the partner API (paths under `/api/`) first.
    pub fn partner_access(&self, limit: usize) -> Result<Vec<AuditRow>> {
        self.audit_rows("WHERE path LIKE '/api/%' ORDER BY audit_id DESC LIMIT ?1", limit as i64)
    }

    /// The audit rows recorded before `before` (an RFC 3339 time), oldest first.
    pub fn audit_before(&self, before: &str) -> Result<Vec<AuditRow>> {
        self.audit_rows("WHERE at < ?1 ORDER BY audit_id", before)
    }

    /// Audit rows selected by `tail` (a WHERE/ORDER BY/LIMIT clause of this
    /// module's own, with one parameter `?1`).
    fn audit_rows(&self, tail: &str, param: impl rusqlite::ToSql) -> Result<Vec<AuditRow>> {
        let conn = self.connection();
        let sql = format!("SELECT audit_id, at, actor, method, path, status, bytes, detail FROM audit {tail}");
        let mut stmt = conn.prepare(&sql).map_err(self.err("read the audit log"))?;
        let rows = stmt
            .query_map([param], |r| {
                Ok(AuditRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    method: r.get(3)?,
                    path: r.get(4)?,
                    status: r.get(5)?,
                    bytes: r.get(6)?,
                    detail: r.get(7)?,
                })
            })
            .map_err(self.err("read the audit log"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("read the audit log"))?;
        Ok(rows)
    }

    /// Moves audit rows `first..=last` out of the database once their
    /// archive (`file`, `sha256`) is written and flushed: in one
    /// transaction, the archive is recorded, its rows deleted (the only
    /// deletion the triggers allow), and a new audit row says who did it.
    pub fn rotate_audit(&self, first: i64, last: i64, rows: u64, file: &str, sha256: &str, by: &str) -> Result<()> {
        let mut conn = self.connection();
        let tx = conn.transaction().map_err(self.err("begin the audit rotation"))?;
        tx.execute(
            "INSERT INTO audit_archives (first_audit_id, last_audit_id, rows, file, sha256, archived_by, archived_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![first, last, rows as i64, file, sha256, by, now()],
        )
        .map_err(self.err("record the audit archive"))?;
        let archive = tx.last_insert_rowid();
        let deleted = tx
            .execute("DELETE FROM audit WHERE audit_id BETWEEN ?1 AND ?2", params![first, last])
            .map_err(self.err("remove the archived audit rows"))?;
        tx.execute("UPDATE audit_archives SET rotating = 0 WHERE archive_id = ?1", [archive])
            .map_err(self.err("finish the audit rotation"))?;
        let detail = format!("archived {deleted} audit rows {first}..{last} to {file} (SHA-256 {sha256})");
        tx.execute(
            "INSERT INTO audit (at, actor, method, path, status, bytes, detail) VALUES (?1, ?2, 'CLI', 'credence audit archive', 0, 0, ?3)",
            params![now(), printable(by, 128), detail],
        )
        .map_err(self.err("append to the audit log"))?;
        tx.commit().map_err(self.err("commit the audit rotation"))?;
        Ok(())
    }
}
