//! Step 2's tables: the key hashes more than one landing row holds
//! (`hashed_alike`), made before a dataset's rows are judged, and the
//! keys held more than once in a partition with their copies (`copies`),
//! found among those rows.

use arrow::array::{Array, AsArray};
use arrow::datatypes::UInt64Type;
use datafusion::error::DataFusionError;

use super::rules::key_columns;
use super::{landing_table, Engine};
use crate::base::contract::Contract;
use crate::base::engine::alike_hashes::AlikeHashes;

/// Step 2, as a query of its own: the keys held by more than one row of
/// a partition, with how many (`_copies`). They are few, and are found
/// among the rows whose key hashes alike (sorting numbers, not grouping
/// text), then counted by their values; a key with a null column is in
/// no group. Their table ([`Engine::create_counted_table`]) tells the
/// planner how few they are, so that a cluster sends them to every task
/// of the join instead of every row to the task of its key.
pub(super) fn copies_sql(contract: &Contract) -> String {
    let (table, key, complete, hashed) = complete_keys(contract);
    counted_copies_sql(
        &key,
        &format!("{HASHED_ALIKE} RIGHT SEMI JOIN {table} ON _alike = {hashed}\n  WHERE {complete}"),
    )
}

/// Step 2 over `alike`, a table of rows whose key hashes other landing
/// rows hold (every row of a key held twice in a partition is among
/// them): the keys its rows hold more than once in a partition, as
/// [`copies_sql`] finds them among every landing row.
pub(super) fn copies_among_sql(contract: &Contract, alike: &str) -> String {
    let (_, key, _, _) = complete_keys(contract);
    counted_copies_sql(&key, alike)
}

/// The keys of the rows of `from` held more than once in their partition
/// (`_key_partition`, `_key0`...), with how many (`_copies`).
fn counted_copies_sql(key: &[String], from: &str) -> String {
    let shared: Vec<String> = key.iter().enumerate().map(|(i, k)| format!("{k} AS _key{i}")).collect();
    format!(
        "SELECT _partition AS _key_partition, {}, count(*) AS _copies\n  FROM {from}\n  GROUP BY _partition, {}\n  HAVING count(*) > 1",
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

/// Step 2's tables, `hashed_alike` and then `copies` ([`copies_sql`]),
/// as counted tables.
pub(super) async fn make_key_tables(engine: &Engine, contract: &Contract) -> Result<(), DataFusionError> {
    make_counted(engine, contract, HASHED_ALIKE, &hashed_alike_sql(contract)).await?;
    make_counted(engine, contract, "copies", &copies_sql(contract)).await
}

/// The key hashes held by more than one landing row, in any partition:
/// one list, ascending ([`alike_hashes_sql`]).
pub(super) fn alike_hashes_sql(contract: &Contract) -> String {
    let (table, _, complete, hashed) = complete_keys(contract);
    format!("SELECT repeated_hashes({hashed}) AS _repeated FROM {table}\n  WHERE {complete}")
}

/// The key hashes held by more than one landing row ([`alike_hashes_sql`]),
/// written to `path` for the plans' `key_hash_in` (few: 0.44M of 15.4M
/// violations at 10M entities).
pub(super) async fn write_alike_hashes(
    engine: &Engine,
    contract: &Contract,
    path: &std::path::Path,
) -> Result<AlikeHashes, DataFusionError> {
    let clock = std::time::Instant::now();
    let lists = engine.ctx().sql(&alike_hashes_sql(contract)).await?.collect().await?;
    let mut hashes: Vec<u64> = Vec::new();
    for list in lists.iter().map(|b| b.column(0).as_list::<i32>()) {
        for i in (0..list.len()).filter(|i| list.is_valid(*i)) {
            hashes.extend(list.value(i).as_primitive::<UInt64Type>().values());
        }
    }
    let written = AlikeHashes::write(&hashes, path)?;
    tracing::debug!(dataset = %contract.dataset, hashes = hashes.len(), ms = clock.elapsed().as_millis() as u64, "key hashes held twice written");
    Ok(written)
}

/// The rows of `sql` as counted table `table`, logged with how long it took.
async fn make_counted(engine: &Engine, contract: &Contract, table: &str, sql: &str) -> Result<(), DataFusionError> {
    let clock = std::time::Instant::now();
    engine.create_counted_table(table, engine.ctx().sql(sql).await?).await?;
    tracing::debug!(dataset = %contract.dataset, table, ms = clock.elapsed().as_millis() as u64, "key table made");
    Ok(())
}

/// A dataset's landing table, its key's columns, the condition that they
/// are all present, and the key's hash (in any partition: the rows of a
/// hash held once are neither copies within a partition nor versions
/// across them).
fn complete_keys(contract: &Contract) -> (String, Vec<String>, String, String) {
    let key = key_columns(contract);
    let complete: Vec<String> = key.iter().map(|k| format!("{k} IS NOT NULL")).collect();
    let hashed = format!("key_hash({})", key.join(", "));
    (landing_table(contract.dataset), key, complete.join(" AND "), hashed)
}
