//! What the program refuses, with the field and the rule, in words for the coordinator.

use jinguo_store::StoreError;

/// One bad line of a CSV import.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    /// 1 is the header; data starts at 2.
    pub line: u64,
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// An import with bad lines: nothing was imported.
    #[error("{} lines refused, first: line {}", .0.len(), .0.first().map_or(0, |l| l.line))]
    Lines(Vec<LineError>),
    /// The person may not do this here.
    #[error("not permitted: {0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    /// A step the tour or session is not in a state for, in words for people.
    #[error("{0}")]
    Conflict(String),
    /// Stored JSON of the program that no longer parses: an operator must look.
    #[error("stored {what} does not parse: {problem}")]
    Corrupt { what: &'static str, problem: String },
    #[error("composing a mail")]
    Mail(#[from] jinguo_mail::NotifyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Refusal {
    /// Whether trying again later can help (a database failure that can pass).
    pub fn is_transient(&self) -> bool {
        match self {
            Refusal::Store(e) | Refusal::Mail(jinguo_mail::NotifyError::Store(e)) => {
                e.is_transient()
            }
            _ => false,
        }
    }
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        field,
        message: message.into(),
    }
}

pub(crate) fn conflict(message: impl Into<String>) -> Refusal {
    Refusal::Conflict(message.into())
}
