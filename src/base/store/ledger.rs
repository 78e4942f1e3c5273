//! The run ledger: each run, what it read, rejected and produced, its
//! steps and the decisions it used.

use rusqlite::{params, OptionalExtension};

use super::{now, Result, Store};
use std::time::Duration;

use crate::base::ids::AsOf;

/// A run's number in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
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

impl Store {
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

    /// Records that run `run` uses the decisions with ids <= `through`.
    pub fn record_decisions_used(&self, run: RunId, through: i64) -> Result<()> {
        self.connection()
            .execute("UPDATE runs SET decisions_through = ?2 WHERE run_id = ?1", params![run.0, through])
            .map_err(self.err("record decisions used"))?;
        Ok(())
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

    /// The decisions (ids up to the returned one) run `run` used.
    pub fn run_decisions(&self, run: RunId) -> Result<Option<i64>> {
        let through: Option<Option<i64>> = self
            .connection()
            .query_row("SELECT decisions_through FROM runs WHERE run_id = ?1", params![run.0], |r| r.get(0))
            .optional()
            .map_err(self.err("read runs"))?;
        Ok(through.flatten())
    }

    /// (id, version, SHA-256) of the policy of the newest successful run.
    pub fn last_success_policy(&self) -> Result<Option<(String, String, String)>> {
        self.connection()
            .query_row(
                "SELECT policy_id, policy_version, policy_sha256 FROM runs WHERE outcome = 'succeeded'
                 ORDER BY run_id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(self.err("read runs"))
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
