//! Wake-ups on commit. A transaction that queued work — an outbox row, a delivery — wakes the
//! relay and the in-process consumers of this process the moment it commits, instead of their
//! next poll: a reviewer's decision reaches the next reviewer's mail without waiting out
//! `messaging.poll_interval_ms`. Polling stays as the backstop, and is what another process
//! still waits on.
//!
//! The transaction's task carries flags ([`queued`] sets them from the repository functions
//! that queue work); [`crate::Store::transaction`] bumps a counter per [`Queue`] after a commit
//! that set its flag, so a web request's outbox row wakes the relay and not every consumer.
//! Waiters hold a [`Wakeups`] receiver: a bump between their last look at the tables and their
//! wait is not lost (the counter is seen as changed).
//!
//! Across processes (PostgreSQL only): triggers on `outbox` and `deliveries` notify the
//! channels `jinguo_outbox` and `jinguo_deliveries`, which PostgreSQL delivers on commit;
//! [`listen_for_wakeups`] listens on one connection of its own and bumps the same counters.

use std::cell::Cell;
use std::future::Future;
use std::sync::LazyLock;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::StoreError;

/// Where work waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Messages for the relay.
    Outbox,
    /// Deliveries for the in-process consumers.
    Deliveries,
}

impl Queue {
    fn bit(self) -> u8 {
        match self {
            Queue::Outbox => 1,
            Queue::Deliveries => 2,
        }
    }

    /// The PostgreSQL channel its triggers notify.
    fn channel(self) -> &'static str {
        match self {
            Queue::Outbox => "jinguo_outbox",
            Queue::Deliveries => "jinguo_deliveries",
        }
    }

    fn wake(self) {
        self.counter().send_modify(|n| *n = n.wrapping_add(1));
    }

    fn counter(self) -> &'static watch::Sender<u64> {
        static OUTBOX: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);
        static DELIVERIES: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);
        match self {
            Queue::Outbox => &OUTBOX,
            Queue::Deliveries => &DELIVERIES,
        }
    }
}

tokio::task_local! {
    static QUEUED: Cell<u8>;
}

/// What a polling loop waits on besides its interval.
pub type Wakeups = watch::Receiver<u64>;

/// A receiver that changes whenever a transaction of this process commits work into `queue`.
pub fn wakeups(queue: Queue) -> Wakeups {
    queue.counter().subscribe()
}

/// Marks the running transaction as having queued work in `queue` (outside one: nothing).
pub(crate) fn queued(queue: Queue) {
    let _ = QUEUED.try_with(|q| q.set(q.get() | queue.bit()));
}

/// Runs a transaction's task, and wakes the waiters if it committed queued work.
pub(crate) async fn on_commit<R, E>(task: impl Future<Output = Result<R, E>>) -> Result<R, E> {
    QUEUED
        .scope(Cell::new(0), async move {
            let result = task.await;
            let queued = QUEUED.with(Cell::get);
            if result.is_ok() {
                for queue in [Queue::Outbox, Queue::Deliveries] {
                    if queued & queue.bit() != 0 {
                        queue.wake();
                    }
                }
            }
            result
        })
        .await
}

/// Listens on a connection of its own to PostgreSQL at `url` for the commits of other processes
/// that queued work, waking this process's waiters for each, until the connection fails (the
/// caller reconnects; polling covers the gap). Wakes both queues once on connecting, for what
/// was committed while nobody listened.
pub async fn listen_for_wakeups(url: &str) -> Result<(), StoreError> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|e| StoreError::Connect(e.to_string()))?;
    for queue in [Queue::Outbox, Queue::Deliveries] {
        diesel::sql_query(format!("LISTEN {}", queue.channel()))
            .execute(&mut conn)
            .await?;
        queue.wake();
    }
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        let notification = notification?;
        for queue in [Queue::Outbox, Queue::Deliveries] {
            if notification.channel == queue.channel() {
                queue.wake();
            }
        }
    }
    Err(StoreError::Connect(
        "the connection listening for wake-ups closed".into(),
    ))
}
