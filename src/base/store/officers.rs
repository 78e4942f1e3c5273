//! Officer accounts (argon2 hashes) and their sessions.

use rusqlite::{params, OptionalExtension};

use super::{now, Result, Store};
use rusqlite::Connection;

impl Store {
    /// Adds or replaces an officer account; a replaced one's sessions end,
    /// so a new password or role holds from the next request.
    pub fn put_officer(&self, officer: &str, role: &str, password_hash: &str) -> Result<()> {
        let mut conn = self.connection();
        let tx = conn.transaction().map_err(self.err("store officer"))?;
        tx.execute(
            "INSERT INTO officers (officer_id, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (officer_id) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
                 removed_at = NULL",
            params![officer, role, password_hash, now()],
        )
        .map_err(self.err("store officer"))?;
        Self::end_sessions_of(&tx, officer).map_err(self.err("end sessions"))?;
        tx.commit().map_err(self.err("store officer"))
    }

    /// Removes an officer account (it stays on record, unable to log in)
    /// and ends its sessions; its decisions stay. False when there was no
    /// such officer.
    pub fn remove_officer(&self, officer: &str) -> Result<bool> {
        let mut conn = self.connection();
        let tx = conn.transaction().map_err(self.err("remove officer"))?;
        let n = tx
            .execute(
                "UPDATE officers SET removed_at = ?2 WHERE officer_id = ?1 AND removed_at IS NULL",
                params![officer, now()],
            )
            .map_err(self.err("remove officer"))?;
        Self::end_sessions_of(&tx, officer).map_err(self.err("end sessions"))?;
        tx.commit().map_err(self.err("remove officer"))?;
        Ok(n > 0)
    }

    /// (role, password hash) of an officer.
    pub fn officer(&self, officer: &str) -> Result<Option<(String, String)>> {
        self.connection()
            .query_row(
                "SELECT role, password_hash FROM officers WHERE officer_id = ?1 AND removed_at IS NULL",
                [officer],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err("read officer"))
    }

    /// (id, role) of every officer.
    pub fn officers(&self) -> Result<Vec<(String, String)>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT officer_id, role FROM officers WHERE removed_at IS NULL ORDER BY officer_id")
            .map_err(self.err("list officers"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err("list officers"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("list officers"))?;
        Ok(rows)
    }

    pub fn start_session(&self, token_sha256: &str, officer: &str, csrf: &str, now_unix: i64) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO sessions (token_sha256, officer_id, csrf, created_at, last_seen_unix) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_sha256, officer, csrf, now(), now_unix],
            )
            .map_err(self.err("start session"))?;
        Ok(())
    }

    /// The live session of a token: (officer, role, csrf), touched now;
    /// `None` when unknown, ended or idle longer than `idle_seconds`.
    pub fn session(
        &self,
        token_sha256: &str,
        now_unix: i64,
        idle_seconds: i64,
    ) -> Result<Option<(String, String, String)>> {
        let conn = self.connection();
        let found: Option<(String, String, String, i64)> = conn
            .query_row(
                "SELECT s.officer_id, o.role, s.csrf, s.last_seen_unix FROM sessions s JOIN officers o USING (officer_id)
                 WHERE s.token_sha256 = ?1 AND s.ended_at IS NULL AND o.removed_at IS NULL",
                [token_sha256],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(self.err("read session"))?;
        match found {
            Some((officer, role, csrf, seen)) if now_unix - seen <= idle_seconds => {
                conn.execute(
                    "UPDATE sessions SET last_seen_unix = ?2 WHERE token_sha256 = ?1",
                    params![token_sha256, now_unix],
                )
                .map_err(self.err("touch session"))?;
                Ok(Some((officer, role, csrf)))
            }
            Some(_) => {
                conn.execute("UPDATE sessions SET ended_at = ?2 WHERE token_sha256 = ?1", params![token_sha256, now()])
                    .map_err(self.err("end session"))?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    pub fn end_session(&self, token_sha256: &str) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE sessions SET ended_at = ?2 WHERE token_sha256 = ?1 AND ended_at IS NULL",
                params![token_sha256, now()],
            )
            .map_err(self.err("end session"))?;
        Ok(())
    }

    fn end_sessions_of(conn: &Connection, officer: &str) -> rusqlite::Result<usize> {
        conn.execute(
            "UPDATE sessions SET ended_at = ?2 WHERE officer_id = ?1 AND ended_at IS NULL",
            params![officer, now()],
        )
    }
}
