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

/// When a login may be tried for a subject (`officer:<id>` or
/// `address:<ip>`), after its failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginGate {
    Open,
    /// Not before this many seconds have passed.
    Wait(i64),
    /// Only an administrator opens it again (`credence officers unlock`).
    Locked,
}

/// Failed logins of one subject before its attempts are delayed, and
/// before an account is locked.
pub const LOGIN_FREE_FAILURES: i64 = 3;
pub const ACCOUNT_LOCK_FAILURES: i64 = 10;
pub const ADDRESS_FREE_FAILURES: i64 = 20;
/// The longest delay between attempts, in seconds.
pub const LOGIN_MAX_DELAY: i64 = 900;
/// An address's failures are forgotten after an hour without one.
const ADDRESS_MEMORY: i64 = 3600;

impl Store {
    /// Whether `subject` may try a login at `now`: free for the first
    /// failures, then a delay that doubles with each failure (up to 15
    /// minutes); an account is locked after [`ACCOUNT_LOCK_FAILURES`].
    pub fn login_gate(&self, subject: &str, now: i64) -> Result<LoginGate> {
        let row: Option<(i64, i64)> = self
            .connection()
            .query_row("SELECT failures, last_unix FROM login_failures WHERE subject = ?1", [subject], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.err("read login failures"))?;
        let Some((failures, last)) = row else { return Ok(LoginGate::Open) };
        let account = subject.starts_with("officer:");
        if account && failures >= ACCOUNT_LOCK_FAILURES {
            return Ok(LoginGate::Locked);
        }
        if !account && now - last > ADDRESS_MEMORY {
            return Ok(LoginGate::Open);
        }
        let free = if account { LOGIN_FREE_FAILURES } else { ADDRESS_FREE_FAILURES };
        if failures < free {
            return Ok(LoginGate::Open);
        }
        let delay = (1i64 << (failures - free).min(20)).min(LOGIN_MAX_DELAY);
        let left = last + delay - now;
        Ok(if left > 0 { LoginGate::Wait(left) } else { LoginGate::Open })
    }

    /// Counts a failed login of `subject` at `now`.
    pub fn login_failed(&self, subject: &str, now: i64) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO login_failures (subject, failures, last_unix) VALUES (?1, 1, ?2)
                 ON CONFLICT (subject) DO UPDATE SET
                   failures = CASE WHEN subject LIKE 'address:%' AND ?2 - last_unix > ?3 THEN 1 ELSE failures + 1 END,
                   last_unix = ?2",
                params![subject, now, ADDRESS_MEMORY],
            )
            .map_err(self.err("count a failed login"))?;
        Ok(())
    }

    /// Forgets the failures of `subject`: after a login, or an
    /// administrator's unlock. False when there were none.
    pub fn login_succeeded(&self, subject: &str) -> Result<bool> {
        let n = self
            .connection()
            .execute("DELETE FROM login_failures WHERE subject = ?1", [subject])
            .map_err(self.err("clear login failures"))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_delay_then_lock_an_account_and_an_unlock_opens_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("credence.db")).unwrap();
        let who = "officer:olga";
        for _ in 0..LOGIN_FREE_FAILURES {
            assert_eq!(s.login_gate(who, 1000).unwrap(), LoginGate::Open);
            s.login_failed(who, 1000).unwrap();
        }
        assert_eq!(s.login_gate(who, 1000).unwrap(), LoginGate::Wait(1));
        s.login_failed(who, 1001).unwrap();
        assert_eq!(s.login_gate(who, 1001).unwrap(), LoginGate::Wait(2), "the delay doubles");
        assert_eq!(s.login_gate(who, 1003).unwrap(), LoginGate::Open);
        for t in 0..(ACCOUNT_LOCK_FAILURES - LOGIN_FREE_FAILURES - 1) {
            s.login_failed(who, 2000 + t).unwrap();
        }
        assert_eq!(s.login_gate(who, 999_999).unwrap(), LoginGate::Locked, "locked however long one waits");
        assert!(s.login_succeeded(who).unwrap());
        assert_eq!(s.login_gate(who, 999_999).unwrap(), LoginGate::Open);
        let addr = "address:10.0.0.1";
        for _ in 0..=ADDRESS_FREE_FAILURES {
            s.login_failed(addr, 5000).unwrap();
        }
        assert_eq!(s.login_gate(addr, 5000).unwrap(), LoginGate::Wait(2));
        assert_eq!(
            s.login_gate(addr, 5000 + ADDRESS_MEMORY + 1).unwrap(),
            LoginGate::Open,
            "an address is not locked for good"
        );
    }
}
