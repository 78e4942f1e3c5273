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

    /// Prints the whole chain of causes on stderr.
    pub fn report(&self) {
        match self.kind {
            Kind::Classified(ErrorKind::Bug) => {
                eprintln!("error (a bug of credence, please report it): {:#}", self.error)
            }
            Kind::Classified(ErrorKind::Transient) => {
                eprintln!("error (worth retrying): {:#}", self.error)
            }
            _ => eprintln!("error: {:#}", self.error),
        }
    }
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
