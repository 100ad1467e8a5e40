//! Wake-ups on commit. A transaction that queued work — an outbox row, a delivery — wakes the
//! relay or the consumer it is for the moment it commits, instead of at their next poll: a
//! reviewer's decision reaches the next reviewer's mail without waiting out
//! `messaging.poll_interval_ms`. Polling stays as the backstop.
//!
//! The transaction's task carries what it queued ([`queued`] notes it from the repository
//! functions that queue work); [`crate::Store::transaction`] bumps the counter of each [`Queue`]
//! it queued into after the commit, so a web request's outbox row wakes the relay, and a
//! delivery wakes its own consumer, not every consumer. Waiters hold a [`Wakeups`] receiver: a
//! bump between their last look at the tables and their wait is not lost (the counter is seen
//! as changed).
//!
//! Across processes (PostgreSQL only): triggers on `outbox` and `deliveries` notify the
//! channels `jinguo_outbox` and `jinguo_deliveries`, which PostgreSQL delivers on commit;
//! [`listen_for_wakeups`] listens on one connection of its own and bumps the same counters (a
//! delivery's notification names its consumer).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, Mutex};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::StoreError;

/// Where work waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue<'a> {
    /// Messages for the relay.
    Outbox,
    /// Deliveries for the in-process consumer of this name.
    Deliveries(&'a str),
}

/// The PostgreSQL channels the triggers notify.
const OUTBOX_CHANNEL: &str = "jinguo_outbox";
const DELIVERIES_CHANNEL: &str = "jinguo_deliveries";

fn outbox_counter() -> &'static watch::Sender<u64> {
    static OUTBOX: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);
    &OUTBOX
}

/// One counter per consumer, made when first asked for.
fn consumer_counters() -> std::sync::MutexGuard<'static, HashMap<String, watch::Sender<u64>>> {
    static CONSUMERS: LazyLock<Mutex<HashMap<String, watch::Sender<u64>>>> =
        LazyLock::new(Mutex::default);
    CONSUMERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn bump(counter: &watch::Sender<u64>) {
    counter.send_modify(|n| *n = n.wrapping_add(1));
}

impl Queue<'_> {
    fn wake(self) {
        match self {
            Queue::Outbox => bump(outbox_counter()),
            Queue::Deliveries(consumer) => {
                if let Some(counter) = consumer_counters().get(consumer) {
                    bump(counter);
                }
            }
        }
    }
}

/// Wakes every consumer of this process (on connecting: whatever was missed).
fn wake_every_consumer() {
    consumer_counters().values().for_each(bump);
}

/// What the running transaction queued.
#[derive(Default)]
struct Queued {
    outbox: bool,
    consumers: Vec<String>,
}

tokio::task_local! {
    static QUEUED: RefCell<Queued>;
}

/// What a polling loop waits on besides its interval.
pub type Wakeups = watch::Receiver<u64>;

/// A receiver that changes whenever a transaction of this process commits work into `queue`.
pub fn wakeups(queue: Queue<'_>) -> Wakeups {
    match queue {
        Queue::Outbox => outbox_counter().subscribe(),
        Queue::Deliveries(consumer) => consumer_counters()
            .entry(consumer.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe(),
    }
}

/// Notes that the running transaction queued work in `queue` (outside one: nothing).
pub(crate) fn queued(queue: Queue<'_>) {
    let _ = QUEUED.try_with(|q| {
        let mut q = q.borrow_mut();
        match queue {
            Queue::Outbox => q.outbox = true,
            Queue::Deliveries(consumer) => {
                if !q.consumers.iter().any(|c| c == consumer) {
                    q.consumers.push(consumer.to_owned());
                }
            }
        }
    });
}

/// Runs a transaction's task, and wakes the waiters of what it queued if it committed.
pub(crate) async fn on_commit<R, E>(task: impl Future<Output = Result<R, E>>) -> Result<R, E> {
    QUEUED
        .scope(RefCell::default(), async move {
            let result = task.await;
            if result.is_ok() {
                let queued = QUEUED.with(|q| std::mem::take(&mut *q.borrow_mut()));
                if queued.outbox {
                    Queue::Outbox.wake();
                }
                for consumer in &queued.consumers {
                    Queue::Deliveries(consumer).wake();
                }
            }
            result
        })
        .await
}

/// Listens on a connection of its own to PostgreSQL at `url` for the commits of other processes
/// that queued work, waking this process's waiters for each, until the connection fails (the
/// caller reconnects; polling covers the gap). Wakes every waiter once on connecting, for what
/// was committed while nobody listened.
pub async fn listen_for_wakeups(url: &str) -> Result<(), StoreError> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|e| StoreError::Connect(e.to_string()))?;
    for channel in [OUTBOX_CHANNEL, DELIVERIES_CHANNEL] {
        diesel::sql_query(format!("LISTEN {channel}"))
            .execute(&mut conn)
            .await?;
    }
    Queue::Outbox.wake();
    wake_every_consumer();
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        let notification = notification?;
        match notification.channel.as_str() {
            OUTBOX_CHANNEL => Queue::Outbox.wake(),
            DELIVERIES_CHANNEL => Queue::Deliveries(&notification.payload).wake(),
            _ => {}
        }
    }
    Err(StoreError::Connect(
        "the connection listening for wake-ups closed".into(),
    ))
}
