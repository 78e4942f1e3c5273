//! The nightly run on a Ballista cluster: a scheduler and two executors,
//! each a `credence cluster` process on 127.0.0.1, run the golden
//! warehouse; its marts, reports and publication are byte for byte those
//! of the local engine (the manifests' creation time aside).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{credence, ok, stderr, stdout};

/// A cluster process, killed when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> Node {
    Node(
        Command::new(env!("CARGO_BIN_EXE_credence"))
            .args(args)
            .env("CREDENCE_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a cluster process"),
    )
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
    assert!(Command::new("cp").arg("-a").arg(&local).arg(&remote).status().unwrap().success());

    let mut scheduler = start(&["cluster", "scheduler", "--bind", "127.0.0.1:0"]);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(scheduler.0.stdout.take().unwrap()), &mut line).unwrap();
    let engine = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(engine.starts_with("ballista://127.0.0.1:"), "{line:?}");
    let executors: Vec<Node> = (0..2)
        .map(|_| {
            let port = free_port_pair();
            let bind = format!("127.0.0.1:{port}");
            let node = start(&[
                "cluster",
                "executor",
                "--scheduler",
                &engine,
                "--bind",
                &bind,
                "--threads",
                "1",
                "--memory-limit",
                "256M",
            ]);
            wait_for(bind.parse().unwrap());
            node
        })
        .collect();

    let run = |wh: &Path, extra: &[&str]| {
        let mut args = vec!["run", "--unsigned", "--warehouse", wh.to_str().unwrap(), "--as-of", "2026-11-27"];
        args.extend_from_slice(extra);
        ok(&args)
    };
    run(&local, &["--threads", "2"]);
    // With validation's plans cross-checking the native checks on the
    // executors: the landing scan travels to them through credence's codecs.
    let out = run(&remote, &["--threads", "2", "--engine", &engine, "--validation-plans"]);
    assert!(out.contains("succeeded"), "{out}");
    assert!(out.contains("validation_plans"), "the plans ran and agreed:\n{out}");
    // The tables written for the executors go with the run.
    let left: Vec<_> = std::fs::read_dir(remote.join(".staging")).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "a finished cluster run leaves nothing staged: {left:?}");

    let mut files = Vec::new();
    for part in ["marts", "published", "reports"] {
        walk(&local, &local.join(part), &mut files);
    }
    files.sort();
    assert!(files.iter().any(|f| f.starts_with("marts/scores/")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("published/") && f.ends_with("manifest.json")), "{files:?}");
    let mut cluster_files = Vec::new();
    for part in ["marts", "published", "reports"] {
        walk(&remote, &remote.join(part), &mut cluster_files);
    }
    cluster_files.sort();
    assert_eq!(files, cluster_files, "the same files");
    for f in &files {
        let (a, b) = (std::fs::read(local.join(f)).unwrap(), std::fs::read(remote.join(f)).unwrap());
        if f.ends_with("manifest.json") {
            assert_eq!(without_created_at(&a), without_created_at(&b), "{f}");
        } else {
            assert!(a == b, "{f} differs between the local and the cluster engine");
        }
    }
    // The run went through the executors: with them gone, the cluster run fails and says where.
    drop(executors);
    drop(scheduler);
    let o = credence(
        &["run", "--unsigned", "--warehouse", remote.to_str().unwrap(), "--as-of", "2026-11-27"]
            .into_iter()
            .chain(["--engine", engine.as_str()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(3), "a scheduler that is down is worth retrying:\n{}", stderr(&o));
    assert!(stderr(&o).contains("is unreachable"), "{}{}", stdout(&o), stderr(&o));
}
