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
//! - [`locked!`] takes a row lock (`FOR UPDATE`) on PostgreSQL and nothing on SQLite, where the
//!   immediate transaction already excludes other writers.

pub mod audit;
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
pub mod orgs;
pub mod outbox;
pub mod people;
mod schema;
pub mod seed;
pub mod staff;
pub mod timers;

use std::future::Future;
use std::pin::Pin;

use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use jinguo_config::{DatabaseConfig, DatabaseUrl};

pub use backend::embedded_migrations;
pub use error::StoreError;

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

/// Like [`on_backend!`], with `$q` bound to `$query` plus `FOR UPDATE` on PostgreSQL; SQLite
/// needs no row lock because its write transactions are already exclusive.
#[macro_export]
macro_rules! locked {
    ($conn:expr, $query:expr, |$c:ident, $q:ident| $body:expr) => {
        match $conn {
            $crate::Conn::Pg(c) => {
                let $c: &mut diesel_async::AsyncPgConnection = c;
                let $q = diesel::QueryDsl::for_update($query);
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
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: for<'r, 'c> FnOnce(&'r mut Conn<'c>) -> BoxFuture<'r, Result<R, E>>,
        E: From<StoreError>,
    {
        match self {
            Store::Postgres(pool) => {
                let mut obj = pool.get().await.map_err(StoreError::pool)?;
                f(&mut Conn::Pg(&mut obj)).await
            }
            Store::Sqlite(pool) => {
                let mut obj = pool.get().await.map_err(StoreError::pool)?;
                f(&mut Conn::Sqlite(&mut obj)).await
            }
        }
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`, rolled back otherwise.
    ///
    /// The transaction runs in a task of its own: dropping the returned future does not cancel
    /// it, so it always ends in a commit or a rollback, never a transaction left open.
    pub async fn transaction<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: for<'r, 'c> FnOnce(&'r mut Conn<'c>) -> BoxFuture<'r, Result<R, E>> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        let task = tokio::spawn(async move {
            let outcome = match &store {
                Store::Postgres(pool) => {
                    let mut obj = pool.get().await.map_err(|e| E::from(StoreError::pool(e)))?;
                    let conn: &mut AsyncPgConnection = &mut obj;
                    conn.transaction(async move |c| f(&mut Conn::Pg(c)).await.map_err(TxError::App))
                        .await
                }
                Store::Sqlite(pool) => {
                    let mut obj = pool.get().await.map_err(|e| E::from(StoreError::pool(e)))?;
                    let conn: &mut SqliteConn = &mut obj;
                    conn.immediate_transaction(async move |c| {
                        f(&mut Conn::Sqlite(c)).await.map_err(TxError::App)
                    })
                    .await
                }
            };
            outcome.map_err(|e| match e {
                TxError::Db(e) => E::from(StoreError::Query(e)),
                TxError::App(e) => e,
            })
        });
        match task.await {
            Ok(result) => result,
            Err(join) => Err(E::from(StoreError::Task(join.to_string()))),
        }
    }
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
