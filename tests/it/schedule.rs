//! The scheduler daemon and backfill, as a real process on a real
//! warehouse, with jobs ticking every second or two.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use credence::base::ids::AsOf;
use credence::base::lock::RunLock;
use credence::base::warehouse::Warehouse;

use crate::support::{credence, ok, stderr};

struct Daemon {
    child: Child,
    log: PathBuf,
    metrics: String,
}

/// The daemon's clock starts here, whatever the wall clock says: a test
/// never depends on the day or the hour it runs.
const CLOCK_START: &str = "2026-11-27T12:00:00Z";

/// The as-of date of a tick on the daemon's clock (lag 1, UTC).
fn today() -> AsOf {
    AsOf::new(CLOCK_START.parse::<DateTime<Utc>>().unwrap().date_naive()).plus_days(-1)
}

impl Daemon {
    fn start(jobs: &Path, log: PathBuf) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_credence"))
            .args([
                "schedule",
                "--jobs",
                jobs.to_str().unwrap(),
                "--metrics-listen",
                "127.0.0.1:0",
                "--clock-start",
                CLOCK_START,
            ])
            .env("CREDENCE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        // Keep reading, so that the daemon never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let metrics = line.trim().strip_prefix("metrics on ").unwrap_or_else(|| panic!("{line:?}")).to_string();
        Daemon { child, log, metrics }
    }

    fn logs(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The tick times of the daemon's log, on its clock.
    fn ticks(&self) -> Vec<DateTime<Utc>> {
        self.logs()
            .iter()
            .filter(|l| l["fields"]["message"] == "tick")
            .map(|l| l["fields"]["tick"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// (as_of, started, finished) of each scheduled run that succeeded, on the daemon's clock.
    fn scheduled_runs(&self) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
        self.logs()
            .iter()
            .filter(|l| l["fields"]["message"] == "scheduled run" && l["fields"]["outcome"] == "succeeded")
            .map(|l| {
                let f = &l["fields"];
                let t = |k: &str| f[k].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
                (f["as_of"].as_str().unwrap().to_string(), t("started"), t("finished"))
            })
            .collect()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (as_of, trigger, started, finished, outcome) of every run, oldest first.
type RunLine = (String, String, DateTime<Utc>, Option<DateTime<Utc>>, String);

fn runs(root: &Path) -> Vec<RunLine> {
    let store = credence::base::store::Store::open(&Warehouse::new(root).database()).unwrap();
    let mut rows: Vec<RunLine> = store
        .runs(1000)
        .unwrap()
        .into_iter()
        .map(|r| {
            (r.as_of, r.trigger, r.started_at.parse().unwrap(), r.finished_at.map(|f| f.parse().unwrap()), r.outcome)
        })
        .collect();
    rows.reverse();
    rows
}

/// A warehouse whose newest night is the as-of date of a tick on the daemon's clock.
fn warehouse(dir: &Path, entities: &str) -> (PathBuf, AsOf, String) {
    let root = dir.join("wh");
    let as_of = today();
    ok(&[
        "gen",
        "--warehouse",
        root.to_str().unwrap(),
        "--entities",
        entities,
        "--days",
        "4",
        "--seed",
        "2",
        "--as-of",
        &as_of.to_string(),
    ]);
    let policy = std::fs::read_to_string(crate::support::repo_root().join("policies/online-market.yaml"))
        .unwrap()
        .replace("review: additions", "review: none");
    let p = dir.join("policy.yaml");
    std::fs::write(&p, policy).unwrap();
    (root, as_of, p.to_str().unwrap().to_string())
}

fn job(dir: &Path, root: &Path, policy: &str, schedule: &str, extra: &str) -> PathBuf {
    let jobs = dir.join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    std::fs::write(
        jobs.join("test.yaml"),
        format!(
            "job: test\nschedule: \"{schedule}\"\ntime_zone: UTC\nwarehouse: {}\npolicy: {policy}\nas_of_lag_days: 1\nunsigned: true\nthreads: 2\n{extra}",
            root.display()
        ),
    )
    .unwrap();
    jobs
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out after {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn runs_start_on_time_and_catch_up_after_downtime() {
    let dir = tempfile::tempdir().unwrap();
    let (root, today, policy) = warehouse(dir.path(), "300");
    // The last success before the "downtime" was three nights ago.
    let r = root.to_str().unwrap();
    ok(&["run", "--unsigned", "--warehouse", r, "--as-of", &today.plus_days(-3).to_string(), "--policy", &policy]);
    let jobs = job(dir.path(), &root, &policy, "*/2 * * * * *", "catch_up: { max_nights: 2 }\n");
    let mut daemon = Daemon::start(&jobs, dir.path().join("daemon.log"));
    wait_until(Duration::from_secs(60), || runs(&root).iter().filter(|r| r.1 == "schedule:test").count() >= 5);
    let status = daemon.terminate();
    assert!(status.success());

    let scheduled: Vec<RunLine> = runs(&root).into_iter().filter(|r| r.1 == "schedule:test").collect();
    let dates: Vec<&str> = scheduled.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        dates[..2],
        [today.plus_days(-1).to_string(), today.to_string()],
        "catch-up runs the newest missed dates, oldest first"
    );
    assert!(dates[2..].iter().all(|d| *d == today.to_string()), "then each tick runs today's as-of date: {dates:?}");
    let skipped = format!("credence backfill --from {} --to {}", today.plus_days(-2), today.plus_days(-2));
    assert!(
        daemon.logs().iter().any(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains(&skipped))),
        "the night beyond max_nights is named for a backfill"
    );
    assert!(scheduled.iter().all(|r| r.4 == "succeeded"), "{scheduled:?}");

    // After the catch-up, a run starts within a second of its tick when
    // the daemon was idle at the tick; otherwise it waits for the run under
    // way to finish. Both read the daemon's clock, never the wall clock.
    let ticks = daemon.ticks();
    let on_clock = daemon.scheduled_runs();
    assert!(on_clock.len() >= 5, "{on_clock:?}");
    for w in on_clock[2..].windows(2) {
        let (prev, run) = (&w[0], &w[1]);
        let tick = *ticks.iter().filter(|t| **t <= run.1).max().expect("a tick before the run");
        if prev.2 <= tick {
            let late = (run.1 - tick).num_milliseconds();
            assert!(late < 1000, "the daemon was idle at {tick}, yet the run started {late} ms later: {run:?}");
        } else {
            assert!(run.1 >= prev.2, "a tick during a run waits for it: {prev:?} then {run:?}");
        }
    }
    // Runs never overlap.
    for w in scheduled.windows(2) {
        assert!(w[0].3.unwrap() <= w[1].2, "overlap: {w:?}");
    }
    let metrics = ureq::get(&daemon.metrics).call();
    assert!(metrics.is_err(), "the metrics server stopped with the daemon");
}

/// A daemon started after its current as-of date already ran waits for
/// the next tick: nothing was missed, so nothing is caught up at start.
#[test]
fn a_date_already_run_is_not_run_again_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (root, today, policy) = warehouse(dir.path(), "300");
    let r = root.to_str().unwrap();
    ok(&["run", "--unsigned", "--warehouse", r, "--as-of", &today.to_string(), "--policy", &policy]);
    let jobs = job(dir.path(), &root, &policy, "*/3 * * * * *", "");
    let mut daemon = Daemon::start(&jobs, dir.path().join("daemon.log"));
    wait_until(Duration::from_secs(60), || !daemon.scheduled_runs().is_empty());
    assert!(daemon.terminate().success());
    let first_run = daemon.scheduled_runs()[0].1;
    let first_tick = *daemon.ticks().iter().min().expect("a tick");
    assert!(
        first_run >= first_tick,
        "the first scheduled run started at {first_run}, before the first tick {first_tick}"
    );
}

#[test]
fn a_slow_run_never_overlaps_the_next_tick_and_sigterm_lets_it_finish() {
    let dir = tempfile::tempdir().unwrap();
    // Large enough that a debug build's run takes well over the schedule's
    // second (15,000 entities took 0.97 s once the heap stopped faulting).
    let (root, _, policy) = warehouse(dir.path(), "40000");
    let jobs = job(dir.path(), &root, &policy, "* * * * * *", "");
    let mut daemon = Daemon::start(&jobs, dir.path().join("daemon.log"));
    wait_until(Duration::from_secs(120), || runs(&root).iter().filter(|r| r.4 == "succeeded").count() >= 2);
    let scheduled = runs(&root);
    let first = &scheduled[0];
    assert!(
        first.3.unwrap() - first.2 > chrono::Duration::milliseconds(1000),
        "each run is slower than the 1 s schedule: {first:?}"
    );

    // The metrics hold the figures of the last successful run (every run
    // here is of the same as-of date, so of the same figures).
    let body = ureq::get(&daemon.metrics).call().unwrap().body_mut().read_to_string().unwrap();
    let value = |series: &str| -> f64 {
        let line =
            body.lines().find(|l| l.starts_with(&format!("{series} "))).unwrap_or_else(|| panic!("{series}: {body}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("credence_runs_total{job=\"test\",outcome=\"succeeded\"}") >= 2.0, "{body}");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - value("credence_last_success_timestamp_seconds{job=\"test\"}")).abs() < 600.0, "{body}");
    let quality = root.join(format!("reports/quality/as_of={}/quality.json", first.0));
    let quality: serde_json::Value = serde_json::from_slice(&std::fs::read(quality).unwrap()).unwrap();
    let datasets = quality["datasets"].as_array().unwrap();
    let violations = datasets.iter().find(|d| d["dataset"] == "violations").unwrap()["rows_read"].as_u64().unwrap();
    assert_eq!(value("credence_rows_read{job=\"test\",dataset=\"violations\"}") as u64, violations);
    let store = credence::base::store::Store::open(&Warehouse::new(&root).database()).unwrap();
    let ledger = store.runs(100).unwrap().into_iter().find(|r| r.outcome == "succeeded").unwrap().summary.unwrap();
    let list = credence::run::RunSummary::from_json(&ledger).unwrap().lists.into_iter().next().unwrap();
    let members = |status: &str| {
        value(&format!("credence_list_members{{job=\"test\",list=\"{}\",status=\"{status}\"}}", list.list_id))
    };
    assert_eq!((members("published") as u64, members("pending") as u64), (list.published, list.pending));
    assert!(list.published > 0, "{list:?}");
    assert!(body.contains("credence_step_duration_seconds_count{job=\"test\",step=\"score\"}"), "{body}");

    // Stop while a run is under way: it finishes, and the daemon exits cleanly.
    wait_until(Duration::from_secs(30), || runs(&root).last().is_some_and(|r| r.4 == "running"));
    assert!(daemon.terminate().success());
    let all = runs(&root);
    assert!(all.iter().all(|r| r.4 == "succeeded"), "the run under way finished: {all:?}");
    for w in all.windows(2) {
        assert!(w[0].3.unwrap() <= w[1].2, "overlap: {w:?}");
    }
    let logs = daemon.logs();
    // Every second ticks, yet runs (each over a second) followed one
    // another: some ticks fell during a run and waited (or were dropped).
    let ticks = daemon.ticks();
    let on_clock = daemon.scheduled_runs();
    let during = ticks.iter().filter(|t| on_clock.iter().any(|r| r.1 < **t && **t < r.2)).count();
    assert!(during >= 1, "a tick arrived while a run was under way: ticks {ticks:?}, runs {on_clock:?}");
    for w in on_clock.windows(2) {
        assert!(w[0].2 <= w[1].1, "overlap on the daemon's clock: {w:?}");
    }
    assert!(logs.iter().any(|l| l["fields"]["message"] == "scheduler stopped: no run under way"));
}

#[test]
fn a_locked_warehouse_is_retried_and_refuses_a_manual_run() {
    let dir = tempfile::tempdir().unwrap();
    let (root, today, policy) = warehouse(dir.path(), "300");
    let wh = Warehouse::new(&root);
    let lock = RunLock::acquire(&wh, "a test holding the lock").unwrap();

    let o = credence(&["run", "--unsigned", "--warehouse", root.to_str().unwrap(), "--as-of", &today.to_string()]);
    assert_eq!(o.status.code(), Some(3), "worth retrying");
    assert!(stderr(&o).contains("is locked by a test holding the lock, pid"), "{}", stderr(&o));
    assert!(stderr(&o).contains(" since "), "{}", stderr(&o));

    let jobs = job(
        dir.path(),
        &root,
        &policy,
        "*/2 * * * * *",
        "retry: { attempts: 10, backoff_seconds: 1, backoff_factor: 1 }\n",
    );
    let mut daemon = Daemon::start(&jobs, dir.path().join("daemon.log"));
    wait_until(Duration::from_secs(30), || daemon.logs().iter().any(|l| l["fields"]["message"] == "retrying"));
    drop(lock);
    wait_until(Duration::from_secs(60), || runs(&root).iter().any(|r| r.4 == "succeeded"));
    assert!(daemon.terminate().success());
    let logs = daemon.logs();
    let succeeded = logs
        .iter()
        .find(|l| l["fields"]["message"] == "scheduled run" && l["fields"]["outcome"] == "succeeded")
        .expect("a scheduled run succeeded");
    assert!(succeeded["fields"]["attempt"].as_u64().unwrap() >= 2, "it succeeded on a retry: {succeeded}");
    assert!(logs.iter().any(|l| l["fields"]["retryable"] == true && l["fields"]["outcome"] == "failed"));
}

/// A run that fails on its input (a landing file that is not Parquet) is
/// not retried: another attempt cannot mend it. Each tick tries it once.
#[test]
fn a_run_failing_on_its_input_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (root, today, policy) = warehouse(dir.path(), "300");
    let partition = root.join(format!("landing/registry/ingest_date={today}"));
    std::fs::write(partition.join("zz-broken.parquet"), b"not parquet").unwrap();
    let jobs = job(
        dir.path(),
        &root,
        &policy,
        "*/2 * * * * *",
        "retry: { attempts: 5, backoff_seconds: 1, backoff_factor: 1 }\n",
    );
    let mut daemon = Daemon::start(&jobs, dir.path().join("daemon.log"));
    let failed = |d: &Daemon| -> Vec<serde_json::Value> {
        let runs = d.logs().into_iter().filter(|l| l["fields"]["message"] == "scheduled run");
        runs.filter(|l| l["fields"]["outcome"] == "failed").collect()
    };
    wait_until(Duration::from_secs(60), || failed(&daemon).len() >= 2);
    assert!(daemon.terminate().success());
    for f in failed(&daemon) {
        assert_eq!((&f["fields"]["retryable"], &f["fields"]["attempt"]), (&false.into(), &1.into()), "{f}");
        assert!(f["fields"]["error"].as_str().unwrap().contains("zz-broken.parquet"), "{f}");
    }
    assert!(!daemon.logs().iter().any(|l| l["fields"]["message"] == "retrying"));
}

#[test]
fn backfill_runs_in_order_and_resumes_without_redoing_dates() {
    let dir = tempfile::tempdir().unwrap();
    let (root, today, policy) = warehouse(dir.path(), "300");
    let r = root.to_str().unwrap();
    let d = |k: i64| today.plus_days(k).to_string();
    let out = ok(&["backfill", "--unsigned", "--warehouse", r, "--policy", &policy, "--from", &d(-3), "--to", &d(-2)]);
    assert!(out.contains(&format!("{}: run 1 succeeded", d(-3))), "{out}");

    // A broken file in the third night stops the backfill there.
    let broken = root.join(format!("landing/violations/ingest_date={}/part-00000.parquet", d(-1)));
    let good = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, b"not parquet").unwrap();
    let o =
        credence(&["backfill", "--unsigned", "--warehouse", r, "--policy", &policy, "--from", &d(-3), "--to", &d(0)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("the backfill stopped at {}; run the same command again to resume", d(-1))),
        "{}",
        stderr(&o)
    );

    std::fs::write(&broken, good).unwrap();
    let out = ok(&["backfill", "--unsigned", "--warehouse", r, "--policy", &policy, "--from", &d(-3), "--to", &d(0)]);
    assert!(
        out.contains(&format!("{}: already done", d(-3))) && out.contains(&format!("{}: already done", d(-2))),
        "{out}"
    );
    assert!(out.contains(&format!("{}: run", d(-1))) && out.contains(&format!("{}: run", d(0))), "{out}");
    let ok_dates: Vec<String> = runs(&root).into_iter().filter(|r| r.4 == "succeeded").map(|r| r.0).collect();
    assert_eq!(ok_dates, [d(-3), d(-2), d(-1), d(0)], "each date ran once, in order");
}
