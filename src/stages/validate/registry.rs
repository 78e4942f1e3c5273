//! The registry snapshot validated: its entities numbered in id order,
//! each one's parent (by index) and representative (packed), its table
//! put in that order, and its accepted rows written (the registry mart)
//! from sorted copies of the landing files, on a thread of their own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;

use super::reorder::Reorder;
use super::{compact, merge, validate, Against, Judging, ReadError, RegistryOut, SortedCopy, Writes};
use crate::base::contract::Contract;
use crate::base::entities::{with_huge_pages, EntityIndex};
use crate::base::ids::EntityId;
use crate::base::landing_file::Selection;
use crate::base::marts::registry;
use crate::base::parquet_io::{ParquetSink, LOOKUP_ROW_GROUP_ROWS};
use crate::base::row_checks::quote;
use crate::base::tables::{LegalReps, Rows, Validated, ENTITY_IDX};

/// Validates the registry snapshot. Its table is sorted by entity id and
/// its `entity_idx` is the row's position; the returned index maps ids to
/// it, and each entity's registered parent is returned by index
/// (`u32::MAX`: none, or not in the snapshot) in place of the parent's
/// text. With `out`, the accepted rows are also written in the same order
/// (the run's registry mart, or some of their columns) from sorted copies
/// of the landing files in `scratch` (a temporary folder without one).
/// With `judged`, the rows' verdicts are those (the registry's plans'),
/// not checked here.
pub fn validate_registry(
    contract: &Contract,
    selection: Selection,
    keep: &[&str],
    out: Option<RegistryOut>,
    scratch: Option<&Path>,
    judged: Option<&Judging>,
) -> Result<ValidatedRegistry, ReadError> {
    let key_col = contract.key[0];
    let id_name = contract.columns[key_col].name.as_str();
    let snapshot = selection.partitions.last().map(|p| p.ingest_date);
    // The ids number the entities, the parents' ids become indexes and the
    // representatives' are packed; the table keeps their text only when
    // asked.
    let mut read: Vec<&str> = keep.to_vec();
    for c in [id_name, PARENT, LEGAL_REP] {
        if !read.contains(&c) {
            read.push(c);
        }
    }
    let (folder, own_scratch) = copies_folder(out.is_some(), scratch)?;
    let compact = Arc::new(compact::Compact::new(contract, &copied_columns(contract, out.as_ref())));
    let copy = folder.as_deref().map(|folder| SortedCopy { folder, compact: &compact });
    let against = Against { judged, ..Against::default() };
    let mut v = validate(contract, selection, &read, against, Writes { copy, ..Writes::default() })?;
    let Rows::Memory(batches) = std::mem::replace(&mut v.rows, Rows::Memory(Vec::new())) else {
        unreachable!("validate keeps its rows in memory")
    };
    let clock = std::time::Instant::now();
    let checkpoint = move |what: &str| {
        let memory = crate::base::telemetry::Memory::now();
        tracing::debug!(
            ms = clock.elapsed().as_millis() as u64,
            resident_mib = memory.resident_mib(),
            peak_mib = memory.peak_mib(),
            "{what}"
        );
    };
    let (order, ids) = number_entities(&batches, position_in(&v.schema, id_name))?;
    let order = Arc::new(order);
    checkpoint("registry ids sorted");
    // What is written: the copies merged in that order, the rejected rows
    // left out, on a thread of its own while the parents and
    // representatives are read and the table is put in order (not while
    // the other datasets are validated: the run's peak is theirs).
    let written = match folder {
        None => RegistryWrite(None),
        Some(folder) => {
            let merged = MergedCopies::new(&v, folder, compact.clone(), order.clone(), own_scratch);
            let sink = RegistrySink::open(out, snapshot, compact.text_schema())?;
            RegistryWrite::start(merged, sink, checkpoint)?
        }
    };
    let index = EntityIndex::from_sorted(ids);
    let (parents, legal_reps) = parents_and_representatives(&batches, &v.schema, &index, &order)?;
    checkpoint("registry parents and representatives");
    let table = kept_in_entity_order(batches, &v.schema, keep, order);
    v.schema = table.schema();
    v.rows = Rows::Memory(vec![table]);
    checkpoint("registry sorted and indexed");
    written.finish()?;
    Ok(ValidatedRegistry { table: v, entities: index, parents, legal_reps })
}

/// The columns (by position) of the registry's sorted copies: those
/// written to `out`, and the id they are sorted by.
fn copied_columns(contract: &Contract, out: Option<&RegistryOut>) -> Vec<usize> {
    let written: &[&str] = match out {
        Some(RegistryOut::Mart(_)) => &registry::COLUMNS,
        Some(RegistryOut::Columns(_, columns)) => columns,
        None => &[],
    };
    let mut copied: Vec<usize> = written.iter().map(|c| contract.column_index(c).expect("a registry column")).collect();
    if !copied.contains(&contract.key[0]) {
        copied.push(contract.key[0]);
    }
    copied
}

/// The accepted rows (`batches`, of `schema`) as the run's table: the
/// columns later stages asked for (`keep`; the id text goes unless asked
/// for) put in entity order (`order`) a lookup row group at a time, and
/// each row's `entity_idx`, its position.
fn kept_in_entity_order(
    batches: Vec<RecordBatch>,
    schema: &Schema,
    keep: &[&str],
    order: Arc<Vec<u32>>,
) -> RecordBatch {
    let wanted: Vec<usize> = keep.iter().map(|k| position_in(schema, k)).collect();
    let schema = Arc::new(schema.project(&wanted).expect("columns"));
    let batches: Vec<RecordBatch> = batches.into_iter().map(|b| b.project(&wanted).expect("columns")).collect();
    let kept: Vec<RecordBatch> = match batches.is_empty() {
        true => Vec::new(),
        false => {
            let rows = Reorder::new(&batches);
            order.par_chunks(LOOKUP_ROW_GROUP_ROWS).map(|chunk| rows.rows(chunk)).collect()
        }
    };
    drop((batches, order));
    let sorted = concat_batches(&schema, &kept).expect("groups share the schema");
    drop(kept);
    let idx: ArrayRef = Arc::new(UInt32Array::from_iter_values(0..sorted.num_rows() as u32));
    let mut columns = sorted.columns().to_vec();
    columns.push(idx);
    RecordBatch::try_new(with_idx(&sorted.schema()), columns).expect("schema")
}

/// The folder the registry's files are copied to in id order when its
/// rows are `written` (in `scratch`, else in a temporary folder of its
/// own, returned to be kept until the copies are merged), made here.
fn copies_folder(
    written: bool,
    scratch: Option<&Path>,
) -> Result<(Option<PathBuf>, Option<tempfile::TempDir>), ReadError> {
    let (folder, own) = match (written, scratch) {
        (false, _) => (None, None),
        (true, Some(dir)) => (Some(dir.join("registry-by-id")), None),
        (true, None) => {
            let dir =
                tempfile::Builder::new().prefix("credence-registry-").tempdir().map_err(|e| ReadError::Scratch {
                    what: "creating a folder for the registry's sorted copies".into(),
                    source: e.into(),
                })?;
            (Some(dir.path().join("registry-by-id")), Some(dir))
        }
    };
    if let Some(folder) = &folder {
        std::fs::create_dir_all(folder)
            .map_err(|e| ReadError::Scratch { what: format!("creating {}", folder.display()), source: e.into() })?;
    }
    Ok((folder, own))
}

/// Each entity's parent (by index, `u32::MAX` for none or one not in the
/// snapshot) and representative (packed), read off the accepted rows
/// (`batches`, of `schema`) as they came and then put in entity order
/// (`order`): neither text is gathered unless a later stage asked for it
/// (at 50M entities the representatives' text alone is 1 GiB).
fn parents_and_representatives(
    batches: &[RecordBatch],
    schema: &Schema,
    index: &EntityIndex,
    order: &[u32],
) -> Result<(Vec<u32>, LegalReps), ReadError> {
    let (parent_at, rep_at) = (position_in(schema, PARENT), position_in(schema, LEGAL_REP));
    let column = |at: usize| batches.iter().flat_map(move |b| b.column(at).as_string::<i32>().iter());
    let (parents_read, reps_read) = rayon::join(
        || {
            let mut read = Vec::with_capacity(order.len());
            index.lookup_all(column(parent_at), &mut read);
            read
        },
        || LegalReps::pack(column(rep_at), order.len()),
    );
    let parents: Vec<u32> = order.par_iter().map(|p| parents_read[*p as usize]).collect();
    drop(parents_read);
    let legal_reps =
        reps_read.map_err(|source| ReadError::UncheckedPersonId { column: LEGAL_REP, source })?.reordered(order);
    Ok((parents, legal_reps))
}

/// Numbers the accepted registry rows' entities in id order: each
/// entity's row (its position among `batches`' rows, in entity order) and
/// the ids, sorted. The ids are in column `id_at`; copies of an id are all
/// rejected before, so an id held twice here is an error (it would number
/// one entity twice).
fn number_entities(batches: &[RecordBatch], id_at: usize) -> Result<(Vec<u32>, Vec<EntityId>), ReadError> {
    // The ids end up in this memory (the index's sorted ids, looked up at random).
    let total = batches.iter().map(|b| b.num_rows()).sum();
    let mut packed: Vec<u128> = with_huge_pages(total);
    // First touched on every core, then each batch's ids packed into a
    // stretch of their own (a batch's first row numbers its rows).
    packed.par_extend(rayon::iter::repeat_n(0, total));
    let mut rest = packed.as_mut_slice();
    let mut parts = Vec::with_capacity(batches.len());
    let mut row = 0u128;
    for b in batches {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(b.num_rows());
        parts.push((part, b, row));
        rest = tail;
        row += b.num_rows() as u128;
    }
    parts.into_par_iter().try_for_each(|(part, b, first)| {
        let ids = b.column(id_at).as_string::<i32>();
        for (i, slot) in part.iter_mut().enumerate() {
            let id = EntityId::pack_unchecked(ids.value(i)).ok_or_else(|| ReadError::AcceptedRegistry {
                what: format!("hold {}, not an entity id", quote(ids.value(i))),
            })?;
            *slot = (id.bits() << 38) | (first + i as u128);
        }
        Ok::<(), ReadError>(())
    })?;
    packed.par_sort_unstable();
    if let Some(twice) = packed.par_windows(2).find_any(|w| w[0] >> 38 == w[1] >> 38) {
        let id = EntityId::from_bits(twice[0] >> 38);
        return Err(ReadError::AcceptedRegistry { what: format!("hold {} twice", quote(&id.to_string())) });
    }
    // Each entity's row, as a position in the whole; then the ids alone,
    // in the sorted ids' own memory.
    let order: Vec<u32> = packed.par_iter().map(|p| (*p & ((1u128 << 38) - 1)) as u32).collect();
    let ids: Vec<EntityId> = packed.into_iter().map(|p| EntityId::from_bits(p >> 38)).collect();
    Ok((order, ids))
}

/// What validating the registry gives: the accepted rows (the columns
/// asked for, in entity order), the entities' dense index, and the parents
/// and representatives by that index.
pub struct ValidatedRegistry {
    pub table: Validated,
    pub entities: EntityIndex,
    pub parents: Vec<u32>,
    pub legal_reps: LegalReps,
}

/// The registry's rows being written on a thread of their own: `finish`
/// waits for them and says whether they were. Dropped unfinished (the
/// registry's own validation failed), it still waits, so that nothing
/// writes into a staging folder its run has given up.
struct RegistryWrite(Option<std::thread::JoinHandle<Result<(), ReadError>>>);

impl RegistryWrite {
    /// Starts writing `merged` into `sink` on a thread of its own, which
    /// calls `done` once it has.
    fn start(
        merged: MergedCopies,
        sink: RegistrySink,
        done: impl FnOnce(&str) + Send + 'static,
    ) -> Result<RegistryWrite, ReadError> {
        let span = tracing::Span::current();
        let handle = std::thread::Builder::new()
            .name("registry-mart".into())
            .spawn(move || {
                span.in_scope(|| {
                    let written = merged.write(sink);
                    done("registry written");
                    written
                })
            })
            .map_err(|e| ReadError::Scratch { what: "starting the registry's writer".into(), source: e.into() })?;
        Ok(RegistryWrite(Some(handle)))
    }

    fn finish(mut self) -> Result<(), ReadError> {
        match self.0.take() {
            Some(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => Ok(()),
        }
    }
}

impl Drop for RegistryWrite {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.join();
        }
    }
}

/// The registry's sorted copies and what merging them needs: which rows
/// were rejected, where the id is, how many rows the table kept.
struct MergedCopies {
    /// Each copy and the global row number of its file's first row.
    files: Vec<(PathBuf, u64)>,
    rejected: Vec<bool>,
    compact: Arc<compact::Compact>,
    /// The accepted rows in entity order, and how many accepted rows the
    /// files before each hold (see [`merge::merge`]).
    order: Arc<Vec<u32>>,
    accepted_before: Vec<u32>,
    folder: PathBuf,
    /// The temporary folder holding `folder`, when the run gave none.
    _scratch: Option<tempfile::TempDir>,
}

impl MergedCopies {
    /// The copies in `folder` of `validated`'s files (the registry's),
    /// to be merged in `order` with its rejected rows left out.
    fn new(
        validated: &Validated,
        folder: PathBuf,
        compact: Arc<compact::Compact>,
        order: Arc<Vec<u32>>,
        scratch: Option<tempfile::TempDir>,
    ) -> MergedCopies {
        let mut rejected = vec![false; validated.report.rows_read as usize];
        for r in &validated.rejects {
            rejected[r.row as usize] = true;
        }
        let (mut first_row, mut accepted) = (0u64, 0u32);
        let (mut files, mut accepted_before) = (Vec::new(), Vec::new());
        for (n, f) in validated.selection.files().enumerate() {
            files.push((merge::copy_path(&folder, n), first_row));
            accepted_before.push(accepted);
            let range = first_row as usize..(first_row + f.rows) as usize;
            accepted += rejected[range].iter().filter(|r| !**r).count() as u32;
            first_row += f.rows;
        }
        MergedCopies { files, rejected, compact, order, accepted_before, folder, _scratch: scratch }
    }

    /// Merges the copies into `sink` (the merge on a second thread while
    /// this one gathers and encodes the rows it names) and removes them.
    fn write(self, mut sink: RegistrySink) -> Result<(), ReadError> {
        let MergedCopies { files, rejected, compact, order, accepted_before, folder, _scratch } = self;
        let expected = order.len();
        std::thread::scope(|s| {
            // One group waits while one is written: each holds a batch of every copy.
            let (groups, merged) = std::sync::mpsc::sync_channel::<merge::MergedGroup>(1);
            let (rejected, files, order, accepted_before) = (&rejected, &files, &order, &accepted_before);
            let merging = s.spawn(move || {
                let rejected = |g: u64| rejected[g as usize];
                merge::merge(files, &compact, &rejected, order, accepted_before, LOOKUP_ROW_GROUP_ROWS, &mut |group| {
                    // A closed channel: the writer failed, and its error is the one returned.
                    groups.send(group).map_err(|_| ReadError::Scratch {
                        what: "merging the registry".into(),
                        source: arrow::error::ArrowError::MemoryError("its writer stopped".into()),
                    })
                })
            });
            let mut rows = 0;
            let written = merged.into_iter().try_for_each(|group| {
                rows += group.len();
                sink.write(group)
            });
            written.and(merging.join().expect("the merge does not panic")).map(|()| rows)
        })
        .map(|rows| {
            // The mart and the table are the same accepted rows in the same order.
            assert_eq!(rows, expected, "the merged copies hold every accepted registry row once");
        })?;
        sink.finish()?;
        std::fs::remove_dir_all(&folder)
            .map_err(|e| ReadError::Scratch { what: format!("removing {}", folder.display()), source: e.into() })
    }
}

/// The registry column naming a branch's parent entity.
const PARENT: &str = "parent_id";

/// The registry column naming an entity's legal representative.
const LEGAL_REP: &str = "legal_rep_id";

/// Where the registry's rows go as they come in entity order.
enum RegistrySink {
    Mart(registry::RegistryWriter),
    /// These columns (positions in the rows), as text.
    Columns {
        sink: ParquetSink,
        at: Vec<usize>,
        schema: SchemaRef,
        file: PathBuf,
    },
    Nowhere,
}

impl RegistrySink {
    fn open(
        out: Option<RegistryOut>,
        snapshot: Option<crate::base::ids::AsOf>,
        rows: &Schema,
    ) -> Result<RegistrySink, ReadError> {
        Ok(match (out, snapshot) {
            (Some(RegistryOut::Mart(dir)), Some(snapshot)) => {
                RegistrySink::Mart(registry::RegistryWriter::create(dir, snapshot).map_err(mart_error)?)
            }
            (Some(RegistryOut::Columns(file, columns)), _) => {
                let at: Vec<usize> = columns.iter().map(|c| position_in(rows, c)).collect();
                let text = |name: &str| Field::new(name, DataType::Utf8, true);
                let schema = Arc::new(Schema::new(columns.iter().map(|c| text(c)).collect::<Vec<_>>()));
                let sink = ParquetSink::create(file, schema.clone()).map_err(|e| columns_error(file, e))?;
                RegistrySink::Columns { sink, at, schema, file: file.to_path_buf() }
            }
            _ => RegistrySink::Nowhere,
        })
    }

    /// Writes a merged group; the mart's rows are gathered on the core
    /// that encodes them.
    fn write(&mut self, group: merge::MergedGroup) -> Result<(), ReadError> {
        match self {
            RegistrySink::Mart(w) => w.write_group(group.len(), move || group.rows()).map_err(mart_error),
            RegistrySink::Columns { sink, at, schema, file } => {
                let group = group.rows();
                let fail = |e: parquet::errors::ParquetError| columns_error(file, e);
                let texts = at.iter().map(|c| cast(group.column(*c), &DataType::Utf8)).collect::<Result<Vec<_>, _>>();
                let batch = RecordBatch::try_new(schema.clone(), texts.map_err(|e| fail(e.into()))?);
                sink.write(&batch.map_err(|e| fail(e.into()))?).map_err(fail)
            }
            RegistrySink::Nowhere => Ok(()),
        }
    }

    fn finish(self) -> Result<(), ReadError> {
        match self {
            RegistrySink::Mart(w) => w.finish().map(drop).map_err(mart_error),
            RegistrySink::Columns { sink, file, .. } => sink.finish().map(drop).map_err(|e| columns_error(&file, e)),
            RegistrySink::Nowhere => Ok(()),
        }
    }
}

fn mart_error(source: parquet::errors::ParquetError) -> ReadError {
    ReadError::Write { what: "the registry mart".into(), source }
}

fn columns_error(file: &Path, source: parquet::errors::ParquetError) -> ReadError {
    ReadError::Write { what: format!("registry columns to {}", file.display()), source }
}

fn position_in(schema: &Schema, name: &str) -> usize {
    schema.index_of(name).expect("kept column")
}

fn with_idx(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(ENTITY_IDX, DataType::UInt32, false));
    Arc::new(Schema::new(fields))
}
