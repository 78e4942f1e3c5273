//! The files of a publication: entries and changes as Parquet and CSV (the
//! whole list, or a partner's columns and regions), and the manifest that
//! names every file with its rows, bytes and SHA-256.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Field, Int32Type, Schema, SchemaRef};
use sha2::{Digest, Sha256};

use super::entries::{Action, Change, Entry, RemovalReason};
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::{days_to_date, AsOf};
use crate::base::marts::{append_strings, string_list_builder};
use crate::base::parquet_io::{read_parquet, write_parquet};
use crate::config::partners::{Format, ENTRY_COLUMNS};

/// A publication file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Parquet { path: String, source: parquet::errors::ParquetError },
    #[error("{path}: {source}")]
    Csv { path: String, source: csv::Error },
    #[error("{path}: {reason}")]
    Malformed { path: String, reason: String },
}

impl Classify for FileError {
    fn kind(&self) -> ErrorKind {
        match self {
            FileError::Io { source, .. } => Classify::kind(source),
            FileError::Parquet { source, .. } => source.kind(),
            FileError::Csv { source, .. } => match source.kind() {
                csv::ErrorKind::Io(e) => Classify::kind(e),
                _ => ErrorKind::Bug,
            },
            FileError::Malformed { .. } => ErrorKind::Input,
        }
    }
}

fn field(name: &str) -> Field {
    let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, false)));
    match name {
        "online_store" => Field::new(name, DataType::Utf8, true),
        "depth" => Field::new(name, DataType::Int32, false),
        "listed_since" => Field::new(name, DataType::Date32, false),
        "rules" | "roots" | "measures" => Field::new(name, list, false),
        _ => Field::new(name, DataType::Utf8, false),
    }
}

/// The entries schema with `columns` (in entries order).
pub fn entries_schema(columns: &[String]) -> SchemaRef {
    Arc::new(Schema::new(columns.iter().map(|c| field(c)).collect::<Vec<_>>()))
}

/// The changes schema: `action`, the columns, `removal_reason`.
pub fn changes_schema(columns: &[String]) -> SchemaRef {
    let mut fields = vec![Field::new("action", DataType::Utf8, false)];
    fields.extend(columns.iter().map(|c| field(c)));
    fields.push(Field::new("removal_reason", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

pub fn all_columns() -> Vec<String> {
    ENTRY_COLUMNS.iter().map(|c| c.to_string()).collect()
}

fn column(name: &str, entries: &[&Entry]) -> ArrayRef {
    let strings = |f: &dyn Fn(&Entry) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(entries.iter().map(|e| f(e))))
    };
    let lists = |f: &dyn Fn(&Entry) -> &Vec<String>| -> ArrayRef {
        let mut b = string_list_builder();
        for e in entries {
            append_strings(&mut b, f(e));
        }
        Arc::new(b.finish())
    };
    match name {
        "entity_id" => strings(&|e| &e.entity_id),
        "name" => strings(&|e| &e.name),
        "region" => strings(&|e| &e.region),
        "online_store" => {
            Arc::new(StringArray::from(entries.iter().map(|e| e.online_store.as_deref()).collect::<Vec<_>>()))
        }
        "list_id" => strings(&|e| &e.list_id),
        "basis" => strings(&|e| &e.basis),
        "depth" => Arc::new(Int32Array::from_iter_values(entries.iter().map(|e| e.depth))),
        "rules" => lists(&|e| &e.rules),
        "roots" => lists(&|e| &e.roots),
        "listed_since" => {
            Arc::new(Date32Array::from_iter_values(entries.iter().map(|e| e.listed_since.days_since_epoch())))
        }
        "measures" => lists(&|e| &e.measures),
        other => unreachable!("not an entries column: {other}"),
    }
}

pub fn entries_batch(entries: &[&Entry], columns: &[String]) -> RecordBatch {
    let arrays = columns.iter().map(|c| column(c, entries)).collect();
    RecordBatch::try_new(entries_schema(columns), arrays).expect("entries schema")
}

pub fn changes_batch(changes: &[&Change], columns: &[String]) -> RecordBatch {
    let entries: Vec<&Entry> = changes.iter().map(|c| &c.entry).collect();
    let mut arrays: Vec<ArrayRef> =
        vec![Arc::new(StringArray::from_iter_values(changes.iter().map(|c| c.action.as_str())))];
    arrays.extend(columns.iter().map(|c| column(c, &entries)));
    arrays.push(Arc::new(StringArray::from(
        changes.iter().map(|c| c.removal_reason.map(|r| r.as_str())).collect::<Vec<_>>(),
    )));
    RecordBatch::try_new(changes_schema(columns), arrays).expect("changes schema")
}

/// A file written into a publication folder.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<(String, u64), std::io::Error> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut h)?;
    Ok((hex::encode(h.finalize()), bytes))
}

/// Writes `batch` as `<stem>.<format>` into `dir` and describes the file.
pub fn write(dir: &Path, stem: &str, format: Format, batch: &RecordBatch) -> Result<FileInfo, FileError> {
    let name = format!("{stem}.{}", format.extension());
    let path = dir.join(&name);
    let shown = path.display().to_string();
    match format {
        Format::Parquet => {
            write_parquet(&path, batch.schema(), std::slice::from_ref(batch))
                .map_err(|source| FileError::Parquet { path: shown.clone(), source })?;
        }
        Format::Csv => write_csv(&path, batch).map_err(|source| FileError::Csv { path: shown.clone(), source })?,
    }
    let (sha256, bytes) = sha256_file(&path).map_err(|source| FileError::Io { path: shown, source })?;
    Ok(FileInfo { name, rows: batch.num_rows() as u64, bytes, sha256 })
}

/// CSV with a header; lists joined by `;`, dates as YYYY-MM-DD, null empty,
/// formula cells defused.
pub fn write_csv(path: &Path, batch: &RecordBatch) -> Result<(), csv::Error> {
    let file = std::fs::File::create(path)?;
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(std::io::BufWriter::new(file));
    let schema = batch.schema();
    w.write_record(schema.fields().iter().map(|f| f.name().as_str()))?;
    for r in 0..batch.num_rows() {
        let record: Vec<String> = batch.columns().iter().map(|a| cell(a, r)).collect();
        w.write_record(&record)?;
    }
    let buf = w.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    let file = buf.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    file.sync_all()?;
    Ok(())
}

/// A CSV cell a spreadsheet would run as a formula (it begins with `=`,
/// `+`, `-`, `@`, a tab or a carriage return) gets a `'` in front; the
/// Parquet files keep the raw value.
pub fn defused(text: String) -> String {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}"),
        _ => text,
    }
}

fn cell(a: &ArrayRef, r: usize) -> String {
    if a.is_null(r) {
        return String::new();
    }
    match a.data_type() {
        DataType::Utf8 => defused(a.as_string::<i32>().value(r).to_string()),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(r).to_string(),
        DataType::Float64 => a.as_primitive::<arrow::datatypes::Float64Type>().value(r).to_string(),
        DataType::Date32 => {
            days_to_date(a.as_primitive::<Date32Type>().value(r)).map(|d| d.to_string()).unwrap_or_default()
        }
        DataType::List(_) => {
            let v = a.as_list::<i32>().value(r);
            let s = v.as_string::<i32>();
            defused((0..s.len()).map(|i| s.value(i)).collect::<Vec<_>>().join(";"))
        }
        other => unreachable!("no {other} column in a publication or report"),
    }
}

/// The entries held by columns `at..at + 11` of a full batch.
fn entries_of(b: &RecordBatch, at: usize, shown: &str) -> Result<Vec<Entry>, FileError> {
    let s = |i: usize| b.column(at + i).as_string::<i32>().clone();
    let list = |i: usize, r: usize| {
        let v = b.column(at + i).as_list::<i32>().value(r);
        let s = v.as_string::<i32>();
        (0..s.len()).map(|k| s.value(k).to_string()).collect::<Vec<_>>()
    };
    let (id, name, region, store, list_id, basis) = (s(0), s(1), s(2), s(3), s(4), s(5));
    let depth = b.column(at + 6).as_primitive::<Int32Type>();
    let since = b.column(at + 9).as_primitive::<Date32Type>();
    let mut out = Vec::with_capacity(b.num_rows());
    for r in 0..b.num_rows() {
        let listed_since = AsOf::from_days_since_epoch(since.value(r)).ok_or_else(|| FileError::Malformed {
            path: shown.to_string(),
            reason: format!("row {r}: listed_since is day {}, no calendar date", since.value(r)),
        })?;
        out.push(Entry {
            entity_id: id.value(r).to_string(),
            name: name.value(r).to_string(),
            region: region.value(r).to_string(),
            online_store: store.is_valid(r).then(|| store.value(r).to_string()),
            list_id: list_id.value(r).to_string(),
            basis: basis.value(r).to_string(),
            depth: depth.value(r),
            rules: list(7, r),
            roots: list(8, r),
            listed_since,
            measures: list(10, r),
        });
    }
    Ok(out)
}

/// Reads a full `entries.parquet` back.
pub fn read_entries(path: &Path) -> Result<Vec<Entry>, FileError> {
    let shown = path.display().to_string();
    let batches = read_parquet(path).map_err(|source| FileError::Parquet { path: shown.clone(), source })?;
    let mut out = Vec::new();
    for b in batches {
        if b.schema() != entries_schema(&all_columns()) {
            return Err(FileError::Malformed { path: shown, reason: "not a full entries file".into() });
        }
        out.extend(entries_of(&b, 0, &shown)?);
    }
    Ok(out)
}

/// Reads a full `changes.parquet` back.
pub fn read_changes(path: &Path) -> Result<Vec<Change>, FileError> {
    let shown = path.display().to_string();
    let batches = read_parquet(path).map_err(|source| FileError::Parquet { path: shown.clone(), source })?;
    let mut out = Vec::new();
    for b in batches {
        if b.schema() != changes_schema(&all_columns()) {
            return Err(FileError::Malformed { path: shown, reason: "not a full changes file".into() });
        }
        let actions = b.column(0).as_string::<i32>();
        let reasons = b.column(b.num_columns() - 1).as_string::<i32>();
        for (r, entry) in entries_of(&b, 1, &shown)?.into_iter().enumerate() {
            let action = match actions.value(r) {
                "added" => Action::Added,
                "removed" => Action::Removed,
                "changed" => Action::Changed,
                other => return Err(FileError::Malformed { path: shown, reason: format!("action '{other}'") }),
            };
            let removal_reason = if reasons.is_valid(r) { RemovalReason::parse(reasons.value(r)) } else { None };
            out.push(Change { action, entry, removal_reason });
        }
    }
    Ok(out)
}

/// The partitions a run read of one input dataset.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputInfo {
    pub dataset: String,
    pub partitions: Vec<PartitionInfo>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartitionInfo {
    pub ingest_date: String,
    pub rows: u64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PolicyInfo {
    pub id: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub entries: u64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
}

/// Whose files a manifest of `partner` describes, as messages name it:
/// `the view of partner tax-bureau`, or `the whole publication`. The name
/// comes from a file on disk: its control characters are escaped.
pub fn audience(partner: Option<&str>) -> String {
    match partner {
        Some(p) => format!("the view of partner {}", crate::base::printable::printable(p, 64)),
        None => "the whole publication".to_string(),
    }
}

/// `manifest.json` (publication.md): everything needed to check and rebuild
/// a publication. One signature of it covers every file through the hashes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub list_id: String,
    pub list_title: String,
    pub publication_id: String,
    pub previous_publication_id: Option<String>,
    pub as_of: String,
    pub run_id: i64,
    pub policy: PolicyInfo,
    /// The partner this view is for; `None` for the whole publication.
    pub partner: Option<String>,
    /// The partner's region code prefixes (empty: every region).
    pub regions: Vec<String>,
    /// The entries columns the files carry (absent in manifests written
    /// before views were checked at serve time: every column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// The newest decision id the run used (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions_through: Option<i64>,
    /// SHA-256 of the decisions the run used, one JSON object a line in id order (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions_sha256: Option<String>,
    pub inputs: Vec<InputInfo>,
    pub files: Vec<FileInfo>,
    pub counts: Counts,
    /// Whether `manifest.json.minisig` accompanies the manifest.
    pub signed: bool,
    pub key_id: Option<String>,
    pub created_at: String,
}

pub const MANIFEST_FORMAT: &str = "credence-publication/2";

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, FileError> {
        let path = dir.join("manifest.json");
        let shown = path.display().to_string();
        let text = std::fs::read(&path).map_err(|source| FileError::Io { path: shown.clone(), source })?;
        serde_json::from_slice(&text).map_err(|e| FileError::Malformed { path: shown, reason: e.to_string() })
    }

    pub fn file(&self, name: &str) -> Option<&FileInfo> {
        self.files.iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod csv_tests {
    use super::defused;

    #[test]
    fn formula_cells_are_defused_in_csv() {
        for (raw, csv) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Hai Na Trading", "Hai Na Trading"),
            ("a=b", "a=b"),
        ] {
            assert_eq!(defused(raw.to_string()), csv);
        }
    }

    /// A list's cell (its items joined by `;`) is defused as a text cell
    /// is: a first item a spreadsheet would run gets its `'`. Today's
    /// lists hold checked ids and measures, which cannot begin so; the
    /// CSV does not rely on it (a mutant that left list cells alone
    /// survived every test).
    #[test]
    fn list_cells_are_defused_too() {
        use arrow::array::{ArrayRef, ListBuilder, StringBuilder};
        let mut b = ListBuilder::new(StringBuilder::new());
        b.values().append_value("=1+1");
        b.values().append_value("x");
        b.append(true);
        b.values().append_value("a");
        b.values().append_value("=b");
        b.append(true);
        let lists: ArrayRef = std::sync::Arc::new(b.finish());
        assert_eq!(super::cell(&lists, 0), "'=1+1;x");
        assert_eq!(super::cell(&lists, 1), "a;=b");
    }
}

#[cfg(test)]
mod tests {
    /// A partner name read from a manifest on disk cannot forge a line of
    /// a message or the audit log.
    #[test]
    fn a_manifests_partner_is_named_with_its_controls_escaped() {
        assert_eq!(super::audience(Some("tax-bureau")), "the view of partner tax-bureau");
        assert!(!super::audience(Some("x\nFAILED: forged")).contains('\n'));
        assert_eq!(super::audience(None), "the whole publication");
    }
}
