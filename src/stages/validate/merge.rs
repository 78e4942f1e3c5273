//! The registry's rows in entity-id order without holding them all: stage
//! one writes each landing file's rows, sorted by id, to a scratch file
//! ([`write_sorted`]); once the accepted ids are sorted, [`merge`] reads
//! those files back side by side and hands on the accepted rows in that
//! order, a row group at a time.
//! Memory is one batch per landing file instead of the whole registry
//! (6.6 GiB of rows at 50M entities).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, interleave, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, UInt32Type};
use arrow::error::ArrowError;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;

use super::compact::{Compact, NO_KEY};
use super::ReadError;

/// The column of a sorted copy that holds each row's position in its
/// landing file.
const ROW: &str = "row_in_file";

/// Rows per batch of a sorted copy: what [`merge`] holds of each file,
/// and what the groups waiting to be encoded keep alive (50M entities, 605
/// registry files: 4096 rows peaked 0.2–0.27 GiB higher, no faster).
const COPY_BATCH_ROWS: usize = 1024;

/// Above every packed entity id (90 bits) and below [`NO_KEY`]: where a
/// row without a key sorts in a copy.
const LAST_KEY: u128 = (1 << 96) - 1;

/// Where the sorted copy of the `n`-th landing file goes in `folder`.
pub(super) fn copy_path(folder: &Path, n: usize) -> PathBuf {
    folder.join(format!("file-{n}.arrow"))
}

/// Writes `batches` (one landing file's rows, all the contract's columns)
/// to `path`: the columns `compact` copies, packed, sorted by the entity
/// id (a row without a key last), each row with its position in the file.
pub(super) fn write_sorted(path: &Path, compact: &Compact, batches: &[RecordBatch]) -> Result<(), ArrowError> {
    let packed: Vec<RecordBatch> = batches.iter().map(|b| compact.pack(b)).collect::<Result<_, _>>()?;
    let whole = concat_batches(compact.packed_schema(), &packed)?;
    drop(packed);
    // Each row's key (at most 90 bits, a row without one last) above its
    // row in the file: one sort orders by key, then by row.
    let mut order: Vec<u128> =
        compact.keys(&whole).into_iter().enumerate().map(|(r, k)| (k.min(LAST_KEY) << 32) | r as u128).collect();
    order.sort_unstable();
    let rows = UInt32Array::from_iter_values(order.iter().map(|o| *o as u32));
    drop(order);
    let mut fields: Vec<Field> = compact.packed_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(ROW, DataType::UInt32, false));
    let out_schema = Arc::new(Schema::new(fields));
    let mut writer = FileWriter::try_new(BufWriter::new(File::create(path)?), &out_schema)?;
    let mut at = 0;
    while at < rows.len() {
        let chunk = rows.slice(at, COPY_BATCH_ROWS.min(rows.len() - at));
        let mut out = take_record_batch(&whole, &chunk)?.columns().to_vec();
        out.push(Arc::new(chunk.clone()) as ArrayRef);
        writer.write(&RecordBatch::try_new(out_schema.clone(), out)?)?;
        at += chunk.len();
    }
    writer.finish()
}

/// One sorted copy being read: its current batch and the next row in it.
struct Cursor<'a> {
    path: &'a Path,
    reader: FileReader<BufReader<File>>,
    /// The global number of the landing file's first row.
    first_row: u64,
    batch: RecordBatch,
    keys: Vec<u128>,
    at: usize,
    /// The batch's position among the sources of the group being built,
    /// once a row of it is in the group.
    source: Option<usize>,
}

impl Cursor<'_> {
    /// Moves to the next accepted row (reading batches as needed); `false`
    /// at the end of the copy.
    fn next_accepted(&mut self, compact: &Compact, rejected: &dyn Fn(u64) -> bool) -> Result<bool, ReadError> {
        loop {
            while self.at < self.batch.num_rows() {
                if !rejected(self.row()) {
                    return Ok(true);
                }
                self.at += 1;
            }
            match self.reader.next() {
                Some(batch) => {
                    self.batch = batch.map_err(|e| unreadable(self.path, e))?;
                    self.keys = compact.keys(&self.batch);
                    self.at = 0;
                    self.source = None;
                }
                None => return Ok(false),
            }
        }
    }

    fn row(&self) -> u64 {
        let rows = self.batch.columns().last().expect("the row column").as_primitive::<UInt32Type>();
        self.first_row + rows.value(self.at) as u64
    }
}

/// Reads the sorted copies `files` (each with the global number of its
/// landing file's first row) side by side and hands `write` their
/// accepted rows in entity order, in groups of `group` rows (the copied
/// columns, to be unpacked). `order` names the accepted rows in that order,
/// each by its number among the accepted rows of all the files in turn
/// (`accepted_before`: how many the files before each hold); the rows
/// `rejected` names by global row are passed over. Each file's accepted
/// rows are in id order in its copy, so which file holds the next one is
/// all the merge needs. An accepted row without a key, keys that do not
/// ascend, or a copy with accepted rows left over fail it.
pub(super) fn merge(
    files: &[(PathBuf, u64)],
    compact: &Arc<Compact>,
    rejected: &dyn Fn(u64) -> bool,
    order: &[u32],
    accepted_before: &[u32],
    group: usize,
    write: &mut dyn FnMut(MergedGroup) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    assert_eq!(files.len(), accepted_before.len(), "one count per copy");
    let mut cursors = Vec::with_capacity(files.len());
    for (path, first_row) in files {
        let file = File::open(path).map_err(|e| unreadable(path, e.into()))?;
        let reader = FileReader::try_new(BufReader::new(file), None).map_err(|e| unreadable(path, e))?;
        let empty = RecordBatch::new_empty(reader.schema());
        cursors.push(Cursor {
            path,
            reader,
            first_row: *first_row,
            batch: empty,
            keys: Vec::new(),
            at: 0,
            source: None,
        });
    }
    let mut sources: Vec<RecordBatch> = Vec::new();
    let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(group);
    let mut last_key: Option<u128> = None;
    for accepted in order {
        let c = &mut cursors[accepted_before.partition_point(|a| a <= accepted) - 1];
        if !c.next_accepted(compact, rejected)? {
            return Err(out_of_order(c.path, "ends before the accepted rows the registry's order names"));
        }
        let key = c.keys[c.at];
        if key == NO_KEY {
            return Err(ReadError::UnpackedRegistryValue { row: c.row() });
        }
        if last_key.is_some_and(|last| last >= key) {
            return Err(out_of_order(c.path, "holds an accepted row out of the order of the ids"));
        }
        last_key = Some(key);
        let source = *c.source.get_or_insert_with(|| {
            sources.push(c.batch.clone());
            sources.len() - 1
        });
        pairs.push((source, c.at));
        c.at += 1;
        if pairs.len() == group {
            let full = std::mem::replace(&mut pairs, Vec::with_capacity(group));
            write(MergedGroup { compact: compact.clone(), sources: std::mem::take(&mut sources), pairs: full })?;
            cursors.iter_mut().for_each(|c| c.source = None);
        }
    }
    if !pairs.is_empty() {
        write(MergedGroup { compact: compact.clone(), sources, pairs })?;
    }
    for c in cursors.iter_mut() {
        if c.next_accepted(compact, rejected)? {
            return Err(out_of_order(c.path, "holds accepted rows the registry's order does not name"));
        }
    }
    Ok(())
}

fn out_of_order(path: &Path, what: &str) -> ReadError {
    ReadError::Scratch {
        what: format!("merging the sorted copy {}", path.display()),
        source: ArrowError::InvalidArgumentError(format!("the copy {what}")),
    }
}

fn unreadable(path: &Path, source: ArrowError) -> ReadError {
    ReadError::Scratch { what: format!("reading the sorted copy {}", path.display()), source }
}

/// A group of merged rows, named but not yet gathered: `pairs` (source,
/// row) of `sources`. Gathering them ([`MergedGroup::rows`]) is left to
/// the receiver, so that the merge goes on meanwhile.
pub(super) struct MergedGroup {
    compact: Arc<Compact>,
    sources: Vec<RecordBatch>,
    pairs: Vec<(usize, usize)>,
}

impl MergedGroup {
    /// How many rows the group holds.
    pub(super) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// The group's rows: the copied columns, as text.
    pub(super) fn rows(&self) -> RecordBatch {
        let schema = self.compact.packed_schema();
        let columns: Vec<ArrayRef> = (0..schema.fields().len())
            .map(|c| {
                let parts: Vec<&dyn Array> = self.sources.iter().map(|b| b.column(c).as_ref()).collect();
                interleave(&parts, &self.pairs).expect("the copies share one schema")
            })
            .collect();
        let packed = RecordBatch::try_new(schema.clone(), columns).expect("the copies' columns");
        self.compact.unpack(&packed)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Decimal128Array, StringArray};
    use arrow::compute::cast;

    use super::*;
    use crate::base::contract::{Contract, Dataset};
    use crate::base::ids::EntityId;
    use crate::base::landing_file::{enumerated_type, nullable};

    const KINDS: [&str; 4] = ["company", "branch", "sole_proprietor", "cooperative"];

    fn id(n: u32) -> String {
        EntityId::with_check_char(&format!("9135{n:06}MA00000")).unwrap().to_string()
    }

    /// Registry row `n` as text, every column of the contract (the id
    /// given apart, so that a test can break it).
    fn row(n: u32, entity_id: Option<String>) -> Vec<Option<String>> {
        let kind = KINDS[n as usize % 4];
        vec![
            entity_id,
            Some(format!("name of {n}")),
            Some(kind.to_string()),
            (!n.is_multiple_of(5)).then(|| format!("P{:016x}", n as u64 * 0x9E37_79B9)),
            (kind == "branch").then(|| id(n / 2)),
            Some(format!("{:06}", n % 1000 * 37)),
            (!n.is_multiple_of(7)).then(|| ["A", "C", "F", "T"][n as usize % 4].to_string()),
            n.is_multiple_of(3).then(|| format!("https://shop.example/{n}")),
        ]
    }

    /// Rows as a landing batch of the registry contract; `dictionaries`
    /// reads the enumerated columns as [`LandingFile::read_enumerated`] does.
    fn landing(contract: &Contract, rows: &[(u32, Vec<Option<String>>)], dictionaries: bool) -> RecordBatch {
        let schema = nullable(&contract.arrow_schema());
        let mut columns: Vec<ArrayRef> = Vec::new();
        for c in 0..8 {
            let text: StringArray = rows.iter().map(|(_, r)| r[c].clone()).collect();
            let text: ArrayRef = Arc::new(text);
            let enumerated = contract.columns[c].one_of.is_some();
            columns.push(if enumerated && dictionaries { cast(&text, &enumerated_type()).unwrap() } else { text });
        }
        columns.push(Arc::new(Date32Array::from_iter_values(rows.iter().map(|(n, _)| *n as i32))));
        let status: StringArray = rows.iter().map(|(n, _)| Some(["active", "revoked"][*n as usize % 2])).collect();
        let status: ArrayRef = Arc::new(status);
        columns.push(if dictionaries { cast(&status, &enumerated_type()).unwrap() } else { status });
        let capital: Decimal128Array = rows.iter().map(|(n, _)| (n % 4 != 1).then_some(*n as i128 * 100)).collect();
        columns.push(Arc::new(capital.with_precision_and_scale(18, 2).unwrap()));
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    /// The registry contract, and the packing of all its columns.
    fn registry_copied_whole() -> (Contract, Arc<Compact>) {
        let contract = Contract::load(Dataset::Registry).unwrap();
        let columns: Vec<usize> = (0..contract.columns.len()).collect();
        let compact = Arc::new(Compact::new(&contract, &columns));
        (contract, compact)
    }

    fn text_of(batch: &RecordBatch) -> Vec<Vec<String>> {
        let text: Vec<ArrayRef> = batch.columns().iter().map(|c| cast(c, &DataType::Utf8).unwrap()).collect();
        (0..batch.num_rows())
            .map(|r| {
                text.iter()
                    .map(|c| {
                        let c = c.as_string::<i32>();
                        if c.is_valid(r) {
                            c.value(r).to_string()
                        } else {
                            "<null>".into()
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The accepted rows of files holding `ids` (each file's, in file
    /// order) numbered over the files in turn, in the order of their ids,
    /// and how many accepted rows the files before each hold.
    fn entity_order(
        files: &[(PathBuf, u64)],
        ids: &[Vec<Option<String>>],
        rejected: &dyn Fn(u64) -> bool,
    ) -> (Vec<u32>, Vec<u32>) {
        let (mut keyed, mut accepted_before) = (Vec::new(), Vec::new());
        for ((_, first_row), file_ids) in files.iter().zip(ids) {
            accepted_before.push(keyed.len() as u32);
            for (_, id) in file_ids.iter().enumerate().filter(|(r, _)| !rejected(first_row + *r as u64)) {
                let key = id.as_deref().and_then(EntityId::pack_unchecked).map_or(NO_KEY, |i| i.bits());
                keyed.push((key, keyed.len() as u32));
            }
        }
        keyed.sort_unstable();
        (keyed.into_iter().map(|(_, row)| row).collect(), accepted_before)
    }

    fn merged(
        files: &[(PathBuf, u64)],
        (order, accepted_before): &(Vec<u32>, Vec<u32>),
        compact: &Arc<Compact>,
        rejected: &dyn Fn(u64) -> bool,
    ) -> Result<(Vec<RecordBatch>, Vec<usize>), ReadError> {
        let (mut batches, mut sizes) = (Vec::new(), Vec::new());
        merge(files, compact, rejected, order, accepted_before, 1000, &mut |group| {
            let b = group.rows();
            sizes.push(b.num_rows());
            batches.push(b);
            Ok(())
        })?;
        Ok((batches, sizes))
    }

    #[test]
    fn copies_merge_into_id_order_without_the_rejected_rows_and_unpack_to_their_text() {
        let (contract, compact) = registry_copied_whole();
        let dir = tempfile::tempdir().unwrap();
        // Three landing files, ids interleaved across them (the first read
        // with dictionaries), a malformed id, a null id and a region that is
        // not six digits, and a group size that splits the output unevenly.
        let spread: Vec<Vec<u32>> =
            vec![(0..9000).step_by(3).collect(), (1..9000).step_by(3).rev().collect(), (2..9000).step_by(3).collect()];
        let (mut files, mut ids) = (Vec::new(), Vec::new());
        let mut first_row = 0u64;
        for (n, numbers) in spread.iter().enumerate() {
            let mut rows: Vec<(u32, Vec<Option<String>>)> =
                numbers.iter().map(|i| (*i, row(*i, Some(id(*i))))).collect();
            if n == 1 {
                rows.insert(5, (1, row(1, Some("not an id".into()))));
                rows.insert(9, (1, row(1, None)));
                rows[20].1[5] = Some("12a456".into());
            }
            let batch = landing(&contract, &rows, n == 0);
            ids.push(rows.iter().map(|(_, r)| r[0].clone()).collect::<Vec<_>>());
            let path = copy_path(dir.path(), n);
            write_sorted(&path, &compact, &[batch.slice(0, 100), batch.slice(100, batch.num_rows() - 100)]).unwrap();
            files.push((path, first_row));
            first_row += batch.num_rows() as u64;
        }
        // Rejected: the malformed, null and bad-region rows of file 1, and global row 7.
        let rejected = |g: u64| g == 7 || g == 3000 + 5 || g == 3000 + 9 || g == 3000 + 20;
        let order = entity_order(&files, &ids, &rejected);
        let (batches, sizes) = merged(&files, &order, &compact, &rejected).unwrap();
        let got: Vec<Vec<String>> = batches.iter().flat_map(text_of).collect();
        assert!(batches.iter().all(|b| b.schema() == *compact.text_schema()), "the contract's columns, as text");
        let bad_region = spread[1][18];
        let expected_rows: Vec<(u32, Vec<Option<String>>)> =
            (0..9000u32).filter(|i| *i != 21 && *i != bad_region).map(|i| (i, row(i, Some(id(i))))).collect();
        let expected = text_of(&landing(&contract, &expected_rows, false));
        assert_eq!(got.len(), expected.len());
        let wrong = got.iter().zip(&expected).position(|(g, e)| g != e);
        assert_eq!(
            wrong.map(|w| (&got[w], &expected[w])),
            None,
            "every accepted row once, smallest id first, its text unchanged"
        );
        assert!(sizes[..sizes.len() - 1].iter().all(|s| *s == 1000), "{sizes:?}");
    }

    #[test]
    fn an_accepted_row_whose_value_does_not_pack_fails_the_merge() {
        let (contract, compact) = registry_copied_whole();
        let dir = tempfile::tempdir().unwrap();
        let mut rows: Vec<(u32, Vec<Option<String>>)> = (0..10).map(|i| (i, row(i, Some(id(i))))).collect();
        // Five digits: a row the contract's six_digits check rejects, here accepted.
        rows[4].1[5] = Some("12345".into());
        let path = copy_path(dir.path(), 0);
        write_sorted(&path, &compact, &[landing(&contract, &rows, false)]).unwrap();
        let files = vec![(path, 100)];
        let ids = [rows.iter().map(|(_, r)| r[0].clone()).collect::<Vec<_>>()];
        let rejected = |g: u64| g == 104;
        assert!(
            merged(&files, &entity_order(&files, &ids, &rejected), &compact, &rejected).is_ok(),
            "rejected, the row is left out"
        );
        let e = merged(&files, &entity_order(&files, &ids, &|_| false), &compact, &|_| false).err().unwrap();
        assert!(matches!(e, ReadError::UnpackedRegistryValue { row: 104 }), "{e}");
    }

    #[test]
    fn an_order_the_copies_do_not_follow_fails_the_merge() {
        let (contract, compact) = registry_copied_whole();
        let dir = tempfile::tempdir().unwrap();
        // Even ids in one file, odd in the other, both descending.
        let (mut files, mut ids) = (Vec::new(), Vec::new());
        for n in 0..2u32 {
            let rows: Vec<(u32, Vec<Option<String>>)> =
                (0..10).rev().filter(|i| i % 2 == n).map(|i| (i, row(i, Some(id(i))))).collect();
            let path = copy_path(dir.path(), n as usize);
            write_sorted(&path, &compact, &[landing(&contract, &rows, false)]).unwrap();
            files.push((path, 5 * n as u64));
            ids.push(rows.iter().map(|(_, r)| r[0].clone()).collect::<Vec<_>>());
        }
        let (order, before) = entity_order(&files, &ids, &|_| false);
        assert_eq!(order, [4, 9, 3, 8, 2, 7, 1, 6, 0, 5]);
        let message = |order: Vec<u32>| {
            merged(&files, &(order, before.clone()), &compact, &|_| false)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(message(order.clone()), "");
        let mut swapped = order.clone();
        swapped.swap(3, 4);
        assert!(message(swapped).contains("out of the order of the ids"), "two rows of different files swapped");
        assert!(
            message(order[..9].to_vec()).contains("accepted rows the registry's order does not name"),
            "one left out"
        );
        assert!(message([order.clone(), vec![0]].concat()).contains("ends before"), "one named twice");
    }
}
