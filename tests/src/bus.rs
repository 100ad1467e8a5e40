//! The bus under test: a unique `amqp.prefix` per test (queues deleted afterwards), either
//! transport, services running in this process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jinguo_bus::{Bus, CancellationToken, Worker};
use jinguo_store::Store;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};

use crate::{TestDb, amqp_url, test_config};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    RabbitMq,
    InProcess,
}

/// A bus over a test database with its services running until dropped.
pub struct TestBus {
    pub bus: Bus,
    pub prefix: String,
    shutdown: CancellationToken,
    services: Option<tokio::task::JoinHandle<()>>,
}

/// A prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("jt{}", jinguo_bus::new_id().simple())
}

impl TestBus {
    /// Builds the bus (not started): `amqp_url` `None` for the in-process transport.
    pub fn build(
        db: &TestDb,
        amqp: Option<&str>,
        workers: Vec<Worker>,
        store: Store,
        extra: &[(&str, &str)],
    ) -> TestBus {
        crate::init_test_logging();
        let prefix = unique_prefix();
        let mut env = vec![
            ("JINGUO_AMQP__PREFIX", prefix.as_str()),
            ("JINGUO_MESSAGING__POLL_INTERVAL_MS", "50"),
        ];
        if let Some(url) = amqp {
            env.push(("JINGUO_AMQP__URL", url));
        }
        env.extend_from_slice(extra);
        let config = Arc::new(test_config(db, &env));
        TestBus {
            bus: Bus {
                store,
                workers: Arc::new(workers),
                calendar: Arc::new(config.calendar.load().expect("built-in calendar")),
                config,
            },
            prefix,
            shutdown: CancellationToken::new(),
            services: None,
        }
    }

    /// Builds and starts every service (relay, scheduler, dead-letter drain, workers).
    pub async fn start(
        db: &TestDb,
        transport: Transport,
        workers: Vec<Worker>,
        extra: &[(&str, &str)],
    ) -> TestBus {
        let url = amqp_url();
        let amqp = (transport == Transport::RabbitMq).then_some(url.as_str());
        let mut bus = TestBus::build(db, amqp, workers, db.store().await, extra);
        bus.start_services();
        bus
    }

    pub fn start_services(&mut self) {
        let (bus, shutdown) = (self.bus.clone(), self.shutdown.clone());
        self.services = Some(tokio::spawn(jinguo_bus::services::run_all(bus, shutdown)));
    }

    /// Runs one more instance of `service` (a second scheduler, a second consumer).
    pub fn spawn_service(&self, service: &'static str) -> tokio::task::JoinHandle<()> {
        let (bus, shutdown) = (self.bus.clone(), self.shutdown.clone());
        tokio::spawn(async move {
            jinguo_bus::services::run(bus, service, shutdown)
                .await
                .expect("known service");
        })
    }

    /// Stops the services, letting them finish what is in flight.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(s) = self.services.take() {
            let _ = s.await;
        }
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if self.bus.config.amqp.url.is_none() {
            return;
        }
        let names = jinguo_bus::rabbit::Names {
            prefix: self.prefix.clone(),
        };
        let queues = jinguo_bus::rabbit::declared_queues(&self.bus.config, &self.bus.workers);
        delete_broker_names(queues, vec![names.exchange(), names.dead()]);
    }
}

/// Deletes what a `jinguo` process run under `config`'s prefix declared: every queue of the
/// deployment and both exchanges.
pub fn delete_deployment_names(config: &jinguo_config::Config) {
    let names = jinguo_bus::rabbit::Names {
        prefix: config.amqp.prefix.clone(),
    };
    let queues = jinguo::declared_queues(config).expect("the deployment's workers");
    delete_broker_names(queues, vec![names.exchange(), names.dead()]);
}

/// Deletes queues and exchanges a test declared, talking to RabbitMQ directly (not through a
/// test's proxy), from a thread of its own so `Drop` can use it.
pub fn delete_broker_names(queues: Vec<String>, exchanges: Vec<String>) {
    let direct = amqp_url();
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let Ok(conn) =
                lapin::Connection::connect(&direct, lapin::ConnectionProperties::default()).await
            else {
                return;
            };
            if let Ok(ch) = conn.create_channel().await {
                for q in queues {
                    let _ = ch
                        .queue_delete(q.into(), QueueDeleteOptions::default())
                        .await;
                }
                for e in exchanges {
                    let _ = ch
                        .exchange_delete(e.into(), ExchangeDeleteOptions::default())
                        .await;
                }
            }
            let _ = conn.close(200, "test cleanup".into()).await;
        });
    })
    .join();
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `limit` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the outbox is drained, then a little longer, so that any stray redelivery has
/// arrived before a test asserts it had no effect.
pub async fn settle(store: &Store) {
    eventually("outbox drained", Duration::from_secs(60), || async {
        let unsent = store
            .read(|c| Box::pin(jinguo_store::outbox::unsent(c)))
            .await
            .unwrap();
        unsent.is_empty().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// Waits for the first dead letters and returns them, newest first.
pub async fn dead_letters_eventually(store: &Store) -> Vec<jinguo_store::dead_letters::DeadLetter> {
    eventually("a dead letter", Duration::from_secs(60), || async {
        let d = store
            .read(|c| Box::pin(jinguo_store::dead_letters::list(c, false)))
            .await
            .unwrap();
        (!d.is_empty()).then_some(d)
    })
    .await
}
