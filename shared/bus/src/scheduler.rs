//! The scheduler of the `reminders` service: timers and cron jobs.
//!
//! - Timers: due rows become outbox messages; claiming, sending and deleting happen in one
//!   transaction, and PostgreSQL's `SKIP LOCKED` keeps two schedulers off the same timer.
//! - Cron: each tick of each enabled job is claimed as a unique (job, tick) row in the same
//!   transaction as its message, so a tick fires once across any number of schedulers, with no
//!   leader. Jobs marked `working_days_only` claim every tick but send only on working days.

use chrono::{DateTime, Utc};
use jinguo_core::cron::{CronJob, catch_up, ticks_between};
use jinguo_store::{cron_ticks, outbox, timers};

use crate::{Bus, CancellationToken, now};

/// At most this many ticks of one job are fired per pass (a job every second, a slow pass).
const TICKS_PER_PASS: usize = 100;

/// Fires due timers and cron ticks until `shutdown`.
pub async fn run(bus: Bus, shutdown: CancellationToken) {
    tracing::info!("scheduler started");
    let jobs: Vec<CronJob> = bus
        .config
        .cron
        .jobs
        .iter()
        .filter(|j| j.enabled)
        .cloned()
        .collect();
    let mut cursor = now();
    for job in &jobs {
        if let Err(e) = catch_up_job(&bus, job, cursor).await {
            tracing::warn!(job = %job.name, error = %e, "catching up a cron job failed");
        }
    }
    while !shutdown.is_cancelled() {
        let until = now();
        for job in &jobs {
            let tz = bus.config.calendar.time_zone;
            for tick in ticks_between(&job.schedule, tz, cursor, until, TICKS_PER_PASS) {
                if let Err(e) = fire_tick(&bus, job, tick).await {
                    tracing::warn!(job = %job.name, %tick, error = %e, "firing a cron tick failed");
                }
            }
        }
        cursor = until;
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
            () = tokio::time::sleep(bus.config.messaging.poll_interval.min(std::time::Duration::from_millis(500))) => {}
        }
    }
    tracing::info!("scheduler stopped");
}

/// At start: the tick missed while nothing ran, per `cron.missed`.
async fn catch_up_job(
    bus: &Bus,
    job: &CronJob,
    now: DateTime<Utc>,
) -> Result<(), jinguo_store::StoreError> {
    let name = job.name.clone();
    let last = bus
        .store
        .read(move |c| Box::pin(async move { cron_ticks::last(c, &name).await }))
        .await?;
    let tz = bus.config.calendar.time_zone;
    if let Some(tick) = catch_up(&job.schedule, tz, last, now, bus.config.cron.missed) {
        tracing::info!(job = %job.name, %tick, "firing the tick missed while stopped");
        fire_tick(bus, job, tick).await?;
    }
    Ok(())
}

/// Claims `tick` of `job` and, when this scheduler won it and the day qualifies, sends its message.
pub async fn fire_tick(
    bus: &Bus,
    job: &CronJob,
    tick: DateTime<Utc>,
) -> Result<bool, jinguo_store::StoreError> {
    let local_date = tick
        .with_timezone(&bus.config.calendar.time_zone)
        .date_naive();
    let send = !job.working_days_only || bus.calendar.is_working_day(local_date, None);
    let (name, kind) = (job.name.clone(), job.kind.clone());
    bus.store
        .transaction(move |c| {
            Box::pin(async move {
                if !cron_ticks::claim(c, &name, tick, now()).await? {
                    return Ok(false);
                }
                if send {
                    let payload = serde_json::json!({ "job": name, "tick": tick });
                    outbox::push(c, &[crate::message(&kind, payload)], now()).await?;
                }
                Ok(true)
            })
        })
        .await
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
