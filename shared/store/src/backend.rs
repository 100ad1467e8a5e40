//! What PostgreSQL and SQLite do differently: pools, connection set-up, migrations, pings.

use std::path::Path;

use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use jinguo_config::DatabaseConfig;

use crate::{Conn, SqliteConn, Store, StoreError};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

pub(crate) fn postgres_pool(
    url: &str,
    config: &DatabaseConfig,
) -> Result<Pool<AsyncPgConnection>, StoreError> {
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // A connection is handed out without a `SELECT 1` first (that was one more round trip on
    // every transaction, a sixth of a decision's statements): one the server closed while it sat
    // in the pool fails its first statement, and the store then drops every idle connection and
    // runs the work once more on a fresh one (`Store::transaction`, `Store::read`).
    manager_config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, manager_config);
    Pool::builder(manager)
        .max_size(config.max_connections)
        .build()
        .map_err(|e| StoreError::Connect(e.to_string()))
}

pub(crate) fn sqlite_pool(
    path: &Path,
    config: &DatabaseConfig,
) -> Result<Pool<SqliteConn>, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Connect(format!("cannot create {}: {e}", dir.display())))?;
    }
    let busy_timeout_ms = config.busy_timeout_ms;
    let mut manager_config = ManagerConfig::<SqliteConn>::default();
    // Every pooled connection gets the same pragmas; SQLite keeps them per connection.
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            let mut conn = SqliteConn::establish(&url).await?;
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {busy_timeout_ms}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
            ))
            .await
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            Ok(conn)
        }
        .boxed()
    });
    let url = path.to_string_lossy().into_owned();
    let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(url, manager_config);
    Pool::builder(manager)
        .max_size(config.max_connections)
        .build()
        .map_err(|e| StoreError::Connect(e.to_string()))
}

pub(crate) async fn ping(conn: &mut Conn<'_>) -> Result<(), StoreError> {
    crate::on_backend!(conn, |c| c.batch_execute("SELECT 1").await)?;
    Ok(())
}

/// Migrations run on a connection of their own, on a blocking thread: diesel's migration
/// harness is synchronous (for PostgreSQL it drives the async connection with `block_on`).
pub(crate) async fn migrate(store: &Store) -> Result<Vec<String>, StoreError> {
    let applied = match store {
        Store::Postgres(pool) => {
            let obj = pool.get().await.map_err(StoreError::pool)?;
            let conn = diesel_async::pooled_connection::deadpool::Object::take(obj);
            tokio::task::spawn_blocking(move || {
                let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
                versions(harness.run_pending_migrations(POSTGRES_MIGRATIONS))
            })
            .await
        }
        Store::Sqlite(pool) => {
            let mut obj = pool.get().await.map_err(StoreError::pool)?;
            let applied = obj
                .spawn_blocking(|conn| {
                    conn.run_pending_migrations(SQLITE_MIGRATIONS)
                        .map(|vs| vs.iter().map(ToString::to_string).collect::<Vec<_>>())
                        .map_err(diesel::result::Error::QueryBuilderError)
                })
                .await;
            return applied.map_err(|e| StoreError::Migration(e.to_string()));
        }
    };
    applied.map_err(|e| StoreError::Task(e.to_string()))?
}

fn versions<V: std::fmt::Display>(
    result: diesel::migration::Result<Vec<V>>,
) -> Result<Vec<String>, StoreError> {
    result
        .map(|vs| vs.iter().map(ToString::to_string).collect())
        .map_err(|e| StoreError::Migration(e.to_string()))
}

/// Serialises audit-log appends. PostgreSQL: a table lock that excludes other writers (readers
/// go on). SQLite: nothing more is needed, its write transactions are already exclusive.
pub(crate) async fn lock_audit_log(conn: &mut Conn<'_>) -> Result<(), StoreError> {
    if let Conn::Pg(c) = conn {
        c.batch_execute("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
            .await?;
    }
    Ok(())
}

/// Names of the migrations compiled into this binary for `backend`.
pub fn embedded_migrations(backend: crate::Backend) -> Vec<String> {
    use diesel::migration::MigrationSource;
    let names = |source: EmbeddedMigrations| -> Vec<String> {
        match MigrationSource::<diesel::pg::Pg>::migrations(&source) {
            Ok(ms) => ms.iter().map(|m| m.name().to_string()).collect(),
            Err(_) => Vec::new(),
        }
    };
    match backend {
        crate::Backend::Postgres => names(POSTGRES_MIGRATIONS),
        crate::Backend::Sqlite => names(SQLITE_MIGRATIONS),
    }
}
