//! A fault on our side is not the caller's problem: PostgreSQL connections killed mid-flow cost
//! the caller at worst a 503 with `Retry-After` (never a 500), lose nothing and double nothing;
//! a graceful stop logs no ERROR.
//!
//! Connection faults are PostgreSQL's: SQLite is a file in the same process, there is no
//! connection to lose (its transactions are covered by `store.rs`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use jinguo_store::{StoreError, on_backend};
use jinguo_tests::{
    Backend, Contents, JinguoProcess, Proxy, TestApp, TestDb, add_staff, amqp_url, api_token,
    delete_deployment_names, eventually, postgres_admin_url, unique_prefix,
};
use tokio::sync::Notify;

/// The database's name, from its URL.
fn database_name(db: &TestDb) -> String {
    let url = db.url();
    let last = url.rsplit('/').next().unwrap_or_default();
    last.split('?').next().unwrap_or_default().to_owned()
}

async fn admin_connection() -> AsyncPgConnection {
    AsyncPgConnection::establish(&postgres_admin_url())
        .await
        .expect("admin connection to PostgreSQL")
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Terminates every backend of `database` — the whole pool of whoever uses it — as an operator,
/// a failover or a crash would, and waits until they are gone. Returns how many there were.
async fn kill_every_connection(admin: &mut AsyncPgConnection, database: &str) -> i64 {
    // The victims are chosen first (MATERIALIZED), so that the planner cannot run the kill
    // before the filter on the database.
    diesel::sql_query(
        "WITH victims AS MATERIALIZED (SELECT pid FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()) \
         SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) AS n FROM victims",
    )
    .bind::<Text, _>(database)
    .get_result::<Count>(admin)
    .await
    .expect("pg_terminate_backend")
    .n
}

#[derive(QueryableByName)]
struct Effect {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_whose_connection_is_killed_before_commit_runs_again_and_commits_once() {
    let db = TestDb::new(Backend::Postgres, Contents::Empty).await;
    let store = db.store().await;
    store
        .transaction(|c| {
            Box::pin(async move {
                on_backend!(c, |c| c
                    .batch_execute("CREATE TABLE resilience_effects (id TEXT PRIMARY KEY)")
                    .await)
                .map_err(StoreError::from)
            })
        })
        .await
        .unwrap();

    let attempts = Arc::new(AtomicU32::new(0));
    let seen = attempts.clone();
    let outcome = store
        .transaction(move |c| {
            let attempts = seen.clone();
            Box::pin(async move {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                let insert = |id: &'static str| {
                    diesel::sql_query("INSERT INTO resilience_effects (id) VALUES ($1)")
                        .bind::<Text, _>(id)
                };
                on_backend!(c, |c| insert("before the kill").execute(c).await)?;
                if attempt == 1 {
                    // Our own backend is terminated from outside, mid-transaction.
                    let pid =
                        on_backend!(c, |c| diesel::sql_query("SELECT pg_backend_pid() AS pid")
                            .get_result::<Pid>(c)
                            .await)?
                        .pid;
                    let mut admin = admin_connection().await;
                    diesel::sql_query("SELECT pg_terminate_backend($1, 10000)")
                        .bind::<Integer, _>(pid)
                        .execute(&mut admin)
                        .await
                        .expect("pg_terminate_backend");
                }
                on_backend!(c, |c| insert("after the kill").execute(c).await)?;
                Ok::<_, StoreError>(attempt)
            })
        })
        .await;

    assert_eq!(
        outcome.expect("the retry on a fresh connection commits"),
        2,
        "the first attempt lost its connection, the second committed"
    );
    assert_eq!(AtomicU32::load(&attempts, Ordering::SeqCst), 2);
    let rows = store
        .read(|c| {
            Box::pin(async move {
                let q = diesel::sql_query("SELECT id FROM resilience_effects ORDER BY id");
                on_backend!(c, |c| q.load::<Effect>(c).await).map_err(StoreError::from)
            })
        })
        .await
        .unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["after the kill", "before the kill"],
        "only the second attempt's writes, once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_killed_behind_the_pools_back_are_never_handed_out() {
    let db = TestDb::new(Backend::Postgres, Contents::Gansu).await;
    let store = db.store().await;
    // Fill the pool with idle connections, then kill them all while nobody uses them.
    let mut readers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        readers.push(tokio::spawn(async move { store.ping().await }));
    }
    for r in readers {
        r.await.unwrap().unwrap();
    }
    let mut admin = admin_connection().await;
    assert!(kill_every_connection(&mut admin, &database_name(&db)).await > 0);

    store
        .ping()
        .await
        .expect("a read after the kill gets a live connection");
    let count = store
        .transaction(|c| {
            Box::pin(async move {
                let q = diesel::sql_query("SELECT count(*) AS n FROM orgs");
                on_backend!(c, |c| q.get_result::<Count>(c).await).map_err(StoreError::from)
            })
        })
        .await
        .expect("a transaction after the kill gets a live connection");
    assert!(count.n > 0);
}

/// One answer of the API, as the test saw it.
struct Answer {
    email: String,
    status: u16,
    retry_after: Option<String>,
    body: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_every_connection_while_staff_are_added_answers_503_at_worst_and_loses_nothing() {
    const REQUESTS: usize = 300;
    const CLIENTS: usize = 8;
    const KILL_EVERY: usize = 8;

    jinguo_tests::init_test_logging();
    let app = TestApp::spawn(Backend::Postgres).await;
    let admin = add_staff(
        &app.store,
        "admin.resilience@example.cn",
        "管理员",
        "admin",
        "620122",
    )
    .await;
    let token = api_token(&app.store, admin).await;
    let database = database_name(&app.db);

    let next = Arc::new(AtomicU32::new(0));
    let answered = Arc::new(Notify::new());
    let done = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(std::sync::Mutex::new(Vec::<Answer>::new()));

    // The killer: every KILL_EVERY answers, with CLIENTS requests always in flight, kill the
    // whole pool.
    let killer = {
        let (answers, answered, done) = (answers.clone(), answered.clone(), done.clone());
        tokio::spawn(async move {
            let mut admin = admin_connection().await;
            let (mut kills, mut killed) = (0u32, 0i64);
            let mut at = KILL_EVERY;
            while !AtomicBool::load(&done, Ordering::SeqCst) {
                let notified = answered.notified();
                if answers.lock().unwrap().len() >= at {
                    killed += kill_every_connection(&mut admin, &database).await;
                    kills += 1;
                    at += KILL_EVERY;
                    continue;
                }
                notified.await;
            }
            (kills, killed)
        })
    };

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (next, answered, answers) = (next.clone(), answered.clone(), answers.clone());
        let (client, url, token) = (
            app.client.clone(),
            format!("{}/api/v1/staff", app.base_url),
            token.clone(),
        );
        clients.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                if i >= REQUESTS {
                    return;
                }
                let email = format!("resilience-{i}@example.cn");
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&serde_json::json!({
                        "email": email, "name": "测试员", "role": "reviewer", "org": "620122"
                    }))
                    .send()
                    .await
                    .expect("the server answers");
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .map(|v| v.to_str().unwrap_or_default().to_owned());
                let body = response.text().await.unwrap_or_default();
                answers.lock().unwrap().push(Answer {
                    email,
                    status,
                    retry_after,
                    body,
                });
                answered.notify_one();
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    answered.notify_one();
    let (kills, killed) = killer.await.unwrap();
    assert!(
        kills > 0 && killed > 0,
        "the test killed no connection ({kills} rounds)"
    );

    let answers = std::mem::take(&mut *answers.lock().unwrap());
    assert_eq!(answers.len(), REQUESTS);
    let mut ok = BTreeSet::new();
    let mut unavailable = BTreeSet::new();
    for a in &answers {
        match a.status {
            200..=299 => {
                ok.insert(a.email.clone());
            }
            503 => {
                assert!(
                    a.retry_after.is_some(),
                    "503 without Retry-After for {}",
                    a.email
                );
                let body: serde_json::Value = serde_json::from_str(&a.body).unwrap();
                assert_eq!(body["error"]["code"], "unavailable", "{}", a.body);
                assert!(body["error"]["field"].is_null(), "{}", a.body);
                unavailable.insert(a.email.clone());
            }
            other => panic!(
                "{} answered {other}, expected 2xx or 503: {}",
                a.email, a.body
            ),
        }
    }

    // Count with a store of our own: the app's pool was the one being killed.
    let store = app.db.store().await;
    let stored: Vec<String> = store
        .read(|c| {
            Box::pin(async move {
                #[derive(QueryableByName)]
                struct Email {
                    #[diesel(sql_type = Text)]
                    email: String,
                }
                let q = diesel::sql_query(
                    "SELECT email FROM people WHERE email LIKE 'resilience-%@example.cn'",
                );
                on_backend!(c, |c| q.load::<Email>(c).await).map_err(StoreError::from)
            })
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.email)
        .collect();
    let stored_set: BTreeSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "a staff member was doubled");
    let lost: Vec<_> = ok.difference(&stored_set).collect();
    assert!(lost.is_empty(), "answered 2xx but not stored: {lost:?}");
    // A row without a 2xx can only be a 503 whose connection died during COMMIT after the
    // commit happened (the documented ambiguity, `StoreError::CommitUncertain`).
    let unexplained: Vec<_> = stored_set
        .iter()
        .filter(|e| !ok.contains(*e) && !unavailable.contains(*e))
        .collect();
    assert!(
        unexplained.is_empty(),
        "stored without being asked for: {unexplained:?}"
    );
    let committed_but_503 = stored_set.intersection(&unavailable).count();
    assert_eq!(
        stored_set.len(),
        ok.len() + committed_but_503,
        "rows = 2xx answers (+ commits whose answer was lost)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_out_of_reach_answers_503_with_retry_after_then_recovers() {
    let db = TestDb::new(Backend::Postgres, Contents::Gansu).await;
    let direct = db.store().await;
    let admin = add_staff(
        &direct,
        "admin.reach@example.cn",
        "管理员",
        "admin",
        "620122",
    )
    .await;
    let token = api_token(&direct, admin).await;
    let server = {
        let u = url::Url::parse(&db.url()).unwrap();
        format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432))
    };
    let proxy = Proxy::start(&server).await;
    // The app reaches this database only through the proxy (its own fresh database is unused).
    let proxied = proxy.rewrite(&db.url());
    let app = TestApp::spawn_with(
        Backend::Postgres,
        Contents::Empty,
        &[("JINGUO_DATABASE__URL", proxied.as_str())],
    )
    .await;
    let list = format!("{}/api/v1/staff?org=620122", app.base_url);
    let ok = app
        .client
        .get(&list)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    proxy.cut();
    let add = |email: &'static str| {
        app.client
            .post(format!("{}/api/v1/staff", app.base_url))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "email": email, "name": "测试员", "role": "reviewer", "org": "620122"
            }))
            .send()
    };
    for response in [
        app.client
            .get(&list)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        add("while-cut@example.cn").await.unwrap(),
    ] {
        assert_eq!(response.status(), 503);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .expect("a 503 says when to ask again")
            .to_str()
            .unwrap()
            .parse::<u64>()
            .expect("Retry-After in seconds");
        assert!(retry_after >= 1);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(body["error"]["field"].is_null());
    }

    proxy.restore();
    let created = add("after-restore@example.cn").await.unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let emails = direct
        .read(|c| {
            Box::pin(async move {
                let q = diesel::sql_query(
                    "SELECT count(*) AS n FROM people WHERE email IN \
                     ('while-cut@example.cn', 'after-restore@example.cn')",
                );
                on_backend!(c, |c| q.get_result::<Count>(c).await).map_err(StoreError::from)
            })
        })
        .await
        .unwrap();
    assert_eq!(
        emails.n, 1,
        "only the request made after the restore was stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_rabbitmq_stops_with_exit_0_and_no_error_in_the_log() {
    let db = TestDb::new(Backend::Postgres, Contents::Gansu).await;
    let url = db.url();
    let prefix = unique_prefix();
    let amqp = amqp_url();
    let env = [
        ("JINGUO_DATABASE__URL", url.as_str()),
        ("JINGUO_AMQP__URL", amqp.as_str()),
        ("JINGUO_AMQP__PREFIX", prefix.as_str()),
    ];
    let mut jinguo = JinguoProcess::start(&env).await;

    // The same topology the process declares, to know when it is consuming and to clean up.
    let config = jinguo_tests::test_config(&db, &env);
    let workers = jinguo::workers(&config).unwrap();
    let bus = jinguo_bus::Bus {
        store: db.store().await,
        workers: Arc::new(workers),
        calendar: Arc::new(jinguo_config::CalendarConfig::load(&config.calendar).unwrap()),
        config: Arc::new(config),
    };
    let names = jinguo_bus::rabbit::Names {
        prefix: prefix.clone(),
    };
    let mut consumed: Vec<String> = bus.workers.iter().map(|w| names.queue(&w.name)).collect();
    consumed.push(names.dead());

    // Ready: every consumer (and the dead-letter drain) is attached to its queue.
    let broker = lapin::Connection::connect(&amqp, lapin::ConnectionProperties::default())
        .await
        .expect("RabbitMQ");
    eventually(
        "the process consumes every queue",
        Duration::from_secs(60),
        || async {
            for queue in &consumed {
                let channel = broker.create_channel().await.ok()?;
                let q = channel
                    .queue_declare(
                        queue.as_str().into(),
                        lapin::options::QueueDeclareOptions {
                            passive: true,
                            ..Default::default()
                        },
                        lapin::types::FieldTable::default(),
                    )
                    .await
                    .ok()?;
                let _ = channel.close(200, "checked".into()).await;
                if q.consumer_count() == 0 {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    let _ = broker.close(200, "test done".into()).await;

    let status = jinguo.terminate();
    let log = jinguo.log();
    delete_deployment_names(&bus.config);
    assert!(
        status.success(),
        "SIGTERM ends with exit 0, got {status}:\n{log}"
    );
    assert!(log.contains("stopped"), "{log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.is_empty(),
        "a clean stop logged errors:\n{}",
        errors.join("\n")
    );
}
