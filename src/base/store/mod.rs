//! The operational SQLite database (`warehouse/credence.db`): the run
//! ledger with what each run read, rejected and produced. Later areas
//! (decisions, partner tokens, the audit log) add their tables through the
//! same migrations.

use std::path::Path;
use std::time::Duration;

use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use crate::base::ids::AsOf;

/// A run's number in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The database failed; the message names the operation.
#[derive(Debug, thiserror::Error)]
#[error("operational database {path}: {operation}: {source}")]
pub struct StoreError {
    pub path: String,
    pub operation: &'static str,
    #[source]
    pub source: rusqlite::Error,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Schema versions, applied in order; each entry is one migration.
const MIGRATIONS: &[&str] = &[
    // 1: the run ledger
    "CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        as_of TEXT NOT NULL,
        trigger TEXT NOT NULL,
        policy_id TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        policy_sha256 TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed')),
        error TEXT,
        summary TEXT
    );
    CREATE TABLE run_partitions (
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        dataset TEXT NOT NULL,
        ingest_date TEXT NOT NULL,
        files INTEGER NOT NULL,
        rows INTEGER NOT NULL
    );
    CREATE TABLE run_rejects (
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        dataset TEXT NOT NULL,
        code TEXT NOT NULL,
        rows INTEGER NOT NULL
    );
    CREATE TABLE run_steps (
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        step TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        rows INTEGER
    );",
    // 2: officer decisions, append-only; a run records the decisions it used
    "CREATE TABLE decisions (
        decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
        list_id TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('confirm', 'reject', 'exempt', 'revoke_exemption')),
        officer TEXT NOT NULL,
        reason TEXT NOT NULL CHECK (length(trim(reason)) >= 10),
        until TEXT,
        basis TEXT,
        rules TEXT,
        decided_at TEXT NOT NULL
    );
    CREATE INDEX decisions_by_subject ON decisions (list_id, entity_id, decision_id);
    CREATE TRIGGER decisions_are_never_updated BEFORE UPDATE ON decisions
        BEGIN SELECT RAISE(ABORT, 'decisions are append-only: a past decision is never updated'); END;
    CREATE TRIGGER decisions_are_never_deleted BEFORE DELETE ON decisions
        BEGIN SELECT RAISE(ABORT, 'decisions are append-only: a past decision is never deleted'); END;
    ALTER TABLE runs ADD COLUMN decisions_through INTEGER;",
    // 3: partner tokens (only their SHA-256) and the append-only audit log
    "CREATE TABLE partner_tokens (
        token_id INTEGER PRIMARY KEY AUTOINCREMENT,
        partner_id TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        issued_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE audit (
        audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        detail TEXT
    );
    CREATE TRIGGER audit_is_never_updated BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_is_never_deleted BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    // 4: officer accounts (argon2 password hashes) and their sessions
    "CREATE TABLE officers (
        officer_id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('officer', 'senior', 'auditor')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_sha256 TEXT PRIMARY KEY,
        officer_id TEXT NOT NULL REFERENCES officers(officer_id),
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen_unix INTEGER NOT NULL,
        ended_at TEXT
    );",
    // 5: removed officers stay on record (their decisions name them)
    "ALTER TABLE officers ADD COLUMN removed_at TEXT;",
];

/// An open operational database.
pub struct Store {
    conn: Mutex<Connection>,
    path: String,
}

/// What an officer decided (publication.md, "Officer decisions").
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    Confirm,
    Reject,
    Exempt,
    RevokeExemption,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Confirm => "confirm",
            Action::Reject => "reject",
            Action::Exempt => "exempt",
            Action::RevokeExemption => "revoke_exemption",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "confirm" => Action::Confirm,
            "reject" => Action::Reject,
            "exempt" => Action::Exempt,
            "revoke_exemption" | "revoke-exemption" => Action::RevokeExemption,
            _ => return None,
        })
    }
}

/// A stored decision.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Decision {
    pub id: i64,
    pub list_id: String,
    pub entity_id: String,
    pub action: Action,
    pub officer: String,
    pub reason: String,
    /// Last day an exemption is in force (inclusive).
    pub until: Option<AsOf>,
    /// For a reject: the member's basis and rules when it was rejected.
    pub basis: Option<String>,
    pub rules: Option<Vec<String>>,
    pub decided_at: String,
}

/// A decision to be stored.
pub struct NewDecision<'a> {
    pub list_id: &'a str,
    pub entity_id: &'a str,
    pub action: Action,
    pub officer: &'a str,
    pub reason: &'a str,
    pub until: Option<AsOf>,
    pub basis: Option<&'a str>,
    pub rules: Option<&'a [String]>,
}

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

/// One line of the ledger.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunRow {
    pub run_id: i64,
    pub as_of: String,
    pub trigger: String,
    pub policy: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: String,
    pub error: Option<String>,
    pub summary: Option<String>,
}

/// A step of a run with its duration.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepRow {
    pub step: String,
    pub duration_ms: i64,
    pub rows: Option<i64>,
}

/// The policy a run executes, as recorded.
pub struct PolicyRef<'a> {
    pub id: &'a str,
    pub version: &'a str,
    pub sha256: &'a str,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store> {
        let shown = path.display().to_string();
        let err = |operation| {
            let shown = shown.clone();
            move |source| StoreError { path: shown, operation, source }
        };
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let mut conn = Connection::open(path).map_err(err("open"))?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(err("set busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err("enable WAL"))?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err("enable foreign keys"))?;
        // The version is read under the write lock, so that two processes
        // opening a new database never both apply a migration.
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err("begin migration"))?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err("read schema version"))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(err("migrate"))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(err("record schema version"))?;
        }
        tx.commit().map_err(err("commit migration"))?;
        Ok(Store { conn: Mutex::new(conn), path: shown })
    }

    fn err(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError { path: self.path.clone(), operation, source }
    }

    /// The connection, for the areas that keep their own tables here.
    pub fn connection(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn begin_run(&self, as_of: AsOf, trigger: &str, policy: &PolicyRef) -> Result<RunId> {
        let conn = self.connection();
        conn.execute(
            "INSERT INTO runs (as_of, trigger, policy_id, policy_version, policy_sha256, started_at, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running')",
            params![as_of.to_string(), trigger, policy.id, policy.version, policy.sha256, now()],
        )
        .map_err(self.err("record run start"))?;
        Ok(RunId(conn.last_insert_rowid()))
    }

    pub fn record_partition(&self, run: RunId, dataset: &str, ingest_date: &str, files: u64, rows: u64) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO run_partitions (run_id, dataset, ingest_date, files, rows) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run.0, dataset, ingest_date, files as i64, rows as i64],
            )
            .map_err(self.err("record partition read"))?;
        Ok(())
    }

    pub fn record_rejects(&self, run: RunId, dataset: &str, code: &str, rows: u64) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO run_rejects (run_id, dataset, code, rows) VALUES (?1, ?2, ?3, ?4)",
                params![run.0, dataset, code, rows as i64],
            )
            .map_err(self.err("record rejected rows"))?;
        Ok(())
    }

    pub fn record_step(&self, run: RunId, step: &str, duration: Duration, rows: Option<u64>) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO run_steps (run_id, step, duration_ms, rows) VALUES (?1, ?2, ?3, ?4)",
                params![run.0, step, duration.as_millis() as i64, rows.map(|r| r as i64)],
            )
            .map_err(self.err("record step"))?;
        Ok(())
    }

    pub fn finish_run(&self, run: RunId, succeeded: bool, error: Option<&str>, summary: Option<&str>) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE runs SET finished_at = ?2, outcome = ?3, error = ?4, summary = ?5 WHERE run_id = ?1",
                params![run.0, now(), if succeeded { "succeeded" } else { "failed" }, error, summary],
            )
            .map_err(self.err("record run end"))?;
        Ok(())
    }

    /// Appends a decision; returns its id. Decisions are never changed.
    pub fn add_decision(&self, d: &NewDecision) -> Result<i64> {
        let conn = self.connection();
        conn.execute(
            "INSERT INTO decisions (list_id, entity_id, action, officer, reason, until, basis, rules, decided_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                d.list_id,
                d.entity_id,
                d.action.as_str(),
                d.officer,
                d.reason,
                d.until.map(|u| u.to_string()),
                d.basis,
                d.rules.map(|r| serde_json::to_string(r).expect("strings serialise")),
                now()
            ],
        )
        .map_err(self.err("record decision"))?;
        Ok(conn.last_insert_rowid())
    }

    /// The id of the newest decision (0 when there is none).
    pub fn last_decision_id(&self) -> Result<i64> {
        self.connection()
            .query_row("SELECT coalesce(max(decision_id), 0) FROM decisions", [], |r| r.get(0))
            .map_err(self.err("read decisions"))
    }

    /// Every decision with id <= `through`, oldest first; with `filter`,
    /// only those about one (list, entity) or one entity.
    pub fn decisions(&self, through: i64, list: Option<&str>, entity: Option<&str>) -> Result<Vec<Decision>> {
        self.decisions_between(0, through, list, entity)
    }

    /// The decisions with `after` < id <= `through`, oldest first, filtered
    /// like [`Store::decisions`].
    pub fn decisions_between(
        &self,
        after: i64,
        through: i64,
        list: Option<&str>,
        entity: Option<&str>,
    ) -> Result<Vec<Decision>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare(
                "SELECT decision_id, list_id, entity_id, action, officer, reason, until, basis, rules, decided_at
                 FROM decisions
                 WHERE decision_id > ?4 AND decision_id <= ?1 AND (?2 IS NULL OR list_id = ?2)
                   AND (?3 IS NULL OR entity_id = ?3)
                 ORDER BY decision_id",
            )
            .map_err(self.err("read decisions"))?;
        let rows = stmt
            .query_map(params![through, list, entity, after], |r| {
                let action: String = r.get(3)?;
                let until: Option<String> = r.get(6)?;
                let rules: Option<String> = r.get(8)?;
                Ok(Decision {
                    id: r.get(0)?,
                    list_id: r.get(1)?,
                    entity_id: r.get(2)?,
                    action: Action::parse(&action).expect("checked by the table"),
                    officer: r.get(4)?,
                    reason: r.get(5)?,
                    until: until.and_then(|u| u.parse().ok()),
                    basis: r.get(7)?,
                    rules: rules.and_then(|j| serde_json::from_str(&j).ok()),
                    decided_at: r.get(9)?,
                })
            })
            .map_err(self.err("read decisions"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("read decisions"))?;
        Ok(rows)
    }

    /// Records that run `run` uses the decisions with ids <= `through`.
    pub fn record_decisions_used(&self, run: RunId, through: i64) -> Result<()> {
        self.connection()
            .execute("UPDATE runs SET decisions_through = ?2 WHERE run_id = ?1", params![run.0, through])
            .map_err(self.err("record decisions used"))?;
        Ok(())
    }

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

    /// (token id, partner, issued, revoked) of every token.
    pub fn tokens(&self) -> Result<Vec<(i64, String, String, Option<String>)>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT token_id, partner_id, issued_at, revoked_at FROM partner_tokens ORDER BY token_id")
            .map_err(self.err("list tokens"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(self.err("list tokens"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("list tokens"))?;
        Ok(rows)
    }

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

    fn end_sessions_of(conn: &Connection, officer: &str) -> rusqlite::Result<usize> {
        conn.execute(
            "UPDATE sessions SET ended_at = ?2 WHERE officer_id = ?1 AND ended_at IS NULL",
            params![officer, now()],
        )
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

    /// Appends one line to the audit log.
    pub fn audit(&self, entry: &AuditEntry) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO audit (at, actor, method, path, status, bytes, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![now(), entry.actor, entry.method, entry.path, entry.status, entry.bytes as i64, entry.detail],
            )
            .map_err(self.err("append to the audit log"))?;
        Ok(())
    }

    /// The newest audit lines first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditRow>> {
        let conn = self.connection();
        let mut stmt = conn.prepare("SELECT audit_id, at, actor, method, path, status, bytes, detail FROM audit ORDER BY audit_id DESC LIMIT ?1")
            .map_err(self.err("read the audit log"))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
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

    /// Marks runs still recorded as running as failed: their process ended
    /// before they finished. Call only while holding the warehouse's lock.
    pub fn mark_interrupted(&self) -> Result<usize> {
        self.connection()
            .execute(
                "UPDATE runs SET outcome = 'failed', finished_at = ?1,
                 error = 'interrupted: the process ended before the run finished; nothing it staged was published'
                 WHERE outcome = 'running'",
                [now()],
            )
            .map_err(self.err("mark interrupted runs"))
    }

    /// The as-of date of the newest successful run, if any.
    pub fn last_success(&self) -> Result<Option<AsOf>> {
        let d: Option<String> = self
            .connection()
            .query_row("SELECT max(as_of) FROM runs WHERE outcome = 'succeeded'", [], |r| r.get(0))
            .map_err(self.err("read runs"))?;
        Ok(d.and_then(|d| d.parse().ok()))
    }

    /// The decisions (ids up to the returned one) used by the newest
    /// successful run as of `as_of`: later ones take effect in the next run.
    pub fn decisions_used(&self, as_of: AsOf) -> Result<Option<i64>> {
        let through: Option<Option<i64>> = self
            .connection()
            .query_row(
                "SELECT decisions_through FROM runs WHERE as_of = ?1 AND outcome = 'succeeded' \
                 ORDER BY run_id DESC LIMIT 1",
                params![as_of.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read runs"))?;
        Ok(through.flatten())
    }

    /// Whether a run as of `as_of` with this policy hash succeeded.
    pub fn succeeded(&self, as_of: AsOf, policy_sha256: &str) -> Result<bool> {
        let n: i64 = self
            .connection()
            .query_row(
                "SELECT count(*) FROM runs WHERE as_of = ?1 AND policy_sha256 = ?2 AND outcome = 'succeeded'",
                params![as_of.to_string(), policy_sha256],
                |r| r.get(0),
            )
            .map_err(self.err("read runs"))?;
        Ok(n > 0)
    }

    /// The newest runs first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        let conn = self.connection();
        let mut stmt = conn.prepare(
                "SELECT run_id, as_of, trigger, policy_id || ' ' || policy_version, started_at, finished_at, outcome, error, summary
                 FROM runs ORDER BY run_id DESC LIMIT ?1",
            )
            .map_err(self.err("list runs"))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(RunRow {
                    run_id: r.get(0)?,
                    as_of: r.get(1)?,
                    trigger: r.get(2)?,
                    policy: r.get(3)?,
                    started_at: r.get(4)?,
                    finished_at: r.get(5)?,
                    outcome: r.get(6)?,
                    error: r.get(7)?,
                    summary: r.get(8)?,
                })
            })
            .map_err(self.err("list runs"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("list runs"))?;
        Ok(rows)
    }

    pub fn steps(&self, run: RunId) -> Result<Vec<StepRow>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT step, duration_ms, rows FROM run_steps WHERE run_id = ?1 ORDER BY rowid")
            .map_err(self.err("list steps"))?;
        let rows = stmt
            .query_map([run.0], |r| Ok(StepRow { step: r.get(0)?, duration_ms: r.get(1)?, rows: r.get(2)? }))
            .map_err(self.err("list steps"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("list steps"))?;
        Ok(rows)
    }

    /// Rejected rows by (dataset, code) of a run.
    pub fn rejects(&self, run: RunId) -> Result<Vec<(String, String, i64)>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT dataset, code, rows FROM run_rejects WHERE run_id = ?1 ORDER BY dataset, code")
            .map_err(self.err("list rejects"))?;
        let rows = stmt
            .query_map([run.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err("list rejects"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("list rejects"))?;
        Ok(rows)
    }

    /// Partitions read by a run: (dataset, ingest_date, files, rows).
    pub fn partitions(&self, run: RunId) -> Result<Vec<(String, String, i64, i64)>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT dataset, ingest_date, files, rows FROM run_partitions WHERE run_id = ?1 ORDER BY rowid")
            .map_err(self.err("list partitions"))?;
        let rows = stmt
            .query_map([run.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(self.err("list partitions"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("list partitions"))?;
        Ok(rows)
    }

    pub fn run(&self, run: RunId) -> Result<Option<RunRow>> {
        self.connection()
            .query_row(
                "SELECT run_id, as_of, trigger, policy_id || ' ' || policy_version, started_at, finished_at, outcome, error, summary
                 FROM runs WHERE run_id = ?1",
                [run.0],
                |r| {
                    Ok(RunRow {
                        run_id: r.get(0)?,
                        as_of: r.get(1)?,
                        trigger: r.get(2)?,
                        policy: r.get(3)?,
                        started_at: r.get(4)?,
                        finished_at: r.get(5)?,
                        outcome: r.get(6)?,
                        error: r.get(7)?,
                        summary: r.get(8)?,
                    })
                },
            )
            .optional()
            .map_err(self.err("read run"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_records_a_run_with_its_steps() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("credence.db")).unwrap();
        let p = PolicyRef { id: "p", version: "1", sha256: "abc" };
        let run = s.begin_run("2026-11-27".parse().unwrap(), "manual", &p).unwrap();
        s.record_partition(run, "registry", "2026-11-27", 1, 10).unwrap();
        s.record_rejects(run, "registry", "bad_enum", 2).unwrap();
        s.record_step(run, "validate", Duration::from_millis(1500), Some(10)).unwrap();
        s.finish_run(run, true, None, Some("{}")).unwrap();
        let runs = s.runs(10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].outcome.as_str(), runs[0].policy.as_str()), ("succeeded", "p 1"));
        assert_eq!(s.steps(run).unwrap()[0].duration_ms, 1500);
        assert_eq!(s.rejects(run).unwrap(), vec![("registry".into(), "bad_enum".into(), 2)]);
        drop(s);
        // Reopening does not migrate twice.
        let s = Store::open(&dir.path().join("credence.db")).unwrap();
        assert_eq!(s.runs(10).unwrap().len(), 1);
    }

    #[test]
    fn a_reset_or_removed_officer_loses_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("credence.db")).unwrap();
        s.put_officer("olga", "senior", "hash-1").unwrap();
        s.start_session("t1", "olga", "c1", 100).unwrap();
        assert_eq!(s.session("t1", 101, 60).unwrap().map(|x| x.1), Some("senior".to_string()));
        s.put_officer("olga", "officer", "hash-2").unwrap();
        assert_eq!(s.session("t1", 102, 60).unwrap(), None, "a new role or password ends the session");
        s.start_session("t2", "olga", "c2", 103).unwrap();
        assert!(s.remove_officer("olga").unwrap());
        assert_eq!(s.session("t2", 104, 60).unwrap(), None);
        assert_eq!(s.officer("olga").unwrap(), None);
        assert!(!s.remove_officer("olga").unwrap(), "already gone");
        s.put_officer("olga", "officer", "hash-3").unwrap();
        assert!(s.officer("olga").unwrap().is_some(), "adding again brings the account back");
    }

    #[test]
    fn concurrent_opens_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credence.db");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let p = path.clone();
                std::thread::spawn(move || Store::open(&p).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }

    #[test]
    fn decisions_are_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("credence.db")).unwrap();
        let d = NewDecision {
            list_id: "l",
            entity_id: "E",
            action: Action::Exempt,
            officer: "o1",
            reason: "court order 2026-17",
            until: Some("2026-12-31".parse().unwrap()),
            basis: None,
            rules: None,
        };
        let id = s.add_decision(&d).unwrap();
        let e = s
            .connection()
            .execute("UPDATE decisions SET reason = 'changed later' WHERE decision_id = ?1", [id])
            .unwrap_err();
        assert!(e.to_string().contains("decisions are append-only: a past decision is never updated"), "{e}");
        let e = s.connection().execute("DELETE FROM decisions", []).unwrap_err();
        assert!(e.to_string().contains("never deleted"), "{e}");
        let short = NewDecision { reason: "   too short  ", ..d };
        assert!(s.add_decision(&short).is_err(), "the table refuses reasons under 10 characters too");
        let all = s.decisions(s.last_decision_id().unwrap(), None, None).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].until, Some("2026-12-31".parse().unwrap()));
    }
}
