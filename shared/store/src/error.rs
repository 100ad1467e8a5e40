use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;

/// What can go wrong in the store, in words an operator can act on.
///
/// [`StoreError::is_unavailable`] separates a fault of the database link (ask again later,
/// nothing was written or the write is covered by idempotency) from everything else.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// No connection could be had from the pool: the database refused or could not be reached.
    #[error("no database connection")]
    Pool(#[source] PoolError),
    #[error("database: {0}")]
    Query(#[from] DieselError),
    /// The connection broke before the transaction committed, and again on a fresh connection:
    /// nothing was written. `cause` is the last database error, when there was one.
    #[error("the database is unavailable: the connection was lost, nothing was written")]
    Unavailable {
        #[source]
        cause: Option<DieselError>,
    },
    /// The connection broke while committing: the transaction may or may not have committed.
    /// Not retried; callers rely on their idempotency (inbox, link claims) to ask again safely.
    #[error("the database connection was lost while committing; the outcome is unknown")]
    CommitUncertain(#[source] DieselError),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database task failed: {0}")]
    Task(String),
}

impl StoreError {
    pub(crate) fn pool(e: PoolError) -> StoreError {
        StoreError::Pool(e)
    }

    /// A stored value that no longer reads as its type (a row edited by hand): reported, not
    /// guessed around.
    pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
        StoreError::Query(DieselError::DeserializationError(what.into().into()))
    }

    /// True when the fault is the database link, not the request: the pool could not connect,
    /// the connection was lost (twice) before commit, or at commit. Worth asking again later;
    /// HTTP answers it with 503 and `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Pool(e) => matches!(
                e,
                PoolError::Timeout(_) | PoolError::Closed | PoolError::Backend(_)
            ),
            StoreError::Unavailable { .. } | StoreError::CommitUncertain(_) => true,
            StoreError::Query(e) => connection_lost(e),
            _ => false,
        }
    }
}

/// Whether `e` says the connection itself failed (closed, reset, killed by the server) rather
/// than the statement. diesel-async reports a tokio-postgres error without SQLSTATE (socket
/// closed or reset, broken pipe) as `UnableToSendCommand`; a backend terminated by the server
/// (`pg_terminate_backend`, crash, idle timeouts: SQLSTATE 57P01/57P02/57P05/25P03) arrives as
/// `Unknown` whose SQLSTATE diesel hides, so it is recognised by PostgreSQL's message here — the
/// store itself does not depend on this: after a failure it asks the connection (see
/// `Store::transaction`).
pub(crate) fn connection_lost(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        )
        | DieselError::BrokenTransactionManager => true,
        DieselError::DatabaseError(_, info) => {
            let m = info.message();
            m.starts_with("terminating connection") || m.contains("server closed the connection")
        }
        DieselError::RollbackErrorOnCommit {
            rollback_error,
            commit_error,
        } => connection_lost(rollback_error) || connection_lost(commit_error),
        _ => false,
    }
}

/// Parses a text column into its type (an id, an enum core defines); `what` names the column
/// in the error.
pub(crate) fn parse<T>(text: &str, what: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StoreError::corrupt(format!("bad {what} {text:?}: {e}")))
}
