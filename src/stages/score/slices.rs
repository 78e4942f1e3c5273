//! The evidence rows on disk, a slice of entities per file: the engine
//! streams them out once, the deductions plan scans the files, and the
//! reasons read back one slice at a time. Scoring holds one slice's
//! records instead of every record of the run (at 50M entities the
//! evidence and its grouping were 5 GiB beside the pool).

use std::fs::File;
use std::io::BufWriter;
use std::ops::Range;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{SchemaRef, UInt32Type};
use arrow::error::ArrowError;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use super::ScoreError;

/// Evidence rows (first column `entity_idx`) split by entity index into
/// slices of `width` entities, one Arrow IPC file each.
pub(super) struct Slices {
    pub(super) folder: PathBuf,
    pub(super) schema: SchemaRef,
    pub(super) rows: u64,
    width: usize,
    entities: usize,
    /// Each slice's file, if it has rows.
    files: Vec<Option<PathBuf>>,
}

impl Slices {
    /// Writes `stream`'s rows into `folder` (created), a slice of `width`
    /// of the `entities` entity indexes per file.
    pub(super) async fn write(
        mut stream: SendableRecordBatchStream,
        entities: usize,
        width: usize,
        folder: &Path,
    ) -> Result<Slices, ScoreError> {
        let schema = stream.schema();
        let count = entities.div_ceil(width).max(1);
        let failed = |source| ScoreError::Scratch { what: format!("the evidence to {}", folder.display()), source };
        std::fs::create_dir_all(folder).map_err(|e| failed(e.into()))?;
        let mut writers: Vec<Option<FileWriter<BufWriter<File>>>> = (0..count).map(|_| None).collect();
        let mut files = vec![None; count];
        let mut rows = 0u64;
        let mut picks: Vec<Vec<u32>> = vec![Vec::new(); count];
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            for (r, idx) in batch.column(0).as_primitive::<UInt32Type>().values().iter().enumerate() {
                picks[*idx as usize / width].push(r as u32);
            }
            for (s, pick) in picks.iter_mut().enumerate().filter(|(_, p)| !p.is_empty()) {
                let part = take_record_batch(&batch, &UInt32Array::from(std::mem::take(pick))).map_err(failed)?;
                let writer = match &mut writers[s] {
                    Some(w) => w,
                    empty => {
                        let path = folder.join(format!("slice-{s}.arrow"));
                        let file = File::create(&path).map_err(|e| failed(e.into()))?;
                        files[s] = Some(path);
                        empty.insert(FileWriter::try_new(BufWriter::new(file), &schema).map_err(failed)?)
                    }
                };
                writer.write(&part).map_err(failed)?;
            }
        }
        for w in writers.iter_mut().flatten() {
            w.finish().map_err(failed)?;
        }
        Ok(Slices { folder: folder.to_path_buf(), schema, rows, width, entities, files })
    }

    pub(super) fn count(&self) -> usize {
        self.files.len()
    }

    /// The entity indexes of slice `s`.
    pub(super) fn range(&self, s: usize) -> Range<usize> {
        (s * self.width).min(self.entities)..((s + 1) * self.width).min(self.entities)
    }

    /// The rows of slice `s`.
    pub(super) fn read(&self, s: usize) -> Result<Vec<RecordBatch>, ScoreError> {
        let Some(path) = &self.files[s] else {
            return Ok(Vec::new());
        };
        let failed =
            |source: ArrowError| ScoreError::Scratch { what: format!("the evidence {}", path.display()), source };
        let reader = FileReader::try_new(File::open(path).map_err(|e| failed(e.into()))?, None).map_err(failed)?;
        reader.collect::<Result<Vec<_>, _>>().map_err(failed)
    }
}
