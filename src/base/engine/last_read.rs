//! The value a process read last from a file the run wrote for its plans
//! (the registered ids, the key hashes held twice): a UDF that names the
//! file reads it once per process, however many tasks ask at once (they
//! wait for the one read), and keeps it until another file's is asked for.
//! Also what both such UDFs do with their file: name it in SQL, take it
//! from their first argument, and read it back, refusing one that is not
//! whole values in rising order.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::ColumnarValue;

/// The value read last, and the file it was read from.
pub(super) struct LastRead<T>(Mutex<Option<(PathBuf, Arc<T>)>>);

impl<T> LastRead<T> {
    pub(super) const fn new() -> LastRead<T> {
        LastRead(Mutex::new(None))
    }

    /// The value of `path`: the one read last if it is that file's, else
    /// `read` now (the value before is let go first).
    pub(super) fn get<E>(&self, path: &Path, read: impl FnOnce(&Path) -> Result<T, E>) -> Result<Arc<T>, E> {
        let mut last = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((file, value)) = last.as_ref() {
            if file == path {
                return Ok(value.clone());
            }
        }
        *last = None;
        let value = Arc::new(read(path)?);
        *last = Some((path.to_path_buf(), value.clone()));
        Ok(value)
    }

    /// Takes `value` as `path`'s without reading it (the process that
    /// wrote the file from it).
    pub(super) fn set(&self, path: &Path, value: Arc<T>) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((path.to_path_buf(), value));
    }

    /// The value held for `path`, if it is that file's.
    #[cfg(test)]
    pub(super) fn held(&self, path: &Path) -> Option<Arc<T>> {
        let last = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        last.as_ref().filter(|(file, _)| file == path).map(|(_, value)| value.clone())
    }

    /// Lets the value go.
    pub(super) fn forget(&self) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// Refuses a file the plans' SQL could not name: a path that is not UTF-8.
pub(super) fn nameable(path: &Path) -> std::io::Result<()> {
    match path.to_str() {
        Some(_) => Ok(()),
        None => {
            let why = format!("{} is not UTF-8 text, which the plans name it by", path.display());
            Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why))
        }
    }
}

/// The SQL that calls `udf` on the file at `path` (checked [`nameable`]
/// when written) and `argument`, an SQL expression.
pub(super) fn call(udf: &str, path: &Path, argument: &str) -> String {
    let path = path.to_str().expect("written to a UTF-8 path").replace('\'', "''");
    format!("{udf}('{path}', {argument})")
}

/// The file a UDF's first argument names, which must be a text literal.
pub(super) fn file_named(udf: &str, argument: &ColumnarValue) -> DfResult<PathBuf> {
    match argument {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(path))) => Ok(PathBuf::from(path)),
        other => Err(DataFusionError::Execution(format!("{udf}: the file must be a text literal, found {other:?}"))),
    }
}

/// The `N`-byte values of a file the run wrote for `udf`, refusing one
/// that is not whole values (`what`, in the errors) in strictly rising
/// order.
pub(super) fn read_rising<const N: usize, T: Ord>(
    udf: &str,
    what: &str,
    path: &Path,
    decode: impl Fn([u8; N]) -> T,
) -> DfResult<Vec<T>> {
    let bytes = std::fs::read(path)
        .map_err(|e| DataFusionError::Execution(format!("{udf}: reading {}: {e}", path.display())))?;
    if bytes.len() % N != 0 {
        return Err(DataFusionError::Execution(format!(
            "{udf}: {} holds {} bytes, not whole {what} of {N}",
            path.display(),
            bytes.len()
        )));
    }
    let values: Vec<T> = bytes.chunks_exact(N).map(|b| decode(b.try_into().expect("N bytes"))).collect();
    if !values.windows(2).all(|w| w[0] < w[1]) {
        return Err(DataFusionError::Execution(format!(
            "{udf}: the {what} in {} are not in rising order",
            path.display()
        )));
    }
    Ok(values)
}
