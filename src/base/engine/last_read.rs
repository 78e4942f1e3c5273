//! The value a process read last from a file the run wrote for its plans
//! (the registered ids, the key hashes held twice): a UDF that names the
//! file reads it once per process, however many tasks ask at once (they
//! wait for the one read), and keeps it until another file's is asked for.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
