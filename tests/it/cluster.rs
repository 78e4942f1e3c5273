//! The nightly run on a Ballista cluster: a scheduler and two executors,
//! each a `credence cluster` process on 127.0.0.1, run the golden
//! warehouse; its marts, reports and publication are byte for byte those
//! of the local engine (the manifests' creation time aside). Every
//! connection is mutual TLS: a driver or an executor without the cluster's
//! certificates, or with another cluster's, is refused, and no port
//! answers in the clear.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{ok, stderr, stdout};

/// A cluster process, killed when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `credence args` as a cluster process; with `read_only`, in a mount
/// namespace of its own where that folder is read-only (as an executor
/// whose systemd unit says `ReadOnlyPaths=` sees it).
fn start_seeing(args: &[&str], certs: &Path, read_only: Option<&Path>) -> Node {
    let mut command = match read_only {
        None => Command::new(env!("CARGO_BIN_EXE_credence")),
        Some(folder) => {
            let mut c = Command::new("unshare");
            let script = r#"mount --bind -o ro "$1" "$1" && shift && exec "$@""#;
            c.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"]);
            c.arg(folder).arg(env!("CARGO_BIN_EXE_credence"));
            c
        }
    };
    Node(
        command
            .args(args)
            .env("CREDENCE_CLUSTER_TLS", certs)
            .env("CREDENCE_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a cluster process"),
    )
}

fn start(args: &[&str], certs: &Path) -> Node {
    start_seeing(args, certs, None)
}

/// Whether this machine lets a process see a folder read-only in a mount
/// namespace of its own (root with CAP_SYS_ADMIN, as in CI).
fn can_confine() -> bool {
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `credence args` with the cluster's certificates in `certs` (none when `None`).
fn with_certs(args: &[&str], certs: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_credence"));
    command.args(args).env("CREDENCE_LOG_FORMAT", "json").env("RUST_LOG", "warn").env_remove("CREDENCE_CLUSTER_TLS");
    if let Some(certs) = certs {
        command.env("CREDENCE_CLUSTER_TLS", certs);
    }
    command.output().expect("run credence")
}

/// Whether `addr` answers an HTTP/2 client in the clear (a server's
/// first frame is its SETTINGS, frame type 4).
fn answers_in_the_clear(addr: SocketAddr) -> bool {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let settings = [0u8, 0, 0, 4, 0, 0, 0, 0, 0];
    let _ = stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").and_then(|()| stream.write_all(&settings));
    let mut reply = [0u8; 9];
    matches!(stream.read_exact(&mut reply), Ok(()) if reply[3] == 4)
}

/// A port `p` with `p + 1` free too (an executor's Flight and gRPC ports).
fn free_port_pair() -> u16 {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

fn wait_for(addr: SocketAddr) {
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "{addr} never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_str().unwrap().to_string());
        }
    }
}

/// A manifest without its creation time (the only field a second run may change).
fn without_created_at(bytes: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    v.as_object_mut().unwrap().remove("created_at").expect("a manifest has created_at");
    v
}

#[test]
fn a_run_on_a_ballista_cluster_writes_what_the_local_engine_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (local, remote) = (dir.path().join("local"), dir.path().join("cluster"));
    ok(&["gen", "--warehouse", local.to_str().unwrap(), "--entities", "600", "--days", "3", "--seed", "11"]
        .into_iter()
        .chain(["--as-of", "2026-11-27", "--bad-rate", "0.01"])
        .collect::<Vec<_>>());
    // The same landing files with the same times (the records' sources name them).
    let refused = dir.path().join("refused");
    let by_plans = dir.path().join("by-plans");
    for copy in [&remote, &refused, &by_plans] {
        assert!(Command::new("cp").arg("-a").arg(&local).arg(copy).status().unwrap().success());
    }

    let (certs, foreign) = (dir.path().join("certs"), dir.path().join("foreign"));
    for folder in [&certs, &foreign] {
        ok(&["cluster", "certs", "--out", folder.to_str().unwrap()]);
    }
    let mut scheduler = start(&["cluster", "scheduler", "--bind", "127.0.0.1:0"], &certs);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(scheduler.0.stdout.take().unwrap()), &mut line).unwrap();
    let engine = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(engine.starts_with("ballista://127.0.0.1:"), "{line:?}");
    // The second executor listens on every address and is reached at the
    // one it advertises. Where the machine allows it, both see the
    // warehouses read-only, as ops/systemd's unit has them.
    let confined = can_confine();
    if !confined {
        eprintln!("unshare -m is not permitted here: the executors see the warehouse writable");
    }
    let executors: Vec<(Node, SocketAddr)> = (0..2)
        .map(|n| {
            let port = free_port_pair();
            let bind = format!("{}:{port}", ["127.0.0.1", "0.0.0.0"][n]);
            let args = ["cluster", "executor", "--scheduler", &engine, "--bind", &bind, "--advertise", "127.0.0.1"];
            let args = [&args[..], &["--threads", "1", "--memory-limit", "256M"]].concat();
            let node = start_seeing(&args, &certs, confined.then_some(dir.path()));
            let reached: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            wait_for(reached);
            (node, reached)
        })
        .collect();

    let run = |wh: &Path, extra: &[&str], certs: Option<&Path>| {
        let mut args = vec!["run", "--unsigned", "--warehouse", wh.to_str().unwrap(), "--as-of", "2026-11-27"];
        args.extend_from_slice(extra);
        with_certs(&args, certs)
    };
    let o = run(&local, &["--threads", "2"], None);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // Without the cluster's certificates, or with another cluster's, a
    // driver is refused before anything runs.
    let o = run(&refused, &["--engine", &engine], None);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("CREDENCE_CLUSTER_TLS"), "{}", stderr(&o));
    // Another cluster's certificates: the driver does not trust the
    // scheduler's; another's key beside this cluster's authority: the
    // scheduler does not trust the driver's.
    let mixed = dir.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::copy(certs.join("ca.pem"), mixed.join("ca.pem")).unwrap();
    for file in ["node.pem", "node.key"] {
        std::fs::copy(foreign.join(file), mixed.join(file)).unwrap();
    }
    for other in [&foreign, &mixed] {
        let o = run(&refused, &["--engine", &engine], Some(other));
        assert_eq!(o.status.code(), Some(1), "{other:?} was let in:\n{}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains("do not trust each other's certificates"), "{}", stderr(&o));
    }
    for out in ["published", "quarantine", "marts/registry"] {
        assert!(!refused.join(out).exists(), "a refused run is refused before validating: {out} was written");
    }
    // An executor must be given an address the others reach it at.
    let o = with_certs(&["cluster", "executor", "--scheduler", &engine, "--bind", "0.0.0.0:50051"], Some(&certs));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--bind 0.0.0.0:50051"), "{}", stderr(&o));
    // An executor with another cluster's certificates stops and says why.
    let bind = format!("127.0.0.1:{}", free_port_pair());
    let o = with_certs(&["cluster", "executor", "--scheduler", &engine, "--bind", &bind], Some(&foreign));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("do not trust each other's certificates"), "{}", stderr(&o));
    // Neither the scheduler nor an executor answers in the clear.
    let scheduler_addr: SocketAddr = engine.trim_start_matches("ballista://").parse().unwrap();
    assert!(!answers_in_the_clear(scheduler_addr), "the scheduler answered in the clear");
    assert!(!answers_in_the_clear(executors[0].1), "an executor answered in the clear");
    // With validation's plans cross-checking the native checks on the
    // executors: the landing scan travels to them through credence's
    // codecs, and the executors write the plans' tables. Into a warehouse
    // they see read-only they cannot: the run fails as a configuration
    // error, naming the file, and publishes nothing.
    // Three partitions on two one-thread executors: the plans' hash joins
    // with more partitions than task slots, as when a run is given more
    // (`--threads`) so that each task builds less.
    let plans = ["--threads", "3", "--engine", &engine, "--validation-plans"];
    if confined {
        let o = run(&refused, &plans, Some(&certs));
        assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
        assert!(stderr(&o).contains(".staging/"), "the file is named: {}", stderr(&o));
        assert!(!refused.join("published").exists() && !refused.join("marts/scores").exists());
    }
    // An engine scratch folder outside the warehouses, which they may write.
    let scratch_dir = tempfile::tempdir().unwrap();
    let scratch = scratch_dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    std::fs::write(scratch.join("kept.txt"), b"another tenant's file").unwrap();
    let o = run(&remote, &[&plans[..], &["--engine-scratch", scratch.to_str().unwrap()]].concat(), Some(&certs));
    let out = stdout(&o);
    assert!(o.status.success() && out.contains("succeeded"), "{out}{}", stderr(&o));
    assert!(out.contains("validation_plans"), "the plans ran and agreed:\n{out}");
    // The tables written for the executors go with the run.
    let left: Vec<_> = std::fs::read_dir(remote.join(".staging")).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "a finished cluster run leaves nothing staged: {left:?}");
    let mut in_scratch = Vec::new();
    walk(&scratch, &scratch, &mut in_scratch);
    assert_eq!(in_scratch, ["kept.txt"], "the run's engine folder goes with it");
    let mine: Vec<_> = std::fs::read_dir(&scratch).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(mine.len(), 2, "the warehouse's own folder, and the operator's file: {mine:?}");
    // Every dataset judged by its plans on the executors, which write
    // the events' tables there (`--plans-make-tables`); the registry's
    // accepted rows are read by the run as the executors judge them.
    let events =
        ["--threads", "3", "--engine", &engine, "--plans-make-tables", "--engine-scratch", scratch.to_str().unwrap()];
    let o = run(&by_plans, &events, Some(&certs));
    assert!(o.status.success() && stdout(&o).contains("succeeded"), "{}{}", stdout(&o), stderr(&o));
    let mut in_scratch = Vec::new();
    walk(&scratch, &scratch, &mut in_scratch);
    assert_eq!(in_scratch, ["kept.txt"], "the plans' tables go with the run");

    let mut files = Vec::new();
    for part in ["marts", "published", "reports"] {
        walk(&local, &local.join(part), &mut files);
    }
    files.sort();
    let mut quarantined = Vec::new();
    walk(&local, &local.join("quarantine"), &mut quarantined);
    assert_eq!(quarantined.len(), 5, "a quarantine per dataset: {quarantined:?}");
    assert!(files.iter().any(|f| f.starts_with("marts/scores/")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("published/") && f.ends_with("manifest.json")), "{files:?}");
    for remote in [&remote, &by_plans] {
        let mut cluster_files = Vec::new();
        for part in ["marts", "published", "reports"] {
            walk(remote, &remote.join(part), &mut cluster_files);
        }
        cluster_files.sort();
        assert_eq!(files, cluster_files, "the same files");
        for f in files.iter().chain(&quarantined) {
            let (a, b) = (std::fs::read(local.join(f)).unwrap(), std::fs::read(remote.join(f)).unwrap());
            if f.ends_with("manifest.json") {
                assert_eq!(without_created_at(&a), without_created_at(&b), "{f}");
            } else {
                assert!(a == b, "{f} differs between the local engine and {}", remote.display());
            }
        }
    }
    // The run went through the executors: with them gone, the cluster run fails and says where.
    drop(executors);
    drop(scheduler);
    let o = run(&remote, &["--engine", &engine], Some(&certs));
    assert_eq!(o.status.code(), Some(3), "a scheduler that is down is worth retrying:\n{}", stderr(&o));
    assert!(stderr(&o).contains("is unreachable"), "{}{}", stdout(&o), stderr(&o));
}
