//! A fixed generated warehouse scored end to end, checked against golden files.

use crate::support::{credence_logging, golden, ok, scores_text, stderr};

#[test]
fn generated_warehouse_scores_match_the_golden_files() {
    let temp = tempfile::tempdir().unwrap();
    // A folder name the engine must not read as a pattern (it once read
    // no rows under such a folder).
    let wh = temp.path().join("wh [1] *?");
    let root = wh.to_str().unwrap();
    ok(&[
        "gen",
        "--warehouse",
        root,
        "--entities",
        "600",
        "--days",
        "3",
        "--seed",
        "11",
        "--as-of",
        "2026-11-27",
        "--bad-rate",
        "0.01",
    ]);
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", "2026-11-27", "--threads", "2"]);
    // The run-scoped files of the validated events are gone with the run.
    let left: Vec<_> = std::fs::read_dir(wh.join(".staging")).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "a finished run leaves nothing staged: {left:?}");
    let scores = wh.join("marts/scores/as_of=2026-11-27/part-0.parquet");
    golden("scores-600-seed11-2026-11-27.txt", &scores_text(&scores));
    let report = std::fs::read_to_string(wh.join("reports/quality/as_of=2026-11-27/quality.json")).unwrap();
    golden("quality-600-seed11-2026-11-27.json", &report);

    // The same run with one thread writes the same bytes.
    let first = std::fs::read(&scores).unwrap();
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", "2026-11-27", "--threads", "1"]);
    assert_eq!(std::fs::read(&scores).unwrap(), first, "thread count must not change the output");

    // Validation's DataFusion plans judge every row as the native checks
    // do: the run with the cross-check passes and writes the same bytes.
    let quarantine = |d: &str| wh.join(format!("quarantine/{d}/as_of=2026-11-27/part-0.parquet"));
    let datasets = ["registry", "holdings", "violations", "complaints", "repairs"];
    let before: Vec<Vec<u8>> = datasets.iter().map(|d| std::fs::read(quarantine(d)).unwrap()).collect();
    let run = credence_logging(
        &["run", "--unsigned", "--warehouse", root, "--as-of", "2026-11-27", "--validation-plans"],
        "credence=info",
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("validation's plans agree with the native checks"), "{}", stderr(&run));
    let summary = String::from_utf8_lossy(&run.stdout);
    assert!(summary.contains("validation_plans"), "the cross-check is a step of the run's summary:\n{summary}");
    for (d, bytes) in datasets.iter().zip(&before) {
        assert_eq!(&std::fs::read(quarantine(d)).unwrap(), bytes, "{d}: the quarantine");
    }
    let report = std::fs::read_to_string(wh.join("reports/quality/as_of=2026-11-27/quality.json")).unwrap();
    golden("quality-600-seed11-2026-11-27.json", &report);
    assert_eq!(std::fs::read(&scores).unwrap(), first);

    // Every dataset judged by its plans, which make the events' and
    // holdings' tables (`--plans-make-tables`), the records written
    // afresh: the same quarantine, report, records, registry mart, scores
    // and lists.
    let records = wh.join("marts/records");
    let marts = |part: &str| std::fs::read(wh.join(part)).unwrap();
    let kept = [
        "marts/registry/as_of=2026-11-27/part-0.parquet",
        "marts/listings/list=serious-dishonesty/as_of=2026-11-27/part-0.parquet",
        "marts/related/list=serious-dishonesty/as_of=2026-11-27/part-0.parquet",
    ];
    let lists: Vec<Vec<u8>> = kept.iter().map(|p| marts(p)).collect();
    let record_files = |root: &std::path::Path| {
        let mut out = Vec::new();
        for d in ["violations", "complaints"] {
            for p in std::fs::read_dir(root.join(d)).unwrap().flatten() {
                for f in std::fs::read_dir(p.path()).unwrap().flatten() {
                    if f.path().extension().is_some_and(|e| e == "parquet") {
                        out.push((f.path(), std::fs::read(f.path()).unwrap()));
                    }
                }
            }
        }
        out.sort();
        out
    };
    let records_before = record_files(&records);
    assert!(!records_before.is_empty());
    std::fs::remove_dir_all(&records).unwrap();
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", "2026-11-27", "--plans-make-tables"]);
    for (d, bytes) in datasets.iter().zip(&before) {
        assert_eq!(&std::fs::read(quarantine(d)).unwrap(), bytes, "{d}: the quarantine, the events by plans");
    }
    let report = std::fs::read_to_string(wh.join("reports/quality/as_of=2026-11-27/quality.json")).unwrap();
    golden("quality-600-seed11-2026-11-27.json", &report);
    assert_eq!(std::fs::read(&scores).unwrap(), first, "the scores, the events by plans");
    for (p, bytes) in kept.iter().zip(&lists) {
        assert_eq!(&marts(p), bytes, "{p}, the events by plans");
    }
    assert!(record_files(&records) == records_before, "the records, written while the plans judge the events");
    let left: Vec<_> = std::fs::read_dir(wh.join(".staging")).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "the plans' tables go with the run: {left:?}");
}

#[test]
fn generation_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [&a, &b] {
        ok(&[
            "gen",
            "--warehouse",
            d.path().to_str().unwrap(),
            "--entities",
            "300",
            "--days",
            "2",
            "--seed",
            "5",
            "--as-of",
            "2026-11-27",
            "--bad-rate",
            "0.02",
            "--chunk",
            "100",
        ]);
    }
    let mut files: Vec<_> = walk(a.path());
    files.sort();
    assert!(files.len() >= 30, "3 chunks x 2 nights x 5 datasets");
    for f in files {
        let rel = f.strip_prefix(a.path()).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), std::fs::read(b.path().join(rel)).unwrap(), "{}", rel.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
