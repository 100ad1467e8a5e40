//! The `jinguo` command-line program: `serve` (the default) runs the API and every worker in
//! one process; the other subcommands are operator tools.

/// `println!` for command output. A reader that goes away (`jinguo tour generate … | head`)
/// ends the program quietly with status 141, as a closed pipe ends coreutils; any other write
/// error is one line on stderr and status 1. `println!` would panic in both cases.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::write_stdout_line(format_args!($($arg)*))
    };
}

mod dlq;
mod keys;
mod serve;
mod tour;
mod users;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use jinguo_config::{Config, LogFormat};
use jinguo_store::Store;

/// 巾帼 Jinguo — workflows for the Gansu Women's Federation.
///
/// Configuration: config/default.toml (built in), then the file named by JINGUO_CONFIG,
/// then JINGUO_<SECTION>__<KEY> environment variables.
#[derive(Debug, Parser)]
#[command(name = "jinguo", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API and every worker in one process (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import data from files.
    #[command(subcommand)]
    Import(Import),
    /// Run one service: api (HTTP only), relay, reminders, dead-letters, or a worker.
    Run {
        /// The service to run.
        service: String,
    },
    /// Read and replay dead letters.
    #[command(subcommand)]
    Dlq(dlq::Dlq),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(users::User),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(users::Token),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(users::Audit),
    /// The case officers' on-duty roster per county.
    #[command(subcommand)]
    Duty(users::Duty),
    /// Lecture tours (陇原妇女面对面).
    #[command(subcommand)]
    Tour(tour::Tour),
    /// Data keys: re-seal personal data with the current key, count what each key seals.
    #[command(subcommand)]
    Keys(keys::Keys),
}

#[derive(Debug, Subcommand)]
enum Import {
    /// Import or update org units from a CSV file (columns code,name[,longitude,latitude,
    /// coordinates_generated]). All rows or none; re-importing updates names, never duplicates.
    Orgs {
        /// The CSV file.
        file: PathBuf,
    },
}

/// Runs one command to completion on a fresh multi-threaded runtime.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Pure computation on a file: needs neither configuration nor a database.
    if let Some(Command::Tour(command)) = cli.command {
        return tour::run(command);
    }
    let config = Arc::new(Config::load()?);
    init_tracing(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve::serve(config).await,
            Command::Migrate => migrate(&config).await,
            Command::Import(Import::Orgs { file }) => import_orgs(&config, &file).await,
            Command::Run { service } => serve::run_one(config, &service).await,
            Command::Dlq(command) => dlq::run(config, command).await,
            Command::User(command) => users::user(config, command).await,
            Command::Token(command) => users::token(config, command).await,
            Command::Audit(command) => users::audit(config, command).await,
            Command::Duty(command) => users::duty(config, command).await,
            Command::Keys(command) => keys::run(config, command).await,
            Command::Tour(_) => unreachable!("handled before start-up"),
        }
    })
}

/// Every consuming service of this deployment. Programs add theirs here as they land.
pub fn workers(config: &Config) -> anyhow::Result<Vec<jinguo_bus::Worker>> {
    let mailer = jinguo_mail::mailer_worker(config).map_err(anyhow::Error::msg)?;
    Ok(vec![
        mailer,
        jinguo_nominations::worker(config)?,
        jinguo_referrals::worker(config)?,
        jinguo_tour_program::worker(config)?,
    ])
}

/// Every RabbitMQ queue a deployment under `config` declares (its consumers, their broker
/// retry tiers, the dead letters): what a test or the bench deletes after running `jinguo`
/// under a prefix of its own.
pub fn declared_queues(config: &Config) -> anyhow::Result<Vec<String>> {
    Ok(jinguo_bus::rabbit::declared_queues(
        config,
        &workers(config)?,
    ))
}

/// The bus over a migrated store: workers and calendar.
fn bus(config: Arc<Config>, store: Store) -> anyhow::Result<jinguo_bus::Bus> {
    let calendar = config.calendar.load()?;
    Ok(jinguo_bus::Bus {
        store,
        workers: Arc::new(workers(&config)?),
        calendar: Arc::new(calendar),
        config,
    })
}

/// Long-running services say at start when the calendar lacks this year or the next.
fn warn_about_calendar_gaps(bus: &jinguo_bus::Bus) {
    let tz = bus.config.calendar.time_zone;
    let this_year = chrono::Datelike::year(&chrono::Utc::now().with_timezone(&tz));
    let missing = bus.calendar.missing_years(this_year, this_year + 1);
    if !missing.is_empty() {
        tracing::warn!(
            ?missing,
            "no holiday data for these years: working days fall back to Monday–Friday \
             (add config/calendar/<year>.toml or a file in calendar.dir)"
        );
    }
}

/// The store, migrated, and the bus over it.
async fn open_bus(config: Arc<Config>) -> anyhow::Result<jinguo_bus::Bus> {
    let store = open_store(&config).await?;
    store.migrate().await.context("migrating")?;
    bus(config, store)
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = &config.database.url;
    Store::connect(&config.database)
        .await
        .with_context(|| format!("opening database {url:?}"))
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let applied = store.migrate().await.context("migrating")?;
    if applied.is_empty() {
        outln!("数据库已是最新 (database is up to date)");
    } else {
        outln!(
            "已应用 {} 个迁移 (applied: {})",
            applied.len(),
            applied.join(", ")
        );
    }
    Ok(())
}

async fn import_orgs(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let store = open_store(config).await?;
    store.migrate().await.context("migrating")?;
    let summary = jinguo_store::seed::import_orgs(&store, &text)
        .await
        .with_context(|| format!("importing {}", file.display()))?;
    outln!(
        "导入完成：新增 {}，更名 {}，未变 {} (inserted {}, renamed {}, unchanged {})",
        summary.inserted,
        summary.renamed,
        summary.unchanged,
        summary.inserted,
        summary.renamed,
        summary.unchanged
    );
    Ok(())
}

fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.filter)
        .map_err(|e| anyhow::anyhow!("configuration: log.filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match config.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (tests running commands in-process) keeps the first subscriber.
    drop(installed);
    Ok(())
}

/// The body of `outln!`.
pub(crate) fn write_stdout_line(line: std::fmt::Arguments) {
    use std::io::Write;
    let written = writeln!(std::io::stdout().lock(), "{line}");
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(141),
        Err(e) => {
            eprintln!("error: writing to standard output: {e}");
            std::process::exit(1);
        }
    }
}
