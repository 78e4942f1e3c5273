//! The warehouse on disk: where landing, quarantine, marts and publications
//! live, and how a folder of outputs becomes visible in one step.
//!
//! ```text
//!   .staging/<unique>/   written, every file flushed
//!        │  rename(2), or renameat2(RENAME_EXCHANGE) over an existing folder
//!        ▼
//!   marts/scores/as_of=D/   readers see the old folder or the new one, never a mix
//! ```
//!
//! Guarantee relied on: rename within one filesystem is atomic, and an
//! exchange of two folders is atomic on Linux (renameat2, since 3.15). The
//! staging area sits under the warehouse root, so it is on the same
//! filesystem as every destination.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::base::contract::Dataset;
use crate::base::ids::AsOf;

/// The marts a run writes under `marts/`. The per-list marts live under
/// `marts/<mart>/list=L/as_of=D/`, the others under `marts/<mart>/as_of=D/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mart {
    /// Scores, grades and reasons (policy.md, "Outputs of scoring").
    Scores,
    /// The validated registry snapshot of the run, quarantined rows excluded.
    Registry,
    /// Members of a list (joint-sanctions.md, "Outputs").
    Listings,
    /// Restricted persons and flagged entities of a list.
    Related,
}

impl Mart {
    /// The folder name under `marts/`.
    pub fn name(self) -> &'static str {
        match self {
            Mart::Scores => "scores",
            Mart::Registry => "registry",
            Mart::Listings => "listings",
            Mart::Related => "related",
        }
    }
}

/// A warehouse root and its layout.
#[derive(Clone, Debug)]
pub struct Warehouse {
    root: PathBuf,
}

/// A command named a warehouse that is not there: a mistyped
/// `--warehouse` must not become a new, empty warehouse (a server
/// answering partners from nothing, a run recorded nowhere anyone looks).
#[derive(Debug, thiserror::Error)]
#[error("the warehouse {} does not exist or is not a folder: check --warehouse or the job's warehouse (credence gen and credence demo make one)", .0.display())]
pub struct NoWarehouse(pub PathBuf);

impl crate::base::error::Classify for NoWarehouse {
    fn kind(&self) -> crate::base::error::ErrorKind {
        crate::base::error::ErrorKind::Input
    }
}

impl Warehouse {
    pub fn new(root: impl Into<PathBuf>) -> Warehouse {
        Warehouse { root: root.into() }
    }

    /// The warehouse at `root`, which must already be a folder: every
    /// command but those that make one (`gen`, `demo`, `bench`) opens its
    /// warehouse this way.
    pub fn existing(root: impl Into<PathBuf>) -> Result<Warehouse, NoWarehouse> {
        let root = root.into();
        if root.is_dir() {
            Ok(Warehouse { root })
        } else {
            Err(NoWarehouse(root))
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `landing/<dataset>/`
    pub fn landing(&self, dataset: Dataset) -> PathBuf {
        self.root.join("landing").join(dataset.name())
    }

    /// The ingest dates that have a landing partition of `dataset`, ascending.
    pub fn landing_dates(&self, dataset: Dataset) -> Vec<AsOf> {
        dated_partitions(&self.landing(dataset), "ingest_date=")
    }

    /// `landing/<dataset>/ingest_date=D/`
    pub fn landing_partition(&self, dataset: Dataset, ingest_date: AsOf) -> PathBuf {
        self.landing(dataset).join(format!("ingest_date={ingest_date}"))
    }

    /// `quarantine/<dataset>/as_of=D/`
    pub fn quarantine(&self, dataset: Dataset, as_of: AsOf) -> PathBuf {
        self.root.join("quarantine").join(dataset.name()).join(format!("as_of={as_of}"))
    }

    /// `marts/<mart>/as_of=D/`
    pub fn mart(&self, mart: Mart, as_of: AsOf) -> PathBuf {
        self.root.join("marts").join(mart.name()).join(format!("as_of={as_of}"))
    }

    /// `marts/<mart>/list=L/as_of=D/`
    pub fn list_mart(&self, mart: Mart, list: &str, as_of: AsOf) -> PathBuf {
        self.list_mart_root(mart, list).join(format!("as_of={as_of}"))
    }

    fn list_mart_root(&self, mart: Mart, list: &str) -> PathBuf {
        self.root.join("marts").join(mart.name()).join(format!("list={list}"))
    }

    /// The as-of dates that have a partition of `mart`, ascending.
    pub fn mart_dates(&self, mart: Mart) -> Vec<AsOf> {
        as_of_partitions(&self.root.join("marts").join(mart.name()))
    }

    /// The as-of dates that have a partition of a per-list `mart` of `list`, ascending.
    pub fn list_mart_dates(&self, mart: Mart, list: &str) -> Vec<AsOf> {
        as_of_partitions(&self.list_mart_root(mart, list))
    }

    /// `published/<list>/`
    pub fn published(&self, list: &str) -> PathBuf {
        self.root.join("published").join(list)
    }

    /// The operational SQLite database.
    pub fn database(&self) -> PathBuf {
        self.root.join("credence.db")
    }

    /// Where folders are written before they are renamed into place.
    pub fn staging_root(&self) -> PathBuf {
        self.root.join(".staging")
    }

    /// A path relative to the root, with `/` separators, as written into
    /// quarantine rows and manifests.
    pub fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
    }

    /// Starts a folder that will replace `destination` atomically on commit.
    pub fn stage(&self, destination: PathBuf) -> io::Result<StagedDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let staging = self.staging_root();
        fs::create_dir_all(&staging)?;
        let unique = format!(
            "{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let path = staging.join(unique);
        fs::create_dir(&path)?;
        Ok(StagedDir { path, destination, committed: false })
    }

    /// Removes what crashed runs left in the staging area. Call only while
    /// holding the warehouse's run lock.
    pub fn clear_staging(&self) -> io::Result<()> {
        remove_if_present(&self.staging_root())
    }

    /// This warehouse's own folder under an engine scratch root that several
    /// warehouses may share (`<root>/credence-<16 hex digits of the SHA-256
    /// of the warehouse's canonical path>`): runs of this warehouse put
    /// their engine's tables there, and only this warehouse's run lock
    /// clears it.
    pub fn engine_scratch(&self, root: &Path) -> io::Result<PathBuf> {
        use sha2::Digest;
        let me = fs::canonicalize(&self.root).or_else(|_| std::path::absolute(&self.root))?;
        let digest = sha2::Sha256::digest(me.as_os_str().as_encoded_bytes());
        Ok(std::path::absolute(root)?.join(format!("credence-{}", &hex::encode(digest)[..16])))
    }

    /// Removes what crashed runs left in this warehouse's folder under an
    /// engine scratch root. Call only while holding the warehouse's run lock.
    pub fn clear_engine_scratch(&self, root: &Path) -> io::Result<()> {
        remove_if_present(&self.engine_scratch(root)?)
    }
}

fn remove_if_present(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The `as_of=D` partition folders under `dir`, ascending (none when `dir` is absent).
fn as_of_partitions(dir: &Path) -> Vec<AsOf> {
    dated_partitions(dir, "as_of=")
}

/// The `<prefix>D` partition folders under `dir`, ascending (none when `dir` is absent).
fn dated_partitions(dir: &Path, prefix: &str) -> Vec<AsOf> {
    let mut dates: Vec<AsOf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_string_lossy().strip_prefix(prefix).and_then(|d| d.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    dates.sort();
    dates
}

/// A folder under `.staging/` that becomes `destination` on [`StagedDir::commit`];
/// dropped without commit, it is removed and the destination is untouched.
#[derive(Debug)]
pub struct StagedDir {
    path: PathBuf,
    destination: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// The folder to write into.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn destination(&self) -> &Path {
        &self.destination
    }

    /// Flushes every file (waiting first for those flushing in the
    /// background, [`crate::base::flush`]), then puts the folder in place of
    /// the destination in one step (exchanging with an existing folder,
    /// which is then removed).
    pub fn commit(mut self) -> io::Result<()> {
        crate::base::flush::wait_under(&self.path)?;
        sync_tree(&self.path)?;
        let parent = self.destination.parent().expect("destination has a parent");
        fs::create_dir_all(parent)?;
        if self.destination.exists() {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &self.path,
                rustix::fs::CWD,
                &self.destination,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .map_err(io::Error::from)?;
            sync_dir(parent)?;
            // The old folder now sits at the staging path.
            fs::remove_dir_all(&self.path)?;
        } else {
            fs::rename(&self.path, &self.destination)?;
            sync_dir(parent)?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = crate::base::flush::wait_under(&self.path);
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Flushes every file under `dir` and the folders themselves.
pub fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)?.sync_all()?;
        }
    }
    sync_dir(dir)
}

/// Flushes a folder's entries (the names it holds) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` by writing a sibling temporary file, flushing it
/// and renaming it over `path`: readers see the old content or the new.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let parent = path.parent().expect("file has a parent");
    fs::create_dir_all(parent)?;
    let tmp =
        parent.join(format!(".{}.tmp-{}", path.file_name().expect("file name").to_string_lossy(), std::process::id()));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_an_existing_folder_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(tmp.path());
        let dest = wh.mart(Mart::Scores, "2026-11-27".parse().unwrap());
        let first = wh.stage(dest.clone()).unwrap();
        fs::write(first.path().join("a.parquet"), b"old").unwrap();
        fs::write(first.path().join("b.parquet"), b"old").unwrap();
        first.commit().unwrap();

        let second = wh.stage(dest.clone()).unwrap();
        fs::write(second.path().join("a.parquet"), b"new").unwrap();
        second.commit().unwrap();

        let mut names: Vec<_> = fs::read_dir(&dest).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["a.parquet"], "no file of the old folder survives");
        assert_eq!(fs::read(dest.join("a.parquet")).unwrap(), b"new");
        assert_eq!(fs::read_dir(wh.staging_root()).unwrap().count(), 0, "staging is left empty");
    }

    #[test]
    fn an_uncommitted_stage_leaves_the_destination_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(tmp.path());
        let dest = wh.mart(Mart::Scores, "2026-11-27".parse().unwrap());
        let s = wh.stage(dest.clone()).unwrap();
        fs::write(s.path().join("a.parquet"), b"x").unwrap();
        drop(s);
        assert!(!dest.exists());
        assert_eq!(fs::read_dir(wh.staging_root()).unwrap().count(), 0);
    }

    #[test]
    fn each_warehouse_clears_only_its_own_folder_under_a_shared_engine_scratch() {
        let tmp = tempfile::tempdir().unwrap();
        for folder in ["a", "b", "x"] {
            fs::create_dir(tmp.path().join(folder)).unwrap();
        }
        let scratch = tmp.path().join("scratch");
        let (a, b) = (Warehouse::new(tmp.path().join("a")), Warehouse::new(tmp.path().join("b")));
        let (mine, theirs) = (a.engine_scratch(&scratch).unwrap(), b.engine_scratch(&scratch).unwrap());
        assert_ne!(mine, theirs, "two warehouses never share a folder");
        assert_eq!(mine.parent().unwrap(), scratch);
        let dotted = Warehouse::new(tmp.path().join("x").join("..").join("a"));
        assert_eq!(dotted.engine_scratch(&scratch).unwrap(), mine, "the same warehouse, the same folder");
        for d in [&mine, &theirs] {
            fs::create_dir_all(d.join("engine-left-by-a-crash")).unwrap();
        }
        fs::write(scratch.join("an operator's file"), b"x").unwrap();
        a.clear_engine_scratch(&scratch).unwrap();
        assert!(!mine.exists());
        assert!(theirs.join("engine-left-by-a-crash").exists(), "another warehouse's run may be under way");
        assert!(scratch.join("an operator's file").exists());
        a.clear_engine_scratch(&scratch).unwrap();
    }

    /// A mart's dates are its `as_of=` folders, ascending: a file with such
    /// a name (an operator's copy, a half-made archive) and a folder whose
    /// name is no date are not partitions the pages would then fail to read.
    #[test]
    fn only_dated_folders_are_partitions() {
        let tmp = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(tmp.path());
        let scores = tmp.path().join("marts/scores");
        for d in ["as_of=2026-11-27", "as_of=2026-11-25", "as_of=2026-13-01", "as_of=x"] {
            fs::create_dir_all(scores.join(d)).unwrap();
        }
        fs::write(scores.join("as_of=2026-11-28"), b"not a folder").unwrap();
        let dates: Vec<String> = wh.mart_dates(Mart::Scores).iter().map(|d| d.to_string()).collect();
        assert_eq!(dates, ["2026-11-25", "2026-11-27"]);
        assert!(wh.mart_dates(Mart::Registry).is_empty(), "no mart folder: no dates");
    }

    #[test]
    fn relative_paths_use_slashes() {
        let wh = Warehouse::new("/data/wh");
        let p = wh.landing_partition(Dataset::Violations, "2026-11-27".parse().unwrap()).join("part-0.parquet");
        assert_eq!(wh.relative(&p), "landing/violations/ingest_date=2026-11-27/part-0.parquet");
    }
}
