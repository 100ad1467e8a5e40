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
use jinguo_auth::links;
use jinguo_core::notify::Urgency;
use jinguo_nominations::Refusal;
use jinguo_store::links::ActionLink;
use jinguo_store::{BoxFuture, Conn, StoreError, links as store_links, people, staff};
use serde::Deserialize;

use crate::auth::{ClientAddr, SESSION_COOKIE, SignedIn};
use crate::extract::Form;
use crate::limits::{HOUR, Limit};
use crate::links::{Acted, LinkAction, LinkForm, confirm_page};
use crate::page::{Refused, RefusedForm, message, role_label};
use crate::{ApiError, AppState};

/// The purpose of sign-in links.
pub const SIGN_IN: &str = "sign_in";

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    /// The address as typed, kept when refused.
    email: String,
    refused: Option<Refused>,
}

impl RefusedForm for SignInPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

pub(crate) async fn sign_in_form() -> Response {
    let page = SignInPage {
        email: String::new(),
        refused: None,
    };
    crate::page::render(StatusCode::OK, &page)
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
        let page = SignInPage {
            email: form.email,
            refused: Some(Refused::at(
                "email",
                "邮箱格式不正确，请检查后重新输入（例如 wangfang@example.cn）。",
            )),
        };
        return crate::page::render(StatusCode::BAD_REQUEST, &page);
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
                    jinguo_mail::notify(c, person, &mail, Urgency::Normal, now).await?;
                    Ok::<_, jinguo_mail::NotifyError>(())
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

/// Sign-in links: GET asks for a click, POST opens a session (the person is active: the link
/// rules saw to it) and sets its cookie.
pub(crate) struct SignInAction;

impl LinkAction for SignInAction {
    fn show<'a>(
        &'a self,
        _state: &'a AppState,
        _link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
    ) -> BoxFuture<'a, Response> {
        Box::pin(async move {
            confirm_page(
                "确认登录",
                "点击下面的按钮登录巾帼平台。",
                "登录",
                secret,
                csrf,
            )
        })
    }

    fn act<'a>(
        &'a self,
        state: &'a AppState,
        conn: &'a mut Conn<'_>,
        link: &'a ActionLink,
        _form: &'a LinkForm,
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Result<Acted, Refused>, StoreError>> {
        Box::pin(async move {
            let ttl = state.config.auth.session;
            let cookie = Secret::generate();
            let csrf = Secret::generate();
            let until = now + chrono::Duration::from_std(ttl).unwrap_or_default();
            store_links::insert_session(conn, &cookie.hash(), link.actor, &csrf.hash(), now, until)
                .await?;
            let secure = if state.config.http.public_url.starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let value = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                cookie.expose(),
                ttl.as_secs()
            );
            let mut response = (
                StatusCode::SEE_OTHER,
                [(LOCATION, HeaderValue::from_static("/me"))],
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(SET_COOKIE, v);
            }
            Ok(Ok(("signed_in".to_owned(), response)))
        })
    }

    fn used<'a>(&'a self, state: &'a AppState, link: &'a ActionLink) -> BoxFuture<'a, Response> {
        Box::pin(async move {
            crate::links::used_page(
                link,
                state.config.calendar.time_zone,
                Some("如需再次登录，请重新申请登录链接。"),
            )
        })
    }
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    name: String,
    /// "role · unit name" of each assignment.
    roles: Vec<String>,
    /// (link, what) for each open review task.
    tasks: Vec<(String, String)>,
    /// 评选活动: the names of the units whose campaigns the person sees, if any.
    campaigns_in: Option<String>,
    /// 推荐家庭, for those who may nominate as the organisation: (units by name, (link, name)
    /// of each campaign they take part in).
    nominate: Option<(String, Vec<(String, String)>)>,
    /// 人员管理: (link, unit name) of each unit whose staff the person manages.
    staff_links: Vec<(String, String)>,
    /// 反家暴联动, for those who work on cases: (open cases, overdue among them).
    referrals: Option<(usize, usize)>,
    /// 宣讲, for those who manage tours or keep volunteers somewhere.
    tours_in: Option<crate::tour_pages::Tile>,
    /// 运行状态, for admins.
    admin: bool,
    csrf: String,
}

/// The roles whose holders work on domestic-violence cases and see their tile.
const CASE_ROLES: [jinguo_core::auth::Role; 3] = [
    jinguo_core::auth::Role::CaseOfficer,
    jinguo_core::auth::Role::AgencyLiaison,
    jinguo_core::auth::Role::Supervisor,
];

/// What the workbench loads in one read.
struct Workbench {
    person: Option<jinguo_core::notify::Person>,
    principal: Option<jinguo_core::auth::Principal>,
    tasks: Vec<jinguo_nominations::OpenTask>,
    cases: Option<(usize, usize)>,
    roles: Vec<String>,
    campaigns_in: Option<String>,
    nominate: Option<(String, Vec<(String, String)>)>,
    staff_links: Vec<(String, String)>,
}

async fn workbench(conn: &mut Conn<'_>, person: uuid::Uuid) -> Result<Workbench, Refusal> {
    use crate::campaign_pages::{unit_name, unit_names, units_where};
    let now = jinguo_bus::now();
    let p = people::get(conn, person).await?;
    let principal = staff::principal(conn, person, now).await?;
    let tasks = jinguo_nominations::open_tasks(conn, person).await?;
    let works_on_cases = principal
        .as_ref()
        .is_some_and(|w| w.assignments.iter().any(|a| CASE_ROLES.contains(&a.role)));
    let cases = if works_on_cases {
        let cases = jinguo_referrals::my_cases(conn, person, None, false, now).await?;
        let open: Vec<_> = cases
            .iter()
            .filter(|l| l.state != jinguo_core::referrals::State::Closed)
            .collect();
        Some((open.len(), open.iter().filter(|l| l.overdue).count()))
    } else {
        None
    };
    let mut roles = Vec::new();
    for a in principal.iter().flat_map(|w| &w.assignments) {
        roles.push(format!(
            "{} · {}",
            role_label(a.role),
            unit_name(conn, a.org).await?
        ));
    }
    let viewing = units_where(conn, person, &["nomination.view", "campaign.manage"], now).await?;
    let campaigns_in = if viewing.is_empty() {
        None
    } else {
        Some(unit_names(conn, &viewing).await?)
    };
    let submitting = units_where(conn, person, &["nomination.submit"], now).await?;
    let nominate = if submitting.is_empty() {
        None
    } else {
        let campaigns = jinguo_nominations::campaigns_overlapping(conn, &submitting)
            .await?
            .into_iter()
            .map(|k| (format!("/campaigns/{}", k.id), k.name))
            .collect();
        Some((unit_names(conn, &submitting).await?, campaigns))
    };
    let mut staff_links = Vec::new();
    for unit in units_where(conn, person, &["staff.manage"], now).await? {
        staff_links.push((
            format!("/admin/staff?org={unit}"),
            unit_name(conn, unit).await?,
        ));
    }
    Ok(Workbench {
        person: p,
        principal,
        tasks,
        cases,
        roles,
        campaigns_in,
        nominate,
        staff_links,
    })
}

/// The signed-in home page, the 工作台: a tile for each kind of work the person's roles carry,
/// each naming the units it covers (by name, never by code).
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
        .read(move |c| Box::pin(workbench(c, person)))
        .await;
    let w = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (Some(p), Some(principal)) = (w.person, w.principal) else {
        return message(
            StatusCode::FORBIDDEN,
            "账号不可用",
            "您的账号不存在或已停用。".into(),
            None,
        );
    };
    let tours_in = match crate::tour_pages::tile(&state, person).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let tasks = w
        .tasks
        .into_iter()
        .map(|t| {
            let level = t.level.map_or("", |l| l.label());
            (
                format!("/tasks/{}", t.task),
                format!("{}家庭（{}·{level}审核）", t.family, t.category),
            )
        })
        .collect();
    let page = MePage {
        name: p.display_name,
        roles: w.roles,
        tasks,
        campaigns_in: w.campaigns_in,
        nominate: w.nominate,
        staff_links: w.staff_links,
        referrals: w.cases,
        tours_in,
        admin: principal
            .assignments
            .iter()
            .any(|a| a.role == jinguo_core::auth::Role::Admin),
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
            return crate::page::stale_form("请回到工作台页面点击退出。");
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
