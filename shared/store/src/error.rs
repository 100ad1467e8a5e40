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

impl StoreError {
    /// Whether trying the same work again later can succeed: the database link failed (see
    /// [`StoreError::is_unavailable`]), a lock or serialization conflict (PostgreSQL
    /// serialization failure, deadlock or lock timeout; SQLite busy), a connection could not
    /// be opened, or the task running the transaction died. A statement the database refused
    /// for what it is (a constraint, a bad row) or a failed migration will fail again: a
    /// handler sends it to the dead letters at once instead of retrying it.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::SerializationFailure,
                _,
            )) => true,
            StoreError::Query(DieselError::DatabaseError(_, info)) => {
                let m = info.message();
                self.is_unavailable()
                    || m.contains("deadlock detected")
                    || m.contains("lock timeout")
                    || m.contains("statement timeout")
                    || m.contains("database is locked")
                    || m.contains("database table is locked")
            }
            StoreError::Connect(_) | StoreError::Task(_) => true,
            other => other.is_unavailable(),
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

/// Parses a stored org code; one that no longer parses is reported, not guessed around.
pub(crate) fn org(s: &str) -> Result<jinguo_core::org::OrgCode, StoreError> {
    jinguo_core::org::OrgCode::parse(s)
        .map_err(|e| StoreError::corrupt(format!("org code {s:?}: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn db(kind: DatabaseErrorKind, message: &str) -> StoreError {
        StoreError::Query(DieselError::DatabaseError(
            kind,
            Box::new(message.to_owned()),
        ))
    }

    #[test]
    fn only_what_can_pass_is_transient() {
        for passing in [
            db(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access",
            ),
            db(DatabaseErrorKind::Unknown, "deadlock detected"),
            db(DatabaseErrorKind::Unknown, "database is locked"),
            db(DatabaseErrorKind::ClosedConnection, "closed"),
            StoreError::Unavailable { cause: None },
        ] {
            assert!(passing.is_transient(), "{passing}");
        }
        for lasting in [
            db(DatabaseErrorKind::UniqueViolation, "duplicate key value"),
            db(
                DatabaseErrorKind::ForeignKeyViolation,
                "violates foreign key",
            ),
            StoreError::Query(DieselError::NotFound),
            StoreError::Migration("bad".into()),
        ] {
            assert!(!lasting.is_transient(), "{lasting}");
        }
    }
}
