//! Exit codes and the errors that stop a command.
//!
//! Per-target failures are outcomes, never errors (see `outcome`). What is here stops a command
//! before or during a run: bad usage or input, a journal problem, rejected credentials. Each error
//! knows its exit code, and messages carry context while causes stay in `#[source]`, so a printed
//! chain never repeats itself.

use std::process::ExitCode;

/// The documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every target ended terminal.
    Success = 0,
    /// Some targets are `failed`: rerun the same command to retry them.
    SomeFailed = 1,
    /// Usage, input or journal error: nothing was sent.
    Usage = 2,
    /// The credentials were rejected.
    Credentials = 3,
    /// Interrupted (Ctrl-C or SIGTERM); rerun the same command to resume.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or the environment is not usable.
    #[error("{0}")]
    Usage(String),
    /// The API base URL cannot be used.
    #[error(transparent)]
    BaseUrl(#[from] crate::http::BaseUrlError),
    /// The emulator could not start or serve.
    #[error("the emulator cannot run")]
    Emulator(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The inputs cannot be read or hold no usable target.
    #[error("{0}")]
    Input(String),
    /// An input file cannot be read at all.
    #[error(transparent)]
    Unreadable(#[from] crate::input::InputError),
    /// The journal cannot be used.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The credentials could not be checked before anything was sent.
    #[error("the credentials could not be checked; nothing was sent")]
    Unchecked(#[source] crate::retry::ReadError),
    /// A read the command needs (the block list, lookups) stopped: rejected credentials (exit
    /// 3), or faults that persisted (1). An interruption is [`Error::Interrupted`].
    #[error(transparent)]
    Read(crate::retry::ReadError),
    /// Interrupted by Ctrl-C or SIGTERM; what was done is kept.
    #[error("interrupted; rerun the same command to resume")]
    Interrupted,
    /// The task that writes the journal stopped unexpectedly (it panicked). What it wrote is
    /// in the file; what it had not written yet is not, so the exit says the journal is at fault.
    #[error("the journal writer stopped unexpectedly")]
    WriterStopped {
        /// Why the task ended.
        #[source]
        source: tokio::task::JoinError,
    },
    /// Any other I/O failure, with what was being done.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::retry::ReadError> for Error {
    fn from(e: crate::retry::ReadError) -> Error {
        match e {
            crate::retry::ReadError::Interrupted { .. } => Error::Interrupted,
            other => Error::Read(other),
        }
    }
}

impl Error {
    /// The credentials check stopped before it had its answer.
    pub fn unchecked(e: crate::retry::ReadError) -> Error {
        match e {
            crate::retry::ReadError::Interrupted { .. } => Error::Interrupted,
            other => Error::Unchecked(other),
        }
    }

    /// The exit code this error ends the command with.
    pub fn exit(&self) -> Exit {
        use crate::retry::ReadError;
        match self {
            Error::Read(ReadError::Rejected { .. })
            | Error::Unchecked(ReadError::Rejected { .. }) => Exit::Credentials,
            Error::Read(ReadError::Interrupted { .. })
            | Error::Unchecked(ReadError::Interrupted { .. })
            | Error::Interrupted => Exit::Interrupted,
            Error::Read(ReadError::Failed { .. }) | Error::Unchecked(ReadError::Failed { .. }) => {
                Exit::SomeFailed
            }
            Error::Usage(_)
            | Error::BaseUrl(_)
            | Error::Emulator(_)
            | Error::Input(_)
            | Error::Unreadable(_)
            | Error::Journal(_)
            | Error::WriterStopped { .. }
            | Error::Io { .. } => Exit::Usage,
        }
    }
}

pub use crate::display::chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        assert_eq!(Exit::Success as u8, 0);
        assert_eq!(Exit::SomeFailed as u8, 1);
        assert_eq!(Exit::Usage as u8, 2);
        assert_eq!(Exit::Credentials as u8, 3);
        assert_eq!(Exit::Interrupted as u8, 130);
    }

    #[test]
    fn chains_name_the_cause_once() {
        let e = Error::Io {
            context: "cannot write `out.csv`".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(chain(&e), "cannot write `out.csv`: disk full");
    }
}
