//! The scheduler daemon (`credence schedule`): runs each job at its times
//! on tokio-cron-scheduler's ticks, with what the crate does not give and
//! operators need, kept here:
//!
//! - **No overlapping runs.** Ticks go into a one-slot queue per job, read
//!   by one worker: a tick that arrives while a run is under way waits (one
//!   at most; later ones are dropped and logged). Across processes, every
//!   run takes the warehouse lock (`lock`), and a refused run is retried.
//! - **Catch-up.** At start and at each tick, the as-of dates since the
//!   last successful run up to the current one are due, the newest
//!   `catch_up.max_nights` of them, oldest first.
//! - **Retries** of failures marked retryable, with exponential backoff.
//! - **A graceful stop** on SIGTERM or SIGINT: no new run starts, a run
//!   under way may finish within `stop_timeout_seconds`, else it is
//!   abandoned (its outputs are staged, so nothing partial is visible).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::base::engine::EngineLimits;
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::store::Store;
use crate::config::job::JobSpec;
use crate::run::metrics::Metrics;
use crate::run::{self, RunOptions, RunSettings};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("job {job}: {source}")]
    Job { job: String, source: run::SettingsError },
    #[error("job {job}: its schedule: {source}")]
    Schedule { job: String, source: tokio_cron_scheduler::JobSchedulerError },
    #[error("scheduler: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error("metrics listener {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

impl Classify for ScheduleError {
    fn kind(&self) -> ErrorKind {
        match self {
            ScheduleError::Job { source, .. } => source.kind(),
            ScheduleError::Schedule { .. } => ErrorKind::Input,
            ScheduleError::Scheduler(_) => ErrorKind::Bug,
            ScheduleError::Listen { source, .. } => Classify::kind(source),
        }
    }
}

/// Where the daemon reads the time: the system clock, or a clock that
/// starts at a given instant and runs at real speed (for tests and drills,
/// so that what is due never depends on the day the daemon happens to run).
/// Ticks still come from the system clock; their as-of dates, catch-up and
/// logs use this one.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    offset: chrono::Duration,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { offset: chrono::Duration::zero() }
    }

    /// A clock that reads `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> Clock {
        Clock { offset: start - Utc::now() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// A job ready to run: its spec and the run options every run starts from.
pub struct Prepared {
    pub spec: JobSpec,
    pub template: RunOptions,
}

/// Loads a job's policy, partners and signing key (from the environment).
pub fn prepare(spec: JobSpec) -> Result<Prepared, ScheduleError> {
    let mut limits = EngineLimits { memory_limit: spec.memory_limit, ..EngineLimits::default() };
    if let Some(t) = spec.threads {
        limits.threads = t;
    }
    let settings = RunSettings {
        warehouse: spec.warehouse.clone(),
        policy: spec.policy.clone(),
        partners: spec.partners.clone(),
        signing_key: None,
        unsigned: spec.unsigned,
        limits,
        engine: spec.engine.clone(),
        engine_scratch: spec.engine_scratch.clone(),
        max_reject_share: spec.max_reject_share,
        validation_plans: spec.validation_plans,
        plans_make_tables: spec.plans_make_tables,
        trigger: format!("schedule:{}", spec.name),
    };
    let template = settings
        .lower(AsOf::new(Utc::now().date_naive()))
        .map_err(|source| ScheduleError::Job { job: spec.name.clone(), source })?;
    Ok(Prepared { spec, template })
}

fn cron(spec: &JobSpec) -> croner::Cron {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(&spec.schedule)
        .expect("checked when the job was loaded")
}

/// The as-of date of a tick at `at`: its local date minus the lag.
pub fn as_of_of_tick(spec: &JobSpec, at: DateTime<Utc>) -> AsOf {
    AsOf::new(at.with_timezone(&spec.time_zone).date_naive()).plus_days(-spec.as_of_lag_days)
}

/// The as-of date of the newest tick at or before `now`, if the schedule has one.
pub fn latest_tick_as_of(spec: &JobSpec, now: DateTime<Utc>) -> Option<AsOf> {
    let local = now.with_timezone(&spec.time_zone);
    let prev = cron(spec).find_previous_occurrence(&local, true).ok()?;
    Some(as_of_of_tick(spec, prev.with_timezone(&Utc)))
}

/// The dates due at `current`: every as-of date after the last success up
/// to `current`, the newest `max_nights` of them, oldest first. Without a
/// successful run yet, only `current`. The second value lists missed
/// dates left for a backfill.
pub fn due_dates(last_success: Option<AsOf>, current: AsOf, max_nights: u32) -> (Vec<AsOf>, Vec<AsOf>) {
    let Some(last) = last_success else { return (vec![current], vec![]) };
    if last >= current {
        return (vec![current], vec![]);
    }
    let missed: Vec<AsOf> = (1..).map(|k| last.plus_days(k)).take_while(|d| *d <= current).collect();
    let keep = (max_nights.max(1) as usize).min(missed.len());
    let (skipped, due) = missed.split_at(missed.len() - keep);
    (due.to_vec(), skipped.to_vec())
}

/// Runs the jobs until SIGTERM or SIGINT; serves metrics on `metrics_listen`.
pub async fn run_daemon(
    jobs: Vec<Prepared>,
    metrics_listen: Option<String>,
    clock: Clock,
    stop_signal: impl std::future::Future<Output = ()>,
) -> Result<(), ScheduleError> {
    let metrics = Arc::new(Metrics::new());
    let (stop_tx, stop_rx) = watch::channel(false);

    if let Some(addr) = metrics_listen {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| ScheduleError::Listen { addr: addr.clone(), source })?;
        let bound = listener.local_addr().map_err(|source| ScheduleError::Listen { addr: addr.clone(), source })?;
        info!(%bound, "metrics listening on /metrics");
        println!("metrics on http://{bound}/metrics");
        let m = metrics.clone();
        let app = axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(move || {
                    let m = m.clone();
                    async move {
                        ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], m.encode())
                    }
                }),
            )
            .route("/healthz", axum::routing::get(|| async { "ok\n" }));
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
    }

    let mut scheduler = tokio_cron_scheduler::JobScheduler::new().await?;
    let mut workers = Vec::new();
    let mut stop_timeout = Duration::ZERO;
    for job in jobs {
        stop_timeout = stop_timeout.max(Duration::from_secs(job.spec.stop_timeout_seconds));
        // One slot: a tick waits while a run is under way; later ones are dropped.
        let (tx, rx) = mpsc::channel::<DateTime<Utc>>(1);
        let name = job.spec.name.clone();
        let cron_job = tokio_cron_scheduler::Job::new_async_tz(job.spec.schedule.as_str(), job.spec.time_zone, move |_, _| {
            let tx = tx.clone();
            let name = name.clone();
            Box::pin(async move {
                let at = clock.now();
                info!(job = %name, tick = %stamp(at), "tick");
                if tx.try_send(at).is_err() {
                    warn!(job = %name, "tick skipped: a run of the job is under way and another tick is already waiting");
                }
            })
        })
        .map_err(|source| ScheduleError::Schedule { job: job.spec.name.clone(), source })?;
        scheduler.add(cron_job).await?;
        info!(job = %job.spec.name, schedule = %job.spec.schedule, time_zone = %job.spec.time_zone, warehouse = %job.spec.warehouse.display(), "job scheduled");
        workers.push(tokio::spawn(worker(job, rx, stop_rx.clone(), metrics.clone(), clock)));
    }
    scheduler.start().await?;
    info!("scheduler started; stop with SIGTERM or SIGINT");

    stop_signal.await;
    let _ = stop_tx.send(true);
    let _ = scheduler.shutdown().await;
    let all = futures::future::join_all(workers);
    match tokio::time::timeout(stop_timeout, all).await {
        Ok(_) => info!("scheduler stopped: no run under way"),
        Err(_) => warn!(
            timeout_s = stop_timeout.as_secs(),
            "scheduler stopped: abandoned the run under way (nothing it staged is visible)"
        ),
    }
    Ok(())
}

/// Reads a job's ticks and runs what is due, one run at a time.
async fn worker(
    job: Prepared,
    mut ticks: mpsc::Receiver<DateTime<Utc>>,
    mut stop: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    clock: Clock,
) {
    let spec = &job.spec;
    // Catch-up at start: dates whose tick passed while the daemon was down.
    if let Some(current) = latest_tick_as_of(spec, clock.now()) {
        let last = last_success(&job);
        if last.is_some_and(|l| l < current) {
            run_due(&job, last, current, &mut stop, &metrics, clock).await;
        }
    }
    loop {
        let tick = tokio::select! {
            t = ticks.recv() => match t { Some(t) => t, None => break },
            _ = stop.wait_for(|s| *s) => break,
        };
        if *stop.borrow() {
            break;
        }
        let current = as_of_of_tick(spec, tick);
        run_due(&job, last_success(&job), current, &mut stop, &metrics, clock).await;
    }
    info!(job = %spec.name, "job stopped");
}

/// A time as the daemon logs it.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn last_success(job: &Prepared) -> Option<AsOf> {
    let db = job.template.warehouse.database();
    if !db.exists() {
        return None;
    }
    match Store::open(&db).and_then(|s| s.last_success()) {
        Ok(d) => d,
        Err(e) => {
            error!(job = %job.spec.name, error = %e, "cannot read the run ledger");
            None
        }
    }
}

async fn run_due(
    job: &Prepared,
    last: Option<AsOf>,
    current: AsOf,
    stop: &mut watch::Receiver<bool>,
    metrics: &Metrics,
    clock: Clock,
) {
    let spec = &job.spec;
    let (due, skipped) = due_dates(last, current, spec.catch_up_nights);
    if !skipped.is_empty() {
        warn!(
            job = %spec.name,
            from = %skipped[0],
            to = %skipped[skipped.len() - 1],
            "missed as-of dates beyond catch_up.max_nights are not run: use credence backfill --from {} --to {}",
            skipped[0],
            skipped[skipped.len() - 1]
        );
    }
    if due.len() > 1 || due.first() != Some(&current) {
        info!(job = %spec.name, dates = ?due.iter().map(|d| d.to_string()).collect::<Vec<_>>(), "catching up missed as-of dates, oldest first");
    }
    for as_of in due {
        if *stop.borrow() {
            return;
        }
        run_with_retry(job, as_of, stop, metrics, clock).await;
    }
}

/// One scheduled run of `as_of`, retried while it fails retryably.
async fn run_with_retry(
    job: &Prepared,
    as_of: AsOf,
    stop: &mut watch::Receiver<bool>,
    metrics: &Metrics,
    clock: Clock,
) {
    let spec = &job.spec;
    let mut opts = job.template.clone();
    opts.as_of = as_of;
    for attempt in 1..=spec.retry.attempts {
        metrics.started(&spec.name);
        let started = std::time::Instant::now();
        let started_at = stamp(clock.now());
        match run::run(&opts).await {
            Ok(report) => {
                metrics.succeeded(&spec.name, &report);
                info!(
                    job = %spec.name, %as_of, attempt, run_id = report.run_id.0, outcome = "succeeded",
                    started = %started_at, finished = %stamp(clock.now()),
                    duration_ms = started.elapsed().as_millis() as u64, "scheduled run"
                );
                return;
            }
            Err(e) => {
                metrics.failed(&spec.name);
                let retry = e.retryable() && attempt < spec.retry.attempts;
                error!(
                    job = %spec.name, %as_of, attempt, outcome = "failed", retryable = e.retryable(),
                    started = %started_at, finished = %stamp(clock.now()),
                    duration_ms = started.elapsed().as_millis() as u64, error = %e, "scheduled run"
                );
                if !retry {
                    return;
                }
                let pause = spec.retry.backoff(attempt + 1);
                metrics.retried(&spec.name);
                warn!(job = %spec.name, %as_of, next_attempt = attempt + 1, backoff_ms = pause.as_millis() as u64, "retrying");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {},
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> AsOf {
        s.parse().unwrap()
    }

    #[test]
    fn catch_up_runs_the_newest_missed_dates_oldest_first() {
        assert_eq!(due_dates(None, d("2026-11-27"), 3), (vec![d("2026-11-27")], vec![]));
        assert_eq!(due_dates(Some(d("2026-11-27")), d("2026-11-27"), 3), (vec![d("2026-11-27")], vec![]));
        assert_eq!(
            due_dates(Some(d("2026-11-25")), d("2026-11-27"), 3),
            (vec![d("2026-11-26"), d("2026-11-27")], vec![])
        );
        let (due, skipped) = due_dates(Some(d("2026-11-20")), d("2026-11-27"), 3);
        assert_eq!(due, [d("2026-11-25"), d("2026-11-26"), d("2026-11-27")]);
        assert_eq!(skipped.first(), Some(&d("2026-11-21")));
        assert_eq!(skipped.len(), 4);
        // max_nights 0: no catch-up, tonight's date alone.
        let (due, skipped) = due_dates(Some(d("2026-11-20")), d("2026-11-27"), 0);
        assert_eq!((due, skipped.len()), (vec![d("2026-11-27")], 6));
    }

    #[test]
    fn a_tick_is_as_of_its_local_date_minus_the_lag() {
        let spec = crate::config::job::parse(
            "j.yaml",
            "job: n\nschedule: \"0 30 2 * * *\"\ntime_zone: Asia/Shanghai\nwarehouse: w\nas_of_lag_days: 1\n",
        )
        .unwrap();
        // 2026-11-27 18:30 UTC is 2026-11-28 02:30 in Shanghai.
        let tick: DateTime<Utc> = "2026-11-27T18:30:00Z".parse().unwrap();
        assert_eq!(as_of_of_tick(&spec, tick), d("2026-11-27"));
        // At 01:00 Shanghai on the 28th, the newest tick was 02:30 on the 27th: as of the 26th.
        let early: DateTime<Utc> = "2026-11-27T17:00:00Z".parse().unwrap();
        assert_eq!(latest_tick_as_of(&spec, early), Some(d("2026-11-26")));
        let late: DateTime<Utc> = "2026-11-27T19:00:00Z".parse().unwrap();
        assert_eq!(latest_tick_as_of(&spec, late), Some(d("2026-11-27")));
    }

    #[test]
    fn a_job_runs_with_the_engine_settings_its_file_gives() {
        let (scratch, warehouse) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let text = format!(
            "job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: {}\nunsigned: true\nvalidation_plans: true\nengine_scratch: {}\nthreads: 3\nmemory_limit: 2G\n",
            warehouse.path().display(),
            scratch.path().display()
        );
        let job = prepare(crate::config::job::parse("j.yaml", &text).unwrap()).unwrap();
        assert_eq!(job.template.engine_scratch.as_deref(), Some(scratch.path()));
        assert!(job.template.validation_plans);
        assert_eq!((job.template.limits.threads, job.template.limits.memory_limit), (3, 2 << 30));
        assert_eq!(job.template.trigger, "schedule:n");
    }
}
