//! `jinguo user …`, `jinguo token create`, `jinguo audit verify|checkpoint`, and the demo staff
//! of the embedded default's first run.

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use jinguo_auth::Secret;
use jinguo_auth::checkpoint::{self, Written};
use jinguo_auth::staff::{Grantor, NewStaff, StaffError, parse_assignment, parse_email};
use jinguo_config::Config;
use jinguo_core::org::OrgCode;
use jinguo_core::text::printable;
use jinguo_store::{Store, StoreError, audit, links, orgs, staff};

#[derive(Debug, Subcommand)]
pub(crate) enum User {
    /// Add a staff member (mailed a welcome), or another role for a known email.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, reviewer, coordinator, case_officer, agency_liaison, supervisor or viewer.
        #[arg(long)]
        role: String,
        /// The org unit (statistical division code) the role is held at.
        #[arg(long)]
        org: String,
        /// For agency_liaison: police, court, procuratorate, civil_affairs, justice, health,
        /// education or federation.
        #[arg(long)]
        agency: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// List staff, optionally of one subtree.
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Disable a staff member: their sessions end, tokens and links stop working, and their
    /// open review tasks pass to the other reviewers of their unit.
    Disable {
        #[arg(long)]
        email: String,
        /// Confirm without being asked.
        #[arg(long)]
        yes: bool,
    },
    /// Enable a disabled staff member again (they sign in anew; old links stay invalid).
    Enable {
        #[arg(long)]
        email: String,
        /// Confirm without being asked.
        #[arg(long)]
        yes: bool,
    },
    /// Import staff from CSV (email,name,role,org[,agency,phone], or the admin page's Chinese
    /// template): all rows or none; each new person is mailed a welcome.
    Import { file: std::path::PathBuf },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Token {
    /// Create a bearer token for the API and print it once (only its hash is kept).
    Create {
        #[arg(long)]
        email: String,
        /// Days until it expires; without it, it does not expire.
        #[arg(long)]
        expires_days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Duty {
    /// Put a case officer on a county's duty roster for a shift.
    Add {
        #[arg(long)]
        email: String,
        /// The county-level unit (statistical division code).
        #[arg(long)]
        county: String,
        /// Start, local time (calendar.time_zone): "2026-12-01 08:30".
        #[arg(long)]
        from: String,
        /// End, local time.
        #[arg(long)]
        to: String,
    },
    /// Show a county's shifts from now on, and who is on duty now.
    List {
        #[arg(long)]
        county: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Audit {
    /// Walk the hash chain of the audit log and name the first broken row, then compare the
    /// chain with the signed checkpoint in audit.checkpoint_file (rows deleted from the end).
    Verify,
    /// Sign a checkpoint of the chain's head now, into audit.checkpoint_file and the log (the
    /// scheduler does this every audit.checkpoint_seconds).
    Checkpoint,
}

const CLI: &str = "cli";

async fn store(config: &Config) -> anyhow::Result<Store> {
    let store = crate::open_store(config).await?;
    store.migrate().await.context("migrating")?;
    Ok(store)
}

fn staff_error(e: StaffError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub(crate) async fn user(config: Arc<Config>, command: User) -> anyhow::Result<()> {
    let store = store(&config).await?;
    match command {
        User::Add {
            email,
            name,
            role,
            org,
            agency,
            phone,
        } => {
            let email = parse_email(&email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
            let assignment = parse_assignment(&role, &org, agency.as_deref())
                .map_err(|(f, m)| anyhow::anyhow!("--{f}: {m}"))?;
            let s = NewStaff {
                email: email.clone(),
                name,
                phone,
                assignment,
            };
            let public_url = config.http.public_url.clone();
            let (_, new) = store
                .transaction(move |c| {
                    Box::pin(async move {
                        jinguo_auth::staff::onboard(
                            c,
                            &s,
                            Grantor::Operator,
                            &public_url,
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await
                .map_err(|e| match e {
                    StaffError::Invalid { field, message } => {
                        anyhow::anyhow!("--{field}: {message}")
                    }
                    other => staff_error(other),
                })?;
            outln!(
                "{} {email} ({role} @ {org})",
                if new {
                    "已添加 (added)"
                } else {
                    "已增加角色 (role added)"
                }
            );
        }
        User::List { org } => {
            let org = org
                .map(|o| OrgCode::parse(&o))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--org: {e}"))?;
            let list = store.read(move |c| Box::pin(staff::list(c, org))).await?;
            for s in list {
                let roles: Vec<String> = s
                    .assignments
                    .iter()
                    .map(|a| format!("{}@{}", a.role, a.org))
                    .collect();
                // Names and emails come from the database: never print control characters.
                outln!(
                    "{:<32} {:<12} {:<8} {}",
                    printable(&s.email),
                    printable(&s.display_name),
                    if s.active { "active" } else { "disabled" },
                    roles.join(" ")
                );
            }
        }
        User::Disable { email, yes } => set_active(&store, &email, false, yes).await?,
        User::Enable { email, yes } => set_active(&store, &email, true, yes).await?,
        User::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let rows = jinguo_auth::staff::parse_csv(&text)
                .map_err(staff_error)
                .with_context(|| format!("importing {}", file.display()))?;
            let public_url = config.http.public_url.clone();
            let (people, roles) = store
                .transaction(move |c| {
                    Box::pin(async move {
                        jinguo_auth::staff::import(
                            c,
                            &rows,
                            Grantor::Operator,
                            &public_url,
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await
                .map_err(staff_error)
                .with_context(|| format!("importing {}", file.display()))?;
            outln!(
                "导入完成：新增人员 {people}，角色 {roles} (people added {people}, roles {roles})"
            );
        }
    }
    Ok(())
}

/// Disables or enables the staff member with `email`, after a confirmation: `--yes`, or `y` typed
/// at the prompt on a terminal.
async fn set_active(store: &Store, email: &str, active: bool, yes: bool) -> anyhow::Result<()> {
    let email = parse_email(email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let what = if active {
        format!("enable {email}: they may sign in and act again")
    } else {
        format!(
            "disable {email}: end their sessions, revoke their tokens and links, and pass their open review tasks on"
        )
    };
    if !yes && !confirmed(&what)? {
        anyhow::bail!("not confirmed: nothing changed (pass --yes to confirm)");
    }
    let e = email.clone();
    let changed = store
        .transaction(move |c| {
            Box::pin(async move {
                let Some((id, _)) = staff::find_by_email(c, &e).await? else {
                    return Ok::<_, StaffError>(None);
                };
                jinguo_auth::staff::set_active(c, id, active, CLI, jinguo_bus::now())
                    .await
                    .map(Some)
            })
        })
        .await
        .map_err(staff_error)?;
    match changed {
        None => anyhow::bail!("--email: no staff member {email}"),
        Some(false) if active => outln!("{email} is already active"),
        Some(false) => outln!("{email} is already disabled"),
        Some(true) if active => outln!("已启用 (enabled) {email}"),
        Some(true) => outln!("已停用 (disabled) {email}"),
    }
    Ok(())
}

/// Asks `y/N` on a terminal; never confirms when stdin is not one.
fn confirmed(what: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{what}. Continue? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub(crate) async fn token(config: Arc<Config>, command: Token) -> anyhow::Result<()> {
    let store = store(&config).await?;
    let Token::Create {
        email,
        expires_days,
    } = command;
    let email = parse_email(&email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let secret = Secret::generate();
    let hash = secret.hash();
    let e = email.clone();
    let created = store
        .transaction(move |c| {
            Box::pin(async move {
                let Some((person, true)) = staff::find_by_email(c, &e).await? else {
                    return Ok::<_, StoreError>(false);
                };
                let now = jinguo_bus::now();
                let expires = expires_days.map(|d| now + chrono::Duration::days(i64::from(d)));
                links::insert_api_token(c, &hash, person, now, expires).await?;
                jinguo_auth::record(
                    c,
                    CLI,
                    "token.created",
                    &person.to_string(),
                    serde_json::json!({ "expires_days": expires_days }),
                    now,
                )
                .await?;
                Ok(true)
            })
        })
        .await?;
    anyhow::ensure!(created, "--email: no active staff member {email}");
    // The only time the token is shown.
    outln!("{}", secret.expose());
    Ok(())
}

pub(crate) async fn audit(config: Arc<Config>, command: Audit) -> anyhow::Result<()> {
    let store = store(&config).await?;
    match command {
        Audit::Verify => verify_audit(&config, &store).await,
        Audit::Checkpoint => write_checkpoint(&config, &store).await,
    }
}

/// The chain first (a changed or removed row), then the checkpoint (rows removed from the end).
///
/// Without a checkpoint file (a new deployment, or one whose scheduler never ran) the walk is
/// still worth its answer: one line on stderr says the end of the log went unchecked, and the
/// exit is 0. A checkpoint that is there but does not verify, or names a row the chain no longer
/// holds, fails.
async fn verify_audit(config: &Config, store: &Store) -> anyhow::Result<()> {
    let rows = match store.read(|c| Box::pin(audit::verify(c))).await? {
        Ok(n) => n,
        Err(b) => anyhow::bail!("audit log broken at row {}: {}", b.seq, b.reason),
    };
    let path = &config.audit.checkpoint_file;
    let Some(signed) = checkpoint::load(path)? else {
        eprintln!(
            "no audit checkpoint at {}: rows deleted from the end of the log cannot be detected \
             (write one with `jinguo audit checkpoint`)",
            path.display()
        );
        outln!("审计日志完整 (audit log intact): {rows} rows");
        return Ok(());
    };
    let trusted = signed
        .open(&config.audit.checkpoint_key)
        .map_err(|p| anyhow::anyhow!("{p} ({})", path.display()))?
        .clone();
    let c = trusted.clone();
    store
        .read(move |conn| Box::pin(async move { checkpoint::check(conn, &c).await }))
        .await?
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    outln!(
        "审计日志完整 (audit log intact): {rows} rows; matches the checkpoint of {} (row {}, {} rows, hash {})",
        trusted
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        trusted.seq,
        trusted.count,
        trusted.hash
    );
    Ok(())
}

async fn write_checkpoint(config: &Config, store: &Store) -> anyhow::Result<()> {
    let path = &config.audit.checkpoint_file;
    let written =
        checkpoint::write(store, &config.audit.checkpoint_key, path, jinguo_bus::now()).await?;
    match written {
        Written::New(s) => outln!(
            "已写入审计检查点 (audit checkpoint written): row {}, {} rows, to {}",
            s.checkpoint.seq,
            s.checkpoint.count,
            path.display()
        ),
        Written::UpToDate(c) => outln!(
            "审计检查点已是最新 (audit checkpoint up to date): row {}, {} rows, in {}",
            c.seq,
            c.count,
            path.display()
        ),
        Written::Empty => {
            outln!("审计日志为空，未写检查点 (audit log empty: no checkpoint written)")
        }
    }
    Ok(())
}

/// The embedded default's first run: a demo admin for 皋兰县 and reviewers at the county, one
/// township and one village of it, so there is someone to sign in as. Returns their emails.
pub(crate) async fn create_demo_staff(store: &Store) -> anyhow::Result<Vec<(String, String)>> {
    let county = OrgCode::parse("620122").expect("a valid code");
    let created = store
        .transaction(move |c| {
            Box::pin(async move {
                if !staff::list(c, None).await?.is_empty() {
                    return Ok::<_, StaffError>(Vec::new());
                }
                let Some(town) = orgs::children(c, county).await?.into_iter().next() else {
                    return Ok(Vec::new());
                };
                let village = orgs::children(c, town.code).await?.into_iter().next();
                let mut people = vec![
                    (
                        "demo-admin@jinguo.invalid",
                        "演示管理员",
                        "admin",
                        county,
                        "皋兰县妇联管理员".to_owned(),
                    ),
                    (
                        "demo-county@jinguo.invalid",
                        "县级审核员",
                        "reviewer",
                        county,
                        "皋兰县审核员".to_owned(),
                    ),
                    (
                        "demo-township@jinguo.invalid",
                        "乡镇审核员",
                        "reviewer",
                        town.code,
                        format!("{}审核员", town.name),
                    ),
                ];
                if let Some(v) = &village {
                    people.push((
                        "demo-village@jinguo.invalid",
                        "村级审核员",
                        "reviewer",
                        v.code,
                        format!("{}审核员", v.name),
                    ));
                }
                let mut out = Vec::new();
                for (email, name, role, org, label) in people {
                    let assignment =
                        parse_assignment(role, org.as_str(), None).expect("valid demo role");
                    let s = NewStaff {
                        email: email.into(),
                        name: name.into(),
                        phone: None,
                        assignment,
                    };
                    jinguo_auth::staff::add(c, &s, Grantor::Operator, jinguo_bus::now()).await?;
                    out.push((email.to_owned(), label));
                }
                Ok(out)
            })
        })
        .await
        .map_err(staff_error)?;
    Ok(created)
}

fn local_time(
    config: &Config,
    flag: &str,
    raw: &str,
) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let naive =
        chrono::NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%d %H:%M").map_err(|_| {
            anyhow::anyhow!("--{flag}: {raw:?} is not a time like \"2026-12-01 08:30\"")
        })?;
    naive
        .and_local_timezone(config.calendar.time_zone)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--{flag}: {raw:?} is ambiguous in {}",
                config.calendar.time_zone
            )
        })
}

pub(crate) async fn duty(config: Arc<Config>, command: Duty) -> anyhow::Result<()> {
    let store = store(&config).await?;
    let tz = config.calendar.time_zone;
    match command {
        Duty::Add {
            email,
            county,
            from,
            to,
        } => {
            let county = OrgCode::parse(&county).map_err(|e| anyhow::anyhow!("--county: {e}"))?;
            let (from, to) = (
                local_time(&config, "from", &from)?,
                local_time(&config, "to", &to)?,
            );
            let email = parse_email(&email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
            let e = email.clone();
            store
                .transaction(move |c| {
                    Box::pin(async move {
                        jinguo_auth::staff::add_shift(
                            c,
                            &e,
                            county,
                            from,
                            to,
                            CLI,
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await
                .map_err(|e| match e {
                    StaffError::Invalid { field, message } => {
                        anyhow::anyhow!("--{field}: {message}")
                    }
                    other => staff_error(other),
                })?;
            outln!("已排班 (on duty) {email} @ {county}");
        }
        Duty::List { county } => {
            let county = OrgCode::parse(&county).map_err(|e| anyhow::anyhow!("--county: {e}"))?;
            let now = jinguo_bus::now();
            let (shifts, on_duty) = store
                .read(move |c| {
                    Box::pin(async move {
                        Ok::<_, StoreError>((
                            staff::shifts(c, county, now).await?,
                            staff::on_duty(c, county, now).await?,
                        ))
                    })
                })
                .await?;
            for s in shifts {
                outln!(
                    "{} – {}  {}{}",
                    s.starts_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                    s.ends_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                    s.person,
                    if on_duty.contains(&s.person) && s.starts_at <= now {
                        "  (on duty now)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(())
}
