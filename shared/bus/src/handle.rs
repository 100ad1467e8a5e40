//! Handling one message, the same on both transports: inbox and handler in one transaction;
//! on failure, the retry policy decides between waiting and the dead letters.

use jinguo_core::messaging::{AfterFailure, Envelope};
use jinguo_store::{Conn, dead_letters, inbox};

use crate::{Bus, HandlerError, Worker, now};

pub(crate) enum Outcome {
    Handled,
    /// Already handled before: acknowledged with no effect.
    Duplicate,
    Failed(HandlerError),
}

/// Inside the caller's transaction: records the message in the inbox and, if it is new, runs
/// the handler. `Ok(false)`: a redelivery, nothing done.
pub(crate) async fn inbox_then_handler(
    c: &mut Conn<'_>,
    worker: &Worker,
    message: &Envelope,
) -> Result<bool, HandlerError> {
    if !inbox::record(c, &worker.name, message.id, now()).await? {
        return Ok(false);
    }
    worker.handler.handle(c, message).await?;
    Ok(true)
}

/// Handles `message` in a transaction of its own, or outside any when its handler says so.
pub(crate) async fn handle(bus: &Bus, worker: &Worker, message: &Envelope) -> Outcome {
    if worker.handler.outside(message) {
        return match worker.handler.handle_outside(&bus.store, message).await {
            Ok(()) => Outcome::Handled,
            Err(e) => Outcome::Failed(e),
        };
    }
    let (w, m) = (worker.clone(), message.clone());
    let result = bus
        .store
        .transaction(move |c| Box::pin(async move { inbox_then_handler(c, &w, &m).await }))
        .await;
    outcome(worker, message, result)
}

pub(crate) fn outcome(
    worker: &Worker,
    message: &Envelope,
    result: Result<bool, HandlerError>,
) -> Outcome {
    let id = message.id;
    match result {
        Ok(true) => {
            tracing::debug!(consumer = %worker.name, message = %id, "message handled");
            Outcome::Handled
        }
        Ok(false) => {
            tracing::info!(consumer = %worker.name, message = %id, "duplicate delivery ignored");
            Outcome::Duplicate
        }
        Err(e) => Outcome::Failed(e),
    }
}

/// What the policy says after `message` failed with `error`.
pub(crate) fn next_step(bus: &Bus, message: &Envelope, error: &HandlerError) -> AfterFailure {
    bus.config
        .messaging
        .retry
        .after_failure(message.attempt, error.permanent)
}

/// Records a dead letter in its own transaction.
pub(crate) async fn bury(
    bus: &Bus,
    consumer: &str,
    message: &Envelope,
    error: &str,
) -> Result<(), jinguo_store::StoreError> {
    tracing::warn!(%consumer, message = %message.id, kind = %message.kind, attempt = message.attempt, %error, "message dead");
    let (consumer, message, error) = (consumer.to_owned(), message.clone(), error.to_owned());
    bus.store
        .transaction(move |c| {
            Box::pin(
                async move { dead_letters::record(c, &consumer, &message, &error, now()).await },
            )
        })
        .await
}

/// A body that is not an envelope still becomes a dead letter, kept whole for an operator.
pub(crate) fn unreadable(body: &[u8], error: &serde_json::Error) -> Envelope {
    let mut e = crate::message(
        "unreadable",
        serde_json::json!({ "body": String::from_utf8_lossy(body), "error": error.to_string() }),
    );
    e.attempt = 1;
    e
}
