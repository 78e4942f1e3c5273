//! What kind of failure an error is, decided where the error is made and
//! read at the edges: the command line maps it to an exit code, the
//! scheduler retries only what is worth retrying, the pages show an error
//! page. Nothing matches error strings.
//!
//! | kind | meaning | exit code |
//! |---|---|---|
//! | `Input` | the input, configuration or request is wrong, or a rule refused it; running it again unchanged fails again | 1 |
//! | `Transient` | the machine failed for now (a full disk, a busy database, a held lock); worth retrying | 3 |
//! | `Bug` | a broken invariant of credence itself | 1 |
//!
//! Usage errors (exit code 2) are the command line's own.

use std::io;

/// The kind of a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Input,
    Transient,
    Bug,
}

impl ErrorKind {
    /// The process exit code of a command that failed with this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Input | ErrorKind::Bug => 1,
            ErrorKind::Transient => 3,
        }
    }

    /// The worse of two kinds, for an error that wraps several: a bug
    /// outranks a transient failure, which outranks bad input.
    pub fn worst(self, other: ErrorKind) -> ErrorKind {
        let rank = |k: ErrorKind| match k {
            ErrorKind::Input => 0,
            ErrorKind::Transient => 1,
            ErrorKind::Bug => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// An error that knows its [`ErrorKind`].
pub trait Classify {
    fn kind(&self) -> ErrorKind;

    /// Whether the same operation might succeed if tried again unchanged.
    fn retryable(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }
}

impl Classify for io::Error {
    fn kind(&self) -> ErrorKind {
        use io::ErrorKind as K;
        match io::Error::kind(self) {
            K::NotFound
            | K::PermissionDenied
            | K::AlreadyExists
            | K::InvalidInput
            | K::InvalidData
            | K::UnexpectedEof
            | K::NotADirectory
            | K::IsADirectory
            | K::DirectoryNotEmpty
            | K::ReadOnlyFilesystem
            | K::FileTooLarge
            | K::InvalidFilename
            | K::Unsupported => ErrorKind::Input,
            // A full disk, a quota, an interrupted or timed-out call, a busy
            // resource, memory: the machine, not the input.
            _ => ErrorKind::Transient,
        }
    }
}

/// The kind of the first I/O error in an error's chain of sources, if any.
pub fn io_kind_in(e: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(Classify::kind(io));
        }
        cur = err.source();
    }
    None
}

impl Classify for parquet::errors::ParquetError {
    /// An I/O failure under the Parquet reader or writer is classified as
    /// I/O; anything else is a file that is not what it should be.
    fn kind(&self) -> ErrorKind {
        use parquet::errors::ParquetError as P;
        match self {
            P::External(inner) => io_kind_in(inner.as_ref()).unwrap_or(ErrorKind::Input),
            _ => io_kind_in(self).unwrap_or(ErrorKind::Input),
        }
    }
}

impl Classify for arrow::error::ArrowError {
    fn kind(&self) -> ErrorKind {
        match self {
            arrow::error::ArrowError::IoError(_, e) => Classify::kind(e),
            arrow::error::ArrowError::ExternalError(inner) => io_kind_in(inner.as_ref()).unwrap_or(ErrorKind::Input),
            _ => ErrorKind::Input,
        }
    }
}

impl Classify for datafusion::error::DataFusionError {
    fn kind(&self) -> ErrorKind {
        use datafusion::error::DataFusionError as D;
        match self {
            D::IoError(e) => Classify::kind(e),
            D::ObjectStore(_) => ErrorKind::Transient,
            D::ParquetError(e) => e.kind(),
            D::ArrowError(e, _) => e.kind(),
            // The memory limit of the run: raise it or give the box more memory.
            D::ResourcesExhausted(_) => ErrorKind::Input,
            // The engine's settings (a cluster's address or certificates).
            D::Configuration(_) => ErrorKind::Input,
            D::External(inner) => io_kind_in(inner.as_ref()).unwrap_or(ErrorKind::Bug),
            D::Context(_, inner) => inner.kind(),
            D::Shared(inner) => inner.kind(),
            // A cluster's task failures come back as text. An executor's
            // memory pool that could not hold a join's build side is the
            // cluster's size, as the memory limit is one process's.
            D::Execution(text) if executor_pool_exhausted(text) => ErrorKind::Input,
            // An executor's system error (a full disk, a lost file) is
            // worth retrying, unless it was refused access (a warehouse it
            // may not write).
            D::Execution(text) => match os_error_in(text).map(io::Error::from_raw_os_error) {
                Some(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem) => {
                    ErrorKind::Input
                }
                Some(_) => ErrorKind::Transient,
                None => ErrorKind::Bug,
            },
            // Plans are built from checked policies: a planning failure is ours.
            _ => ErrorKind::Bug,
        }
    }
}

/// The system error code in a task failure's text (`... (os error N)`),
/// as a cluster's executor reports it.
fn os_error_in(text: &str) -> Option<i32> {
    let (_, rest) = text.split_once("(os error ")?;
    rest.split_once(')')?.0.trim().parse().ok()
}

impl Classify for rusqlite::Error {
    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi::ErrorCode as C;
        match self {
            rusqlite::Error::SqliteFailure(e, _) => match e.code {
                C::DatabaseBusy | C::DatabaseLocked | C::DiskFull | C::SystemIoFailure | C::OutOfMemory => {
                    ErrorKind::Transient
                }
                C::ReadOnly | C::CannotOpen | C::PermissionDenied => ErrorKind::Transient,
                C::ConstraintViolation => ErrorKind::Input,
                C::DatabaseCorrupt | C::NotADatabase => ErrorKind::Input,
                _ => ErrorKind::Transient,
            },
            rusqlite::Error::InvalidPath(_) => ErrorKind::Input,
            _ => ErrorKind::Bug,
        }
    }
}

/// Whether a cluster's task failure, as its text reaches the driver, is
/// an executor's memory pool that could not hold what a task asked for.
pub fn executor_pool_exhausted(text: &str) -> bool {
    text.contains("ResourcesExhausted(")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_transient_and_a_missing_file_is_input() {
        let full = io::Error::from_raw_os_error(28); // ENOSPC
        assert_eq!(Classify::kind(&full), ErrorKind::Transient);
        assert!(full.retryable());
        let missing = io::Error::new(io::ErrorKind::NotFound, "gone");
        assert_eq!(Classify::kind(&missing), ErrorKind::Input);
        let parquet = parquet::errors::ParquetError::External(Box::new(io::Error::from_raw_os_error(28)));
        assert_eq!(parquet.kind(), ErrorKind::Transient, "ENOSPC under the Parquet writer");
        assert_eq!(parquet::errors::ParquetError::General("bad footer".into()).kind(), ErrorKind::Input);
        // As a Ballista job's failure reached the driver when an executor's disk was full.
        let cluster = datafusion::error::DataFusionError::Execution(
            "Job 038J8WYSMA000 failed: Job failed due to stage 6 failed: Task failed due to runtime execution \
             error: DataFusionError(Shared(Execution(\"ArrowError(IoError(\\\"No space left on device (os error \
             28)\\\", Os { code: 28, kind: StorageFull }))\")))"
                .into(),
        );
        assert_eq!(cluster.kind(), ErrorKind::Transient, "an executor's full disk");
        let planning = datafusion::error::DataFusionError::Execution("a plan that cannot run".into());
        assert_eq!(planning.kind(), ErrorKind::Bug);
        // An executor refused writing into a warehouse mounted read-only: its configuration, not worth retrying.
        let refused = datafusion::error::DataFusionError::Execution(
            "Job 038J9 failed: Task failed due to runtime execution error: DataFusionError(IoError(Os { code: 30, \
             kind: ReadOnlyFilesystem, message: \"Read-only file system\" })) Read-only file system (os error 30)"
                .into(),
        );
        assert_eq!(refused.kind(), ErrorKind::Input);
        let denied = datafusion::error::DataFusionError::Execution("Permission denied (os error 13)".into());
        assert_eq!(denied.kind(), ErrorKind::Input);
        // As a Ballista job's failure reached the driver when an executor's pool could not hold a build side.
        let pool = datafusion::error::DataFusionError::Execution(
            "Job 038JAKZWR4000 failed: Job failed due to stage 7 failed: Task failed due to runtime execution \
             error: DataFusionError(Shared(ResourcesExhausted(\"Failed to allocate additional 136.0 MB for \
             HashJoinInput[0]\")))"
                .into(),
        );
        assert_eq!(pool.kind(), ErrorKind::Input, "the executors' memory, not a bug");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(ErrorKind::Input.exit_code(), 1);
        assert_eq!(ErrorKind::Transient.exit_code(), 3);
        assert_eq!(ErrorKind::Input.worst(ErrorKind::Transient), ErrorKind::Transient);
        assert_eq!(ErrorKind::Bug.worst(ErrorKind::Transient), ErrorKind::Bug);
    }
}
