//! The `records` mart: the rows of each event partition of the landing
//! zone as validation read them, sorted by entity id, with where each came
//! from. Written once per partition (again only when its files change), so
//! that an officer can go from a reason to the records behind it without
//! anything reading the landing zone after validation.
//!
//! ```text
//! marts/records/<dataset>/ingest_date=D/part-<n>.parquet   file n of the partition, sorted by entity_id
//! marts/records/<dataset>/ingest_date=D/sources.json        the landing files it was made from
//! ```
//!
//! The rows are every row of the files, accepted or not: a reader takes
//! the version a run used by leaving out that run's quarantined rows and
//! keeping the newest `ingest_date` of each key, as validation did.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Date32Type, Field, Int64Type, Schema, SchemaRef};
use parquet::errors::ParquetError;

use super::rows_with;
use crate::base::contract::{Contract, Dataset};
use crate::base::ids::{AsOf, EntityId};
use crate::base::landing_file::{as_text, nullable, LandingFile, Partition};
use crate::base::parquet_io::{ParquetSink, LOOKUP_ROW_GROUP_ROWS};
use crate::base::warehouse::Warehouse;

/// The datasets whose records stand behind reasons.
pub const DATASETS: [Dataset; 2] = [Dataset::Violations, Dataset::Complaints];

/// The folder of one partition's records.
pub fn partition_dir(wh: &Warehouse, dataset: Dataset, ingest_date: AsOf) -> PathBuf {
    wh.root().join("marts").join("records").join(dataset.name()).join(format!("ingest_date={ingest_date}"))
}

/// The schema: the contract's columns as found (nullable), then
/// `ingest_date`, `source_file` and `source_row`.
pub fn schema(contract: &Contract) -> SchemaRef {
    let mut fields: Vec<Field> =
        nullable(&contract.arrow_schema()).fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend([
        Field::new("ingest_date", DataType::Date32, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_row", DataType::Int64, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// What a partition's records were made from: each landing file's path,
/// size, modification time and row count.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceFile {
    pub path: String,
    pub bytes: u64,
    pub modified_ns: i128,
    pub rows: u64,
}

impl Sources {
    /// The landing files of a partition as they are on disk now.
    pub fn of(partition: &Partition) -> Sources {
        let files = partition
            .files
            .iter()
            .map(|f| {
                let meta = std::fs::metadata(&f.path).ok();
                let modified_ns = meta
                    .as_ref()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos() as i128)
                    .unwrap_or(-1);
                SourceFile { path: f.relative.clone(), bytes: meta.map_or(0, |m| m.len()), modified_ns, rows: f.rows }
            })
            .collect();
        Sources { files }
    }
}

/// Whether the records of `partition` were written from exactly its
/// current files.
pub fn up_to_date(wh: &Warehouse, dataset: Dataset, partition: &Partition) -> bool {
    let path = partition_dir(wh, dataset, partition.ingest_date).join("sources.json");
    let Ok(text) = std::fs::read(path) else { return false };
    serde_json::from_slice::<Sources>(&text).is_ok_and(|s| s == Sources::of(partition))
}

/// Writes `sources.json` of a partition's records into `dir` (a staging folder).
pub fn write_sources(dir: &Path, partition: &Partition) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(&Sources::of(partition)).expect("sources serialise");
    std::fs::write(dir.join("sources.json"), json)
}

/// Writes the rows of one landing file (`batches` in the contract's column
/// layout, in file order) as `part-<n>.parquet` of `dir` (a staging
/// folder, whose commit waits for the file's flush to disk), sorted by
/// entity id then row.
pub fn write_file(
    dir: &Path,
    n: usize,
    contract: &Contract,
    file: &LandingFile,
    batches: &[RecordBatch],
) -> Result<u64, ParquetError> {
    write_rows(dir, n, contract, (file.relative.as_str(), file.ingest_date), batches)
}

/// [`write_file`] of rows from `source`: the landing file's relative path
/// and ingest date.
fn write_rows(
    dir: &Path,
    n: usize,
    contract: &Contract,
    source: (&str, AsOf),
    batches: &[RecordBatch],
) -> Result<u64, ParquetError> {
    // Enumerated columns may come as the landing reader's dictionaries:
    // the mart holds their text.
    let batches = batches.iter().map(as_text).collect::<Result<Vec<_>, _>>()?;
    let all = concat_batches(&nullable(&contract.arrow_schema()), &batches)?;
    let rows = all.num_rows();
    let entity = contract.column_index("entity_id").expect("event datasets name an entity");
    let order = entity_order(all.column(entity).as_string::<i32>());
    let sorted = take_record_batch(&all, &order)?;
    let mut columns: Vec<ArrayRef> = sorted.columns().to_vec();
    columns.push(Arc::new(Date32Array::from(vec![source.1.days_since_epoch(); rows])));
    columns.push(Arc::new(StringArray::new_repeated(source.0, rows)));
    columns.push(Arc::new(Int64Array::from_iter_values(order.values().iter().map(|r| *r as i64))));
    let out = RecordBatch::try_new(schema(contract), columns)?;
    // Keys, entity ids (rows sorted by them: a few rows each) and source
    // rows hardly repeat within a row group: no dictionary for them.
    let mut unique: Vec<&str> = contract.key.iter().map(|&k| contract.columns[k].name.as_str()).collect();
    unique.extend(["entity_id", "source_row"]);
    let path = dir.join(format!("part-{n}.parquet"));
    let mut sink = ParquetSink::for_lookups(&path, out.schema(), "entity_id", &unique)?;
    for offset in (0..rows).step_by(LOOKUP_ROW_GROUP_ROWS) {
        sink.write(&out.slice(offset, LOOKUP_ROW_GROUP_ROWS.min(rows - offset)))?;
    }
    // The reading thread goes on; the partition's commit waits for the flush.
    sink.finish_staged()
}

/// The rows' order by entity id text, nulls last, rows of one id in file
/// order. Ids that pack ([`EntityId::pack_unchecked`], whose integer
/// order is the text order) are sorted as numbers with their row below
/// them; the others, a faulty row's, by their text, and the two runs are
/// then merged by text.
fn entity_order(ids: &StringArray) -> UInt32Array {
    let mut packed: Vec<u128> = Vec::with_capacity(ids.len());
    let mut texts: Vec<u32> = Vec::new();
    for (row, id) in ids.iter().enumerate() {
        match id.and_then(EntityId::pack_unchecked) {
            Some(id) => packed.push((id.bits() << 32) | row as u128),
            None => texts.push(row as u32),
        }
    }
    packed.sort_unstable();
    let by_text = |a: u32, b: u32| match (ids.is_null(a as usize), ids.is_null(b as usize)) {
        (false, false) => ids.value(a as usize).as_bytes().cmp(ids.value(b as usize).as_bytes()),
        // A null comes after any text.
        (a_null, b_null) => a_null.cmp(&b_null),
    };
    texts.sort_unstable_by(|&a, &b| by_text(a, b).then(a.cmp(&b)));
    let mut order = Vec::with_capacity(ids.len());
    let mut texts = texts.into_iter().peekable();
    for row in packed.into_iter().map(|p| p as u32) {
        while let Some(&t) = texts.peek() {
            if by_text(t, row).then(t.cmp(&row)).is_gt() {
                break;
            }
            order.push(t);
            texts.next();
        }
        order.push(row);
    }
    order.extend(texts);
    UInt32Array::from(order)
}

/// One record as a run as of some date saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Every contract column, as text (empty for null).
    pub fields: Vec<(String, String)>,
    pub ingest_date: AsOf,
    pub source_file: String,
    pub source_row: i64,
}

/// The records of `entity` with one of `keys` (the contract's key column)
/// in the partitions a run as of `as_of` read, leaving out the rows in
/// `quarantined` (source file, row) and keeping the newest version of each
/// key.
pub fn read(
    wh: &Warehouse,
    contract: &Contract,
    as_of: AsOf,
    entity: &str,
    keys: &BTreeSet<String>,
    quarantined: &HashSet<(String, i64)>,
) -> Result<HashMap<String, Record>, ParquetError> {
    let root = wh.root().join("marts").join("records").join(contract.dataset.name());
    let mut dates: Vec<(AsOf, PathBuf)> = std::fs::read_dir(&root)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let date = e.file_name().to_string_lossy().strip_prefix("ingest_date=")?.parse().ok()?;
                    Some((date, e.path()))
                })
                .filter(|(d, _)| *d <= as_of)
                .collect()
        })
        .unwrap_or_default();
    dates.sort();
    let key = contract.key[0];
    let ids: BTreeSet<String> = [entity.to_string()].into();
    let mut found: HashMap<String, Record> = HashMap::new();
    for (date, dir) in dates {
        let mut parts: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| ParquetError::General(format!("{}: {e}", dir.display())))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        parts.sort();
        for part in parts {
            for b in rows_with(&part, "entity_id", &ids)? {
                let n = contract.columns.len();
                let keys_col = b.column(key).as_string::<i32>();
                let file = b.column(n + 1).as_string::<i32>();
                let row = b.column(n + 2).as_primitive::<Int64Type>();
                for r in 0..b.num_rows() {
                    if keys_col.is_null(r) || !keys.contains(keys_col.value(r)) {
                        continue;
                    }
                    let at = (file.value(r).to_string(), row.value(r));
                    if quarantined.contains(&at) {
                        continue;
                    }
                    let fields = contract
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(ci, c)| {
                            let text = arrow::util::display::array_value_to_string(b.column(ci), r).unwrap_or_default();
                            (c.name.clone(), text)
                        })
                        .collect();
                    let ingest = b.column(n).as_primitive::<Date32Type>().value(r);
                    // Partitions are read oldest first: a later one replaces an earlier version.
                    found.insert(
                        keys_col.value(r).to_string(),
                        Record {
                            fields,
                            ingest_date: AsOf::from_days_since_epoch(ingest).unwrap_or(date),
                            source_file: at.0,
                            source_row: at.1,
                        },
                    );
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use arrow::array::new_null_array;

    use super::*;
    use crate::base::contract::Contracts;
    use crate::base::parquet_io::read_parquet;
    use crate::tools::fixture::entity;

    /// A file's rows come out in the text order of their entity ids, a
    /// faulty id (which does not pack) among the valid ones where its text
    /// falls, rows of one id in file order, nulls last; each keeps its row
    /// of the file.
    #[test]
    fn records_are_sorted_by_entity_id_text_whatever_the_ids_are() {
        let contracts = Contracts::load().unwrap();
        let contract = contracts.get(Dataset::Violations);
        let (a, b, c) = (entity(3), entity(1), entity(2));
        let below_b = format!("{}!", &b[..17]);
        let ids: Vec<Option<&str>> =
            vec![Some(&a), None, Some(&b), Some("lower-case"), Some(&c), Some(&b), Some(&below_b), Some(""), Some(&a)];
        let schema = nullable(&contract.arrow_schema());
        let rows = ids.len();
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "entity_id" => Arc::new(StringArray::from(ids.clone())) as ArrayRef,
                "case_id" => Arc::new(StringArray::from_iter_values((0..rows).map(|r| format!("case-{r}")))),
                _ => new_null_array(f.data_type(), rows),
            })
            .collect();
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let date: AsOf = "2026-11-27".parse().unwrap();
        // Two batches, as a file read in pieces.
        let written =
            write_rows(dir.path(), 0, contract, ("landing/x.parquet", date), &[batch.slice(0, 4), batch.slice(4, 5)]);
        assert_eq!(written.unwrap(), rows as u64);

        let mut expected: Vec<(Option<&str>, i64)> = ids.iter().copied().zip(0..).collect();
        expected.sort_by(|x, y| match (x.0, y.0) {
            (Some(p), Some(q)) => p.as_bytes().cmp(q.as_bytes()),
            (p, q) => p.is_none().cmp(&q.is_none()),
        });
        let out = read_parquet(&dir.path().join("part-0.parquet")).unwrap();
        let n = contract.columns.len();
        let mut found = Vec::new();
        for b in &out {
            let (ids, row) = (b.column(1).as_string::<i32>(), b.column(n + 2).as_primitive::<Int64Type>());
            let files = b.column(n + 1).as_string::<i32>();
            for r in 0..b.num_rows() {
                assert_eq!(files.value(r), "landing/x.parquet");
                found.push((ids.is_valid(r).then(|| ids.value(r).to_string()), row.value(r)));
            }
        }
        let expected: Vec<(Option<String>, i64)> =
            expected.into_iter().map(|(id, r)| (id.map(String::from), r)).collect();
        assert_eq!(found, expected);
        assert!(found.iter().position(|(id, _)| id.as_deref() == Some(below_b.as_str())).unwrap() < 3);
    }

    /// Many rows drawn from valid ids, ids one character off, other text
    /// and nulls: the order is a stable sort of the text, nulls last.
    #[test]
    fn the_entity_order_is_a_stable_text_sort() {
        let valid: Vec<String> = (0..40).map(entity).collect();
        let mut pool: Vec<Option<String>> = valid.iter().cloned().map(Some).collect();
        pool.extend(valid.iter().take(10).map(|v| Some(format!("{}~", &v[..17]))));
        pool.extend(valid.iter().take(10).map(|v| Some(v[..16].to_string())));
        pool.extend(["", "0", "zzz", "9135010MA"].map(|t| Some(t.to_string())));
        pool.push(None);
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for rows in [0, 1, 2, 17, 500] {
            let ids: Vec<Option<String>> = (0..rows).map(|_| pool[next() % pool.len()].clone()).collect();
            let array = StringArray::from(ids.clone());
            let mut expected: Vec<u32> = (0..rows as u32).collect();
            expected.sort_by(|&a, &b| match (&ids[a as usize], &ids[b as usize]) {
                (Some(p), Some(q)) => p.as_bytes().cmp(q.as_bytes()),
                (p, q) => p.is_none().cmp(&q.is_none()),
            });
            assert_eq!(entity_order(&array).values().to_vec(), expected, "{rows} rows");
        }
    }
}
