//! What every page uses: the Chinese message page and the labels of roles.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::ApiError;

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: String,
    hint: Option<&'a str>,
}

/// A page that says something, with a status.
pub(crate) fn message(
    status: StatusCode,
    title: &str,
    message: String,
    hint: Option<&str>,
) -> Response {
    match (MessagePage {
        title,
        message,
        hint,
    })
    .render()
    {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// Chinese names of roles, for pages.
pub(crate) fn role_label(role: jinguo_core::auth::Role) -> &'static str {
    use jinguo_core::auth::Role::*;
    match role {
        Admin => "管理员",
        Reviewer => "审核员",
        Coordinator => "宣讲协调员",
        CaseOfficer => "个案专员",
        AgencyLiaison => "联动单位联络员",
        Supervisor => "督导",
        Viewer => "查看者",
    }
}
