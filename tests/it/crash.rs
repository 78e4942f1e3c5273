//! Crash safety of publication: the batch is killed with SIGKILL at many
//! instants, and every time LATEST must name a complete publication that
//! verifies; the next run must go on.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::support::{keys, minisign_verifies, ok};

fn review_none_policy(dir: &Path) -> String {
    let text = std::fs::read_to_string(crate::support::repo_root().join("policies/online-market.yaml"))
        .unwrap()
        .replace("review: additions", "review: none");
    let path = dir.join("no-review.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// LATEST, if any, names a complete publication whose every view verifies.
fn assert_latest_verifies(root: &Path, public_key: &str, context: &str) -> Option<String> {
    let list = root.join("published/serious-dishonesty");
    let latest = std::fs::read_to_string(list.join("LATEST")).ok()?;
    let dir = list.join(latest.trim());
    ok(&["verify", dir.to_str().unwrap(), "--public-key", public_key]);
    assert!(minisign_verifies(&dir, public_key), "{context}: minisign refuses {}", dir.display());
    for p in std::fs::read_dir(dir.join("partners")).unwrap() {
        let p = p.unwrap().path();
        ok(&["verify", p.to_str().unwrap(), "--public-key", public_key]);
    }
    Some(latest.trim().to_string())
}

#[test]
fn killing_the_batch_at_any_instant_leaves_a_verifiable_latest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("wh");
    let r = root.to_str().unwrap().to_string();
    let policy = review_none_policy(dir.path());
    let (sk, pk) = keys(dir.path());
    ok(&["gen", "--warehouse", &r, "--entities", "1500", "--days", "9", "--seed", "8", "--as-of", "2026-11-27"]);
    let run = |date: &str| {
        Command::new(env!("CARGO_BIN_EXE_credence"))
            .args(["run", "--warehouse", &r, "--as-of", date, "--policy", &policy, "--signing-key", &sk])
            .env("CREDENCE_LOG_FORMAT", "json")
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };

    // How long a whole run takes here, to spread the kills over it.
    let started = Instant::now();
    assert!(run("2026-11-19").wait().unwrap().success());
    let full = started.elapsed();
    let mut previous = assert_latest_verifies(&root, &pk, "first run").expect("a first publication");

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261127);
    let mut kills = 0;
    for day in 20..=27 {
        let date = format!("2026-11-{day}");
        for attempt in 0..3 {
            // Early, anywhere, and late in the run (where publication happens).
            let fraction: f64 = match attempt {
                0 => rng.random_range(0.0..0.5),
                1 => rng.random_range(0.5..0.9),
                _ => rng.random_range(0.85..1.1),
            };
            let mut child = run(&date);
            std::thread::sleep(full.mul_f64(fraction));
            let _ = child.kill();
            let _ = child.wait();
            kills += 1;
            let latest = assert_latest_verifies(&root, &pk, &format!("{date} killed at {fraction:.2}"))
                .expect("LATEST survives");
            assert!(
                latest == previous || latest.starts_with(&date),
                "LATEST is the previous publication or today's: {latest}"
            );
            previous = latest;
        }
        // The next run goes on and finishes.
        assert!(run(&date).wait().unwrap().success(), "the run after a kill succeeds ({date})");
        let latest = assert_latest_verifies(&root, &pk, &date).unwrap();
        assert!(latest.starts_with(&date), "{latest}");
        previous = latest;
    }
    assert_eq!(kills, 24);
    let _ = Duration::ZERO;
}
