//! The plan of one dataset, steps 1–5 of the plans' documentation
//! ([`super`]): the rows ruled, their key's copies, the shares held, the
//! lookups in the registry and the known cases, and the first code that
//! applies.

use std::fmt::Write as _;

use super::landing_table;
use super::rules::{col, concat, key_columns, row_rules, text};
use crate::base::contract::{Check, Contract, Dataset, DatasetKind, FaultCode};
use crate::base::engine::alike_hashes::AlikeHashes;
use crate::base::engine::registered::RegisteredIds;
use crate::base::tables::ENTITY_IDX;

/// Steps 1–2 as a query of its own: each landing row with the first row
/// rule it breaks (`_rule_code`, `_rule_message`) and how many rows of
/// its partition share its key (`_copies`).
pub(super) fn checked_sql(contract: &Contract) -> String {
    checked_sql_keeping(contract, &[])
}

/// [`checked_sql`] whose rows also carry the `keep` columns.
fn checked_sql_keeping(contract: &Contract, keep: &[&str]) -> String {
    let (steps, on) = checked_steps(contract, keep);
    format!("WITH {steps}\n{}", copies_join("ruled", &on))
}

/// Step 1, the `ruled` step, and the condition that joins a partition's
/// key copies (the table [`super::keys::copies_sql`] makes) to its rows.
pub(super) fn checked_steps(contract: &Contract, keep: &[&str]) -> (String, String) {
    let rules = row_rules(contract);
    let table = landing_table(contract.dataset);
    // 1. The first row rule broken, its code and its message: from here
    // on, a row carries only the columns the later steps read. A `CASE
    // _rule WHEN n` sets the rows that break no rule aside at once (its
    // value is null), where `WHEN _rule = n` would test each of them for
    // every rule.
    let mut first_rule = String::from("CASE");
    let (mut rule_code, mut rule_message) = (String::from("CASE _rule"), String::from("CASE _rule"));
    for (n, r) in rules.iter().enumerate() {
        let _ = write!(first_rule, "\n          WHEN {} THEN {n}", r.when);
        let _ = write!(rule_code, "\n      WHEN {n} THEN {}", text(r.code.as_str()));
        let _ = write!(rule_message, "\n      WHEN {n} THEN {}", r.message);
    }
    first_rule.push_str("\n        END");
    rule_code.push_str("\n    END");
    rule_message.push_str("\n    END");
    let carried = carried_sql(contract, keep);
    let ruled = format!(
        "ruled AS (\n  SELECT {}, _row, _partition, _ingest_date,\n    {rule_code} AS _rule_code,\n    {rule_message} AS _rule_message\n  FROM (SELECT *,\n        {first_rule} AS _rule\n      FROM {table}))",
        carried.join(", ")
    );
    (ruled, copies_on(contract))
}

/// The condition that joins a partition's key copies (`c`, a table
/// [`super::keys::copies_sql`] makes) to its rows (`l`).
pub(super) fn copies_on(contract: &Contract) -> String {
    let on: Vec<String> = key_columns(contract).iter().enumerate().map(|(i, k)| format!("l.{k} = c._key{i}")).collect();
    format!("l._partition = c._key_partition AND {}", on.join(" AND "))
}

/// The rows of `input` with their key's copies (`_copies`, null for a key
/// held once).
pub(super) fn copies_join(input: &str, on: &str) -> String {
    format!("SELECT l.*, c._copies\n  FROM copies c RIGHT JOIN {input} l ON {on}")
}

/// The contract columns a row carries past the row rules, in contract
/// order: its key, the columns the later rules and their messages read,
/// and those kept of the accepted rows.
fn carried(contract: &Contract, keep: &[&str]) -> Vec<usize> {
    let mut columns = contract.key.clone();
    columns.extend(keep.iter().filter_map(|k| contract.column_index(k)));
    if let Some(s) = &contract.shares_over_100 {
        columns.extend([s.group_by, s.column]);
    }
    columns.extend(contract.unknown_entity);
    columns.extend(contract.unknown_case);
    for kept in accepted_columns(contract) {
        columns.extend(contract.columns.iter().position(|c| c.name == kept));
    }
    columns.sort_unstable();
    columns.dedup();
    columns
}

/// The [`carried`] columns, quoted.
pub(super) fn carried_sql(contract: &Contract, keep: &[&str]) -> Vec<String> {
    carried(contract, keep).iter().map(|c| col(&contract.columns[*c].name)).collect()
}

/// The table a dataset's [`checked_sql`] is written to first, when its
/// plan reads it twice (the shares held are summed from it, then joined
/// back to it): DataFusion would otherwise judge every row twice.
pub(super) fn checked_table(contract: &Contract) -> Option<String> {
    contract.shares_over_100.as_ref().map(|_| format!("checked_{}", contract.dataset))
}

/// The message of a row whose key its partition holds `_copies` times.
fn duplicate_message(contract: &Contract) -> String {
    let names: Vec<&str> = contract.key.iter().map(|k| contract.columns[*k].name.as_str()).collect();
    let quoted: Vec<String> = names.iter().map(|k| format!("quoted({})", col(k))).collect();
    concat(&[
        &text(&format!("key ({}) = (", names.join(", "))),
        &quoted.join(", ', ', "),
        "') appears '",
        "CAST(_copies AS VARCHAR)",
        "' times in partition ingest_date='",
        "CAST(_ingest_date AS VARCHAR)",
    ])
}

/// The plan of one dataset: every landing row with `_code` (null: the row
/// is accepted) and `_message`, and the contract's columns. Steps 1–5 of
/// the module's documentation are its common table expressions (steps
/// 1–2 read from their table when [`checked_table`] names one).
pub(super) fn judged_sql(contract: &Contract) -> String {
    judged_sql_keeping(contract, &[], None, None)
}

/// [`judged_sql`] whose rows also carry the `keep` columns and, for a
/// dataset whose rows name an entity, that entity's index (`entity_idx`):
/// the plan of a run's table ([`super::judge_into_table`]). With `registered`,
/// an entity is looked up among those ids where its row is judged
/// (`entity_index`) instead of joined with the `registered` table. With
/// `alike` (`--plans-make-tables`: an event dataset's table, the
/// registry's rejects), a row whose key hash other landing rows hold is
/// contested and judged but for its copies.
pub(super) fn judged_sql_keeping(
    contract: &Contract,
    keep: &[&str],
    registered: Option<&RegisteredIds>,
    alike: Option<&AlikeHashes>,
) -> String {
    let mut steps: Vec<String> = Vec::new();
    // 1–2, as steps of this query or from their table.
    let (checked, copies_on) = match checked_table(contract) {
        Some(table) => (table, None),
        None => {
            let (checked, on) = checked_steps(contract, keep);
            steps.push(checked);
            ("ruled".to_string(), Some(on))
        }
    };
    // 3–4, each a step reading the one before.
    let lookups = Lookups::plan(contract, registered, copies_on, alike);
    let mut last = checked;
    for (n, (table, join)) in lookups.joins.iter().enumerate() {
        let step = if n + 1 == lookups.joins.len() { "found".to_string() } else { format!("with_{table}") };
        steps.push(format!("{step} AS (\n  {})", join(&last)));
        last = step;
    }
    // 5.
    let (code, message) = first_code(contract, registered.is_some(), &lookups);
    let mut columns: Vec<String> = carried_sql(contract, keep);
    if !keep.is_empty() && contract.unknown_entity.is_some() {
        columns.push(format!("registered_idx AS {ENTITY_IDX}"));
    }
    if lookups.contested {
        columns
            .extend(["_contested", "_rule_code IS NOT NULL AS _ruled", "_partition", "_ingest_date"].map(String::from));
    }
    format!(
        "WITH {}\nSELECT {}, _row,\n    {code} AS _code,\n    {message} AS _message\nFROM {last}",
        steps.join(",\n"),
        columns.join(", ")
    )
}

/// A step of step 4's lookups, given the name of the step it reads.
type Join = Box<dyn Fn(&str) -> String>;

/// Step 3's and step 4's lookups of a dataset's plan, in the order they
/// are joined, and what step 5 reads of them.
struct Lookups {
    joins: Vec<(&'static str, Join)>,
    /// The condition of a row whose entity is not registered (empty for
    /// a dataset whose rows name no entity).
    unregistered: &'static str,
    /// Whether a row's key copies are left to be counted among the rows
    /// whose key hash other rows hold (`_contested`).
    contested: bool,
}

impl Lookups {
    /// Against the registry and the known violations, then the entities
    /// held over 100 and a partition's key copies. Each join's build side
    /// is written as the left (RIGHT JOIN): the registry's ids and the
    /// known cases, which are fewer than most datasets' rows; the planner
    /// swaps the sides when the landing rows are fewer (it knows their
    /// count), as the repairs' are. The entities held over 100 and a
    /// partition's key copies, tables made before the plan, are joined
    /// last.
    fn plan(
        contract: &Contract,
        registered: Option<&RegisteredIds>,
        copies_on: Option<String>,
        alike: Option<&AlikeHashes>,
    ) -> Lookups {
        fn right_join(table: &'static str, on: String) -> Join {
            Box::new(move |input| format!("SELECT * FROM {table} RIGHT JOIN {input} ON {on}"))
        }
        let name = |ci: usize| contract.columns[ci].name.as_str();
        let mut joins: Vec<(&'static str, Join)> = Vec::new();
        // The registry's accepted ids are valid entity ids, held as their
        // bits: text that does not pack is in it no more than text that
        // packs to bits of no registered id. With `registered`, an entity
        // is looked up among those ids where its row is judged.
        let unregistered = match (contract.unknown_entity, registered) {
            (Some(ue), Some(ids)) => {
                let index = ids.index_of(&col(name(ue)));
                let step: Join =
                    Box::new(move |input: &str| format!("SELECT *, {index} AS registered_idx FROM {input}"));
                joins.push(("registered", step));
                "registered_idx IS NULL"
            }
            (Some(ue), None) => {
                let on = format!("entity_bits({}) = registered_id", col(name(ue)));
                joins.push(("registered", right_join("registered", on)));
                "registered_id IS NULL"
            }
            (None, _) => "",
        };
        if let Some(uc) = contract.unknown_case {
            joins.push((KNOWN_CASES, right_join(KNOWN_CASES, format!("{} = known_case", col(name(uc))))));
        }
        if let Some(s) = &contract.shares_over_100 {
            let on = format!("{} = _held_entity", grouped(contract, s.group_by));
            joins.push((HELD, right_join(HELD, on)));
        }
        // With `alike` (the plans that make a run's tables), a row whose
        // key hash other landing rows hold is contested: its key may have
        // other versions, or copies in its partition. Such rows are judged
        // here but for their copies, which are counted among them once
        // they are set aside ([`super::judge_into_table`]); the hash is
        // looked up where the row is judged, with no join.
        let contested = alike.is_some() && copies_on.is_some();
        match (copies_on, alike) {
            (Some(_), Some(alike)) => {
                let held = alike.hold(&format!("key_hash({})", key_columns(contract).join(", ")));
                let step: Join = Box::new(move |input: &str| format!("SELECT *, {held} AS _contested FROM {input}"));
                joins.push(("alike", step));
            }
            (Some(on), None) => joins.push(("copies", Box::new(move |input: &str| copies_join(input, &on)))),
            (None, _) => {}
        }
        Lookups { joins, unregistered, contested }
    }
}

/// Step 5: the first code that applies to a row, and its message (`CASE`
/// expressions), after the row rules in the spec's order. A contested row
/// (`lookups.contested`) is judged but for its key's copies. With
/// `registered` ids, the known cases carry their entity's index
/// ([`super::current_cases_sql`]); a row of an unregistered entity was
/// rejected before its case is looked at.
fn first_code(contract: &Contract, registered: bool, lookups: &Lookups) -> (String, String) {
    let name = |ci: usize| contract.columns[ci].name.as_str();
    let mut code = String::from("CASE");
    let mut message = String::from("CASE");
    code.push_str("\n      WHEN _rule_code IS NOT NULL THEN _rule_code");
    message.push_str("\n      WHEN _rule_code IS NOT NULL THEN _rule_message");
    let mut when = |condition: &str, c: FaultCode, m: &str| {
        let _ = write!(code, "\n      WHEN {condition} THEN {}", text(c.as_str()));
        let _ = write!(message, "\n      WHEN {condition} THEN {m}");
    };
    if !lookups.contested {
        when("_copies > 1", FaultCode::DuplicateKey, &duplicate_message(contract));
    }
    if let Some(s) = &contract.shares_over_100 {
        let owned = name(s.group_by);
        when(
            &format!("_held > {}", s.max_sum),
            FaultCode::SharesOver100,
            &concat(&[
                &text(&format!("shares held in {owned} ")),
                &format!("quoted({})", col(owned)),
                "' add up to '",
                "float_text(round(_held * 1000000) / 1000000)",
                "', expected at most 100 (0.01 tolerance)'",
            ]),
        );
    }
    if let Some(ue) = contract.unknown_entity {
        when(
            lookups.unregistered,
            FaultCode::UnknownEntity,
            &concat(&[
                &text(&format!("column {}: entity ", name(ue))),
                &format!("quoted({})", col(name(ue))),
                "' is not in the registry snapshot the run uses'",
            ]),
        );
    }
    if let (Some(uc), Some(ue)) = (contract.unknown_case, contract.unknown_entity) {
        let why = "CASE WHEN known_case IS NULL THEN 'is no known violation' ELSE 'is a violation of another entity, not' END";
        let entity = if registered { "registered_idx".to_string() } else { col(name(ue)) };
        when(
            &format!("known_case IS NULL OR known_entity <> {entity}"),
            FaultCode::UnknownCase,
            &concat(&[
                &text(&format!("column {}: case ", name(uc))),
                &format!("quoted({})", col(name(uc))),
                "' '",
                why,
                "' of this row''s entity'",
            ]),
        );
    }
    code.push_str("\n    END");
    message.push_str("\n    END");
    (code, message)
}

/// The table of the entities held over 100 (step 3).
pub(super) const HELD: &str = "held";

/// Step 3, as a query of its own over the checked rows' table: the
/// entities whose shares held by rows that passed steps 1–2 add up to
/// over 100, and that sum. They are few, and their table
/// ([`crate::base::engine::Engine::create_counted_table`]) tells the planner so, so that a
/// cluster sends them to every task of the join instead of every
/// holding to the task of its entity. The shares are summed by sorting
/// them (`sums_over`) instead of by a hash table of every entity; its key
/// is an entity id's packed bits, which the embedded holdings contract
/// groups by (another column would fail to plan).
pub(super) fn held_sql(contract: &Contract) -> Option<String> {
    let (s, checked) = (contract.shares_over_100.as_ref()?, checked_table(contract)?);
    let (owned, share) = (grouped(contract, s.group_by), col(&contract.columns[s.column].name));
    Some(format!(
        "SELECT _over['key'] AS _held_entity, _over['sum'] AS _held\n  \
         FROM (SELECT unnest(sums_over({owned}, {share}, {:?})) AS _over FROM {checked}\n    \
         WHERE _rule_code IS NULL AND _copies IS NULL)",
        s.max_sum
    ))
}

/// How the rows that passed steps 1–2 are grouped by `column`: a column
/// checked as an entity id by its packed bits (exact, and a number to
/// group by), any other by its text.
fn grouped(contract: &Contract, column: usize) -> String {
    let c = &contract.columns[column];
    match c.check {
        Some(Check::EntityId) => format!("entity_bits({})", col(&c.name)),
        _ => col(&c.name),
    }
}

/// The columns of the accepted rows (`_code IS NULL`) that the queries
/// after the rejects need: the registry's entities, the violations' cases,
/// an event dataset's keys; none for the holdings.
pub(super) fn accepted_columns(contract: &Contract) -> Vec<String> {
    let names = |cols: &[&str]| cols.iter().map(|c| c.to_string()).collect();
    match contract.dataset {
        Dataset::Registry => names(&["entity_id"]),
        Dataset::Violations => names(&["case_id", "entity_id", "_row"]),
        _ if contract.kind == DatasetKind::Snapshot => Vec::new(),
        _ => contract.key.iter().map(|k| contract.columns[*k].name.clone()).collect(),
    }
}

/// The rows of `alike` (rows judged but for their key's copies, with
/// `_ruled`, `_partition` and `_ingest_date`) judged again with those
/// copies (the `copies` table): `_row`, `columns`, `_code`, `_message`.
pub(super) fn rejudged_sql(contract: &Contract, alike: &str, columns: &str) -> String {
    format!(
        "\n  SELECT _row, {columns},\n    \
         CASE WHEN _ruled THEN _code WHEN _copies IS NOT NULL THEN {} ELSE _code END AS _code,\n    \
         CASE WHEN _ruled THEN _message WHEN _copies IS NOT NULL THEN {} ELSE _message END AS _message\n  \
         FROM ({})",
        text(FaultCode::DuplicateKey.as_str()),
        duplicate_message(contract),
        copies_join(alike, &copies_on(contract))
    )
}

/// The known violations a dataset's cases are looked up in (`known_case`,
/// `known_entity`).
pub(super) const KNOWN_CASES: &str = "known_cases";
