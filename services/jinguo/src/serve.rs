//! `jinguo serve`: migrate, load the built-in org tree into an empty database, serve HTTP
//! until Ctrl-C or SIGTERM, then finish what is in flight and exit 0.
//!
//! Audit checkpoints go with the scheduler: the process that runs it (`serve`, or `run
//! reminders`) signs the audit chain's head every `audit.checkpoint_seconds` when the log has
//! grown, and once more after its services stopped.

use std::sync::Arc;

use anyhow::Context;
use jinguo_api::AppState;
use jinguo_bus::CancellationToken;
use jinguo_config::Config;
use jinguo_store::Store;
use tokio::net::TcpListener;

/// The service whose process also writes the audit checkpoints.
const CHECKPOINTS_WITH: &str = "reminders";

pub(crate) async fn serve(config: Arc<Config>) -> anyhow::Result<()> {
    let store = crate::open_store(&config).await?;
    let applied = store.migrate().await.context("migrating")?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "migrations applied");
    }
    if let Some(summary) = jinguo_store::seed::load_gansu_if_empty(&store)
        .await
        .context("loading the built-in Gansu org tree")?
    {
        tracing::info!(
            units = summary.inserted,
            "org tree was empty: loaded built-in Gansu tree"
        );
    }

    let demo = if matches!(config.database.url, jinguo_config::DatabaseUrl::Sqlite(_)) {
        crate::users::create_demo_staff(&store)
            .await
            .context("creating demo staff")?
    } else {
        Vec::new()
    };

    let (listener, local) = listen(&config).await?;
    outln!("巾帼 Jinguo 已启动：http://{local}/");
    if !demo.is_empty() {
        let base = &config.http.public_url;
        outln!(
            "首次运行，已创建演示账号（皋兰县）。登录：打开 {base}/signin 输入邮箱，再到 {base}/dev/mailbox 打开登录链接。"
        );
        for (email, label) in &demo {
            outln!("  {label}: {email}");
        }
    }

    let shutdown = CancellationToken::new();
    let bus = crate::bus(config.clone(), store.clone())?;
    crate::warn_about_calendar_gaps(&bus);
    let services = tokio::spawn(jinguo_bus::services::run_all(bus, shutdown.clone()));
    let checkpoints = tokio::spawn(audit_checkpoints(
        config.clone(),
        store.clone(),
        shutdown.clone(),
    ));
    let state = AppState::new(store.clone(), config.clone())?;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    let http_stop = shutdown.clone();
    jinguo_api::serve(listener, state, async move { http_stop.cancelled().await })
        .await
        .context("serving HTTP")?;
    shutdown.cancel();
    services.await.context("stopping services")?;
    checkpoints.await.context("stopping audit checkpoints")?;
    audit_checkpoint(&config, &store).await;
    log_database_work();
    tracing::info!("stopped");
    Ok(())
}

/// Binds `http.addr` and says where it serves.
async fn listen(config: &Config) -> anyhow::Result<(TcpListener, std::net::SocketAddr)> {
    let addr = config.http.addr;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} (http.addr)"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    tracing::info!(
        %local,
        database = config.database.url.backend_name(),
        bus = if config.amqp.url.is_some() { "rabbitmq" } else { "in-process" },
        "jinguo serving"
    );
    Ok((listener, local))
}

/// The service `jinguo run api` names: the HTTP API alone.
const API: &str = "api";

/// `jinguo run api`: the HTTP API and nothing else — no relay, no worker — so that production
/// scales it apart from the workers (`jinguo run relay`, `jinguo run <worker>`). It neither
/// migrates nor loads data: `jinguo migrate` does, once, before.
async fn api_only(config: Arc<Config>) -> anyhow::Result<()> {
    let store = crate::open_store(&config).await?;
    let (listener, _) = listen(&config).await?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    let state = AppState::new(store, config.clone())?;
    jinguo_api::serve(listener, state, async move { shutdown.cancelled().await })
        .await
        .context("serving HTTP")?;
    log_database_work();
    tracing::info!(service = API, "stopped");
    Ok(())
}

/// `jinguo run SERVICE`: one service in this process until Ctrl-C or SIGTERM.
pub(crate) async fn run_one(config: Arc<Config>, service: &str) -> anyhow::Result<()> {
    if service == API {
        return api_only(config).await;
    }
    let bus = crate::open_bus(config.clone()).await?;
    let known = jinguo_bus::services::names(&bus);
    if !known.iter().any(|k| k == service) {
        anyhow::bail!(
            "unknown service {service:?}; known: {API}, {}",
            known.join(", ")
        );
    }
    crate::warn_about_calendar_gaps(&bus);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    let checkpoints = (service == CHECKPOINTS_WITH).then(|| {
        tokio::spawn(audit_checkpoints(
            config.clone(),
            bus.store.clone(),
            shutdown.clone(),
        ))
    });
    let store = bus.store.clone();
    jinguo_bus::services::run(bus, service, shutdown).await?;
    if let Some(checkpoints) = checkpoints {
        checkpoints.await.context("stopping audit checkpoints")?;
        audit_checkpoint(&config, &store).await;
    }
    log_database_work();
    tracing::info!(service, "stopped");
    Ok(())
}

/// What the process did to the database in its life, for `jinguo-bench workflow`
/// (statements and commits per transition) and for an operator comparing processes.
fn log_database_work() {
    let work = jinguo_store::database_work();
    tracing::info!(
        statements = work.statements,
        commits = work.commits,
        "database work"
    );
}

/// Signs the audit chain's head every `audit.checkpoint_seconds` (the first at once) when the
/// log has grown, until `shutdown`. Zero seconds turns the periodic checkpoints off.
async fn audit_checkpoints(config: Arc<Config>, store: Store, shutdown: CancellationToken) {
    let every = config.audit.checkpoint_every;
    if every.is_zero() {
        tracing::warn!("audit.checkpoint_seconds = 0: no periodic audit checkpoints");
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => audit_checkpoint(&config, &store).await,
            () = shutdown.cancelled() => return,
        }
    }
}

/// One checkpoint if the log has grown; a failure is logged (a refusal every time until an
/// operator looks: the checkpoint file no longer matches the log).
async fn audit_checkpoint(config: &Config, store: &Store) {
    let written = jinguo_auth::checkpoint::write(
        store,
        &config.audit.checkpoint_key,
        &config.audit.checkpoint_file,
        jinguo_bus::now(),
    )
    .await;
    if let Err(e) = written {
        tracing::error!(
            error = %jinguo_core::error_chain(&e),
            "audit checkpoint not written"
        );
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing requests in flight");
}
