//! Policy impact and the dry run on a hand-made warehouse: identical
//! policies change nothing; doubling a rule's points, removing a
//! direct-grade rule and raising the control threshold give exactly the
//! expected transitions, list and joint changes; report.json agrees with
//! changed.parquet; the default baseline is the newest run's policy; a dry
//! run predicts the next publication and leaves the warehouse untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use credence::run::impact::ImpactReport;
use credence::tools::fixture::entity;

use crate::case::{Case, LIST};
use crate::support::{credence, ok, parquet_rows, stderr};

const D: &str = "2026-11-10";

/// Entity 1: a grave counterfeit case (DG_FRAUD: D, directly listed);
/// 2: a grave false-advertising case (score about 61: C); 3: a branch of
/// 2; 4: 60% held by 1 (joins by JS_CONTROL). Run once under the case's policy.
fn warehouse() -> Case {
    let c = Case::new();
    c.registry(
        D,
        &[
            (1, "company", None, "650100"),
            (2, "company", None, "650100"),
            (3, "branch", Some(2), "650102"),
            (4, "company", None, "440300"),
        ],
    );
    c.holdings(D, &[(1, 4, 60.0)]);
    c.violations_of(
        D,
        &[("V-1", 1, "2026-10-01", "counterfeit", "grave"), ("V-2", 2, "2026-10-01", "false_advertising", "grave")],
    );
    c.run(D);
    c
}

/// Runs `credence impact` of `policy` against the case's policy as of D;
/// returns the report's folder and figures.
fn impact(c: &Case, policy: &str) -> (PathBuf, ImpactReport) {
    let (html, report) = impact_report(c, D, &[], policy);
    (html.parent().unwrap().to_path_buf(), report)
}

/// Runs `credence impact` of `policy` against the case's policy as of
/// `as_of` with `more` arguments; returns the report page's path and figures.
fn impact_report(c: &Case, as_of: &str, more: &[&str], policy: &str) -> (PathBuf, ImpactReport) {
    let head = ["impact", "--warehouse", c.root(), "--as-of", as_of, "--policy", policy, "--baseline", &c.policy];
    let out = ok(&[&head[..], &["--public-key", &c.pk], more].concat());
    let html = out.lines().find_map(|l| l.strip_prefix("report: ")).expect("the report's path is printed");
    let html = PathBuf::from(html.trim());
    let json = std::fs::read(html.parent().unwrap().join("report.json")).unwrap();
    (html, serde_json::from_slice(&json).unwrap())
}

fn transitions(r: &ImpactReport) -> BTreeMap<(String, String), u64> {
    r.transitions.iter().map(|t| ((t.from.clone(), t.to.clone()), t.count)).collect()
}

fn t(pairs: &[(&str, &str, u64)]) -> BTreeMap<(String, String), u64> {
    pairs.iter().map(|(a, b, n)| ((a.to_string(), b.to_string()), *n)).collect()
}

/// The figures of report.json, recomputed from changed.parquet.
fn agrees_with_changed(dir: &Path, r: &ImpactReport) {
    let rows = parquet_rows(&dir.join("changed.parquet"));
    assert_eq!(rows.len() as u64, r.changed, "changed entities");
    let grade_changed = rows.iter().filter(|x| x["grade_before"] != x["grade_after"]).count() as u64;
    assert_eq!(grade_changed, r.grade_changed);
    let csv_rows = csv::Reader::from_path(dir.join("changed.csv")).unwrap().records().count() as u64;
    assert_eq!(csv_rows, r.changed, "changed.csv has the same rows");
    for l in &r.lists {
        let on = |s: &str| s.split(';').any(|m| m.starts_with(&format!("{}:", l.list)));
        let added = rows.iter().filter(|x| !on(&x["lists_before"]) && on(&x["lists_after"])).count() as u64;
        let removed = rows.iter().filter(|x| on(&x["lists_before"]) && !on(&x["lists_after"])).count() as u64;
        assert_eq!((added, removed), (l.added, l.removed), "list {}", l.list);
        assert_eq!(l.members_after as i64 - l.members_before as i64, added as i64 - removed as i64);
    }
    let mut moved: BTreeMap<(String, String), u64> = BTreeMap::new();
    for x in rows.iter().filter(|x| x["grade_before"] != x["grade_after"]) {
        *moved.entry((x["grade_before"].clone(), x["grade_after"].clone())).or_default() += 1;
    }
    let off_diagonal: BTreeMap<_, _> = transitions(r).into_iter().filter(|((a, b), _)| a != b).collect();
    assert_eq!(moved, off_diagonal, "grade transitions");
}

fn list(r: &ImpactReport) -> &credence::run::impact::report::ListImpact {
    r.lists.iter().find(|l| l.list == LIST).unwrap()
}

#[test]
fn identical_policies_change_nothing() {
    let c = warehouse();
    let (dir, r) = impact(&c, &c.policy);
    assert_eq!((r.changed, r.grade_changed), (0, 0));
    assert_eq!(transitions(&r), t(&[("A", "A", 2), ("C", "C", 1), ("D", "D", 1)]));
    let l = list(&r);
    assert_eq!((l.added, l.removed, l.members_before, l.members_after), (0, 0, 2, 2));
    assert!(r.rules.iter().all(|x| x.change == "same" && x.entities_before == x.entities_after));
    assert_eq!(r.baseline, r.policy);
    assert!(r.summary_en.starts_with("0 entities change grade"), "{}", r.summary_en);
    agrees_with_changed(&dir, &r);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "the page is self-contained");
}

#[test]
fn doubling_a_rules_points_moves_one_entity_and_its_branch_onto_the_list() {
    let c = warehouse();
    let policy = c.policy_edited("double.yaml", &[("points: 40", "points: 80")]);
    let (dir, r) = impact(&c, &policy);
    // 2 falls from C to D; 1 loses more points but was D already.
    assert_eq!(transitions(&r), t(&[("A", "A", 2), ("C", "D", 1), ("D", "D", 1)]));
    assert_eq!((r.grade_changed, r.changed), (1, 3), "1's score, 2's grade, 3's membership");
    let l = list(&r);
    assert_eq!((l.added, l.added_direct, l.removed), (2, 1, 0));
    assert_eq!(l.added_joint_by_rule, BTreeMap::from([("JS_BRANCH".to_string(), 1)]));
    assert_eq!(l.additions_needing_review, 2, "nobody is published without an officer");
    // The legal representatives of 2 and of its branch are restricted too.
    assert_eq!(l.restricted_persons_after, l.restricted_persons_before + 2);
    let v = r.rules.iter().find(|x| x.rule == "V_GRAVE").unwrap();
    assert_eq!((v.change.as_str(), v.entities_before, v.entities_after), ("changed", 2, 2));
    assert!((v.points_after - 2.0 * v.points_before).abs() < 0.02, "{v:?}");
    assert_eq!(r.movers[0].entity_id, entity(1).min(entity(2)), "the biggest movers lead, ties by id");
    let m = &r.movers[0];
    assert_eq!(m.reasons_before, ["DG_FRAUD 0.00 (V-1)", "V_GRAVE 38.54 (V-1)"], "each reason with its records");
    assert_eq!(m.reasons_after, ["DG_FRAUD 0.00 (V-1)", "V_GRAVE 77.08 (V-1)"]);
    assert!(
        r.summary_en.contains("1 entities change grade")
            && r.summary_en.contains("2 would join serious-dishonesty (1 direct, 1 through JS_BRANCH)"),
        "{}",
        r.summary_en
    );
    let region = r.regions_4.iter().find(|g| g.key == "6501").unwrap();
    assert_eq!((region.entities, region.grade_changed, region.joining, region.leaving), (3, 1, 2, 0));
    agrees_with_changed(&dir, &r);
}

#[test]
fn removing_a_direct_grade_rule_takes_an_entity_and_what_it_controls_off() {
    let c = warehouse();
    let text = std::fs::read_to_string(&c.policy).unwrap();
    let start = text.find("direct_grades:").unwrap();
    let end = text.find("lists:").unwrap();
    let policy = c.policy_edited("no-fraud.yaml", &[(&text[start..end], "")]);
    let (dir, r) = impact(&c, &policy);
    assert_eq!(transitions(&r), t(&[("A", "A", 2), ("C", "C", 1), ("D", "C", 1)]));
    assert_eq!((r.grade_changed, r.changed), (1, 2), "1's grade and 4's membership");
    let l = list(&r);
    assert_eq!((l.added, l.removed, l.removed_direct, l.removed_joint), (0, 2, 1, 1));
    assert_eq!((l.members_before, l.members_after), (2, 0));
    let dg = r.rules.iter().find(|x| x.rule == "DG_FRAUD").unwrap();
    assert_eq!((dg.change.as_str(), dg.entities_after), ("removed", 0));
    agrees_with_changed(&dir, &r);
}

#[test]
fn raising_the_control_threshold_releases_a_controlled_entity_only() {
    let c = warehouse();
    let policy = c.policy_edited("control.yaml", &[("threshold_pct: 50", "threshold_pct: 70")]);
    let (dir, r) = impact(&c, &policy);
    assert_eq!(r.grade_changed, 0);
    assert_eq!(r.changed, 1);
    let l = list(&r);
    assert_eq!((l.added, l.removed, l.removed_direct, l.removed_joint), (0, 1, 0, 1));
    let rows = parquet_rows(&dir.join("changed.parquet"));
    assert_eq!(rows[0]["entity_id"], entity(4));
    assert!(r.rules.iter().all(|x| x.change == "same"), "a joint rule is not a scoring rule");
    agrees_with_changed(&dir, &r);
}

#[test]
fn the_default_baseline_must_be_the_newest_runs_policy_and_a_bad_policy_runs_nothing() {
    let c = warehouse();
    // The newest run used the case's policy, not the embedded one.
    let out = credence(&["impact", "--warehouse", c.root(), "--as-of", D, "--policy", &c.policy]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--baseline"), "{}", stderr(&out));
    // A policy with problems is refused with all of them, before anything runs.
    let bad = c.policy_edited("bad.yaml", &[("points: 40", "points: -1"), ("threshold_pct: 50", "threshold_pct: 150")]);
    let out = credence(&[
        "impact",
        "--warehouse",
        c.root(),
        "--as-of",
        D,
        "--policy",
        &bad,
        "--baseline",
        &c.policy,
        "--public-key",
        &c.pk,
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("points") && err.contains("threshold_pct"), "{err}");
    assert!(!c.wh.root().join("reports/impact").exists(), "nothing ran");
}

/// Every file under `root` but the dry-run records, with its SHA-256.
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    use sha2::Digest;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.starts_with(root.join("reports/dry-run")) {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                out.insert(p.clone(), "dir".into());
                stack.push(p);
            } else {
                out.insert(p.clone(), format!("{:x}", sha2::Sha256::digest(std::fs::read(&p).unwrap())));
            }
        }
    }
    out
}

/// (action, entity, removal reason) of a changes.csv.
fn changes(path: &Path) -> Vec<(String, String, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (a, e, why) = (at("action"), at("entity_id"), at("removal_reason"));
    let mut out: Vec<_> =
        r.records().map(|x| x.unwrap()).map(|x| (x[a].to_string(), x[e].to_string(), x[why].to_string())).collect();
    out.sort();
    out
}

#[test]
fn a_dry_run_predicts_the_publication_and_leaves_the_warehouse_untouched() {
    let c = warehouse();
    c.confirm(1);
    c.run(D);
    // The next night: 1's case is repaired, 2 gets a counterfeit case.
    let next = "2026-11-11";
    c.registry(
        next,
        &[
            (1, "company", None, "650100"),
            (2, "company", None, "650100"),
            (3, "branch", Some(2), "650102"),
            (4, "company", None, "440300"),
        ],
    );
    c.repair(next, "part-0", 1, "V-1", "2026-11-11");
    c.violations_of(next, &[("V-3", 2, "2026-11-05", "counterfeit", "grave")]);
    let before = tree(c.wh.root());
    let out = ok(&[
        "run",
        "--dry-run",
        "--warehouse",
        c.root(),
        "--as-of",
        next,
        "--policy",
        &c.policy,
        "--signing-key",
        &c.sk,
    ]);
    assert_eq!(tree(c.wh.root()), before, "a dry run writes nothing but its record");
    assert!(out.contains("list serious-dishonesty: would publish"), "{out}");
    assert!(out.contains("1 removed (repaired 1)"), "1 leaves, repaired (4, held by 1, was never confirmed): {out}");
    assert!(out.contains("2 additions would wait for review"), "2 and its branch: {out}");
    let dir = out.lines().find_map(|l| l.strip_prefix("changes: ")).unwrap().trim().to_string();
    let predicted = changes(Path::new(&dir));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&dir).parent().unwrap().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["lists"][0]["removed"], 1);
    assert_eq!(summary["decisions_through"], 1);

    // The real run publishes what the dry run said.
    c.run(next);
    let published = changes(&c.dir_of(&c.latest()).join("changes.csv"));
    let predicted_publication: Vec<_> = predicted.iter().filter(|x| x.0 != "awaiting_review").cloned().collect();
    assert_eq!(predicted_publication, published);
    let waiting: Vec<_> = predicted.iter().filter(|x| x.0 == "awaiting_review").map(|x| x.1.clone()).collect();
    assert_eq!(waiting, vec![entity(2), entity(3)]);

    // Again the same day, nothing new; as of the night before, nothing at
    // all: a list never goes back in time.
    let dry = |as_of: &str, more: &[&str]| {
        let head = ["run", "--dry-run", "--warehouse", c.root(), "--as-of", as_of, "--policy", &c.policy];
        ok(&[&head[..], &["--signing-key", &c.sk], more].concat())
    };
    let out = dry(next, &[]);
    assert!(out.contains("list serious-dishonesty: would publish nothing new"), "{out}");
    // The same day with a partner that has no view yet: a new publication.
    let partners = c.wh.root().parent().unwrap().join("newcomer.yaml");
    std::fs::write(
        &partners,
        "partners:\n  - { id: newcomer, name: N, lists: [serious-dishonesty], columns: [entity_id], formats: [csv] }\n",
    )
    .unwrap();
    let out = dry(next, &["--partners", partners.to_str().unwrap()]);
    assert!(out.contains("list serious-dishonesty: would publish ("), "{out}");
    let out = dry(D, &[]);
    assert!(out.contains("list serious-dishonesty: would not publish (a newer publication exists)"), "{out}");
    // A new night with nothing changed is still that night's publication,
    // as the run then makes it.
    let later = "2026-11-12";
    let out = dry(later, &[]);
    assert!(out.contains("list serious-dishonesty: would publish ("), "{out}");
    assert!(out.contains(": 0 added, 0 removed (-), 0 changed;"), "{out}");
    c.run(later);
    assert_eq!(c.latest(), later);
}

#[test]
fn impact_over_nights_follows_list_sizes_under_both_policies() {
    let c = warehouse();
    let next = "2026-11-11";
    c.registry(
        next,
        &[
            (1, "company", None, "650100"),
            (2, "company", None, "650100"),
            (3, "branch", Some(2), "650102"),
            (4, "company", None, "440300"),
        ],
    );
    c.violations_of(next, &[("V-3", 4, "2026-11-05", "counterfeit", "grave")]);
    let policy = c.policy_edited("double.yaml", &[("points: 40", "points: 80")]);
    let (_, one) = impact(&c, &policy);
    let (html, r) = impact_report(&c, next, &["--nights", "3"], &policy);
    let sizes: Vec<(String, u64, u64)> =
        r.nights.iter().map(|n| (n.as_of.clone(), n.members_before, n.members_after)).collect();
    let first = list(&one);
    // Two dates have landing data; the first night is the single-night impact's.
    assert_eq!(
        sizes,
        vec![
            (D.to_string(), first.members_before, first.members_after),
            (next.to_string(), list(&r).members_before, list(&r).members_after)
        ]
    );
    assert_eq!((first.members_before, first.members_after), (2, 4));
    assert!(std::fs::read_to_string(&html).unwrap().contains("List sizes over the nights"));
    // One night is the as-of date's alone.
    let (_, r) = impact_report(&c, next, &["--nights", "1"], &policy);
    let dates: Vec<&str> = r.nights.iter().map(|n| n.as_of.as_str()).collect();
    assert_eq!(dates, [next]);
}

/// An entity counts as changed when its reasons alone change (a rule
/// renamed, the same points) or its score alone (the base moved, no grade
/// crossing a band).
#[test]
fn a_renamed_rule_or_a_moved_base_changes_reasons_or_scores_alone() {
    let c = warehouse();
    let renamed = c.policy_edited("renamed.yaml", &[("id: V_GRAVE", "id: V_GRAVE_DECIDED")]);
    let (dir, r) = impact(&c, &renamed);
    assert_eq!((r.grade_changed, r.changed), (0, 2), "1's and 2's reasons");
    agrees_with_changed(&dir, &r);
    let based = c.policy_edited("base.yaml", &[("  base: 100", "  base: 99")]);
    let (dir, r) = impact(&c, &based);
    assert_eq!((r.grade_changed, r.changed), (0, 4), "every score, no grade");
    agrees_with_changed(&dir, &r);
}
