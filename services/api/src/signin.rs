//! Sign-in without passwords, action-link pages, the signed-in home page and sign-out.
//!
//! Every emailed link lands on `GET /link/{token}`: it shows what will happen and a form, and
//! changes nothing (mail scanners fetch links). `POST /link/{token}` acts, once. Unknown,
//! forwarded (foreign), expired, used and superseded links each get their own page.

use askama::Template;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jinguo_auth::Secret;
use jinguo_auth::links::{self, LinkState};
use jinguo_core::notify::Urgency;
use jinguo_store::{StoreError, links as store_links, people, staff};
use serde::Deserialize;

use crate::auth::{ClientAddr, SESSION_COOKIE, SignedIn};
use crate::extract::{Form, Path};
use crate::limits::{HOUR, Limit};
use crate::{ApiError, AppState};

/// The purpose of sign-in links.
pub const SIGN_IN: &str = "sign_in";

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

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage;

pub(crate) async fn sign_in_form() -> Result<Html<String>, ApiError> {
    Ok(Html(
        SignInPage.render().map_err(|e| ApiError::internal(&e))?,
    ))
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    email: String,
}

/// Sends a sign-in link when the address belongs to active staff. The answer is the same
/// either way, so the page cannot be used to find out who is registered, and it takes the same
/// time: it is given before any database work. The lookup, the link and the mail (through the
/// outbox, as every mail) happen after the answer, in a task of their own.
///
/// Limits, per hour: `auth.sign_in_per_email_per_hour` for one email from one client address
/// (a stranger asking for someone's link uses up only their own allowance), and
/// `auth.sign_in_per_email_ceiling_per_hour` for one email from all addresses together.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddr,
    Form(form): Form<SignInForm>,
) -> Response {
    let Ok(email) = jinguo_auth::staff::parse_email(&form.email) else {
        return message(
            StatusCode::BAD_REQUEST,
            "邮箱格式不正确",
            "请检查输入的邮箱地址后重试。".into(),
            None,
        );
    };
    let auth = &state.config.auth;
    let limits = [
        Limit::new(
            format!("sign-in:{email}|{}", client.key()),
            auth.sign_in_per_email_per_hour,
            HOUR,
        ),
        Limit::new(
            format!("sign-in:{email}"),
            auth.sign_in_per_email_ceiling_per_hour,
            HOUR,
        ),
    ];
    if let Err(wait) = state.limiter.hit(&limits) {
        let mut page = message(
            StatusCode::TOO_MANY_REQUESTS,
            "请稍后再试",
            format!(
                "该邮箱的登录请求过于频繁，{}",
                crate::limits::try_again_in(wait)
            ),
            None,
        );
        crate::edge::set_retry_after(&mut page, wait);
        return page;
    }
    let ttl = auth.sign_in_link;
    let base = state.config.http.public_url.clone();
    let store = state.store.clone();
    tokio::spawn(async move {
        let sent = store
            .transaction(move |c| {
                Box::pin(async move {
                    let Some((person, true)) = staff::find_by_email(c, &email).await? else {
                        return Ok(());
                    };
                    let now = jinguo_bus::now();
                    let valid_for = chrono::Duration::from_std(ttl).unwrap_or_default();
                    let secret =
                        links::issue(c, SIGN_IN, &person.to_string(), person, valid_for, now)
                            .await?;
                    let name = people::display_name(c, person).await?;
                    let mail = jinguo_mail::SignInLink {
                        recipient: name,
                        link: format!("{base}/link/{}", secret.expose()),
                        minutes: ttl.as_secs() / 60,
                    };
                    jinguo_mail::notify(c, person, &mail, Urgency::Normal, now)
                        .await
                        .map_err(|e| StoreError::Task(e.to_string()))?;
                    Ok::<_, StoreError>(())
                })
            })
            .await;
        if let Err(e) = sent {
            // Logged with its chain and a reference; the caller already has its answer.
            let _ = ApiError::internal(&e);
        }
    });
    message(
        StatusCode::OK,
        "请查收邮件",
        "如果该邮箱已在平台登记，我们已发送登录链接，请在邮件中点击链接完成登录。".into(),
        Some("没有收到？请检查垃圾邮件，或联系所在县区妇联管理员。"),
    )
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage<'a> {
    title: &'a str,
    message: String,
    token: &'a str,
    csrf: String,
    button: &'a str,
}

/// The hidden form field a link's POST must carry: derived from the token, so only a page
/// rendered for that link produces it.
fn link_csrf(secret: &Secret) -> String {
    jinguo_auth::hash(format!("csrf:{}", secret.expose()).as_bytes())
}

fn link_state_page(state: &LinkState, tz: chrono_tz::Tz) -> Option<Response> {
    let when = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
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
        LinkState::Used(l) => message(
            StatusCode::CONFLICT,
            "链接已使用",
            format!(
                "这个链接已于 {} 使用过，每个链接只能使用一次。",
                l.used_at.map(when).unwrap_or_default()
            ),
            Some("如需再次登录，请重新申请登录链接。"),
        ),
        LinkState::Revoked(_) => message(
            StatusCode::GONE,
            "链接已失效",
            "这个链接已停止使用。".into(),
            Some("如有疑问，请联系所在县区妇联管理员。"),
        ),
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

/// GET: what the link will do, and a form. Changes nothing.
pub(crate) async fn show_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(secret) = Secret::parse(&token) else {
        return link_state_page(&LinkState::Unknown, state.config.calendar.time_zone)
            .unwrap_or_else(|| unreachable!());
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
    let link_state = match inspected {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Some(page) = link_state_page(&link_state, state.config.calendar.time_zone) {
        return page;
    }
    let LinkState::Valid(link) = link_state else {
        unreachable!()
    };
    let (title, text, button) = match link.purpose.as_str() {
        SIGN_IN => (
            "确认登录",
            "点击下面的按钮登录巾帼平台。".to_owned(),
            "登录",
        ),
        jinguo_nominations::REVIEW => {
            return crate::review::page(&state, &link, &secret, &link_csrf(&secret)).await;
        }
        jinguo_nominations::ELIGIBILITY => {
            return crate::review::eligibility_page(&state, &link, &secret, &link_csrf(&secret))
                .await;
        }
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                "链接无效",
                "这个链接的用途本平台无法识别。".into(),
                None,
            );
        }
    };
    let page = LinkPage {
        title,
        message: text,
        token: secret.expose(),
        csrf: link_csrf(&secret),
        button,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct LinkForm {
    csrf: String,
    /// Review links: approve, reject or return.
    decision: Option<String>,
    reason: Option<String>,
}

/// What a successful link POST leads to.
enum Acted {
    SignedIn {
        cookie: Secret,
    },
    Reviewed {
        state: jinguo_core::nominations::State,
    },
}

/// Why a valid link's action was refused (nothing was changed).
enum NotActed {
    Link(LinkState),
    Refused(String),
}

/// POST: acts once, in the transaction that locks the link.
pub(crate) async fn use_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    let tz = state.config.calendar.time_zone;
    let Some(secret) = Secret::parse(&token) else {
        return link_state_page(&LinkState::Unknown, tz).unwrap_or_else(|| unreachable!());
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
    let session_ttl = state.config.auth.session;
    let review_links = crate::nominations::links(&state);
    let decision = form.decision.clone();
    let reason = form.reason.clone();
    let result = state
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                let link_state = links::claim(c, &secret, signed_in, now).await?;
                let LinkState::Valid(link) = &link_state else {
                    return Ok::<_, StoreError>(Err(NotActed::Link(link_state)));
                };
                let acted = match link.purpose.as_str() {
                    SIGN_IN => {
                        let cookie = Secret::generate();
                        let csrf = Secret::generate();
                        let until =
                            now + chrono::Duration::from_std(session_ttl).unwrap_or_default();
                        store_links::insert_session(
                            c,
                            &cookie.hash(),
                            link.actor,
                            &csrf.hash(),
                            now,
                            until,
                        )
                        .await?;
                        Acted::SignedIn { cookie }
                    }
                    jinguo_nominations::REVIEW => {
                        let nomination =
                            link.subject.split(':').next().and_then(|s| s.parse().ok());
                        let decision = match decision.as_deref() {
                            Some("approve") => jinguo_nominations::Decision::Approve,
                            Some("reject") => jinguo_nominations::Decision::Reject,
                            Some("return") => jinguo_nominations::Decision::Return,
                            _ => return Ok(Err(NotActed::Refused("请选择审核意见。".into()))),
                        };
                        let Some(nomination) = nomination else {
                            return Ok(Err(NotActed::Link(LinkState::Unknown)));
                        };
                        match jinguo_nominations::decide(
                            c,
                            nomination,
                            link.actor,
                            decision,
                            reason.as_deref(),
                            &review_links,
                            now,
                        )
                        .await
                        {
                            Ok(state) => Acted::Reviewed { state },
                            Err(jinguo_nominations::Refusal::Store(e)) => return Err(e),
                            Err(refusal) => {
                                return Ok(Err(NotActed::Refused(crate::review::refusal_text(
                                    &refusal,
                                ))));
                            }
                        }
                    }
                    jinguo_nominations::ELIGIBILITY => {
                        let decision = match decision.as_deref() {
                            Some("continue") => jinguo_nominations::EligibilityDecision::Continue,
                            Some("close") => jinguo_nominations::EligibilityDecision::Close {
                                reason: reason.clone().unwrap_or_default(),
                            },
                            _ => return Ok(Err(NotActed::Refused("请选择核查结果。".into()))),
                        };
                        let Ok(nomination) = link.subject.parse() else {
                            return Ok(Err(NotActed::Link(LinkState::Unknown)));
                        };
                        match jinguo_nominations::decide_eligibility(
                            c,
                            nomination,
                            link.actor,
                            decision,
                            &review_links,
                            now,
                        )
                        .await
                        {
                            Ok(state) => Acted::Reviewed { state },
                            Err(jinguo_nominations::Refusal::Store(e)) => return Err(e),
                            Err(refusal) => {
                                return Ok(Err(NotActed::Refused(crate::review::refusal_text(
                                    &refusal,
                                ))));
                            }
                        }
                    }
                    _ => return Ok(Err(NotActed::Link(LinkState::Unknown))),
                };
                let outcome = match &acted {
                    Acted::SignedIn { .. } => "signed_in".to_owned(),
                    Acted::Reviewed { state } => state.to_string(),
                };
                links::used(c, link, &outcome, now).await?;
                Ok(Ok(acted))
            })
        })
        .await;
    match result {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Err(NotActed::Link(refused))) => {
            link_state_page(&refused, tz).unwrap_or_else(|| unreachable!())
        }
        Ok(Err(NotActed::Refused(why))) => message(
            StatusCode::CONFLICT,
            "未能提交",
            why,
            Some("请返回上一页修改后重新提交。"),
        ),
        Ok(Ok(Acted::Reviewed { state })) => message(
            StatusCode::OK,
            "审核意见已提交",
            format!(
                "谢谢！该推荐现在的状态：{}。",
                crate::review::state_label(state)
            ),
            None,
        ),
        Ok(Ok(Acted::SignedIn { cookie })) => {
            let secure = if state.config.http.public_url.starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let value = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                cookie.expose(),
                session_ttl.as_secs()
            );
            let mut response = (
                StatusCode::SEE_OTHER,
                [(LOCATION, HeaderValue::from_static("/me"))],
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(SET_COOKIE, v);
            }
            response
        }
    }
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    name: String,
    roles: Vec<String>,
    /// (link, what) for each open review task.
    tasks: Vec<(String, String)>,
    admin_links: Vec<(String, String)>,
    csrf: String,
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

/// The signed-in home page.
pub(crate) async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match SignedIn::from_headers(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return (
                StatusCode::SEE_OTHER,
                [(LOCATION, HeaderValue::from_static("/signin"))],
            )
                .into_response();
        }
        Err(e) => return e.into_response(),
    };
    let person = session.person;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                let p = people::get(c, person).await?;
                let principal = staff::principal(c, person, now).await?;
                let tasks = jinguo_store::nominations::open_tasks_for(c, person).await?;
                Ok::<_, StoreError>((p, principal, tasks))
            })
        })
        .await;
    let (p, principal, open_tasks) = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (Some(p), Some(principal)) = (p, principal) else {
        return message(
            StatusCode::FORBIDDEN,
            "账号不可用",
            "您的账号不存在或已停用。".into(),
            None,
        );
    };
    let mut roles = Vec::new();
    let mut admin_links = Vec::new();
    for a in &principal.assignments {
        roles.push(format!("{} · {}", role_label(a.role), a.org));
        if a.role == jinguo_core::auth::Role::Admin {
            admin_links.push((
                format!("/admin/staff?org={}", a.org),
                format!("管理 {} 的人员", a.org),
            ));
        }
    }
    let tasks = open_tasks
        .into_iter()
        .map(|(t, head, category)| {
            let level = match t.level.as_str() {
                "village" => "村级",
                "township" => "乡镇级",
                _ => "县级",
            };
            (
                format!("/tasks/{}", t.id),
                format!("{head}家庭（{category}·{level}审核）"),
            )
        })
        .collect();
    let page = MePage {
        name: p.display_name,
        roles,
        tasks,
        admin_links,
        csrf: session.csrf,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// Ends the session (CSRF-checked), clears the cookie.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Ok(Some(session)) = SignedIn::from_headers(&state, &headers).await {
        if session.csrf != form.csrf {
            return message(
                StatusCode::FORBIDDEN,
                "请从页面操作",
                "请回到工作台页面点击退出。".into(),
                None,
            );
        }
        let hash = session.token_hash;
        if let Err(e) = state
            .store
            .transaction(move |c| {
                Box::pin(async move { store_links::delete_session(c, &hash).await })
            })
            .await
        {
            return ApiError::from(e).into_response();
        }
    }
    let mut response = message(
        StatusCode::OK,
        "已退出登录",
        "您已安全退出巾帼平台。".into(),
        None,
    );
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}
