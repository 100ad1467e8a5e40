//! Messaging throughput beside the raw limits of the same machine, measured in the same run.
//!
//!     cargo run --release -p jinguo-tests --example bench_bus [MESSAGES]
//!
//! Raw limits: PostgreSQL single-row INSERT transactions per second (one client, then the
//! engine's shape: one message = one transaction), RabbitMQ persistent publishes with confirms
//! per second to a quorum queue. Jinguo: messages from outbox commit to handled (relay, inbox,
//! handler transaction, ack) per second, on RabbitMQ + PostgreSQL and on the in-process bus +
//! SQLite.

use std::sync::Arc;
use std::time::Instant;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use jinguo_bus::{Envelope, Handler, HandlerError, Worker};
use jinguo_store::{BoxFuture, Conn, Store, outbox};
use jinguo_tests::{Backend, Contents, TestBus, TestDb, Transport, amqp_url, eventually};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};

struct Count(Arc<std::sync::atomic::AtomicUsize>);

impl Handler for Count {
    fn handle<'a>(
        &'a self,
        _conn: &'a mut Conn<'_>,
        _m: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

async fn raw_postgres(n: usize) -> f64 {
    let db = TestDb::new(Backend::Postgres, Contents::Empty).await;
    let mut c = AsyncPgConnection::establish(&db.url()).await.unwrap();
    c.batch_execute("CREATE TABLE bench (id BIGINT PRIMARY KEY, body TEXT)")
        .await
        .unwrap();
    let t = Instant::now();
    for i in 0..n {
        c.batch_execute(&format!(
            "BEGIN; INSERT INTO bench VALUES ({i}, 'x'); COMMIT;"
        ))
        .await
        .unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

async fn raw_rabbitmq(n: usize) -> f64 {
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = format!("{}.bench", jinguo_tests::unique_prefix());
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(queue.clone().into(), durable, args)
        .await
        .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let body = vec![b'x'; 300];
    let t = Instant::now();
    for chunk in 0..n / 100 {
        let mut confirms = Vec::new();
        for _ in 0..100 {
            let props = lapin::BasicProperties::default().with_delivery_mode(2);
            confirms.push(
                ch.basic_publish(
                    "".into(),
                    queue.clone().into(),
                    BasicPublishOptions::default(),
                    &body,
                    props,
                )
                .await
                .unwrap(),
            );
        }
        for c in confirms {
            c.await.unwrap();
        }
        let _ = chunk;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    ch.queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    rate
}

async fn jinguo(transport: Transport, n: usize) -> f64 {
    let backend = if transport == Transport::RabbitMq {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let db = TestDb::new(backend, Contents::Empty).await;
    let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let worker = Worker {
        name: "bench".into(),
        bindings: vec!["bench.#".into()],
        handler: Arc::new(Count(handled.clone())),
    };
    let mut bus = TestBus::start(
        &db,
        transport,
        vec![worker],
        &[("JINGUO_MESSAGING__POLL_INTERVAL_MS", "20")],
    )
    .await;
    let store: Store = bus.bus.store.clone();
    let t = Instant::now();
    for _ in 0..n / 100 {
        let batch: Vec<Envelope> = (0..100)
            .map(|i| jinguo_bus::message("bench.tick", serde_json::json!({ "i": i })))
            .collect();
        store
            .transaction(move |c| {
                Box::pin(async move { outbox::push(c, &batch, jinguo_bus::now()).await })
            })
            .await
            .unwrap();
    }
    eventually(
        "all handled",
        std::time::Duration::from_secs(600),
        || async { (handled.load(std::sync::atomic::Ordering::SeqCst) >= n).then_some(()) },
    )
    .await;
    let rate = n as f64 / t.elapsed().as_secs_f64();
    bus.stop().await;
    rate
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let n = n.max(100) / 100 * 100;
    println!(
        "messaging throughput, {n} messages, {} cores",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    let pg = raw_postgres(n).await;
    let mq = raw_rabbitmq(n).await;
    println!("  raw PostgreSQL, one INSERT per transaction, 1 client: {pg:>9.0} commits/s");
    println!("  raw RabbitMQ, persistent + confirms, quorum queue:    {mq:>9.0} publishes/s");
    let rabbit = jinguo(Transport::RabbitMq, n).await;
    println!(
        "  jinguo RabbitMQ + PostgreSQL, outbox → handled:       {rabbit:>9.0} msgs/s  ({:.2} of PostgreSQL commits/s, {:.2} of RabbitMQ publishes/s)",
        rabbit / pg,
        rabbit / mq
    );
    let local = jinguo(Transport::InProcess, n).await;
    println!(
        "  jinguo in-process bus + SQLite, outbox → handled:     {local:>9.0} msgs/s  ({:.2} of PostgreSQL commits/s)",
        local / pg
    );
}
