//! Operating on dead letters: the same SQL on both transports.

use jinguo_store::{StoreError, dead_letters, outbox};

use crate::{Bus, now};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no dead letter {0}")]
    NotFound(i64),
    #[error("dead letter {0} was already replayed")]
    AlreadyReplayed(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sends dead letter `id` again to the consumer that gave up on it, as a first attempt (its
/// failure history kept), and marks it replayed, in one transaction.
pub async fn replay(bus: &Bus, id: i64) -> Result<(), ReplayError> {
    bus.store
        .transaction(move |c| {
            Box::pin(async move {
                let dead = dead_letters::get(c, id)
                    .await?
                    .ok_or(ReplayError::NotFound(id))?;
                if dead.replayed_at.is_some() {
                    return Err(ReplayError::AlreadyReplayed(id));
                }
                let mut again = dead.envelope;
                again.attempt = 1;
                outbox::push_to(c, &dead.consumer, &again, now()).await?;
                dead_letters::mark_replayed(c, id, now()).await?;
                Ok(())
            })
        })
        .await
}

/// Replays every dead letter not replayed yet; returns their ids.
pub async fn replay_all(bus: &Bus) -> Result<Vec<i64>, ReplayError> {
    let pending = bus
        .store
        .read(|c| Box::pin(dead_letters::list(c, true)))
        .await?;
    let mut done = Vec::new();
    for d in pending.into_iter().rev() {
        replay(bus, d.id).await?;
        done.push(d.id);
    }
    Ok(done)
}
