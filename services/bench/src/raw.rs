//! The raw limits the workflow is compared with, at the workflow's client count: what the
//! database can commit and the broker can confirm when nothing else is in the way.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Confirmation};

/// Accounts the UPDATE picks from, as pgbench's smallest scale has.
const ACCOUNTS: i32 = 100_000;

/// A cheap, seedable pseudo-random account id (xorshift): no rand in the hot loop's way.
fn next_account(state: &mut u64) -> i32 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % ACCOUNTS as u64) as i32 + 1
}

/// Commits per second of `BEGIN; UPDATE bench_accounts SET n = n + 1 WHERE id = $1; INSERT
/// INTO bench_history …; COMMIT` from `clients` connections for `seconds`, on `url`.
pub async fn postgres(url: &str, clients: usize, seconds: f64) -> anyhow::Result<f64> {
    let setup = crate::setup::pg_connect(url).await?;
    setup
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_accounts, bench_history;
             CREATE TABLE bench_accounts (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
             CREATE TABLE bench_history (id bigserial PRIMARY KEY, account int NOT NULL,
                                         delta int NOT NULL, at timestamptz NOT NULL);
             INSERT INTO bench_accounts (id) SELECT generate_series(1, {ACCOUNTS});"
        ))
        .await
        .context("creating the raw benchmark's tables")?;
    // Alone: a multi-statement batch is one transaction, and VACUUM refuses to run in one.
    setup
        .batch_execute("VACUUM ANALYZE bench_accounts")
        .await
        .context("vacuuming the raw benchmark's accounts")?;
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        let mut client = crate::setup::pg_connect(url).await?;
        let (stop, commits) = (stop.clone(), commits.clone());
        tasks.spawn(async move {
            let update = client
                .prepare("UPDATE bench_accounts SET n = n + 1 WHERE id = $1")
                .await?;
            let insert = client
                .prepare("INSERT INTO bench_history (account, delta, at) VALUES ($1, 1, now())")
                .await?;
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ (i as u64 + 1);
            while !stop.load(Ordering::Relaxed) {
                let id = next_account(&mut seed);
                let tx = client.transaction().await?;
                tx.execute(&update, &[&id]).await?;
                tx.execute(&insert, &[&id]).await?;
                tx.commit().await?;
                commits.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, tokio_postgres::Error>(())
        });
    }
    let rate = measure(&commits, &stop, seconds).await;
    while let Some(done) = tasks.join_next().await {
        done.context("raw PostgreSQL client")?
            .context("raw PostgreSQL transaction")?;
    }
    setup
        .batch_execute("DROP TABLE bench_accounts, bench_history")
        .await
        .context("dropping the raw benchmark's tables")?;
    Ok(rate)
}

/// Counts from now for `seconds`, then stops the workers: the rate over that span.
async fn measure(count: &AtomicU64, stop: &AtomicBool, seconds: f64) -> f64 {
    // A short warm-up so connection set-up and first plans are not in the number.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (from, started) = (count.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let rate = (count.load(Ordering::Relaxed) - from) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    rate
}

/// Confirmed persistent publishes per second to a quorum queue `queue`, from `publishers`
/// channels each waiting for its confirm before the next publish (so `publishers` confirms
/// are outstanding); the queue is deleted afterwards.
pub async fn rabbitmq(
    url: &str,
    queue: &str,
    publishers: usize,
    seconds: f64,
) -> anyhow::Result<f64> {
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .context("connecting to RabbitMQ")?;
    let setup = conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    setup
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await
        .context("declaring the raw benchmark's quorum queue")?;
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let body = vec![b'x'; 512];
    for _ in 0..publishers {
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let (stop, confirmed, body, queue) = (
            stop.clone(),
            confirmed.clone(),
            body.clone(),
            queue.to_owned(),
        );
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let confirm = channel
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        &body,
                        BasicProperties::default().with_delivery_mode(2),
                    )
                    .await?
                    .await?;
                if matches!(confirm, Confirmation::Ack(_)) {
                    confirmed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<_, lapin::Error>(())
        });
    }
    let rate = measure(&confirmed, &stop, seconds).await;
    while let Some(done) = tasks.join_next().await {
        done.context("raw RabbitMQ publisher")?
            .context("raw RabbitMQ publish")?;
    }
    setup
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .context("deleting the raw benchmark's queue")?;
    let _ = conn.close(200, "bench done".into()).await;
    Ok(rate)
}

/// Commits per second of the same transaction on an SQLite file in WAL mode (the pragmas
/// Jinguo's store sets), from `clients` threads with a connection each.
pub async fn sqlite(path: &Path, clients: usize, seconds: f64) -> anyhow::Result<f64> {
    let url = path.to_string_lossy().into_owned();
    let open = move |url: &str| -> anyhow::Result<SqliteConnection> {
        let mut c = SqliteConnection::establish(url).context("opening the raw SQLite file")?;
        c.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
        )?;
        Ok(c)
    };
    let mut setup = open(&url)?;
    setup
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_accounts; DROP TABLE IF EXISTS bench_history;
             CREATE TABLE bench_accounts (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE bench_history (id INTEGER PRIMARY KEY AUTOINCREMENT,
                                         account INTEGER NOT NULL, delta INTEGER NOT NULL,
                                         at TEXT NOT NULL);
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ACCOUNTS})
             INSERT INTO bench_accounts (id) SELECT i FROM s;"
        ))
        .context("creating the raw SQLite tables")?;
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for i in 0..clients {
        let mut c = open(&url)?;
        let (stop, commits) = (stop.clone(), commits.clone());
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ (i as u64 + 1);
            while !stop.load(Ordering::Relaxed) {
                let id = next_account(&mut seed);
                // IMMEDIATE, as a writer that knows it will write: no upgrade deadlocks.
                c.batch_execute("BEGIN IMMEDIATE")?;
                diesel::sql_query("UPDATE bench_accounts SET n = n + 1 WHERE id = ?")
                    .bind::<Integer, _>(id)
                    .execute(&mut c)?;
                diesel::sql_query(
                    "INSERT INTO bench_history (account, delta, at) VALUES (?, 1, datetime('now'))",
                )
                .bind::<Integer, _>(id)
                .execute(&mut c)?;
                c.batch_execute("COMMIT")?;
                commits.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let rate = measure(&commits, &stop, seconds).await;
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a raw SQLite thread panicked"))?
            .context("raw SQLite transaction")?;
    }
    Ok(rate)
}
