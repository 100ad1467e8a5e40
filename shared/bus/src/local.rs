//! The in-process bus of the embedded default: the outbox fans out into `deliveries` rows, one
//! per bound consumer, and each consumer works through its rows. Retries wait in the row itself;
//! the rest (inbox, policy, dead letters) is shared with the RabbitMQ transport.

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use jinguo_core::messaging::{AfterFailure, Envelope, topic_matches};
use jinguo_store::{Queue, StoreError, dead_letters, deliveries, outbox};
use tokio::sync::Semaphore;

use crate::handle::{self, Outcome, inbox_then_handler};
use crate::{Bus, CancellationToken, HandlerError, Worker, now};

/// Moves outbox rows to the consumers bound to them until `shutdown`.
pub async fn run_relay(bus: Bus, shutdown: CancellationToken) {
    tracing::info!(transport = "in-process", "relay started");
    poll_loop(&bus, &shutdown, Queue::Outbox, || relay_batch(&bus)).await;
    tracing::info!("relay stopped");
}

/// Runs `step` until `shutdown`, straight again while it finds work, else when a commit of this
/// process queues work or after the poll interval.
pub(crate) async fn poll_loop<F, Fut>(
    bus: &Bus,
    shutdown: &CancellationToken,
    queue: Queue<'_>,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, StoreError>>,
{
    let mut woken = jinguo_store::wakeups(queue);
    while !shutdown.is_cancelled() {
        match step().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "bus step failed; will retry"),
        }
        // Work queued by a commit of this process wakes the loop at once; the interval is the
        // backstop (work from another process, a retry falling due).
        tokio::select! {
            () = shutdown.cancelled() => {}
            _ = woken.changed() => {}
            () = tokio::time::sleep(bus.config.messaging.poll_interval) => {}
        }
    }
}

/// One batch: each pending message becomes a delivery per consumer it is for.
pub async fn relay_batch(bus: &Bus) -> Result<usize, StoreError> {
    let workers = bus.workers.clone();
    let batch = bus.config.messaging.relay_batch;
    bus.store
        .transaction(move |c| {
            Box::pin(async move {
                let pending = outbox::claim(c, batch, now()).await?;
                let mut sent = Vec::new();
                for p in &pending {
                    let targets: Vec<&Worker> = workers
                        .iter()
                        .filter(|w| match &p.target {
                            Some(t) => &w.name == t,
                            None => w.bindings.iter().any(|b| topic_matches(b, &p.envelope.kind)),
                        })
                        .collect();
                    if targets.is_empty() {
                        let error = unroutable(&p.envelope, p.target.as_deref());
                        tracing::warn!(seq = p.seq, kind = %p.envelope.kind, %error, "message unroutable; kept in outbox");
                        let retry_at = now() + ChronoDuration::from_std(crate::rabbit::publish_backoff(p.publish_attempts)).unwrap_or_default();
                        outbox::mark_failed(c, p.seq, &error, retry_at).await?;
                        continue;
                    }
                    for w in targets {
                        deliveries::enqueue(c, &w.name, &p.envelope, now()).await?;
                    }
                    sent.push(p.seq);
                }
                outbox::mark_sent(c, &sent, now()).await?;
                Ok(pending.len())
            })
        })
        .await
}

pub(crate) fn unroutable(message: &Envelope, target: Option<&str>) -> String {
    match target {
        Some(t) => format!("unroutable: no consumer named {t}"),
        None => format!("unroutable: no consumer bound to {}", message.kind),
    }
}

/// Works through `worker`'s deliveries until `shutdown`.
///
/// Deliveries handled inside a transaction go one at a time (on SQLite they would queue for the
/// write lock anyway). Those handled outside one — the mailer's SMTP exchanges — run up to
/// `messaging.prefetch` at once, as on RabbitMQ: one slow exchange does not hold up the next
/// mail. On shutdown the consumer waits for those in flight.
pub async fn run_worker(bus: Bus, worker: Worker, shutdown: CancellationToken) {
    tracing::info!(consumer = %worker.name, transport = "in-process", "consumer started");
    let queue = Queue::Deliveries(&worker.name);
    let at_once = u32::from(bus.config.messaging.prefetch.max(1));
    let in_flight = Arc::new(Semaphore::new(at_once as usize));
    poll_loop(&bus, &shutdown, queue, || {
        work_one(&bus, &worker, &in_flight)
    })
    .await;
    // Every permit back: the deliveries handled outside a transaction have finished.
    let _ = in_flight.acquire_many(at_once).await;
    tracing::info!(consumer = %worker.name, "consumer stopped");
}

/// Why handling a delivery did not commit.
enum WorkError {
    Store(StoreError),
    /// The handler failed on this delivery; it is still queued.
    Failed(deliveries::Delivery, HandlerError),
}

impl From<StoreError> for WorkError {
    fn from(e: StoreError) -> Self {
        WorkError::Store(e)
    }
}

/// What the claiming transaction did with the next due delivery.
enum Claimed {
    Nothing,
    /// Handled and removed in the claiming transaction.
    Handled,
    /// Leased for [`OUTSIDE_LEASE`], to be handled outside any transaction.
    Outside(deliveries::Delivery),
}

/// How long a delivery handled outside a transaction stays claimed: longer than any SMTP
/// exchange (lettre gives up on a command after a minute). Only a process that dies meanwhile
/// lets it run out, and then the delivery comes due again.
const OUTSIDE_LEASE: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Handles the next due delivery, if any: claim, inbox, handler and removal in one transaction
/// — or, for a handler that works outside transactions, claim and lease, handle, then remove.
async fn work_one(
    bus: &Bus,
    worker: &Worker,
    in_flight: &Arc<Semaphore>,
) -> Result<usize, StoreError> {
    // A free place first: a delivery claimed for handling outside a transaction starts at once.
    let Ok(place) = in_flight.clone().acquire_owned().await else {
        return Ok(0);
    };
    let w = worker.clone();
    let result = bus
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let Some(delivery) = deliveries::claim_next(c, &w.name, now()).await? else {
                    return Ok(Claimed::Nothing);
                };
                if w.handler.outside(&delivery.envelope) {
                    let until = now() + ChronoDuration::from_std(OUTSIDE_LEASE).unwrap_or_default();
                    deliveries::postpone(c, delivery.seq, &delivery.envelope, until).await?;
                    return Ok(Claimed::Outside(delivery));
                }
                match inbox_then_handler(c, &w, &delivery.envelope).await {
                    Ok(_) => {
                        deliveries::remove(c, delivery.seq).await?;
                        Ok(Claimed::Handled)
                    }
                    Err(error) => Err(WorkError::Failed(delivery, error)),
                }
            })
        })
        .await;
    match result {
        Ok(Claimed::Nothing) => Ok(0),
        Ok(Claimed::Handled) => Ok(1),
        Ok(Claimed::Outside(delivery)) => {
            let (bus, worker) = (bus.clone(), worker.clone());
            tokio::spawn(async move {
                if let Err(e) = handle_outside(&bus, &worker, delivery).await {
                    // The lease runs out and the delivery comes due again.
                    tracing::warn!(consumer = %worker.name, error = %e, "delivery handled outside a transaction not settled; it comes back when its lease ends");
                }
                drop(place);
            });
            Ok(1)
        }
        // The transaction rolled back; the delivery is still there. Decide its next attempt.
        Err(WorkError::Failed(delivery, error)) => {
            after_failure(bus, worker, delivery, error).await?;
            Ok(1)
        }
        Err(WorkError::Store(e)) => Err(e),
    }
}

/// Handles a leased delivery with no transaction open (as the RabbitMQ consumer does, through
/// [`handle::handle`]), then removes it or decides its next attempt.
async fn handle_outside(
    bus: &Bus,
    worker: &Worker,
    delivery: deliveries::Delivery,
) -> Result<(), StoreError> {
    match handle::handle(bus, worker, &delivery.envelope).await {
        Outcome::Handled | Outcome::Duplicate => {
            let seq = delivery.seq;
            bus.store
                .write_alone(move |c| Box::pin(deliveries::remove(c, seq)))
                .await
        }
        Outcome::Failed(error) => after_failure(bus, worker, delivery, error).await,
    }
}

async fn after_failure(
    bus: &Bus,
    worker: &Worker,
    delivery: deliveries::Delivery,
    error: HandlerError,
) -> Result<(), StoreError> {
    let message = delivery.envelope;
    let step = handle::next_step(bus, &message, &error);
    let consumer = worker.name.clone();
    match step {
        AfterFailure::RetryIn(delay) => {
            tracing::info!(%consumer, message = %message.id, attempt = message.attempt, ?delay, error = %error, "handler failed; will retry");
            let next = message.retried(&consumer, &error.message, now());
            let due = now() + ChronoDuration::from_std(delay).unwrap_or_default();
            bus.store
                .transaction(move |c| {
                    Box::pin(async move { deliveries::postpone(c, delivery.seq, &next, due).await })
                })
                .await
        }
        AfterFailure::Dead => {
            tracing::warn!(%consumer, message = %message.id, kind = %message.kind, attempt = message.attempt, error = %error, "message dead");
            let last = message.with_failure(&consumer, &error.message, now());
            bus.store
                .transaction(move |c| {
                    Box::pin(async move {
                        dead_letters::record(c, &consumer, &last, &error.message, now()).await?;
                        deliveries::remove(c, delivery.seq).await
                    })
                })
                .await
        }
    }
}
