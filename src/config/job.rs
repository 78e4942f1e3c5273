//! Job definitions (`jobs/*.yaml`): when a batch runs, on which warehouse,
//! with which policy, how it retries and how far it catches up after
//! downtime. Every problem of a file is reported at once, with the file and
//! the key. Relative paths are relative to the daemon's working folder.

use std::path::{Path, PathBuf};

use crate::base::error::{Classify, ErrorKind};
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
    pub unsigned: bool,
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

/// Every problem of a job file.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in job files:\n  - {}", problems.len(), problems.join("\n  - "))]
pub struct JobErrors {
    pub problems: Vec<String>,
}

impl Classify for JobErrors {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// Loads every `*.yaml` of `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<JobSpec>, JobErrors> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| JobErrors { problems: vec![format!("{}: {e}", dir.display())] })?
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
            Err(e) => problems.push(format!("{}: {e}", f.display())),
        }
    }
    if jobs.is_empty() && problems.is_empty() {
        problems.push(format!("{}: no job files (*.yaml)", dir.display()));
    }
    let mut names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        problems.push(format!("{}: job name '{}' is used twice", dir.display(), w[0]));
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(JobErrors { problems })
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
    "unsigned",
    "retry",
    "catch_up",
    "stop_timeout_seconds",
];

struct Check<'a> {
    file: &'a str,
    problems: Vec<String>,
}

impl Check<'_> {
    fn bad(&mut self, key: &str, message: impl std::fmt::Display) {
        self.problems.push(format!("{}: {key}: {message}", self.file));
    }

    fn known(&mut self, map: &Mapping, at: &str, allowed: &[&str]) {
        for k in map.keys() {
            let k = k.as_str().unwrap_or("?");
            if !allowed.contains(&k) {
                let key = if at.is_empty() { k.to_string() } else { format!("{at}.{k}") };
                self.bad(&key, format!("unknown key (expected one of: {})", allowed.join(", ")));
            }
        }
    }

    fn string(&mut self, map: &Mapping, key: &str, at: &str, required: bool) -> Option<String> {
        match map.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.bad(&format!("{at}{key}"), "is required");
                }
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.bad(&format!("{at}{key}"), "must be a string");
                None
            }
        }
    }

    fn number(
        &mut self,
        map: &Mapping,
        key: &str,
        at: &str,
        default: f64,
        ok: impl Fn(f64) -> bool,
        rule: &str,
    ) -> f64 {
        match map.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) if n.as_f64().is_some_and(&ok) => n.as_f64().expect("number"),
            Some(_) => {
                self.bad(&format!("{at}{key}"), format!("must be {rule}"));
                default
            }
        }
    }

    fn integer(
        &mut self,
        map: &Mapping,
        key: &str,
        at: &str,
        default: i64,
        ok: impl Fn(i64) -> bool,
        rule: &str,
    ) -> i64 {
        match map.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) if n.as_i64().is_some_and(&ok) => n.as_i64().expect("integer"),
            Some(_) => {
                self.bad(&format!("{at}{key}"), format!("must be {rule}"));
                default
            }
        }
    }

    fn section<'v>(&mut self, map: &'v Mapping, key: &str) -> Option<&'v Mapping> {
        match map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Mapping(m)) => Some(m),
            Some(_) => {
                self.bad(key, "must be a mapping");
                None
            }
        }
    }
}

/// Checks one job file's text.
pub fn parse(file: &str, text: &str) -> Result<JobSpec, JobErrors> {
    let mut c = Check { file, problems: Vec::new() };
    let root = match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => m,
        Ok(_) => return Err(JobErrors { problems: vec![format!("{file}: a job file is a YAML mapping")] }),
        Err(e) => return Err(JobErrors { problems: vec![format!("{file}: not valid YAML: {e}")] }),
    };
    c.known(&root, "", KEYS);
    let name = c.string(&root, "job", "", true);
    if let Some(n) = &name {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            c.bad("job", format!("'{n}' must match [a-z0-9-]+"));
        }
    }
    let schedule = c.string(&root, "schedule", "", true);
    let tz_name = c.string(&root, "time_zone", "", false).unwrap_or_else(|| "Asia/Shanghai".into());
    let time_zone: Option<chrono_tz::Tz> = match tz_name.parse() {
        Ok(tz) => Some(tz),
        Err(_) => {
            c.bad("time_zone", format!("'{tz_name}' is not an IANA time zone such as Asia/Shanghai"));
            None
        }
    };
    if let (Some(s), Some(tz)) = (&schedule, time_zone) {
        let fields = s.split_whitespace().count();
        if fields != 6 {
            c.bad(
                "schedule",
                format!(
                    "'{s}' has {fields} fields; six are expected: seconds minutes hours day-of-month month day-of-week"
                ),
            );
        } else if let Err(e) = tokio_cron_scheduler::Job::new_async_tz(s.as_str(), tz, |_, _| Box::pin(async {})) {
            c.bad("schedule", format!("'{s}' is not a valid cron expression: {e}"));
        }
    }
    let warehouse = c.string(&root, "warehouse", "", true);
    let policy = c.string(&root, "policy", "", false).map(PathBuf::from);
    if let Some(p) = &policy {
        if !p.exists() {
            c.bad("policy", format!("{} does not exist", p.display()));
        }
    }
    let partners = c.string(&root, "partners", "", false).map(PathBuf::from);
    if let Some(p) = &partners {
        if !p.exists() {
            c.bad("partners", format!("{} does not exist", p.display()));
        }
    }
    let lag = c.integer(&root, "as_of_lag_days", "", 1, |v| (0..=30).contains(&v), "an integer from 0 to 30");
    let share = c.number(&root, "max_reject_share", "", 0.05, |v| (0.0..=1.0).contains(&v), "a number from 0 to 1");
    let memory = match root.get("memory_limit") {
        None | Some(Value::Null) => Some(4usize << 30),
        Some(Value::String(s)) => match parse_size(s) {
            Some(v) => Some(v),
            None => {
                c.bad("memory_limit", format!("'{s}' is not a size such as 4G or 512M"));
                None
            }
        },
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().map(|v| v as usize),
        Some(_) => {
            c.bad("memory_limit", "must be a size such as 4G or 512M");
            None
        }
    };
    let threads = match root.get("threads") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| (1..=256).contains(&v)) => n.as_u64().map(|v| v as usize),
        Some(_) => {
            c.bad("threads", "must be an integer from 1 to 256");
            None
        }
    };
    let unsigned = match root.get("unsigned") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            c.bad("unsigned", "must be true or false");
            false
        }
    };
    let mut retry = Retry { attempts: 3, backoff_seconds: 60.0, backoff_factor: 2.0, max_backoff_seconds: 900.0 };
    if let Some(r) = c.section(&root, "retry") {
        c.known(r, "retry", &["attempts", "backoff_seconds", "backoff_factor", "max_backoff_seconds"]);
        retry.attempts =
            c.integer(r, "attempts", "retry.", 3, |v| (1..=100).contains(&v), "an integer from 1 to 100") as u32;
        retry.backoff_seconds = c.number(r, "backoff_seconds", "retry.", 60.0, |v| v >= 0.0, "a number >= 0");
        retry.backoff_factor = c.number(r, "backoff_factor", "retry.", 2.0, |v| v >= 1.0, "a number >= 1");
        retry.max_backoff_seconds = c.number(r, "max_backoff_seconds", "retry.", 900.0, |v| v >= 0.0, "a number >= 0");
    }
    let mut catch_up = 3;
    if let Some(cu) = c.section(&root, "catch_up") {
        c.known(cu, "catch_up", &["max_nights"]);
        catch_up =
            c.integer(cu, "max_nights", "catch_up.", 3, |v| (0..=366).contains(&v), "an integer from 0 to 366") as u32;
    }
    let stop = c.integer(&root, "stop_timeout_seconds", "", 600, |v| v >= 0, "an integer >= 0") as u64;
    if !c.problems.is_empty() {
        return Err(JobErrors { problems: c.problems });
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
        unsigned,
        retry,
        catch_up_nights: catch_up,
        stop_timeout_seconds: stop,
    })
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
    (n > 0.0).then(|| (n * mult as f64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nightly_job_file_is_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("jobs/nightly.yaml")).unwrap();
        let j =
            parse("jobs/nightly.yaml", &text.replace("policies/", &format!("{}/policies/", root.display()))).unwrap();
        assert_eq!(j.name, "nightly");
        assert_eq!(j.time_zone, chrono_tz::Asia::Shanghai);
        assert_eq!(j.retry.backoff(2).as_secs(), 60);
        assert_eq!(j.retry.backoff(3).as_secs(), 120);
        assert_eq!(j.retry.backoff(10).as_secs(), 900, "capped");
    }

    #[test]
    fn every_problem_is_reported_with_file_and_key() {
        let text = "job: Nightly Job\nschedule: \"0 30 2 * *\"\ntime_zone: Mars/Olympus\ncolour: red\nmax_reject_share: 2\nretry: { attempts: 0, jitter: 1 }\ncatch_up: { max_nights: -1 }\nmemory_limit: lots\n";
        let e = parse("j.yaml", text).unwrap_err();
        let expected = [
            "j.yaml: colour: unknown key",
            "j.yaml: job: 'Nightly Job' must match [a-z0-9-]+",
            "j.yaml: time_zone: 'Mars/Olympus' is not an IANA time zone",
            "j.yaml: warehouse: is required",
            "j.yaml: max_reject_share: must be a number from 0 to 1",
            "j.yaml: memory_limit: 'lots' is not a size",
            "j.yaml: retry.jitter: unknown key",
            "j.yaml: retry.attempts: must be an integer from 1 to 100",
            "j.yaml: catch_up.max_nights: must be an integer from 0 to 366",
        ];
        for x in expected {
            assert!(e.problems.iter().any(|p| p.starts_with(x)), "missing {x} in {:#?}", e.problems);
        }
        assert_eq!(e.problems.len(), expected.len(), "{:#?}", e.problems);
        let e = parse("j.yaml", "job: n\nschedule: \"0 30 2 * *\"\nwarehouse: w\n").unwrap_err();
        assert!(e.problems[0].contains("has 5 fields; six are expected"), "{:?}", e.problems);
        let e = parse("j.yaml", "job: n\nschedule: \"0 75 2 * * *\"\nwarehouse: w\n").unwrap_err();
        assert!(e.problems[0].contains("is not a valid cron expression"), "{:?}", e.problems);
    }
}
