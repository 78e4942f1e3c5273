//! The operational SQLite database (`warehouse/credence.db`): one
//! connection behind a mutex, and the migrations every area's tables come
//! from. Each area keeps its queries in its own file: the run ledger
//! ([`ledger`]), officer decisions ([`decisions`]), partner tokens and the
//! audit log ([`access`]), officer accounts and sessions ([`officers`]).

use std::path::Path;
use std::time::Duration;

use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::base::error::{Classify, ErrorKind};

mod access;
mod assignments;
mod decisions;
mod ledger;
mod officers;

pub use access::{AuditEntry, AuditRow, TokenRow};
pub use assignments::Assignment;
pub use decisions::{Action, Decision, NewDecision};
pub use ledger::{PolicyRef, RunId, RunRow, StepRow};
pub use officers::{LoginGate, ACCOUNT_LOCK_FAILURES, ADDRESS_FREE_FAILURES, LOGIN_FREE_FAILURES, LOGIN_MAX_DELAY};

/// The database failed; the message names the operation.
#[derive(Debug, thiserror::Error)]
#[error("operational database {path}: {operation}: {source}")]
pub struct StoreError {
    pub path: String,
    pub operation: &'static str,
    #[source]
    pub source: rusqlite::Error,
}

impl Classify for StoreError {
    fn kind(&self) -> ErrorKind {
        self.source.kind()
    }
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
    // 6: the audit log leaves the database only as a signed archive
    // (`credence audit archive`): rows of an archive being rotated may be
    // deleted, no others.
    "CREATE TABLE audit_archives (
        archive_id INTEGER PRIMARY KEY AUTOINCREMENT,
        first_audit_id INTEGER NOT NULL,
        last_audit_id INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        archived_by TEXT NOT NULL,
        archived_at TEXT NOT NULL,
        rotating INTEGER NOT NULL DEFAULT 1 CHECK (rotating IN (0, 1))
    );
    CREATE TRIGGER audit_archives_are_never_deleted BEFORE DELETE ON audit_archives
        BEGIN SELECT RAISE(ABORT, 'the record of audit archives is append-only'); END;
    CREATE TRIGGER audit_archives_only_finish_rotating BEFORE UPDATE ON audit_archives
        WHEN NOT (OLD.rotating = 1 AND NEW.rotating = 0 AND NEW.file = OLD.file AND NEW.sha256 = OLD.sha256
                  AND NEW.first_audit_id = OLD.first_audit_id AND NEW.last_audit_id = OLD.last_audit_id)
        BEGIN SELECT RAISE(ABORT, 'the record of audit archives is append-only'); END;
    DROP TRIGGER audit_is_never_deleted;
    CREATE TRIGGER audit_is_never_deleted BEFORE DELETE ON audit
        WHEN NOT EXISTS (SELECT 1 FROM audit_archives
                         WHERE rotating = 1 AND OLD.audit_id BETWEEN first_audit_id AND last_audit_id)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows leave it only through credence audit archive'); END;",
    // 7: due process (publication.md v2): notices, objections, approvals and
    // sending a proposal back; what each records. SQLite cannot change a
    // CHECK, so the table is copied (its triggers go with the old one).
    "CREATE TABLE decisions_v2 (
        decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
        list_id TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN
            ('notify', 'object', 'confirm', 'approve', 'send_back', 'reject', 'exempt', 'revoke_exemption')),
        officer TEXT NOT NULL,
        reason TEXT NOT NULL CHECK (length(trim(reason)) >= 10),
        until TEXT,
        basis TEXT,
        rules TEXT,
        decided_at TEXT NOT NULL,
        approves INTEGER,
        deadline TEXT,
        document TEXT,
        document_sha256 TEXT,
        received_on TEXT,
        CHECK ((action IN ('approve', 'send_back')) = (approves IS NOT NULL))
    );
    INSERT INTO decisions_v2 (decision_id, list_id, entity_id, action, officer, reason, until, basis, rules, decided_at)
        SELECT decision_id, list_id, entity_id, action, officer, reason, until, basis, rules, decided_at FROM decisions;
    DROP TABLE decisions;
    ALTER TABLE decisions_v2 RENAME TO decisions;
    CREATE INDEX decisions_by_subject ON decisions (list_id, entity_id, decision_id);
    CREATE TRIGGER decisions_are_never_updated BEFORE UPDATE ON decisions
        BEGIN SELECT RAISE(ABORT, 'decisions are append-only: a past decision is never updated'); END;
    CREATE TRIGGER decisions_are_never_deleted BEFORE DELETE ON decisions
        BEGIN SELECT RAISE(ABORT, 'decisions are append-only: a past decision is never deleted'); END;",
    // 8: failed logins per account and per address (officer pages): the
    // growing delays and the lockout an administrator lifts.
    "CREATE TABLE login_failures (
        subject TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_unix INTEGER NOT NULL
    );",
    // 9: who works on which queue item (officer pages).
    "CREATE TABLE assignments (
        list_id TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        officer TEXT NOT NULL,
        assigned_at TEXT NOT NULL,
        PRIMARY KEY (list_id, entity_id)
    );",
];

/// Creates the database file with mode 0600 if absent, and sets 0600 on it
/// and on its WAL and shared-memory files if they exist.
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !path.exists() {
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = path.with_file_name(format!("{name}{suffix}"));
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// The environment variable that sets how long a command waits for a busy database.
pub const BUSY_ENV: &str = "CREDENCE_BUSY_TIMEOUT_SECONDS";

/// An open operational database.
pub struct Store {
    conn: Mutex<Connection>,
    path: String,
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) and migrates the database.
    ///
    /// A statement waits for another process's write lock for 30 s, or for
    /// `CREDENCE_BUSY_TIMEOUT_SECONDS`; then the command fails, worth retrying.
    pub fn open(path: &Path) -> Result<Store> {
        let seconds = std::env::var(BUSY_ENV).ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(30);
        Store::open_waiting(path, Duration::from_secs(seconds))
    }

    /// Opens the database for a server: a busy database makes a request
    /// fail after a second (503), never hold it for long.
    pub fn open_for_requests(path: &Path) -> Result<Store> {
        Store::open_waiting(path, Duration::from_secs(1))
    }

    /// Opens (creating if needed) and migrates the database; a statement
    /// waits at most `busy` for another process's write lock. The database
    /// and its WAL files are readable by their owner only (0600): they hold
    /// password and session hashes and the audit log.
    pub fn open_waiting(path: &Path, busy: Duration) -> Result<Store> {
        let shown = path.display().to_string();
        let err = |operation| {
            let shown = shown.clone();
            move |source| StoreError { path: shown, operation, source }
        };
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        owner_only(path).map_err(|_| {
            err("make the database readable by its owner only")(rusqlite::Error::InvalidPath(path.to_path_buf()))
        })?;
        let mut conn = Connection::open(path).map_err(err("open"))?;
        conn.busy_timeout(busy).map_err(err("set busy timeout"))?;
        enable_wal(&conn, busy).map_err(err("enable WAL"))?;
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
        owner_only(path).map_err(|_| {
            err("make the database readable by its owner only")(rusqlite::Error::InvalidPath(path.to_path_buf()))
        })?;
        Ok(Store { conn: Mutex::new(conn), path: shown })
    }

    pub(crate) fn err(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError { path: self.path.clone(), operation, source }
    }

    /// The connection, for the areas that keep their own tables here.
    pub fn connection(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Turns write-ahead logging on, trying again for up to `busy` while
/// another connection holds the database: SQLite answers busy at once,
/// without waiting in its busy handler, when two connections open a new
/// database at the same moment (seen in `concurrent_opens_migrate_once`).
fn enable_wal(conn: &Connection, busy: Duration) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + busy;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty store in a folder of its own (kept while the folder lives).
    fn fresh_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("credence.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn the_ledger_records_a_run_with_its_steps() {
        let (dir, s) = fresh_store();
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
        let (_dir, s) = fresh_store();
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

    /// What later runs and pages build on comes from successful runs only:
    /// a run that failed or never finished after them, with another policy
    /// and later decisions, changes neither the decisions used as of its
    /// date nor the policy last published with (mutants that read any run
    /// survived every test).
    #[test]
    fn only_successful_runs_count_for_decisions_used_and_the_last_policy() {
        let (_dir, s) = fresh_store();
        let d: crate::base::ids::AsOf = "2026-11-27".parse().unwrap();
        let old = PolicyRef { id: "p", version: "1", sha256: "aaa" };
        let new = PolicyRef { id: "p", version: "2", sha256: "bbb" };
        let good = s.begin_run(d, "manual", &old).unwrap();
        s.record_decisions_used(good, 3).unwrap();
        s.finish_run(good, true, None, Some("{}")).unwrap();
        let failed = s.begin_run(d, "manual", &new).unwrap();
        s.record_decisions_used(failed, 5).unwrap();
        s.finish_run(failed, false, Some("input"), None).unwrap();
        let running = s.begin_run(d, "manual", &new).unwrap();
        s.record_decisions_used(running, 7).unwrap();
        assert_eq!(s.decisions_used(d).unwrap(), Some(3));
        assert_eq!(s.last_success_policy().unwrap(), Some(("p".into(), "1".into(), "aaa".into())));
        assert_eq!((s.last_success().unwrap(), s.succeeded(d, "bbb").unwrap()), (Some(d), false));
    }

    /// `audit archive --before T` takes the rows recorded strictly before
    /// T: a row recorded at exactly T stays (a mutant that took it
    /// survived every test).
    #[test]
    fn the_audit_rows_before_a_time_exclude_that_time() {
        let (_dir, s) = fresh_store();
        let entry =
            AuditEntry { actor: None, method: "GET", path: "/api/v1/lists", status: 401, bytes: 0, detail: None };
        s.audit(&entry).unwrap();
        let at = s.audit_before("9999-12-31").unwrap()[0].at.clone();
        assert!(s.audit_before(&at).unwrap().is_empty(), "{at} is not before itself");
        assert_eq!(s.audit_before(&format!("{at}Z")).unwrap().len(), 1, "a later text takes it");
    }

    /// A session lives while each request comes within the idle time of
    /// the one before (exactly the idle time is in); one idle longer ends
    /// for good (a mutant that doubled the idle time survived every test).
    #[test]
    fn a_session_idle_longer_than_allowed_ends() {
        let (_dir, s) = fresh_store();
        s.put_officer("olga", "officer", "hash-1").unwrap();
        s.start_session("t1", "olga", "c1", 100).unwrap();
        assert!(s.session("t1", 160, 60).unwrap().is_some(), "exactly the idle time after the start");
        assert!(s.session("t1", 220, 60).unwrap().is_some(), "each request starts the idle time again");
        assert_eq!(s.session("t1", 281, 60).unwrap(), None, "a second longer ends it");
        assert_eq!(s.session("t1", 282, 60).unwrap(), None, "and it stays ended");
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

    /// Decisions are read by id range, `after` excluded and `through`
    /// included, and by list and entity (mutants that took `after` itself,
    /// or ignored the entity, survived every test).
    #[test]
    fn decisions_are_read_by_id_range_list_and_entity() {
        let (_dir, s) = fresh_store();
        let until = Some("2026-12-31".parse().unwrap());
        for (list_id, entity_id) in [("l", "E1"), ("l", "E2"), ("m", "E1"), ("l", "E1")] {
            let d = NewDecision {
                list_id,
                entity_id,
                action: Some(Action::Exempt),
                officer: "o1",
                reason: "court order 2026-17",
                until,
                ..NewDecision::default()
            };
            s.add_decision(&d).unwrap();
        }
        let ids = |v: Vec<Decision>| v.iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(ids(s.decisions_between(1, 3, None, None).unwrap()), [2, 3]);
        assert_eq!(ids(s.decisions(4, Some("l"), Some("E1")).unwrap()), [1, 4]);
        assert_eq!(ids(s.decisions(4, None, Some("E1")).unwrap()), [1, 3, 4]);
        assert_eq!(ids(s.decisions(3, Some("l"), None).unwrap()), [1, 2]);
    }

    #[test]
    fn decisions_are_append_only() {
        let (_dir, s) = fresh_store();
        let d = NewDecision {
            list_id: "l",
            entity_id: "E",
            action: Some(Action::Exempt),
            officer: "o1",
            reason: "court order 2026-17",
            until: Some("2026-12-31".parse().unwrap()),
            ..NewDecision::default()
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
