//! Before the load: a fresh database (PostgreSQL) or file (SQLite), 皋兰县's org units, one
//! reviewer per unit used, a county admin with an API token, and a campaign.

use std::path::Path;

use anyhow::{Context, bail};
use tokio_postgres::NoTls;

use crate::procs::Jinguo;

/// The demo county: every nomination goes to one of its villages.
pub const COUNTY: &str = "620122000000";

/// The built-in org tree; the run imports 皋兰县 and the units above it.
const GANSU_ORGS_CSV: &str = include_str!("../../../seed/gansu-orgs.csv");

/// The county's villages (12 digits, not ending in 000) and their townships, in file order.
pub fn villages() -> Vec<String> {
    GANSU_ORGS_CSV
        .lines()
        .filter_map(|l| l.split(',').next())
        .filter(|c| c.starts_with(&COUNTY[..6]) && !c.ends_with("000"))
        .map(str::to_owned)
        .collect()
}

/// The village's township: the first 9 digits, padded.
pub fn township_of(village: &str) -> String {
    format!("{}000", &village[..9])
}

/// Writes the units the run needs (province, city, the county's subtree) as an import file.
pub fn write_orgs(path: &Path) -> anyhow::Result<()> {
    let mut lines = GANSU_ORGS_CSV.lines();
    let mut out = String::from(lines.next().unwrap_or("code,name"));
    out.push('\n');
    for line in lines {
        let code = line.split(',').next().unwrap_or("");
        if code == "620000000000" || code == "620100000000" || code.starts_with(&COUNTY[..6]) {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// The admin's address; the token belongs to this person.
pub const ADMIN: &str = "admin@bench.invalid";

/// Every person of the run as a `jinguo user import` file: the admin and a county reviewer,
/// and one reviewer for each village and township used.
pub fn write_staff(path: &Path, villages: &[String]) -> anyhow::Result<usize> {
    let mut rows = vec![
        format!("{ADMIN},县管理员,admin,{COUNTY}"),
        format!("c{COUNTY}@bench.invalid,县审核员,reviewer,{COUNTY}"),
    ];
    let mut townships: Vec<String> = villages.iter().map(|v| township_of(v)).collect();
    townships.sort();
    townships.dedup();
    for t in &townships {
        rows.push(format!("t{t}@bench.invalid,乡镇审核员,reviewer,{t}"));
    }
    for v in villages {
        rows.push(format!("v{v}@bench.invalid,村审核员,reviewer,{v}"));
    }
    let text = format!("email,name,role,org\n{}\n", rows.join("\n"));
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(rows.len())
}

/// Imports units and staff through the CLI and returns the admin's API token.
pub fn people(jinguo: &Jinguo, villages: &[String]) -> anyhow::Result<(String, usize)> {
    let orgs = jinguo.dir.join("orgs.csv");
    write_orgs(&orgs)?;
    jinguo
        .run(&["import", "orgs", &orgs.to_string_lossy()])
        .context("importing the org units")?;
    let staff = jinguo.dir.join("staff.csv");
    let count = write_staff(&staff, villages)?;
    jinguo
        .run(&["user", "import", &staff.to_string_lossy()])
        .context("importing the staff")?;
    let printed = jinguo
        .run(&["token", "create", "--email", ADMIN])
        .context("creating the admin's token")?;
    // The command prints a sentence and the token; the token is the one long word.
    let token = printed
        .split_whitespace()
        .filter(|w| w.len() > 30)
        .max_by_key(|w| w.len())
        .with_context(|| format!("no token in {printed:?}"))?;
    Ok((token.to_owned(), count))
}

/// Creates the campaign over the API (no quotas, 3 days of 公示) and returns its id.
pub async fn campaign(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "name": "基准测试", "year": 2026, "scope_org": &COUNTY[..6],
        "rules": { "categories": ["最美家庭"],
                   "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d" }
    });
    let r = client
        .post(format!("{base}/api/v1/campaigns"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .context("creating the campaign")?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("creating the campaign: {status}: {text}");
    }
    let v: serde_json::Value = serde_json::from_str(&text).context("campaign answer")?;
    v["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {text}"))
}

/// Waits until `GET /healthz` answers 200, failing early when a process exited.
pub async fn wait_healthy(
    client: &reqwest::Client,
    base: &str,
    procs: &crate::procs::Procs,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    loop {
        procs.check_alive()?;
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            bail!("{base}/healthz did not answer within 60 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A free local TCP port (bound, then released for the process that will use it).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// A plain client on `url`, its connection driven in the background.
pub async fn pg_connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact(url)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let mut u = reqwest::Url::parse(url).with_context(|| format!("parsing {}", redact(url)))?;
    u.set_path(&format!("/{database}"));
    Ok(u.to_string())
}

/// A URL for messages: never its password.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

/// Creates the run's database on the server of `admin_url`.
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = pg_connect(admin_url).await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .with_context(|| format!("creating database {name}"))?;
    Ok(())
}

/// Drops the run's database, closing whatever still uses it.
pub async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = pg_connect(admin_url).await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .with_context(|| format!("dropping database {name}"))?;
    Ok(())
}

/// Deletes the queues and exchanges Jinguo declared under `prefix` (the default vhost is shared,
/// so the run's own names are the isolation, as in tests/src/bus.rs).
pub async fn delete_broker_names(amqp_url: &str, prefix: &str) -> anyhow::Result<()> {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let conn = lapin::Connection::connect(amqp_url, lapin::ConnectionProperties::default())
        .await
        .context("connecting to RabbitMQ for clean-up")?;
    // Every queue the deployment declares: jinguo's own list of its workers, with the broker
    // retry tiers of the default `messaging.retry_delays` the bench runs with.
    let config =
        jinguo_config::Config::from_env([("JINGUO_AMQP__PREFIX".to_owned(), prefix.to_owned())])
            .context("the configuration whose queues to delete")?;
    let queues = jinguo::declared_queues(&config)?;
    for q in queues {
        // A channel each: deleting something absent may close the channel.
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for e in [prefix.to_owned(), format!("{prefix}.dead")] {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "bench clean-up".into()).await;
    Ok(())
}
