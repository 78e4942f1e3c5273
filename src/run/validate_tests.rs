//! Each row rule and fault code of datasets.md on a small hand-made landing
//! zone, selected and validated as a run does (here, because it takes two
//! stages: landing chooses the files, validation reads them).

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};

use crate::base::contract::{Contracts, Dataset, FaultCode};
use crate::base::landing_file::Seal;
use crate::base::tables::{Inputs, Reject, Rows, Validated};
use crate::base::warehouse::Warehouse;
use crate::stages::landing::{select_all, LandingError};
use crate::stages::validate::*;
use crate::tools::fixture::{entity, land, land_with_schema, person};

const D: &str = "2026-11-27";

fn wh() -> (tempfile::TempDir, Warehouse) {
    let t = tempfile::tempdir().unwrap();
    let w = Warehouse::new(t.path());
    (t, w)
}

fn all_columns(contracts: &Contracts) -> impl Fn(Dataset) -> Vec<String> + '_ {
    |d| contracts.get(d).columns.iter().map(|c| c.name.clone()).collect()
}

/// What stops a run before anything is written: a file fault or an unreadable file.
#[derive(Debug, thiserror::Error)]
enum InputError {
    #[error(transparent)]
    Landing(#[from] LandingError),
    #[error(transparent)]
    Read(#[from] ReadError),
}

fn inputs(w: &Warehouse, as_of: &str) -> Result<Inputs, InputError> {
    let contracts = Contracts::load().unwrap();
    let keep = all_columns(&contracts);
    inputs_keeping(w, as_of, &keep)
}

/// [`inputs`], the tables holding `keep`'s columns.
fn inputs_keeping(w: &Warehouse, as_of: &str, keep: &dyn Fn(Dataset) -> Vec<String>) -> Result<Inputs, InputError> {
    let contracts = Contracts::load().unwrap();
    let selections = select_all(w, &contracts, as_of.parse().unwrap(), &Seal::new())?;
    let inputs = validate_inputs(&contracts, selections.clone(), keep, &Outputs::default())?;
    assert_plans_agree(&contracts, &selections, &inputs);
    assert_plans_make_the_tables(&contracts, selections, keep, &inputs);
    Ok(inputs)
}

/// The same landing zone validated with every dataset judged by its plans,
/// which make the violations', repairs', complaints' and holdings' tables
/// (`--plans-make-tables`): every dataset's rejects and figures are the
/// native validation's, and so are the registry's table, entities,
/// parents and representatives, the event tables' rows (in any order)
/// and columns, and the shares between registered entities (in order).
fn assert_plans_make_the_tables(
    contracts: &Contracts,
    selections: Vec<crate::base::landing_file::Selection>,
    keep: &dyn Fn(Dataset) -> Vec<String>,
    native: &Inputs,
) {
    assert_tuned_plans_make_the_tables(contracts, selections, keep, native, |_| {});
}

/// [`assert_plans_make_the_tables`] on a local engine `tune` has changed first.
fn assert_tuned_plans_make_the_tables(
    contracts: &Contracts,
    selections: Vec<crate::base::landing_file::Selection>,
    keep: &dyn Fn(Dataset) -> Vec<String>,
    native: &Inputs,
    tune: impl FnOnce(&crate::base::engine::Engine),
) {
    // The run's own plans on a local engine, driven from this thread.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let plans = super::PlansOnEngine {
        engine: crate::base::engine::Engine::local(crate::base::engine::EngineLimits::default()).unwrap(),
        dir: tempfile::tempdir().unwrap(),
        runtime: runtime.handle().clone(),
    };
    tune(&plans.engine);
    let out = Outputs { events: Some(plans.dir.path()), by_plans: Some(&plans), ..Outputs::default() };
    let by_plans = validate_inputs(contracts, selections, keep, &out).expect("validated by plans");
    for d in Dataset::ALL {
        let (p, n) = (by_plans.get(d), native.get(d));
        assert_eq!(p.rejects, n.rejects, "{d}: the rejects, the plans making the tables");
        assert_eq!(p.report, n.report, "{d}: the report, the plans making the tables");
    }
    for d in [Dataset::Violations, Dataset::Repairs, Dataset::Complaints] {
        let (p, n) = (by_plans.get(d), native.get(d));
        match d {
            Dataset::Repairs => assert!(matches!(p.rows, Rows::Memory(_)), "{d}: held for the lists"),
            _ => assert!(matches!(p.rows, Rows::File { .. }), "{d}: the plans' table is their files"),
        }
        // Scoring reads either table the same way: the same columns of the
        // same types (the enumerated ones as the same dictionaries).
        let columns = |v: &Validated| {
            v.schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect::<Vec<_>>()
        };
        assert_eq!(columns(p), columns(n), "{d}: the columns and their types");
        assert_eq!(table_rows(p), table_rows(n), "{d}: the current rows");
        assert_eq!(p.num_rows(), n.num_rows(), "{d}: the rows counted");
    }
    let ids = |i: &Inputs| (0..i.entities.len() as u32).map(|n| i.entities.id(n).to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&by_plans), ids(native), "registry: the entities, in id order");
    assert_eq!(table_rows(&by_plans.registry), table_rows(&native.registry), "registry: the table");
    assert_eq!(by_plans.parents, native.parents, "registry: the parents by index");
    let reps = |i: &Inputs| {
        (0..i.entities.len() as u32).map(|n| i.legal_reps.of(n).map(|p| p.to_string())).collect::<Vec<_>>()
    };
    assert_eq!(reps(&by_plans), reps(native), "registry: the legal representatives by index");
    assert_eq!(by_plans.shares, native.shares, "the shares between registered entities, in their rows' order");
    assert!(matches!(by_plans.holdings.rows, Rows::Released { .. }));
    assert_eq!(by_plans.holdings.num_rows(), native.holdings.num_rows(), "the holdings' rows counted");
}

/// Every row of a validated table as text, sorted.
fn table_rows(v: &Validated) -> Vec<Vec<String>> {
    let rows = v
        .scan(&|b| {
            let columns: Vec<_> = b.columns().iter().map(|c| cast(c, &DataType::Utf8).unwrap()).collect();
            (0..b.num_rows())
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| {
                            let c = c.as_string::<i32>();
                            if c.is_null(r) {
                                "∅".to_string()
                            } else {
                                c.value(r).to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .unwrap();
    let mut rows: Vec<Vec<String>> = rows.into_iter().flatten().collect();
    rows.sort();
    rows
}

/// The verdicts of validation's DataFusion plans on `selections`.
fn judge(contracts: &Contracts, selections: &[crate::base::landing_file::Selection]) -> Vec<Verdicts> {
    judge_on(contracts, selections, |_| {})
}

/// [`judge`] on a local engine `tune` has changed first.
fn judge_on(
    contracts: &Contracts,
    selections: &[crate::base::landing_file::Selection],
    tune: impl FnOnce(&crate::base::engine::Engine),
) -> Vec<Verdicts> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let engine = crate::base::engine::Engine::local(crate::base::engine::EngineLimits::default()).unwrap();
    tune(&engine);
    runtime.block_on(judge_inputs(&engine, contracts, selections)).unwrap()
}

/// Validation's DataFusion plans give every dataset the native
/// validation's rejects (row, code, message) and data-quality figures.
fn assert_plans_agree(contracts: &Contracts, selections: &[crate::base::landing_file::Selection], inputs: &Inputs) {
    for v in judge(contracts, selections) {
        let native = inputs.get(v.dataset);
        assert_eq!(v.difference(native), None, "{}", v.dataset);
        assert_eq!(v.rejects, native.rejects, "{}: the plans' rejects", v.dataset);
        assert_eq!(v.report, native.report, "{}: the plans' report", v.dataset);
    }
}

/// (global row, code) of every reject of a dataset.
fn codes(v: &Validated) -> Vec<(u64, &'static str)> {
    v.rejects.iter().map(|r| (r.row, r.code.as_str())).collect()
}

fn company(n: u32) -> String {
    format!(
        r#"{{"entity_id":"{}","name":"Co {n}","entity_type":"company","legal_rep_id":"{}","region":"350100","established_on":"2020-01-01","status":"active"}}"#,
        entity(n),
        person(n)
    )
}

fn strings(v: &Validated, column: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in v.batches() {
        let c = cast(b.column(b.schema().index_of(column).unwrap()), &DataType::Utf8).unwrap();
        let c = c.as_string::<i32>();
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    out
}

fn registry_with(w: &Warehouse, date: &str, extra: &[String]) {
    let mut rows: Vec<String> = (1..=3).map(company).collect();
    rows.extend(extra.iter().cloned());
    let refs: Vec<&str> = rows.iter().map(|s| s.as_str()).collect();
    land(w, Dataset::Registry, date, "part-0", &refs);
}

#[test]
fn registry_row_rules_give_their_codes() {
    let (_t, w) = wh();
    let e = |n| entity(n);
    registry_with(
        &w,
        D,
        &[
            // 3: empty name
            format!(r#"{{"entity_id":"{}","name":"","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active"}}"#, e(10)),
            // 4: branch without parent
            format!(r#"{{"entity_id":"{}","name":"B","entity_type":"branch","region":"350100","established_on":"2020-01-01","status":"active"}}"#, e(11)),
            // 5: bad check character
            r#"{"entity_id":"91350100M000100Y44","name":"X","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active"}"#.to_string(),
            // 6: bad legal representative
            format!(r#"{{"entity_id":"{}","name":"X","entity_type":"company","legal_rep_id":"P12","region":"350100","established_on":"2020-01-01","status":"active"}}"#, e(12)),
            // 7: industry outside A-T
            format!(r#"{{"entity_id":"{}","name":"X","entity_type":"company","industry":"Z","region":"350100","established_on":"2020-01-01","status":"active"}}"#, e(13)),
            // 8: region of five digits
            format!(r#"{{"entity_id":"{}","name":"X","entity_type":"company","region":"35010","established_on":"2020-01-01","status":"active"}}"#, e(14)),
            // 9: parent on a company
            format!(r#"{{"entity_id":"{}","name":"X","entity_type":"company","parent_id":"{}","region":"350100","established_on":"2020-01-01","status":"active"}}"#, e(15), e(1)),
            // 10: negative capital
            format!(r#"{{"entity_id":"{}","name":"X","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active","registered_capital":"-1.00"}}"#, e(16)),
            // 11: established after the ingest date
            format!(r#"{{"entity_id":"{}","name":"X","entity_type":"company","region":"350100","established_on":"2026-11-28","status":"active"}}"#, e(17)),
            // 12, 13: the same entity twice
            company(20),
            company(20),
            // 14: several faults: bad status (bad_enum) and bad region (bad_range): the earlier code wins
            format!(r#"{{"entity_id":"{}","name":"X","entity_type":"company","region":"1","established_on":"2020-01-01","status":"gone"}}"#, e(18)),
            // 15: missing name and a bad entity id: missing_required comes first
            r#"{"entity_id":"bad","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active"}"#.to_string(),
            // 16: a branch with its parent: accepted
            format!(r#"{{"entity_id":"{}","name":"B","entity_type":"branch","parent_id":"{}","region":"350100","established_on":"2020-01-01","status":"active"}}"#, e(19), e(1)),
        ],
    );
    let i = inputs(&w, D).unwrap();
    assert_eq!(
        codes(&i.registry),
        vec![
            (3, "missing_required"),
            (4, "missing_required"),
            (5, "bad_entity_id"),
            (6, "bad_person_id"),
            (7, "bad_enum"),
            (8, "bad_range"),
            (9, "bad_range"),
            (10, "bad_range"),
            (11, "future_date"),
            (12, "duplicate_key"),
            (13, "duplicate_key"),
            (14, "bad_enum"),
            (15, "missing_required"),
        ]
    );
    let msg = |row| i.registry.rejects.iter().find(|r| r.row == row).unwrap().message.clone();
    assert_eq!(msg(3), "column name: required non-empty, found ''");
    assert_eq!(msg(4), "column parent_id: required when entity_type = 'branch', found null");
    assert_eq!(
        msg(5),
        "column entity_id: expected a valid entity id (check character 3 expected), found '91350100M000100Y44'"
    );
    assert_eq!(msg(14), "column status: expected one of active, abnormal, revoked, deregistered; found 'gone'");
    assert_eq!(msg(15), "column name: required, found null");
    assert!(msg(12).contains("appears 2 times in partition ingest_date=2026-11-27"), "{}", msg(12));
    assert_eq!(i.entities.len(), 4, "three companies and the branch");
    assert_eq!(i.registry.report.rows_read, 17);
    assert_eq!(i.registry.report.rows_rejected, 13);
}

/// The registry judged by its plans (`--plans-make-tables`): their
/// verdicts are taken as given, not checked again as the rows are read;
/// verdicts that would accept a row the run cannot number (an id that is
/// none, an id twice) or that name rows out of order fail the validation
/// (fail closed), rather than giving a table.
#[test]
fn a_registry_judged_by_its_plans_takes_their_verdicts_and_refuses_what_it_cannot_number() {
    let (_t, w) = wh();
    let bad_id = r#"{"entity_id":"bad","name":"X","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active"}"#;
    // Rows 0-2 are good, 3 and 4 the same entity twice, 5 an id that is none.
    registry_with(&w, D, &[company(20), company(20), bad_id.to_string()]);
    let contracts = Contracts::load().unwrap();
    let contract = contracts.get(Dataset::Registry);
    let selection =
        select_all(&w, &contracts, D.parse().unwrap(), &Seal::new()).unwrap()[Dataset::Registry as usize].clone();
    let keep = ["entity_id", "name"];
    let validate = |judged: Option<&[Reject]>| {
        let judged = judged.map(|j| Judging::given(j.to_vec()));
        validate_registry(contract, selection.clone(), &keep, None, None, judged.as_ref())
    };
    let native = validate(None).unwrap();
    assert_eq!(codes(&native.table), vec![(3, "duplicate_key"), (4, "duplicate_key"), (5, "bad_entity_id")]);

    // Taken as given: a good row rejected by its verdict is rejected.
    let mut verdicts = native.table.rejects.clone();
    verdicts.insert(0, Reject { row: 1, code: FaultCode::BadEnum, message: "judged elsewhere".into() });
    let judged = validate(Some(&verdicts)).unwrap();
    assert_eq!(judged.table.rejects, verdicts);
    assert_eq!(judged.table.report.rows_rejected, 4);
    assert_eq!(strings(&judged.table, "entity_id"), vec![entity(1), entity(3)]);
    assert_eq!(judged.entities.lookup(&entity(2)), None);

    // Refused: accepting an id that is none, or one entity twice.
    let without =
        |rows: &[u64]| native.table.rejects.iter().filter(|r| !rows.contains(&r.row)).cloned().collect::<Vec<_>>();
    let e = validate(Some(&without(&[5]))).err().expect("an accepted id that is none").to_string();
    assert!(e.contains("hold 'bad', not an entity id") && e.contains("verdicts it was given do not hold"), "{e}");
    let e = validate(Some(&without(&[3, 4]))).err().expect("one entity accepted twice").to_string();
    assert!(e.contains(&format!("hold '{}' twice", entity(20))), "{e}");
    // Refused: verdicts out of order, or beyond the rows read.
    let mut reversed = native.table.rejects.clone();
    reversed.reverse();
    let e = validate(Some(&reversed)).err().expect("verdicts out of order").to_string();
    assert!(e.contains("registry: the verdicts given name row 4 out of order or beyond the 6 rows read"), "{e}");
    let beyond = [Reject { row: 6, code: FaultCode::BadEnum, message: String::new() }];
    let e = validate(Some(&beyond)).err().expect("a verdict beyond the rows").to_string();
    assert!(e.contains("name row 6 out of order or beyond the 6 rows read"), "{e}");
    // Refused: verdicts whose judge stopped without giving them.
    let (judge, stopped) = Judging::later();
    drop(judge);
    let e =
        validate_registry(contract, selection.clone(), &keep, None, None, Some(&stopped)).err().expect("no verdicts");
    assert!(e.to_string().contains("registry: the verdicts given never came: their judge stopped"), "{e}");
}

#[test]
fn registry_table_is_sorted_by_entity_id_with_dense_indexes() {
    let (_t, w) = wh();
    let rows = [company(7), company(2), company(5)];
    land(&w, Dataset::Registry, D, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let i = inputs(&w, D).unwrap();
    assert_eq!(strings(&i.registry, "entity_id"), vec![entity(2), entity(5), entity(7)]);
    assert_eq!(i.entities.lookup(&entity(5)), Some(1));
}

#[test]
fn branches_get_their_registered_parent_by_index() {
    let (_t, w) = wh();
    let branch = |n: u32, parent: u32| {
        format!(
            r#"{{"entity_id":"{}","name":"Branch {n}","entity_type":"branch","legal_rep_id":"{}","parent_id":"{}","region":"350100","established_on":"2020-01-01","status":"active"}}"#,
            entity(n),
            person(n),
            entity(parent)
        )
    };
    // 4 is a branch of 2; 5 of 99, which is not in the snapshot.
    registry_with(&w, D, &[branch(4, 2), branch(5, 99)]);
    let mut i = inputs(&w, D).unwrap();
    assert_eq!(codes(&i.registry), vec![]);
    let idx = |e: u32| i.entities.lookup(&entity(e)).unwrap() as usize;
    let mut expected = vec![u32::MAX; 5];
    expected[idx(4)] = idx(2) as u32;
    assert_eq!(i.parents, expected);
    // As a run keeps the registry: the parents by index, their text let go.
    let contracts = Contracts::load().unwrap();
    let policy = crate::config::policy::Policy::default_policy(&contracts);
    let run_keep = |d: Dataset| match d {
        Dataset::Registry => crate::run::keep_columns(&policy, d),
        _ => all_columns(&contracts)(d),
    };
    let lean = inputs_keeping(&w, D, &run_keep).unwrap();
    assert_eq!(lean.parents, expected);
    assert!(lean.registry.schema.index_of("parent_id").is_err(), "{:?}", lean.registry.schema);
    // The representatives too: packed by index, their text let go.
    assert!(lean.registry.schema.index_of("legal_rep_id").is_err(), "{:?}", lean.registry.schema);
    let reps = |i: &Inputs| (0..5).map(|e| i.legal_reps.of(e).map(|p| p.to_string())).collect::<Vec<_>>();
    assert_eq!(reps(&lean), strings(&i.registry, "legal_rep_id").into_iter().map(Some).collect::<Vec<_>>());
    // Without its hash table, the index finds the same entities.
    let found: Vec<Option<u32>> = (1..=5).map(|e| i.entities.lookup(&entity(e))).collect();
    i.entities.drop_table();
    assert_eq!((1..=5).map(|e| i.entities.lookup(&entity(e))).collect::<Vec<_>>(), found);
    assert_eq!(i.entities.lookup(&entity(99)), None);
}

#[test]
fn holdings_rules() {
    let (_t, w) = wh();
    registry_with(&w, D, &[company(4), company(5)]);
    let h = |holder: &str, kind: &str, owned: &str, pct: &str| {
        format!(r#"{{"holder_id":"{holder}","holder_kind":"{kind}","entity_id":"{owned}","share_pct":{pct}}}"#)
    };
    let rows = [
        h(&entity(1), "entity", &entity(2), "60"),    // 0 ok
        h(&person(1), "person", &entity(2), "40"),    // 1 ok: 60 + 40 = 100
        h(&person(1), "entity", &entity(3), "10"),    // 2 a person id as an entity holder
        h(&entity(1), "person", &entity(3), "10"),    // 3 an entity id as a person holder
        h(&person(2), "person", &entity(3), "0"),     // 4 zero share
        h(&person(3), "person", &entity(3), "100.5"), // 5 over 100
        h(&person(4), "person", &entity(1), "70"),    // 6 \ 70 + 30.02 > 100.01: both rejected
        h(&person(5), "person", &entity(1), "30.02"), // 7 /
        h(&person(6), "person", &entity(99), "10"),   // 8 not in the registry
        h(&person(7), "person", &entity(3), "5"),     // 9 \ the same key twice
        h(&person(7), "person", &entity(3), "5"),     // 10 /
        h(&person(8), "trust", &entity(3), "5"),      // 11 unknown holder kind
        h(&person(9), "person", &entity(5), "80"),    // 12 \ the last entity (summed on the
        h(&person(10), "person", &entity(5), "30"),   // 13 / last core's range): both rejected
    ];
    land(&w, Dataset::Holdings, D, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let i = inputs(&w, D).unwrap();
    assert_eq!(
        codes(&i.holdings),
        vec![
            (2, "bad_entity_id"),
            (3, "bad_person_id"),
            (4, "bad_range"),
            (5, "bad_range"),
            (6, "shares_over_100"),
            (7, "shares_over_100"),
            (8, "unknown_entity"),
            (9, "duplicate_key"),
            (10, "duplicate_key"),
            (11, "bad_enum"),
            (12, "shares_over_100"),
            (13, "shares_over_100"),
        ]
    );
    // As a run keeps them (the owned entity's id not among the table's
    // columns, so its text is kept only where unregistered): the same codes,
    // messages (the registered ones named from the index) and shares.
    let contracts = Contracts::load().unwrap();
    let run_keep = |d: Dataset| match d {
        Dataset::Holdings => crate::run::keep_columns(&crate::config::policy::Policy::default_policy(&contracts), d),
        _ => all_columns(&contracts)(d),
    };
    let lean = inputs_keeping(&w, D, &run_keep).unwrap();
    assert!(!run_keep(Dataset::Holdings).contains(&"entity_id".to_string()));
    assert_eq!(lean.holdings.rejects, i.holdings.rejects);
    assert_eq!(lean.shares, i.shares);
    let msg = |row: u64| i.holdings.rejects.iter().find(|r| r.row == row).unwrap().message.clone();
    assert_eq!(
        msg(6),
        format!("shares held in entity_id '{}' add up to 100.02, expected at most 100 (0.01 tolerance)", entity(1))
    );
    assert_eq!(
        msg(9),
        format!(
            "key (holder_id, entity_id) = ('{}', '{}') appears 2 times in partition ingest_date={D}",
            person(7),
            entity(3)
        )
    );
    assert!(msg(8).contains(&entity(99)), "{}", msg(8));
    assert_eq!(
        msg(13),
        format!("shares held in entity_id '{}' add up to 110, expected at most 100 (0.01 tolerance)", entity(5))
    );
    assert_eq!(i.holdings.num_rows(), 2);
    // The run keeps the accepted shares between registered entities alone, by dense index.
    let idx = |e: &str| i.entities.lookup(e).unwrap();
    assert_eq!(i.shares, vec![(idx(&entity(1)), idx(&entity(2)), 60.0)]);
    assert!(matches!(i.holdings.rows, Rows::Released { .. }), "the holdings' text is let go");
}

/// Shares held in one entity add up over the rows that passed every
/// earlier rule: 90 + a rejected 150 (bad_range) + a duplicated 20 (both
/// copies rejected) + 10.01 stays under 100.01. The same holds for an
/// entity the registry does not know, whose rows left then get
/// `unknown_entity` (a mutant that summed every row for such an entity
/// survived every test).
#[test]
fn shares_count_only_rows_that_passed_earlier_rules() {
    let earlier = [(1, "bad_range"), (2, "duplicate_key"), (3, "duplicate_key")];
    for (owned, left_over) in [(2, None), (7, Some("unknown_entity"))] {
        let (_t, w) = wh();
        registry_with(&w, D, &[]);
        let h = |holder: &str, pct: &str| {
            format!(
                r#"{{"holder_id":"{holder}","holder_kind":"person","entity_id":"{}","share_pct":{pct}}}"#,
                entity(owned)
            )
        };
        let rows = [
            h(&person(1), "90"),
            h(&person(2), "150"),
            h(&person(3), "20"),
            h(&person(3), "20"),
            h(&person(4), "10.01"),
        ];
        land(&w, Dataset::Holdings, D, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        let i = inputs(&w, D).unwrap();
        let mut expected = earlier.to_vec();
        if let Some(code) = left_over {
            expected.extend([(0, code), (4, code)]);
            expected.sort();
        }
        assert_eq!(codes(&i.holdings), expected, "shares held in {}", entity(owned));
    }
}

/// A negative amount is `bad_range` down to its last cent, zero is not;
/// a mutant that let -0.01 through survived every test.
#[test]
fn amounts_below_zero_by_a_cent_are_out_of_range() {
    let (_t, w) = wh();
    let row = |n: u32, capital: &str| {
        format!(
            r#"{{"entity_id":"{}","name":"X","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active","registered_capital":"{capital}"}}"#,
            entity(n)
        )
    };
    registry_with(&w, D, &[row(4, "-0.01"), row(5, "0.00")]);
    let i = inputs(&w, D).unwrap();
    assert_eq!(codes(&i.registry), vec![(3, "bad_range")]);
    assert_eq!(i.registry.rejects[0].message, "column registered_capital: expected >= 0, found -0.01");
}

/// A NaN share breaks its range rule and is summed with no other share
/// (a sum with it would exceed nothing): the shares of its entity that
/// passed still add up to over 100, and are rejected for it.
#[test]
fn a_nan_share_is_rejected_and_hides_no_sum_over_100() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    let h = |holder: &str, owned: u32, pct: &str| {
        format!(
            r#"{{"holder_id":"{holder}","holder_kind":"person","entity_id":"{}","share_pct":{pct}}}"#,
            entity(owned)
        )
    };
    let rows = [h(&person(1), 2, "60"), h(&person(2), 2, r#""NaN""#), h(&person(3), 2, "45"), h(&person(1), 3, "99")];
    land(&w, Dataset::Holdings, D, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let i = inputs(&w, D).unwrap();
    assert_eq!(codes(&i.holdings), vec![(0, "shares_over_100"), (1, "bad_range"), (2, "shares_over_100")]);
    let nan = &i.holdings.rejects[1].message;
    assert_eq!(nan, "column share_pct: expected 0 < share_pct <= 100, found NaN");
}

fn violation(case: &str, e: &str, decided: &str, status: &str) -> String {
    format!(
        r#"{{"case_id":"{case}","entity_id":"{e}","decided_on":"{decided}","category":"counterfeit","severity":"grave","fine_cny":"1000.00","status":"{status}","authority":"350100"}}"#
    )
}

#[test]
fn event_versions_newest_accepted_wins_across_partitions() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    let e1 = entity(1);
    land(
        &w,
        Dataset::Violations,
        "2026-11-25",
        "a",
        &[&violation("V1", &e1, "2026-01-01", "effective"), &violation("V2", &e1, "2026-01-01", "effective")],
    );
    // V1 revoked on appeal the next night; V2's newer version is bad and must not hide the older one.
    land(
        &w,
        Dataset::Violations,
        "2026-11-26",
        "a",
        &[&violation("V1", &e1, "2026-01-01", "revoked"), &violation("V2", &e1, "2026-01-01", "annulled")],
    );
    let i = inputs(&w, D).unwrap();
    assert_eq!(codes(&i.violations), vec![(3, "bad_enum")]);
    let statuses: Vec<(String, String)> =
        strings(&i.violations, "case_id").into_iter().zip(strings(&i.violations, "status")).collect();
    let mut statuses = statuses;
    statuses.sort();
    assert_eq!(statuses, vec![("V1".into(), "revoked".into()), ("V2".into(), "effective".into())]);
    assert_eq!(i.violations.report.rows_current, 2);
    assert_eq!(i.violations.report.rows_accepted, 3);
}

/// datasets.md: the current row is the newest *accepted* version. A newer
/// version rejected only once the registry is known (its entity is not
/// registered: `unknown_entity`) does not hide the older accepted one, in
/// the native validation as in the plans (`inputs` compares them).
#[test]
fn a_newer_version_rejected_late_does_not_hide_the_older_one() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    let (e1, stranger) = (entity(1), entity(999));
    land(&w, Dataset::Violations, "2026-11-25", "a", &[&violation("V1", &e1, "2026-01-01", "effective")]);
    land(&w, Dataset::Violations, "2026-11-26", "a", &[&violation("V1", &stranger, "2026-01-01", "revoked")]);
    let i = inputs(&w, D).unwrap();
    assert_eq!(codes(&i.violations), vec![(1, "unknown_entity")]);
    let current: Vec<(String, String)> =
        strings(&i.violations, "case_id").into_iter().zip(strings(&i.violations, "status")).collect();
    assert_eq!(current, vec![("V1".into(), "effective".into())]);
    assert_eq!(i.violations.report.rows_current, 1);
}

#[test]
fn validated_events_go_to_a_file_for_the_engine_with_the_rows_kept_in_memory_otherwise() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    let (e1, e2) = (entity(1), entity(2));
    let rows = [violation("V1", &e1, "2026-01-01", "effective"), violation("V2", &e2, "2026-02-01", "revoked")];
    land(&w, Dataset::Violations, "2026-11-25", "a", &[&rows[0], &rows[1]]);
    let repair = |id: &str, entity: &str, case: &str| {
        format!(r#"{{"repair_id":"{id}","entity_id":"{entity}","case_id":"{case}","approved_on":"2026-03-01"}}"#)
    };
    // R2 names no violation, R3 another entity's.
    let repairs = [repair("R1", &e1, "V1"), repair("R2", &e1, "V9"), repair("R3", &e1, "V2")];
    land(&w, Dataset::Repairs, "2026-11-26", "a", &[&repairs[0], &repairs[1], &repairs[2]]);
    let in_memory = inputs(&w, D).unwrap();

    let contracts = Contracts::load().unwrap();
    let keep = all_columns(&contracts);
    let dir = tempfile::tempdir().unwrap();
    let selections = select_all(&w, &contracts, D.parse().unwrap(), &Seal::new()).unwrap();
    let out = Outputs { events: Some(dir.path()), ..Outputs::default() };
    let spilled = validate_inputs(&contracts, selections, &keep, &out).unwrap();
    for d in [Dataset::Violations, Dataset::Complaints] {
        let Rows::File { path, rows } = &spilled.get(d).rows else { panic!("{d} kept in memory") };
        assert_eq!(path, &dir.path().join(d.name()));
        let mut read = Vec::new();
        for file in std::fs::read_dir(path).unwrap() {
            let file = std::fs::File::open(file.unwrap().path()).unwrap();
            for b in arrow::ipc::reader::FileReader::try_new(file, None).unwrap() {
                read.push(b.unwrap());
            }
        }
        assert_eq!(read.iter().map(|b| b.num_rows()).sum::<usize>(), *rows);
        assert_eq!(*rows, in_memory.get(d).num_rows());
        let expected = arrow::compute::concat_batches(&in_memory.get(d).schema, in_memory.get(d).batches()).unwrap();
        let found = arrow::compute::concat_batches(&spilled.get(d).schema, &read).unwrap();
        assert_eq!(found, expected, "{d}: the file holds the rows, columns and types validation kept");
    }
    // The repairs were checked against the violations read back from their files.
    assert_eq!(spilled.repairs.report.rows_current, 1);
    assert_eq!(codes(&spilled.repairs), vec![(1, "unknown_case"), (2, "unknown_case")]);
    assert_eq!(codes(&spilled.repairs), codes(&in_memory.repairs));
    for d in [Dataset::Registry, Dataset::Repairs] {
        assert!(matches!(spilled.get(d).rows, Rows::Memory(_)), "{d} stays in memory");
    }
    // The holdings become dense shares; their rows are let go, keeping their count and report.
    assert!(matches!(spilled.holdings.rows, Rows::Released { .. }));
    assert_eq!((spilled.holdings.num_rows(), &spilled.holdings.report), (0, &in_memory.holdings.report));
    assert_eq!(spilled.shares, in_memory.shares);
}

#[test]
fn duplicate_keys_within_one_partition_reject_every_copy() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    let e1 = entity(1);
    land(&w, Dataset::Violations, "2026-11-25", "a", &[&violation("V1", &e1, "2026-01-01", "effective")]);
    // Two versions of V1 in one partition, in two files: both rejected, the older partition's version stays.
    land(&w, Dataset::Violations, "2026-11-26", "a", &[&violation("V1", &e1, "2026-01-01", "revoked")]);
    land(
        &w,
        Dataset::Violations,
        "2026-11-26",
        "b",
        &[&violation("V1", &e1, "2026-01-02", "suspended"), &violation("V3", "bad", "2026-01-01", "effective")],
    );
    let i = inputs(&w, D).unwrap();
    assert_eq!(codes(&i.violations), vec![(1, "duplicate_key"), (2, "duplicate_key"), (3, "bad_entity_id")]);
    assert_eq!(strings(&i.violations, "status"), vec!["effective".to_string()]);
}

#[test]
fn a_copy_with_an_earlier_fault_keeps_its_code_but_still_counts() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    let e1 = entity(1);
    land(
        &w,
        Dataset::Violations,
        D,
        "a",
        &[&violation("V1", &e1, "2026-01-01", "effective"), &violation("V1", &e1, "2026-01-01", "void")],
    );
    let i = inputs(&w, D).unwrap();
    assert_eq!(codes(&i.violations), vec![(0, "duplicate_key"), (1, "bad_enum")]);
}

#[test]
fn events_of_unknown_entities_and_future_dates() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    land(
        &w,
        Dataset::Violations,
        D,
        "a",
        &[
            &violation("V1", &entity(42), "2026-01-01", "effective"),
            &violation("V2", &entity(1), "2026-11-28", "effective"),
        ],
    );
    let c = |id: &str, e: &str, received: &str| {
        format!(
            r#"{{"complaint_id":"{id}","entity_id":"{e}","received_on":"{received}","channel":"web","verified":true,"outcome":"unresolved","amount_cny":"-5.00"}}"#
        )
    };
    land(
        &w,
        Dataset::Complaints,
        D,
        "a",
        &[
            &c("C1", &entity(1), "2026-01-01"),
            r#"{"complaint_id":"C2","entity_id":"x","received_on":"2026-01-01","channel":"web","outcome":"unresolved"}"#,
        ],
    );
    let i = inputs(&w, D).unwrap();
    assert_eq!(codes(&i.violations), vec![(0, "unknown_entity"), (1, "future_date")]);
    assert_eq!(codes(&i.complaints), vec![(0, "bad_range"), (1, "missing_required")]);
    let m = &i.complaints.rejects[1].message;
    assert_eq!(m, "column verified: required, found null", "verified is checked before entity_id's bad_entity_id");
}

#[test]
fn repairs_must_name_a_known_violation_of_their_entity() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    let (e1, e2) = (entity(1), entity(2));
    land(
        &w,
        Dataset::Violations,
        "2026-11-25",
        "a",
        &[&violation("V1", &e1, "2026-01-01", "effective"), &violation("V2", &e2, "2026-01-01", "effective")],
    );
    land(&w, Dataset::Violations, "2026-11-26", "a", &[&violation("V1", &e1, "2026-01-01", "revoked")]);
    let r = |id: &str, e: &str, case: &str| {
        format!(r#"{{"repair_id":"{id}","entity_id":"{e}","case_id":"{case}","approved_on":"2026-06-01"}}"#)
    };
    land(&w, Dataset::Repairs, D, "a", &[&r("R1", &e1, "V1"), &r("R2", &e1, "V2"), &r("R3", &e1, "V9")]);
    let i = inputs(&w, D).unwrap();
    assert_eq!(
        codes(&i.repairs),
        vec![(1, "unknown_case"), (2, "unknown_case")],
        "a revoked violation is known; another entity's is not"
    );
}

#[test]
fn snapshot_choice_follows_the_as_of_date() {
    let (_t, w) = wh();
    land(&w, Dataset::Registry, "2026-11-25", "p", &[&company(1)]);
    land(&w, Dataset::Registry, "2026-11-26", "p", &[&company(1), &company(2)]);
    land(&w, Dataset::Registry, "2026-11-28", "p", &[&company(1), &company(2), &company(3)]);
    assert_eq!(inputs(&w, "2026-11-25").unwrap().entities.len(), 1);
    assert_eq!(inputs(&w, "2026-11-27").unwrap().entities.len(), 2, "the newest partition <= D, never a newer one");
    let e = inputs(&w, "2026-11-24").err().unwrap();
    assert!(e.to_string().contains("landing/registry: no partition with ingest_date <= 2026-11-24"), "{e}");
}

#[test]
fn rerunning_an_old_date_ignores_newer_event_partitions() {
    let (_t, w) = wh();
    registry_with(&w, "2026-11-20", &[]);
    let e1 = entity(1);
    land(&w, Dataset::Violations, "2026-11-25", "a", &[&violation("V1", &e1, "2026-01-01", "effective")]);
    land(
        &w,
        Dataset::Violations,
        "2026-11-27",
        "a",
        &[&violation("V1", &e1, "2026-01-01", "revoked"), &violation("V2", &e1, "2026-11-27", "effective")],
    );
    let old = inputs(&w, "2026-11-26").unwrap();
    assert_eq!(strings(&old.violations, "status"), vec!["effective".to_string()]);
    assert_eq!(old.violations.report.rows_read, 1);
}

#[test]
fn file_level_faults_name_file_column_expected_and_found() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    // share_pct written as text
    let bad_schema = Arc::new(Schema::new(vec![
        Field::new("holder_id", DataType::Utf8, true),
        Field::new("holder_kind", DataType::Utf8, true),
        Field::new("entity_id", DataType::Utf8, true),
        Field::new("share_pct", DataType::Utf8, true),
    ]));
    land_with_schema(
        &w,
        Dataset::Holdings,
        D,
        "typed",
        bad_schema,
        &[r#"{"holder_id":"x","holder_kind":"person","entity_id":"y","share_pct":"12"}"#],
    );
    // a complaint file without its verified column
    let no_verified = Arc::new(Schema::new(vec![
        Field::new("complaint_id", DataType::Utf8, true),
        Field::new("entity_id", DataType::Utf8, true),
        Field::new("received_on", DataType::Date32, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("outcome", DataType::Utf8, true),
    ]));
    land_with_schema(&w, Dataset::Complaints, D, "short", no_verified, &[]);
    std::fs::create_dir_all(w.landing(Dataset::Violations).join("2026-11-27")).unwrap();
    let junk = w.landing_partition(Dataset::Repairs, D.parse().unwrap());
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("broken.parquet"), b"not parquet at all").unwrap();
    std::fs::write(junk.join("_SUCCESS"), b"").unwrap();

    let e = inputs(&w, D).err().unwrap().to_string();
    for expected in [
        "landing/holdings/ingest_date=2026-11-27/typed.parquet: column share_pct has the wrong type: expected float64, found Utf8",
        "landing/complaints/ingest_date=2026-11-27/short.parquet: required column verified is missing: expected boolean, found no such column",
        "landing/violations/2026-11-27: folder is not a partition: expected a name of the form ingest_date=YYYY-MM-DD",
        "landing/repairs/ingest_date=2026-11-27/broken.parquet: not readable Parquet",
    ] {
        assert!(e.contains(expected), "missing «{expected}» in:\n{e}");
    }
    assert!(!e.contains("_SUCCESS"), "files not ending in .parquet do not count");
}

#[test]
fn optional_columns_may_be_absent_and_extra_columns_are_ignored() {
    let (_t, w) = wh();
    let schema = Arc::new(Schema::new(vec![
        Field::new("entity_id", DataType::LargeUtf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("entity_type", DataType::Utf8, true),
        Field::new("parent_id", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("established_on", DataType::Date32, true),
        Field::new("status", DataType::Utf8, true),
        Field::new("source_system", DataType::Utf8, true),
    ]));
    let row = format!(
        r#"{{"entity_id":"{}","name":"N","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active","source_system":"x"}}"#,
        entity(1)
    );
    land_with_schema(&w, Dataset::Registry, D, "p", schema, &[&row]);
    let i = inputs(&w, D).unwrap();
    assert!(i.registry.rejects.is_empty());
    assert_eq!(i.entities.len(), 1);
}

#[test]
fn parent_id_must_be_present_as_a_column() {
    let (_t, w) = wh();
    let schema = Arc::new(Schema::new(vec![
        Field::new("entity_id", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("entity_type", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("established_on", DataType::Date32, true),
        Field::new("status", DataType::Utf8, true),
    ]));
    land_with_schema(&w, Dataset::Registry, D, "p", schema, &[]);
    let e = inputs(&w, D).err().unwrap().to_string();
    assert!(e.contains("required column parent_id is missing"), "{e}");
}

#[test]
fn a_landing_file_cannot_be_read_once_validation_is_sealed() {
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    let contracts = Contracts::load().unwrap();
    let seal = Seal::new();
    let selections = select_all(&w, &contracts, D.parse().unwrap(), &seal).unwrap();
    let file = selections[0].files().next().unwrap().clone();
    assert!(file.read(contracts.get(Dataset::Registry), None).is_ok());
    seal.close();
    let e = file.read(contracts.get(Dataset::Registry), None).err().unwrap().to_string();
    assert!(e.contains("a landing file read after validation"), "{e}");
}

/// datasets.md "Bad input" (hardening): white space only names, control
/// characters and bidirectional overrides in any text, and decimals of
/// 10^16 yuan or more.
#[test]
fn blank_names_unsafe_text_and_oversized_amounts_are_row_faults() {
    let (_t, w) = wh();
    let e = |n| entity(n);
    let row = |n: u32, name: &str, extra: &str| {
        format!(
            r#"{{"entity_id":"{}","name":"{name}","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active"{extra}}}"#,
            e(n)
        )
    };
    registry_with(
        &w,
        D,
        &[
            // 3: spaces, a tab and an ideographic space only
            row(30, "  \u{3000}\t ", ""),
            // 4: zero-width characters only
            row(31, "\u{200B}\u{FEFF}", ""),
            // 5: a bell in the name
            row(32, "Good\u{0007}Name", ""),
            // 6: a right-to-left override in the online store
            row(33, "Shop", r#","online_store":"shop.example/\u202Efdp.exe""#),
            // 7: a C1 control in the name
            row(34, "Co\u{0085}", ""),
            // 8: capital just below 10^16 yuan: accepted
            row(36, "Rich enough", r#","registered_capital":"9999999999999999.99""#),
            // 9: a name with inner spaces: accepted
            row(37, "Hai Na  Trading", ""),
        ],
    );
    // 10^16 yuan does not fit a JSON fixture's decimal(18,2): a file made by hand.
    let schema = crate::base::contract::jobs_schema(Dataset::Registry);
    let mut b = crate::tools::fixture::batch(schema.clone(), &[&row(35, "Rich", "")]);
    let cap = schema.index_of("registered_capital").unwrap();
    let mut columns = b.columns().to_vec();
    columns[cap] = std::sync::Arc::new(
        arrow::array::Decimal128Array::from(vec![Some(10i128.pow(18))]).with_precision_and_scale(18, 2).unwrap(),
    );
    b = arrow::array::RecordBatch::try_new(b.schema(), columns).unwrap();
    let path = w.landing_partition(Dataset::Registry, D.parse().unwrap()).join("part-1.parquet");
    crate::base::parquet_io::write_parquet(&path, b.schema(), &[b]).unwrap();
    let i = inputs(&w, D).unwrap();
    assert_eq!(
        codes(&i.registry),
        vec![
            (3, "missing_required"),
            (4, "missing_required"),
            (5, "bad_range"),
            (6, "bad_range"),
            (7, "bad_range"),
            (10, "bad_range"),
        ]
    );
    let msg = |row: u64| i.registry.rejects.iter().find(|r| r.row == row).unwrap().message.clone();
    assert!(msg(5).contains("found U+0007 at character 5 of 'Good\\u{0007}Name'"), "{}", msg(5));
    assert!(!msg(6).contains('\u{202E}'), "messages never carry the override itself: {}", msg(6));
    assert!(msg(10).contains("expected an amount below 10^16 yuan, found 10000000000000000.00"), "{}", msg(10));
    assert!(msg(3).contains("white space only"), "{}", msg(3));
}

#[test]
fn duplicate_columns_and_folders_inside_a_partition_are_file_faults() {
    use arrow::datatypes::{DataType, Field, Schema};
    let (_t, w) = wh();
    registry_with(&w, D, &[]);
    // A writer's half-finished output.
    let tmp = w.landing_partition(Dataset::Complaints, D.parse().unwrap()).join("_temporary").join("0");
    std::fs::create_dir_all(&tmp).unwrap();
    // Two `status` columns: the first copy must not silently win.
    let mut fields: Vec<Field> =
        crate::base::contract::jobs_schema(Dataset::Violations).fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("status", DataType::Utf8, true));
    let path = w.landing_partition(Dataset::Violations, D.parse().unwrap()).join("twice.parquet");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let schema = std::sync::Arc::new(Schema::new(fields));
    crate::base::parquet_io::write_parquet(&path, schema.clone(), &[arrow::array::RecordBatch::new_empty(schema)])
        .unwrap();
    let e = inputs(&w, D).err().unwrap().to_string();
    assert!(
        e.contains("landing/violations/ingest_date=2026-11-27/twice.parquet: column status appears more than once"),
        "{e}"
    );
    assert!(e.contains("landing/complaints/ingest_date=2026-11-27/_temporary: a folder inside a partition"), "{e}");
}

#[test]
fn the_registry_mart_holds_the_accepted_rows_of_every_file_in_id_order() {
    let (_t, w) = wh();
    // Ids interleaved across two files, 4 in both (duplicate_key: neither
    // copy is written) and a malformed row in the second.
    let first = [company(9), company(1), company(4), company(6)];
    let mut second = vec![company(4), company(8), company(2)];
    second.push(company(3).replace(&entity(3), "not-an-id"));
    land(&w, Dataset::Registry, D, "part-0", &first.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    land(&w, Dataset::Registry, D, "part-1", &second.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let contracts = Contracts::load().unwrap();
    let seal = Seal::new();
    let keep = all_columns(&contracts);
    let (i, staged) = crate::run::validate_landing(
        &w,
        &contracts,
        D.parse().unwrap(),
        &keep,
        crate::run::ValidationMarts::Staged,
        &seal,
    )
    .unwrap();
    assert_eq!(codes(&i.registry), vec![(2, "duplicate_key"), (4, "duplicate_key"), (7, "bad_entity_id")]);
    let mart = staged.iter().find(|s| s.destination().starts_with(w.root().join("marts/registry")));
    let file = std::fs::File::open(mart.expect("the staged registry mart").path().join("part-0.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut rows = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let col = |n: &str| b.column(b.schema().index_of(n).unwrap()).as_string::<i32>().clone();
        let (ids, names, reps) = (col("entity_id"), col("name"), col("legal_rep_id"));
        rows.extend(
            (0..b.num_rows())
                .map(|r| (ids.value(r).to_string(), names.value(r).to_string(), reps.value(r).to_string())),
        );
    }
    let expected: Vec<(String, String, String)> =
        [1, 2, 6, 8, 9].iter().map(|n| (entity(*n), format!("Co {n}"), person(*n))).collect();
    assert_eq!(rows, expected);
    assert_eq!(
        strings(&i.registry, "legal_rep_id"),
        expected.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
        "the table, in the same order"
    );
    let packed: Vec<String> =
        (0..5).map(|e| i.legal_reps.of(e).expect("every one has a representative").to_string()).collect();
    assert_eq!(packed, expected.iter().map(|r| r.2.clone()).collect::<Vec<_>>(), "the packed representatives too");
}

/// A generated landing zone of three nights, one row in twenty faulty,
/// in files of a third of the entities.
fn generate_with_faults(w: &Warehouse, entities: u64, seed: u64) {
    let mut o = crate::tools::gen::GenOptions::new(entities, 3, seed, D.parse().unwrap());
    o.bad_rate = 0.05;
    o.chunk = entities / 3;
    crate::tools::gen::generate(w, &o, &|_| {}).unwrap();
}

#[test]
fn the_plans_judge_a_generated_landing_zone_with_every_fault_as_the_native_validation_does() {
    let (_t, w) = wh();
    generate_with_faults(&w, 3_000, 17);
    let i = inputs(&w, D).unwrap();
    let rejected: u64 = i.all().iter().map(|v| v.report.rows_rejected).sum();
    let codes: std::collections::BTreeSet<&str> =
        i.all().iter().flat_map(|v| v.rejects.iter().map(|r| r.code.as_str())).collect();
    assert!(rejected > 500, "a landing zone with faults: {rejected} rejected");
    assert_eq!(codes.len(), 10, "every code is given: {codes:?}");
}

/// A generated landing zone with faults (`entities`, `seed`), judged by
/// the plans on an engine `tune` has changed: some row is rejected as
/// `code`, and every verdict is the native validation's.
fn assert_tuned_plans_agree(entities: u64, seed: u64, tune: impl FnOnce(&crate::base::engine::Engine), code: &str) {
    let (_t, w) = wh();
    generate_with_faults(&w, entities, seed);
    let i = inputs(&w, D).unwrap();
    let selections = Dataset::ALL.map(|d| i.get(d).selection.clone());
    let verdicts = judge_on(&Contracts::load().unwrap(), &selections, tune);
    let given = verdicts.iter().flat_map(|v| &v.rejects).filter(|r| r.code.as_str() == code).count();
    assert!(given > 0, "some row is rejected as {code}");
    for v in verdicts {
        assert_eq!(v.difference(i.get(v.dataset)), None, "{}", v.dataset);
    }
}

/// The plans find shared keys, and count an event's versions, among the
/// rows whose keys hash alike, then decide on the keys' values: with every
/// key hashing alike, their verdicts are still the native validation's.
#[test]
fn the_plans_decide_on_the_keys_values_not_their_hashes() {
    let all_alike = |e: &crate::base::engine::Engine| {
        e.ctx().register_udf(crate::base::engine::key_forms::key_hash_all_alike());
    };
    assert_tuned_plans_agree(600, 5, all_alike, "duplicate_key");
}

/// The plans that make the event tables set a row aside when other
/// landing rows hold its key's hash, and count its key's copies among the
/// rows set aside by their values: with every key hashing alike (every
/// row set aside), the rejects, figures and tables are still the native
/// validation's.
#[test]
fn the_plans_making_the_tables_decide_on_the_keys_values_not_their_hashes() {
    let (_t, w) = wh();
    generate_with_faults(&w, 600, 5);
    let contracts = Contracts::load().unwrap();
    let keep = all_columns(&contracts);
    let selections = select_all(&w, &contracts, D.parse().unwrap(), &Seal::new()).unwrap();
    let native = validate_inputs(&contracts, selections.clone(), &keep, &Outputs::default()).unwrap();
    let violations = &native.violations;
    assert!(violations.rejects.iter().any(|r| r.code == FaultCode::DuplicateKey), "keys held twice in a partition");
    assert!(violations.num_rows() < violations.report.rows_read as usize - violations.rejects.len(), "key versions");
    let all_alike = |e: &crate::base::engine::Engine| {
        e.ctx().register_udf(crate::base::engine::key_forms::key_hash_all_alike());
    };
    assert_tuned_plans_make_the_tables(&contracts, selections, &keep, &native, all_alike);
}

/// On the local engine an aggregate's partial step may pass its rows on
/// unaggregated (`plans_planning`, locally): with every partial step doing so from
/// the first row, the verdicts are still the native validation's,
/// shares over 100 among them.
#[test]
fn the_plans_agree_when_every_partial_aggregate_passes_its_rows_on() {
    let skipping = |e: &crate::base::engine::Engine| {
        let state = e.ctx().state_ref();
        let mut state = state.write();
        let execution = &mut state.config_mut().options_mut().execution;
        // Small batches: a partial step decides after its first one.
        execution.skip_partial_aggregation_probe_rows_threshold = 1;
        execution.batch_size = "64".parse().unwrap();
    };
    assert_tuned_plans_agree(3_000, 17, skipping, "shares_over_100");
}

#[test]
fn a_difference_between_the_plans_and_the_native_checks_names_the_file_and_row() {
    let (_t, w) = wh();
    registry_with(&w, D, &[company(7), company(7)]);
    let i = inputs(&w, D).unwrap();
    let contracts = Contracts::load().unwrap();
    let selections = Dataset::ALL.map(|d| i.get(d).selection.clone());
    let mut verdicts = judge(&contracts, &selections);
    let registry = &mut verdicts[Dataset::Registry as usize];
    assert_eq!(registry.difference(&i.registry), None);
    registry.rejects.remove(0);
    assert_eq!(
        registry.difference(&i.registry).unwrap(),
        "landing/registry/ingest_date=2026-11-27/part-0.parquet row 3: the plans say accepted, the native checks \
         duplicate_key (key (entity_id) = ('9135010MA0000007HE') appears 2 times in partition ingest_date=2026-11-27)"
    );
}

#[test]
fn a_landing_file_whose_name_looks_like_a_pattern_is_read_as_named() {
    let (_t, w) = wh();
    let unnamed = r#"{"entity_id":"9135010MA0000009XX","entity_type":"company","region":"350100","established_on":"2020-01-01","status":"active"}"#;
    land(&w, Dataset::Registry, D, "part-[0] *?", &[&company(1), unnamed]);
    land(&w, Dataset::Registry, D, "part-0 x", &[&company(3), &company(3)]);
    let i = inputs(&w, D).unwrap();
    assert_eq!(i.registry.report.rows_read, 4);
    assert_eq!(
        codes(&i.registry),
        vec![(0, "duplicate_key"), (1, "duplicate_key"), (3, "missing_required")],
        "files in name order"
    );
}

/// Three violation files over two partitions: (selection, rows per file).
fn landed_violations(w: &Warehouse) -> (crate::base::landing_file::Selection, Contracts) {
    registry_with(w, D, &[]);
    let row = |n: u32| violation(&format!("V{n}"), &entity(1), "2026-01-01", "effective");
    let rows: Vec<String> = (0..7).map(row).collect();
    let r: Vec<&str> = rows.iter().map(String::as_str).collect();
    land(w, Dataset::Violations, "2026-11-25", "a", &r[0..2]);
    land(w, Dataset::Violations, "2026-11-25", "b", &r[2..5]);
    land(w, Dataset::Violations, "2026-11-26", "a", &r[5..7]);
    let contracts = Contracts::load().unwrap();
    let selections = select_all(w, &contracts, D.parse().unwrap(), &Seal::new()).unwrap();
    (selections[Dataset::Violations as usize].clone(), contracts)
}

/// Each partition's (row, partition, ingest date, case id) from `plan`.
fn scanned(plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> Vec<Vec<(u64, u32, i32, String)>> {
    use arrow::datatypes::{Date32Type, UInt32Type, UInt64Type};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Without work stealing between partitions, each reads just its group.
    let config = datafusion::prelude::SessionConfig::new()
        .set_bool("datafusion.execution.enable_file_stream_work_stealing", false);
    let ctx = Arc::new(datafusion::execution::TaskContext::default().with_session_config(config));
    let schema = plan.schema();
    let at = |name: &str| schema.index_of(name).unwrap();
    (0..plan.properties().output_partitioning().partition_count())
        .map(|p| {
            let batches = runtime
                .block_on(datafusion::physical_plan::common::collect(plan.execute(p, ctx.clone()).unwrap()))
                .unwrap();
            let mut out = Vec::new();
            for b in batches {
                let rows = b.column(at("_row")).as_primitive::<UInt64Type>();
                let parts = b.column(at("_partition")).as_primitive::<UInt32Type>();
                let dates = b.column(at("_ingest_date")).as_primitive::<Date32Type>();
                let cases = b.column(at("case_id")).as_string::<i32>();
                for r in 0..b.num_rows() {
                    out.push((rows.value(r), parts.value(r), dates.value(r), cases.value(r).to_string()));
                }
            }
            out
        })
        .collect()
}

#[test]
fn the_landing_scan_numbers_rows_as_validation_does_however_its_files_are_grouped() {
    use crate::base::engine::landing_scan::LandingScan;
    let (_t, w) = wh();
    let (selection, contracts) = landed_violations(&w);
    let scan = LandingScan::new(contracts.get(Dataset::Violations), &selection);
    let day = |d: &str| d.parse::<crate::base::ids::AsOf>().unwrap().days_since_epoch();
    let expected: Vec<(u64, u32, i32, String)> = (0..7u64)
        .map(|n| (n, u32::from(n >= 5), day(if n >= 5 { "2026-11-26" } else { "2026-11-25" }), format!("V{n}")))
        .collect();
    for parts in 1..=4 {
        let groups = scan.groups(parts);
        assert_eq!(groups.len(), parts.min(3), "{parts} parts");
        let mut files: Vec<usize> = groups.concat();
        files.sort();
        assert_eq!(files, vec![0, 1, 2], "every file in one group: {groups:?}");
        let by_partition = scanned(scan.plan(&groups, None));
        for (p, rows) in by_partition.iter().enumerate() {
            let mine: Vec<u64> = groups[p]
                .iter()
                .flat_map(|&f| match f {
                    0 => 0..2,
                    1 => 2..5,
                    _ => 5..7,
                })
                .collect();
            let mut got: Vec<u64> = rows.iter().map(|r| r.0).collect();
            got.sort();
            assert_eq!(got, mine, "partition {p} reads only its own files");
        }
        let mut all = by_partition.concat();
        all.sort();
        assert_eq!(all, expected, "{parts} parts");
    }
}

/// A query that reads a few columns of the landing rows has only those
/// decoded (the plans' key aggregates read the keys alone).
#[test]
fn a_landing_scan_decodes_only_the_columns_its_query_reads() {
    use crate::base::engine::landing_scan::{LandingScan, LandingSource};
    use datafusion::datasource::source::DataSourceExec;
    let (_t, w) = wh();
    let (selection, contracts) = landed_violations(&w);
    let ctx = datafusion::prelude::SessionContext::new();
    ctx.register_table("v", Arc::new(LandingScan::new(contracts.get(Dataset::Violations), &selection))).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let frame = runtime.block_on(ctx.sql("SELECT case_id, _row FROM v ORDER BY _row")).unwrap();
    let plan = runtime.block_on(frame.clone().create_physical_plan()).unwrap();
    let mut read = Vec::new();
    let _ = datafusion::common::tree_node::TreeNode::apply(&plan, |node| {
        let source = node.downcast_ref::<DataSourceExec>().and_then(|e| e.downcast_to_file_source::<LandingSource>());
        if let Some((_, source)) = source {
            let spec = source.scan().spec();
            for f in &spec.files {
                let decoded: Vec<String> = f
                    .columns
                    .iter()
                    .zip(&spec.columns)
                    .filter(|(at, _)| at.is_some())
                    .map(|(_, (n, _))| n.clone())
                    .collect();
                read.push(decoded);
            }
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    assert_eq!(read, vec![vec!["case_id".to_string()]; 3], "each of the three files decodes the case alone");
    let batches = runtime.block_on(frame.collect()).unwrap();
    let cases: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let c = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
            c.as_string::<i32>().iter().map(|v| v.unwrap().to_string()).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(cases, (0..7).map(|n| format!("V{n}")).collect::<Vec<_>>());
}

#[test]
fn a_landing_file_changed_after_the_run_chose_it_is_refused() {
    use crate::base::engine::landing_scan::LandingScan;
    let (_t, w) = wh();
    let (selection, contracts) = landed_violations(&w);
    let spec = LandingScan::new(contracts.get(Dataset::Violations), &selection).spec();
    let elsewhere = LandingScan::from_spec(&spec).unwrap();
    assert_eq!(elsewhere.spec(), spec, "rebuilt in another process");
    let groups = elsewhere.groups(1);
    assert_eq!(scanned(elsewhere.plan(&groups, None)).concat().len(), 7, "the files as chosen");

    let one = violation("V9", &entity(1), "2026-01-01", "effective");
    land(&w, Dataset::Violations, "2026-11-25", "b", &[&one]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let stream = elsewhere.plan(&groups, None).execute(0, Arc::new(datafusion::execution::TaskContext::default()));
    let e = runtime.block_on(datafusion::physical_plan::common::collect(stream.unwrap())).unwrap_err().to_string();
    assert!(e.contains("violations/ingest_date=2026-11-25/b.parquet is not the file the run chose"), "{e}");
    assert!(e.contains("1 rows, 3 expected"), "{e}");
}

/// The cluster's codecs carry a landing scan to the scheduler (the table)
/// and to executors (a task's files), where it reads the same rows.
#[cfg(feature = "cluster")]
#[test]
fn a_landing_scan_travels_through_the_cluster_codecs() {
    use crate::base::engine::codec::{LogicalCodec, PhysicalCodec};
    use crate::base::engine::landing_scan::LandingScan;
    use datafusion::execution::TaskContext;
    use datafusion_proto::logical_plan::LogicalExtensionCodec;
    use datafusion_proto::physical_plan::{DefaultPhysicalProtoConverter, PhysicalExtensionCodec};
    let (_t, w) = wh();
    let (selection, contracts) = landed_violations(&w);
    let scan = LandingScan::new(contracts.get(Dataset::Violations), &selection);
    let ctx = TaskContext::default();

    let table = datafusion::common::TableReference::bare("landing_violations");
    let mut buf = Vec::new();
    LogicalCodec::default().try_encode_table_provider(&table, Arc::new(scan.clone()), &mut buf).unwrap();
    let schema = datafusion::datasource::TableProvider::schema(&scan);
    let decoded = LogicalCodec::default().try_decode_table_provider(&buf, &table, schema, &ctx).unwrap();
    assert_eq!(decoded.downcast_ref::<LandingScan>().unwrap().spec(), scan.spec());

    // A scheduler gives a task one group: the executor reads just its files.
    let groups = vec![vec![1], vec![0, 2]];
    let plan = scan.plan(&groups, None);
    let mut buf = Vec::new();
    PhysicalCodec::default().try_encode(plan.clone(), &mut buf, &DefaultPhysicalProtoConverter {}).unwrap();
    let decoded = PhysicalCodec::default().try_decode(&buf, &[], &ctx, &DefaultPhysicalProtoConverter {}).unwrap();
    assert_eq!(scanned(decoded), scanned(plan));
}

/// The landing scan tells the planner its row count, so that a join with a
/// larger table builds its hash table on the landing rows (the few repairs,
/// not the millions of known cases): what lets the plans run in a 1 GiB
/// pool at 10M entities.
#[test]
fn a_join_builds_on_the_landing_rows_when_they_are_fewer() {
    use crate::base::engine::landing_scan::LandingScan;
    use datafusion::physical_plan::joins::HashJoinExec;
    use datafusion::physical_plan::{displayable, ExecutionPlan};
    let (_t, w) = wh();
    let (selection, contracts) = landed_violations(&w);
    let scan = LandingScan::new(contracts.get(Dataset::Violations), &selection);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let engine = crate::base::engine::Engine::local(crate::base::engine::EngineLimits::default()).unwrap();
    let known = arrow::array::StringArray::from((0..1000).map(|n| format!("V{n}")).collect::<Vec<_>>());
    let schema = Arc::new(Schema::new(vec![Field::new("known_case", DataType::Utf8, false)]));
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), vec![Arc::new(known)]).unwrap();
    engine.register("known_cases", schema, &[batch]).unwrap();
    engine.ctx().register_table("landing_violations", Arc::new(scan)).unwrap();
    let sql = "SELECT * FROM known_cases k RIGHT JOIN landing_violations l ON l.case_id = k.known_case";
    let plan = runtime.block_on(async { engine.ctx().sql(sql).await.unwrap().create_physical_plan().await.unwrap() });
    fn join(p: &Arc<dyn ExecutionPlan>) -> Option<&HashJoinExec> {
        p.downcast_ref::<HashJoinExec>().or_else(|| p.children().into_iter().find_map(join))
    }
    let shown = displayable(plan.as_ref()).indent(false).to_string();
    let j = join(&plan).unwrap_or_else(|| panic!("a hash join:\n{shown}"));
    let build = displayable(j.left().as_ref()).indent(false).to_string();
    assert!(build.contains("file_type=landing"), "the landing rows are the build side:\n{shown}");
}

/// Issue 16 (per-row checks once per dictionary value): enumerated columns
/// stored as Utf8 reach the checks as the file's dictionaries; stored as
/// LargeUtf8 they are read as text. Both give the same rejects (rows,
/// codes, messages) and the same accepted values.
#[test]
fn enumerated_columns_read_as_dictionaries_give_the_rejects_of_their_text() {
    let e = |n| entity(n);
    let row = |n: u32, entity_type: &str, status: &str, extra: &str| {
        format!(
            r#"{{"entity_id":"{}","name":"N","entity_type":"{entity_type}","region":"350100","established_on":"2020-01-01","status":"{status}"{extra}}}"#,
            e(n)
        )
    };
    let rows = [
        company(1),
        row(2, "branch", "active", ""),
        row(3, "company", "active", r#","industry":"Z""#),
        row(4, "company", "gone", ""),
        row(5, "corp", "active", ""),
        row(6, "company", "active", &format!(r#","parent_id":"{}""#, e(1))),
        row(7, "branch", "revoked", &format!(r#","parent_id":"{}","industry":"C""#, e(1))),
        row(8, "company", "active\u{202E}", ""),
    ];
    let refs: Vec<&str> = rows.iter().map(|r| r.as_str()).collect();
    let contracts = Contracts::load().unwrap();
    let registry = contracts.get(Dataset::Registry);

    let (_t, as_utf8) = wh();
    land(&as_utf8, Dataset::Registry, D, "p", &refs);
    let selections = select_all(&as_utf8, &contracts, D.parse().unwrap(), &Seal::new()).unwrap();
    let file = selections[Dataset::Registry as usize].files().next().unwrap().clone();
    let (status, name) = (registry.column_index("status").unwrap(), registry.column_index("name").unwrap());
    let batch = file.read_enumerated(registry, &[status]).unwrap().next().unwrap().unwrap();
    assert_eq!(batch.column(status).data_type(), &crate::base::landing_file::enumerated_type());
    assert_eq!(batch.column(name).data_type(), &DataType::Utf8);
    let dictionaries = inputs(&as_utf8, D).unwrap();

    let (_t2, as_large) = wh();
    let large: Vec<Field> = crate::base::contract::jobs_schema(Dataset::Registry)
        .fields()
        .iter()
        .map(|f| match registry.column(f.name()).is_some_and(|c| c.one_of.is_some()) {
            true => f.as_ref().clone().with_data_type(DataType::LargeUtf8),
            false => f.as_ref().clone(),
        })
        .collect();
    land_with_schema(&as_large, Dataset::Registry, D, "p", Arc::new(Schema::new(large)), &refs);
    let text = inputs(&as_large, D).unwrap();

    assert_eq!(
        codes(&dictionaries.registry),
        vec![
            (1, "missing_required"),
            (2, "bad_enum"),
            (3, "bad_enum"),
            (4, "bad_enum"),
            (5, "bad_range"),
            (7, "bad_enum")
        ]
    );
    assert_eq!(dictionaries.registry.rejects, text.registry.rejects);
    for column in ["entity_type", "status", "industry"] {
        assert_eq!(strings(&dictionaries.registry, column), strings(&text.registry, column), "{column}");
    }
}
