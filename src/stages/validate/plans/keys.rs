//! Step 2's tables, made before a dataset's rows are judged: the key
//! hashes more than one landing row holds (`hashed_alike`), then the
//! keys of those rows with their copies in each partition (`copies`).

use datafusion::error::DataFusionError;

use super::rules::col;
use super::{landing_table, Engine};
use crate::base::contract::Contract;

/// Step 2, as a query of its own: the keys held by more than one row of
/// a partition, with how many (`_copies`). They are few, and are found
/// among the rows whose key hashes alike (sorting numbers, not grouping
/// text), then counted by their values; a key with a null column is in
/// no group. Their table ([`Engine::create_counted_table`]) tells the
/// planner how few they are, so that a cluster sends them to every task
/// of the join instead of every row to the task of its key.
///
/// With `every_alike`, every key of those rows is kept, also those held
/// once in their partition (`_copies` 1): a row then finds its key here
/// exactly when other landing rows hold its key's hash (it is contested,
/// [`super::judged_sql_keeping`]), so one join, not two, tells both.
pub(super) fn copies_sql(contract: &Contract, every_alike: bool) -> String {
    let (table, key, complete, hashed) = complete_keys(contract);
    let shared: Vec<String> = key.iter().enumerate().map(|(i, k)| format!("{k} AS _key{i}")).collect();
    let having = if every_alike { "" } else { "\n  HAVING count(*) > 1" };
    format!(
        "SELECT _partition AS _key_partition, {}, count(*) AS _copies\n  FROM {HASHED_ALIKE} RIGHT SEMI JOIN {table} ON _alike = {hashed}\n  WHERE {complete}\n  GROUP BY _partition, {}{having}",
        shared.join(", "),
        key.join(", ")
    )
}

/// The table of the key hashes held by more than one landing row.
pub(super) const HASHED_ALIKE: &str = "hashed_alike";

/// The key hashes held by more than one landing row, in any partition
/// (`repeated_hashes`, a sort of the hashes): those of a key's copies in
/// a partition and of its versions across partitions. Made before
/// [`copies_sql`] as a counted table: few (0.44M of 15.4M violations at
/// 10M entities), so that a cluster sends them to every task of the
/// join that finds their rows.
pub(super) fn hashed_alike_sql(contract: &Contract) -> String {
    let (table, _, complete, hashed) = complete_keys(contract);
    format!("SELECT unnest(_repeated) AS _alike\n  FROM (SELECT repeated_hashes({hashed}) AS _repeated FROM {table}\n    WHERE {complete})")
}

/// Step 2's tables, `hashed_alike` and then `copies` ([`copies_sql`],
/// with `every_alike`), as counted tables.
pub(super) async fn make_key_tables(
    engine: &Engine,
    contract: &Contract,
    every_alike: bool,
) -> Result<(), DataFusionError> {
    for (table, sql) in [(HASHED_ALIKE, hashed_alike_sql(contract)), ("copies", copies_sql(contract, every_alike))] {
        let rows = engine.ctx().sql(&sql).await?;
        engine.create_counted_table(table, rows).await?;
    }
    Ok(())
}

/// A dataset's landing table, its key's columns, the condition that they
/// are all present, and the key's hash (in any partition: the rows of a
/// hash held once are neither copies within a partition nor versions
/// across them).
fn complete_keys(contract: &Contract) -> (String, Vec<String>, String, String) {
    let key: Vec<String> = contract.key.iter().map(|k| col(contract.columns[*k].name.as_str())).collect();
    let complete: Vec<String> = key.iter().map(|k| format!("{k} IS NOT NULL")).collect();
    let hashed = format!("key_hash({})", key.join(", "));
    (landing_table(contract.dataset), key, complete.join(" AND "), hashed)
}
