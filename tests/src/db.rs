//! Fresh databases per test, from templates built once.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use jinguo_config::Config;
use jinguo_store::Store;
use tokio::sync::OnceCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// What a fresh test database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contents {
    /// Migrated, no rows.
    Empty,
    /// Migrated, with the built-in Gansu org tree loaded.
    Gansu,
}

/// The RabbitMQ used for tests: `TEST_AMQP_URL`, default guest on localhost.
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// The PostgreSQL server used for tests, as an admin URL (any database on it).
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn postgres_url(database: &str) -> String {
    let mut url = url_without_db(&postgres_admin_url());
    url.push('/');
    url.push_str(database);
    url
}

fn url_without_db(admin: &str) -> String {
    // postgres://user@host:port/db?params → postgres://user@host:port
    let after_scheme = admin.find("://").map_or(0, |i| i + 3);
    match admin[after_scheme..].find('/') {
        Some(i) => admin[..after_scheme + i].to_owned(),
        None => admin.to_owned(),
    }
}

/// A column as the database describes it: [`TestDb::columns`].
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct DbColumn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub column_name: String,
    /// As declared (SQLite) or as `information_schema` names it (PostgreSQL).
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub data_type: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub nullable: bool,
}

/// A database that exists for one test and is removed when dropped.
pub struct TestDb {
    backend: Backend,
    url: String,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub async fn new(backend: Backend, contents: Contents) -> TestDb {
        let unique = format!(
            "{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        match backend {
            Backend::Postgres => {
                let template = postgres_template(contents).await;
                let name = format!("jinguo_test_{unique}");
                let mut admin = admin_connection().await;
                let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
                retry_while_busy(&mut admin, &sql).await;
                TestDb {
                    backend,
                    url: postgres_url(&name),
                    name,
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let template = sqlite_template(contents).await;
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("jinguo.db");
                std::fs::copy(&template, &path).expect("copy SQLite template");
                // Pages not yet checkpointed live in the WAL file; a copy needs both.
                let wal = template.with_extension("db-wal");
                if wal.exists() {
                    std::fs::copy(&wal, path.with_extension("db-wal")).expect("copy SQLite WAL");
                }
                TestDb {
                    backend,
                    url: format!("sqlite://{}", path.display()),
                    name: path.display().to_string(),
                    _dir: Some(dir),
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL, as `database.url` takes it.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Runs SQL statements on this database directly, as an operator's client would.
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Postgres => {
                let mut conn = AsyncPgConnection::establish(&self.url)
                    .await
                    .expect("connect to the test database");
                conn.batch_execute(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Backend::Sqlite => {
                use diesel::connection::SimpleConnection;
                use diesel::{Connection, SqliteConnection};
                let mut conn =
                    SqliteConnection::establish(&self.name).expect("open the test database");
                // The service writes to the same file meanwhile: wait for its lock as the
                // service's own connections do, rather than fail at once.
                conn.batch_execute("PRAGMA busy_timeout = 10000;")
                    .expect("set the busy timeout");
                conn.batch_execute(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// Every value of every table as text (PostgreSQL: each row cast to text; SQLite: the
    /// database and WAL files' bytes, which hold every table and index): for tests that assert
    /// something is stored nowhere.
    pub async fn all_text(&self) -> String {
        match self.backend {
            Backend::Postgres => {
                use diesel::QueryableByName;
                use diesel::sql_types::Text;
                use diesel_async::RunQueryDsl;
                #[derive(QueryableByName)]
                struct Row {
                    #[diesel(sql_type = Text)]
                    t: String,
                }
                let mut conn = AsyncPgConnection::establish(&self.url)
                    .await
                    .expect("connect to the test database");
                let tables: Vec<Row> = diesel::sql_query(
                    "SELECT table_name::text AS t FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .load(&mut conn)
                .await
                .expect("list tables");
                let mut out = String::new();
                for table in tables {
                    let rows: Vec<Row> =
                        diesel::sql_query(format!("SELECT x::text AS t FROM \"{}\" x", table.t))
                            .load(&mut conn)
                            .await
                            .expect("read a table");
                    for r in rows {
                        out.push_str(&r.t);
                        out.push('\n');
                    }
                }
                out
            }
            Backend::Sqlite => {
                let path = std::path::PathBuf::from(&self.name);
                let mut bytes = std::fs::read(&path).expect("read the SQLite file");
                if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
                    bytes.extend_from_slice(&wal);
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }
    }

    /// Every column of every table as the database describes it (PostgreSQL:
    /// `information_schema.columns` of the public base tables; SQLite: `PRAGMA table_info` of
    /// every table but SQLite's own), for tests that compare the schema with the migrations.
    /// SQLite's `INTEGER PRIMARY KEY` (the rowid, never NULL) counts as not nullable, though
    /// the pragma does not say `notnull` for it.
    pub async fn columns(&self) -> Vec<DbColumn> {
        match self.backend {
            Backend::Postgres => {
                use diesel_async::RunQueryDsl;
                let mut conn = AsyncPgConnection::establish(&self.url)
                    .await
                    .expect("connect to the test database");
                diesel::sql_query(
                    "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
                     c.data_type::text AS data_type, c.is_nullable = 'YES' AS nullable \
                     FROM information_schema.columns c JOIN information_schema.tables t \
                     ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                     WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
                     ORDER BY c.table_name, c.ordinal_position",
                )
                .load(&mut conn)
                .await
                .expect("list columns")
            }
            Backend::Sqlite => {
                use diesel::{Connection, RunQueryDsl, SqliteConnection};
                let mut conn =
                    SqliteConnection::establish(&self.name).expect("open the test database");
                diesel::sql_query(
                    "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                     p.\"notnull\" = 0 AND NOT (p.pk = 1 AND upper(p.type) = 'INTEGER' \
                         AND (SELECT count(*) FROM pragma_table_info(m.name) WHERE pk > 0) = 1) \
                     AS nullable \
                     FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                     ORDER BY m.name, p.cid",
                )
                .load(&mut conn)
                .expect("list columns")
            }
        }
    }

    /// A store over this database.
    pub async fn store(&self) -> Store {
        let config = crate::test_config(self, &[]);
        Store::connect(&config.database)
            .await
            .expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend != Backend::Postgres {
            return;
        }
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await; a short-lived runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = AsyncPgConnection::establish(&postgres_admin_url()).await {
                    let _ = admin.batch_execute(&sql).await;
                }
            });
        })
        .join();
    }
}

async fn admin_connection() -> AsyncPgConnection {
    let url = postgres_admin_url();
    AsyncPgConnection::establish(&url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for this test and is not reachable at {url} ({e}). \
             Start it (pg_ctlcluster … start) or set TEST_POSTGRES_URL."
            )
        })
}

/// A template or a fresh clone can be "being accessed by other users" for a moment after the
/// connections that built it close; retry briefly.
async fn retry_while_busy(admin: &mut AsyncPgConnection, sql: &str) {
    for attempt in 0.. {
        match admin.batch_execute(sql).await {
            Ok(()) => return,
            Err(e) if attempt < 50 && e.to_string().contains("being accessed by other users") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

/// Names change whenever migrations or the seed change, so a stale template is never used.
fn fingerprint() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut hasher = DefaultHasher::new();
    for dir in ["migrations/postgres", "migrations/sqlite"] {
        let mut files: Vec<_> = walk(&root.join(dir));
        files.sort();
        for f in files {
            f.file_name().hash(&mut hasher);
            std::fs::read(&f).unwrap().hash(&mut hasher);
        }
    }
    // What this binary embeds, too: files changed after it was built must not reuse a template.
    jinguo_store::embedded_migrations(jinguo_store::Backend::Postgres).hash(&mut hasher);
    jinguo_store::embedded_migrations(jinguo_store::Backend::Sqlite).hash(&mut hasher);
    jinguo_store::seed::GANSU_ORGS_CSV.hash(&mut hasher);
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn fill(url: String, contents: Contents) {
    let config = Config::from_env([("JINGUO_DATABASE__URL".to_owned(), url)]).unwrap();
    let store = Store::connect(&config.database)
        .await
        .expect("connect to template");
    store.migrate().await.expect("migrate template");
    if contents == Contents::Gansu {
        jinguo_store::seed::load_gansu_if_empty(&store)
            .await
            .expect("load Gansu into template");
    }
}

async fn postgres_template(contents: Contents) -> String {
    static EMPTY: OnceCell<String> = OnceCell::const_new();
    static GANSU: OnceCell<String> = OnceCell::const_new();
    let cell = match contents {
        Contents::Empty => &EMPTY,
        Contents::Gansu => &GANSU,
    };
    cell.get_or_init(|| async move {
        let suffix = match contents {
            Contents::Empty => "empty",
            Contents::Gansu => "gansu",
        };
        let name = format!("jinguo_tpl_{}_{suffix}", fingerprint());
        let mut admin = admin_connection().await;
        // Test binaries run in parallel processes: one builds, the others wait for it.
        admin
            .batch_execute("SELECT pg_advisory_lock(7262011)")
            .await
            .unwrap();
        let exists: bool = {
            use diesel_async::RunQueryDsl;
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
            )))
            .get_result(&mut admin)
            .await
            .unwrap()
        };
        if !exists {
            let building = format!("{name}_building");
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .await
                .unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {building}"))
                .await
                .unwrap();
            fill(postgres_url(&building), contents).await;
            retry_while_busy(
                &mut admin,
                &format!("ALTER DATABASE {building} RENAME TO {name}"),
            )
            .await;
            drop_stale_templates(&mut admin).await;
        }
        admin
            .batch_execute("SELECT pg_advisory_unlock(7262011)")
            .await
            .unwrap();
        name
    })
    .await
    .clone()
}

/// Templates of earlier migrations or seeds are never used again.
async fn drop_stale_templates(admin: &mut AsyncPgConnection) {
    use diesel_async::RunQueryDsl;
    let current = format!("jinguo_tpl_{}_%", fingerprint());
    let stale: Vec<String> = diesel::sql_query(
        "SELECT datname AS name FROM pg_database WHERE datname LIKE 'jinguo\\_tpl\\_%' AND datname NOT LIKE $1",
    )
    .bind::<diesel::sql_types::Text, _>(current)
    .load::<DatabaseName>(admin)
    .await
    .unwrap()
    .into_iter()
    .map(|d| d.name)
    .collect();
    for name in stale {
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

#[derive(diesel::QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

async fn sqlite_template(contents: Contents) -> PathBuf {
    static EMPTY: OnceCell<PathBuf> = OnceCell::const_new();
    static GANSU: OnceCell<PathBuf> = OnceCell::const_new();
    let cell = match contents {
        Contents::Empty => &EMPTY,
        Contents::Gansu => &GANSU,
    };
    cell.get_or_init(|| async move {
        // One file per process; kept for the process's life, removed by the OS temp cleaner.
        let dir = tempfile::Builder::new()
            .prefix("jinguo-tpl")
            .tempdir()
            .unwrap()
            .keep();
        let path = dir.join("template.db");
        fill(format!("sqlite://{}", path.display()), contents).await;
        path
    })
    .await
    .clone()
}
