//! Files flushed to disk on threads of their own. A big mart written into
//! a staging folder need not hold its writer while the disk catches up
//! (at 10M entities the registry mart's flush took half a second): its
//! flush goes on in the background, and the staging folder's commit
//! ([`crate::base::warehouse::StagedDir::commit`]) waits for every flush
//! under it and fails if one failed. Durability stays the commit's.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// A file's flush: under way, or finished with an error nobody has been
/// told yet. Flushes that succeeded are forgotten.
enum Flush {
    UnderWay(JoinHandle<io::Result<()>>),
    Failed(io::Error),
}

/// Every flush not yet waited for, by the file's path.
static FLUSHES: Mutex<Vec<(PathBuf, Flush)>> = Mutex::new(Vec::new());

/// Flushes `file`, written at `path`, on a thread of its own. The caller
/// is done with it; whoever commits the folder holding it waits for it
/// ([`wait_under`]).
pub fn in_background(path: &Path, file: File) -> io::Result<()> {
    let handle = std::thread::Builder::new().name("flush".into()).spawn(move || file.sync_all())?;
    let mut flushes = FLUSHES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Finished flushes of files no commit will ask about (a dry run's
    // temporary folder) are joined here, so that their threads are freed.
    let mut kept = Vec::with_capacity(flushes.len() + 1);
    for (at, flush) in flushes.drain(..) {
        match flush {
            Flush::UnderWay(h) if h.is_finished() => match joined(&at, h) {
                Ok(()) => {}
                Err(e) => kept.push((at, Flush::Failed(e))),
            },
            other => kept.push((at, other)),
        }
    }
    kept.push((path.to_path_buf(), Flush::UnderWay(handle)));
    *flushes = kept;
    Ok(())
}

/// Waits for every flush of a file under `dir`; the first failure, with
/// the file's path, if one failed.
pub fn wait_under(dir: &Path) -> io::Result<()> {
    let mine: Vec<(PathBuf, Flush)> = {
        let mut flushes = FLUSHES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mine, rest) = flushes.drain(..).partition(|(at, _)| at.starts_with(dir));
        *flushes = rest;
        mine
    };
    let mut first = Ok(());
    for (at, flush) in mine {
        let done = match flush {
            Flush::UnderWay(h) => joined(&at, h),
            Flush::Failed(e) => Err(e),
        };
        if first.is_ok() {
            first = done;
        }
    }
    first
}

fn joined(at: &Path, handle: JoinHandle<io::Result<()>>) -> io::Result<()> {
    let result = handle.join().unwrap_or_else(|_| Err(io::Error::other("the flushing thread panicked")));
    result.map_err(|e| io::Error::new(e.kind(), format!("flushing {} to disk: {e}", at.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_waits_for_the_flushes_under_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        let path = a.join("f");
        std::fs::write(&path, b"rows").unwrap();
        in_background(&path, File::open(&path).unwrap()).unwrap();
        // A flush under `b` that lasts until it is let go.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let slow = std::thread::spawn(move || wait.recv().map_err(io::Error::other));
        FLUSHES.lock().unwrap().push((b.join("f"), Flush::UnderWay(slow)));
        wait_under(&a).unwrap();
        let left: Vec<PathBuf> = FLUSHES.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
        assert!(left.iter().all(|p| !p.starts_with(&a)), "{left:?}");
        assert!(left.contains(&b.join("f")), "{left:?}");
        go.send(()).unwrap();
        wait_under(&b).unwrap();
    }

    #[test]
    fn a_staging_folder_whose_flush_failed_is_not_committed() {
        let root = tempfile::tempdir().unwrap();
        let wh = crate::base::warehouse::Warehouse::new(root.path());
        let dest = root.path().join("marts").join("scores");
        let staged = wh.stage(dest.clone()).unwrap();
        let path = staged.path().join("part-0.parquet");
        std::fs::write(&path, b"rows").unwrap();
        let handle = std::thread::spawn(|| Err(io::Error::other("the disk is gone")));
        FLUSHES.lock().unwrap().push((path, Flush::UnderWay(handle)));
        let e = staged.commit().unwrap_err();
        assert!(e.to_string().contains("the disk is gone"), "{e}");
        assert!(!dest.exists(), "nothing is put in place");
    }

    #[test]
    fn a_failed_flush_fails_the_wait_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let handle = std::thread::spawn(|| Err(io::Error::other("the disk is gone")));
        FLUSHES.lock().unwrap().push((path.clone(), Flush::UnderWay(handle)));
        let e = wait_under(dir.path()).unwrap_err();
        assert!(e.to_string().contains("the disk is gone") && e.to_string().contains("/f"), "{e}");
        assert!(wait_under(dir.path()).is_ok(), "told once, then forgotten");
    }
}
