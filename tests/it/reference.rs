//! A second implementation of the spec, written from its text alone
//! (`tests/it/reference.py`, Python with pyarrow), judges a generated
//! landing zone, scores it and extends its list by joint sanctions;
//! credence's quarantine (file, row and code of every rejected row) and its
//! scores, listings and related marts must say the same, line for line.

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use credence::base::marts::listings::read_listings;
use credence::base::marts::related::read_related;
use sha2::Digest;

use crate::support::{ok, repo_root, scores_text, stderr, stdout};

/// The policy the reference implements; an edit of it needs the
/// reference edited too.
const POLICY_SHA256: &str = "4084a10b4d4c35ba70645e6ba25a7f15e6b5d057eac3017070263706cb48d792";

#[test]
fn an_independent_implementation_of_the_spec_agrees_with_the_marts() {
    let policy = std::fs::read(repo_root().join("policies/online-market.yaml")).unwrap();
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&policy)),
        POLICY_SHA256,
        "policies/online-market.yaml changed: tests/it/reference.py implements the policy it was"
    );
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().to_str().unwrap();
    ok(&[
        "gen",
        "--warehouse",
        root,
        "--entities",
        "4000",
        "--days",
        "4",
        "--seed",
        "23",
        "--as-of",
        "2026-11-27",
        "--bad-rate",
        "0.01",
        "--chunk",
        "1000",
    ]);
    // The second night reads two of the four partitions; the last, all four.
    // Each partition has four files of each dataset (rows are numbered
    // across them), and each night is run again with every dataset judged
    // by validation's plans, its quarantine and marts removed first.
    for d in ["2026-11-25", "2026-11-27"] {
        ok(&["run", "--unsigned", "--warehouse", root, "--as-of", d]);
        agrees_as_of(temp.path(), d);
        std::fs::remove_dir_all(temp.path().join("quarantine")).unwrap();
        std::fs::remove_dir_all(temp.path().join(format!("marts/scores/as_of={d}"))).unwrap();
        std::fs::remove_dir_all(temp.path().join(format!("marts/listings/list=serious-dishonesty/as_of={d}"))).unwrap();
        std::fs::remove_dir_all(temp.path().join(format!("marts/related/list=serious-dishonesty/as_of={d}"))).unwrap();
        ok(&["run", "--unsigned", "--warehouse", root, "--as-of", d, "--plans-make-tables"]);
        agrees_as_of(temp.path(), d);
    }
}

/// The reference's verdicts, scores and lists as of `d` are the run's.
fn agrees_as_of(wh: &std::path::Path, d: &str) {
    let root = wh.to_str().unwrap();

    let python = std::env::var("CREDENCE_PYTHON").unwrap_or_else(|_| "python3".into());
    let o = std::process::Command::new(&python)
        .arg(repo_root().join("tests/it/reference.py"))
        .args([root, d])
        .output()
        .expect("python3 with pyarrow (.ci/run installs it; CREDENCE_PYTHON names the interpreter)");
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let printed = stdout(&o);
    let of = |kind: &str| -> Vec<String> {
        printed.lines().filter_map(|l| l.strip_prefix(kind)).map(|l| l.trim_start().to_string()).collect()
    };

    let mut ours: Vec<String> = Vec::new();
    for dataset in ["registry", "holdings", "violations", "complaints", "repairs"] {
        let path = wh.join(format!("quarantine/{dataset}/as_of={d}/part-0.parquet"));
        for b in credence::base::parquet_io::read_parquet(&path).unwrap() {
            let text = |name: &str| b.column_by_name(name).unwrap().as_string::<i32>().clone();
            let (file, code) = (text("source_file"), text("error_code"));
            let row = b.column_by_name("source_row").unwrap().as_primitive::<Int64Type>().clone();
            ours.extend((0..b.num_rows()).map(|i| format!("{} {} {}", file.value(i), row.value(i), code.value(i))));
        }
    }
    ours.sort();
    let mut theirs = of("rejected ");
    theirs.sort();
    assert_same(&format!("{d}: rejected rows"), &ours, &theirs);
    let codes: std::collections::BTreeSet<&str> = ours.iter().filter_map(|l| l.rsplit(' ').next()).collect();
    assert_eq!(codes.len(), 10, "every code of datasets.md is exercised: {codes:?}");

    let ours: Vec<String> = scores_text(&wh.join(format!("marts/scores/as_of={d}/part-0.parquet")))
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    let theirs: Vec<String> = of("scores ").iter().map(|l| l.trim_end().to_string()).collect();
    assert_same(&format!("{d}: scores"), &ours, &theirs);
    assert!(ours.iter().any(|l| l.contains("DG_FRAUD")) && ours.iter().any(|l| l.contains("C_UNRESOLVED")));

    let listing = read_listings(&wh.join(format!("marts/listings/list=serious-dishonesty/as_of={d}"))).unwrap();
    let ours: Vec<String> = listing
        .iter()
        .map(|m| {
            let via: Vec<String> = m
                .via
                .iter()
                .map(|v| {
                    format!("{}/{}/{}", v.id, v.relation, v.share_pct.map(|p| format!("{p:.4}")).unwrap_or_default())
                })
                .collect();
            format!("{} {} {} [{}] {}", m.entity_id, m.depth, m.rules.join(","), via.join(","), m.roots.join(","))
        })
        .collect();
    let theirs = of("members ");
    assert_same(&format!("{d}: members"), &ours, &theirs);
    assert!(ours.iter().any(|l| l.contains("JS_BRANCH")) && ours.iter().any(|l| l.contains("JS_CONTROL")), "{ours:#?}");

    let related = read_related(&wh.join(format!("marts/related/list=serious-dishonesty/as_of={d}"))).unwrap();
    let ours: Vec<String> = related
        .iter()
        .map(|r| {
            format!("{} {} {} {} {}", r.subject_id, r.subject_kind, r.rule_id, r.measures.join(","), r.roots.join(","))
        })
        .collect();
    assert_same(&format!("{d}: related"), &ours, &of("related "));
    assert!(ours.iter().any(|l| l.contains(" person ")) && ours.iter().any(|l| l.contains(" entity ")), "{ours:#?}");
}

/// The two implementations' lines, the first that differ named.
fn assert_same(what: &str, ours: &[String], theirs: &[String]) {
    let first = ours.iter().zip(theirs).position(|(a, b)| a != b);
    assert!(
        ours == theirs,
        "{what}: credence has {} lines, the reference {}; first difference at {:?}:\n  credence:  {:?}\n  reference: {:?}",
        ours.len(),
        theirs.len(),
        first,
        first.map(|i| &ours[i]),
        first.map(|i| &theirs[i]),
    );
}

/// The reference publishes the list night after night (the example policy
/// with `review: none`, so that every member is published without officer
/// decisions): each night's entries, and its changes with their removal
/// reasons, are credence's publication of that night.
#[test]
fn an_independent_implementation_publishes_as_credence_does_night_after_night() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().to_str().unwrap();
    let gen =
        ["gen", "--warehouse", root, "--entities", "4000", "--days", "4", "--seed", "23", "--as-of", "2026-11-27"];
    ok(&[&gen[..], &["--bad-rate", "0.01"]].concat());
    let policy = temp.path().join("review-none.yaml");
    let text = std::fs::read_to_string(repo_root().join("policies/online-market.yaml")).unwrap();
    assert_eq!(text.matches("review: additions").count(), 1);
    std::fs::write(&policy, text.replace("review: additions", "review: none")).unwrap();
    let nights = ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"];
    let mut ours = Vec::new();
    let line = |e: &credence::stages::publish::entries::Entry| {
        [
            e.entity_id.clone(),
            e.name.clone(),
            e.region.clone(),
            e.online_store.clone().unwrap_or_default(),
            e.list_id.clone(),
            e.basis.clone(),
            e.depth.to_string(),
            e.rules.join(";"),
            e.roots.join(";"),
            e.listed_since.to_string(),
            e.measures.join(";"),
        ]
        .join("|")
    };
    for d in nights {
        ok(&["run", "--unsigned", "--warehouse", root, "--as-of", d, "--policy", policy.to_str().unwrap()]);
        let dir = temp.path().join(format!("published/serious-dishonesty/{d}"));
        let entries = credence::stages::publish::files::read_entries(&dir.join("entries.parquet")).unwrap();
        ours.extend(entries.iter().map(|e| format!("entries {d} {}", line(e))));
        for c in credence::stages::publish::files::read_changes(&dir.join("changes.parquet")).unwrap() {
            let reason = c.removal_reason.map(|r| r.as_str()).unwrap_or_default();
            ours.push(format!("changes {d} {}|{}|{reason}", c.action.as_str(), line(&c.entry)));
        }
    }
    let python = std::env::var("CREDENCE_PYTHON").unwrap_or_else(|_| "python3".into());
    let o = std::process::Command::new(&python)
        .arg(repo_root().join("tests/it/reference.py"))
        .args([&[root, "--review-none"][..], &nights[..]].concat())
        .output()
        .expect("python3 with pyarrow (.ci/run installs it; CREDENCE_PYTHON names the interpreter)");
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let theirs: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    let (ours_entries, ours_changes): (Vec<String>, Vec<String>) =
        ours.into_iter().partition(|l| l.starts_with("entries"));
    let (theirs_entries, theirs_changes): (Vec<String>, Vec<String>) =
        theirs.into_iter().partition(|l| l.starts_with("entries"));
    assert_same("entries", &ours_entries, &theirs_entries);
    assert_same("changes", &ours_changes, &theirs_changes);
    for reason in ["joint_basis_ended", "grade_improved"] {
        assert!(ours_changes.iter().any(|l| l.ends_with(reason)), "a removal {reason} in {ours_changes:#?}");
    }
}
