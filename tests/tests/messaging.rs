//! The messaging engine against the real RabbitMQ and PostgreSQL, and on the embedded path
//! (in-process bus over SQLite): nothing lost, nothing doubled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use jinguo_bus::{Envelope, Handler, HandlerError, Worker};
use jinguo_store::{BoxFuture, Conn, Store, StoreError, dead_letters, on_backend, outbox, timers};
use jinguo_tests::{Backend, Contents, Proxy, TestBus, TestDb, Transport, amqp_url, eventually};

const WAIT: Duration = Duration::from_secs(60);

/// Records each handled message in `test_effects`; fails on demand.
struct Recorder {
    /// Fail attempts 1..=fail_first of every message.
    fail_first: u32,
    /// Fail every attempt while set.
    broken: Arc<AtomicBool>,
    /// Fail permanently (bad payload) while set.
    permanent: bool,
    /// Called inside the transaction, after the effect is written (before commit and ack).
    on_effect: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Recorder {
    fn ok() -> Recorder {
        Recorder {
            fail_first: 0,
            broken: Arc::new(AtomicBool::new(false)),
            permanent: false,
            on_effect: None,
        }
    }
}

impl Handler for Recorder {
    fn handle<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        message: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if self.permanent {
                return Err(HandlerError::permanent("payload can never be handled"));
            }
            if AtomicBool::load(&self.broken, Ordering::SeqCst) {
                return Err(HandlerError::transient("dependency down"));
            }
            if message.attempt <= self.fail_first {
                return Err(HandlerError::transient(format!(
                    "flaky on attempt {}",
                    message.attempt
                )));
            }
            let insert = diesel::sql_query("INSERT INTO test_effects (message_id) VALUES ($1)")
                .bind::<diesel::sql_types::Text, _>(message.id.to_string());
            on_backend!(conn, |c| insert.execute(c).await).map_err(StoreError::from)?;
            if let Some(hook) = &self.on_effect {
                hook();
            }
            Ok(())
        })
    }
}

fn worker(recorder: Recorder) -> Worker {
    Worker {
        name: "recorder".into(),
        bindings: vec!["test.#".into()],
        handler: Arc::new(recorder),
    }
}

/// A database with the `test_effects` table the recorder writes to.
async fn database(transport: Transport) -> TestDb {
    let backend = match transport {
        Transport::RabbitMq => Backend::Postgres,
        Transport::InProcess => Backend::Sqlite,
    };
    let db = TestDb::new(backend, Contents::Empty).await;
    let store = db.store().await;
    store
        .read(|c| {
            Box::pin(async move {
                let create =
                    diesel::sql_query("CREATE TABLE test_effects (message_id TEXT NOT NULL)");
                on_backend!(c, |c| create.execute(c).await).map_err(StoreError::from)
            })
        })
        .await
        .unwrap();
    db
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    total: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    distinct_messages: i64,
}

/// (effects, distinct messages with an effect)
async fn effects(store: &Store) -> (i64, i64) {
    store
        .read(|c| {
            Box::pin(async move {
                let q = diesel::sql_query(
                    "SELECT count(*) AS total, count(DISTINCT message_id) AS distinct_messages FROM test_effects",
                );
                let counts: Counts = on_backend!(c, |c| q.get_result(c).await).map_err(StoreError::from)?;
                Ok::<_, StoreError>((counts.total, counts.distinct_messages))
            })
        })
        .await
        .unwrap()
}

async fn publish(store: &Store, messages: Vec<Envelope>) {
    store
        .transaction(move |c| {
            Box::pin(async move { outbox::push(c, &messages, jinguo_bus::now()).await })
        })
        .await
        .unwrap();
}

async fn wait_for_effects(store: &Store, n: i64) {
    eventually(&format!("{n} effects"), WAIT, || async {
        let (total, _) = effects(store).await;
        (total >= n).then_some(())
    })
    .await;
}

async fn dead(store: &Store) -> Vec<dead_letters::DeadLetter> {
    store
        .read(|c| Box::pin(dead_letters::list(c, false)))
        .await
        .unwrap()
}

async fn fails_twice_then_succeeds_with_one_effect(transport: Transport) {
    let db = database(transport).await;
    let recorder = Recorder {
        fail_first: 2,
        ..Recorder::ok()
    };
    let bus = TestBus::start(
        &db,
        transport,
        vec![worker(recorder)],
        &[("JINGUO_MESSAGING__RETRY_DELAYS", "100ms,200ms,15s")],
    )
    .await;
    publish(
        &bus.bus.store,
        vec![jinguo_bus::message(
            "test.flaky",
            serde_json::json!({"n": 1}),
        )],
    )
    .await;
    wait_for_effects(&bus.bus.store, 1).await;
    jinguo_tests::settle(&bus.bus.store).await;
    assert_eq!(effects(&bus.bus.store).await, (1, 1));
    assert!(dead(&bus.bus.store).await.is_empty());
}

async fn always_failing_ends_dead_and_replay_brings_it_back(transport: Transport) {
    let db = database(transport).await;
    let broken = Arc::new(AtomicBool::new(true));
    let recorder = Recorder {
        broken: broken.clone(),
        ..Recorder::ok()
    };
    let bus = TestBus::start(
        &db,
        transport,
        vec![worker(recorder)],
        &[("JINGUO_MESSAGING__RETRY_DELAYS", "100ms,100ms")],
    )
    .await;
    let message = jinguo_bus::message("test.doomed", serde_json::json!({"n": 2}));
    publish(&bus.bus.store, vec![message.clone()]).await;

    let letters = jinguo_tests::dead_letters_eventually(&bus.bus.store).await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.envelope.id, message.id);
    assert_eq!(letter.consumer, "recorder");
    assert_eq!(
        letter.envelope.attempt, 3,
        "the configured attempts: 1 + two retries"
    );
    let history: Vec<u32> = letter.envelope.failures.iter().map(|f| f.attempt).collect();
    assert_eq!(history, [1, 2, 3]);
    assert_eq!(letter.error, "dependency down");
    assert_eq!(effects(&bus.bus.store).await, (0, 0));

    broken.store(false, Ordering::SeqCst);
    jinguo_bus::dlq::replay(&bus.bus, letter.id).await.unwrap();
    wait_for_effects(&bus.bus.store, 1).await;
    assert!(matches!(
        jinguo_bus::dlq::replay(&bus.bus, letter.id).await,
        Err(jinguo_bus::dlq::ReplayError::AlreadyReplayed(_))
    ));
    jinguo_tests::settle(&bus.bus.store).await;
    assert_eq!(effects(&bus.bus.store).await, (1, 1));
}

async fn permanent_failure_is_dead_at_once(transport: Transport) {
    let db = database(transport).await;
    let recorder = Recorder {
        permanent: true,
        ..Recorder::ok()
    };
    let bus = TestBus::start(&db, transport, vec![worker(recorder)], &[]).await;
    publish(
        &bus.bus.store,
        vec![jinguo_bus::message("test.bad", serde_json::json!({}))],
    )
    .await;
    let letters = jinguo_tests::dead_letters_eventually(&bus.bus.store).await;
    assert_eq!(
        letters[0].envelope.attempt, 1,
        "no retries for a permanent failure"
    );
}

async fn same_message_twice_has_one_effect(transport: Transport) {
    let db = database(transport).await;
    let bus = TestBus::start(&db, transport, vec![worker(Recorder::ok())], &[]).await;
    let message = jinguo_bus::message("test.twice", serde_json::json!({}));
    publish(&bus.bus.store, vec![message.clone(), message.clone()]).await;
    publish(&bus.bus.store, vec![message]).await;
    wait_for_effects(&bus.bus.store, 1).await;
    jinguo_tests::settle(&bus.bus.store).await;
    assert_eq!(effects(&bus.bus.store).await, (1, 1));
}

async fn unroutable_message_stays_in_outbox_and_is_reported(transport: Transport) {
    let db = database(transport).await;
    // A consumer exists, but nothing is bound to this kind.
    let bus = TestBus::start(&db, transport, vec![worker(Recorder::ok())], &[]).await;
    publish(
        &bus.bus.store,
        vec![jinguo_bus::message("nobody.listens", serde_json::json!({}))],
    )
    .await;
    let row = eventually("a failed publish", WAIT, || async {
        let unsent = bus
            .bus
            .store
            .read(|c| Box::pin(outbox::unsent(c)))
            .await
            .unwrap();
        unsent.into_iter().find(|u| u.publish_attempts > 0)
    })
    .await;
    assert_eq!(row.kind, "nobody.listens");
    let error = row.last_error.unwrap();
    assert!(error.starts_with("unroutable"), "{error}");
}

async fn timer_fires_once_with_two_schedulers(transport: Transport) {
    let db = database(transport).await;
    let bus = TestBus::start(&db, transport, vec![worker(Recorder::ok())], &[]).await;
    let _second = bus.spawn_service("reminders");
    let message = jinguo_bus::message("test.reminder", serde_json::json!({"nomination": 7}));
    let due = jinguo_bus::now() + chrono::Duration::seconds(2);
    let m = message.clone();
    let scheduled = bus
        .bus
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let first =
                    timers::schedule(c, "reminder:7", due, None, &m, jinguo_bus::now()).await?;
                // Scheduling the same key again changes nothing.
                let again =
                    timers::schedule(c, "reminder:7", due, None, &m, jinguo_bus::now()).await?;
                Ok::<_, StoreError>((first, again))
            })
        })
        .await
        .unwrap();
    assert_eq!(scheduled, (true, false));
    wait_for_effects(&bus.bus.store, 1).await;
    jinguo_tests::settle(&bus.bus.store).await;
    assert_eq!(effects(&bus.bus.store).await, (1, 1));
    let fired = outbox_rows_for(&bus.bus.store, message.id).await;
    assert_eq!(fired, 1, "the timer became exactly one outbox message");
    let left = bus
        .bus
        .store
        .read(|c| Box::pin(timers::get(c, "reminder:7")))
        .await
        .unwrap();
    assert!(left.is_none());
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn outbox_rows_for(store: &Store, id: uuid::Uuid) -> i64 {
    store
        .read(|c| {
            Box::pin(async move {
                let q = diesel::sql_query("SELECT count(*) AS n FROM outbox WHERE message_id = $1")
                    .bind::<diesel::sql_types::Text, _>(id.to_string());
                let c: Count =
                    on_backend!(c, |c| q.get_result(c).await).map_err(StoreError::from)?;
                Ok::<_, StoreError>(c.n)
            })
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn consumer_cut_after_commit_before_ack_loses_and_doubles_nothing() {
    let db = database(Transport::RabbitMq).await;
    let proxy = Arc::new(Proxy::start("127.0.0.1:5672").await);
    let url = proxy.rewrite(&amqp_url());
    // The first effect cuts the broker connection while its transaction is about to commit:
    // the commit happens, the ack cannot.
    let cuts = Arc::new(AtomicU32::new(0));
    let hook = {
        let (proxy, cuts) = (proxy.clone(), cuts.clone());
        Arc::new(move || {
            if cuts.fetch_add(1, Ordering::SeqCst) == 0 {
                proxy.cut();
                let proxy = proxy.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    proxy.restore();
                });
            }
        }) as Arc<dyn Fn() + Send + Sync>
    };
    let recorder = Recorder {
        on_effect: Some(hook),
        ..Recorder::ok()
    };
    let mut bus = TestBus::build(
        &db,
        Some(&url),
        vec![worker(recorder)],
        db.store().await,
        &[],
    );
    bus.start_services();
    let messages: Vec<Envelope> = (0..20)
        .map(|i| jinguo_bus::message("test.cut", serde_json::json!({ "i": i })))
        .collect();
    publish(&bus.bus.store, messages).await;
    wait_for_effects(&bus.bus.store, 20).await;
    jinguo_tests::settle(&bus.bus.store).await;
    // Every message had its effect once, the one whose ack was cut included: its redelivery
    // found the inbox row and did nothing.
    assert_eq!(
        AtomicU32::load(&cuts, Ordering::SeqCst),
        20,
        "the handler ran once per message"
    );
    assert_eq!(effects(&bus.bus.store).await, (20, 20));
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn thousand_messages_survive_proxy_cuts_exactly_once() {
    let db = database(Transport::RabbitMq).await;
    let proxy = Proxy::start("127.0.0.1:5672").await;
    let url = proxy.rewrite(&amqp_url());
    let mut bus = TestBus::build(
        &db,
        Some(&url),
        vec![worker(Recorder::ok())],
        db.store().await,
        &[],
    );
    bus.start_services();
    stream_thousand(&bus, async |chunk| {
        if chunk % 3 == 1 {
            proxy.cut();
            tokio::time::sleep(Duration::from_millis(300)).await;
            proxy.restore();
        }
    })
    .await;
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn thousand_messages_survive_rabbitmqctl_close_connection_exactly_once() {
    let db = database(Transport::RabbitMq).await;
    let mut bus = TestBus::build(
        &db,
        Some(&amqp_url()),
        vec![worker(Recorder::ok())],
        db.store().await,
        &[],
    );
    bus.start_services();
    let prefix = bus.prefix.clone();
    stream_thousand(&bus, async |chunk| {
        if chunk == 3 || chunk == 7 {
            let closed = close_connections(&prefix).await;
            assert!(closed > 0, "found this test's connections to close");
        }
    })
    .await;
    bus.stop().await;
}

/// Publishes 1,000 messages in ten transactions, calling `between` after each, then asserts
/// every one was handled exactly once.
async fn stream_thousand(bus: &TestBus, mut between: impl AsyncFnMut(usize)) {
    for chunk in 0..10 {
        let messages: Vec<Envelope> = (0..100)
            .map(|i| {
                jinguo_bus::message("test.stream", serde_json::json!({ "i": chunk * 100 + i }))
            })
            .collect();
        publish(&bus.bus.store, messages).await;
        between(chunk).await;
    }
    eventually(
        "1,000 distinct effects",
        Duration::from_secs(180),
        || async {
            let (_, distinct) = effects(&bus.bus.store).await;
            (distinct >= 1000).then_some(())
        },
    )
    .await;
    jinguo_tests::settle(&bus.bus.store).await;
    assert_eq!(effects(&bus.bus.store).await, (1000, 1000));
}

/// Closes, from the broker's side, every connection whose name carries `prefix`.
async fn close_connections(prefix: &str) -> usize {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .await
        .expect("rabbitmqctl is installed with RabbitMQ");
    let listing = String::from_utf8_lossy(&out.stdout);
    let pids: Vec<String> = listing
        .lines()
        .filter(|l| l.contains(prefix))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    for pid in &pids {
        let status = tokio::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "closed by test"])
            .output()
            .await
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    pids.len()
}

jinguo_tests::on_both_transports!(
    fails_twice_then_succeeds_with_one_effect,
    always_failing_ends_dead_and_replay_brings_it_back,
    permanent_failure_is_dead_at_once,
    same_message_twice_has_one_effect,
    unroutable_message_stays_in_outbox_and_is_reported,
    timer_fires_once_with_two_schedulers,
);

#[tokio::test(flavor = "multi_thread")]
async fn messages_rabbitmq_dead_letters_are_drained_into_the_table() {
    use lapin::options::BasicPublishOptions;
    use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString};

    let db = database(Transport::RabbitMq).await;
    let bus = TestBus::start(&db, Transport::RabbitMq, vec![worker(Recorder::ok())], &[]).await;
    // Wait until the services have declared the topology.
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let dead_exchange = format!("{}.dead", bus.prefix);
    eventually("the dead-letter drain consuming", WAIT, || async {
        let probe = conn.create_channel().await.ok()?;
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let queue = probe
            .queue_declare(dead_exchange.clone().into(), passive, FieldTable::default())
            .await
            .ok()?;
        (queue.consumer_count() > 0).then_some(())
    })
    .await;
    // What RabbitMQ sends after x-delivery-limit: the message with an x-death header.
    let mut death = FieldTable::default();
    death.insert(
        "queue".into(),
        AMQPValue::LongString(LongString::from(format!("{}.recorder", bus.prefix))),
    );
    death.insert(
        "reason".into(),
        AMQPValue::LongString(LongString::from("delivery_limit")),
    );
    let mut headers = FieldTable::default();
    headers.insert(
        "x-death".into(),
        AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
    );
    let message = jinguo_bus::message("test.crashloop", serde_json::json!({}));
    channel
        .basic_publish(
            dead_exchange.into(),
            "".into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&message).unwrap(),
            lapin::BasicProperties::default().with_headers(headers),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let letters = jinguo_tests::dead_letters_eventually(&bus.bus.store).await;
    assert_eq!(letters[0].envelope.id, message.id);
    assert_eq!(letters[0].consumer, "recorder");
    assert_eq!(
        letters[0].error,
        "dead-lettered by RabbitMQ: delivery_limit"
    );
    let _ = conn.close(200, "done".into()).await;
}
