//! The messaging engine: everything a change causes travels as an [`Envelope`] from the
//! outbox to idempotent handlers, over RabbitMQ in production or an in-process bus in the
//! embedded default, with the same retries, timers and dead letters on both.
//!
//! Guarantees:
//! - a message exists exactly when the transaction that caused it committed (the outbox);
//! - it is handled at least once, and its effects happen once: the inbox row and the handler's
//!   changes commit in one transaction, and a redelivery finds the row and does nothing;
//! - a failing message is retried after the configured delays, then kept in `dead_letters`;
//! - a message is a typed [`Job`]: a worker built from [`Handlers`] decodes each payload into
//!   its type, and an unknown kind or an undecodable payload is dead at once.

pub mod dlq;
mod handle;
pub mod job;
pub mod local;
pub mod rabbit;
pub mod scheduler;
pub mod services;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jinguo_config::Config;
use jinguo_store::{BoxFuture, Conn, Store, StoreError};
use uuid::Uuid;

pub use jinguo_core::messaging::Envelope;
pub use job::{Handlers, Job};
pub use tokio_util::sync::CancellationToken;

/// A service's message handler. It runs inside the transaction that also records the message
/// in the inbox: every change it makes through `conn` commits with it, or not at all.
///
/// A message whose effect lies outside the database (an SMTP exchange) may instead be handled
/// outside any transaction ([`Handler::outside`], [`Handler::handle_outside`]), so that no
/// transaction — on SQLite, the one write lock — stays open for the length of a network
/// exchange. Such a handler is its own idempotency (the mailer: a mail marked sent is not sent
/// again); the inbox does not see it.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        message: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// Whether `message` goes to [`Handler::handle_outside`] instead of [`Handler::handle`].
    fn outside(&self, _message: &Envelope) -> bool {
        false
    }

    /// Handles `message` with no transaction open; it opens its own, short ones on `store`.
    fn handle_outside<'a>(
        &'a self,
        _store: &'a Store,
        message: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        let error = HandlerError::permanent(format!(
            "no handler outside a transaction for {}",
            message.kind
        ));
        Box::pin(std::future::ready(Err(error)))
    }
}

/// Why a handler did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    pub message: String,
    /// The message can never succeed (bad payload): dead at once, no retries.
    pub permanent: bool,
}

impl HandlerError {
    pub fn transient(message: impl Into<String>) -> HandlerError {
        HandlerError {
            message: message.into(),
            permanent: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> HandlerError {
        HandlerError {
            message: message.into(),
            permanent: true,
        }
    }
}

/// A store failure is retried only when retrying can help ([`StoreError::is_transient`]);
/// otherwise the message is a dead letter at once, with the error's whole chain.
impl From<StoreError> for HandlerError {
    fn from(e: StoreError) -> Self {
        let chain = jinguo_core::error_chain(&e);
        if e.is_transient() {
            HandlerError::transient(chain)
        } else {
            HandlerError::permanent(chain)
        }
    }
}

/// A consuming service: its name (its queue is `<prefix>.<name>`), the kinds it listens to
/// (topic patterns: `*` one word, `#` any), and its handler.
#[derive(Clone)]
pub struct Worker {
    pub name: String,
    pub bindings: Vec<String>,
    pub handler: Arc<dyn Handler>,
}

/// What every part of the engine needs.
#[derive(Clone)]
pub struct Bus {
    pub store: Store,
    pub config: Arc<Config>,
    /// Every consumer of this deployment: the in-process bus fans messages out to them, and
    /// each process declares their queues so nothing published is unroutable by accident.
    pub workers: Arc<Vec<Worker>>,
    /// Working days, for cron jobs that fire on working days only.
    pub calendar: Arc<jinguo_core::calendar::Calendar>,
}

/// The one source of message ids.
pub fn new_id() -> Uuid {
    Uuid::new_v4()
}

/// The one clock of the engine.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A new message starting a chain, stamped now.
pub fn message(kind: &str, payload: serde_json::Value) -> Envelope {
    Envelope::new(kind, payload, new_id(), now())
}
