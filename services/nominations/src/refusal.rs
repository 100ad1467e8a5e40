//! What the program refuses, with the field and the rule: the caller can act on it.

use jinguo_core::nominations::{self as core};
use jinguo_core::text::{self};
use jinguo_store::StoreError;
use uuid::Uuid;

/// A refusal the caller can act on: the field and the rule.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Not eligible by an ordinary rule (or, told to county case officers only, the incident
    /// flag); `message` is what the nominator reads. The refusal is audited by [`submit`].
    #[error("{message}")]
    Ineligible {
        rule: &'static str,
        message: String,
        household: Uuid,
    },
    /// The person may not do this (`action` names the permission).
    #[error("not permitted: {0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("本级推荐名额（{quota} 个）已用完，需先退回或不通过其他推荐")]
    QuotaFull { level: &'static str, quota: u32 },
    /// Stored data that does not parse (a village code, campaign rules): retrying cannot help,
    /// the row needs repair.
    #[error("stored {what} does not parse")]
    Corrupt {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("composing a mail")]
    Mail(#[from] jinguo_mail::NotifyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Refusal {
    /// Whether trying again later can help: a database failure that can pass
    /// ([`StoreError::is_transient`]); a refusal, a corrupt row or a broken template will not.
    pub fn is_transient(&self) -> bool {
        match self {
            Refusal::Store(e) | Refusal::Mail(jinguo_mail::NotifyError::Store(e)) => {
                e.is_transient()
            }
            _ => false,
        }
    }
}

/// Stored data that does not parse, named.
pub(crate) fn corrupt(
    what: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Refusal {
    Refusal::Corrupt {
        what,
        source: Box::new(source),
    }
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        field,
        message: message.into(),
    }
}

/// A reason as people type it: up to 500 characters counted without invisible ones, no control
/// characters or bidi overrides; `None` when empty.
pub(crate) fn reason_text(raw: Option<&str>) -> Result<Option<String>, Refusal> {
    match raw.map(jinguo_core::identity::clean) {
        Some(r) if !r.is_empty() => text::multi_line(raw.unwrap_or_default(), 1, REASON_MAX)
            .map(Some)
            .map_err(|e| invalid("reason", e.message())),
        _ => Ok(None),
    }
}

/// The longest reason a reviewer or nominator may give.
pub(crate) const REASON_MAX: usize = 500;

/// An event the state does not allow, in one sentence for every state (so a held nomination's
/// refusals read exactly like any other's).
pub(crate) fn illegal(_: core::Illegal) -> Refusal {
    Refusal::Conflict("该推荐当前的状态不允许这项操作".into())
}
