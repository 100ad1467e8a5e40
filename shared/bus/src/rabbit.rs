//! The RabbitMQ transport: topology, the outbox relay with publisher confirms, consumers that
//! acknowledge only after their transaction commits, the dead-letter drain, and a supervisor
//! that rebuilds connection and channels whenever the broker goes away.
//!
//! Names, all under `amqp.prefix` (P):
//! - `P` — durable topic exchange every message is published to, routing key = kind;
//! - `P.<worker>` — durable quorum queue per consuming service, bound by its patterns; its
//!   dead-letter exchange is `P.dead` (at-least-once), `x-delivery-limit` 20 guards crash loops;
//! - `P.<worker>.retry.<ms>ms` — a retry tier: its TTL dead-letters back to `P.<worker>`;
//! - `P.dead` — fanout exchange and queue drained into the `dead_letters` table.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use futures_lite::StreamExt;
use jinguo_core::messaging::{AfterFailure, Envelope};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::task::JoinSet;

use crate::handle::{self, Outcome};
use crate::{Bus, CancellationToken, Worker, now};

/// The longest wait kept in the broker; longer retries are timers in the database.
pub const MAX_BROKER_DELAY: Duration = Duration::from_secs(10);

/// How long a confirm or an acknowledgement may take before the connection is given up as
/// dead: a lost connection must never leave a relay transaction open or a consumer waiting.
const BROKER_TIMEOUT: Duration = Duration::from_secs(15);

/// Awaits a broker operation, turning a hang into an error after [`BROKER_TIMEOUT`].
async fn bounded<T>(what: &str, f: impl Future<Output = lapin::Result<T>>) -> lapin::Result<T> {
    match tokio::time::timeout(BROKER_TIMEOUT, f).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                operation = what,
                "broker did not answer in time; dropping the connection"
            );
            Err(lapin::Error::from(
                lapin::ErrorKind::InvalidConnectionState(lapin::ConnectionState::Error),
            ))
        }
    }
}

/// Queue and exchange names for one prefix.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
}

impl Names {
    pub fn exchange(&self) -> String {
        self.prefix.clone()
    }
    pub fn dead(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    pub fn queue(&self, worker: &str) -> String {
        format!("{}.{worker}", self.prefix)
    }
    pub fn retry_queue(&self, worker: &str, delay: Duration) -> String {
        format!("{}.{worker}.retry.{}ms", self.prefix, delay.as_millis())
    }
    /// The consumer a queue belongs to, from its name.
    fn worker_of(&self, queue: &str) -> Option<String> {
        let rest = queue.strip_prefix(&self.prefix)?.strip_prefix('.')?;
        Some(rest.split(".retry.").next().unwrap_or(rest).to_owned())
    }
}

/// Every queue name the topology of `workers` declares under `config`'s prefix (tests and the
/// bench delete them afterwards).
pub fn declared_queues(config: &jinguo_config::Config, workers: &[Worker]) -> Vec<String> {
    let names = Names {
        prefix: config.amqp.prefix.clone(),
    };
    let mut out = vec![names.dead()];
    for w in workers {
        out.push(names.queue(&w.name));
        for d in broker_tiers(config) {
            out.push(names.retry_queue(&w.name, d));
        }
    }
    out
}

/// The retry delays short enough to wait in the broker.
fn broker_tiers(config: &jinguo_config::Config) -> Vec<Duration> {
    let mut tiers: Vec<Duration> = config
        .messaging
        .retry
        .delays
        .iter()
        .copied()
        .filter(|d| *d <= MAX_BROKER_DELAY)
        .collect();
    tiers.sort();
    tiers.dedup();
    tiers
}

fn names(bus: &Bus) -> Names {
    Names {
        prefix: bus.config.amqp.prefix.clone(),
    }
}

fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// Declares exchanges, queues and bindings; safe to repeat.
pub async fn declare(channel: &Channel, bus: &Bus) -> lapin::Result<()> {
    let n = names(bus);
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            n.exchange().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            n.dead().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    let queue_opts = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let quorum = [("x-queue-type", text("quorum"))];
    channel
        .queue_declare(n.dead().into(), queue_opts, table(&quorum))
        .await?;
    channel
        .queue_bind(
            n.dead().into(),
            n.dead().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    for w in bus.workers.iter() {
        let queue = n.queue(&w.name);
        let args = table(&[
            ("x-queue-type", text("quorum")),
            ("x-dead-letter-exchange", text(&n.dead())),
            ("x-dead-letter-strategy", text("at-least-once")),
            ("x-overflow", text("reject-publish")),
            ("x-delivery-limit", AMQPValue::LongLongInt(20)),
        ]);
        channel
            .queue_declare(queue.clone().into(), queue_opts, args)
            .await?;
        for pattern in &w.bindings {
            channel
                .queue_bind(
                    queue.clone().into(),
                    n.exchange().into(),
                    pattern.clone().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        for delay in broker_tiers(&bus.config) {
            let args = table(&[
                ("x-queue-type", text("quorum")),
                (
                    "x-message-ttl",
                    AMQPValue::LongLongInt(delay.as_millis() as i64),
                ),
                ("x-dead-letter-exchange", text("")),
                ("x-dead-letter-routing-key", text(&queue)),
                ("x-dead-letter-strategy", text("at-least-once")),
                ("x-overflow", text("reject-publish")),
            ]);
            channel
                .queue_declare(n.retry_queue(&w.name, delay).into(), queue_opts, args)
                .await?;
        }
    }
    Ok(())
}

/// Connects, runs `session` on the connection, and starts over with backoff whenever the
/// connection fails, until `shutdown`. One log line per attempt.
///
/// A clean stop closes in order: each session cancels its consumer and closes its channel
/// (`close_channel`) before returning, then the connection is closed here. Left to lapin, a
/// channel is closed from its `Drop`, in the background, racing the connection's close, and
/// lapin logs `invalid channel state: Closing` as an ERROR at every clean stop.
pub async fn supervise<F, Fut>(name: &str, bus: &Bus, shutdown: &CancellationToken, mut session: F)
where
    F: FnMut(std::sync::Arc<Connection>) -> Fut,
    Fut: Future<Output = lapin::Result<()>>,
{
    let Some(url) = bus.config.amqp.url.clone() else {
        tracing::error!(service = name, "amqp.url is empty: nothing to connect to");
        return;
    };
    let mut failures: u32 = 0;
    while !shutdown.is_cancelled() {
        // The prefix in the name lets an operator (and a test) tell deployments apart.
        let connection_name = format!("jinguo {} {name}", bus.config.amqp.prefix);
        let properties =
            ConnectionProperties::default().with_connection_name(connection_name.into());
        match Connection::connect(&url, properties).await {
            Ok(conn) => {
                let conn = std::sync::Arc::new(conn);
                if failures > 0 {
                    tracing::info!(service = name, "broker connection restored");
                }
                failures = 0;
                let result = session(conn.clone()).await;
                let _ = conn.close(200, "jinguo stopping".into()).await;
                match result {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(service = name, error = %e, "broker connection lost; reconnecting");
                        failures += 1;
                    }
                }
            }
            Err(e) => {
                failures += 1;
                let delay = reconnect_backoff(failures);
                tracing::warn!(service = name, attempt = failures, error = %e, retry_in = ?delay, "broker unavailable");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// Closes a session's channel and waits for the broker's `Close-Ok`, so that nothing is left
/// for lapin to close when the channel is dropped after the connection started closing.
async fn close_channel(channel: &Channel) {
    if !channel.status().connected() {
        return;
    }
    if let Err(e) = bounded(
        "channel close",
        channel.close(200, "jinguo stopping".into()),
    )
    .await
    {
        // Already closing or closed with its connection: the goal is reached either way.
        tracing::debug!(channel = channel.id(), error = %e, "channel close at shutdown");
    }
}

/// Asks the broker to stop delivering to `tag` (at shutdown, before finishing the deliveries in
/// flight); the prefetched ones not yet started are returned when the channel closes.
async fn cancel_consumer(channel: &Channel, tag: &str) {
    if !channel.status().connected() {
        return;
    }
    let cancel = channel.basic_cancel(tag.into(), BasicCancelOptions::default());
    if let Err(e) = bounded("consumer cancel", cancel).await {
        tracing::debug!(consumer = tag, error = %e, "consumer cancel at shutdown");
    }
}

fn reconnect_backoff(failures: u32) -> Duration {
    Duration::from_millis(250 * 2u64.pow(failures.min(6))).min(Duration::from_secs(10))
}

/// When to try publishing an outbox row again after `attempts` failures.
pub fn publish_backoff(attempts: i32) -> Duration {
    Duration::from_secs(2u64.pow(attempts.clamp(0, 6) as u32)).min(Duration::from_secs(60))
}

fn properties(message: &Envelope) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message.id.to_string().into())
        .with_correlation_id(message.correlation_id.to_string().into())
        .with_type(message.kind.clone().into())
}

fn body(message: &Envelope) -> Vec<u8> {
    serde_json::to_vec(message).expect("an envelope always serialises")
}

/// Publishes with `mandatory` and waits for the broker's confirm. An unroutable message comes
/// back as an ack carrying the returned message: that is an error here, not a success.
async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    message: &Envelope,
) -> lapin::Result<Result<(), String>> {
    let confirm = publish(channel, exchange, routing_key, message).await?;
    Ok(confirmed(
        bounded("publish confirm", confirm).await?,
        exchange,
        routing_key,
    ))
}

/// Sends one message (`mandatory`); the returned future resolves to the broker's confirm.
async fn publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    message: &Envelope,
) -> lapin::Result<lapin::PublisherConfirm> {
    let options = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let body = body(message);
    let publish = channel.basic_publish(
        exchange.into(),
        routing_key.into(),
        options,
        &body,
        properties(message),
    );
    bounded("publish", publish).await
}

fn confirmed(confirm: Confirmation, exchange: &str, routing_key: &str) -> Result<(), String> {
    match confirm {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(returned)) => Err(format!(
            "unroutable: {} {} (reply {})",
            if exchange.is_empty() {
                "queue"
            } else {
                "routing key"
            },
            routing_key,
            returned.reply_code
        )),
        Confirmation::Nack(_) => Err("broker refused the message (nack)".to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// Relay

/// Publishes the outbox to RabbitMQ until `shutdown`, reconnecting as needed.
pub async fn run_relay(bus: Bus, shutdown: CancellationToken) {
    tracing::info!(transport = "rabbitmq", "relay started");
    supervise("relay", &bus, &shutdown, |conn| {
        relay_session(bus.clone(), conn, shutdown.clone())
    })
    .await;
    tracing::info!("relay stopped");
}

async fn relay_session(
    bus: Bus,
    conn: std::sync::Arc<Connection>,
    shutdown: CancellationToken,
) -> lapin::Result<()> {
    let channel = conn.create_channel().await?;
    declare(&channel, &bus).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut woken = jinguo_store::wakeups(jinguo_store::Queue::Outbox);
    while !shutdown.is_cancelled() {
        let published = relay_batch(&bus, &channel).await?;
        if published == 0 {
            // Woken by a commit of this process that queued messages; else the interval.
            tokio::select! {
                () = shutdown.cancelled() => {}
                _ = woken.changed() => {}
                () = tokio::time::sleep(bus.config.messaging.poll_interval) => {}
            }
        }
    }
    close_channel(&channel).await;
    Ok(())
}

/// Claims a batch, publishes it with confirms and marks what the broker took. A broker error
/// rolls the batch back (it is published again later; consumers deduplicate).
async fn relay_batch(bus: &Bus, channel: &Channel) -> lapin::Result<usize> {
    let (channel, n, batch) = (
        channel.clone(),
        names(bus),
        bus.config.messaging.relay_batch,
    );
    let result = bus
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let pending = jinguo_store::outbox::claim(c, batch, now()).await.map_err(RelayError::Store)?;
                // Publish the whole batch, then collect the confirms: one round trip, not one
                // per message.
                let mut confirms = Vec::with_capacity(pending.len());
                for p in &pending {
                    let (exchange, key) = match &p.target {
                        Some(worker) => (String::new(), n.queue(worker)),
                        None => (n.exchange(), p.envelope.kind.clone()),
                    };
                    let confirm = publish(&channel, &exchange, &key, &p.envelope)
                        .await
                        .map_err(RelayError::Broker)?;
                    confirms.push((p, exchange, key, confirm));
                }
                let mut sent = Vec::new();
                for (p, exchange, key, confirm) in confirms {
                    let confirm = bounded("publish confirm", confirm)
                        .await
                        .map_err(RelayError::Broker)?;
                    match confirmed(confirm, &exchange, &key) {
                        Ok(()) => sent.push(p.seq),
                        Err(error) => {
                            tracing::warn!(seq = p.seq, kind = %p.envelope.kind, %error, "message not published; kept in outbox");
                            let retry_at = now()
                                + ChronoDuration::from_std(publish_backoff(p.publish_attempts))
                                    .unwrap_or_default();
                            jinguo_store::outbox::mark_failed(c, p.seq, &error, retry_at)
                                .await
                                .map_err(RelayError::Store)?;
                        }
                    }
                }
                jinguo_store::outbox::mark_sent(c, &sent, now()).await.map_err(RelayError::Store)?;
                Ok(pending.len())
            })
        })
        .await;
    match result {
        Ok(n) => Ok(n),
        Err(RelayError::Broker(e)) => Err(e),
        Err(RelayError::Store(e)) => {
            tracing::warn!(error = %e, "relay could not read the outbox; will retry");
            Ok(0)
        }
    }
}

enum RelayError {
    Store(jinguo_store::StoreError),
    Broker(lapin::Error),
}

impl From<jinguo_store::StoreError> for RelayError {
    fn from(e: jinguo_store::StoreError) -> Self {
        RelayError::Store(e)
    }
}

// ---------------------------------------------------------------------------------------------
// Consumers

/// Consumes `worker`'s queue until `shutdown`, reconnecting as needed. On shutdown it stops
/// taking deliveries and finishes the ones in flight.
pub async fn run_worker(bus: Bus, worker: Worker, shutdown: CancellationToken) {
    tracing::info!(consumer = %worker.name, transport = "rabbitmq", "consumer started");
    let name = worker.name.clone();
    supervise(&name, &bus, &shutdown, |conn| {
        consume(bus.clone(), worker.clone(), conn, shutdown.clone())
    })
    .await;
    tracing::info!(consumer = %name, "consumer stopped");
}

async fn consume(
    bus: Bus,
    worker: Worker,
    conn: std::sync::Arc<Connection>,
    shutdown: CancellationToken,
) -> lapin::Result<()> {
    let n = names(&bus);
    let channel = conn.create_channel().await?;
    declare(&channel, &bus).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    channel
        .basic_qos(bus.config.messaging.prefetch, BasicQosOptions::default())
        .await?;
    let tag = format!("jinguo-{}", worker.name);
    let mut deliveries = channel
        .basic_consume(
            n.queue(&worker.name).into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut in_flight: JoinSet<lapin::Result<()>> = JoinSet::new();
    let result = loop {
        tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            next = deliveries.next() => match next {
                Some(Ok(delivery)) => {
                    in_flight.spawn(process(bus.clone(), worker.clone(), channel.clone(), delivery));
                }
                Some(Err(e)) => break Err(e),
                None => break Err(lapin::Error::from(lapin::ErrorKind::InvalidConnectionState(lapin::ConnectionState::Closed))),
            },
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(Err(e)) = done {
                    break Err(e);
                }
            }
        }
    };
    if result.is_err() {
        // The connection is gone: acknowledgements on it would never complete (lapin leaves
        // them pending). Drop the tasks; each handler's transaction runs in a task of its own,
        // so only acks are lost, and the redeliveries they cause are no-ops thanks to the inbox.
        in_flight.abort_all();
        return result;
    }
    // Shutting down, in order: stop the broker delivering, finish the deliveries in flight
    // (their acks need the channel), close the channel; `supervise` closes the connection.
    cancel_consumer(&channel, &tag).await;
    let drain = async {
        while let Some(done) = in_flight.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::debug!(error = %e, "acknowledgement lost; the message will be redelivered");
            }
        }
    };
    if tokio::time::timeout(BROKER_TIMEOUT, drain).await.is_err() {
        tracing::warn!(consumer = %worker.name, "deliveries in flight did not finish; they will be redelivered");
    }
    drop(deliveries);
    close_channel(&channel).await;
    result
}

/// Handles one delivery and acknowledges it only after its outcome is durable: committed,
/// scheduled for retry, or recorded as dead.
async fn process(
    bus: Bus,
    worker: Worker,
    channel: Channel,
    delivery: lapin::message::Delivery,
) -> lapin::Result<()> {
    let message: Envelope = match serde_json::from_slice(&delivery.data) {
        Ok(m) => m,
        Err(e) => {
            let stand_in = handle::unreadable(&delivery.data, &e);
            if handle::bury(
                &bus,
                &worker.name,
                &stand_in,
                &format!("not an envelope: {e}"),
            )
            .await
            .is_ok()
            {
                delivery.ack(BasicAckOptions::default()).await?;
            }
            return Ok(());
        }
    };
    let durable = match handle::handle(&bus, &worker, &message).await {
        Outcome::Handled | Outcome::Duplicate => true,
        Outcome::Failed(error) => after_failure(&bus, &worker, &channel, &message, &error).await?,
    };
    if durable {
        bounded("ack", delivery.ack(BasicAckOptions::default())).await?;
    }
    Ok(())
}

/// Puts the next attempt somewhere durable; `false` when it could not (then the delivery stays
/// unacknowledged and comes back).
async fn after_failure(
    bus: &Bus,
    worker: &Worker,
    channel: &Channel,
    message: &Envelope,
    error: &crate::HandlerError,
) -> lapin::Result<bool> {
    let n = names(bus);
    match handle::next_step(bus, message, error) {
        AfterFailure::RetryIn(delay) => {
            tracing::info!(consumer = %worker.name, message = %message.id, attempt = message.attempt, ?delay, %error, "handler failed; will retry");
            let next = message.retried(&worker.name, &error.message, now());
            if broker_tiers(&bus.config).contains(&delay) {
                let queue = n.retry_queue(&worker.name, delay);
                match publish_confirmed(channel, "", &queue, &next).await? {
                    Ok(()) => Ok(true),
                    Err(e) => {
                        tracing::warn!(error = %e, "retry tier refused the message; leaving it unacknowledged");
                        Ok(false)
                    }
                }
            } else {
                let key = format!("retry:{}:{}:{}", worker.name, next.id, next.attempt);
                let due = now() + ChronoDuration::from_std(delay).unwrap_or_default();
                let target = worker.name.clone();
                let scheduled = bus
                    .store
                    .transaction(move |c| {
                        Box::pin(async move {
                            jinguo_store::timers::schedule(
                                c,
                                &key,
                                due,
                                Some(&target),
                                &next,
                                now(),
                            )
                            .await
                        })
                    })
                    .await;
                Ok(scheduled.is_ok())
            }
        }
        AfterFailure::Dead => {
            let last = message.with_failure(&worker.name, &error.message, now());
            Ok(handle::bury(bus, &worker.name, &last, &error.message)
                .await
                .is_ok())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dead letters

const DEAD_LETTER_CONSUMER: &str = "jinguo-dead-letters";

/// Drains `P.dead` (messages RabbitMQ itself dead-lettered, e.g. past `x-delivery-limit`) into
/// the `dead_letters` table until `shutdown`.
pub async fn run_dead_letter_drain(bus: Bus, shutdown: CancellationToken) {
    tracing::info!("dead-letter drain started");
    supervise("dead-letters", &bus, &shutdown, |conn| {
        drain(bus.clone(), conn, shutdown.clone())
    })
    .await;
    tracing::info!("dead-letter drain stopped");
}

async fn drain(
    bus: Bus,
    conn: std::sync::Arc<Connection>,
    shutdown: CancellationToken,
) -> lapin::Result<()> {
    let n = names(&bus);
    let channel = conn.create_channel().await?;
    declare(&channel, &bus).await?;
    channel.basic_qos(16, BasicQosOptions::default()).await?;
    let mut deliveries = channel
        .basic_consume(
            n.dead().into(),
            DEAD_LETTER_CONSUMER.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => break,
            next = deliveries.next() => match next {
                Some(Ok(d)) => d,
                Some(Err(e)) => return Err(e),
                None => break,
            },
        };
        let (queue, reason) = death(&delivery.properties);
        let consumer = queue
            .as_deref()
            .and_then(|q| n.worker_of(q))
            .unwrap_or_else(|| "unknown".to_owned());
        let error = format!(
            "dead-lettered by RabbitMQ: {}",
            reason.as_deref().unwrap_or("unknown reason")
        );
        let message = match serde_json::from_slice::<Envelope>(&delivery.data) {
            Ok(m) => m.with_failure(&consumer, &error, now()),
            Err(e) => handle::unreadable(&delivery.data, &e),
        };
        if handle::bury(&bus, &consumer, &message, &error)
            .await
            .is_ok()
        {
            delivery.ack(BasicAckOptions::default()).await?;
        }
    }
    // Stopping: the same order as the consumers (cancel, close the channel, then `supervise`
    // closes the connection).
    cancel_consumer(&channel, DEAD_LETTER_CONSUMER).await;
    drop(deliveries);
    close_channel(&channel).await;
    Ok(())
}

/// The queue and reason of the most recent death in the `x-death` header.
fn death(properties: &BasicProperties) -> (Option<String>, Option<String>) {
    let first = properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-death").cloned())
        .and_then(|v| match v {
            AMQPValue::FieldArray(a) => a.as_slice().first().cloned(),
            _ => None,
        });
    let Some(AMQPValue::FieldTable(t)) = first else {
        return (None, None);
    };
    let get = |k: &str| match t.inner().get(k) {
        Some(AMQPValue::LongString(s)) => Some(s.to_string()),
        Some(AMQPValue::ShortString(s)) => Some(s.to_string()),
        _ => None,
    };
    (get("queue"), get("reason"))
}
