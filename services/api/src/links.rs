//! Every emailed action's route: `GET /link/{token}` shows what the link will do and changes
//! nothing (mail scanners fetch links); `POST /link/{token}` acts once, in the transaction that
//! claims the link. Unknown, forwarded (foreign), expired, used, superseded and revoked links
//! each get their own page. What a link of a given purpose shows and does belongs to whoever
//! issues it: a [`LinkAction`] registered per purpose ([`LinkActions`]); this module knows
//! nothing of any program.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use jinguo_auth::Secret;
use jinguo_auth::links::{self, LinkState};
use jinguo_store::links::ActionLink;
use jinguo_store::{BoxFuture, Conn, StoreError};
use serde::Deserialize;

use crate::auth::SignedIn;
use crate::extract::{Form, Path};
use crate::page::{Refused, message};
use crate::{ApiError, AppState};

/// What a link POST carries: the link's CSRF value and the fields of its page's form.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LinkForm {
    pub csrf: String,
    /// Review links: approve, reject or return; eligibility links: continue or close.
    pub decision: Option<String>,
    pub reason: Option<String>,
    /// Tour attendance links: women attending, topic covered (yes / no), a note.
    pub women: Option<String>,
    pub topic_covered: Option<String>,
    pub note: Option<String>,
}

/// What a link did: the outcome recorded with its use, and the answer to show.
pub(crate) type Acted = (String, Response);

/// The GET and POST of one purpose of link.
pub(crate) trait LinkAction: Send + Sync + 'static {
    /// GET: what the link will do and its form (posting `csrf` back); changes nothing.
    fn show<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
    ) -> BoxFuture<'a, Response>;

    /// POST, in the transaction that claimed the link: `Ok(Ok(acted))` marks it used,
    /// `Ok(Err(why))` refuses (beside a field of the form, or above it) and changes nothing.
    fn act<'a>(
        &'a self,
        state: &'a AppState,
        conn: &'a mut Conn<'_>,
        link: &'a ActionLink,
        form: &'a LinkForm,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Result<Acted, Refused>, StoreError>>;

    /// The answer to a refused POST: by default a page with the sentence; a link whose page
    /// is a form shows the form again, the refusal beside its field and the choices kept.
    fn refused<'a>(
        &'a self,
        _state: &'a AppState,
        _link: &'a ActionLink,
        _secret: &'a Secret,
        _csrf: &'a str,
        _form: &'a LinkForm,
        refused: Refused,
    ) -> BoxFuture<'a, Response> {
        Box::pin(async move {
            message(
                refused.status,
                "未能提交",
                refused.message,
                Some("请返回上一页修改后重新提交。"),
            )
        })
    }

    /// The page of a link used already: by default when; a link that decided something says
    /// what was decided and by whom.
    fn used<'a>(&'a self, state: &'a AppState, link: &'a ActionLink) -> BoxFuture<'a, Response> {
        Box::pin(async move { used_page(link, state.config.calendar.time_zone, None) })
    }
}

/// A link's time as the pages print it, in the deployment's time zone.
pub(crate) fn local_time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// "Used on …, once only", with what to do now if there is something.
pub(crate) fn used_page(link: &ActionLink, tz: chrono_tz::Tz, hint: Option<&str>) -> Response {
    message(
        StatusCode::CONFLICT,
        "链接已使用",
        format!(
            "这个链接已于 {} 使用过，每个链接只能使用一次。",
            link.used_at.map(|t| local_time(t, tz)).unwrap_or_default()
        ),
        hint,
    )
}

/// The link actions of this deployment, by purpose.
#[derive(Clone, Default)]
pub(crate) struct LinkActions(HashMap<&'static str, Arc<dyn LinkAction>>);

impl LinkActions {
    pub(crate) fn with(mut self, purpose: &'static str, action: impl LinkAction) -> LinkActions {
        self.0.insert(purpose, Arc::new(action));
        self
    }

    fn get(&self, purpose: &str) -> Option<Arc<dyn LinkAction>> {
        self.0.get(purpose).cloned()
    }
}

#[derive(Template)]
#[template(path = "link.html")]
struct ConfirmPage<'a> {
    title: &'a str,
    message: &'a str,
    token: &'a str,
    csrf: &'a str,
    button: &'a str,
}

/// The plain page of a link that only needs a confirming click (a sign-in, say).
pub(crate) fn confirm_page(
    title: &str,
    text: &str,
    button: &str,
    secret: &Secret,
    csrf: &str,
) -> Response {
    let page = ConfirmPage {
        title,
        message: text,
        token: secret.expose(),
        csrf,
        button,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The hidden form field a link's POST must carry: derived from the token, so only a page
/// rendered for that link produces it.
fn link_csrf(secret: &Secret) -> String {
    jinguo_auth::hash(format!("csrf:{}", secret.expose()).as_bytes())
}

fn link_state_page(state: &LinkState, tz: chrono_tz::Tz) -> Option<Response> {
    let when = |t: DateTime<Utc>| local_time(t, tz);
    Some(match state {
        LinkState::Valid(_) => return None,
        LinkState::Unknown => message(
            StatusCode::NOT_FOUND,
            "链接无效",
            "这个链接不存在或已失效，可能是复制时不完整。".into(),
            Some("请从邮件中重新打开链接，或重新申请。"),
        ),
        LinkState::Foreign(_) => message(
            StatusCode::FORBIDDEN,
            "这个链接属于另一位用户",
            "您当前登录的账号不是这个链接的收件人，链接不能代他人使用。".into(),
            Some("如果这封邮件是转发给您的，请让收件人本人处理。"),
        ),
        LinkState::Expired(l) => message(
            StatusCode::GONE,
            "链接已过期",
            format!("这个链接已于 {} 过期。", when(l.expires_at)),
            Some("请重新申请登录链接，或联系发出任务的管理员。"),
        ),
        LinkState::Used(l) => used_page(l, tz, None),
        LinkState::Revoked(_) => message(
            StatusCode::GONE,
            "链接已失效",
            "这个链接已停止使用。".into(),
            Some("如有疑问，请联系所在县区妇联管理员。"),
        ),
        // Handed to someone else (a reviewer who left, or an admin's reassignment): the
        // superseding words say so ("转交其他审核员", "转交给王芳").
        LinkState::Superseded(l)
            if l.superseded_by
                .as_deref()
                .is_some_and(|b| b.starts_with("转交")) =>
        {
            message(
                StatusCode::CONFLICT,
                "任务已转交",
                format!(
                    "这项任务已于 {} {}，无需您再操作。",
                    l.superseded_at.map(when).unwrap_or_default(),
                    l.superseded_by.as_deref().unwrap_or_default(),
                ),
                None,
            )
        }
        LinkState::Superseded(l) => message(
            StatusCode::CONFLICT,
            "已由他人处理",
            format!(
                "这项任务已由{}于 {} 处理完毕，无需您再操作。",
                l.superseded_by.as_deref().unwrap_or("其他审核人"),
                l.superseded_at.map(when).unwrap_or_default()
            ),
            None,
        ),
    })
}

/// The page of a link that does nothing now: a used one as its purpose tells it.
async fn not_valid_page(state: &AppState, link_state: &LinkState) -> Response {
    let tz = state.config.calendar.time_zone;
    if let LinkState::Used(l) = link_state
        && let Some(action) = state.link_actions.get(&l.purpose)
    {
        return action.used(state, l).await;
    }
    link_state_page(link_state, tz).unwrap_or_else(|| unreachable!("only a valid link has no page"))
}

fn unknown(state: &AppState) -> Response {
    link_state_page(&LinkState::Unknown, state.config.calendar.time_zone)
        .unwrap_or_else(|| unreachable!("an unknown link has a page"))
}

/// GET: what the link will do, and a form. Changes nothing.
pub(crate) async fn show_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(secret) = Secret::parse(&token) else {
        return unknown(&state);
    };
    let signed_in = match SignedIn::from_headers(&state, &headers).await {
        Ok(s) => s.map(|s| s.person),
        Err(e) => return e.into_response(),
    };
    let s2 = secret.clone();
    let inspected = state
        .store
        .read(move |c| {
            Box::pin(async move { links::inspect(c, &s2, signed_in, jinguo_bus::now()).await })
        })
        .await;
    let link = match inspected {
        Ok(LinkState::Valid(link)) => link,
        Ok(other) => return not_valid_page(&state, &other).await,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match state.link_actions.get(&link.purpose) {
        Some(action) => {
            action
                .show(&state, &link, &secret, &link_csrf(&secret))
                .await
        }
        None => message(
            StatusCode::NOT_FOUND,
            "链接无效",
            "这个链接的用途本平台无法识别。".into(),
            None,
        ),
    }
}

/// Why a link POST changed nothing.
enum NotActed {
    Link(LinkState),
    /// The link's action refused what the form asked (the link stays usable).
    Refused(ActionLink, Refused),
}

/// POST: acts once, in the transaction that locks the link.
pub(crate) async fn use_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let Some(secret) = Secret::parse(&token) else {
        return unknown(&state);
    };
    if form.csrf != link_csrf(&secret) {
        return message(
            StatusCode::FORBIDDEN,
            "请从链接页面操作",
            "请重新打开邮件中的链接，并在页面上点击按钮。".into(),
            None,
        );
    }
    let signed_in = match SignedIn::from_headers(&state, &headers).await {
        Ok(s) => s.map(|s| s.person),
        Err(e) => return e.into_response(),
    };
    let (st, s2, f2) = (state.clone(), secret.clone(), form.clone());
    let result = state
        .store
        .transaction(move |c| {
            let (state, secret, form) = (st.clone(), s2.clone(), f2.clone());
            Box::pin(async move {
                let now = jinguo_bus::now();
                let link_state = links::claim(c, &secret, signed_in, now).await?;
                let LinkState::Valid(link) = &link_state else {
                    return Ok::<_, StoreError>(Err(NotActed::Link(link_state)));
                };
                let Some(action) = state.link_actions.get(&link.purpose) else {
                    return Ok(Err(NotActed::Link(LinkState::Unknown)));
                };
                match action.act(&state, c, link, &form, now).await? {
                    Ok((outcome, answer)) => {
                        links::used(c, link, &outcome, now).await?;
                        Ok(Ok(answer))
                    }
                    Err(why) => Ok(Err(NotActed::Refused(link.clone(), why))),
                }
            })
        })
        .await;
    match result {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Err(NotActed::Link(refused))) => not_valid_page(&state, &refused).await,
        Ok(Err(NotActed::Refused(link, why))) => match state.link_actions.get(&link.purpose) {
            Some(action) => {
                let csrf = link_csrf(&secret);
                action
                    .refused(&state, &link, &secret, &csrf, &form, why)
                    .await
            }
            None => unknown(&state),
        },
        Ok(Ok(answer)) => answer,
    }
}
