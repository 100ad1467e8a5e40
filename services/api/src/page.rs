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

/// A 403 page: `cannot` says what the asker may not do, then their own posts by unit and
/// role ("皋兰县 什川镇 审核员"), which they know already; nothing is said of the thing asked
/// for, so a refusal reveals nothing the asker may not know.
pub(crate) async fn forbidden(
    state: &crate::AppState,
    person: uuid::Uuid,
    cannot: &str,
    hint: Option<&str>,
) -> Response {
    let posts = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                let mut posts = Vec::new();
                let assigned = jinguo_store::staff::principal(c, person, now).await?;
                for a in assigned.map(|p| p.assignments).unwrap_or_default() {
                    let unit = jinguo_auth::staff::unit_name(c, a.org).await?;
                    posts.push(format!("{unit} {}", role_label(a.role)));
                }
                Ok::<_, jinguo_store::StoreError>(posts)
            })
        })
        .await;
    let posts = match posts {
        Ok(p) if p.is_empty() => "您目前没有在岗的岗位。".to_owned(),
        Ok(p) => format!("您现在的岗位：{}。", p.join("、")),
        Err(e) => return ApiError::from(e).into_response(),
    };
    message(
        StatusCode::FORBIDDEN,
        "没有权限",
        format!("{cannot}。{posts}"),
        hint,
    )
}

/// A form posted by the signed-in person, with this session's CSRF value: the session and the
/// fields as typed, or the page to show instead (sign-in, or the stale form's).
pub(crate) async fn posted_form(
    state: &crate::AppState,
    headers: &axum::http::HeaderMap,
    pairs: Vec<(String, String)>,
) -> Result<(crate::auth::SignedIn, crate::picker::Typed), Response> {
    let session = signed_in(state, headers).await?;
    let typed = crate::picker::Typed(pairs);
    if typed.get("csrf") != session.csrf {
        return Err(stale_form("请刷新页面后重试。"));
    }
    Ok((session, typed))
}

/// The answer to a form posted without this session's CSRF value: an old page (signed in again
/// since) or a form from elsewhere. `again` says where to start over.
pub(crate) fn stale_form(again: &str) -> Response {
    message(
        StatusCode::FORBIDDEN,
        "请从页面操作",
        format!("页面已过期，{again}"),
        None,
    )
}

/// Chinese names of roles, for pages.
pub(crate) use jinguo_auth::staff::role_label;

/// Why a form is shown again: a sentence beside one of its fields (the field's name in the
/// form), or above the whole form. Every form page keeps what was typed and shows it with this.
pub(crate) struct Refused {
    pub field: Option<&'static str>,
    pub message: String,
    pub status: StatusCode,
}

impl Refused {
    /// A refusal beside `field` (400).
    pub(crate) fn at(field: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            field: Some(field),
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// A refusal of the whole request, not of one field (409: it conflicts with how things are).
    pub(crate) fn above(message: impl Into<String>) -> Refused {
        Refused {
            field: None,
            message: message.into(),
            status: StatusCode::CONFLICT,
        }
    }
}

/// A form page that may come back refused: what its template asks of the refusals (the
/// sentence beside a field, above the form, and the attributes tying a field to it).
pub(crate) trait RefusedForm {
    /// The refusals of the last submission, in the order of the form's fields (several fields
    /// may be wrong at once).
    fn refusals(&self) -> &[Refused];

    /// What the ids of the form's error messages start with (`add` for `add-name-error`),
    /// when a page holds more than one form.
    fn error_ids(&self) -> Option<&'static str> {
        None
    }

    fn error_at(&self, field: &str) -> Option<&str> {
        self.refusals()
            .iter()
            .find(|r| r.field == Some(field))
            .map(|r| r.message.as_str())
    }

    fn general_error(&self) -> Option<&str> {
        self.refusals()
            .iter()
            .find(|r| r.field.is_none())
            .map(|r| r.message.as_str())
    }

    /// Whether the last submission was refused (the title says so).
    fn failed(&self) -> bool {
        !self.refusals().is_empty()
    }

    /// The attributes that tie `field` to its refusal (` aria-invalid="true"
    /// aria-describedby="{prefix-}{field}-error"`, and `autofocus` on the first refused field
    /// so the focus goes there), or nothing when the refusal is not about it. Templates print
    /// it with `|safe`; `field` and the prefix are names of ours, never typed.
    fn aria(&self, field: &str) -> String {
        if self.error_at(field).is_none() {
            return String::new();
        }
        let id = match self.error_ids() {
            Some(p) => format!("{p}-{field}"),
            None => field.to_owned(),
        };
        let first = self.refusals().iter().find_map(|r| r.field) == Some(field);
        let focus = if first { " autofocus" } else { "" };
        format!(" aria-invalid=\"true\" aria-describedby=\"{id}-error\"{focus}")
    }
}

/// A page template rendered with `status` (a template error is a 500 with a reference).
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The signed-in person, or the sign-in page to go to.
pub(crate) async fn signed_in(
    state: &crate::AppState,
    headers: &axum::http::HeaderMap,
) -> Result<crate::auth::SignedIn, Response> {
    match crate::auth::SignedIn::from_headers(state, headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(axum::response::Redirect::to("/signin").into_response()),
        Err(e) => Err(e.into_response()),
    }
}

/// A message for a page: the program's sentence when it is Chinese, a general one otherwise.
pub(crate) fn for_people(message: &str) -> String {
    if message.is_empty() || message.chars().any(|c| c.is_ascii_alphabetic()) {
        "请检查后重新填写".to_owned()
    } else {
        message.to_owned()
    }
}
