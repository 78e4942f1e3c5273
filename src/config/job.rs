//! Job definitions (`jobs/*.yaml`): when a batch runs, on which warehouse,
//! with which policy, how it retries and how far it catches up after
//! downtime. Every problem of a file is reported at once, with the file and
//! the key. Relative paths are relative to the daemon's working folder.

use std::path::{Path, PathBuf};

use crate::base::diagnostics::{describe, number_text, Problem, Problems, Walker};
use crate::base::engine::EngineKind;
use crate::base::printable::printable;
use serde_yaml::{Mapping, Value};

/// A checked job.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub name: String,
    pub file: String,
    /// Six fields, seconds first.
    pub schedule: String,
    pub time_zone: chrono_tz::Tz,
    pub warehouse: PathBuf,
    pub policy: Option<PathBuf>,
    pub partners: Option<PathBuf>,
    /// A tick on local date T runs as of T minus this many days.
    pub as_of_lag_days: i64,
    pub max_reject_share: f64,
    pub memory_limit: usize,
    pub threads: Option<usize>,
    /// Where the queries run (`local` or `ballista://HOST:PORT`).
    pub engine: EngineKind,
    /// Where the engine writes the tables its plans scan (`None`: the
    /// warehouse's `.staging/`).
    pub engine_scratch: Option<PathBuf>,
    pub unsigned: bool,
    /// Validation's DataFusion plans cross-check each run's verdicts.
    pub validation_plans: bool,
    /// Every dataset is judged by its plans on the job's engine, which
    /// make the violations', repairs', complaints' and holdings' tables.
    pub plans_make_tables: bool,
    pub retry: Retry,
    /// Missed as-of dates run after downtime, at most this many (the newest).
    pub catch_up_nights: u32,
    /// How long a stop waits for a run under way before abandoning it.
    pub stop_timeout_seconds: u64,
}

/// Retries of failures marked retryable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub backoff_seconds: f64,
    pub backoff_factor: f64,
    pub max_backoff_seconds: f64,
}

impl Retry {
    /// The pause before try `n` (2, 3, ...).
    pub fn backoff(&self, n: u32) -> std::time::Duration {
        let secs = self.backoff_seconds * self.backoff_factor.powi(n.saturating_sub(2) as i32);
        std::time::Duration::from_secs_f64(secs.min(self.max_backoff_seconds).max(0.0))
    }
}

/// Every problem of the job files.
pub type JobErrors = Problems;

const WHAT: &str = "job files";

fn folder_problem(dir: &Path, message: String) -> Problem {
    Problem { file: dir.display().to_string(), at: String::new(), message }
}

/// Loads every `*.yaml` of `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<JobSpec>, JobErrors> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| JobErrors { what: WHAT.into(), problems: vec![folder_problem(dir, e.to_string())] })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => match parse(&f.display().to_string(), &text) {
                Ok(j) => jobs.push(j),
                Err(e) => problems.extend(e.problems),
            },
            Err(e) => problems.push(folder_problem(&f, e.to_string())),
        }
    }
    if jobs.is_empty() && problems.is_empty() {
        problems.push(folder_problem(dir, "no job files (*.yaml)".into()));
    }
    let mut names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        problems.push(folder_problem(dir, format!("job name '{}' is used twice", w[0])));
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(JobErrors { what: WHAT.into(), problems })
    }
}

const KEYS: &[&str] = &[
    "job",
    "schedule",
    "time_zone",
    "warehouse",
    "policy",
    "partners",
    "as_of_lag_days",
    "max_reject_share",
    "memory_limit",
    "threads",
    "engine",
    "engine_scratch",
    "unsigned",
    "validation_plans",
    "plans_make_tables",
    "retry",
    "catch_up",
    "stop_timeout_seconds",
];

/// A number within a range, or `default` when absent.
fn number(
    w: &mut Walker,
    map: &Mapping,
    key: &str,
    at: &str,
    default: f64,
    ok: impl Fn(f64) -> bool,
    rule: &str,
) -> f64 {
    match w.number(map, key, at, false) {
        None => default,
        Some(v) if ok(v) => v,
        Some(v) => {
            w.problem(at, format!("'{key}' must be {rule}, found {}", number_text(v)));
            default
        }
    }
}

/// An integer within a range, or `default` when absent.
fn integer(
    w: &mut Walker,
    map: &Mapping,
    key: &str,
    at: &str,
    default: i64,
    ok: impl Fn(i64) -> bool,
    rule: &str,
) -> i64 {
    match w.integer(map, key, at, false) {
        None => default,
        Some(v) if ok(v) => v,
        Some(v) => {
            w.problem(at, format!("'{key}' must be {rule}, found {v}"));
            default
        }
    }
}

/// Checks one job file's text.
pub fn parse(file: &str, text: &str) -> Result<JobSpec, JobErrors> {
    let mut c = Walker::new(file);
    let Some(root) = c.root(text, "a job file") else { return c.finish(WHAT, None) };
    c.known_fields(&root, "", KEYS);
    let name = c.string(&root, "job", "", true);
    if let Some(n) = &name {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            c.problem("job", format!("'{n}' must match [a-z0-9-]+"));
        }
    }
    let (schedule, time_zone) = schedule(&mut c, &root);
    let warehouse = c.string(&root, "warehouse", "", true);
    let policy = existing_file(&mut c, &root, "policy");
    let partners = existing_file(&mut c, &root, "partners");
    let lag = integer(&mut c, &root, "as_of_lag_days", "", 1, |v| (0..=30).contains(&v), "an integer from 0 to 30");
    let share =
        number(&mut c, &root, "max_reject_share", "", 0.05, |v| (0.0..=1.0).contains(&v), "a number from 0 to 1");
    let (memory, threads, engine, engine_scratch) = engine_settings(&mut c, &root);
    let unsigned = c.boolean(&root, "unsigned", "", false).unwrap_or(false);
    let validation_plans = c.boolean(&root, "validation_plans", "", false).unwrap_or(false);
    let plans_make_tables = c.boolean(&root, "plans_make_tables", "", false).unwrap_or(false);
    let retry = retry(&mut c, &root);
    let mut catch_up = 3;
    if let Some(cu) = c.section(&root, "catch_up") {
        c.known_fields(cu, "catch_up", &["max_nights"]);
        catch_up =
            integer(&mut c, cu, "max_nights", "catch_up", 3, |v| (0..=366).contains(&v), "an integer from 0 to 366")
                as u32;
    }
    let stop = integer(&mut c, &root, "stop_timeout_seconds", "", 600, |v| (0..=86_400).contains(&v), "from 0 to 86400")
        as u64;
    if !c.is_clean() {
        return c.finish(WHAT, None);
    }
    Ok(JobSpec {
        name: name.expect("checked"),
        file: file.to_string(),
        schedule: schedule.expect("checked"),
        time_zone: time_zone.expect("checked"),
        warehouse: PathBuf::from(warehouse.expect("checked")),
        policy,
        partners,
        as_of_lag_days: lag,
        max_reject_share: share,
        memory_limit: memory.expect("checked"),
        threads,
        engine,
        engine_scratch,
        unsigned,
        validation_plans,
        plans_make_tables,
        retry,
        catch_up_nights: catch_up,
        stop_timeout_seconds: stop,
    })
}

/// The job's cron schedule (six fields, seconds first) and its time zone
/// (an IANA name, Asia/Shanghai by default), each checked.
fn schedule(c: &mut Walker, root: &Mapping) -> (Option<String>, Option<chrono_tz::Tz>) {
    let schedule = c.string(root, "schedule", "", true);
    let tz_name = c.string(root, "time_zone", "", false).unwrap_or_else(|| "Asia/Shanghai".into());
    let time_zone: Option<chrono_tz::Tz> = match tz_name.parse() {
        Ok(tz) => Some(tz),
        Err(_) => {
            c.problem("time_zone", format!("'{tz_name}' is not an IANA time zone such as Asia/Shanghai"));
            None
        }
    };
    if let (Some(s), Some(tz)) = (&schedule, time_zone) {
        let fields = s.split_whitespace().count();
        if fields != 6 {
            c.problem(
                "schedule",
                format!(
                    "'{s}' has {fields} fields; six are expected: seconds minutes hours day-of-month month day-of-week"
                ),
            );
        } else if let Err(e) = tokio_cron_scheduler::Job::new_async_tz(s.as_str(), tz, |_, _| Box::pin(async {})) {
            c.problem("schedule", format!("'{s}' is not a valid cron expression: {e}"));
        }
    }
    (schedule, time_zone)
}

/// An optional file the job names at `key`, which must exist.
fn existing_file(c: &mut Walker, root: &Mapping, key: &str) -> Option<PathBuf> {
    let path = c.string(root, key, "", false).map(PathBuf::from);
    if let Some(p) = &path {
        if !p.exists() {
            c.problem(key, format!("{} does not exist", p.display()));
        }
    }
    path
}

/// The engine's memory limit (4G by default), threads, kind (local or a
/// Ballista cluster) and scratch folder, each checked.
fn engine_settings(c: &mut Walker, root: &Mapping) -> (Option<usize>, Option<usize>, EngineKind, Option<PathBuf>) {
    let memory = match root.get("memory_limit") {
        None | Some(Value::Null) => Some(4usize << 30),
        Some(Value::String(s)) => match parse_size(s) {
            Some(v) => Some(v),
            None => {
                c.problem("memory_limit", format!("'{}' is not {SIZE_RULE}", printable(s, 60)));
                None
            }
        },
        Some(Value::Number(n)) => match n.as_u64().and_then(|v| size_in_bounds(v as f64)) {
            Some(v) => Some(v),
            None => {
                c.problem("memory_limit", format!("{n} is not {SIZE_RULE}"));
                None
            }
        },
        Some(other) => {
            c.problem("memory_limit", format!("must be {SIZE_RULE}, found {}", describe(other)));
            None
        }
    };
    let threads = match root.get("threads") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| (1..=256).contains(&v)) => n.as_u64().map(|v| v as usize),
        Some(_) => {
            c.problem("threads", "must be an integer from 1 to 256");
            None
        }
    };
    let engine = match root.get("engine") {
        None | Some(Value::Null) => EngineKind::Local,
        Some(Value::String(s)) => s.parse().unwrap_or_else(|e: String| {
            c.problem("engine", e);
            EngineKind::Local
        }),
        Some(_) => {
            c.problem("engine", "must be `local` or `ballista://HOST:PORT`");
            EngineKind::Local
        }
    };
    let engine_scratch = c.string(root, "engine_scratch", "", false).map(PathBuf::from);
    if let Some(p) = &engine_scratch {
        if p.as_os_str().is_empty() || (p.exists() && !p.is_dir()) {
            c.problem("engine_scratch", format!("must be a folder, found '{}'", p.display()));
        }
    }
    (memory, threads, engine, engine_scratch)
}

/// The `retry` section: attempts and backoff, each within its range.
fn retry(c: &mut Walker, root: &Mapping) -> Retry {
    let mut retry = Retry { attempts: 3, backoff_seconds: 60.0, backoff_factor: 2.0, max_backoff_seconds: 900.0 };
    if let Some(r) = c.section(root, "retry") {
        c.known_fields(r, "retry", &["attempts", "backoff_seconds", "backoff_factor", "max_backoff_seconds"]);
        retry.attempts =
            integer(c, r, "attempts", "retry", 3, |v| (1..=100).contains(&v), "an integer from 1 to 100") as u32;
        retry.backoff_seconds =
            number(c, r, "backoff_seconds", "retry", 60.0, |v| (0.0..=86_400.0).contains(&v), "from 0 to 86400");
        retry.backoff_factor =
            number(c, r, "backoff_factor", "retry", 2.0, |v| (1.0..=10.0).contains(&v), "from 1 to 10");
        retry.max_backoff_seconds =
            number(c, r, "max_backoff_seconds", "retry", 900.0, |v| (0.0..=86_400.0).contains(&v), "from 0 to 86400");
    }
    retry
}

/// Parses `4G`, `512M`, `1.5GiB` or a number of bytes.
pub fn parse_size(s: &str) -> Option<usize> {
    let t = s.trim().to_ascii_uppercase();
    let t = t.trim_end_matches("IB").trim_end_matches('B');
    let (num, mult) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    size_in_bounds(n * mult as f64)
}

/// What a memory limit may be, for messages.
pub const SIZE_RULE: &str = "a size from 1M to 1024T such as 4G, 512M or 1048576";

/// `bytes` as a memory limit, if it is one: a finite number from 1 MiB
/// (below, no plan runs) to 1024 TiB (above, no machine has it).
fn size_in_bounds(bytes: f64) -> Option<usize> {
    (bytes.is_finite() && (1u64 << 20) as f64 <= bytes && bytes <= (1u64 << 50) as f64).then_some(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nightly_job_file_is_valid() {
        let root = crate::repo_root();
        let text = std::fs::read_to_string(root.join("jobs/nightly.yaml")).unwrap();
        let j =
            parse("jobs/nightly.yaml", &text.replace("policies/", &format!("{}/policies/", root.display()))).unwrap();
        assert_eq!(j.name, "nightly");
        assert_eq!(j.time_zone, chrono_tz::Asia::Shanghai);
        assert_eq!(j.retry.backoff(2).as_secs(), 60);
        assert_eq!(j.retry.backoff(3).as_secs(), 120);
        assert_eq!(j.retry.backoff(10).as_secs(), 900, "capped");
        assert!(!j.validation_plans);
        let checked =
            parse("j.yaml", "job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: w\nvalidation_plans: true\n").unwrap();
        assert!(checked.validation_plans, "a job may cross-check validation with its plans");
        assert!(!checked.plans_make_tables);
        let by_plans =
            parse("j.yaml", "job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: w\nplans_make_tables: true\n").unwrap();
        assert!(by_plans.plans_make_tables, "a job may validate its events by their plans");
        let e =
            parse("j.yaml", "job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: w\nvalidation_plans: often\n").unwrap_err();
        assert!(e.problems[0].to_string().starts_with("j.yaml: 'validation_plans' must be"), "{:?}", e.problems);
    }

    #[test]
    fn every_problem_is_reported_with_file_and_key() {
        let text = "job: Nightly Job\nschedule: \"0 30 2 * *\"\ntime_zone: Mars/Olympus\ncolour: red\nmax_reject_share: 2\nretry: { attempts: 0, jitter: 1 }\ncatch_up: { max_nights: -1 }\nmemory_limit: lots\n";
        let e = parse("j.yaml", text).unwrap_err();
        // The wording of the walker every configuration file shares (base::diagnostics).
        let expected = [
            "j.yaml: unknown field 'colour'",
            "j.yaml: job: 'Nightly Job' must match [a-z0-9-]+",
            "j.yaml: time_zone: 'Mars/Olympus' is not an IANA time zone",
            "j.yaml: 'warehouse' is required",
            "j.yaml: 'max_reject_share' must be a number from 0 to 1, found 2",
            "j.yaml: memory_limit: 'lots' is not a size",
            "j.yaml: retry: unknown field 'jitter'",
            "j.yaml: retry: 'attempts' must be an integer from 1 to 100, found 0",
            "j.yaml: catch_up: 'max_nights' must be an integer from 0 to 366, found -1",
        ];
        let shown: Vec<String> = e.problems.iter().map(|p| p.to_string()).collect();
        for x in expected {
            assert!(shown.iter().any(|p| p.starts_with(x)), "missing {x} in {shown:#?}");
        }
        assert_eq!(e.problems.len(), expected.len(), "{:#?}", e.problems);
        let e = parse("j.yaml", "job: n\nschedule: \"0 30 2 * *\"\nwarehouse: w\n").unwrap_err();
        assert!(e.problems[0].message.contains("has 5 fields; six are expected"), "{:?}", e.problems);
        let e = parse("j.yaml", "job: n\nschedule: \"0 75 2 * * *\"\nwarehouse: w\n").unwrap_err();
        assert!(e.problems[0].message.contains("is not a valid cron expression"), "{:?}", e.problems);
    }

    /// A memory limit the engine cannot run under (0, a few bytes) or no
    /// machine has (`inf`, 1e30G) is refused, written as text or a number.
    #[test]
    fn a_memory_limit_is_from_one_mebibyte_to_1024_tebibytes() {
        let job = |limit: &str| {
            parse("j.yaml", &format!("job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: w\nmemory_limit: {limit}\n"))
        };
        assert_eq!(job("1M").unwrap().memory_limit, 1 << 20);
        assert_eq!(job("1.5GiB").unwrap().memory_limit, 3 << 29);
        assert_eq!(job("1024T").unwrap().memory_limit, 1 << 50);
        assert_eq!(job("4294967296").unwrap().memory_limit, 1 << 32);
        for (limit, found) in [
            ("0", "0"),
            ("1K", "'1K'"),
            ("inf", "'inf'"),
            ("1e30G", "'1e30G'"),
            ("'.nan'", "'.nan'"),
            ("2048T", "'2048T'"),
        ] {
            let e = job(limit).unwrap_err();
            assert_eq!(
                e.problems[0].to_string(),
                format!("j.yaml: memory_limit: {found} is not a size from 1M to 1024T such as 4G, 512M or 1048576"),
            );
        }
        let e = job("[4G]").unwrap_err();
        assert_eq!(e.problems[0].to_string(), format!("j.yaml: memory_limit: must be {SIZE_RULE}, found a list"));
    }

    #[test]
    fn a_job_may_put_its_engine_scratch_outside_the_warehouse() {
        let job = |extra: &str| parse("j.yaml", &format!("job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: w\n{extra}"));
        assert_eq!(job("").unwrap().engine_scratch, None, "the warehouse's .staging/ by default");
        let dir = tempfile::tempdir().unwrap();
        let set = job(&format!("engine_scratch: {}\n", dir.path().display())).unwrap();
        assert_eq!(set.engine_scratch.as_deref(), Some(dir.path()));
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        for bad in [format!("engine_scratch: {}\n", file.display()), "engine_scratch: \"\"\n".into()] {
            let e = job(&bad).unwrap_err();
            assert!(
                e.problems[0].to_string().starts_with("j.yaml: engine_scratch: must be a folder, found"),
                "{bad}: {:?}",
                e.problems
            );
        }
        let e = job("engine_scratch: 3\n").unwrap_err();
        assert!(e.problems[0].to_string().contains("'engine_scratch' must be a string"), "{:?}", e.problems);
    }

    #[test]
    fn a_job_runs_on_the_engine_it_names() {
        let job =
            |engine: &str| parse("j.yaml", &format!("job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: w\n{engine}"));
        assert_eq!(job("").unwrap().engine, EngineKind::Local);
        let cluster = job("engine: ballista://scheduler.internal:50050\n").unwrap().engine;
        assert_eq!(cluster.to_string(), "ballista://scheduler.internal:50050");
        let e = job("engine: spark://x:1\n").unwrap_err();
        assert!(
            e.problems[0].to_string().starts_with("j.yaml: engine: engine \"spark://x:1\": expected"),
            "{:?}",
            e.problems
        );
        let e = job("engine: [local]\n").unwrap_err();
        assert_eq!(e.problems[0].to_string(), "j.yaml: engine: must be `local` or `ballista://HOST:PORT`");
    }

    #[test]
    fn threads_are_from_1_to_256() {
        let job =
            |t: &str| parse("j.yaml", &format!("job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: w\nthreads: {t}\n"));
        assert_eq!((job("1").unwrap().threads, job("256").unwrap().threads), (Some(1), Some(256)));
        for t in ["0", "257", "-1", "2.5", "two"] {
            let e = job(t).unwrap_err();
            assert_eq!(e.problems[0].to_string(), "j.yaml: threads: must be an integer from 1 to 256", "{t}");
        }
    }

    /// A jobs folder: every file's problems at once, a job name used by two
    /// files, and a folder without job files are refused.
    #[test]
    fn a_jobs_folder_names_each_file_and_each_name_once() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_dir(dir.path()).unwrap_err();
        assert_eq!(e.problems[0].message, "no job files (*.yaml)");
        let job = "job: n\nschedule: \"0 30 2 * * *\"\nwarehouse: w\n";
        std::fs::write(dir.path().join("a.yaml"), job).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a job").unwrap();
        assert_eq!(load_dir(dir.path()).unwrap().len(), 1, "only *.yaml and *.yml are job files");
        std::fs::write(dir.path().join("b.yml"), job).unwrap();
        let e = load_dir(dir.path()).unwrap_err();
        assert_eq!(e.problems.len(), 1, "{:?}", e.problems);
        assert_eq!(e.problems[0].message, "job name 'n' is used twice");
        std::fs::write(dir.path().join("b.yml"), "job: m\n").unwrap();
        std::fs::write(dir.path().join("c.yaml"), "job: Bad\nschedule: \"0 30 2 * * *\"\nwarehouse: w\n").unwrap();
        let shown: Vec<String> = load_dir(dir.path()).unwrap_err().problems.iter().map(|p| p.to_string()).collect();
        assert!(shown.iter().any(|p| p.ends_with("b.yml: 'schedule' is required")), "{shown:#?}");
        assert!(shown.iter().any(|p| p.contains("c.yaml: job: 'Bad' must match")), "{shown:#?}");
    }
}
