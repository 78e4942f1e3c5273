//! Validation of a run's input (datasets.md, "Bad input"): every row read
//! gets at most one fault code; the accepted rows, newest version per key,
//! become the tables the later stages read.
//!
//! Per dataset: (1) each file is read and its rows checked alone
//! ([`rows`]); (2) rows are grouped by key ([`keys`]) for `duplicate_key`
//! and, for events, the newest accepted version; (3) holdings get
//! `shares_over_100`; (4) `unknown_entity` against the registry's
//! [`EntityIndex`], `unknown_case` against the current violations. A row's
//! code is the first in the spec's order among all it breaks.
//!
//! The registry's table keeps only what later stages read; the rows its
//! mart is written from go through sorted copies on disk ([`merge`]).

mod cases;
mod compact;
mod keys;
mod merge;
mod plans;
mod registry;
mod reorder;
mod rows;
mod shares;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{DataType, Field, Float64Type, Int8Type, Schema, SchemaRef};
use fixedbitset::FixedBitSet;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::base::contract::{Contract, Contracts, Dataset, DatasetKind, FaultCode};
use crate::base::engine::registered::RegisteredIds;
use crate::base::entities::EntityIndex;
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::landing_file::{nullable, LandingFile, Selection};
use crate::base::marts::records;
use crate::base::row_checks::quote;
use crate::base::tables::{DatasetReport, Inputs, NotAPersonId, Reject, Rows, Share, Validated, ENTITY_IDX};
use keys::FileKeys;
pub use plans::{judge_holdings, judge_inputs, judge_into_table, judge_registry, PlanError, Verdicts};
pub use registry::{validate_registry, ValidatedRegistry};
use rows::RowFault;

/// What a dataset is checked against.
#[derive(Clone, Copy, Default)]
pub struct Against<'a> {
    /// The registry snapshot's entities (`unknown_entity`); absent while
    /// validating the registry itself.
    pub entities: Option<&'a EntityIndex>,
    /// The validated violations (`unknown_case`).
    pub violations: Option<&'a Validated>,
    /// A snapshot's rejects as its plans judge them, in row order: taken
    /// as they are instead of checking the rows here, awaited once the
    /// rows are read.
    pub judged: Option<&'a Judging>,
}

/// A snapshot's rejects, in row order, as they come from elsewhere (its
/// plans, judging on the run's engine while its rows are read here).
pub struct Judging(std::sync::Mutex<std::sync::mpsc::Receiver<Result<Vec<Reject>, ReadError>>>);

impl Judging {
    /// Rejects still to come: the sender gives them once.
    pub fn later() -> (std::sync::mpsc::SyncSender<Result<Vec<Reject>, ReadError>>, Judging) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        (tx, Judging(std::sync::Mutex::new(rx)))
    }

    /// Rejects known already.
    pub fn given(rejects: Vec<Reject>) -> Judging {
        let (tx, judging) = Judging::later();
        tx.send(Ok(rejects)).expect("the receiver is here");
        judging
    }

    /// The rejects, once they come; an error if their judge failed or
    /// stopped without giving them.
    fn wait(&self, dataset: Dataset) -> Result<Vec<Reject>, ReadError> {
        let stopped = || ReadError::Verdicts { dataset, what: "never came: their judge stopped".into() };
        let rx = self.0.lock().map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }
}

/// Validation failed: a landing file that fails while being read (a
/// corrupt page, a vanished file: a file-level fault found late), or a mart
/// it writes could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: not readable Parquet: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("writing {what}: {source}")]
    Write { what: String, source: parquet::errors::ParquetError },
    #[error("{what}: {source}")]
    Scratch { what: String, source: arrow::error::ArrowError },
    #[error("registry column {column}: {source}, yet the contract accepted it: the registry contract must check person_id on it")]
    UncheckedPersonId { column: &'static str, source: NotAPersonId },
    #[error(transparent)]
    Plans(#[from] plans::PlanError),
    #[error("registry row {row} (counted over the snapshot's files from 0) was accepted with a value its sorted copy cannot hold: the registry contract must check each id, person id, six-digit code and listed value it copies")]
    UnpackedRegistryValue { row: u64 },
    #[error("the registry's accepted rows {what}: the verdicts it was given do not hold")]
    AcceptedRegistry { what: String },
    #[error("{dataset}: the verdicts given {what}")]
    Verdicts { dataset: Dataset, what: String },
}

impl Classify for ReadError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReadError::Unreadable { .. } => ErrorKind::Input,
            ReadError::Write { source, .. } => source.kind(),
            ReadError::Scratch { source, .. } => source.kind(),
            ReadError::Plans(e) => e.kind(),
            // Contracts are embedded: one without the check is a bug of the build.
            ReadError::UncheckedPersonId { .. } | ReadError::UnpackedRegistryValue { .. } => ErrorKind::Bug,
            // Verdicts come from this run's own plans: a wrong one is a bug.
            ReadError::AcceptedRegistry { .. } | ReadError::Verdicts { .. } => ErrorKind::Bug,
        }
    }
}

/// Where validation writes what it read besides the in-memory tables: the
/// run's registry mart, and the records of event partitions whose records
/// are missing or stale (one staging folder per partition index, `None`
/// for a partition whose records are up to date).
#[derive(Clone, Copy, Default)]
pub struct Outputs<'a> {
    pub registry: Option<RegistryOut<'a>>,
    pub records: &'a [(Dataset, Vec<Option<PathBuf>>)],
    /// A run-scoped folder where the validated events are written for the
    /// engine to scan instead of being held ([`Rows::File`]; `None` keeps
    /// them in memory), and the registry's sorted copies ([`merge`]).
    pub events: Option<&'a Path>,
    /// Who judges every dataset instead of the native checks (their plans
    /// on the run's engine, `--plans-make-tables`); the registry's accepted
    /// rows are read here all the same, as are the events' records.
    pub by_plans: Option<&'a dyn ByPlans>,
}

/// Validation done elsewhere (by the datasets' plans, on the run's
/// engine), against the registered entities of the native validation.
pub trait ByPlans: Sync {
    /// The registry's rejects, in row order, given its contract and
    /// chosen partition.
    fn registry(&self, contract: &Contract, selection: &Selection) -> Result<Vec<Reject>, ReadError>;

    /// Writes the registered entities' ids where the plans read them.
    fn register(&self, entities: &Arc<EntityIndex>) -> Result<RegisteredIds, ReadError>;

    /// An event dataset's validated table, given its contract, its chosen
    /// partitions and the columns its table keeps; a dataset whose rows
    /// name a violation's case is given the violations' table these plans
    /// made.
    fn events(
        &self,
        contract: &Contract,
        selection: Selection,
        keep: &[&str],
        registered: &RegisteredIds,
        violations: Option<&Validated>,
    ) -> Result<Validated, ReadError>;

    /// The holdings' rejects and figures (their rows let go), and the
    /// shares between registered entities in the order of their rows.
    fn holdings(
        &self,
        contract: &Contract,
        selection: Selection,
        keep: &[&str],
        registered: &RegisteredIds,
    ) -> Result<(Validated, Vec<Share>), ReadError>;
}

/// What validation writes of the accepted registry rows, in entity order.
#[derive(Clone, Copy, Debug)]
pub enum RegistryOut<'a> {
    /// The run's registry mart, into this staging folder.
    Mart(&'a Path),
    /// These columns alone (as text), into this Parquet file: what a
    /// report reads at its end instead of holding it meanwhile.
    Columns(&'a Path, &'a [&'a str]),
}

impl Outputs<'_> {
    fn records_of(&self, dataset: Dataset) -> Option<&[Option<PathBuf>]> {
        self.records.iter().find(|(d, _)| *d == dataset).map(|(_, dirs)| dirs.as_slice())
    }
}

/// How many rows of a dataset are filtered into its output between two
/// returns of the freed rows' memory to the system.
const TRIM_EVERY_ROWS: usize = 2 << 20;

/// What stage one learns from one file.
struct FileRows {
    partition: usize,
    first_row: u64,
    faults: Vec<(usize, RowFault)>,
    /// The columns kept for later steps and the output, all rows.
    kept: RecordBatch,
    /// The dense index of each row's registered entity (`u32::MAX`: none).
    entity_idx: Option<Vec<u32>>,
    /// Rows without an earlier fault whose entity is not registered, with the message.
    unknown: Vec<(usize, String)>,
}

/// A copy stage one writes of every file's rows, sorted by entity id, for
/// rows too many to hold ([`merge`]): the columns `compact` packs, into
/// this folder.
#[derive(Clone, Copy)]
struct SortedCopy<'a> {
    folder: &'a Path,
    compact: &'a compact::Compact,
}

/// What validating one dataset writes besides its table and report.
#[derive(Clone, Copy, Default)]
struct Writes<'a> {
    /// The records of its event partitions (see [`Outputs`]).
    records: Option<&'a [Option<PathBuf>]>,
    /// Sorted copies of its files' rows (the registry's).
    copy: Option<SortedCopy<'a>>,
    /// A folder its table goes to, file by file, for the engine to scan
    /// ([`Rows::File`]) instead of being held.
    table: Option<&'a Path>,
}

/// Whether a dataset's verdicts can all come from elsewhere: a snapshot
/// whose rules look at nothing beyond its own rows and their copies (no
/// key versions, shares or lookups), as the registry's.
fn judged_on_its_own_rows(contract: &Contract) -> bool {
    contract.kind == DatasetKind::Snapshot
        && contract.shares_over_100.is_none()
        && contract.unknown_entity.is_none()
        && contract.unknown_case.is_none()
}

/// Validates one dataset. `keep` names the contract columns the output
/// table carries.
fn validate(
    contract: &Contract,
    selection: Selection,
    keep: &[&str],
    against: Against,
    writes: Writes,
) -> Result<Validated, ReadError> {
    let Writes { records, copy, table } = writes;
    if against.judged.is_some() && !judged_on_its_own_rows(contract) {
        return Err(ReadError::Verdicts {
            dataset: contract.dataset,
            what: "are for a snapshot judged on its own rows alone".into(),
        });
    }
    let NumberedFiles { files, first_rows, total } = numbered_files(&selection);
    let kept = Kept::plan(contract, keep, against.entities.is_some());
    let mut phases = crate::base::telemetry::Phases::start("validate");
    let dataset = contract.dataset;
    let mut phase = |name: &str| phases.done(&format!("{dataset}: {name}"));
    // What the run holds as this dataset's validation begins: the base its
    // phases' memory grows from.
    phase("start");
    // Stage one: every file, in parallel.
    let stage_one: Vec<FileRows> = files
        .par_iter()
        .zip(first_rows.par_iter())
        .enumerate()
        .map(|(ordinal, ((partition, file, n), first_row))| {
            let out = records.and_then(|r| r.get(*partition)).and_then(|d| d.as_deref()).map(|d| (d, *n));
            let copy = copy.map(|c| (merge::copy_path(c.folder, ordinal), c.compact));
            let check = against.judged.is_none();
            read_file(contract, file, *partition, *first_row, &kept, against.entities, out, copy, check)
        })
        .collect::<Result<_, _>>()?;

    let n = total as usize;
    let mut faults = RowFaults::new(n);
    for f in &stage_one {
        for (row, fault) in &f.faults {
            faults.set(f.first_row + *row as u64, fault.code, fault.message.clone());
        }
    }
    let judged = against.judged.map(|j| j.wait(contract.dataset)).transpose()?;
    if let Some(judged) = &judged {
        faults.take_judged(judged, contract.dataset)?;
    }

    phase("read");
    let late = late_codes(contract, &stage_one, &kept, against.violations, &faults.codes)?;

    phase("late codes");
    // Keys: duplicates within a partition, then the newest accepted version.
    let key_files = file_keys(contract, &stage_one, &kept, against.entities);
    // The rows with a late code, for the passes over every row (a probe
    // of `late` per row cost a cache miss each).
    let mut late_rows = FixedBitSet::with_capacity(n);
    late.keys().for_each(|g| late_rows.insert(*g as usize));
    let shared = match judged {
        None => keys::shared_keys(&key_files),
        Some(_) => Vec::new(),
    };
    let key_names: Vec<&str> = contract.key.iter().map(|k| contract.columns[*k].name.as_str()).collect();
    let dates: Vec<AsOf> = selection.partitions.iter().map(|p| p.ingest_date).collect();
    let key_rules = keys::KeyRules { files: &key_files, dates: &dates, key_names: &key_names };
    let is_event = contract.kind == DatasetKind::Event;
    let mut current = key_rules.judge(&shared, is_event, &late_rows, &mut faults.codes, &mut faults.messages);

    phase("keys");
    shares_over_100(contract, &kept, against.entities, &stage_one, &mut faults);
    for (g, (code, message)) in late {
        if faults.codes[g as usize].is_none() {
            faults.set(g, code, message);
        }
    }
    if !is_event {
        for (g, code) in faults.codes.iter().enumerate() {
            current.set(g, code.is_none());
        }
    }

    phase("shares");
    drop(key_files);
    let with_entity = contract.unknown_entity.is_some() && against.entities.is_some();
    let (schema, rows) = current_table(contract, stage_one, &kept.schema, keep, with_entity, &current, table)?;

    let rejects = faults.into_rejects();
    phase("output");
    let report = DatasetReport::new(contract, &selection, &rejects, current.count_ones(..) as u64, total);
    Ok(Validated { contract: contract.clone(), selection, schema, rows, report, rejects })
}

/// The columns a dataset's table keeps: those `keep` names, and an event
/// dataset's key, by which its versions are told apart.
fn kept_columns(contract: &Contract, mut keep: Vec<String>) -> Vec<String> {
    for key in &contract.key {
        if contract.kind == DatasetKind::Event && !keep.contains(&contract.columns[*key].name) {
            keep.push(contract.columns[*key].name.clone());
        }
    }
    keep
}

/// The registry's validation: natively, or judged by its plans, in which
/// case its rows are still read here as they judge them (the run numbers
/// its entities and writes its mart in id order).
fn registry_inputs(
    contract: &Contract,
    selection: Selection,
    keep: &[&str],
    out: &Outputs,
) -> Result<ValidatedRegistry, ReadError> {
    let Some(by) = out.by_plans else {
        return validate_registry(contract, selection, keep, out.registry, out.events, None);
    };
    let (verdicts, judging) = Judging::later();
    let (span, chosen) = (tracing::Span::current(), selection.clone());
    std::thread::scope(|s| {
        s.spawn(move || span.in_scope(|| verdicts.send(by.registry(contract, &chosen))));
        validate_registry(contract, selection, keep, out.registry, out.events, Some(&judging))
    })
}

/// An event dataset (or the repairs) judged by its plans, against the
/// `registered` ids, its new partitions' `records` written here meanwhile.
struct EventPlans<'a> {
    by: &'a dyn ByPlans,
    registered: &'a RegisteredIds,
    records: Option<&'a [Option<PathBuf>]>,
}

impl EventPlans<'_> {
    /// The dataset's table as its plans make it; the records are written
    /// while the plans judge the rows (on a cluster, on the executors).
    fn judge(
        &self,
        contract: &Contract,
        selection: Selection,
        keep: &[&str],
        violations: Option<&Validated>,
    ) -> Result<Validated, ReadError> {
        let (span, chosen, records) = (tracing::Span::current(), &selection, self.records);
        std::thread::scope(|s| {
            let written = s.spawn(move || span.in_scope(|| write_records(contract, chosen, records)));
            let judged = self.by.events(contract, chosen.clone(), keep, self.registered, violations);
            let written = written.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            written.and(judged)
        })
    }
}

/// The files of a selection in row order.
struct NumberedFiles<'a> {
    /// Each file with its partition and its index in that partition.
    files: Vec<(usize, &'a LandingFile, usize)>,
    /// The number of each file's first row.
    first_rows: Vec<u64>,
    /// The rows of all of them.
    total: u64,
}

fn numbered_files(selection: &Selection) -> NumberedFiles<'_> {
    let files: Vec<(usize, &LandingFile, usize)> = selection
        .partitions
        .iter()
        .enumerate()
        .flat_map(|(p, part)| part.files.iter().enumerate().map(move |(n, f)| (p, f, n)))
        .collect();
    let mut first_rows = Vec::with_capacity(files.len());
    let mut total = 0u64;
    for (_, f, _) in &files {
        first_rows.push(total);
        total += f.rows;
    }
    NumberedFiles { files, first_rows, total }
}

/// `shares_over_100`: rejects the rows of one owned entity that passed
/// every earlier rule (`faults` so far) when their shares add up to more
/// than the rule allows.
fn shares_over_100(
    contract: &Contract,
    kept: &Kept,
    entities: Option<&EntityIndex>,
    stage_one: &[FileRows],
    faults: &mut RowFaults,
) {
    let Some(rule) = &contract.shares_over_100 else { return };
    let owned = shares::Owned {
        rule,
        name: &contract.columns[rule.group_by].name,
        owned_at: kept.position(rule.group_by),
        share_at: kept.position(rule.column),
        // Each row's owned entity is looked up only when it is the
        // entity `unknown_entity` checks.
        entities: entities.filter(|_| contract.unknown_entity == Some(rule.group_by)),
    };
    for (g, message) in owned.over_100(stage_one, &faults.codes) {
        faults.set(g, FaultCode::SharesOver100, message);
    }
}

/// The codes decided row by row that apply after duplicate_key, by row
/// number (sparse: few rows get one): `unknown_entity`, found as the files
/// were read, and `unknown_case` among the accepted `violations`, for the
/// rows without a code so far (`codes`).
fn late_codes(
    contract: &Contract,
    files: &[FileRows],
    kept: &Kept,
    violations: Option<&Validated>,
    codes: &[Option<FaultCode>],
) -> Result<HashMap<u64, (FaultCode, String), FxBuildHasher>, ReadError> {
    let mut late: HashMap<u64, (FaultCode, String), FxBuildHasher> = HashMap::default();
    for f in files {
        for (r, message) in &f.unknown {
            late.insert(f.first_row + *r as u64, (FaultCode::UnknownEntity, message.clone()));
        }
    }
    if let (Some(uc), Some(violations)) = (contract.unknown_case, violations) {
        let cases = cases::NamedCases { files, at: kept.position(uc), name: &contract.columns[uc].name };
        cases.unknown(violations, codes, &mut late).map_err(|source| ReadError::Scratch {
            what: format!("reading back the validated {}", violations.contract.dataset),
            source,
        })?;
    }
    Ok(late)
}

/// Each file's key columns (and, when the key holds the entity checked,
/// its rows' entity indexes among `entities`), for the key rules.
fn file_keys<'f>(
    contract: &Contract,
    files: &'f [FileRows],
    kept: &Kept,
    entities: Option<&'f EntityIndex>,
) -> Vec<FileKeys<'f>> {
    files
        .iter()
        .map(|f| FileKeys {
            first_row: f.first_row,
            partition: f.partition,
            columns: contract.key.iter().map(|k| f.kept.column(kept.position(*k)).as_string::<i32>().clone()).collect(),
            entity: kept.entity_text.and_then(|at| {
                let in_key = contract.key.iter().position(|k| kept.position(*k) == at)?;
                Some((in_key, f.entity_idx.as_deref()?, entities?))
            }),
        })
        .collect()
}

/// Each landing row's fault, by its number among the rows read: the code
/// of the first rule it breaks (none: accepted so far) and, for a row
/// with one, the message.
struct RowFaults {
    codes: Vec<Option<FaultCode>>,
    messages: HashMap<u64, String>,
}

impl RowFaults {
    /// `n` rows, none with a fault yet.
    fn new(n: usize) -> RowFaults {
        RowFaults { codes: vec![None; n], messages: HashMap::new() }
    }

    /// Row `g` breaks the rule of `code`.
    fn set(&mut self, g: u64, code: FaultCode, message: String) {
        self.codes[g as usize] = Some(code);
        self.messages.insert(g, message);
    }

    /// Takes the rejects judged elsewhere (a snapshot's plans), which must
    /// name the rows read, in order.
    fn take_judged(&mut self, judged: &[Reject], dataset: Dataset) -> Result<(), ReadError> {
        let total = self.codes.len() as u64;
        let mut last = None;
        for r in judged {
            if r.row >= total || last.is_some_and(|l| l >= r.row) {
                let what = format!("name row {} out of order or beyond the {total} rows read", r.row);
                return Err(ReadError::Verdicts { dataset, what });
            }
            last = Some(r.row);
            self.set(r.row, r.code, r.message.clone());
        }
        Ok(())
    }

    /// The rejected rows, in row order, with their codes and messages.
    fn into_rejects(mut self) -> Vec<Reject> {
        self.codes
            .iter()
            .enumerate()
            .filter_map(|(g, c)| {
                let g = g as u64;
                c.map(|code| Reject { row: g, code, message: self.messages.remove(&g).unwrap_or_default() })
            })
            .collect()
    }
}

/// A dataset's table: its `current` rows of `files`, with the `keep`
/// columns (of `kept_schema`, the files' kept columns) and, `with_entity`,
/// each row's entity index; held, or written to files in `table`'s
/// folder for the engine to scan.
fn current_table(
    contract: &Contract,
    files: Vec<FileRows>,
    kept_schema: &Schema,
    keep: &[&str],
    with_entity: bool,
    current: &FixedBitSet,
    table: Option<&Path>,
) -> Result<(SchemaRef, Rows), ReadError> {
    let mut out_fields: Vec<Field> =
        keep.iter().map(|k| kept_schema.field_with_name(k).expect("kept").clone()).collect();
    if with_entity {
        out_fields.push(Field::new(ENTITY_IDX, DataType::UInt32, false));
    }
    let schema = Arc::new(Schema::new(out_fields));
    // Each file's rows are consumed as they are filtered: never two full
    // copies, and none at all when the table goes to files. The pool's
    // threads allocated them, mostly in another arena than the one the
    // output grows in, so what they held goes back to the system as they
    // go (50M entities: the holdings' output phase grew the process by
    // 1.1 GiB without this; with it, the process shrinks).
    let mut since_trim = 0usize;
    let chosen = files.into_iter().map(|f| {
        let len = f.kept.num_rows();
        since_trim += len;
        if since_trim >= TRIM_EVERY_ROWS {
            crate::base::engine::return_free_memory();
            since_trim = 0;
        }
        let mask = BooleanArray::from_iter((0..len).map(|r| Some(current.contains((f.first_row + r as u64) as usize))));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(keep.len() + 1);
        for k in keep {
            columns.push(f.kept.column(kept_schema.index_of(k).expect("kept")).clone());
        }
        if with_entity {
            columns.push(Arc::new(UInt32Array::from(f.entity_idx.expect("looked up"))));
        }
        let all = RecordBatch::try_new(schema.clone(), columns).expect("output schema");
        filter_record_batch(&all, &mask).expect("filter")
    });
    let chosen = chosen.filter(|b| b.num_rows() > 0);
    let rows = match table {
        None => Rows::Memory(chosen.collect()),
        Some(dir) => {
            let folder = dir.join(contract.dataset.name());
            let parts = rayon::current_num_threads();
            let rows = crate::base::engine::write_arrow_files(&folder, &schema, chosen, parts).map_err(|source| {
                ReadError::Scratch {
                    what: format!("writing the validated {} to {}", contract.dataset, folder.display()),
                    source,
                }
            })?;
            Rows::File { path: folder, rows }
        }
    };
    Ok((schema, rows))
}

/// An enumerated column kept as a dictionary over the contract's values in
/// the contract's order: the same dictionary in every batch, so that
/// batches concatenate and are written without merging dictionaries.
struct Enumeration<'a> {
    /// The column's position among the kept columns.
    at: usize,
    values: &'a [String],
    dictionary: ArrayRef,
}

impl<'a> Enumeration<'a> {
    fn new(at: usize, values: &'a [String]) -> Enumeration<'a> {
        assert!(values.len() <= i8::MAX as usize, "an enumeration of at most 127 values");
        Enumeration { at, values, dictionary: Arc::new(StringArray::from_iter_values(values)) }
    }

    fn data_type() -> DataType {
        crate::base::engine::enumerated::enumerated_type()
    }

    /// The text column as keys into the dictionary; a value outside the
    /// list (a rejected row's) is null.
    fn encode(&self, column: &ArrayRef) -> ArrayRef {
        let keys = rows::list_positions(self.values, column);
        Arc::new(DictionaryArray::<Int8Type>::try_new(keys, self.dictionary.clone()).expect("keys index the values"))
    }
}

/// What stage one keeps of each file: these columns of the contract (in
/// order), with these enumerations as dictionaries.
struct Kept<'a> {
    columns: Vec<usize>,
    schema: SchemaRef,
    enumerations: Vec<Enumeration<'a>>,
    /// The kept column of entity ids that holds text only where the entity
    /// is not registered (the checks read the others' indexes: 22 bytes a
    /// row less for the holdings' owned entities).
    entity_text: Option<usize>,
    /// The contract columns read as dictionaries
    /// ([`LandingFile::read_enumerated`]).
    read_as_dictionaries: Vec<usize>,
}

impl<'a> Kept<'a> {
    /// The columns `contract`'s rows keep past stage one: the output's
    /// (`keep`), the key, and what the later rules need; `registered`
    /// when the rows' entities are looked up among the registered ones.
    fn plan(contract: &'a Contract, keep: &[&str], registered: bool) -> Kept<'a> {
        let mut columns: Vec<usize> = keep.iter().map(|k| contract.column_index(k).expect("known column")).collect();
        columns.extend(contract.key.iter().copied());
        if let Some(s) = &contract.shares_over_100 {
            columns.extend([s.group_by, s.column]);
        }
        columns.extend(contract.unknown_case);
        columns.sort_unstable();
        columns.dedup();
        // Enumerated output columns are kept as dictionaries from
        // the start (a byte per row instead of the text; a rejected row's value
        // outside the list becomes null, and only accepted rows are output).
        let checked_later: Vec<usize> = contract
            .key
            .iter()
            .copied()
            .chain(contract.shares_over_100.iter().flat_map(|s| [s.group_by, s.column]))
            .chain(contract.unknown_case)
            .collect();
        // Enumerated columns checked row by row alone are read as dictionaries.
        let read_as_dictionaries: Vec<usize> = (0..contract.columns.len())
            .filter(|ci| contract.columns[*ci].one_of.is_some() && !checked_later.contains(ci))
            .collect();
        let enumerations: Vec<Enumeration> = columns
            .iter()
            .enumerate()
            .filter(|(_, ci)| !checked_later.contains(ci))
            .filter_map(|(at, ci)| contract.columns[*ci].one_of.as_deref().map(|values| Enumeration::new(at, values)))
            .collect();
        let schema = {
            let plain = nullable(&contract.arrow_schema().project(&columns).expect("columns"));
            let fields: Vec<Field> = plain
                .fields()
                .iter()
                .enumerate()
                .map(|(at, f)| match enumerations.iter().any(|e| e.at == at) {
                    true => f.as_ref().clone().with_data_type(Enumeration::data_type()),
                    false => f.as_ref().clone(),
                })
                .collect();
            Arc::new(Schema::new(fields))
        };
        // An entity id column kept for the checks alone (the holdings' owned
        // entity) keeps its text only where the entity is not registered.
        let entity_text = contract
            .unknown_entity
            .filter(|ue| registered && !keep.contains(&contract.columns[*ue].name.as_str()))
            .and_then(|ue| columns.binary_search(&ue).ok());
        Kept { columns, schema, enumerations, entity_text, read_as_dictionaries }
    }

    /// Where contract column `ci` is among the kept columns.
    fn position(&self, ci: usize) -> usize {
        self.columns.binary_search(&ci).expect("kept")
    }

    /// The kept columns of `batch`, whose rows' entity indexes are `idx`.
    fn of(&self, batch: &RecordBatch, idx: Option<&[u32]>) -> RecordBatch {
        let mut columns = batch.project(&self.columns).expect("kept columns").columns().to_vec();
        for e in &self.enumerations {
            columns[e.at] = e.encode(&columns[e.at]);
        }
        if let (Some(at), Some(idx)) = (self.entity_text, idx) {
            let text = columns[at].as_string::<i32>();
            let unregistered: StringArray = text.iter().zip(idx).map(|(t, i)| t.filter(|_| *i == u32::MAX)).collect();
            columns[at] = Arc::new(unregistered);
        }
        RecordBatch::try_new(self.schema.clone(), columns).expect("kept schema")
    }
}

#[allow(clippy::too_many_arguments)]
fn read_file(
    contract: &Contract,
    file: &LandingFile,
    partition: usize,
    first_row: u64,
    keep: &Kept,
    entities: Option<&EntityIndex>,
    records: Option<(&Path, usize)>,
    copy: Option<(PathBuf, &compact::Compact)>,
    check: bool,
) -> Result<FileRows, ReadError> {
    let fail = |e: &dyn std::fmt::Display| ReadError::Unreadable { path: file.relative.clone(), reason: e.to_string() };
    let mut faults = Vec::new();
    let mut kept = Vec::new();
    let mut entity_idx =
        contract.unknown_entity.filter(|_| entities.is_some()).map(|_| Vec::with_capacity(file.rows as usize));
    let mut unknown = Vec::new();
    let mut offset = 0usize;
    let mut whole = Vec::new();
    for batch in file.read_enumerated(contract, &keep.read_as_dictionaries).map_err(|e| fail(&e))? {
        let batch = batch.map_err(|e| fail(&e))?;
        if check {
            for (row, fault) in rows::check_batch(contract, &batch, file.ingest_date) {
                faults.push((offset + row, fault));
            }
        }
        let before = entity_idx.as_ref().map_or(0, |v| v.len());
        if let (Some(ue), Some(out), Some(index)) = (contract.unknown_entity, entity_idx.as_mut(), entities) {
            let ids = batch.column(ue).as_string::<i32>();
            let name = &contract.columns[ue].name;
            index.lookup_all(ids.iter(), out);
            let faulty: HashSet<usize> = faults.iter().map(|(r, _)| *r).filter(|r| *r >= offset).collect();
            for r in 0..ids.len() {
                if out[before + r] == u32::MAX && !faulty.contains(&(offset + r)) {
                    let message = format!(
                        "column {name}: entity {} is not in the registry snapshot the run uses",
                        quote(ids.value(r))
                    );
                    unknown.push((offset + r, message));
                }
            }
        }
        kept.push(keep.of(&batch, entity_idx.as_ref().map(|v| &v[before..])));
        offset += batch.num_rows();
        if records.is_some() || copy.is_some() {
            whole.push(batch);
        }
    }
    if offset as u64 != file.rows {
        return Err(fail(&format!("footer promises {} rows, read {offset}", file.rows)));
    }
    if let Some((dir, n)) = records {
        records::write_file(dir, n, contract, file, &whole)
            .map_err(|source| ReadError::Write { what: format!("the records of {}", file.relative), source })?;
    }
    if let Some((path, compact)) = copy {
        merge::write_sorted(&path, compact, &whole).map_err(|source| ReadError::Scratch {
            what: format!("writing a sorted copy of {} to {}", file.relative, path.display()),
            source,
        })?;
    }
    let kept = concat_batches(&keep.schema, &kept).map_err(|e| fail(&e))?;
    Ok(FileRows { partition, first_row, faults, kept, entity_idx, unknown })
}

/// The records of `selection`'s partitions that `dirs` names a folder for
/// (see [`Outputs`]), each file read and written on a core of its own: what
/// the native validation writes as it reads them.
fn write_records(
    contract: &Contract,
    selection: &Selection,
    dirs: Option<&[Option<PathBuf>]>,
) -> Result<(), ReadError> {
    let Some(dirs) = dirs else { return Ok(()) };
    let files: Vec<(&Path, usize, &LandingFile)> = selection
        .partitions
        .iter()
        .zip(dirs)
        .filter_map(|(part, dir)| dir.as_deref().map(|dir| (dir, part)))
        .flat_map(|(dir, part)| part.files.iter().enumerate().map(move |(n, f)| (dir, n, f)))
        .collect();
    files.into_par_iter().try_for_each(|(dir, n, file)| {
        let fail =
            |e: &dyn std::fmt::Display| ReadError::Unreadable { path: file.relative.clone(), reason: e.to_string() };
        let batches = file
            .read_enumerated(contract, &[])
            .map_err(|e| fail(&e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(&e))?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows as u64 != file.rows {
            return Err(fail(&format!("footer promises {} rows, read {rows}", file.rows)));
        }
        records::write_file(dir, n, contract, file, &batches)
            .map(|_| ())
            .map_err(|source| ReadError::Write { what: format!("the records of {}", file.relative), source })
    })
}

/// Validates the five datasets of a run from their chosen partitions (in
/// `Dataset::ALL` order). `keep` names the contract columns each output
/// table carries (the key of an event dataset is always kept).
pub fn validate_inputs(
    contracts: &Contracts,
    selections: Vec<Selection>,
    keep: &dyn Fn(Dataset) -> Vec<String>,
    out: &Outputs,
) -> Result<Inputs, ReadError> {
    let mut selections: Vec<Option<Selection>> = selections.into_iter().map(Some).collect();
    let mut take = |d: Dataset| selections[d as usize].take().expect("one selection per dataset");
    let columns = |d: Dataset| kept_columns(contracts.get(d), keep(d));
    let span = |d: Dataset| tracing::info_span!("validate", dataset = d.name());

    let reg_cols = columns(Dataset::Registry);
    let ValidatedRegistry { table: registry, entities, parents, legal_reps } =
        span(Dataset::Registry).in_scope(|| {
            registry_inputs(contracts.get(Dataset::Registry), take(Dataset::Registry), &as_strs(&reg_cols), out)
        })?;
    // The plans that validate some datasets look the entities up in their
    // ids (in this process, in this index itself).
    let entities = Arc::new(entities);
    let forget = out.by_plans.map(|_| crate::base::engine::registered::ForgetWhenDropped);
    let registered = out.by_plans.map(|by| by.register(&entities)).transpose()?;
    let mut one = |d: Dataset, violations: Option<&Validated>| -> Result<Validated, ReadError> {
        let cols = columns(d);
        // What the previous dataset's checks held goes back to the system
        // before this one is read.
        crate::base::engine::return_free_memory();
        span(d).in_scope(|| {
            // The event tables go to files as they are chosen; the repairs,
            // few, and the holdings stay, unless their plans make them.
            let is_event = matches!(d, Dataset::Violations | Dataset::Complaints);
            let table = out.events.filter(|_| is_event);
            if let Some(by) = out.by_plans.filter(|_| is_event || d == Dataset::Repairs) {
                let registered = registered.as_ref().expect("registered with the plans");
                let plans = EventPlans { by, registered, records: out.records_of(d) };
                return plans.judge(contracts.get(d), take(d), &as_strs(&cols), violations);
            }
            validate(
                contracts.get(d),
                take(d),
                &as_strs(&cols),
                Against { entities: Some(&entities), violations, judged: None },
                Writes { records: out.records_of(d), table, ..Writes::default() },
            )
        })
    };
    // The holdings, needed until the graph, come last: a run's peak holds
    // one dataset's validation, not every table.
    let violations = one(Dataset::Violations, None)?;
    // Held, as the lists read them after the plans' files are gone.
    let repairs = one(Dataset::Repairs, Some(&violations))?.into_held().map_err(|source| ReadError::Scratch {
        what: "reading back the repairs the plans validated".to_string(),
        source,
    })?;
    let complaints = one(Dataset::Complaints, None)?;
    let (holdings, shares) = match out.by_plans {
        Some(by) => {
            let cols = columns(Dataset::Holdings);
            let selection = take(Dataset::Holdings);
            let registered = registered.as_ref().expect("registered with the plans");
            span(Dataset::Holdings)
                .in_scope(|| by.holdings(contracts.get(Dataset::Holdings), selection, &as_strs(&cols), registered))?
        }
        None => {
            let mut holdings = one(Dataset::Holdings, None)?;
            let shares = entity_shares(&holdings, &entities);
            holdings.release();
            (holdings, shares)
        }
    };
    // The plans are done: the index they looked ids up in is the run's alone.
    drop(forget);
    let entities = Arc::try_unwrap(entities)
        .unwrap_or_else(|shared| EntityIndex::from_sorted((0..shared.len() as u32).map(|i| shared.id(i)).collect()));
    Ok(Inputs {
        registry,
        entities,
        holdings,
        shares,
        legal_reps,
        parents,
        violations,
        complaints,
        repairs,
        scratch: None,
    })
}

/// The accepted holdings whose holder is a registered entity, as dense
/// indexes: the run keeps these 16 bytes per edge instead of the holdings'
/// text until the graph is built.
fn entity_shares(holdings: &Validated, entities: &EntityIndex) -> Vec<Share> {
    let of_batch = |b: &RecordBatch| {
        let col = |name: &str| b.column(b.schema().index_of(name).expect("holdings keep the column")).clone();
        let (holder, kind, share, owned) = (col("holder_id"), col("holder_kind"), col("share_pct"), col(ENTITY_IDX));
        let (holder, kind) = (holder.as_string::<i32>(), kind.as_dictionary::<Int8Type>());
        let entity = kind.values().as_string::<i32>().iter().position(|v| v == Some("entity")).map(|p| p as i8);
        let (share, owned) =
            (share.as_primitive::<Float64Type>(), owned.as_primitive::<arrow::datatypes::UInt32Type>());
        let mut holders = Vec::with_capacity(b.num_rows());
        let kinds = kind.keys();
        entities.lookup_all(
            (0..b.num_rows()).map(|r| (Some(kinds.value(r)) == entity).then(|| holder.value(r))),
            &mut holders,
        );
        holders
            .into_iter()
            .enumerate()
            .filter(|(_, h)| *h != u32::MAX)
            .map(|(r, h)| (h, owned.value(r), share.value(r)))
            .collect::<Vec<Share>>()
    };
    holdings.batches().par_iter().flat_map_iter(of_batch).collect()
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerated_columns_share_one_dictionary_in_the_contracts_order() {
        let values: Vec<String> = ["minor", "general", "grave"].map(String::from).to_vec();
        let e = Enumeration::new(0, &values);
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("grave"), None, Some("minor")]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![Some("catastrophic"), Some("general")]));
        let (a, b) = (e.encode(&a), e.encode(&b));
        let (a, b) = (a.as_dictionary::<Int8Type>(), b.as_dictionary::<Int8Type>());
        assert_eq!(a.keys().iter().collect::<Vec<_>>(), vec![Some(2), None, Some(0)]);
        assert_eq!(b.keys().iter().collect::<Vec<_>>(), vec![None, Some(1)], "a value outside the list is null");
        assert!(a.values().to_data().ptr_eq(&b.values().to_data()), "one dictionary for every batch");
        assert_eq!(a.values().as_string::<i32>().iter().flatten().collect::<Vec<_>>(), ["minor", "general", "grave"]);
    }

    /// Verdicts from elsewhere stand for every rule only where no rule
    /// looks beyond a row and its copies: a dataset with key versions,
    /// shares or lookups is refused them, whatever its rows.
    #[test]
    fn only_a_snapshot_judged_on_its_own_rows_takes_verdicts_given() {
        let contracts = Contracts::load().unwrap();
        let judged = Judging::given(Vec::new());
        for d in [Dataset::Holdings, Dataset::Violations, Dataset::Complaints, Dataset::Repairs] {
            let against = Against { judged: Some(&judged), ..Against::default() };
            let selection = Selection { partitions: Vec::new() };
            let e = validate(contracts.get(d), selection, &[], against, Writes::default()).err().expect("refused");
            assert!(e.to_string().contains("are for a snapshot judged on its own rows alone"), "{d}: {e}");
        }
    }
}
