//! Running the binary and reading its outputs.

use std::path::Path;
use std::process::{Command, Output};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;

/// Runs `credence` with `args`; logs warnings as JSON on stderr.
pub fn credence(args: &[&str]) -> Output {
    credence_logging(args, "warn")
}

/// Runs `credence` with `args`; logs what `rust_log` lets through as JSON
/// on stderr.
pub fn credence_logging(args: &[&str], rust_log: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(args)
        .env("CREDENCE_LOG_FORMAT", "json")
        .env("RUST_LOG", rust_log)
        .output()
        .expect("run credence")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(args: &[&str]) -> String {
    let o = credence(args);
    assert!(o.status.success(), "credence {args:?} failed:\n{}\n{}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// The scores mart of `dir` as text, one entity per line:
/// `entity_id score band_grade grade rule:points:record,record | ...`.
pub fn scores_text(path: &Path) -> String {
    let mut out = String::new();
    for b in credence::base::parquet_io::read_parquet(path).unwrap() {
        let ids = b.column(0).as_string::<i32>();
        let score = b.column(1).as_primitive::<Float64Type>();
        let band = b.column(2).as_string::<i32>();
        let grade = b.column(3).as_string::<i32>();
        let reasons = b.column(4).as_list::<i32>();
        for r in 0..b.num_rows() {
            let rs: Vec<String> = credence::base::marts::scores::read_reasons(reasons, r)
                .iter()
                .map(|x| format!("{}:{:.2}:{}", x.rule_id, x.points, x.records.join(",")))
                .collect();
            out.push_str(&format!(
                "{} {:.2} {} {} {}\n",
                ids.value(r),
                score.value(r),
                band.value(r),
                grade.value(r),
                rs.join(" | ")
            ));
        }
        assert_eq!(reasons.len(), b.num_rows());
    }
    out
}

/// The checkout whose files the tests read: the folder `cargo test` names
/// when it runs them, so that a test binary another checkout built into a
/// shared target folder (CI's cache) still reads this one; the folder it
/// was built in otherwise.
pub fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}

/// Compares `actual` with the golden file, or rewrites it with UPDATE_GOLDEN=1.
pub fn golden(name: &str, actual: &str) {
    let path = repo_root().join("tests/golden").join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1", path.display()));
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .filter(|(e, a)| e != a)
            .take(5)
            .map(|(e, a)| format!("- {e}\n+ {a}"))
            .collect();
        panic!(
            "{} differs ({} vs {} lines); first differences:\n{}\nreview, then rerun with UPDATE_GOLDEN=1",
            path.display(),
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

/// A `credence serve` process on 127.0.0.1 (a free port), stopped with
/// SIGTERM when dropped.
pub struct Server {
    pub child: std::process::Child,
    /// The partner API's base address.
    pub base: String,
    /// The officer pages' base address, when started with `--ui-listen`.
    pub ui: Option<String>,
}

impl Server {
    pub fn start(warehouse: &Path, extra: &[&str]) -> Server {
        use std::io::BufRead;
        let mut args = vec!["serve", "--warehouse", warehouse.to_str().unwrap(), "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_credence"))
            .args(&args)
            .env("CREDENCE_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start credence serve");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut address = || {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            let addr = line
                .split("http://")
                .nth(1)
                .and_then(|s| s.split('/').next())
                .unwrap_or_else(|| panic!("no address in {line:?}"));
            format!("http://{addr}")
        };
        let base = address();
        let ui = extra.contains(&"--ui-listen").then(&mut address);
        Server { child, base, ui }
    }

    /// Sends SIGTERM and waits; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Generates an unencrypted key pair in `dir`; returns (secret, public).
pub fn keys(dir: &Path) -> (String, String) {
    let (sk, pk) = (dir.join("test.key"), dir.join("test.pub"));
    ok(&[
        "keys",
        "generate",
        "--secret-key",
        sk.to_str().unwrap(),
        "--public-key",
        pk.to_str().unwrap(),
        "--unencrypted",
    ]);
    (sk.to_str().unwrap().to_string(), pk.to_str().unwrap().to_string())
}

/// Runs the stock `minisign -V` on `dir/manifest.json`; true when it verifies.
pub fn minisign_verifies(dir: &Path, public_key: &str) -> bool {
    let out = Command::new("minisign")
        .args(["-Vm", dir.join("manifest.json").to_str().unwrap(), "-p", public_key])
        .output()
        .expect("the minisign binary is installed (.ci/run installs it)");
    out.status.success()
}

/// A policy file in `dir`: the example policy with its list's due process
/// set to `notice_days` and `approval` (the example has 10 and two_officers).
pub fn policy_with(dir: &Path, notice_days: u32, approval: &str) -> String {
    let text = credence::config::policy::DEFAULT_POLICY
        .replace("notice_days: 10 ", &format!("notice_days: {notice_days} "))
        .replace("approval: two_officers ", &format!("approval: {approval} "));
    assert!(text.contains(&format!("approval: {approval} ")), "the example policy names its due process");
    let path = dir.join(format!("policy-{notice_days}-{approval}.yaml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The password of every officer the tests register.
pub const PASSWORD: &str = "correct horse battery";

/// Registers officer `id` with `role` in the warehouse at `root`.
pub fn add_officer(root: &str, id: &str, role: &str) {
    let out = officers_add(root, id, role, PASSWORD);
    assert!(out.status.success(), "officers add {id}: {}", stderr(&out));
}

/// `credence officers add` of `id` with `role`, `password` given on its
/// standard input.
pub fn officers_add(root: &str, id: &str, role: &str, password: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["officers", "add", id, "--role", role, "--warehouse", root])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

/// The rows of a Parquet file, each column by name as arrow prints it.
pub fn parquet_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut out = Vec::new();
    for b in credence::base::parquet_io::read_parquet(path).unwrap() {
        for r in 0..b.num_rows() {
            let row = b
                .schema()
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name().clone(), arrow::util::display::array_value_to_string(b.column(i), r).unwrap()))
                .collect();
            out.push(row);
        }
    }
    out
}
