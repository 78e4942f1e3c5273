//! A command's failure with its kind: every error of the library arrives
//! here through [`Classify`], so that each command exits with the code its
//! kind calls for (1 input or refusal, 3 worth retrying), and usage
//! mistakes the command line finds itself exit with 2.

use std::fmt;
use std::process::ExitCode;

use credence::base::error::{Classify, ErrorKind};

/// Why a command failed, and what kind of failure it is.
pub struct Failure {
    kind: Kind,
    error: anyhow::Error,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Classified(ErrorKind),
    Usage,
}

impl Failure {
    /// The arguments do not make sense together (exit code 2).
    pub fn usage(message: impl fmt::Display) -> Failure {
        Failure { kind: Kind::Usage, error: anyhow::anyhow!("{message}") }
    }

    /// Input or configuration that is wrong (exit code 1).
    pub fn input(message: impl fmt::Display) -> Failure {
        Failure { kind: Kind::Classified(ErrorKind::Input), error: anyhow::anyhow!("{message}") }
    }

    /// Says what was being done when the failure happened.
    pub fn context(self, what: impl fmt::Display + Send + Sync + 'static) -> Failure {
        Failure { kind: self.kind, error: self.error.context(what) }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.kind {
            Kind::Usage => ExitCode::from(2),
            Kind::Classified(k) => ExitCode::from(k.exit_code()),
        }
    }

    /// Prints the whole chain of causes on stderr, each once ([`causes`]).
    pub fn report(&self) {
        let text = causes(&self.error);
        match self.kind {
            Kind::Classified(ErrorKind::Bug) => eprintln!("error (a bug of credence, please report it): {text}"),
            Kind::Classified(ErrorKind::Transient) => eprintln!("error (worth retrying): {text}"),
            _ => eprintln!("error: {text}"),
        }
    }
}

/// The chain of `error`'s causes, outermost first, joined by ": ". The
/// library's errors already say their source in their own text ("locking
/// PATH: No such file or directory"): the chain stops at a cause whose
/// text the cause before it holds, which said what it chose of its own
/// sources (rusqlite's "database is locked", not its "Error code 5").
fn causes(error: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut before = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if before.contains(&text) {
            break;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        before = text;
    }
    out
}

impl<E: Classify + std::error::Error + Send + Sync + 'static> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure { kind: Kind::Classified(e.kind()), error: anyhow::Error::new(e) }
    }
}

/// `.context(...)` on results whose error is classified.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display + Send + Sync + 'static) -> Result<T, Failure>;
}

impl<T, E: Into<Failure>> Context<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display + Send + Sync + 'static) -> Result<T, Failure> {
        self.map_err(|e| e.into().context(what))
    }
}

/// The result of a command.
pub type CommandResult = Result<ExitCode, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("locking {path}: {source}")]
    struct Locking {
        path: String,
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("operational database: {source}")]
    struct Store {
        source: rusqlite::Error,
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = anyhow::Error::new(Locking { path: "/w/.lock".into(), source: io() });
        assert_eq!(causes(&e), "locking /w/.lock: No such file or directory");
        let e = e.context("job nightly");
        assert_eq!(causes(&e), "job nightly: locking /w/.lock: No such file or directory");
        let sqlite = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(5), Some("database is locked".into()));
        let e = anyhow::Error::new(Store { source: sqlite });
        assert_eq!(causes(&e), "operational database: database is locked");
        let bare = anyhow::Error::new(io()).context("reading the policy");
        assert_eq!(causes(&bare), "reading the policy: No such file or directory");
    }
}
