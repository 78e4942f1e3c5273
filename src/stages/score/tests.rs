//! policy.md steps 1 to 8, each on a small hand-made landing zone run
//! through the real pipeline: Parquet landing files, validation, DataFusion
//! plans and the written `scores` mart.

use std::collections::BTreeMap;

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;

use super::*;
use crate::base::contract::{Contracts, Dataset};
use crate::base::marts::scores::{read_reasons, Reason};
use crate::base::parquet_io::read_parquet;
use crate::base::warehouse::Mart;
use crate::base::warehouse::Warehouse;
use crate::run::{run, RunOptions};
use crate::tools::fixture::{entity, land, person};

const D: &str = "2026-11-27";

#[derive(Debug, Clone, PartialEq)]
struct Row {
    score: f64,
    band: String,
    grade: String,
    reasons: Vec<Reason>,
}

fn days_before(n: i64) -> String {
    let d: AsOf = D.parse().unwrap();
    d.plus_days(-n).to_string()
}

fn company(n: u32, status: &str) -> String {
    format!(
        r#"{{"entity_id":"{}","name":"Co {n}","entity_type":"company","legal_rep_id":"{}","region":"350100","established_on":"2015-01-01","status":"{status}"}}"#,
        entity(n),
        person(n)
    )
}

fn violation(case: &str, e: u32, age: i64, severity: &str, category: &str, status: &str) -> String {
    format!(
        r#"{{"case_id":"{case}","entity_id":"{}","decided_on":"{}","category":"{category}","severity":"{severity}","fine_cny":"100.00","status":"{status}","authority":"350100"}}"#,
        entity(e),
        days_before(age)
    )
}

fn complaint(id: &str, e: u32, age: i64, verified: bool, outcome: &str) -> String {
    format!(
        r#"{{"complaint_id":"{id}","entity_id":"{}","received_on":"{}","channel":"web","verified":{verified},"outcome":"{outcome}"}}"#,
        entity(e),
        days_before(age)
    )
}

struct Case {
    _dir: tempfile::TempDir,
    wh: Warehouse,
}

impl Case {
    fn new(entities: &[(u32, &str)]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path());
        let rows: Vec<String> = entities.iter().map(|(n, s)| company(*n, s)).collect();
        land(&wh, Dataset::Registry, D, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        Case { _dir: dir, wh }
    }

    fn land(&self, dataset: Dataset, rows: &[String]) -> &Case {
        let n = std::fs::read_dir(self.wh.landing(dataset)).map(|d| d.count()).unwrap_or(0);
        land(&self.wh, dataset, D, &format!("part-{n}"), &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        self
    }

    fn score(&self, policy: &Policy) -> BTreeMap<String, Row> {
        let limits = crate::base::engine::EngineLimits { threads: 2, memory_limit: 1 << 30 };
        let opts = RunOptions::unsigned_for_test(self.wh.clone(), D.parse().unwrap(), policy.clone(), limits);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(&opts)).unwrap();
        read_scores(&self.wh.mart(Mart::Scores, D.parse().unwrap()).join("part-0.parquet"))
    }
}

fn read_scores(path: &std::path::Path) -> BTreeMap<String, Row> {
    let mut out = BTreeMap::new();
    for b in read_parquet(path).unwrap() {
        assert_eq!(b.schema(), scores_schema());
        let ids = b.column(0).as_string::<i32>();
        let scores = b.column(1).as_primitive::<Float64Type>();
        let bands = b.column(2).as_string::<i32>();
        let grades = b.column(3).as_string::<i32>();
        let reasons = b.column(4).as_list::<i32>();
        for r in 0..b.num_rows() {
            out.insert(
                ids.value(r).to_string(),
                Row {
                    score: scores.value(r),
                    band: bands.value(r).to_string(),
                    grade: grades.value(r).to_string(),
                    reasons: read_reasons(reasons, r),
                },
            );
        }
    }
    out
}

fn example() -> Policy {
    Policy::default_policy(&Contracts::load().unwrap())
}

fn policy(rules: &str, extra: &str) -> Policy {
    let text = format!(
        r#"
id: test
version: "1"
title: Test
score:
  base: 100
  floor: 0
  rules:
{rules}
grades:
  - {{ grade: A, min: 90 }}
  - {{ grade: B, min: 75 }}
  - {{ grade: C, min: 50 }}
  - {{ grade: D, min: 0 }}
{extra}
"#
    );
    Policy::parse("test.yaml", &text, &Contracts::load().unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

fn ids(r: &Row) -> Vec<&str> {
    r.reasons.iter().map(|x| x.rule_id.as_str()).collect()
}

#[test]
fn an_entity_without_records_scores_base_with_no_reasons() {
    let c = Case::new(&[(1, "active")]);
    let s = c.score(&example());
    let r = &s[&entity(1)];
    assert_eq!((r.score, r.band.as_str(), r.grade.as_str()), (100.0, "A", "A"));
    assert!(r.reasons.is_empty());
}

#[test]
fn scope_excludes_entities_from_the_scores() {
    let c = Case::new(&[(1, "active"), (2, "revoked"), (3, "abnormal"), (4, "deregistered")]);
    c.land(Dataset::Violations, &[violation("V1", 2, 10, "grave", "other", "effective")]);
    let s = c.score(&example());
    assert_eq!(s.keys().cloned().collect::<Vec<_>>(), vec![entity(1), entity(3)]);
}

#[test]
fn linear_decay_weighs_by_remaining_window() {
    let c = Case::new(&[(1, "active"), (2, "active")]);
    // V_GRAVE: 40 points, window 1095, linear. Age 365: 40 * 730/1095 = 26.666...
    c.land(
        Dataset::Violations,
        &[violation("V1", 1, 365, "grave", "other", "effective"), violation("V2", 2, 0, "grave", "other", "effective")],
    );
    let s = c.score(&example());
    assert_eq!(s[&entity(1)].score, 73.33);
    assert_eq!(s[&entity(1)].grade, "C");
    assert_eq!(s[&entity(1)].reasons[0].points, 26.67);
    assert_eq!(s[&entity(2)].score, 60.0, "age 0 has full weight");
}

#[test]
fn half_life_decay() {
    let c = Case::new(&[(1, "active"), (2, "active")]);
    // V_GENERAL: 4 points, half-life 180 days. Age 180 gives 2; age 360 gives 1.
    c.land(
        Dataset::Violations,
        &[
            violation("V1", 1, 180, "general", "other", "effective"),
            violation("V2", 2, 360, "minor", "other", "effective"),
        ],
    );
    let s = c.score(&example());
    assert_eq!(s[&entity(1)].score, 98.0);
    assert_eq!(s[&entity(2)].score, 99.0);
}

#[test]
fn the_window_is_age_zero_up_to_but_excluding_window_days() {
    let c = Case::new(&[(1, "active"), (2, "active")]);
    // C_UNRESOLVED: 2 points, window 365, no decay.
    c.land(
        Dataset::Complaints,
        &[complaint("C1", 1, 364, true, "unresolved"), complaint("C2", 2, 365, true, "unresolved")],
    );
    let s = c.score(&example());
    assert_eq!(s[&entity(1)].score, 98.0);
    assert_eq!(s[&entity(2)].score, 100.0);
}

/// Step 2's window starts at age 0: a record dated after D is evidence
/// of no rule. Validation never lets one through (`future_date`, and a run
/// reads no partition after D), so the evidence plan is asked directly; a
/// mutant that dropped `0 <= age` survived every test.
#[test]
fn a_record_dated_after_d_is_evidence_of_no_rule() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let records: Vec<String> = rt.block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        for sql in [
            "CREATE TABLE violations AS SELECT arrow_cast(c, 'UInt32') AS entity_idx, id AS case_id, \
             d AS decided_on, 'grave' AS severity, 'effective' AS status, 'counterfeit' AS category \
             FROM (VALUES (0, 'V_ON_D', DATE '2026-11-27'), (1, 'V_AFTER', DATE '2026-11-28')) AS t(c, id, d)",
            "CREATE TABLE complaints AS SELECT arrow_cast(c, 'UInt32') AS entity_idx, id AS complaint_id, \
             d AS received_on, true AS verified, 'unresolved' AS outcome \
             FROM (VALUES (0, 'C_ON_D', DATE '2026-11-27'), (1, 'C_AFTER', DATE '2026-11-28')) AS t(c, id, d)",
            "CREATE TABLE repairs AS SELECT arrow_cast(9, 'UInt32') AS entity_idx, 'none' AS case_id, \
             DATE '2026-11-01' AS approved_on",
        ] {
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
        }
        let evidence = plan::evidence(&ctx, &example(), D.parse().unwrap()).await.unwrap().unwrap();
        let mut ids = Vec::new();
        for b in evidence.collect().await.unwrap() {
            let col = arrow::compute::cast(b.column_by_name("record_id").unwrap(), &arrow::datatypes::DataType::Utf8);
            let col = col.unwrap();
            ids.extend(col.as_string::<i32>().iter().map(|v| v.unwrap().to_string()));
        }
        ids.sort();
        ids.dedup();
        ids
    });
    assert_eq!(records, ["C_ON_D", "V_ON_D"], "records dated D are evidence, those after D are not");
}

#[test]
fn a_cap_limits_the_deduction_but_every_record_is_evidence() {
    let c = Case::new(&[(1, "active")]);
    // V_SERIOUS: 15 points each, cap 45; four at age 0 would be 60.
    let rows: Vec<String> =
        ["S4", "S1", "S3", "S2"].iter().map(|id| violation(id, 1, 0, "serious", "other", "effective")).collect();
    c.land(Dataset::Violations, &rows);
    let s = c.score(&example());
    let r = &s[&entity(1)];
    assert_eq!(r.score, 55.0);
    assert_eq!(r.reasons[0].points, 45.0);
    assert_eq!(r.reasons[0].records, ["S1", "S2", "S3", "S4"]);
}

#[test]
fn the_floor_bounds_the_score() {
    let c = Case::new(&[(1, "active")]);
    let rows: Vec<String> = (0..4).map(|i| violation(&format!("G{i}"), 1, 0, "grave", "other", "effective")).collect();
    c.land(Dataset::Violations, &rows);
    let s = c.score(&example());
    assert_eq!(s[&entity(1)].score, 0.0);
    assert_eq!(s[&entity(1)].reasons[0].points, 160.0, "the reason shows the uncapped deduction");
}

#[test]
fn half_cent_scores_round_up_after_the_nine_decimal_step() {
    // 100 - 1.115 = 98.88500000000000512 -> 98.89; 100 - 0.015 = 99.985 (stored below) -> 99.99.
    let p = policy(
        "    - { id: R1, dataset: complaints, where: \"channel = 'web'\", points: 1.115, window_days: 10 }\n    - { id: R2, dataset: complaints, where: \"channel = 'hotline'\", points: 0.015, window_days: 10 }",
        "",
    );
    let c = Case::new(&[(1, "active"), (2, "active")]);
    let hotline = complaint("C2", 2, 0, true, "resolved").replace("\"web\"", "\"hotline\"");
    c.land(Dataset::Complaints, &[complaint("C1", 1, 0, true, "resolved"), hotline]);
    let s = c.score(&p);
    assert_eq!(s[&entity(1)].score, 98.89);
    assert_eq!(s[&entity(2)].score, 99.99);
    assert_eq!(s[&entity(1)].reasons[0].points, 1.12, "deductions round the same way (1.115 -> 1.12)");
}

#[test]
fn band_edges_use_the_rounded_score() {
    let p = policy(
        "    - { id: R10, dataset: complaints, where: \"channel = 'web'\", points: 10, window_days: 10 }\n    - { id: R1001, dataset: complaints, where: \"channel = 'hotline'\", points: 10.01, window_days: 10 }\n    - { id: RTINY, dataset: complaints, where: \"channel = 'platform'\", points: 10.004, window_days: 10 }",
        "",
    );
    let c = Case::new(&[(1, "active"), (2, "active"), (3, "active")]);
    let on = |id: &str, e: u32, channel: &str| {
        complaint(id, e, 0, true, "resolved").replace("\"web\"", &format!("\"{channel}\""))
    };
    c.land(Dataset::Complaints, &[on("C1", 1, "web"), on("C2", 2, "hotline"), on("C3", 3, "platform")]);
    let s = c.score(&p);
    assert_eq!((s[&entity(1)].score, s[&entity(1)].grade.as_str()), (90.0, "A"), "min 90 is in band A");
    assert_eq!((s[&entity(2)].score, s[&entity(2)].grade.as_str()), (89.99, "B"));
    assert_eq!((s[&entity(3)].score, s[&entity(3)].grade.as_str()), (90.0, "A"), "89.996 rounds to 90.00");
}

#[test]
fn a_direct_grade_forces_a_worse_grade_whatever_the_score() {
    let c = Case::new(&[(1, "active"), (2, "active")]);
    // A counterfeit grave case 1000 days old: 40 * 95/1095 = 3.47 points, score 96.53 (A), but DG_FRAUD fires.
    c.land(
        Dataset::Violations,
        &[
            violation("F1", 1, 1000, "grave", "counterfeit", "effective"),
            violation("F2", 2, 1000, "grave", "counterfeit", "revoked"),
        ],
    );
    let s = c.score(&example());
    let r = &s[&entity(1)];
    assert_eq!((r.score, r.band.as_str(), r.grade.as_str()), (96.53, "A", "D"));
    assert_eq!(ids(r), ["DG_FRAUD", "V_GRAVE"]);
    assert_eq!((r.reasons[0].points, r.reasons[0].records.clone()), (0.0, vec!["F1".to_string()]));
    assert_eq!(s[&entity(2)].grade, "A", "a revoked case fires nothing");
}

#[test]
fn the_worst_direct_grade_wins() {
    let p = policy(
        "    - { id: R1, dataset: complaints, where: \"channel = 'web'\", points: 1, window_days: 10 }",
        "direct_grades:\n  - { id: DG_B, title: B, dataset: complaints, where: \"verified\", window_days: 10, grade: B }\n  - { id: DG_C, title: C, dataset: complaints, where: \"outcome = 'unresolved'\", window_days: 10, grade: C }\n  - { id: DG_A, title: A, dataset: complaints, where: \"channel = 'web'\", window_days: 10, grade: A }",
    );
    let c = Case::new(&[(1, "active")]);
    c.land(Dataset::Complaints, &[complaint("C1", 1, 0, true, "unresolved")]);
    let s = c.score(&p);
    let r = &s[&entity(1)];
    assert_eq!((r.band.as_str(), r.grade.as_str()), ("A", "C"));
    assert_eq!(ids(r), ["DG_A", "DG_B", "DG_C", "R1"]);
}

#[test]
fn reasons_are_ordered_and_cut_at_four() {
    let p = policy(
        "    - { id: R_A, dataset: complaints, where: \"channel = 'web'\", points: 1, window_days: 10 }\n    - { id: R_B, dataset: complaints, where: \"channel = 'web'\", points: 5, window_days: 10 }\n    - { id: R_C, dataset: complaints, where: \"channel = 'web'\", points: 5, window_days: 10 }\n    - { id: R_D, dataset: complaints, where: \"channel = 'web'\", points: 3, window_days: 10 }\n    - { id: R_E, dataset: complaints, where: \"channel = 'hotline'\", points: 9, window_days: 10 }",
        "direct_grades:\n  - { id: DG_X, title: X, dataset: complaints, where: \"verified\", window_days: 10, grade: D }",
    );
    let c = Case::new(&[(1, "active")]);
    c.land(Dataset::Complaints, &[complaint("C1", 1, 0, true, "resolved")]);
    let s = c.score(&p);
    let r = &s[&entity(1)];
    assert_eq!(ids(r), ["DG_X", "R_B", "R_C", "R_D"], "R_E never fired; R_A is fifth");
    assert_eq!(r.score, 86.0, "every deduction counts, not only the four shown");
}

#[test]
fn a_repair_takes_its_violation_away() {
    let c = Case::new(&[(1, "active"), (2, "active")]);
    c.land(
        Dataset::Violations,
        &[violation("V1", 1, 10, "grave", "other", "effective"), violation("V2", 2, 10, "grave", "other", "effective")],
    );
    let repair = |id: &str, e: u32, case: &str| {
        format!(
            r#"{{"repair_id":"{id}","entity_id":"{}","case_id":"{case}","approved_on":"{}"}}"#,
            entity(e),
            days_before(1)
        )
    };
    c.land(Dataset::Repairs, &[repair("R1", 1, "V1")]);
    let s = c.score(&example());
    assert_eq!(s[&entity(1)].score, 100.0);
    assert!(s[&entity(2)].score < 100.0);
}

#[test]
fn complaints_need_their_predicate() {
    let c = Case::new(&[(1, "active")]);
    c.land(
        Dataset::Complaints,
        &[
            complaint("C1", 1, 0, false, "unresolved"),
            complaint("C2", 1, 0, true, "resolved"),
            complaint("C3", 1, 0, true, "unresolved"),
        ],
    );
    let s = c.score(&example());
    assert_eq!(s[&entity(1)].reasons[0].records, ["C3"]);
    assert_eq!(s[&entity(1)].score, 98.0);
}

#[test]
fn a_rerun_writes_the_same_bytes() {
    let c = Case::new(&[(1, "active"), (2, "active"), (3, "abnormal")]);
    c.land(
        Dataset::Violations,
        &[
            violation("V1", 1, 10, "serious", "other", "effective"),
            violation("V2", 3, 100, "grave", "price_fraud", "effective"),
        ],
    );
    c.land(Dataset::Complaints, &[complaint("C1", 2, 3, true, "unresolved")]);
    let path = c.wh.mart(Mart::Scores, D.parse().unwrap()).join("part-0.parquet");
    c.score(&example());
    let first = std::fs::read(&path).unwrap();
    c.score(&example());
    assert_eq!(std::fs::read(&path).unwrap(), first);
}

#[test]
fn entities_scored_in_chunks_and_slices_of_evidence_give_them_nothing_to_change() {
    let c = Case::new(&[(1, "active"), (2, "active"), (3, "abnormal"), (4, "revoked"), (5, "active"), (6, "active")]);
    c.land(
        Dataset::Violations,
        &[
            violation("V1", 1, 10, "serious", "other", "effective"),
            violation("V2", 3, 100, "grave", "price_fraud", "effective"),
            violation("V3", 5, 20, "grave", "price_fraud", "effective"),
            violation("V4", 6, 1, "serious", "other", "effective"),
        ],
    );
    c.land(
        Dataset::Complaints,
        &[complaint("C1", 2, 3, true, "unresolved"), complaint("C2", 6, 3, true, "unresolved")],
    );
    let policy = example();
    let as_of: AsOf = D.parse().unwrap();
    let keep = |d: Dataset| crate::run::keep_columns(&policy, d);
    let seal = crate::base::landing_file::Seal::new();
    let (inputs, _) = crate::run::validate_landing(
        &c.wh,
        &Contracts::load().unwrap(),
        as_of,
        &keep,
        crate::run::ValidationMarts::Nothing,
        &seal,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let limits = crate::base::engine::EngineLimits { threads: 2, memory_limit: 1 << 30 };
    let engine = Engine::local(limits).unwrap();
    crate::run::register_inputs(&engine, &inputs).unwrap();
    let mut outcomes = Vec::new();
    for (chunk, slice) in [(1, 1), (1, 2), (2, 1), (4, 32), (BATCH_ENTITIES, SLICE_BATCHES)] {
        let staging = tempfile::tempdir().unwrap();
        let dir = staging.path().join("scores");
        std::fs::create_dir(&dir).unwrap();
        let mut visited = Vec::new();
        let mut visit =
            |i: u32, r: &[ReasonRef]| visited.push((i, r.iter().map(|x| x.rule_id.to_string()).collect::<Vec<_>>()));
        let scored = rt
            .block_on(score_in_chunks(&engine, &policy, as_of, &inputs.entities, &dir, Some(&mut visit), chunk, slice))
            .unwrap();
        assert!(visited.windows(2).all(|w| w[0].0 < w[1].0), "visited in index order with chunks of {chunk}");
        let left: Vec<_> = std::fs::read_dir(staging.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["scores"], "the evidence's slices are gone with their folder");
        let scores = read_scores(&dir.join("part-0.parquet"));
        outcomes.push((scores, visited, scored.summary, scored.grades.reason_rules));
    }
    for o in &outcomes[1..] {
        assert_eq!(o, &outcomes[0]);
    }
    // Without a visitor, the same scores, summary and reason rules.
    let staging = tempfile::tempdir().unwrap();
    let scored = rt.block_on(score(&engine, &policy, as_of, &inputs.entities, staging.path())).unwrap();
    let unvisited = (read_scores(&staging.path().join("part-0.parquet")), scored.summary, scored.grades.reason_rules);
    assert_eq!(unvisited, (outcomes[0].0.clone(), outcomes[0].2.clone(), outcomes[0].3.clone()));
    assert_eq!(outcomes[0].0.len(), 5, "the revoked entity is out of scope");
    assert!(outcomes[0].2.reasons.len() >= 2, "{:?}", outcomes[0].2);
}

#[test]
fn a_memory_pool_too_small_says_which_setting_to_raise() {
    let e = ScoreError::Engine(DataFusionError::ResourcesExhausted("Failed to allocate for HashJoinInput".into()));
    let text = e.to_string();
    assert!(text.contains("HashJoinInput") && text.contains("raise --memory-limit"), "{text}");
    assert_eq!(e.kind(), ErrorKind::Input);
    let other = ScoreError::Engine(DataFusionError::Plan("no such column".into())).to_string();
    assert!(!other.contains("--memory-limit"), "{other}");
}
