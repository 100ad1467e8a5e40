//! Staff over the JSON API (bearer tokens) and the county admin page (sessions).

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use jinguo_auth::staff::{Grantor, NewStaff, StaffError, parse_assignment, parse_email};
use jinguo_core::auth::Role;
use jinguo_core::org::OrgCode;
use jinguo_store::{StoreError, orgs, people, staff};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{ApiCaller, SignedIn, require};
use crate::extract::{Form, Json as JsonBody, Path};
use crate::page::{message, role_label};
use crate::{ApiError, AppState};

fn parse_org(raw: &str, field: &'static str) -> Result<OrgCode, ApiError> {
    OrgCode::parse(raw).map_err(|e| ApiError::bad_request(field, e.to_string()))
}

fn staff_json(s: &staff::StaffMember) -> Value {
    json!({
        "id": s.id,
        "name": s.display_name,
        "email": s.email,
        "active": s.active,
        "roles": s.assignments.iter().map(|a| json!({
            "role": a.role.as_str(), "org": a.org, "agency": a.agency.map(|g| g.as_str())
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/me`: who the token belongs to.
pub(crate) async fn me(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
) -> Result<Json<Value>, ApiError> {
    let (p, principal) = state
        .store
        .read(move |c| {
            Box::pin(async move {
                Ok::<_, StoreError>((
                    people::get(c, person).await?,
                    staff::principal(c, person, jinguo_bus::now()).await?,
                ))
            })
        })
        .await?;
    let (Some(p), Some(principal)) = (p, principal) else {
        return Err(ApiError::unauthorized("the bearer token is not valid"));
    };
    Ok(Json(json!({
        "id": p.id,
        "name": p.display_name,
        "email": p.email,
        "active": principal.active,
        "roles": principal.assignments.iter().map(|a| json!({
            "role": a.role.as_str(), "org": a.org, "agency": a.agency.map(|g| g.as_str())
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub(crate) struct OrgQuery {
    org: Option<String>,
}

/// `GET /api/v1/staff?org=CODE`: staff of a subtree (`staff.view` there).
pub(crate) async fn list(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Value>, ApiError> {
    let org = parse_org(
        q.org
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("org", "org is required"))?,
        "org",
    )?;
    require(&state, person, "staff.view", org).await?;
    let list = state
        .store
        .read(move |c| Box::pin(staff::list(c, Some(org))))
        .await?;
    Ok(Json(
        json!({ "org": org, "staff": list.iter().map(staff_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
pub(crate) struct NewStaffBody {
    email: String,
    name: String,
    role: String,
    org: String,
    agency: Option<String>,
    phone: Option<String>,
}

/// The staff form and API checked field by field; refusals are Chinese, for people.
fn new_staff(b: NewStaffBody) -> Result<NewStaff, ApiError> {
    let email = parse_email(&b.email)
        .map_err(|_| ApiError::bad_request("email", "邮箱格式不正确，例如 wangfang@example.cn"))?;
    let name = jinguo_core::text::single_line(&b.name, jinguo_core::text::NAME_MAX)
        .map_err(|e| ApiError::bad_request("name", format!("姓名{}", e.message())))?;
    let assignment = parse_assignment(&b.role, &b.org, b.agency.as_deref()).map_err(|(f, _)| {
        let message = match f {
            "role" => "请选择角色",
            "org" => "机构代码应为 2–12 位数字的统计用区划代码",
            _ => "联动单位联络员需注明所属单位，其他角色不填",
        };
        ApiError::bad_request(f, message)
    })?;
    let phone = jinguo_core::identity::MobilePhone::parse_optional(b.phone.as_deref())
        .map_err(|e| ApiError::bad_request("phone", e.message()))?
        .map(|p| p.as_str().to_owned());
    Ok(NewStaff {
        email,
        name,
        phone,
        assignment,
    })
}

/// The staff form's labels, for refusals beside their field.
fn field_label(field: Option<&str>) -> &'static str {
    match field {
        Some("email") => "邮箱",
        Some("name") => "姓名",
        Some("role") => "角色",
        Some("org" | "unit") => "机构代码",
        Some("phone") => "手机号",
        _ => "填写内容",
    }
}

async fn add_staff(state: &AppState, actor: Uuid, s: NewStaff) -> Result<Uuid, ApiError> {
    let result = state
        .store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::add(c, &s, Grantor::Staff(actor), jinguo_bus::now()).await
            })
        })
        .await;
    result.map(|(id, _)| id).map_err(staff_refusal)
}

/// A staff refusal in the one error shape.
fn staff_refusal(e: StaffError) -> ApiError {
    match e {
        StaffError::Invalid { field, message } => ApiError::bad_request(field, message),
        StaffError::Forbidden { message } => ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message,
            field: None,
        },
        StaffError::Store(e) => e.into(),
        e @ StaffError::BadRow { .. } => ApiError::internal(&e),
    }
}

/// `POST /api/v1/staff`: adds a staff member (`staff.manage` at the role's unit, or
/// `staff.grant_sensitive` for roles that read referral data; never to oneself).
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    JsonBody(body): JsonBody<NewStaffBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let s = new_staff(body)?;
    let id = add_staff(&state, person, s).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

#[derive(Clone, Deserialize)]
pub(crate) struct BreakGlassBody {
    /// The case number (`620122-2026-0001`).
    case_id: String,
    reason: String,
    // `org`, which older clients still send, is ignored: the case's own village decides.
}

/// `POST /api/v1/break-glass`: emergency access to one case, for a short time, with a reason
/// (`jinguo_referrals::break_glass`: the case must exist inside the requester's area, and a
/// number outside it is refused like one that does not exist; audited without the reason and
/// reported to the county's supervisors).
pub(crate) async fn break_glass(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    JsonBody(body): JsonBody<BreakGlassBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (number, until) = crate::referrals::run(
        &state,
        person,
        crate::referrals::On::Request("break_glass"),
        move |c, s, now| {
            Box::pin(async move {
                jinguo_referrals::break_glass(c, s, person, &body.case_id, &body.reason, now).await
            })
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "case_id": number.as_str(), "expires_at": until })),
    ))
}

// --- the county admin page ------------------------------------------------------------------

struct StaffRow {
    id: Uuid,
    name: String,
    email: String,
    active: bool,
    roles: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_staff.html")]
struct AdminPage {
    org: String,
    org_name: String,
    staff: Vec<StaffRow>,
    all_roles: Vec<(&'static str, &'static str)>,
    csrf: String,
    error: Option<String>,
}

/// The signed-in admin of `org`, or the page to show instead.
async fn admin_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    org: OrgCode,
    action: &'static str,
) -> Result<SignedIn, Response> {
    let session = match SignedIn::from_headers(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Redirect::to("/signin").into_response()),
        Err(e) => return Err(e.into_response()),
    };
    match require(state, session.person, action, org).await {
        Ok(()) => Ok(session),
        Err(e) if e.status == StatusCode::FORBIDDEN => Err(message(
            StatusCode::FORBIDDEN,
            "没有权限",
            format!("您没有管理 {org} 人员的权限。"),
            None,
        )),
        Err(e) => Err(e.into_response()),
    }
}

async fn render_admin(
    state: &AppState,
    session: &SignedIn,
    org: OrgCode,
    error: Option<String>,
) -> Response {
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                Ok::<_, StoreError>((orgs::get(c, org).await?, staff::list(c, Some(org)).await?))
            })
        })
        .await;
    let (unit, list) = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let page = AdminPage {
        org: org.to_string(),
        org_name: unit.map(|u| u.name).unwrap_or_else(|| org.to_string()),
        staff: list
            .into_iter()
            .map(|s| StaffRow {
                id: s.id,
                name: s.display_name,
                email: s.email,
                active: s.active,
                roles: s
                    .assignments
                    .iter()
                    .map(|a| format!("{} · {}", role_label(a.role), a.org))
                    .collect(),
            })
            .collect(),
        all_roles: Role::ALL
            .iter()
            .filter(|r| **r != Role::AgencyLiaison)
            .map(|r| (r.as_str(), role_label(*r)))
            .collect(),
        csrf: session.csrf.clone(),
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// `GET /admin/staff?org=CODE`.
pub(crate) async fn admin_page(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<OrgQuery>,
) -> Response {
    let Some(org) = q.org.as_deref().and_then(|o| OrgCode::parse(o).ok()) else {
        return message(
            StatusCode::BAD_REQUEST,
            "缺少机构代码",
            "请从工作台进入人员管理。".into(),
            None,
        );
    };
    match admin_of(&state, &headers, org, "staff.view").await {
        Ok(session) => render_admin(&state, &session, org, None).await,
        Err(page) => page,
    }
}

#[derive(Deserialize)]
pub(crate) struct AdminAddForm {
    csrf: String,
    org: String,
    name: String,
    email: String,
    role: String,
    unit: String,
}

fn back(org: &OrgCode) -> Response {
    Redirect::to(&format!("/admin/staff?org={org}")).into_response()
}

/// What every POST of the admin page checks first: the unit, that the signed-in person manages
/// staff there, and the form's CSRF value; the page to show otherwise.
async fn admin_form(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    org: &str,
    csrf: &str,
) -> Result<(OrgCode, SignedIn), Response> {
    let Ok(org) = OrgCode::parse(org) else {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "缺少机构代码",
            "请从工作台进入人员管理。".into(),
            None,
        ));
    };
    let session = admin_of(state, headers, org, "staff.manage").await?;
    if session.csrf != csrf {
        return Err(message(
            StatusCode::FORBIDDEN,
            "请从页面操作",
            "请刷新人员管理页面后重试。".into(),
            None,
        ));
    }
    Ok((org, session))
}

/// `POST /admin/staff`: adds a staff member in the admin's subtree.
pub(crate) async fn admin_add(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(f): Form<AdminAddForm>,
) -> Response {
    let (org, session) = match admin_form(&state, &headers, &f.org, &f.csrf).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let body = NewStaffBody {
        email: f.email,
        name: f.name,
        role: f.role,
        org: f.unit,
        agency: None,
        phone: None,
    };
    let outcome = match new_staff(body) {
        Ok(s) if !s.assignment.org.is_within(&org) => {
            Err(format!("{} 不在 {org} 之内", s.assignment.org))
        }
        Ok(s) => add_staff(&state, session.person, s)
            .await
            .map(|_| ())
            .map_err(|e| format!("{}：{}", field_label(e.field), e.message)),
        Err(e) => Err(format!("{}：{}", field_label(e.field), e.message)),
    };
    match outcome {
        Ok(()) => back(&org),
        Err(error) => render_admin(&state, &session, org, Some(error)).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct AdminPersonForm {
    csrf: String,
    org: String,
    role: Option<String>,
    unit: Option<String>,
    /// `yes` once the admin confirmed on the confirmation page (disable and enable).
    confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    title: &'static str,
    message: String,
    action: String,
    csrf: String,
    org: String,
    button: &'static str,
}

/// `POST /admin/staff/{id}/disable`, `/enable` (each after a confirmation page) and
/// `/reassign`.
pub(crate) async fn admin_person(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path((id, what)): Path<(Uuid, String)>,
    Form(f): Form<AdminPersonForm>,
) -> Response {
    let (org, session) = match admin_form(&state, &headers, &f.org, &f.csrf).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let actor = session.person;
    // The one rule for managing a person (their roles all where the admin may grant them).
    let manageable = state
        .store
        .read(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::may_manage(c, Grantor::Staff(actor), id, jinguo_bus::now())
                    .await
            })
        })
        .await;
    match manageable {
        Ok(()) => {}
        Err(StaffError::Store(e)) => return ApiError::from(e).into_response(),
        Err(_) => {
            return message(
                StatusCode::FORBIDDEN,
                "没有权限",
                "此人员不在您管理的范围内。".into(),
                None,
            );
        }
    }
    let result = match what.as_str() {
        "disable" | "enable" => {
            let active = what == "enable";
            if f.confirm.as_deref() != Some("yes") {
                return confirm_page(&state, &session, org, id, active).await;
            }
            state
                .store
                .transaction(move |c| {
                    Box::pin(async move {
                        jinguo_auth::staff::set_active(
                            c,
                            id,
                            active,
                            &actor.to_string(),
                            jinguo_bus::now(),
                        )
                        .await
                        .map(|_| ())
                    })
                })
                .await
        }
        "reassign" => {
            let parsed = parse_assignment(
                f.role.as_deref().unwrap_or(""),
                f.unit.as_deref().unwrap_or(""),
                None,
            );
            let a = match parsed {
                Ok(a) if a.org.is_within(&org) => a,
                Ok(_) => {
                    return render_admin(
                        &state,
                        &session,
                        org,
                        Some("所选单位不在您管理的范围内".into()),
                    )
                    .await;
                }
                Err((field, _)) => {
                    let m = format!("{}：请检查后重新填写", field_label(Some(field)));
                    return render_admin(&state, &session, org, Some(m)).await;
                }
            };
            state
                .store
                .transaction(move |c| {
                    Box::pin(async move {
                        jinguo_auth::staff::reassign(
                            c,
                            Grantor::Staff(actor),
                            id,
                            &a,
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await
        }
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                "页面不存在",
                "没有这个操作。".into(),
                None,
            );
        }
    };
    match result {
        Ok(()) => back(&org),
        Err(StaffError::Store(e)) => ApiError::from(e).into_response(),
        Err(StaffError::Invalid { message, .. } | StaffError::Forbidden { message }) => {
            render_admin(&state, &session, org, Some(message)).await
        }
        Err(e @ StaffError::BadRow { .. }) => ApiError::internal(&e).into_response(),
    }
}

/// The confirmation step before disabling or enabling someone: what will happen, and a form
/// that repeats the request with `confirm=yes`.
async fn confirm_page(
    state: &AppState,
    session: &SignedIn,
    org: OrgCode,
    id: Uuid,
    active: bool,
) -> Response {
    let name = match state
        .store
        .read(move |c| Box::pin(async move { people::display_name(c, id).await }))
        .await
    {
        Ok(n) => n,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let page = if active {
        ConfirmPage {
            title: "确认启用",
            message: format!("启用后，{name}可以重新登录并处理分配给其岗位的任务。"),
            action: format!("/admin/staff/{id}/enable"),
            csrf: session.csrf.clone(),
            org: org.to_string(),
            button: "确认启用",
        }
    } else {
        ConfirmPage {
            title: "确认停用",
            message: format!(
                "停用后，{name}将立即退出登录，已发出的链接和接口令牌全部失效，未完成的审核任务转交本单位其他在岗审核员。"
            ),
            action: format!("/admin/staff/{id}/disable"),
            csrf: session.csrf.clone(),
            org: org.to_string(),
            button: "确认停用",
        }
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}
