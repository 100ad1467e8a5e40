//! `jinguo-bench workflow`: runs Jinguo's services as separate processes (or one embedded
//! `serve`), drives the nomination workflow through them as reviewers would, and measures it
//! beside the raw limits of the database and the broker in the same run (docs/bench-workflow.md).

mod driver;
mod mime;
mod procs;
mod raw;
mod report;
mod setup;
mod sink;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::driver::Driver;
use crate::procs::{CpuSnapshot, Jinguo, Procs};

/// Benchmarks of Jinguo.
#[derive(Debug, Parser)]
#[command(name = "jinguo-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Submit N nominations through the API and approve each emailed link village → township
    /// → county with C concurrent reviewers; then half the measured rate, open loop; then the
    /// raw limits. A table on stdout, then one JSON line; progress on stderr.
    Workflow(WorkflowArgs),
}

#[derive(Debug, Clone, Args)]
struct WorkflowArgs {
    /// Nominations of the full-load phase (the half-load phase adds a quarter, at least 50).
    #[arg(long, default_value_t = 5000)]
    nominations: u64,
    /// Concurrent reviewers (and the client count of the raw limits).
    #[arg(long, default_value_t = 50)]
    reviewers: usize,
    /// One `jinguo serve` on a scratch SQLite file with the in-process bus and file mail.
    #[arg(long)]
    embedded: bool,
    /// With --embedded: mail over SMTP to the bench's sink instead of files.
    #[arg(long, requires = "embedded")]
    smtp: bool,
    /// The jinguo binary; default: `jinguo` next to this executable.
    #[arg(long)]
    jinguo: Option<PathBuf>,
    /// Keep the scratch database and directory (logs) instead of removing them.
    #[arg(long)]
    keep: bool,
    /// The PostgreSQL server; the run creates and drops a database of its own there.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// The RabbitMQ broker; the run's queues live under a prefix of its own.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
    /// How long each raw limit is measured.
    #[arg(long, default_value_t = 3.0)]
    raw_seconds: f64,
}

fn main() -> ExitCode {
    let Command::Workflow(args) = Cli::parse().command;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cleanup = Arc::new(Cleanup::new(args.keep));
    let outcome = runtime.block_on(async {
        let run = workflow(args, cleanup.clone());
        let outcome = tokio::select! {
            r = run => r,
            () = interrupted() => Err(anyhow::anyhow!("interrupted")),
        };
        // Every path (done, error, Ctrl-C) comes through here: the run future is dropped, so
        // nothing of it still uses the processes, the database or the queues.
        cleanup.finish().await;
        outcome
    });
    match outcome {
        Ok(r) => {
            println!("{}", report::table(&r));
            println!("{r}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

/// What a run leaves behind, undone by [`Cleanup::finish`] (or, for the processes, on drop).
struct Cleanup {
    procs: Procs,
    keep: bool,
    database: Mutex<Option<(String, String)>>,
    broker: Mutex<Option<(String, String)>>,
    dir: Mutex<Option<PathBuf>>,
}

impl Cleanup {
    fn new(keep: bool) -> Cleanup {
        Cleanup {
            procs: Procs::default(),
            keep,
            database: Mutex::new(None),
            broker: Mutex::new(None),
            dir: Mutex::new(None),
        }
    }

    async fn finish(&self) {
        self.procs.stop_all(Duration::from_secs(15));
        let broker = self.broker.lock().expect("cleanup").take();
        if let Some((url, prefix)) = broker
            && let Err(e) = setup::delete_broker_names(&url, &prefix).await
        {
            eprintln!("warning: {e:#}");
        }
        let database = self.database.lock().expect("cleanup").take();
        let dir = self.dir.lock().expect("cleanup").take();
        if self.keep {
            if let Some((_, name)) = database {
                eprintln!("kept database {name}");
            }
            if let Some(dir) = dir {
                eprintln!("kept {}", dir.display());
            }
            return;
        }
        if let Some((admin, name)) = database {
            match setup::drop_database(&admin, &name).await {
                Ok(()) => eprintln!("dropped database {name}"),
                Err(e) => eprintln!("warning: {e:#}"),
            }
        }
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // A panic skips finish(): the processes at least must not outlive the bench.
        self.procs.stop_all(Duration::from_secs(5));
    }
}

/// `jinguo` next to this executable: the same target directory and profile.
fn default_jinguo() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let bin = exe
        .parent()
        .context("this executable has no directory")?
        .join(format!("jinguo{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!(
            "{} is missing: build it (`cargo build -p jinguo`, with --release for a release \
             bench) or pass --jinguo PATH",
            bin.display()
        );
    }
    Ok(bin)
}

fn progress(line: &str) {
    eprintln!("[bench] {line}");
}

async fn workflow(args: WorkflowArgs, cleanup: Arc<Cleanup>) -> anyhow::Result<Value> {
    if args.nominations == 0 || args.reviewers == 0 {
        bail!("--nominations and --reviewers must be at least 1");
    }
    let bin = match &args.jinguo {
        Some(p) => p.clone(),
        None => default_jinguo()?,
    };
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("jinguo-bench-{pid}"));
    std::fs::create_dir_all(dir.join("data"))
        .with_context(|| format!("creating {}", dir.display()))?;
    *cleanup.dir.lock().expect("cleanup") = Some(dir.clone());
    progress(&format!(
        "jinguo: {}; scratch: {}",
        bin.display(),
        dir.display()
    ));

    // Mail first, so nothing the services send is missed.
    let (mail_tx, mail_rx) = tokio::sync::mpsc::unbounded_channel();
    let file_mail = args.embedded && !args.smtp;
    let mail_dir = dir.join("data/mail");
    let smtp_port = if file_mail {
        sink::watch_files(mail_dir.clone(), dir.join("mail-seen"), mail_tx);
        None
    } else {
        Some(sink::smtp(mail_tx).await?)
    };

    let port = setup::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut env: Vec<(String, String)> = vec![
        ("JINGUO_HTTP__ADDR".into(), format!("127.0.0.1:{port}")),
        ("JINGUO_HTTP__PUBLIC_URL".into(), base.clone()),
        (
            "JINGUO_DATA_DIR".into(),
            dir.join("data").display().to_string(),
        ),
        ("JINGUO_LOG__FORMAT".into(), "json".into()),
        ("JINGUO_LOG__FILTER".into(), "info".into()),
        // Every reviewer comes from 127.0.0.1: the per-address limit on action links (60 a
        // minute, against link-guessing) would otherwise refuse the bench after a second.
        (
            "JINGUO_AUTH__RATE_LIMIT_PER_IP_PER_MINUTE".into(),
            "1000000000".into(),
        ),
    ];
    if let Some(p) = smtp_port {
        env.push((
            "JINGUO_MAIL__SMTP_URL".into(),
            format!("smtp://127.0.0.1:{p}"),
        ));
    } else {
        env.push(("JINGUO_MAIL__DIR".into(), mail_dir.display().to_string()));
    }
    let database = format!("jinguo_bench_{pid}");
    let db_url;
    let mode;
    if args.embedded {
        mode = if args.smtp {
            "embedded+smtp"
        } else {
            "embedded"
        };
        db_url = format!("sqlite://{}", dir.join("data/jinguo.db").display());
    } else {
        mode = "postgres+rabbitmq";
        setup::create_database(&args.postgres_url, &database).await?;
        *cleanup.database.lock().expect("cleanup") =
            Some((args.postgres_url.clone(), database.clone()));
        db_url = setup::with_database(&args.postgres_url, &database)?;
        let prefix = format!("jbench{pid}");
        *cleanup.broker.lock().expect("cleanup") = Some((args.amqp_url.clone(), prefix.clone()));
        env.push(("JINGUO_AMQP__URL".into(), args.amqp_url.clone()));
        env.push(("JINGUO_AMQP__PREFIX".into(), prefix));
        progress(&format!("database {database}"));
    }
    env.push(("JINGUO_DATABASE__URL".into(), db_url));
    let jinguo = Jinguo {
        bin,
        dir: dir.clone(),
        env,
    };

    progress("migrating, importing 皋兰县 and its staff, creating the admin's token");
    if !args.embedded {
        jinguo.run(&["migrate"]).context("migrating")?;
    }
    let villages = setup::villages();
    let (token, people) = setup::people(&jinguo, &villages)?;
    progress(&format!("{people} people over {} villages", villages.len()));

    let procs = cleanup.procs.clone();
    if args.embedded {
        procs.spawn(&jinguo, "serve", &["serve"])?;
    } else {
        for service in ["api", "relay", "nominations", "mailer"] {
            procs.spawn(&jinguo, service, &["run", service])?;
        }
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(args.reviewers * 2)
        .build()
        .context("building the HTTP client")?;
    setup::wait_healthy(&client, &base, &procs).await?;
    let campaign = setup::campaign(&client, &base, &token).await?;
    progress(&format!(
        "services up ({}); campaign {campaign}",
        procs
            .list()
            .iter()
            .map(|(n, p)| format!("{n} pid {p}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let driver = Driver::new(client, base, token, campaign, villages);
    driver.dispatch(mail_rx);
    let ticks = procs::clock_ticks();
    let stats = if args.embedded {
        None
    } else {
        Some(setup::pg_connect(&args.postgres_url).await?)
    };
    let commits = async |stats: &Option<tokio_postgres::Client>| -> anyhow::Result<Option<u64>> {
        let Some(c) = stats else { return Ok(None) };
        // Backends report their counters when idle, at most once a second.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let row = c
            .query_one(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                &[&database],
            )
            .await
            .context("reading pg_stat_database")?;
        Ok(Some(row.get::<_, i64>(0) as u64))
    };

    let delta = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));

    // Full load, closed loop.
    let n = args.nominations;
    progress(&format!(
        "full load: {n} nominations, {} reviewers",
        args.reviewers
    ));
    // The services' commits while nobody works (polling backstops, listeners), so that the
    // per-transition number below can be read against it.
    let idle_from = (commits(&stats).await?, std::time::Instant::now());
    let commits_before = commits(&stats).await?;
    let idle_commits_per_s =
        delta(idle_from.0, commits_before).map(|c| c as f64 / idle_from.1.elapsed().as_secs_f64());
    let cpu_before = CpuSnapshot::take(&procs, !args.embedded);
    let full = driver.closed_loop(0, n, args.reviewers, &procs).await?;
    let cpu_full = cpu_before.ms_until(&CpuSnapshot::take(&procs, !args.embedded), ticks);
    let commits_full = commits(&stats).await?;
    progress(&format!(
        "full load: {} transitions in {:.1} s = {:.0}/s",
        full.transitions,
        full.seconds,
        full.per_second()
    ));

    // Half load, open loop.
    let n2 = (n / 4).max(50);
    let target = full.per_second() / 2.0;
    progress(&format!(
        "half load: {n2} nominations at {target:.0} requests/s, open loop"
    ));
    let cpu_before = CpuSnapshot::take(&procs, !args.embedded);
    let half = driver.open_loop(n, n2, target, &procs).await?;
    let cpu_half = cpu_before.ms_until(&CpuSnapshot::take(&procs, !args.embedded), ticks);
    let commits_half = commits(&stats).await?;
    progress(&format!(
        "half load: {} transitions in {:.1} s = {:.0}/s",
        half.transitions,
        half.seconds,
        half.per_second()
    ));

    let (in_publicity, submitted) = driver.final_states(args.reviewers).await;
    // Peak memory before the processes go; the extra review mails need a moment to land.
    let mut rss = serde_json::Map::new();
    for (name, pid) in procs.list() {
        let mib = procs::peak_rss_kib(pid).map(|k| k as f64 / 1024.0);
        rss.insert(
            format!("jinguo {name}"),
            json!(mib.map(|m| (m * 10.0).round() / 10.0)),
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    progress("stopping the services");
    let stopped = procs.stop_all(Duration::from_secs(30));
    let transitions = full.transitions + half.transitions;
    let mut statements = serde_json::Map::new();
    let mut logged_commits = serde_json::Map::new();
    for s in &stopped {
        let work = procs::database_work(&s.log);
        let per = |x: u64| json!(((x as f64 / transitions.max(1) as f64) * 100.0).round() / 100.0);
        statements.insert(
            format!("jinguo {}", s.name),
            work.map_or(Value::Null, |w| per(w.0)),
        );
        logged_commits.insert(
            format!("jinguo {}", s.name),
            work.map_or(Value::Null, |w| per(w.1)),
        );
        if !s.exit.contains("exit status: 0") {
            progress(&format!("jinguo {} ended: {}", s.name, s.exit));
        }
    }

    progress(&format!(
        "raw limits, {} clients, {} s each",
        args.reviewers, args.raw_seconds
    ));
    let mut raw = serde_json::Map::new();
    let raw_rate;
    if args.embedded {
        let rate = raw::sqlite(&dir.join("raw.db"), args.reviewers, args.raw_seconds).await?;
        raw.insert("sqlite_commits_per_s".into(), json!(rate.round()));
        raw_rate = rate;
    } else {
        let db_url = setup::with_database(&args.postgres_url, &database)?;
        let pg = raw::postgres(&db_url, args.reviewers, args.raw_seconds).await?;
        let queue = format!("jbench{pid}.raw");
        let mq = raw::rabbitmq(&args.amqp_url, &queue, args.reviewers, args.raw_seconds).await?;
        raw.insert("postgres_commits_per_s".into(), json!(pg.round()));
        raw.insert("rabbitmq_confirms_per_s".into(), json!(mq.round()));
        raw_rate = pg;
    }

    let mut full_json = report::phase(
        &full,
        &driver.latencies(&full),
        Some(raw_rate),
        &cpu_full,
        delta(commits_before, commits_full),
    );
    full_json["target_per_s"] = Value::Null;
    let mut half_json = report::phase(
        &half,
        &driver.latencies(&half),
        Some(raw_rate),
        &cpu_half,
        delta(commits_full, commits_half),
    );
    half_json["target_per_s"] = json!((target * 10.0).round() / 10.0);
    let mails = driver.mails();
    let expected = (n + n2) * u64::from(driver::LEVELS);
    let errors: BTreeMap<String, u64> = driver.errors();
    Ok(json!({
        "bench": "workflow",
        "mode": mode,
        "reviewers": args.reviewers,
        "raw": raw,
        "full": full_json,
        "half": half_json,
        "statements_per_transition": statements,
        "logged_commits_per_transition": logged_commits,
        "peak_rss_mib": rss,
        "idle_commits_per_s": idle_commits_per_s.map(|c| (c * 10.0).round() / 10.0),
        "mails": {
            "review_sent": mails.review,
            "expected": expected,
            "duplicates": mails.duplicates,
            "extra_review": mails.extra_review,
            "other": mails.other,
            "reviewers_mailed": mails.recipients,
        },
        "errors": errors,
        "final": { "in_publicity": in_publicity, "submitted": submitted, "expected": n + n2 },
    }))
}
