//! datasets.md's row and key rules as DataFusion plans: the SQL below is
//! generated from the contracts, one `CASE` per dataset that lists the
//! rules in the spec's order, with the value tests and message pieces as
//! the UDFs every credence session registers (`base::engine`). The landing
//! rows are a [`LandingScan`] of the chosen files: the native validation's
//! reader, as a DataFusion table a Ballista cluster can run.
//!
//! The verdicts (each rejected row's code and message, the data-quality
//! figures) are the native validation's, row for row and byte for byte:
//! `run::validate_tests` runs both on every fixture and compares them, and
//! `run --validation-plans` compares them on a run's landing zone. By
//! default the native validation makes the tables a run reads (it is
//! faster and holds less); with `--plans-make-tables` these plans judge
//! every dataset and make every table but the registry's, whose accepted
//! rows the run reads itself as the plans judge them ([`judge_registry`]).
//!
//! What each dataset's plan computes, per landing row (`_row` numbers the
//! rows in read order as the native validation does; `_partition` and
//! `_ingest_date` say where the row came from):
//!
//! 1. `_rule`: the first row rule the row breaks (`missing_required` to
//!    `future_date`, columns in contract order within a code), its code
//!    (`_rule_code`) and its message; from here on a row carries only
//!    the columns the later steps read (its key, its entity and case,
//!    the shares);
//! 2. `_copies`: how many rows of its partition share its key, from the
//!    keys held more than once (a key with a null column is in no group),
//!    a table of their own made first (`copies`: few rows, whose count the
//!    planner then knows), joined back after step 4's joins. The hashes
//!    (`key_hash`, a number) held by more than one landing row, in any
//!    partition, are found first (`repeated_hashes`, a sort of the
//!    hashes): only their rows are grouped by their values. When the
//!    plans make a run's tables or give the registry's rejects
//!    (`--plans-make-tables`), those hashes go to a file instead, and a
//!    row whose key hash is among them (`key_hash_in`, no join) is
//!    contested (its key may have copies in its partition, or other
//!    versions): it is judged but for its copies and set aside, and the
//!    copies are then counted among the rows set aside (0.9M of 15.4M
//!    violations at 10M entities), which are judged again
//!    (`alike_judged_sql`, `registry_rejects_sql`; the holdings' checked
//!    rows, `write_checked`): no second read of the landing rows' keys;
//! 3. `_held`: the shares held in its owned entity by rows that passed
//!    1–2, from the entities held over 100 (holdings), their shares
//!    summed by the entity id's packed bits (`entity_bits`) in sorted
//!    runs (`sums_over`): a table made first (`held`);
//! 4. whether its entity is among the accepted registry rows (their ids'
//!    bits), and whether
//!    its case is the newest accepted version of a violation of the same
//!    entity (repairs);
//! 5. `_code` and `_message`: the first of these that applies.

//!
//! Where each part is: [`rules`] (step 1's rules as SQL), [`keys`] (step
//! 2's tables), [`judged`] (a dataset's plan, steps 1–5), [`verdicts`]
//! (every dataset judged, to compare with the native validation), and for
//! `--plans-make-tables` [`registry`] (its rejects), [`events`] (an event
//! dataset's table) and [`holdings`] (their rejects and shares); here,
//! what they share.

mod events;
mod holdings;
mod judged;
mod keys;
mod registry;
mod rules;
mod verdicts;

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, UInt64Type};
use datafusion::error::DataFusionError;

pub use self::events::judge_into_table;
pub use self::holdings::judge_holdings;
use self::holdings::write_checked;
use self::judged::{checked_table, held_sql, judged_sql_keeping, HELD, KNOWN_CASES};
use self::keys::write_alike_hashes;
pub use self::registry::judge_registry;
use self::rules::col;
pub use self::verdicts::{judge_inputs, Verdicts};
use crate::base::contract::{Contract, Dataset, FaultCode};
use crate::base::engine::landing_scan::LandingScan;
use crate::base::engine::planning::{Planned, Settings};
use crate::base::engine::registered::RegisteredIds;
use crate::base::engine::Engine;
use crate::base::landing_file::Selection;
use crate::base::tables::{Reject, Rows, Validated, ENTITY_IDX};

/// Validation by plans failed: the engine failed (out of memory, say), or
/// a landing file could not be read by the landing scan.
#[derive(Debug, thiserror::Error)]
#[error("validating {dataset} by plans: {source}{hint}", hint = crate::base::engine::memory_hint(source))]
pub struct PlanError {
    pub dataset: Dataset,
    pub source: DataFusionError,
}

impl crate::base::error::Classify for PlanError {
    fn kind(&self) -> crate::base::error::ErrorKind {
        self.source.kind()
    }
}

/// What [`prepare_judged`] leaves: the judged view and the tables it
/// reads, registered until the caller is done (those written in files
/// under `scratch`).
struct Prepared {
    judged: String,
    scratch: tempfile::TempDir,
    /// The phases logged so far (the first steps', each when done).
    phases: crate::base::telemetry::Phases,
    /// How the plans are planned, until the caller is done.
    planning: Planned,
}

/// How many of `selection`'s rows were accepted, given its `rejects`.
fn accepted_of(selection: &Selection, rejects: &[Reject]) -> Result<u64, DataFusionError> {
    selection.rows().checked_sub(rejects.len() as u64).ok_or_else(|| {
        DataFusionError::Internal(format!(
            "{} rejects of {} landing rows: the engine read some rows twice",
            rejects.len(),
            selection.rows()
        ))
    })
}

/// The first steps of the plans that make a run's tables: registers the
/// landing table, writes the key hashes held twice (for `key_hash_in`),
/// registers the checked rows' view and its tables if the dataset has
/// one ([`write_checked`]), the known cases if its rows name a case (from
/// `violations`' table) and the judged view, which keeps the `keep`
/// columns and each row's entity index (looked up among `registered`),
/// and leaves the session planned as the plans are ([`plans_planning`])
/// while the caller holds the result.
async fn prepare_judged(
    engine: &Engine,
    contract: &Contract,
    selection: &Selection,
    keep: &[&str],
    registered: &RegisteredIds,
    violations: Option<&Validated>,
) -> Result<Prepared, DataFusionError> {
    let (ctx, dataset) = (engine.ctx(), contract.dataset);
    let mut phases = crate::base::telemetry::Phases::start("validation_plans");
    let planning = plans_planning(engine, selection.rows().max(registered.count() as u64));
    register_landing(engine, contract, selection)?;
    if let Some(uc) = contract.unknown_case {
        let Some(Validated { rows: Rows::File { path, .. }, schema, .. }) = violations else {
            return Err(DataFusionError::Internal(format!(
                "{dataset}: its cases are judged against the violations' table the plans made"
            )));
        };
        engine.register_arrow_files(CURRENT_VIOLATIONS, schema.clone(), path)?;
        let named = col(&contract.columns[uc].name);
        create_table(engine, KNOWN_CASES, &current_cases_sql(&named, &landing_table(dataset))).await?;
        ctx.deregister_table(CURRENT_VIOLATIONS)?;
        phases.done(&format!("{dataset}: known cases"));
    }
    let scratch = engine.scratch()?;
    // A key's copies are counted among the contested rows alone: an event
    // dataset's after its rows are judged, among the rows its judged pass
    // sets aside ([`judge_into_table`]); the holdings' as their checked
    // rows are written ([`write_checked`]).
    let alike = write_alike_hashes(engine, contract, &scratch.path().join("alike-hashes")).await?;
    phases.done(&format!("{dataset}: key hashes held twice"));
    if let Some(table) = checked_table(contract) {
        write_checked(engine, contract, keep, &alike, &table, scratch.path()).await?;
        phases.done(&format!("{dataset}: checked rows"));
    }
    if let Some(sql) = held_sql(contract) {
        engine.create_counted_table(HELD, ctx.sql(&sql).await?).await?;
        phases.done(&format!("{dataset}: entities held over 100"));
    }
    let judged = format!("judged_{dataset}");
    let sql = judged_sql_keeping(contract, keep, Some(registered), Some(&alike));
    ctx.sql(&format!("CREATE OR REPLACE VIEW {judged} AS {sql}")).await?;
    Ok(Prepared { judged, scratch, phases, planning })
}

/// The violations' table the plans made, while the known cases are read from it.
const CURRENT_VIOLATIONS: &str = "current_violations";

/// The known violations whose case a landing row of `landing` names (its
/// column `named`): each case's newest accepted version is the one row
/// the violations' table the plans made holds of it, with the index of
/// its entity (`known_entity`), which a row's own entity index is then
/// compared with. The named cases, at most the landing rows, are the
/// join's build side (the left of a RIGHT SEMI JOIN).
fn current_cases_sql(named: &str, landing: &str) -> String {
    format!(
        "SELECT case_id AS known_case, {ENTITY_IDX} AS known_entity\n\
         FROM (SELECT {named} AS named_case FROM {landing}) RIGHT SEMI JOIN {CURRENT_VIOLATIONS} ON case_id = named_case"
    )
}

/// How validation's plans are planned (dropped, the session's settings
/// are restored: the run's later plans are planned as before).
///
/// In one process (the local engine):
///
/// - joins unpartitioned: a join's build side (the registry's ids, a
///   partition's key copies) is built once and probed by every thread,
///   and the probe side, every row of a dataset, is not first copied into
///   partitions by the hash of its key (at 10M, the plans took 31.0–31.2 s
///   against 35.0–35.2 s);
/// - an aggregate's partial step passes its rows on unaggregated when its
///   groups are more than half its rows, as the shares held per entity
///   are (9.2M entities for 13.6M holdings at 10M): the final step groups
///   them once, where both steps did (at 10M the holdings' plans took
///   6.65 s against 7.24 s on average, faster in seven of eight
///   interleaved pairs).
///
/// On a cluster (where every row an aggregate passes on would cross the
/// network, and every task of an unpartitioned join would hold a whole
/// build side): hash joins partitioned by the key
/// ([`Settings::cluster_hash_joins`]; at 10M the plans took 40.3–44.8 s
/// against 74.4–80.4 s with sort-merge joins on two one-thread
/// executors). Every build side is the left one as written, none with
/// more rows than the largest landing dataset (`largest_rows`), and all
/// but one hold each key once (the registry's ids, the keys and hashes
/// held twice, the entities held over 100, the known cases); the cases
/// the repairs name may repeat, but are at most the repairs' rows.
fn plans_planning(engine: &Engine, largest_rows: u64) -> Planned {
    match engine.is_local() {
        true => Planned::set(engine.ctx(), |now| Settings { repartition_joins: false, skip_partial_above: 0.5, ..now }),
        false => Planned::set(engine.ctx(), |now| now.cluster_hash_joins(largest_rows)),
    }
}

fn landing_table(dataset: Dataset) -> String {
    format!("landing_{}", dataset.name())
}

/// Registers the selection's rows as `landing_<dataset>`: a
/// [`LandingScan`], which reads the chosen files with the native
/// validation's reader and numbers each row (`_row`, `_partition`,
/// `_ingest_date`) as the native validation does.
fn register_landing(engine: &Engine, contract: &Contract, selection: &Selection) -> Result<(), DataFusionError> {
    let table = landing_table(contract.dataset);
    engine.ctx().deregister_table(&table)?;
    engine.ctx().register_table(table, Arc::new(LandingScan::new(contract, selection)))?;
    Ok(())
}

/// What a dataset's plans held, let go once its verdicts are in: its
/// `tables`, the key hashes `key_hash_in` read, and its `scratch` folder;
/// what they freed goes back to the system before the next dataset's
/// plans (glibc keeps it otherwise).
fn let_go(engine: &Engine, tables: &[&str], scratch: tempfile::TempDir) -> Result<(), DataFusionError> {
    for t in tables {
        engine.ctx().deregister_table(*t)?;
    }
    crate::base::engine::alike_hashes::forget();
    drop(scratch);
    crate::base::engine::return_free_memory();
    Ok(())
}

/// The rows of `sql`, registered as table `name` for the later datasets'
/// plans ([`Engine::create_table`]).
async fn create_table(engine: &Engine, name: &str, sql: &str) -> Result<(), DataFusionError> {
    engine.create_table(name, engine.ctx().sql(sql).await?).await
}

/// The rejects among `batch`'s rows, whose first three columns are
/// `_row`, `_code` and `_message`: those with a code.
fn rejects_in(batch: &arrow::array::RecordBatch) -> Result<Vec<Reject>, DataFusionError> {
    let rows = arrow::compute::cast(batch.column(0), &DataType::UInt64)?;
    let rows = rows.as_primitive::<UInt64Type>();
    // The engine may give text as any of Arrow's string types.
    let codes = arrow::compute::cast(batch.column(1), &DataType::Utf8)?;
    let messages = arrow::compute::cast(batch.column(2), &DataType::Utf8)?;
    let (codes, messages) = (codes.as_string::<i32>(), messages.as_string::<i32>());
    let mut out = Vec::new();
    for i in (0..batch.num_rows()).filter(|i| codes.is_valid(*i)) {
        let code = FaultCode::ALL
            .into_iter()
            .find(|c| c.as_str() == codes.value(i))
            .ok_or_else(|| DataFusionError::Internal(format!("a plan gave code {}", codes.value(i))))?;
        let message = if messages.is_null(i) { String::new() } else { messages.value(i).to_string() };
        out.push(Reject { row: rows.value(i), code, message });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::events::{
        alike_judged_sql, judged_once_into_table_sql, newest_current_sql, newest_rows_sql, NEWEST_ROWS,
    };
    use super::holdings::{checked_parts, checked_split_sql, checked_view_sql, rejects_and_shares_sql};
    use super::judged::{accepted_columns, checked_sql, copies_join, copies_on, judged_sql};
    use super::keys::{alike_hashes_sql, copies_among_sql, copies_sql, hashed_alike_sql, HASHED_ALIKE};
    use super::registry::{registry_aside_sql, registry_rejects_sql};
    use super::verdicts::{
        judged_once_sql, known_cases_sql, naming_cases, registered_sql, several_versions_sql, versions_sql, ORDER,
        SEVERAL_VERSIONS,
    };
    use super::*;
    use crate::base::contract::{Contracts, DatasetKind};
    use crate::base::engine::alike_hashes::AlikeHashes;

    #[test]
    fn the_local_plans_settings_are_set_and_left_as_they_were_found() {
        let engine = Engine::local(crate::base::engine::EngineLimits::default()).unwrap();
        let defaults = Planned::read(engine.ctx());
        assert_eq!((defaults.repartition_joins, defaults.skip_partial_above), (true, 0.8), "DataFusion's defaults");
        let local = plans_planning(&engine, 1 << 30);
        assert_eq!(
            Planned::read(engine.ctx()),
            Settings { repartition_joins: false, skip_partial_above: 0.5, ..defaults },
            "no partitions added, whatever the rows"
        );
        drop(local);
        assert_eq!(Planned::read(engine.ctx()), defaults, "the run's later plans are planned as before");
    }

    #[test]
    fn a_pool_too_small_for_the_plans_says_whose_memory_to_raise() {
        use crate::base::error::{Classify, ErrorKind};
        let local = PlanError {
            dataset: Dataset::Violations,
            source: DataFusionError::ResourcesExhausted("Failed to allocate for HashJoinInput[0]".into()),
        };
        let text = local.to_string();
        assert!(text.starts_with("validating violations by plans: Resources exhausted"), "{text}");
        assert!(text.contains("raise --memory-limit"), "{text}");
        // As a Ballista job's failure reaches the driver.
        let cluster = PlanError {
            dataset: Dataset::Violations,
            source: DataFusionError::Execution(
                "Job 038JAKZWR4000 failed: Job failed due to stage 7 failed: Task failed due to runtime execution \
                 error: DataFusionError(Shared(ResourcesExhausted(\"Failed to allocate additional 136.0 MB for \
                 HashJoinInput[0]\")))"
                    .into(),
            ),
        };
        let text = cluster.to_string();
        assert!(text.contains("HashJoinInput") && text.contains("raise the executors' --memory-limit"), "{text}");
        assert_eq!((local.kind(), cluster.kind()), (ErrorKind::Input, ErrorKind::Input));
        let other = PlanError { dataset: Dataset::Holdings, source: DataFusionError::Plan("no such column".into()) };
        assert!(!other.to_string().contains("--memory-limit"), "{other}");
    }

    /// The plans' SQL, for a reader to check against datasets.md:
    /// `tests/golden/validation-plans.sql` (`UPDATE_GOLDEN=1` rewrites it).
    #[test]
    fn the_plans_sql_is_the_golden_file() {
        let contracts = Contracts::load().unwrap();
        let mut sql =
            String::from("-- Validation's plans, generated from the contracts (src/stages/validate/plans/).\n\
                          -- key_hash(...) is a 64-bit hash of its values: it only narrows the rows then grouped by\n\
                          -- their values. entity_bits(id) is an entity id's packed bits: exact (src/base/engine/key_forms.rs).\n");
        for d in ORDER {
            let contract = contracts.get(d);
            let _ = write!(
                sql,
                "\n-- {d}: the key hashes held twice, then the keys held twice, first (tables whose row counts the planner knows)\nCREATE TABLE {HASHED_ALIKE} AS\n{};\nCREATE TABLE copies AS\n{};\n",
                hashed_alike_sql(contract),
                copies_sql(contract)
            );
            if let Some(table) = checked_table(contract) {
                let _ = write!(
                    sql,
                    "\n-- {d}: steps 1-2 first, read twice below\nCREATE TABLE {table} AS\n{};\n",
                    checked_sql(contract)
                );
            }
            if let Some(held) = held_sql(contract) {
                let _ = write!(sql, "-- {d}: step 3, the entities held over 100\nCREATE TABLE {HELD} AS\n{held};\n");
            }
            let _ = write!(sql, "\n-- {d}\nCREATE VIEW judged_{d} AS\n{};\n", judged_sql(contract));
            let kept = accepted_columns(contract);
            let _ = write!(
                sql,
                "-- run once: {}\n{};\n",
                match kept.is_empty() {
                    true => "its rows are the rejects".to_string(),
                    false => format!(
                        "the rejects are its rows with _code IS NOT NULL; accepted_{d} keeps the others' {}",
                        kept.join(", ")
                    ),
                },
                judged_once_sql(&format!("judged_{d}"), &kept)
            );
            if contract.kind == DatasetKind::Event {
                let accepted = format!("accepted_{d}");
                let _ = write!(
                    sql,
                    "-- its current rows: the key hashes held by several rows ({SEVERAL_VERSIONS}), then those rows' keys and count\n{};\n{};\n",
                    versions_sql(contract, &accepted),
                    several_versions_sql(contract, &accepted)
                );
            }
        }
        let _ = write!(
            sql,
            "\n-- the accepted registry rows, for unknown_entity\nCREATE TABLE registered AS {};\n",
            registered_sql("accepted_registry")
        );
        let _ = write!(
            sql,
            "\n-- the known violations, for unknown_case\nCREATE TABLE known_cases AS {};\n",
            known_cases_sql("accepted_violations", &naming_cases(&contracts))
        );
        // --plans-make-tables, with columns a policy may keep.
        let registered = RegisteredIds::at("/run/plans/registered-ids", 0);
        let registry = contracts.get(Dataset::Registry);
        let alike = AlikeHashes::at("/run/plans/alike-hashes", 0);
        let _ = write!(
            sql,
            "\n-- With --plans-make-tables, the plans judge the registry, and the run reads its accepted rows as they do\n\
             -- (it numbers the entities and writes the registry mart itself); only the rejects reach the run.\n\
             -- The key hashes held twice, one list the run writes for key_hash_in (alike-hashes):\n{};\n\
             -- every row judged but for its key's copies:\nCREATE VIEW judged_registry AS\n{};\n\
             -- its rejects, and the rows whose key hash other rows hold:\nCREATE TABLE alike_registry AS\n{};\n\
             -- the keys held twice among the latter, then the rejects, those rows judged again:\nCREATE TABLE copies AS\n{};\n{};\n\
             -- then the plans make the violations', repairs', complaints' and holdings' tables,\n\
             -- looking each entity up in the registered ids the run wrote (entity_index), with no join.\n",
            alike_hashes_sql(registry),
            judged_sql_keeping(registry, &[], None, Some(&alike)),
            registry_aside_sql(registry, "judged_registry"),
            copies_among_sql(registry, "(SELECT * FROM alike_registry WHERE _contested)"),
            registry_rejects_sql(registry, "alike_registry")
        );
        let kept = [
            (Dataset::Violations, &["case_id", "decided_on", "category", "severity", "status"][..]),
            (Dataset::Repairs, &["repair_id", "case_id", "approved_on"][..]),
            (Dataset::Complaints, &["complaint_id", "received_on", "verified", "outcome"][..]),
            (Dataset::Holdings, &["holder_id", "holder_kind", "share_pct"][..]),
        ];
        for (d, keep) in kept {
            let contract = contracts.get(d);
            if let Some(uc) = contract.unknown_case {
                let _ = write!(
                    sql,
                    "\n-- {d}: the known violations, from the violations' table made above ({CURRENT_VIOLATIONS})\nCREATE TABLE {KNOWN_CASES} AS\n{};\n",
                    current_cases_sql(&col(&contract.columns[uc].name), &landing_table(d))
                );
            }
            let alike = AlikeHashes::at("/run/plans/alike-hashes", 0);
            let _ = write!(
                sql,
                "\n-- {d}: the key hashes held twice, one list the run writes for key_hash_in (alike-hashes)\n{};\n",
                alike_hashes_sql(contract)
            );
            if let Some(table) = checked_table(contract) {
                let (settled, aside, contested) = checked_parts(d);
                let (split, _, _) = checked_split_sql(contract, keep, &alike);
                let _ = write!(
                    sql,
                    "\n-- {d}: steps 1-2 first, run once: the rows with _aside null are {settled} (the columns to _rule_message),\n\
                     -- those with _settled null are set aside ({aside}: the columns to _ingest_date)\n{split};\n\
                     -- the keys held twice among the rows set aside, then those rows with their copies ({contested})\n\
                     CREATE TABLE copies AS\n{};\nCREATE TABLE {contested} AS\n{};\n\
                     -- both, read twice below\nCREATE VIEW {table} AS\n{};\n",
                    copies_among_sql(contract, &aside),
                    copies_join(&aside, &copies_on(contract)),
                    checked_view_sql(contract, keep, &settled, &contested)
                );
            }
            if let Some(held) = held_sql(contract) {
                let _ = write!(sql, "-- {d}: step 3, the entities held over 100\nCREATE TABLE {HELD} AS\n{held};\n");
            }
            let alike = Some(alike);
            let _ = write!(
                sql,
                "\n-- {d}, keeping {}\nCREATE VIEW judged_{d} AS\n{};\n",
                keep.join(", "),
                judged_sql_keeping(contract, keep, Some(&registered), alike.as_ref())
            );
            match contract.kind {
                DatasetKind::Event => {
                    let (contested, alike) = (format!("contested_{d}"), format!("alike_{d}"));
                    let (once, _, _) = judged_once_into_table_sql(contract, &format!("judged_{d}"), keep);
                    let _ = write!(
                        sql,
                        "-- run once: the rows with _aside null are current rows (current_{d}: the kept\n\
                         -- columns and entity_idx), those with _settled null are set aside ({alike}: _row, _code, _message, _ruled,\n\
                         -- _partition, _ingest_date, those, the key), and the others are rejects\n\
                         {once};\n\
                         -- the keys held twice among the rows set aside, then those rows judged again with their copies:\n\
                         -- the rejects are its rows with _rejected, the others {contested} (_row, those, the key)\n\
                         CREATE TABLE copies AS\n{};\n{};\n\
                         -- the newest row of each contested key, current too\n\
                         CREATE TABLE {NEWEST_ROWS} AS\n{};\n{};\n",
                        copies_among_sql(contract, &alike),
                        alike_judged_sql(contract, &alike, keep),
                        newest_rows_sql(contract, &contested),
                        newest_current_sql(contract, &contested, keep)
                    );
                }
                DatasetKind::Snapshot => {
                    let _ = write!(
                        sql,
                        "-- run once: its rejects, and the shares between registered entities\n{};\n",
                        rejects_and_shares_sql(&format!("judged_{d}"), &registered)
                    );
                }
            }
        }
        let path = crate::repo_root().join("tests/golden/validation-plans.sql");
        if std::env::var("UPDATE_GOLDEN").is_ok() {
            std::fs::write(&path, &sql).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap();
        let first = golden.lines().zip(sql.lines()).position(|(g, s)| g != s);
        assert!(
            golden == sql,
            "{} differs at line {:?} (UPDATE_GOLDEN=1 rewrites it):\n- {:?}\n+ {:?}",
            path.display(),
            first.map(|n| n + 1),
            first.and_then(|n| golden.lines().nth(n)),
            first.and_then(|n| sql.lines().nth(n)),
        );
    }
}
