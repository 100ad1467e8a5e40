//! Which services a process runs: `jinguo run <service>` runs one, `jinguo serve` all of them.

use crate::{Bus, CancellationToken, local, rabbit, scheduler};

/// The services that are not workers.
pub const BUILT_IN: [&str; 3] = ["relay", "reminders", "dead-letters"];

#[derive(Debug, thiserror::Error)]
#[error("unknown service {0:?}; known: {1}")]
pub struct UnknownService(pub String, pub String);

/// Every service name this deployment knows.
pub fn names(bus: &Bus) -> Vec<String> {
    BUILT_IN
        .iter()
        .map(|s| s.to_string())
        .chain(bus.workers.iter().map(|w| w.name.clone()))
        .collect()
}

/// Runs one service until `shutdown`.
pub async fn run(
    bus: Bus,
    service: &str,
    shutdown: CancellationToken,
) -> Result<(), UnknownService> {
    let listening = tokio::spawn(listen_to_other_processes(bus.clone(), shutdown.clone()));
    let result = run_service(bus, service, shutdown).await;
    listening.abort();
    result
}

/// On PostgreSQL, wakes this process's relay and consumers when another process commits queued
/// work (`LISTEN`, reconnecting after a second when the connection fails; polling covers the
/// gap), until `shutdown`. Nothing to do on SQLite: the embedded default is one process.
async fn listen_to_other_processes(bus: Bus, shutdown: CancellationToken) {
    let jinguo_config::DatabaseUrl::Postgres(url) = &bus.config.database.url else {
        return;
    };
    while !shutdown.is_cancelled() {
        tokio::select! {
            () = shutdown.cancelled() => return,
            result = jinguo_store::listen_for_wakeups(url) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "listening for wake-ups failed; polling until it is back");
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

async fn run_service(
    bus: Bus,
    service: &str,
    shutdown: CancellationToken,
) -> Result<(), UnknownService> {
    let rabbit = bus.config.amqp.url.is_some();
    match service {
        "relay" if rabbit => rabbit::run_relay(bus, shutdown).await,
        "relay" => local::run_relay(bus, shutdown).await,
        "reminders" => scheduler::run(bus, shutdown).await,
        "dead-letters" if rabbit => rabbit::run_dead_letter_drain(bus, shutdown).await,
        // The in-process bus writes dead letters straight to the table: nothing to drain.
        "dead-letters" => shutdown.cancelled().await,
        name => {
            let Some(worker) = bus.workers.iter().find(|w| w.name == name).cloned() else {
                return Err(UnknownService(name.to_owned(), names(&bus).join(", ")));
            };
            if rabbit {
                rabbit::run_worker(bus, worker, shutdown).await
            } else {
                local::run_worker(bus, worker, shutdown).await
            }
        }
    }
    Ok(())
}

/// Runs every service in this process until `shutdown`, then waits for each to finish.
pub async fn run_all(bus: Bus, shutdown: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    for name in names(&bus) {
        let (bus, shutdown) = (bus.clone(), shutdown.clone());
        tasks.spawn(async move { run_service(bus, &name, shutdown).await });
    }
    let listening = tokio::spawn(listen_to_other_processes(bus, shutdown));
    while tasks.join_next().await.is_some() {}
    listening.abort();
}
