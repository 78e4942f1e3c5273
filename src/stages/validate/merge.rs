//! The registry's rows in entity-id order without holding them all: stage
//! one writes each landing file's rows, sorted by id, to a scratch file
//! ([`write_sorted`]); [`merge`] reads those files back side by side and
//! hands on the accepted rows smallest id first, a row group at a time.
//! Memory is one batch per landing file instead of the whole registry
//! (6.6 GiB of rows at 50M entities).

use std::cmp::Reverse;
use std::collections::binary_heap::{BinaryHeap, PeekMut};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array};
use arrow::compute::interleave;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use arrow::error::ArrowError;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;

use super::ReadError;
use crate::base::ids::EntityId;
use crate::base::landing_file::{as_text, as_text_field};

/// The column of a sorted copy that holds each row's position in its
/// landing file.
const ROW: &str = "row_in_file";

/// Rows per batch of a sorted copy: what [`merge`] holds of each file,
/// and what the groups waiting to be encoded keep alive (50M entities, 605
/// registry files: 4096 rows peaked 0.2–0.27 GiB higher, no faster).
const COPY_BATCH_ROWS: usize = 1024;

/// Where the sorted copy of the `n`-th landing file goes in `folder`.
pub(super) fn copy_path(folder: &Path, n: usize) -> PathBuf {
    folder.join(format!("file-{n}.arrow"))
}

/// Writes `batches` (one landing file's rows, all of `schema`'s columns)
/// to `path`: these `columns`, sorted by the entity id in column `id`
/// (a row whose id is null or malformed last), each row with its position
/// in the file.
pub(super) fn write_sorted(
    path: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    columns: &[usize],
    id: usize,
) -> Result<(), ArrowError> {
    // (key, row in the file, batch, row in the batch), sorted.
    let mut keys: Vec<(u128, u32, u32, u32)> = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
    for (bi, b) in batches.iter().enumerate() {
        let ids = b.column(id).as_string::<i32>();
        let first = keys.len() as u32;
        keys.extend((0..b.num_rows()).map(|r| (sort_key(ids, r), first + r as u32, bi as u32, r as u32)));
    }
    keys.sort_unstable();
    // The landing reader's dictionaries as text: the copies of one file
    // then share no dictionary that a batch could replace.
    let projected: Vec<RecordBatch> =
        batches.iter().map(|b| as_text(&b.project(columns)?)).collect::<Result<_, _>>()?;
    let mut fields: Vec<Field> = schema.project(columns)?.fields().iter().map(|f| as_text_field(f)).collect();
    fields.push(Field::new(ROW, DataType::UInt32, false));
    let out_schema = Arc::new(Schema::new(fields));
    let mut writer = FileWriter::try_new(BufWriter::new(File::create(path)?), &out_schema)?;
    for chunk in keys.chunks(COPY_BATCH_ROWS) {
        let pairs: Vec<(usize, usize)> = chunk.iter().map(|k| (k.2 as usize, k.3 as usize)).collect();
        let mut out = Vec::with_capacity(columns.len() + 1);
        for c in 0..columns.len() {
            let parts: Vec<&dyn Array> = projected.iter().map(|b| b.column(c).as_ref()).collect();
            out.push(interleave(&parts, &pairs)?);
        }
        out.push(Arc::new(UInt32Array::from_iter_values(chunk.iter().map(|k| k.1))) as ArrayRef);
        writer.write(&RecordBatch::try_new(out_schema.clone(), out)?)?;
    }
    writer.finish()
}

/// The order of ids: packed ids compare as their text does among valid
/// ids; anything else sorts last (such a row is always rejected).
fn sort_key(ids: &StringArray, r: usize) -> u128 {
    match ids.is_valid(r) {
        true => EntityId::pack_unchecked(ids.value(r)).map_or(u128::MAX, |id| id.bits()),
        false => u128::MAX,
    }
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
    /// The batch's position among the sources of the group being built.
    source: usize,
}

impl Cursor<'_> {
    /// Moves to the next non-empty batch; `false` at the end of the file.
    fn next_batch(&mut self, id: usize) -> Result<bool, ReadError> {
        for batch in self.reader.by_ref() {
            let batch = batch.map_err(|e| unreadable(self.path, e))?;
            if batch.num_rows() == 0 {
                continue;
            }
            let ids = batch.column(id).as_string::<i32>();
            self.keys = (0..batch.num_rows()).map(|r| sort_key(ids, r)).collect();
            self.batch = batch;
            self.at = 0;
            return Ok(true);
        }
        Ok(false)
    }

    fn row(&self) -> u64 {
        let rows = self.batch.columns().last().expect("the row column").as_primitive::<UInt32Type>();
        self.first_row + rows.value(self.at) as u64
    }
}

/// Reads the sorted copies `files` (each with the global number of its
/// landing file's first row) side by side and hands `write` their rows in
/// entity-id order, leaving out those `rejected` names by global row, in
/// groups of `group` rows (the copies' columns, without the row column).
/// The column `id` of the copies holds the entity id.
pub(super) fn merge(
    files: &[(PathBuf, u64)],
    id: usize,
    rejected: &dyn Fn(u64) -> bool,
    group: usize,
    write: &mut dyn FnMut(MergedGroup) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let mut cursors = Vec::with_capacity(files.len());
    let mut schema: Option<SchemaRef> = None;
    for (path, first_row) in files {
        let file = File::open(path).map_err(|e| unreadable(path, e.into()))?;
        let reader = FileReader::try_new(BufReader::new(file), None).map_err(|e| unreadable(path, e))?;
        schema.get_or_insert_with(|| reader.schema());
        let empty = RecordBatch::new_empty(reader.schema());
        let mut cursor =
            Cursor { path, reader, first_row: *first_row, batch: empty, keys: Vec::new(), at: 0, source: 0 };
        if cursor.next_batch(id)? {
            cursors.push(cursor);
        }
    }
    let Some(schema) = schema else {
        return Ok(());
    };
    let out_schema = Arc::new(Schema::new(schema.fields()[..schema.fields().len() - 1].to_vec()));
    let mut heap: BinaryHeap<Reverse<(u128, usize)>> =
        cursors.iter().enumerate().map(|(k, c)| Reverse((c.keys[0], k))).collect();
    let mut sources: Vec<RecordBatch> = Vec::new();
    for c in cursors.iter_mut() {
        c.source = sources.len();
        sources.push(c.batch.clone());
    }
    let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(group);
    // The smallest key's cursor stays at the top while its next key is
    // put in place: one sift per row.
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((_, k)) = *top;
        let c = &mut cursors[k];
        if !rejected(c.row()) {
            pairs.push((c.source, c.at));
        }
        c.at += 1;
        if c.at < c.batch.num_rows() {
            *top = Reverse((c.keys[c.at], k));
        } else if c.next_batch(id)? {
            c.source = sources.len();
            sources.push(c.batch.clone());
            *top = Reverse((c.keys[0], k));
        } else {
            PeekMut::pop(top);
        }
        if pairs.len() == group {
            let full = std::mem::replace(&mut pairs, Vec::with_capacity(group));
            write(MergedGroup { schema: out_schema.clone(), sources: std::mem::take(&mut sources), pairs: full })?;
            // The next group starts from each file's current batch alone.
            for c in cursors.iter_mut().filter(|c| c.at < c.batch.num_rows()) {
                c.source = sources.len();
                sources.push(c.batch.clone());
            }
        }
    }
    if !pairs.is_empty() {
        write(MergedGroup { schema: out_schema, sources, pairs })?;
    }
    Ok(())
}

fn unreadable(path: &Path, source: ArrowError) -> ReadError {
    ReadError::Scratch { what: format!("reading the sorted copy {}", path.display()), source }
}

/// A group of merged rows, named but not yet gathered: `pairs` (source,
/// row) of `sources`. Gathering them ([`MergedGroup::rows`]) is left to
/// the receiver, so that the merge goes on meanwhile.
pub(super) struct MergedGroup {
    schema: SchemaRef,
    sources: Vec<RecordBatch>,
    pairs: Vec<(usize, usize)>,
}

impl MergedGroup {
    /// How many rows the group holds.
    pub(super) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// The group's rows, `schema`'s columns.
    pub(super) fn rows(&self) -> RecordBatch {
        let columns: Vec<ArrayRef> = (0..self.schema.fields().len())
            .map(|c| {
                let parts: Vec<&dyn Array> = self.sources.iter().map(|b| b.column(c).as_ref()).collect();
                interleave(&parts, &self.pairs).expect("the copies share one schema")
            })
            .collect();
        RecordBatch::try_new(self.schema.clone(), columns).expect("the copies' columns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn landing(ids: &[Option<&str>]) -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("entity_id", DataType::Utf8, true),
        ]));
        let names: StringArray = ids.iter().map(|i| i.map(|i| format!("name of {i}"))).collect();
        let ids: StringArray = ids.iter().copied().collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(names), Arc::new(ids)]).unwrap();
        (schema, batch)
    }

    fn id(n: u32) -> String {
        EntityId::with_check_char(&format!("9135{n:06}MA00000")).unwrap().to_string()
    }

    #[test]
    fn copies_merge_into_id_order_without_the_rejected_rows() {
        let dir = tempfile::tempdir().unwrap();
        // Three landing files, ids interleaved across them, one malformed and
        // one null id, and a group size that splits the output unevenly.
        let spread: Vec<Vec<u32>> =
            vec![(0..9000).step_by(3).collect(), (1..9000).step_by(3).rev().collect(), (2..9000).step_by(3).collect()];
        let mut files = Vec::new();
        let mut first_row = 0u64;
        for (n, ids) in spread.iter().enumerate() {
            let mut texts: Vec<Option<String>> = ids.iter().map(|i| Some(id(*i))).collect();
            if n == 1 {
                texts.insert(5, Some("not an id".into()));
                texts.insert(9, None);
            }
            let refs: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).collect();
            let (schema, batch) = landing(&refs);
            let path = copy_path(dir.path(), n);
            write_sorted(&path, &schema, &[batch.slice(0, 100), batch.slice(100, batch.num_rows() - 100)], &[1, 0], 1)
                .unwrap();
            files.push((path, first_row));
            first_row += batch.num_rows() as u64;
        }
        // Rejected: the malformed and null rows of file 1, and global row 7.
        let rejected = |g: u64| g == 7 || g == 3000 + 5 || g == 3000 + 9;
        let mut got: Vec<(String, String)> = Vec::new();
        let mut sizes = Vec::new();
        merge(&files, 0, &rejected, 1000, &mut |group| {
            let b = group.rows();
            sizes.push(b.num_rows());
            let (ids, names) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>());
            got.extend((0..b.num_rows()).map(|r| (ids.value(r).to_string(), names.value(r).to_string())));
            Ok(())
        })
        .unwrap();
        let expected: Vec<(String, String)> =
            (0..9000u32).filter(|i| *i != 21).map(|i| (id(i), format!("name of {}", id(i)))).collect();
        assert_eq!(got.len(), expected.len());
        let wrong = got.iter().zip(&expected).position(|(g, e)| g != e);
        assert_eq!(wrong, None, "every accepted row once, smallest id first, with its own columns");
        assert!(sizes[..sizes.len() - 1].iter().all(|s| *s == 1000), "{sizes:?}");
    }
}
