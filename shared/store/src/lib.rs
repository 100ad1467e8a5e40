//! The only place that speaks SQL.
//!
//! [`Store`] is one type over two backends: PostgreSQL (production) and SQLite (the embedded
//! default). Repository modules (`orgs`, …) take a [`Conn`] and are written once for both
//! backends with [`on_backend!`]; what the backends do differently lives in `backend`.
//!
//! Guarantees:
//! - [`Store::transaction`] runs in its own task, so a caller that is dropped (a client hanging up)
//!   can never leave a transaction open; on SQLite it is `BEGIN IMMEDIATE`, which serialises
//!   writers up front instead of deadlocking them on lock upgrade.
//! - A connection lost before `COMMIT` is not the caller's problem: [`Store::transaction`] and
//!   [`Store::read`] run their closure once more on a fresh connection, and only a second loss
//!   (or a loss during `COMMIT`, which may have committed) reaches the caller, as an error that
//!   [`StoreError::is_unavailable`]. A dead connection never goes back to the pool, and the idle
//!   ones are dropped before the second run (pooled connections are handed out unverified).
//! - [`locked!`] takes a row lock (`FOR UPDATE`) on PostgreSQL and nothing on SQLite, where the
//!   immediate transaction already excludes other writers.
//! - A transaction that queued work (outbox, deliveries) wakes this process's waiters on commit
//!   ([`wakeups`]); polling is the backstop.

pub mod audit;
pub mod awards;
mod backend;
pub mod cron_ticks;
pub mod dead_letters;
pub mod deliveries;
mod error;
pub mod inbox;
mod json;
pub mod links;
pub mod mail;
pub mod nominations;
pub mod objections;
pub mod orgs;
pub mod outbox;
pub mod people;
pub mod referrals;
mod schema;
pub mod sealed;
pub mod seed;
pub mod staff;
pub mod timers;
pub mod tours;
mod wake;
mod work;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use jinguo_config::{DatabaseConfig, DatabaseUrl};

pub use backend::embedded_migrations;
pub use error::StoreError;
pub use wake::{Queue, Wakeups, listen_for_wakeups, wakeups};
pub use work::{DatabaseWork, database_work};

/// The SQLite connection type: diesel's sync connection run on blocking threads.
pub type SqliteConn = SyncConnectionWrapper<diesel::sqlite::SqliteConnection>;

/// A boxed future borrowing a connection; the shape every store callback returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A database connection of either backend, possibly inside a transaction.
pub enum Conn<'c> {
    Pg(&'c mut AsyncPgConnection),
    Sqlite(&'c mut SqliteConn),
}

/// Which backend a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Runs the same diesel expression against whichever backend `conn` holds.
/// The body is compiled once per backend, so it must be valid SQL for both.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::Conn::Pg(c) => {
                let $c: &mut diesel_async::AsyncPgConnection = c;
                $body
            }
            $crate::Conn::Sqlite(c) => {
                let $c: &mut $crate::SqliteConn = c;
                $body
            }
        }
    };
}

/// Like [`on_backend!`], with `$q` bound to `$query` plus `FOR NO KEY UPDATE` on PostgreSQL; SQLite
/// needs no row lock because its write transactions are already exclusive.
#[macro_export]
macro_rules! locked {
    ($conn:expr, $query:expr, |$c:ident, $q:ident| $body:expr) => {
        match $conn {
            $crate::Conn::Pg(c) => {
                let $c: &mut diesel_async::AsyncPgConnection = c;
                // NO KEY UPDATE: lockers still exclude each other, but a foreign-key check of
                // another transaction (inserting a nomination of a locked village) does not
                // wait for the lock, so no lock order through the FK can deadlock. No locked
                // row ever has its key changed.
                let $q = diesel::QueryDsl::for_no_key_update($query);
                $body
            }
            $crate::Conn::Sqlite(c) => {
                let $c: &mut $crate::SqliteConn = c;
                let $q = $query;
                $body
            }
        }
    };
}

/// Like [`locked!`], but rows another transaction holds are skipped instead of waited for
/// (`FOR UPDATE SKIP LOCKED`): how several relays or schedulers share one table of work.
#[macro_export]
macro_rules! claimed {
    ($conn:expr, $query:expr, |$c:ident, $q:ident| $body:expr) => {
        match $conn {
            $crate::Conn::Pg(c) => {
                let $c: &mut diesel_async::AsyncPgConnection = c;
                let $q = diesel::QueryDsl::skip_locked(diesel::QueryDsl::for_update($query));
                $body
            }
            $crate::Conn::Sqlite(c) => {
                let $c: &mut $crate::SqliteConn = c;
                let $q = $query;
                $body
            }
        }
    };
}

/// The database: a pool of PostgreSQL or SQLite connections.
#[derive(Clone)]
pub enum Store {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite(Pool<SqliteConn>),
}

impl Store {
    /// Opens a pool for the configured backend and checks that a connection can be made.
    pub async fn connect(config: &DatabaseConfig) -> Result<Store, StoreError> {
        work::count_from_now_on();
        let store = match &config.url {
            DatabaseUrl::Postgres(url) => Store::Postgres(backend::postgres_pool(url, config)?),
            DatabaseUrl::Sqlite(path) => Store::Sqlite(backend::sqlite_pool(path, config)?),
        };
        store.ping().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Postgres(_) => Backend::Postgres,
            Store::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Applies the embedded migrations of this backend that have not run yet.
    /// Returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        backend::migrate(self).await
    }

    /// `SELECT 1` on a pooled connection: the readiness check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Box::pin(backend::ping(c))).await
    }

    /// Runs `f` on a pooled connection outside any transaction: for reads.
    ///
    /// If `f` fails and the connection turns out to be dead, the connection is thrown away and
    /// `f` runs once more on a fresh one (hence `Clone`: each attempt gets its own copy); a
    /// second loss is reported as [`StoreError::Unavailable`].
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: for<'r, 'c> FnOnce(&'r mut Conn<'c>) -> BoxFuture<'r, Result<R, E>> + Clone,
        E: From<StoreError>,
    {
        match self.read_once(f.clone()).await {
            Attempt::Done(result) => result,
            Attempt::Lost(first) => {
                retrying("read", &first);
                self.forget_idle_connections();
                match self.read_once(f).await {
                    Attempt::Done(result) => result,
                    Attempt::Lost(again) => Err(E::from(unavailable(again))),
                }
            }
        }
    }

    /// Runs one idempotent write outside any transaction: it commits on its own, without
    /// `BEGIN` and `COMMIT` around it (two statements fewer than [`Store::transaction`]). For a
    /// write that needs nothing else to commit with it — marking a mail sent, removing a handled
    /// delivery. Like [`Store::read`] it runs once more on a fresh connection if the first is
    /// lost, hence idempotent only.
    pub async fn write_alone<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: for<'r, 'c> FnOnce(&'r mut Conn<'c>) -> BoxFuture<'r, Result<R, E>> + Clone,
        E: From<StoreError>,
    {
        self.read(f).await
    }

    async fn read_once<R, E, F>(&self, f: F) -> Attempt<R, E>
    where
        F: for<'r, 'c> FnOnce(&'r mut Conn<'c>) -> BoxFuture<'r, Result<R, E>>,
    {
        match self {
            Store::Postgres(pool) => {
                let mut obj = match pool.get().await {
                    Ok(obj) => obj,
                    Err(e) => return Attempt::Lost(StoreError::pool(e)),
                };
                let result = f(&mut Conn::Pg(&mut obj)).await;
                if result.is_err() && !still_alive(&mut *obj).await {
                    discard(Object::take(obj));
                    return Attempt::Lost(StoreError::Unavailable { cause: None });
                }
                Attempt::Done(result)
            }
            Store::Sqlite(pool) => {
                let mut obj = match pool.get().await {
                    Ok(obj) => obj,
                    Err(e) => return Attempt::Lost(StoreError::pool(e)),
                };
                let result = f(&mut Conn::Sqlite(&mut obj)).await;
                if result.is_err() && !still_alive(&mut *obj).await {
                    discard(Object::take(obj));
                    return Attempt::Lost(StoreError::Unavailable { cause: None });
                }
                Attempt::Done(result)
            }
        }
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`, rolled back otherwise.
    ///
    /// The transaction runs in a task of its own: dropping the returned future does not cancel
    /// it, so it always ends in a commit or a rollback, never a transaction left open.
    ///
    /// A transaction whose connection fails before its commit (the server terminated the
    /// backend, the socket was reset, the pool handed out a connection that had just died, or
    /// no connection could be made) is run again, whole, once, on a fresh connection: nothing
    /// of the first attempt was committed, so this is safe (hence `Clone`: each attempt gets its
    /// own copy of `f`). If that fails the same way, the caller gets
    /// [`StoreError::Unavailable`]. A connection that fails *during* `COMMIT` is not retried,
    /// since the commit may have happened: the caller gets [`StoreError::CommitUncertain`] and
    /// relies on its idempotency (the inbox for messages, claimed links and keys for requests).
    /// Either way a dead connection is taken out of the pool, never handed out again.
    pub async fn transaction<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: for<'r, 'c> FnOnce(&'r mut Conn<'c>) -> BoxFuture<'r, Result<R, E>>
            + Clone
            + Send
            + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        let task = tokio::spawn(wake::on_commit(async move {
            match store.transaction_once(f.clone()).await {
                Attempt::Done(result) => result,
                Attempt::Lost(first) => {
                    retrying("transaction", &first);
                    store.forget_idle_connections();
                    match store.transaction_once(f).await {
                        Attempt::Done(result) => result,
                        Attempt::Lost(again) => Err(E::from(unavailable(again))),
                    }
                }
            }
        }));
        match task.await {
            Ok(result) => result,
            Err(join) => Err(E::from(StoreError::Task(join.to_string()))),
        }
    }

    /// Closes every idle pooled connection. Pooled connections are handed out unverified, so
    /// after one was found dead the others are suspect too (a server restart ends them all): the
    /// next attempt then opens a fresh one instead of finding the next dead one.
    fn forget_idle_connections(&self) {
        match self {
            Store::Postgres(pool) => drop(pool.retain(|_, _| false)),
            Store::Sqlite(pool) => drop(pool.retain(|_, _| false)),
        }
    }

    async fn transaction_once<R, E, F>(&self, f: F) -> Attempt<R, E>
    where
        F: for<'r, 'c> FnOnce(&'r mut Conn<'c>) -> BoxFuture<'r, Result<R, E>> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        // Set when `f` succeeded: a database error after that came from `COMMIT`.
        let body_ok = AtomicBool::new(false);
        let body_ok = &body_ok;
        // The same attempt on either backend; only how the transaction begins differs
        // (`BEGIN IMMEDIATE` on SQLite, so writers queue instead of deadlocking).
        macro_rules! attempt {
            ($pool:expr, $conn:ty, $begin:ident, $wrap:path) => {{
                let mut obj = match $pool.get().await {
                    Ok(obj) => obj,
                    Err(e) => return Attempt::Lost(StoreError::pool(e)),
                };
                let conn: &mut $conn = &mut obj;
                let outcome = conn
                    .$begin(async move |c| {
                        let result = f(&mut $wrap(c)).await;
                        body_ok.store(result.is_ok(), Ordering::Relaxed);
                        result.map_err(TxError::App)
                    })
                    .await;
                let e = match outcome {
                    Ok(value) => return Attempt::Done(Ok(value)),
                    Err(e) => e,
                };
                let (attempt, alive) =
                    after_failure(&mut *obj, e, body_ok.load(Ordering::Relaxed)).await;
                if !alive {
                    discard(Object::take(obj));
                }
                attempt
            }};
        }
        match self {
            Store::Postgres(pool) => attempt!(pool, AsyncPgConnection, transaction, Conn::Pg),
            Store::Sqlite(pool) => attempt!(pool, SqliteConn, immediate_transaction, Conn::Sqlite),
        }
    }
}

/// One attempt on one pooled connection.
enum Attempt<R, E> {
    /// Finished: committed, refused by the caller, or failed in a way another connection would
    /// not change.
    Done(Result<R, E>),
    /// The connection (or the pool) failed before anything was committed: the work may run
    /// again on a fresh connection. Holds what to report if that fails too.
    Lost(StoreError),
}

/// Sorts out a failed transaction; also says whether the connection may go back to the pool.
///
/// - The caller's own error: diesel rolled back first, and a rollback that succeeded means the
///   connection was alive, so the error is the caller's — unless the connection is now marked
///   broken (the rollback itself failed), when the attempt is lost.
/// - A database error (from `BEGIN`, `ROLLBACK` or `COMMIT`): lost if the error says the
///   connection failed, the connection is marked broken, or it no longer answers `SELECT 1`.
///   A loss after `f` succeeded happened at `COMMIT` and is reported as uncertain, not retried.
async fn after_failure<C, R, E>(
    conn: &mut C,
    error: TxError<E>,
    body_ok: bool,
) -> (Attempt<R, E>, bool)
where
    C: PoolableConnection,
    E: From<StoreError>,
{
    match error {
        TxError::App(e) => {
            if conn.is_broken() {
                (
                    Attempt::Lost(StoreError::Unavailable { cause: None }),
                    false,
                )
            } else {
                (Attempt::Done(Err(e)), true)
            }
        }
        TxError::Db(e) => {
            let lost = error::connection_lost(&e) || !still_alive(conn).await;
            match (lost, body_ok) {
                (false, _) => (Attempt::Done(Err(E::from(StoreError::Query(e)))), true),
                (true, false) => (
                    Attempt::Lost(StoreError::Unavailable { cause: Some(e) }),
                    false,
                ),
                (true, true) => {
                    tracing::warn!(error = %e, "database connection lost while committing; the outcome is unknown and is not retried");
                    (
                        Attempt::Done(Err(E::from(StoreError::CommitUncertain(e)))),
                        false,
                    )
                }
            }
        }
    }
}

/// After a failure: may this connection serve again? Not if diesel marked it broken (closed
/// socket, a transaction it could not end) or it no longer answers `SELECT 1`.
async fn still_alive<C: PoolableConnection>(conn: &mut C) -> bool {
    !conn.is_broken() && conn.batch_execute("SELECT 1").await.is_ok()
}

/// Closes a connection taken out of its pool (`Object::take`), so the pool opens a new one
/// instead of handing this one out again.
fn discard<C>(conn: C) {
    drop(conn);
}

fn retrying(what: &str, first: &StoreError) {
    let cause = match std::error::Error::source(first) {
        Some(cause) => jinguo_core::error_chain(cause),
        None => "the connection no longer answers".to_owned(),
    };
    // A database that cannot be reached at all is the caller's to report (a 503, or the one
    // line a command prints); a connection lost under way is worth a warning of its own.
    if matches!(first, StoreError::Pool(_)) {
        tracing::debug!(error = %cause, "no database connection; trying the {what} once more");
    } else {
        tracing::warn!(
            error = %cause,
            "database connection lost before commit; running the {what} again on a fresh connection"
        );
    }
}

/// What the caller gets when the second attempt is lost too: the pool's error or
/// [`StoreError::Unavailable`], both [`StoreError::is_unavailable`].
fn unavailable(again: StoreError) -> StoreError {
    if !matches!(again, StoreError::Pool(_)) {
        tracing::warn!(error = %jinguo_core::error_chain(&again), "database unavailable: the connection was lost again");
    }
    again
}

/// Keeps the caller's error apart from diesel's inside a transaction (diesel needs
/// `From<diesel::result::Error>`, which the caller's error type need not have).
enum TxError<E> {
    Db(diesel::result::Error),
    App(E),
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(e)
    }
}
