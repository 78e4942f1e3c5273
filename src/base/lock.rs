//! One run at a time per warehouse, across processes: an exclusive
//! `flock` on `warehouse/.lock`, taken without waiting. The kernel drops
//! the lock when its process ends, however it ends, so a crash never leaves
//! a warehouse locked. The file records who holds the lock and since when,
//! for the message of whoever is refused.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use rustix::fs::{flock, FlockOperation};

use crate::base::error::{Classify, ErrorKind};
use crate::base::warehouse::Warehouse;

/// Held while a run works on a warehouse; dropping it releases the lock.
pub struct RunLock {
    file: File,
}

/// The lock is taken, or could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the warehouse {warehouse} is locked by {holder}: only one run at a time")]
    Held { warehouse: String, holder: String },
    #[error("locking {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl Classify for LockError {
    fn kind(&self) -> ErrorKind {
        match self {
            LockError::Held { .. } => ErrorKind::Transient,
            LockError::Io { source, .. } => Classify::kind(source),
        }
    }
}

impl RunLock {
    /// Takes the warehouse's lock for `holder` (such as "credence run (manual)"),
    /// or says who holds it.
    pub fn acquire(wh: &Warehouse, holder: &str) -> Result<RunLock, LockError> {
        let path = wh.root().join(".lock");
        let io = |source| LockError::Io { path: path.display().to_string(), source };
        std::fs::create_dir_all(wh.root()).map_err(io)?;
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            let who = who.trim();
            return Err(LockError::Held {
                warehouse: wh.root().display().to_string(),
                holder: if who.is_empty() { "another process".to_string() } else { who.to_string() },
            });
        }
        let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let text = format!("{holder}, pid {} on {} since {since}\n", std::process::id(), host.trim());
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(RunLock { file })
    }

    /// Whether the warehouse is locked by someone now.
    pub fn is_held(root: &Path) -> bool {
        let Ok(file) = File::open(root.join(".lock")) else { return false };
        match flock(&file, FlockOperation::NonBlockingLockShared) {
            Ok(()) => {
                let _ = flock(&file, FlockOperation::Unlock);
                false
            }
            Err(_) => true,
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = flock(&self.file, FlockOperation::Unlock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_who_and_since() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path());
        let first = RunLock::acquire(&wh, "credence schedule (job nightly)").unwrap();
        assert!(RunLock::is_held(dir.path()));
        let e = RunLock::acquire(&wh, "credence run (manual)").err().unwrap().to_string();
        assert!(e.contains("is locked by credence schedule (job nightly), pid"), "{e}");
        assert!(e.contains(" since 20"), "{e}");
        drop(first);
        assert!(!RunLock::is_held(dir.path()));
        RunLock::acquire(&wh, "credence run (manual)").unwrap();
    }

    /// A holder that crashed leaves its longer line in the file: the next
    /// holder's line replaces it whole, so whoever is refused reads who
    /// holds the lock now.
    #[test]
    fn a_crashed_holders_line_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path());
        let crashed =
            "credence schedule (job nightly-with-a-long-name), pid 1 on crashed-host since 2026-01-01T00:00:00Z\n";
        std::fs::write(dir.path().join(".lock"), crashed.repeat(3)).unwrap();
        let _held = RunLock::acquire(&wh, "ops").unwrap();
        let e = RunLock::acquire(&wh, "credence run (manual)").err().unwrap().to_string();
        assert!(e.contains("is locked by ops, pid"), "{e}");
        assert!(!e.contains("crashed-host"), "nothing of the crashed holder's line is left: {e}");
    }

    /// A lock taken by something that wrote no line (another tool's
    /// `flock`) is still refused, naming "another process".
    #[test]
    fn a_holder_without_a_line_is_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path());
        let other = File::create(dir.path().join(".lock")).unwrap();
        flock(&other, FlockOperation::NonBlockingLockExclusive).unwrap();
        let e = RunLock::acquire(&wh, "credence run (manual)").err().unwrap().to_string();
        assert!(e.ends_with("is locked by another process: only one run at a time"), "{e}");
    }
}
