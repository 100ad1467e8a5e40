//! Server-rendered pages (Simplified Chinese; work on a phone without JavaScript).

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Datelike;
use jinguo_config::DatabaseUrl;
use jinguo_core::auth::Role;
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_store::{orgs, staff};

use crate::auth::{ClientAddr, SignedIn};
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    /// (id, name, area) of this year's and later campaigns, for self-nomination.
    campaigns: Vec<(uuid::Uuid, String, String)>,
}

/// The start page: what the platform is, sign-in, and the public pages (self-nomination in
/// this year's campaigns, 咨询服务). Nothing technical: that is on [`admin_status`].
pub(crate) async fn start(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let this_year: i32 = jinguo_bus::now()
        .with_timezone(&state.config.calendar.time_zone)
        .format("%Y")
        .to_string()
        .parse()
        .unwrap_or(0);
    let campaigns = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let gansu = OrgCode::parse("62").expect("the province's code");
                let mut out = Vec::new();
                for k in jinguo_nominations::campaigns_overlapping(c, &[gansu]).await? {
                    if k.year >= this_year {
                        let area = crate::campaign_pages::unit_name(c, k.scope).await?;
                        out.push((k.id, k.name, area));
                    }
                }
                Ok::<_, jinguo_nominations::Refusal>(out)
            })
        })
        .await?;
    let html = StartPage { campaigns }
        .render()
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Html(html))
}

#[derive(Template)]
#[template(path = "admin_status.html")]
struct StatusPage {
    version: &'static str,
    database: &'static str,
    bus: &'static str,
    mail: &'static str,
    /// Whether this year's and next year's holidays are loaded.
    calendar: String,
    counts: Vec<(&'static str, i64)>,
}

/// `/admin/status`: what is running here (version, database, bus, mail, the org tree's size),
/// for signed-in admins; anyone else signed in gets a 403 page.
pub(crate) async fn admin_status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match SignedIn::from_headers(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/signin").into_response(),
        Err(e) => return e.into_response(),
    };
    let person = session.person;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let admin = staff::principal(c, person, jinguo_bus::now())
                    .await?
                    .is_some_and(|p| p.assignments.iter().any(|a| a.role == Role::Admin));
                let by_level = orgs::count_by_level(c).await?;
                Ok::<_, jinguo_store::StoreError>((admin, by_level))
            })
        })
        .await;
    let (admin, by_level) = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !admin {
        return crate::page::forbidden(
            &state,
            person,
            "运行状态只有管理员可以查看",
            Some("可以回到工作台继续工作。"),
        )
        .await;
    }
    let count = |l: OrgLevel| by_level.get(&l).copied().unwrap_or(0);
    let config = &state.config;
    let page = StatusPage {
        version: env!("CARGO_PKG_VERSION"),
        database: match config.database.url {
            DatabaseUrl::Sqlite(_) => "SQLite（内嵌，无需服务器）",
            DatabaseUrl::Postgres(_) => "PostgreSQL",
        },
        bus: if config.amqp.url.is_some() {
            "RabbitMQ"
        } else {
            "进程内消息总线"
        },
        mail: if config.mail.smtp_url.is_some() {
            "SMTP 发送"
        } else {
            "写入本地邮件目录"
        },
        calendar: calendar_status(
            &state.calendar,
            jinguo_bus::now()
                .with_timezone(&config.calendar.time_zone)
                .year(),
        ),
        counts: vec![
            ("市州", count(OrgLevel::City)),
            ("县市区", count(OrgLevel::County)),
            ("乡镇/街道（新时代文明实践所）", count(OrgLevel::Township)),
            ("村/社区（新时代文明实践站）", count(OrgLevel::Village)),
        ],
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The working-day calendar for this year and the next, as an admin needs to hear it: a year
/// without the State Council's arrangement counts Monday to Friday until its file is added
/// (the same years the start-up log warns of).
fn calendar_status(calendar: &jinguo_core::calendar::Calendar, year: i32) -> String {
    let missing = calendar.missing_years(year, year + 1);
    if missing.is_empty() {
        return format!("{year}年、{}年的节假日和调休安排已载入", year + 1);
    }
    let years = missing
        .iter()
        .map(|y| format!("{y}年"))
        .collect::<Vec<_>>()
        .join("、");
    format!(
        "{years}的节假日和调休安排尚未载入，暂按周一至周五计算。国务院公布安排后，请在日历目录（calendar.dir）添加该年的文件（如 {}.toml）。",
        missing[0]
    )
}

/// `/static/jinguo.css`: the one stylesheet (the content security policy allows no inline
/// style). Cached for an hour; it changes only with a release.
pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../templates/jinguo.css"),
    )
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    mails: Vec<MailView>,
    dir: String,
}

struct MailView {
    created_at: String,
    to: String,
    subject: String,
    sent: bool,
    links: Vec<String>,
}

/// Every link in a plain-text body: from `http://` or `https://` to the first space or
/// closing punctuation.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest
        .find("http://")
        .into_iter()
        .chain(rest.find("https://"))
        .min()
    {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "（）()<>\"'，。、；".contains(c))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// `/dev/mailbox`: the latest mails written to `mail.dir`, with their links, for development.
/// The route exists only when the service listens on a loopback address without SMTP, and it
/// answers only a peer on this machine (404 for anyone else, as for an unknown path).
pub(crate) async fn mailbox(
    State(state): State<AppState>,
    client: ClientAddr,
) -> Result<Html<String>, ApiError> {
    if !client.is_loopback() {
        return Err(ApiError::not_found("no such endpoint"));
    }
    let mails = state
        .store
        .read(|c| Box::pin(jinguo_store::mail::recent(c, 50)))
        .await?;
    let tz = state.config.calendar.time_zone;
    let page = MailboxPage {
        dir: state.config.mail.dir.display().to_string(),
        mails: mails
            .into_iter()
            .map(|m| MailView {
                created_at: m
                    .created_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
                to: m.to_address,
                subject: m.subject,
                sent: m.sent_at.is_some(),
                links: links(&m.text_body),
            })
            .collect(),
    };
    let html = page.render().map_err(|e| ApiError::internal(&e))?;
    Ok(Html(html))
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_are_found_after_chinese_punctuation() {
        let text = "查看并处理：http://127.0.0.1:8080/review/abc\n另见（https://x.cn/a）。";
        assert_eq!(
            super::links(text),
            ["http://127.0.0.1:8080/review/abc", "https://x.cn/a"]
        );
    }
}
