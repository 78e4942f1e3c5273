//! The landing zone: which partitions a run as of D reads (datasets.md,
//! "Layout"), the file-level checks made before any row is looked at, and a
//! reader that yields each file's rows in the contract's shape.

use std::fmt;
use std::fs::{self, File};
use std::path::PathBuf;

use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};

use crate::base::contract::{Contract, Contracts, Dataset, DatasetKind};
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::{parse_date, AsOf};
use crate::base::landing_file::{LandingFile, Partition, Seal, Selection};
use crate::base::warehouse::Warehouse;

/// A fault that stops the run before anything is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileFault {
    /// A folder under `landing/<dataset>/` not named `ingest_date=YYYY-MM-DD`.
    BadFolder {
        path: String,
    },
    /// A Parquet file directly under `landing/<dataset>/`, outside any partition.
    OutsidePartition {
        path: String,
    },
    Unreadable {
        path: String,
        reason: String,
    },
    MissingColumn {
        path: String,
        column: String,
        expected: String,
    },
    WrongType {
        path: String,
        column: String,
        expected: String,
        found: String,
    },
    NoRegistryPartition {
        as_of: AsOf,
    },
    /// Two top-level columns of one file share a name.
    DuplicateColumn {
        path: String,
        column: String,
    },
    /// A folder inside an `ingest_date=` partition (a writer's `_temporary/`:
    /// the partition may be half-written).
    FolderInPartition {
        path: String,
    },
}

impl fmt::Display for FileFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileFault::BadFolder { path } => {
                write!(f, "{path}: folder is not a partition: expected a name of the form ingest_date=YYYY-MM-DD")
            }
            FileFault::OutsidePartition { path } => {
                write!(f, "{path}: file is outside any ingest_date=YYYY-MM-DD partition")
            }
            FileFault::Unreadable { path, reason } => {
                write!(f, "{path}: not readable Parquet: {reason}")
            }
            FileFault::MissingColumn { path, column, expected } => {
                write!(f, "{path}: required column {column} is missing: expected {expected}, found no such column")
            }
            FileFault::WrongType { path, column, expected, found } => {
                write!(f, "{path}: column {column} has the wrong type: expected {expected}, found {found}")
            }
            FileFault::DuplicateColumn { path, column } => {
                write!(
                    f,
                    "{path}: column {column} appears more than once: expected one column of that name, found several"
                )
            }
            FileFault::FolderInPartition { path } => {
                write!(
                    f,
                    "{path}: a folder inside a partition: expected only .parquet files (the partition may be half-written)"
                )
            }
            FileFault::NoRegistryPartition { as_of } => {
                write!(f, "landing/registry: no partition with ingest_date <= {as_of}: a run needs a registry snapshot")
            }
        }
    }
}

/// Every file-level fault found in the landing zone, reported together.
#[derive(Debug, thiserror::Error)]
pub struct LandingError {
    pub faults: Vec<FileFault>,
}

impl Classify for LandingError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

impl fmt::Display for LandingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the landing zone has {} file-level fault(s); nothing was written", self.faults.len())?;
        for fault in &self.faults {
            write!(f, "\n  - {fault}")?;
        }
        Ok(())
    }
}

/// Chooses and checks the partitions of `contract`'s dataset for a run as of
/// `as_of`: the newest partition `<= as_of` of a snapshot, every partition
/// `<= as_of` of an event dataset. Faults are appended to `faults`.
pub fn select(wh: &Warehouse, contract: &Contract, as_of: AsOf, seal: &Seal, faults: &mut Vec<FileFault>) -> Selection {
    let dir = wh.landing(contract.dataset);
    let mut dated: Vec<(AsOf, PathBuf)> = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Selection { partitions: vec![] },
        Err(e) => {
            faults.push(FileFault::Unreadable { path: wh.relative(&dir), reason: e.to_string() });
            return Selection { partitions: vec![] };
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            match name.strip_prefix("ingest_date=").and_then(parse_date) {
                Some(d) => dated.push((AsOf::new(d), path)),
                None => faults.push(FileFault::BadFolder { path: wh.relative(&path) }),
            }
        } else if name.ends_with(".parquet") {
            faults.push(FileFault::OutsidePartition { path: wh.relative(&path) });
        }
    }
    dated.retain(|(d, _)| *d <= as_of);
    dated.sort();
    if contract.kind == DatasetKind::Snapshot && dated.len() > 1 {
        dated.drain(..dated.len() - 1);
    }
    let partitions = dated
        .into_iter()
        .map(|(ingest_date, path)| Partition {
            ingest_date,
            files: partition_files(wh, contract, ingest_date, &path, seal, faults),
        })
        .collect();
    Selection { partitions }
}

fn partition_files(
    wh: &Warehouse,
    contract: &Contract,
    ingest_date: AsOf,
    dir: &std::path::Path,
    seal: &Seal,
    faults: &mut Vec<FileFault>,
) -> Vec<LandingFile> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            faults.push(FileFault::Unreadable { path: wh.relative(dir), reason: e.to_string() });
            return vec![];
        }
    };
    let mut paths = Vec::new();
    let mut folders: Vec<PathBuf> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            folders.push(path);
        } else if path.is_file() && path.extension().is_some_and(|x| x == "parquet") {
            paths.push(path);
        }
    }
    folders.sort();
    for f in folders {
        faults.push(FileFault::FolderInPartition { path: wh.relative(&f) });
    }
    paths.sort();
    paths.into_iter().filter_map(|p| open_file(wh, contract, ingest_date, p, seal, faults)).collect()
}

/// Reads a file's footer and checks its columns against the contract.
fn open_file(
    wh: &Warehouse,
    contract: &Contract,
    ingest_date: AsOf,
    path: PathBuf,
    seal: &Seal,
    faults: &mut Vec<FileFault>,
) -> Option<LandingFile> {
    let relative = wh.relative(&path);
    let metadata = match File::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|f| ArrowReaderMetadata::load(&f, ArrowReaderOptions::new()).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(reason) => {
            faults.push(FileFault::Unreadable { path: relative, reason });
            return None;
        }
    };
    let schema = metadata.schema().clone();
    let before = faults.len();
    let mut seen = std::collections::BTreeSet::new();
    for f in schema.fields() {
        if !seen.insert(f.name().as_str()) {
            faults.push(FileFault::DuplicateColumn { path: relative.clone(), column: f.name().clone() });
        }
    }
    let mut columns = Vec::with_capacity(contract.columns.len());
    let mut large_utf8 = Vec::with_capacity(contract.columns.len());
    for c in &contract.columns {
        match schema.index_of(&c.name) {
            Ok(i) => {
                let found = schema.field(i).data_type();
                if !c.ty.accepts(found) {
                    faults.push(FileFault::WrongType {
                        path: relative.clone(),
                        column: c.name.clone(),
                        expected: c.ty.to_string(),
                        found: found.to_string(),
                    });
                }
                columns.push(Some(i));
                large_utf8.push(*found == DataType::LargeUtf8);
            }
            Err(_) => {
                if c.must_exist_in_file() {
                    faults.push(FileFault::MissingColumn {
                        path: relative.clone(),
                        column: c.name.clone(),
                        expected: c.ty.to_string(),
                    });
                }
                columns.push(None);
                large_utf8.push(false);
            }
        }
    }
    if faults.len() > before {
        return None;
    }
    let rows = metadata.metadata().file_metadata().num_rows() as u64;
    Some(LandingFile { path, relative, ingest_date, rows, columns, large_utf8, metadata, seal: seal.clone() })
}

/// Chooses and checks the partitions of every dataset for a run as of
/// `as_of`, in `Dataset::ALL` order. Every file-level fault is reported at
/// once, and nothing is read past the footers when there is any. Reads of
/// the files stop working once `seal` is closed.
pub fn select_all(
    wh: &Warehouse,
    contracts: &Contracts,
    as_of: AsOf,
    seal: &Seal,
) -> Result<Vec<Selection>, LandingError> {
    let mut faults = Vec::new();
    let selections: Vec<Selection> =
        Dataset::ALL.iter().map(|d| select(wh, contracts.get(*d), as_of, seal, &mut faults)).collect();
    tracing::debug!(files = selections.iter().map(|s| s.files().count()).sum::<usize>(), "landing files checked");
    if selections[Dataset::Registry as usize].partitions.is_empty() {
        faults.push(FileFault::NoRegistryPartition { as_of });
    }
    if faults.is_empty() {
        Ok(selections)
    } else {
        Err(LandingError { faults })
    }
}
