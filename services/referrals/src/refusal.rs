//! What the program refuses, with the field and the rule: the caller can act on it. A refusal
//! never carries a victim's, reporter's or incident's data (it may reach logs and pages).

use jinguo_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The person may not do this; the attempt is audited where it is refused.
    #[error("not permitted: {0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    /// A step the case or task is not in a state for, in words for people.
    #[error("{0}")]
    Conflict(&'static str),
    /// Stored data that does not open or parse (a wrong key, an altered row): retrying cannot
    /// help, an operator must look. Never shown to the caller beyond "internal".
    #[error("stored {what} does not open or parse: {problem}")]
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

impl From<jinguo_core::referrals::Illegal> for Refusal {
    fn from(e: jinguo_core::referrals::Illegal) -> Self {
        Refusal::Conflict(e.0)
    }
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        field,
        message: message.into(),
    }
}
