//! The timer scheduler (run by the `reminders` service): turns due timers into outbox
//! messages. Claiming, sending and deleting happen in one transaction, and PostgreSQL's
//! `SKIP LOCKED` keeps two schedulers off the same timer, so each fires once.

use jinguo_store::{outbox, timers};

use crate::{Bus, CancellationToken, now};

/// Fires due timers until `shutdown`.
pub async fn run(bus: Bus, shutdown: CancellationToken) {
    tracing::info!("timer scheduler started");
    while !shutdown.is_cancelled() {
        match fire_due(&bus).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(fired = n, "timers fired");
                continue;
            }
            Err(e) => tracing::warn!(error = %e, "firing timers failed; will retry"),
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(bus.config.messaging.poll_interval) => {}
        }
    }
    tracing::info!("timer scheduler stopped");
}

/// Fires one batch of due timers; returns how many fired.
pub async fn fire_due(bus: &Bus) -> Result<usize, jinguo_store::StoreError> {
    let batch = bus.config.messaging.relay_batch;
    bus.store
        .transaction(move |c| {
            Box::pin(async move {
                let due = timers::claim_due(c, now(), batch).await?;
                for t in &due {
                    match &t.target {
                        Some(target) => outbox::push_to(c, target, &t.envelope, now()).await?,
                        None => outbox::push(c, std::slice::from_ref(&t.envelope), now()).await?,
                    }
                    timers::cancel(c, &t.key).await?;
                }
                Ok(due.len())
            })
        })
        .await
}
