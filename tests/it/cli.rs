//! Commands as an operator or an officer uses them.

use std::path::Path;

use credence::base::contract::Dataset;
use credence::base::warehouse::{Mart, Warehouse};
use credence::tools::fixture::{entity, land, person};

use crate::support::{credence, credence_logging, ok, stderr, stdout};

const D: &str = "2026-11-27";

fn company(n: u32) -> String {
    format!(
        r#"{{"entity_id":"{}","name":"Co {n}","entity_type":"company","legal_rep_id":"{}","region":"350100","established_on":"2020-01-01","status":"active"}}"#,
        entity(n),
        person(n)
    )
}

/// A generated warehouse of 400 entities and two nights up to D, in `dir`.
fn generated(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("wh");
    ok(&[
        "gen",
        "--warehouse",
        root.to_str().unwrap(),
        "--entities",
        "400",
        "--days",
        "2",
        "--seed",
        "5",
        "--as-of",
        D,
    ]);
    root
}

fn registry(wh: &Warehouse, n: u32, bad: u32) {
    let mut rows: Vec<String> = (1..=n).map(company).collect();
    rows.extend((0..bad).map(|i| company(1000 + i).replace("\"active\"", "\"closed\"")));
    land(wh, Dataset::Registry, D, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
}

#[test]
fn policy_check_reports_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "id: x\nversion: 1\ntitle: X\nscore: { base: 100, floor: 0 }\ngrades: [{ grade: A, min: 10 }]\ncolour: red\n",
    )
    .unwrap();
    let o = credence(&["policy", "check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let f = file.display().to_string();
    assert!(out.contains(&format!("{f}: version: version must be a YAML string")), "{out}");
    assert!(out.contains(&format!("{f}: grades: the last band's min must equal score.floor (0), found 10")), "{out}");
    assert!(out.contains(&format!("{f}: unknown field 'colour'")), "{out}");

    let good = crate::support::repo_root().join("policies/online-market.yaml");
    let out = ok(&["policy", "check", good.to_str().unwrap()]);
    assert!(out.contains("policy online-market version 2026.1 is valid"), "{out}");
}

#[test]
fn a_file_level_fault_stops_the_run_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::new(dir.path());
    registry(&wh, 3, 0);
    let partition = wh.landing_partition(Dataset::Violations, D.parse().unwrap());
    std::fs::create_dir_all(&partition).unwrap();
    std::fs::write(partition.join("part-0.parquet"), b"PAR1 truncated").unwrap();

    let o = credence(&["run", "--unsigned", "--warehouse", dir.path().to_str().unwrap(), "--as-of", D]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("landing/violations/ingest_date=2026-11-27/part-0.parquet: not readable Parquet"), "{err}");
    for written in ["marts", "quarantine", "reports", "published"] {
        assert!(!dir.path().join(written).exists(), "{written} must not be written");
    }
    let runs = ok(&["runs", "--warehouse", dir.path().to_str().unwrap()]);
    assert!(runs.contains("failed"), "the failed run is in the ledger:\n{runs}");
}

#[test]
fn the_rejection_threshold_fails_the_run_but_keeps_quarantine_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let wh = Warehouse::new(dir.path());
    registry(&wh, 20, 0);
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", D]);
    let scores = wh.mart(Mart::Scores, D.parse().unwrap()).join("part-0.parquet");
    let before = std::fs::read(&scores).unwrap();

    // 2 bad rows of 22 is 9%: over the default 5%.
    registry(&wh, 20, 2);
    let o = credence(&["run", "--unsigned", "--warehouse", root, "--as-of", D]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("registry: 2 of 22 rows rejected"),
        "the error names the dataset and the counts: {}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&scores).unwrap(), before, "the previous scores stay as they were");
    let q = wh.quarantine(Dataset::Registry, D.parse().unwrap()).join("part-0.parquet");
    let rows: usize = credence::base::parquet_io::read_parquet(&q).unwrap().iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 2, "the quarantine is written");
    assert!(dir.path().join("reports/quality/as_of=2026-11-27/quality.json").exists());

    // A dry run tells the same refusal, and scores nothing.
    let dry = ok(&["run", "--unsigned", "--dry-run", "--warehouse", root, "--as-of", D]);
    assert!(
        dry.contains("the run would fail: the rejection threshold was exceeded")
            && dry.contains("registry: 2 of 22 rows rejected"),
        "{dry}"
    );
    assert!(!dry.contains("list serious-dishonesty"), "no list is previewed: {dry}");
    assert_eq!(std::fs::read(&scores).unwrap(), before);

    // A run allowed 10% goes through.
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", D, "--max-reject-share", "0.1"]);
}

#[test]
fn quarantined_rows_carry_source_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::new(dir.path());
    registry(&wh, 30, 1);
    // A second file whose first row is rejected: its row 0, not row 31 of the first.
    let mut second = vec![company(2000).replace("\"active\"", "\"closed\"")];
    second.extend((31..=50).map(company));
    land(&wh, Dataset::Registry, D, "part-1", &second.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    ok(&["run", "--unsigned", "--warehouse", dir.path().to_str().unwrap(), "--as-of", D]);
    let q = wh.quarantine(Dataset::Registry, D.parse().unwrap()).join("part-0.parquet");
    let b = &credence::base::parquet_io::read_parquet(&q).unwrap()[0];
    let col = |name: &str| b.column(b.schema().index_of(name).unwrap()).clone();
    use arrow::array::AsArray;
    assert_eq!(
        col("source_file").as_string::<i32>().value(0),
        "landing/registry/ingest_date=2026-11-27/part-0.parquet"
    );
    assert_eq!(col("source_row").as_primitive::<arrow::datatypes::Int64Type>().value(0), 30);
    assert_eq!(col("error_code").as_string::<i32>().value(0), "bad_enum");
    assert_eq!(
        col("error_message").as_string::<i32>().value(0),
        "column status: expected one of active, abnormal, revoked, deregistered; found 'closed'"
    );
    assert_eq!(col("status").as_string::<i32>().value(0), "closed", "the row as found");
    assert_eq!(col("entity_id").as_string::<i32>().value(0), entity(1000));
    assert_eq!(b.num_rows(), 2);
    assert_eq!(
        col("source_file").as_string::<i32>().value(1),
        "landing/registry/ingest_date=2026-11-27/part-1.parquet"
    );
    assert_eq!(col("source_row").as_primitive::<arrow::datatypes::Int64Type>().value(1), 0);
    assert_eq!(col("entity_id").as_string::<i32>().value(1), entity(2000));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let o = credence(&["run", "--as-of", "2026-13-01"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'2026-13-01' is not a date of the form YYYY-MM-DD"), "{}", stderr(&o));
    // Numbers out of their range are refused before anything is opened:
    // 100000 threads exhausted memory, a memory limit of 1K or a bad rate
    // of 2 were taken, and an idle minute count overflowed into seconds.
    let refused = [
        (&["run", "--as-of", "2026-11-27", "--threads", "0"][..], "'0' is not an integer from 1 to 256"),
        (&["run", "--as-of", "2026-11-27", "--threads", "100000"][..], "'100000' is not an integer from 1 to 256"),
        (&["run", "--as-of", "2026-11-27", "--memory-limit", "1K"][..], "'1K' is not a size from 1M to 1024T"),
        (
            &["gen", "--warehouse", "w", "--entities", "9", "--as-of", "2026-11-27", "--bad-rate", "2"][..],
            "'2' is not a number from 0 to 1",
        ),
        (&["gen", "--warehouse", "w", "--entities", "0", "--as-of", "2026-11-27"][..], "0 is not in 1.."),
        (&["demo", "--days", "0"][..], "0 is not in 1..=366"),
        (&["serve", "--ui-idle-minutes", "9223372036854775807"][..], "9223372036854775807 is not in 1..=1440"),
        (&["serve", "--max-connections", "0"][..], "'0' is not an integer from 1 to 65536"),
    ];
    for (args, message) in refused {
        let o = credence(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
}

/// A mistyped --warehouse is refused by every command that works on a
/// warehouse, and nothing is made there: before, each one made a new
/// empty warehouse (a server then answered partners from nothing).
#[test]
fn a_warehouse_that_is_not_there_is_refused_and_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("warehous");
    let w = typo.to_str().unwrap();
    for args in [
        &["run", "--unsigned", "--warehouse", w, "--as-of", D][..],
        &["run", "--dry-run", "--warehouse", w, "--as-of", D][..],
        &["backfill", "--unsigned", "--warehouse", w, "--from", D, "--to", D][..],
        &["serve", "--warehouse", w, "--listen", "127.0.0.1:0"][..],
        &["officers", "list", "--warehouse", w][..],
        &["partners", "token", "list", "--warehouse", w][..],
        &["audit", "--warehouse", w][..],
        &["runs", "--warehouse", w][..],
        &["review", "--warehouse", w, "--list", "serious-dishonesty"][..],
        &["explain", "--warehouse", w, "--as-of", D, "91310000MA1K000001"][..],
    ] {
        let o = credence(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(&format!("the warehouse {w} does not exist")), "{args:?}: {}", stderr(&o));
        assert!(!typo.exists(), "{args:?} made {w}");
    }
}

#[test]
fn an_engine_is_local_or_ballista_and_a_dry_run_stays_local() {
    let o = credence(&["run", "--as-of", "2026-11-27", "--engine", "spark://h:1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected `local` or `ballista://HOST:PORT`"), "{}", stderr(&o));
    let o = credence(&["run", "--as-of", "2026-11-27", "--dry-run", "--engine", "ballista://127.0.0.1:50050"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--dry-run runs on the local engine"), "{}", stderr(&o));
}

/// README's first command, on a smaller warehouse: it generates, runs,
/// publishes, leaves joint additions for review, and says where things are.
#[test]
fn demo_runs_the_nightly_batch_and_prints_where_the_outputs_are() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    let out = ok(&["demo", "--warehouse", wh.to_str().unwrap(), "--entities", "1500"]);
    for expected in [
        "generated 1500 entities over 3 nights",
        "by grade:",
        "most frequent reasons:",
        "list serious-dishonesty:",
        "publication of serious-dishonesty: published 2026-11-27.2",
        "rejected input rows (in quarantine):",
        "outputs:",
        "officer pages",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    // The due process, as the example policy asks: notices, an objection, a
    // confirm answering it, a second officer's approval, then a publication.
    for expected in
        ["the demo officer notified", "objected (#", "demo-officer confirmed it (#", "demo-senior approved (#"]
    {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    let left: u32 = out
        .split("; ")
        .find(|p| p.ends_with("joint additions wait in the review queue"))
        .and_then(|p| p.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 0, "joint additions stay pending for the officer pages:\n{out}");
    let latest = std::fs::read_to_string(wh.join("published/serious-dishonesty/LATEST")).unwrap();
    assert_eq!(latest.trim(), "2026-11-27.2");
    let notices = wh.join("notices/serious-dishonesty");
    let first = std::fs::read_dir(&notices).unwrap().next().unwrap().unwrap().path();
    let notice = std::fs::read_dir(first).unwrap().next().unwrap().unwrap().path();
    assert!(std::fs::read_to_string(notice).unwrap().contains("列入事先告知书"), "a Chinese notice");
    let list = ok(&["notice", "list", "--warehouse", wh.to_str().unwrap()]);
    assert!(list.lines().count() > 2 && list.contains("object #"), "{list}");
    assert!(wh.join("marts/scores/as_of=2026-11-27").is_dir());
    assert!(wh.join("reports/quality/as_of=2026-11-27/quality.json").is_file());
}

/// `bench` runs the nightly job itself for each generated night, from the
/// landing zone alone, and prints each night's time and peak; it never
/// replaces a folder it did not generate.
#[test]
fn bench_runs_every_night_and_leaves_a_folder_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("bench");
    let args = ["bench", "--entities", "300", "--days", "2", "--warehouse", wh.to_str().unwrap()];
    for round in ["generated", "cached", "plans"] {
        let out = match round {
            // The nights with every dataset judged by validation's plans.
            "plans" => {
                let o = credence_logging(&[&args[..], &["--plans-make-tables"]].concat(), "credence=debug");
                assert!(o.status.success(), "{}", stderr(&o));
                assert!(stderr(&o).contains(r#""step":"validation_plans""#), "the plans judged the nights");
                stdout(&o)
            }
            _ => ok(&args),
        };
        let nights: Vec<&str> = out.lines().filter(|l| l.starts_with("night")).collect();
        assert_eq!(nights.len(), 2, "{round}: one line a night:\n{out}");
        for (line, date) in nights.iter().zip(["2026-11-26", "2026-11-27"]) {
            for expected in [date, "rows/s", "peak RSS", "validate", "lists", "publish"] {
                assert!(line.contains(expected), "{round}: {expected:?} missing from {line:?}");
            }
        }
        assert!(nights[1].contains("the events of 2 nights read"), "{}", nights[1]);
        // The nights start from the landing zone alone: an empty ledger,
        // no publication in force.
        assert!(nights[0].contains("run 1:") && nights[1].contains("run 2:"), "{round}:\n{out}");
        assert!(nights[0].contains("serious-dishonesty: published 2026-11-26"), "{round}: {}", nights[0]);
        assert!(nights[1].contains("serious-dishonesty: published 2026-11-27"), "{round}: {}", nights[1]);
        // What the runs wrote is gone again; the landing zone stays.
        let mut left: Vec<String> =
            std::fs::read_dir(&wh).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["bench.json", "landing"], "{round}");
    }

    let other = dir.path().join("warehouse");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("credence.db"), b"a real ledger").unwrap();
    let o = credence(&["bench", "--entities", "300", "--warehouse", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no bench.json"), "{}", stderr(&o));
    assert_eq!(std::fs::read(other.join("credence.db")).unwrap(), b"a real ledger");
}

/// One trip through the data: once a run has validated, explain, review,
/// decide and the officer pages read the marts it wrote. With the landing
/// zone gone they still show registry facts and the records behind reasons.
#[test]
fn nothing_reads_the_landing_zone_after_validation() {
    let dir = tempfile::tempdir().unwrap();
    let root = generated(dir.path());
    let r = root.to_str().unwrap();
    ok(&["run", "--unsigned", "--warehouse", r, "--as-of", D]);
    std::fs::remove_dir_all(root.join("landing")).unwrap();

    // An entity with a reason: its records come from the records mart.
    let scores = Warehouse::new(&root).mart(Mart::Scores, D.parse().unwrap()).join("part-0.parquet");
    let text = crate::support::scores_text(&scores);
    let line = text.lines().find(|l| l.contains("V_GRAVE:")).expect("an entity with a grave violation");
    let entity = line.split(' ').next().unwrap();
    let record = line.split("V_GRAVE:").nth(1).unwrap().split(':').nth(1).unwrap().split([',', ' ']).next().unwrap();
    let out = ok(&["explain", entity, "--as-of", D, "--warehouse", r]);
    assert!(out.contains("(registry snapshot 2026-"), "registry facts from the registry mart:\n{out}");
    assert!(out.contains(&format!("    {record} ")) && out.contains("severity grave"), "record cards:\n{out}");
    let json = ok(&["explain", entity, "--as-of", D, "--warehouse", r, "--json"]);
    assert!(json.contains("\"source_file\": \"landing/violations/ingest_date="), "{json}");

    let review = ok(&["review", "--warehouse", r, "--list", "serious-dishonesty"]);
    assert!(review.contains("in review on serious-dishonesty"), "{review}");
    crate::support::add_officer(r, "olga", "officer");
    let pending = review.lines().find(|l| l.len() > 18 && l.as_bytes()[18] == b' ').unwrap().split(' ').next().unwrap();
    let o = credence(&[
        "decide",
        "reject",
        "--list",
        "serious-dishonesty",
        "--entity",
        pending,
        "--officer",
        "olga",
        "--reason",
        "checked the file, not serious",
        "--warehouse",
        r,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let mut server = crate::support::Server::start(&root, &["--ui-listen", "127.0.0.1:0"]);
    let ui = server.ui.clone().unwrap();
    let health = ureq::get(format!("{ui}/healthz")).call().unwrap().body_mut().read_to_string().unwrap();
    assert_eq!(health, "ok\n");
    server.stop();
}

/// Regression: a Date32 far outside chrono's range panicked in
/// `days_to_date`; it is quarantined as `bad_range`.
#[test]
fn a_far_out_date_in_a_landing_file_is_bad_range() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::new(dir.path());
    registry(&wh, 3, 0);
    let contracts = credence::base::contract::Contracts::load().unwrap();
    let schema = contracts.get(Dataset::Violations).arrow_schema();
    let col = |name: &str, values: Vec<Option<&str>>| -> arrow::array::ArrayRef {
        let _ = name;
        Arc::new(arrow::array::StringArray::from(values))
    };
    let e1 = entity(1);
    let columns: Vec<arrow::array::ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> arrow::array::ArrayRef {
            match f.name().as_str() {
                "case_id" => col("case_id", vec![Some("FAR-1"), Some("OK-1")]),
                "entity_id" => col("entity_id", vec![Some(&e1), Some(&e1)]),
                "decided_on" => Arc::new(arrow::array::Date32Array::from(vec![i32::MAX, 20_000])),
                "category" => col("category", vec![Some("other"), Some("other")]),
                "severity" => col("severity", vec![Some("minor"), Some("minor")]),
                "fine_cny" => Arc::new(
                    arrow::array::Decimal128Array::from(vec![None, None]).with_precision_and_scale(18, 2).unwrap(),
                ),
                "status" => col("status", vec![Some("effective"), Some("effective")]),
                "authority" => col("authority", vec![Some("350100"), Some("350100")]),
                other => panic!("unexpected column {other}"),
            }
        })
        .collect();
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), columns).unwrap();
    let dirp = wh.landing_partition(Dataset::Violations, D.parse().unwrap());
    std::fs::create_dir_all(&dirp).unwrap();
    credence::base::parquet_io::write_parquet(&dirp.join("far.parquet"), schema, &[batch]).unwrap();
    let o = credence(&[
        "run",
        "--unsigned",
        "--warehouse",
        dir.path().to_str().unwrap(),
        "--as-of",
        D,
        "--max-reject-share",
        "0.9",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let q = wh.quarantine(Dataset::Violations, D.parse().unwrap()).join("part-0.parquet");
    let b = &credence::base::parquet_io::read_parquet(&q).unwrap()[0];
    use arrow::array::AsArray;
    let code = b.column(b.schema().index_of("error_code").unwrap()).as_string::<i32>().value(0).to_string();
    let message = b.column(b.schema().index_of("error_message").unwrap()).as_string::<i32>().value(0).to_string();
    assert_eq!(code, "bad_range");
    assert!(message.contains("expected a date from 0001-01-01 to 9999-12-31, found day 2147483647"), "{message}");
    assert_eq!(b.num_rows(), 1, "the good row is accepted");
}

/// Regression: a 1000-term OR overflowed the stack of `policy check`
/// (SIGABRT), and a 700-term one passed the check and aborted the run.
#[test]
fn a_huge_predicate_is_refused_by_the_check_and_a_large_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(crate::support::repo_root().join("policies/online-market.yaml")).unwrap();
    let or = |n: usize| (0..n).map(|i| format!("case_id = ''PD-{i}''")).collect::<Vec<_>>().join(" OR ");
    let with = |n: usize| {
        base.replace("where: \"severity = 'grave' AND status = 'effective'\"", &format!("where: '{}'", or(n)))
    };
    let huge = dir.path().join("huge.yaml");
    std::fs::write(&huge, with(1000)).unwrap();
    let o = credence(&["policy", "check", huge.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "refused, not a crash: {}", stderr(&o));
    assert!(stdout(&o).contains("V_GRAVE: where: the predicate has 2000 terms, at most 1000"), "{}", stdout(&o));

    let large = dir.path().join("large.yaml");
    std::fs::write(&large, with(500)).unwrap();
    ok(&["policy", "check", large.to_str().unwrap()]);
    let wh = Warehouse::new(dir.path().join("wh"));
    registry(&wh, 5, 0);
    ok(&[
        "run",
        "--unsigned",
        "--warehouse",
        wh.root().to_str().unwrap(),
        "--as-of",
        D,
        "--policy",
        large.to_str().unwrap(),
    ]);
}

/// Regression: a full disk while writing a mart was reported as bad input
/// (exit 1, not retried). It is worth retrying (exit 3), and the failed run
/// leaves nothing half-written. Needs a small tmpfs (CI runs as root); the
/// classification of ENOSPC itself is also a unit test (`base::error`).
#[test]
fn a_full_disk_is_worth_retrying_and_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    ok(&[
        "gen",
        "--warehouse",
        src.to_str().unwrap(),
        "--entities",
        "3000",
        "--days",
        "1",
        "--seed",
        "3",
        "--as-of",
        D,
    ]);
    let landing_bytes: u64 = walk(&src.join("landing")).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let mnt = dir.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let size = format!("size={}k", landing_bytes / 1024 + 256);
    let mounted = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &size, "tmpfs"]).arg(&mnt).status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let root = mnt.join("wh");
    std::process::Command::new("cp").args(["-r"]).arg(&src).arg(&root).status().unwrap();
    let o = credence(&["run", "--unsigned", "--warehouse", root.to_str().unwrap(), "--as-of", D]);
    assert_eq!(o.status.code(), Some(3), "ENOSPC is worth retrying:\n{}", stderr(&o));
    assert!(stderr(&o).contains("No space left on device"), "{}", stderr(&o));
    assert!(!root.join("published").exists(), "nothing published");
    assert!(!root.join("marts/scores").exists(), "no mart half-written");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// A busy database (another process holds its write lock) is worth
/// retrying: exit 3, for a run as for an officer's decision.
#[test]
fn a_busy_database_is_worth_retrying() {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::new(dir.path());
    registry(&wh, 3, 0);
    let root = dir.path().to_str().unwrap();
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", D]);
    let holder = rusqlite::Connection::open(wh.database()).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let busy = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_credence"))
            .args(args)
            .env("CREDENCE_BUSY_TIMEOUT_SECONDS", "1")
            .env("CREDENCE_LOG_FORMAT", "json")
            .output()
            .unwrap()
    };
    let o = busy(&["run", "--unsigned", "--warehouse", root, "--as-of", D]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("database is locked"), "{}", stderr(&o));
    let said = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("error"))
        .map(|l| l.matches("database is locked").count())
        .sum::<usize>();
    assert_eq!(said, 1, "the cause is said once: {}", stderr(&o));
    let e = entity(1);
    let o = busy(&[
        "decide",
        "reject",
        "--list",
        "serious-dishonesty",
        "--entity",
        &e,
        "--officer",
        "o",
        "--reason",
        "a reason long enough",
        "--warehouse",
        root,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    holder.execute_batch("ROLLBACK").unwrap();
}

/// The JSON log of a run has every step's line and every phase line of
/// the steps that log phases: none is lost (a stale per-layer filter
/// verdict once dropped the first event after DataFusion logged).
#[test]
fn the_json_log_of_a_run_has_every_step_and_phase() {
    let dir = tempfile::tempdir().unwrap();
    let root = generated(dir.path());
    let r = root.to_str().unwrap();
    let o = credence_logging(&["run", "--unsigned", "--warehouse", r, "--as-of", D], "credence=debug");
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> =
        stderr(&o).lines().map(|l| serde_json::from_str(l).expect("every log line is JSON")).collect();
    let field = |l: &serde_json::Value, f: &str| l["fields"][f].as_str().map(str::to_string);
    let steps: Vec<String> = lines
        .iter()
        .filter(|l| field(l, "message").as_deref() == Some("step finished"))
        .filter_map(|l| field(l, "step"))
        .collect();
    assert_eq!(steps, credence::run::STEPS.map(String::from));
    let phases = |step: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| field(l, "message").as_deref() == Some("phase") && field(l, "step").as_deref() == Some(step))
            .filter_map(|l| field(l, "phase"))
            .collect()
    };
    let validated = phases("validate");
    for dataset in ["violations", "repairs", "complaints", "holdings"] {
        let of: Vec<&str> = validated.iter().filter_map(|p| p.strip_prefix(&format!("{dataset}: "))).collect();
        assert_eq!(of, ["start", "read", "late codes", "keys", "shares", "output"], "{dataset}: {validated:?}");
    }
    assert_eq!(phases("quarantine"), ["registry", "holdings", "violations", "complaints", "repairs", "quality report"]);
    assert_eq!(phases("score"), ["evidence to slices", "deductions", "grades and grouping", "reasons and mart"]);
    assert_eq!(
        phases("lists"),
        [
            "rounds",
            "legal representatives",
            "members and related",
            "review status",
            "listing rows",
            "list planned",
            "listings written",
            "related written"
        ]
    );
}

/// `credence officers add` refuses a role outside officer, senior and
/// auditor, an empty id and a password under 12 characters, storing
/// nothing; `remove` refuses an officer that is not there.
#[test]
fn officers_are_added_only_with_a_known_role_an_id_and_a_long_enough_password() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().to_str().unwrap();
    let add = |id: &str, role: &str, password: &str| crate::support::officers_add(w, id, role, password);
    let list = || ok(&["officers", "list", "--warehouse", w]);
    let password = crate::support::PASSWORD;
    for (id, role, pass, said) in [
        ("olga", "admin", password, "role must be officer, senior or auditor, found 'admin'"),
        (" ", "officer", password, "the officer id must not be empty"),
        ("olga", "officer", "eleven char", "a password has at least 12 characters"),
    ] {
        let o = add(id, role, pass);
        assert!(!o.status.success() && stderr(&o).contains(said), "{id} {role}: {}", stderr(&o));
    }
    assert_eq!(list(), "", "nothing stored");
    assert!(add("olga", "senior", "twelve chars").status.success());
    assert_eq!(list(), "olga  senior\n");
    let o = credence(&["officers", "remove", "nobody", "--warehouse", w]);
    assert!(!o.status.success() && stderr(&o).contains("there is no officer 'nobody'"), "{}", stderr(&o));
    ok(&["officers", "remove", "olga", "--warehouse", w]);
    assert_eq!(list(), "");
}
