//! Server-rendered pages (Simplified Chinese; work on a phone without JavaScript).

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use jinguo_config::DatabaseUrl;
use jinguo_core::org::OrgLevel;
use jinguo_store::orgs;

use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    version: &'static str,
    database: &'static str,
    bus: &'static str,
    mail: &'static str,
    counts: Vec<(&'static str, i64)>,
}

/// The start page: what is running here and where to go next.
pub(crate) async fn start(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let by_level = state
        .store
        .read(|c| Box::pin(orgs::count_by_level(c)))
        .await?;
    let count = |l: OrgLevel| by_level.get(&l).copied().unwrap_or(0);
    let config = &state.config;
    let page = StartPage {
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
        counts: vec![
            ("市州", count(OrgLevel::City)),
            ("县市区", count(OrgLevel::County)),
            ("乡镇/街道（新时代文明实践所）", count(OrgLevel::Township)),
            ("村/社区（新时代文明实践站）", count(OrgLevel::Village)),
        ],
    };
    let html = page.render().map_err(|e| ApiError::internal(&e))?;
    Ok(Html(html))
}
