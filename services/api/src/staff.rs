//! Staff over the JSON API (bearer tokens) and the county admin page (sessions).

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use std::collections::HashMap;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jinguo_auth::staff::{
    Grantor, NewStaff, StaffError, parse_assignment, parse_email, role_label,
};
use jinguo_core::auth::Role;
use jinguo_core::org::OrgCode;
use jinguo_store::{Conn, StoreError, orgs, people, staff};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{ApiCaller, SignedIn, require};
use crate::extract::{Form, Json as JsonBody, Path};
use crate::page::{Refused, RefusedForm, message};
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
            "role" => "请选择岗位",
            "org" => "请选择单位",
            _ => "联动单位联络员需注明所属单位，其他岗位不填",
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

/// Adds `s` as `actor` would and welcomes a new person by mail (`jinguo_auth::staff::onboard`,
/// the one way every entry point adds staff). The person's id and whether they are new.
async fn add_staff(state: &AppState, actor: Uuid, s: NewStaff) -> Result<(Uuid, bool), StaffError> {
    let public_url = state.config.http.public_url.clone();
    state
        .store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::onboard(
                    c,
                    &s,
                    Grantor::Staff(actor),
                    &public_url,
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await
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
        e @ (StaffError::BadRow { .. } | StaffError::Mail(_)) => ApiError::internal(&e),
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
    let (id, _) = add_staff(&state, person, s).await.map_err(staff_refusal)?;
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
//
// A card per person (name, email, roles by unit name, 在岗/已停用, and what the admin may do:
// 调整岗位, 停用 or 启用 — never for themselves); the add form with the role and the unit chosen
// from lists (the units of the admin's subtree, by name); a confirmation after adding; a CSV
// import (pasted, all rows or none, by `jinguo_auth::staff::import`, the rules of
// `jinguo user import`) and its template. Refusals stand beside their field, keep what was
// typed, and are announced.

/// A person as the page shows them.
struct StaffCard {
    id: Uuid,
    name: String,
    email: String,
    active: bool,
    /// "审核员 · 什川镇", one per role.
    roles: Vec<String>,
    /// The signed-in admin: no buttons to disable or move themselves.
    is_self: bool,
    /// A refusal about this person (posted anyway), shown on their card.
    error: Option<String>,
}

/// One group of the unit list: a unit below the admin's and the units under it.
struct UnitGroup {
    label: String,
    /// (code, name)
    units: Vec<(String, String)>,
}

/// The add form as typed.
#[derive(Default)]
struct AddValues {
    name: String,
    email: String,
    phone: String,
    role: String,
    unit: String,
}

#[derive(Template)]
#[template(path = "admin_staff.html")]
struct AdminPage {
    org: String,
    org_name: String,
    staff: Vec<StaffCard>,
    roles: Vec<(&'static str, &'static str)>,
    units: Vec<UnitGroup>,
    csrf: String,
    values: AddValues,
    refused: Option<Refused>,
    /// The pasted CSV, kept when refused.
    import_text: String,
    import_error: Option<String>,
    /// After adding: who was added where, by name.
    added: Option<String>,
    /// After an import: how many.
    imported: Option<String>,
}

impl RefusedForm for AdminPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }

    fn error_ids(&self) -> Option<&'static str> {
        Some("add")
    }
}

impl AdminPage {
    /// The page's title: it says when a submission failed.
    fn title(&self) -> &'static str {
        if self.refused.is_some() || self.import_error.is_some() {
            "提交未成功 · 人员管理"
        } else {
            "人员管理"
        }
    }
}

/// The roles the page grants (liaisons need an agency: the command line and the API add them).
fn page_roles() -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .iter()
        .filter(|r| **r != Role::AgencyLiaison)
        .map(|r| (r.as_str(), role_label(*r)))
        .collect()
}

/// The units an admin of `org` picks from: `org` itself, then a group per unit below it with
/// that unit and the units under it (for a county: its townships, each with its villages).
async fn unit_groups(conn: &mut Conn<'_>, org: OrgCode) -> Result<Vec<UnitGroup>, StoreError> {
    let name = orgs::get(conn, org)
        .await?
        .map_or_else(|| org.to_string(), |u| u.name);
    let mut groups = vec![UnitGroup {
        label: "本级".into(),
        units: vec![(org.to_string(), name)],
    }];
    for child in orgs::children(conn, org).await? {
        let mut units = vec![(child.code.to_string(), format!("{}（本级）", child.name))];
        units.extend(
            orgs::children(conn, child.code)
                .await?
                .into_iter()
                .map(|u| (u.code.to_string(), u.name)),
        );
        groups.push(UnitGroup {
            label: child.name,
            units,
        });
    }
    Ok(groups)
}

/// The subtree's staff as cards, their roles by unit name.
async fn staff_cards(
    conn: &mut Conn<'_>,
    org: OrgCode,
    me: Uuid,
) -> Result<Vec<StaffCard>, StoreError> {
    let mut names: HashMap<OrgCode, String> = HashMap::new();
    let mut cards = Vec::new();
    for s in staff::list(conn, Some(org)).await? {
        let mut roles = Vec::new();
        for a in &s.assignments {
            let name = match names.get(&a.org) {
                Some(n) => n.clone(),
                None => {
                    let n = orgs::get(conn, a.org)
                        .await?
                        .map_or_else(|| a.org.to_string(), |u| u.name);
                    names.insert(a.org, n.clone());
                    n
                }
            };
            roles.push(format!("{} · {name}", role_label(a.role)));
        }
        cards.push(StaffCard {
            id: s.id,
            name: s.display_name,
            email: s.email,
            active: s.active,
            roles,
            is_self: s.id == me,
            error: None,
        });
    }
    Ok(cards)
}

/// What the page shows besides the list: the add form as typed and its refusal, the import as
/// pasted and its refusal, a refusal on one person's card, and the confirmations.
#[derive(Default)]
struct Shown {
    values: AddValues,
    refused: Option<Refused>,
    import_text: String,
    import_error: Option<String>,
    card_error: Option<(Uuid, String)>,
    added: Option<String>,
    imported: Option<String>,
    status: Option<StatusCode>,
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
        Err(e) if e.status == StatusCode::FORBIDDEN => {
            let name = state
                .store
                .read(move |c| Box::pin(async move { orgs::get(c, org).await }))
                .await
                .ok()
                .flatten()
                .map_or_else(|| org.to_string(), |u| u.name);
            Err(message(
                StatusCode::FORBIDDEN,
                "没有权限",
                format!("您没有管理{name}人员的权限。"),
                None,
            ))
        }
        Err(e) => Err(e.into_response()),
    }
}

async fn render_admin(
    state: &AppState,
    session: &SignedIn,
    org: OrgCode,
    shown: Shown,
) -> Response {
    let me = session.person;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                Ok::<_, StoreError>((
                    orgs::get(c, org).await?,
                    staff_cards(c, org, me).await?,
                    unit_groups(c, org).await?,
                ))
            })
        })
        .await;
    let (unit, mut cards, units) = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Some((id, m)) = shown.card_error
        && let Some(card) = cards.iter_mut().find(|c| c.id == id)
    {
        card.error = Some(m);
    }
    let status = shown.status.unwrap_or(StatusCode::OK);
    let page = AdminPage {
        org: org.to_string(),
        org_name: unit.map_or_else(|| org.to_string(), |u| u.name),
        staff: cards,
        roles: page_roles(),
        units,
        csrf: session.csrf.clone(),
        values: shown.values,
        refused: shown.refused,
        import_text: shown.import_text,
        import_error: shown.import_error,
        added: shown.added,
        imported: shown.imported,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct AdminQuery {
    org: Option<String>,
    /// A unit to preselect in the add form (the no-reviewer mail links here with it).
    unit: Option<String>,
    /// The person just added, for the confirmation.
    added: Option<Uuid>,
    /// `1` when the person just added is new (and was mailed a welcome).
    new: Option<u8>,
    /// After an import: people added and roles given.
    imported: Option<usize>,
    roles: Option<usize>,
}

fn no_org() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "缺少单位",
        "请从工作台进入人员管理。".into(),
        None,
    )
}

/// `GET /admin/staff?org=CODE[&unit=CODE]`.
pub(crate) async fn admin_page(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<AdminQuery>,
) -> Response {
    let Some(org) = q.org.as_deref().and_then(|o| OrgCode::parse(o).ok()) else {
        return no_org();
    };
    let session = match admin_of(&state, &headers, org, "staff.view").await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let mut shown = Shown::default();
    if let Some(unit) = q
        .unit
        .as_deref()
        .and_then(|u| OrgCode::parse(u).ok())
        .filter(|u| u.is_within(&org))
    {
        shown.values.unit = unit.to_string();
    }
    if let Some(id) = q.added {
        shown.added = added_sentence(&state, org, id, q.new == Some(1)).await;
    }
    if let Some(people) = q.imported {
        shown.imported = Some(format!(
            "导入完成：新增人员 {people} 名，授予岗位 {} 个。新人员已收到欢迎邮件。",
            q.roles.unwrap_or(people)
        ));
    }
    render_admin(&state, &session, org, shown).await
}

/// "已添加王芳（wangfang@example.cn）：审核员 · 什川镇。" for someone in `org`'s subtree.
async fn added_sentence(state: &AppState, org: OrgCode, id: Uuid, new: bool) -> Option<String> {
    let cards = state
        .store
        .read(move |c| Box::pin(async move { staff_cards(c, org, Uuid::nil()).await }))
        .await
        .ok()?;
    let card = cards.into_iter().find(|c| c.id == id)?;
    let mut sentence = format!(
        "已添加{}（{}）：{}。",
        card.name,
        card.email,
        card.roles.join("；")
    );
    if new {
        sentence.push_str("我们已给他/她发送欢迎邮件，说明如何登录。");
    }
    Some(sentence)
}

/// `GET /admin/staff/template.csv[?org=CODE]`: the import template (UTF-8 with BOM, Chinese
/// header row, one example row at `org`).
pub(crate) async fn csv_template(Query(q): Query<OrgQuery>) -> Response {
    let org = q
        .org
        .as_deref()
        .and_then(|o| OrgCode::parse(o).ok())
        .unwrap_or_else(|| OrgCode::parse("620122100").expect("a valid code"));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"staff-template.csv\"; filename*=UTF-8''%E4%BA%BA%E5%91%98%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.csv",
            ),
        ],
        jinguo_auth::staff::csv_template(org),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct AdminAddForm {
    csrf: String,
    org: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
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
        return Err(no_org());
    };
    let session = admin_of(state, headers, org, "staff.manage").await?;
    if session.csrf != csrf {
        return Err(crate::page::stale_form("请刷新人员管理页面后重试。"));
    }
    Ok((org, session))
}

/// The add form's field for a field the rules name (`org` is the form's `unit`).
fn form_field(field: Option<&'static str>) -> &'static str {
    match field {
        Some("org") | None => "unit",
        Some(f) => f,
    }
}

/// The add form checked field by field, in the order of the form.
fn checked_add(f: &AdminAddForm, org: OrgCode) -> Result<NewStaff, Refused> {
    if f.role.trim().is_empty() {
        return Err(Refused::at("role", "请选择岗位"));
    }
    if f.unit.trim().is_empty() {
        return Err(Refused::at("unit", "请选择单位"));
    }
    let s = new_staff(NewStaffBody {
        email: f.email.clone(),
        name: f.name.clone(),
        role: f.role.clone(),
        org: f.unit.clone(),
        agency: None,
        phone: Some(f.phone.clone()),
    })
    .map_err(|e| Refused::at(form_field(e.field), e.message))?;
    if !s.assignment.org.is_within(&org) {
        return Err(Refused::at("unit", "所选单位不在您管理的范围内"));
    }
    Ok(s)
}

/// `POST /admin/staff`: adds a staff member in the admin's subtree and welcomes them by mail;
/// then the page says who was added where.
pub(crate) async fn admin_add(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(f): Form<AdminAddForm>,
) -> Response {
    let (org, session) = match admin_form(&state, &headers, &f.org, &f.csrf).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let refused = match checked_add(&f, org) {
        Ok(s) => match add_staff(&state, session.person, s).await {
            Ok((id, new)) => {
                return Redirect::to(&format!(
                    "/admin/staff?org={org}&added={id}&new={}",
                    u8::from(new)
                ))
                .into_response();
            }
            Err(StaffError::Invalid { field, message }) => {
                Refused::at(form_field(Some(field)), message)
            }
            // The granting rule: said beside the role chosen.
            Err(StaffError::Forbidden { message }) => Refused::at("role", message),
            Err(StaffError::Store(e)) => return ApiError::from(e).into_response(),
            Err(e) => return ApiError::internal(&e).into_response(),
        },
        Err(r) => r,
    };
    let shown = Shown {
        status: Some(refused.status),
        values: AddValues {
            name: f.name,
            email: f.email,
            phone: f.phone,
            role: f.role,
            unit: f.unit,
        },
        refused: Some(refused),
        ..Shown::default()
    };
    render_admin(&state, &session, org, shown).await
}

#[derive(Deserialize)]
pub(crate) struct AdminImportForm {
    csrf: String,
    org: String,
    #[serde(default)]
    csv: String,
}

/// `POST /admin/staff/import`: the pasted CSV, all rows or none, by the rules of
/// `jinguo user import` (and only units of the admin's subtree); each new person is welcomed.
pub(crate) async fn admin_import(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(f): Form<AdminImportForm>,
) -> Response {
    let (org, session) = match admin_form(&state, &headers, &f.org, &f.csrf).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let actor = session.person;
    let public_url = state.config.http.public_url.clone();
    let text = f.csv.clone();
    let result = match jinguo_auth::staff::parse_csv(&text) {
        Ok(rows) if rows.is_empty() => Err(StaffError::BadRow {
            line: 2,
            column: None,
            message: "没有要导入的行：请在表头下每行填写一人".into(),
        }),
        Ok(rows) => match rows.iter().find(|(_, s)| !s.assignment.org.is_within(&org)) {
            Some((line, _)) => Err(StaffError::BadRow {
                line: *line,
                column: Some("org"),
                message: "该单位不在您管理的范围内".into(),
            }),
            None => {
                state
                    .store
                    .transaction(move |c| {
                        Box::pin(async move {
                            jinguo_auth::staff::import(
                                c,
                                &rows,
                                Grantor::Staff(actor),
                                &public_url,
                                jinguo_bus::now(),
                            )
                            .await
                        })
                    })
                    .await
            }
        },
        Err(e) => Err(e),
    };
    let error = match result {
        Ok((people, roles)) => {
            return Redirect::to(&format!(
                "/admin/staff?org={org}&imported={people}&roles={roles}#import"
            ))
            .into_response();
        }
        Err(StaffError::BadRow {
            line,
            column,
            message,
        }) => match column.map(jinguo_auth::staff::column_label) {
            Some(label) if !label.is_empty() => {
                format!("第 {line} 行，{label}：{message}。整个文件未导入，请改正后重新提交。")
            }
            _ => format!("第 {line} 行：{message}。整个文件未导入，请改正后重新提交。"),
        },
        Err(StaffError::Store(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let shown = Shown {
        status: Some(StatusCode::BAD_REQUEST),
        import_text: f.csv,
        import_error: Some(error),
        ..Shown::default()
    };
    render_admin(&state, &session, org, shown).await
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

/// The reassign form of one person.
#[derive(Template)]
#[template(path = "staff/reassign.html")]
struct ReassignPage {
    id: Uuid,
    org: String,
    name: String,
    roles: Vec<(&'static str, &'static str)>,
    current: Vec<String>,
    units: Vec<UnitGroup>,
    csrf: String,
    role: String,
    unit: String,
    refused: Option<Refused>,
}

impl RefusedForm for ReassignPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }

    fn error_ids(&self) -> Option<&'static str> {
        Some("reassign")
    }
}

/// The person's name and roles, the unit list, and the page with `role`/`unit` as typed.
async fn render_reassign(
    state: &AppState,
    session: &SignedIn,
    org: OrgCode,
    id: Uuid,
    role: String,
    unit: String,
    refused: Option<Refused>,
) -> Response {
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let cards = staff_cards(c, org, Uuid::nil()).await?;
                Ok::<_, StoreError>((
                    cards.into_iter().find(|c| c.id == id),
                    unit_groups(c, org).await?,
                    staff::principal(c, id, jinguo_bus::now()).await?,
                ))
            })
        })
        .await;
    let (card, units, principal) = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(card) = card else {
        return message(
            StatusCode::NOT_FOUND,
            "没有这个人员",
            "此人员不在您管理的范围内。".into(),
            None,
        );
    };
    // Without a choice typed yet, the unit list starts at the person's current unit.
    let unit = if unit.is_empty() {
        principal
            .and_then(|p| p.assignments.first().map(|a| a.org))
            .filter(|u| u.is_within(&org))
            .map(|u| u.to_string())
            .unwrap_or_default()
    } else {
        unit
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    let page = ReassignPage {
        id,
        org: org.to_string(),
        name: card.name,
        roles: page_roles(),
        current: card.roles,
        units,
        csrf: session.csrf.clone(),
        role,
        unit,
        refused,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// Whether the signed-in admin may manage `id`: never themselves (said on their card), and
/// every role of the person where the admin may grant it. The page to show otherwise.
async fn manageable(
    state: &AppState,
    session: &SignedIn,
    org: OrgCode,
    id: Uuid,
) -> Result<(), Response> {
    let actor = session.person;
    if actor == id {
        let shown = Shown {
            status: Some(StatusCode::FORBIDDEN),
            card_error: Some((
                id,
                "不能停用、启用或调整自己的账号，请联系上级管理员。".into(),
            )),
            ..Shown::default()
        };
        return Err(render_admin(state, session, org, shown).await);
    }
    let checked = state
        .store
        .read(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::may_manage(c, Grantor::Staff(actor), id, jinguo_bus::now())
                    .await
            })
        })
        .await;
    match checked {
        Ok(()) => Ok(()),
        Err(StaffError::Store(e)) => Err(ApiError::from(e).into_response()),
        Err(_) => Err(crate::page::forbidden(state, actor, "此人员不在您管理的范围内", None).await),
    }
}

/// `GET /admin/staff/{id}/reassign?org=CODE`: the form to move a person to another role.
pub(crate) async fn admin_person_page(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path((id, what)): Path<(Uuid, String)>,
    Query(q): Query<OrgQuery>,
) -> Response {
    if what != "reassign" {
        return message(
            StatusCode::NOT_FOUND,
            "页面不存在",
            "没有这个页面。".into(),
            None,
        );
    }
    let Some(org) = q.org.as_deref().and_then(|o| OrgCode::parse(o).ok()) else {
        return no_org();
    };
    let session = match admin_of(&state, &headers, org, "staff.manage").await {
        Ok(s) => s,
        Err(page) => return page,
    };
    if let Err(page) = manageable(&state, &session, org, id).await {
        return page;
    }
    render_reassign(
        &state,
        &session,
        org,
        id,
        String::new(),
        String::new(),
        None,
    )
    .await
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
    if !matches!(what.as_str(), "disable" | "enable" | "reassign") {
        return message(
            StatusCode::NOT_FOUND,
            "页面不存在",
            "没有这个操作。".into(),
            None,
        );
    }
    // The one rule for managing a person (never oneself; their roles all where the admin may
    // grant them).
    if let Err(page) = manageable(&state, &session, org, id).await {
        return page;
    }
    let actor = session.person;
    if what == "reassign" {
        let (role, unit) = (f.role.unwrap_or_default(), f.unit.unwrap_or_default());
        let again = |refused: Refused| {
            render_reassign(
                &state,
                &session,
                org,
                id,
                role.clone(),
                unit.clone(),
                Some(refused),
            )
        };
        if role.trim().is_empty() {
            return again(Refused::at("role", "请选择岗位")).await;
        }
        let a = match parse_assignment(&role, &unit, None) {
            Ok(a) if a.org.is_within(&org) => a,
            Ok(_) => return again(Refused::at("unit", "所选单位不在您管理的范围内")).await,
            Err(("role", _)) => return again(Refused::at("role", "请选择岗位")).await,
            Err(_) => return again(Refused::at("unit", "请选择单位")).await,
        };
        let result = state
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
            .await;
        return match result {
            Ok(()) => back(&org),
            Err(StaffError::Invalid { field, message }) => {
                again(Refused::at(form_field(Some(field)), message)).await
            }
            Err(StaffError::Forbidden { message }) => again(Refused::at("role", message)).await,
            Err(StaffError::Store(e)) => ApiError::from(e).into_response(),
            Err(e) => ApiError::internal(&e).into_response(),
        };
    }
    let active = what == "enable";
    if f.confirm.as_deref() != Some("yes") {
        return confirm_page(&state, &session, org, id, active).await;
    }
    let result = state
        .store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::set_active(c, id, active, &actor.to_string(), jinguo_bus::now())
                    .await
                    .map(|_| ())
            })
        })
        .await;
    match result {
        Ok(()) => back(&org),
        Err(StaffError::Store(e)) => ApiError::from(e).into_response(),
        Err(StaffError::Invalid { message, .. } | StaffError::Forbidden { message }) => {
            let shown = Shown {
                status: Some(StatusCode::BAD_REQUEST),
                card_error: Some((id, message)),
                ..Shown::default()
            };
            render_admin(&state, &session, org, shown).await
        }
        Err(e) => ApiError::internal(&e).into_response(),
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
                "停用后，{name}将立即退出登录，已发出的链接和接口令牌全部失效，未完成的审核任务转交本单位其他在岗审核员。停用后可随时在人员管理页面点“启用”恢复。"
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
