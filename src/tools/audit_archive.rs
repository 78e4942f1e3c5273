//! Archiving the audit log (`credence audit archive`): the rows before a
//! date leave the database only as a signed Parquet file, so that the log
//! can be rotated without losing what it proves.
//!
//! ```text
//! warehouse/audit/archive-<first>-<last>.parquet        the rows, as stored
//! warehouse/audit/archive-<first>-<last>.json           rows, ids, times, SHA-256 of the Parquet file
//! warehouse/audit/archive-<first>-<last>.json.minisig   the regulator's signature of the JSON
//! ```
//!
//! The files are written and flushed before the rows are deleted; the
//! deletion, its record and an audit row saying who archived what are one
//! transaction ([`Store::rotate_audit`]).

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::base::error::{Classify, ErrorKind};
use crate::base::parquet_io::write_parquet;
use crate::base::sign::{SignError, Signer};
use crate::base::store::{AuditRow, Store, StoreError};
use crate::base::warehouse::{sync_dir, write_file_atomically, Warehouse};
use crate::stages::publish::files::sha256_file;

/// Archiving failed; nothing was deleted.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("writing {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("writing {path}: {source}")]
    Parquet { path: String, source: parquet::errors::ParquetError },
}

impl Classify for ArchiveError {
    fn kind(&self) -> ErrorKind {
        match self {
            ArchiveError::Store(e) => e.kind(),
            ArchiveError::Sign(e) => e.kind(),
            ArchiveError::Io { source, .. } => Classify::kind(source),
            ArchiveError::Parquet { source, .. } => source.kind(),
        }
    }
}

/// What was archived.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Archive {
    pub format: String,
    pub first_audit_id: i64,
    pub last_audit_id: i64,
    pub rows: u64,
    pub first_at: String,
    pub last_at: String,
    pub file: String,
    pub sha256: String,
    pub archived_by: String,
}

/// Archives and removes the audit rows recorded before `before` (RFC 3339
/// or a date); `None` when there are none.
pub fn archive(
    wh: &Warehouse,
    store: &Store,
    before: &str,
    signer: &Signer,
    by: &str,
) -> Result<Option<(Archive, PathBuf)>, ArchiveError> {
    let rows = store.audit_before(before)?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(None) };
    let dir = wh.root().join("audit");
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| ArchiveError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let stem = format!("archive-{}-{}", first.id, last.id);
    let parquet = dir.join(format!("{stem}.parquet"));
    write_parquet(&parquet, batch(&rows).schema(), &[batch(&rows)])
        .map_err(|source| ArchiveError::Parquet { path: parquet.display().to_string(), source })?;
    let (sha256, _) = sha256_file(&parquet).map_err(io(&parquet))?;
    let archive = Archive {
        format: "credence-audit-archive/1".into(),
        first_audit_id: first.id,
        last_audit_id: last.id,
        rows: rows.len() as u64,
        first_at: first.at.clone(),
        last_at: last.at.clone(),
        file: format!("{stem}.parquet"),
        sha256,
        archived_by: by.to_string(),
    };
    let json = serde_json::to_vec_pretty(&archive).expect("an archive record serialises");
    let manifest = dir.join(format!("{stem}.json"));
    write_file_atomically(&manifest, &json).map_err(io(&manifest))?;
    let sig = signer.sign(&json, &format!("credence audit archive {stem}"))?;
    let sig_path = dir.join(format!("{stem}.json.minisig"));
    write_file_atomically(&sig_path, sig.as_bytes()).map_err(io(&sig_path))?;
    sync_dir(&dir).map_err(io(&dir))?;
    store.rotate_audit(first.id, last.id, archive.rows, &archive.file, &archive.sha256, by)?;
    Ok(Some((archive, manifest)))
}

fn batch(rows: &[AuditRow]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("audit_id", DataType::Int64, false),
        Field::new("at", DataType::Utf8, false),
        Field::new("actor", DataType::Utf8, true),
        Field::new("method", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("status", DataType::Int64, false),
        Field::new("bytes", DataType::Int64, false),
        Field::new("detail", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.at.as_str()))),
        Arc::new(StringArray::from(rows.iter().map(|r| r.actor.as_deref()).collect::<Vec<_>>())),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.method.as_str()))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.path.as_str()))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.status))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.bytes))),
        Arc::new(StringArray::from(rows.iter().map(|r| r.detail.as_deref()).collect::<Vec<_>>())),
    ];
    RecordBatch::try_new(schema, columns).expect("audit schema")
}
