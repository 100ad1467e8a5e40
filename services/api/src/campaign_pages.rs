//! 最美家庭 campaigns in the browser: the list within the person's areas (`/campaigns`), the
//! create form (`/campaigns/new`) and a campaign's page (`/campaigns/{id}`) with its rules in
//! Chinese, its public self-nomination link and that link's QR code (inline SVG, for posters).
//!
//! A campaign is created by `jinguo_nominations::create_campaign`, the function behind
//! `POST /api/v1/campaigns`, after the same `campaign.manage` check: the rules and their bounds
//! are the program's, and its refusals are shown beside the field they name. The area is chosen
//! with a picker that works without JavaScript (the approach of the referral pages' village
//! picker): province → city → county, each step a post of the form that keeps what was typed.
//!
//! Editing a campaign is not offered: the program has no update step yet.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use jinguo_core::auth::{Target, authorize};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_core::rules::DeadlineRule;
use jinguo_nominations::{
    CampaignView, DeadlineAction, DeadlineActions, Deadlines, DecideRule, NewCampaign, NoReviewer,
    Quotas, Refusal, Rules,
};
use jinguo_store::{Conn, StoreError, orgs, staff};
use uuid::Uuid;

use crate::auth::SignedIn;
use crate::extract::{Form, Path};
use crate::page::for_people;
use crate::page::{Refused, RefusedForm, message};
use crate::page::{render, signed_in};
use crate::picker::{Pick, Picker, Typed};
use crate::{ApiError, AppState};

// --- who may see and do what -----------------------------------------------------------------

/// Who may see a campaign: a role that views nominations (or manages campaigns) at its unit.
const SEE: [&str; 2] = ["nomination.view", "campaign.manage"];
/// Who creates campaigns.
const MANAGE: &str = "campaign.manage";

/// The units of `person`'s assignments whose role carries one of `actions` there, in the order
/// of the assignments, without repeats.
pub(crate) async fn units_where(
    conn: &mut Conn<'_>,
    person: Uuid,
    actions: &[&str],
    now: DateTime<Utc>,
) -> Result<Vec<OrgCode>, StoreError> {
    let Some(who) = staff::principal(conn, person, now).await? else {
        return Ok(Vec::new());
    };
    let table = staff::permissions(conn).await?;
    let mut out: Vec<OrgCode> = Vec::new();
    for a in &who.assignments {
        let may = actions
            .iter()
            .any(|action| authorize(&who, action, Target::Org(a.org), &table, now));
        if may && !out.contains(&a.org) {
            out.push(a.org);
        }
    }
    Ok(out)
}

/// The name of a unit (its code only if the tree does not know it).
pub(crate) async fn unit_name(conn: &mut Conn<'_>, code: OrgCode) -> Result<String, StoreError> {
    Ok(orgs::get(conn, code)
        .await?
        .map_or_else(|| code.to_string(), |u| u.name))
}

/// The names of `units`, joined with 、.
pub(crate) async fn unit_names(
    conn: &mut Conn<'_>,
    units: &[OrgCode],
) -> Result<String, StoreError> {
    let mut names = Vec::new();
    for u in units {
        names.push(unit_name(conn, *u).await?);
    }
    Ok(names.join("、"))
}

// --- what every page here shares -------------------------------------------------------------

fn store_failed(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

// --- /campaigns ------------------------------------------------------------------------------

struct Line {
    id: Uuid,
    name: String,
    year: i32,
    scope: String,
}

#[derive(Template)]
#[template(path = "campaigns/list.html")]
struct ListPage {
    campaigns: Vec<Line>,
    units: String,
    may_create: bool,
}

/// `GET /campaigns`: the campaigns over or within the person's units.
pub(crate) async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let person = session.person;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                let areas = units_where(c, person, &SEE, now).await?;
                let manage = units_where(c, person, &[MANAGE], now).await?;
                let campaigns = jinguo_nominations::campaigns_overlapping(c, &areas).await?;
                let mut lines = Vec::new();
                for k in campaigns {
                    lines.push(Line {
                        id: k.id,
                        scope: unit_name(c, k.scope).await?,
                        name: k.name,
                        year: k.year,
                    });
                }
                let units = unit_names(c, &areas).await?;
                let may_create = manage.iter().any(|u| u.level() <= OrgLevel::County);
                Ok::<_, Refusal>((areas, lines, units, may_create))
            })
        })
        .await;
    let (areas, campaigns, units, may_create) = match loaded {
        Ok(v) => v,
        Err(e) => return store_failed(e),
    };
    if areas.is_empty() {
        return crate::page::forbidden(
            &state,
            session.person,
            "您的岗位不参与最美家庭评选",
            Some("如需开通，请联系所在县区妇联管理员。"),
        )
        .await;
    }
    render(
        StatusCode::OK,
        &ListPage {
            campaigns,
            units,
            may_create,
        },
    )
}

// --- /campaigns/new --------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "campaigns/new.html")]
struct NewPage {
    csrf: String,
    /// The campaign being changed (its year and area shown, not asked); none when creating.
    editing: Option<Editing>,
    picker: Picker,
    values: Typed,
    refused: Option<Refused>,
    decide_rules: [(&'static str, &'static str); 2],
    no_reviewer_rules: [(&'static str, &'static str); 2],
    deadline_actions: [(&'static str, &'static str); 3],
    deadline_levels: [(&'static str, &'static str, &'static str); 3],
}

impl RefusedForm for NewPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

impl NewPage {
    fn heading(&self) -> &'static str {
        if self.editing.is_some() {
            "修改评选活动"
        } else {
            "创建评选活动"
        }
    }

    fn button(&self) -> &'static str {
        if self.editing.is_some() {
            "保存修改"
        } else {
            "创建评选活动"
        }
    }

    fn action(&self) -> String {
        match &self.editing {
            Some(e) => format!("/campaigns/{}/edit", e.id),
            None => "/campaigns/new".into(),
        }
    }
}

/// The campaign an edit form changes: what it shows but does not ask.
struct Editing {
    id: Uuid,
    year: i32,
    /// The area by name.
    area: String,
}

/// The campaign area's root for `person`: the first unit where they may create campaigns
/// (a county or above), or the page to show instead.
async fn manage_root(state: &AppState, person: Uuid) -> Result<OrgCode, Response> {
    let units = state
        .store
        .read(move |c| {
            Box::pin(async move { units_where(c, person, &[MANAGE], jinguo_bus::now()).await })
        })
        .await;
    match units.map(|u| u.into_iter().find(|u| u.level() <= OrgLevel::County)) {
        Ok(Some(root)) => Ok(root),
        Ok(None) => Err(crate::page::forbidden(
            state,
            person,
            "创建评选活动需要县（市、区）及以上妇联的管理员岗位",
            Some("如需开通，请联系上级妇联管理员。"),
        )
        .await),
        Err(e) => Err(store_failed(e)),
    }
}

async fn new_page(
    state: &AppState,
    session: &SignedIn,
    root: OrgCode,
    values: Typed,
    refused: Option<Refused>,
) -> Response {
    form_page(state, session, root, None, values, refused).await
}

/// The campaign form: creating (with the area picker from `root`) or editing.
async fn form_page(
    state: &AppState,
    session: &SignedIn,
    root: OrgCode,
    editing: Option<Editing>,
    values: Typed,
    refused: Option<Refused>,
) -> Response {
    let area = Pick::Area.area(root, &values);
    let loaded = state
        .store
        .read(move |c| Box::pin(Pick::Area.picker(c, root, area)))
        .await;
    let picker = match loaded {
        Ok(p) => p,
        Err(e) => return store_failed(e),
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    render(
        status,
        &NewPage {
            csrf: session.csrf.clone(),
            editing,
            picker,
            values,
            refused,
            decide_rules: [
                ("any", decide_label(DecideRule::Any)),
                ("all", decide_label(DecideRule::All)),
            ],
            no_reviewer_rules: [
                ("flag", no_reviewer_label(NoReviewer::Flag)),
                ("skip", no_reviewer_label(NoReviewer::Skip)),
            ],
            deadline_actions: DEADLINE_ACTIONS,
            deadline_levels: DEADLINE_LEVELS,
        },
    )
}

/// `GET /campaigns/new`: the create form.
pub(crate) async fn new_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let root = match manage_root(&state, session.person).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let year = jinguo_bus::now()
        .with_timezone(&state.config.calendar.time_zone)
        .format("%Y")
        .to_string();
    let values = Typed(vec![
        ("year".into(), year),
        ("scope".into(), root.to_string()),
        ("rules.quotas.village".into(), "0".into()),
        ("rules.quotas.township".into(), "0".into()),
        ("rules.quotas.county".into(), "0".into()),
        ("rules.publicity".into(), "5wd".into()),
        ("rules.decide".into(), "any".into()),
        ("rules.no_reviewer".into(), "flag".into()),
        ("rules.on_deadline.village".into(), "flag".into()),
        ("rules.on_deadline.township".into(), "flag".into()),
        ("rules.on_deadline.county".into(), "flag".into()),
    ]);
    new_page(&state, &session, root, values, None).await
}

/// A quota as typed: blank is 0 (no limit).
fn quota(typed: &Typed, field: &'static str) -> Result<u32, Refused> {
    let raw = typed.get(field).trim();
    if raw.is_empty() {
        return Ok(0);
    }
    raw.parse()
        .map_err(|_| Refused::at(field, "名额：请填写 0 到 100000 之间的整数（0 表示不限）"))
}

/// A deadline as typed: blank is none.
fn deadline(
    typed: &Typed,
    field: &'static str,
    today: chrono::NaiveDate,
) -> Result<Option<DeadlineRule>, Refused> {
    let raw = typed.get(field).trim();
    if raw.is_empty() {
        return Ok(None);
    }
    DeadlineRule::parse(raw, today)
        .map(Some)
        .map_err(|e| Refused::at(field, format!("审核截止：{}", e.message())))
}

/// The form as the program's input; what cannot even be read is refused beside its field.
fn new_campaign(typed: &Typed, today: chrono::NaiveDate) -> Result<NewCampaign, Refused> {
    let year = typed
        .get("year")
        .trim()
        .parse()
        .map_err(|_| Refused::at("year", "年份：请填写四位数字的年份，如 2026"))?;
    Ok(NewCampaign {
        name: typed.get("name").to_owned(),
        year,
        scope_org: typed.get("scope").to_owned(),
        rules: rules_typed(typed, today)?,
    })
}

/// The rules as typed in the form (creating and editing).
fn rules_typed(typed: &Typed, today: chrono::NaiveDate) -> Result<Rules, Refused> {
    let categories = typed
        .get("rules.categories")
        .split(['\n', '、', ',', '，', ';', '；'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let quotas = Quotas {
        village: quota(typed, "rules.quotas.village")?,
        township: quota(typed, "rules.quotas.township")?,
        county: quota(typed, "rules.quotas.county")?,
    };
    let village_publicity = Some(typed.get("rules.village_publicity").trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let decide = match typed.get("rules.decide") {
        "all" => DecideRule::All,
        "any" => DecideRule::Any,
        _ => return Err(Refused::at("rules.decide", "决定方式：请选择")),
    };
    let no_reviewer = match typed.get("rules.no_reviewer") {
        "flag" => NoReviewer::Flag,
        "skip" => NoReviewer::Skip,
        _ => return Err(Refused::at("rules.no_reviewer", "无审核员时：请选择")),
    };
    let on_deadline = |field: &'static str| match typed.get(field) {
        "" | "flag" => Ok(DeadlineAction::Flag),
        "escalate" => Ok(DeadlineAction::Escalate),
        "return" => Ok(DeadlineAction::Return),
        _ => Err(Refused::at(field, "逾期未审核时：请选择")),
    };
    let on_deadline = DeadlineActions {
        village: on_deadline("rules.on_deadline.village")?,
        township: on_deadline("rules.on_deadline.township")?,
        county: on_deadline("rules.on_deadline.county")?,
    };
    Ok(Rules {
        on_deadline,
        categories,
        quotas,
        village_publicity,
        publicity: typed.get("rules.publicity").trim().to_owned(),
        decide,
        deadlines: Deadlines {
            village: deadline(typed, "rules.deadlines.village", today)?,
            township: deadline(typed, "rules.deadlines.township", today)?,
            county: deadline(typed, "rules.deadlines.county", today)?,
        },
        no_reviewer,
    })
}

/// What a passed deadline does, as the form names it.
fn deadline_action(a: DeadlineAction) -> &'static str {
    match a {
        DeadlineAction::Flag => "flag",
        DeadlineAction::Escalate => "escalate",
        DeadlineAction::Return => "return",
    }
}

/// What a passed deadline does, in words.
const fn deadline_action_label(a: DeadlineAction) -> &'static str {
    match a {
        DeadlineAction::Flag => "仅标记逾期（工作台显示）",
        DeadlineAction::Escalate => "上报上一级催办",
        DeadlineAction::Return => "退回推荐人",
    }
}

/// The choices for a passed deadline, as the form offers them.
const DEADLINE_ACTIONS: [(&str, &str); 3] = [
    ("flag", deadline_action_label(DeadlineAction::Flag)),
    ("escalate", deadline_action_label(DeadlineAction::Escalate)),
    ("return", deadline_action_label(DeadlineAction::Return)),
];

/// The levels of the deadline choices: the form's key, label and field.
const DEADLINE_LEVELS: [(&str, &str, &str); 3] = [
    ("village", "村级", "rules.on_deadline.village"),
    ("township", "乡镇级", "rules.on_deadline.township"),
    ("county", "县级", "rules.on_deadline.county"),
];

/// The form's fields holding a campaign's name and rules as they are (the edit form's start).
fn typed_rules(k: &CampaignView) -> Typed {
    let r = &k.rules;
    let deadline = |d: Option<&DeadlineRule>| match d {
        None => String::new(),
        Some(DeadlineRule::Date(d)) => d.format("%Y-%m-%d").to_string(),
        Some(DeadlineRule::WorkingDays(n)) => format!("{n}wd"),
    };
    Typed(vec![
        ("name".into(), k.name.clone()),
        ("rules.categories".into(), r.categories.join("\n")),
        ("rules.quotas.village".into(), r.quotas.village.to_string()),
        (
            "rules.quotas.township".into(),
            r.quotas.township.to_string(),
        ),
        ("rules.quotas.county".into(), r.quotas.county.to_string()),
        (
            "rules.village_publicity".into(),
            r.village_publicity.clone().unwrap_or_default(),
        ),
        ("rules.publicity".into(), r.publicity.clone()),
        (
            "rules.deadlines.village".into(),
            deadline(r.deadlines.village.as_ref()),
        ),
        (
            "rules.deadlines.township".into(),
            deadline(r.deadlines.township.as_ref()),
        ),
        (
            "rules.deadlines.county".into(),
            deadline(r.deadlines.county.as_ref()),
        ),
        (
            "rules.decide".into(),
            match r.decide {
                DecideRule::Any => "any",
                DecideRule::All => "all",
            }
            .into(),
        ),
        (
            "rules.on_deadline.village".into(),
            deadline_action(r.on_deadline.village).into(),
        ),
        (
            "rules.on_deadline.township".into(),
            deadline_action(r.on_deadline.township).into(),
        ),
        (
            "rules.on_deadline.county".into(),
            deadline_action(r.on_deadline.county).into(),
        ),
        (
            "rules.no_reviewer".into(),
            match r.no_reviewer {
                NoReviewer::Flag => "flag",
                NoReviewer::Skip => "skip",
            }
            .into(),
        ),
    ])
}

/// The Chinese name of a field the program names in a refusal.
fn field_label(field: &str) -> &'static str {
    match field {
        "name" => "名称",
        "year" => "年份",
        "scope_org" | "scope" => "评选范围",
        "rules.categories" => "评选类别",
        "rules.quotas.village" | "rules.quotas.township" | "rules.quotas.county" => "名额",
        "rules.village_publicity" => "村级公示期",
        "rules.publicity" => "县级公示期",
        f if f.starts_with("rules.deadlines.") => "审核截止",
        f if f.starts_with("rules.on_deadline.") => "逾期未审核时",
        _ => "填写内容",
    }
}

/// The form field where a refusal of the program is shown (the area's select is `scope`).
fn form_field(field: &'static str) -> &'static str {
    match field {
        "scope_org" => "scope",
        f => f,
    }
}

/// `POST /campaigns/new`: a picker step (`step=pick`/`up`: the form again, nothing taken in),
/// or the campaign; on success its page.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match crate::page::posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let root = match manage_root(&state, session.person).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    if matches!(typed.get("step"), "pick" | "up") {
        return new_page(&state, &session, root, typed, None).await;
    }
    let today = jinguo_bus::now()
        .with_timezone(&state.config.calendar.time_zone)
        .date_naive();
    let input = match new_campaign(&typed, today) {
        Ok(i) => i,
        Err(refused) => return new_page(&state, &session, root, typed, Some(refused)).await,
    };
    let person = session.person;
    let links = state.nominations();
    let created = state
        .store
        .transaction(move |c| {
            let (input, links) = (input.clone(), links.clone());
            Box::pin(async move {
                let now = jinguo_bus::now();
                // The check of `POST /api/v1/campaigns`, at the area chosen.
                if let Ok(scope) = OrgCode::parse(&input.scope_org)
                    && !jinguo_auth::may(c, person, MANAGE, Target::Org(scope), now).await?
                {
                    return Err(Refusal::Forbidden(MANAGE));
                }
                jinguo_nominations::create_campaign(c, input, &person.to_string(), &links, now)
                    .await
            })
        })
        .await;
    let refused = match created {
        Ok(id) => return Redirect::to(&format!("/campaigns/{id}")).into_response(),
        Err(Refusal::Forbidden(_)) => Refused {
            field: Some("scope"),
            message: "评选范围：您不能在这个范围创建评选活动".into(),
            status: StatusCode::FORBIDDEN,
        },
        Err(Refusal::Invalid { field, message }) => Refused::at(
            form_field(field),
            format!("{}：{}", field_label(field), for_people(&message)),
        ),
        Err(other) => return ApiError::from(other).into_response(),
    };
    new_page(&state, &session, root, typed, Some(refused)).await
}

// --- /campaigns/{id} -------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "campaigns/show.html")]
struct ShowPage {
    id: Uuid,
    name: String,
    year: i32,
    scope: String,
    /// (what, rule) in Chinese.
    rules: Vec<(&'static str, String)>,
    categories: Vec<String>,
    /// The public link, in pieces that may break after each `/` on a phone.
    link_parts: Vec<String>,
    link: String,
    qr_svg: String,
    /// The person may nominate a family as the organisation somewhere in the campaign's area.
    may_nominate: bool,
    /// The person may change the campaign's name and rules.
    may_manage: bool,
}

/// `GET /campaigns/{id}`: the campaign's rules, public link and QR code, for people whose
/// units take part in it; anyone else gets a 403 naming the campaign's area.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let person = session.person;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let Some(k) = jinguo_nominations::campaign_view(c, id).await? else {
                    return Ok(None);
                };
                let areas = units_where(c, person, &SEE, jinguo_bus::now()).await?;
                let takes_part = areas
                    .iter()
                    .any(|a| k.scope.is_within(a) || a.is_within(&k.scope));
                let scope = unit_name(c, k.scope).await?;
                let may_nominate =
                    units_where(c, person, &["nomination.submit"], jinguo_bus::now())
                        .await?
                        .iter()
                        .any(|a| k.scope.is_within(a) || a.is_within(&k.scope));
                let may_manage =
                    jinguo_auth::may(c, person, MANAGE, Target::Org(k.scope), jinguo_bus::now())
                        .await?;
                Ok::<_, Refusal>(Some((k, scope, takes_part, may_nominate, may_manage)))
            })
        })
        .await;
    let (k, scope, takes_part, may_nominate, may_manage) = match loaded {
        Ok(Some(v)) => v,
        Ok(None) => return no_such_campaign(),
        Err(e) => return store_failed(e),
    };
    if !takes_part {
        return message(
            StatusCode::FORBIDDEN,
            "没有权限",
            format!("这个评选活动的范围是{scope}，您的岗位不在其中，不能查看。"),
            Some("如需查看，请联系该单位的妇联管理员。"),
        );
    }
    let link = format!("{}/nominate/{}", state.config.http.public_url, k.id);
    let qr_svg = match qr_svg(&link) {
        Ok(svg) => svg,
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let page = ShowPage {
        id: k.id,
        rules: rules_in_chinese(&k),
        categories: k.rules.categories.clone(),
        name: k.name,
        year: k.year,
        scope,
        link_parts: break_after_slashes(&link),
        link,
        qr_svg,
        may_nominate,
        may_manage,
    };
    render(StatusCode::OK, &page)
}

// --- /campaigns/{id}/edit ----------------------------------------------------------------------

/// Campaign `id` as the edit form starts from it, with its area's name; the page to show
/// instead when there is none or `person` may not change it (the program checks again when
/// saving: the same `campaign.manage` at its area as `PUT /api/v1/campaigns/{id}`).
async fn editable(
    state: &AppState,
    person: Uuid,
    id: Uuid,
) -> Result<(CampaignView, Editing), Response> {
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let Some(k) = jinguo_nominations::campaign_view(c, id).await? else {
                    return Ok(None);
                };
                let now = jinguo_bus::now();
                let may = jinguo_auth::may(c, person, MANAGE, Target::Org(k.scope), now).await?;
                let area = unit_name(c, k.scope).await?;
                Ok::<_, Refusal>(Some((k, area, may)))
            })
        })
        .await;
    match loaded {
        Ok(Some((k, area, true))) => {
            let editing = Editing {
                id: k.id,
                year: k.year,
                area,
            };
            Ok((k, editing))
        }
        Ok(Some((_, area, false))) => Err(crate::page::forbidden(
            state,
            person,
            &format!("修改这个评选活动需要{area}妇联的管理员岗位"),
            Some("如需修改，请联系该单位的妇联管理员。"),
        )
        .await),
        Ok(None) => Err(no_such_campaign()),
        Err(e) => Err(store_failed(e)),
    }
}

/// The page of a campaign that does not exist (the campaign pages and 组织推荐 alike).
pub(crate) fn no_such_campaign() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这项评选",
        "没有找到这个评选活动，请核对链接。".into(),
        Some("可以回到工作台查看评选活动列表。"),
    )
}

/// `GET /campaigns/{id}/edit`: the campaign's name and rules in the create form's fields.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let (k, editing) = match editable(&state, session.person, id).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let values = typed_rules(&k);
    form_page(&state, &session, k.scope, Some(editing), values, None).await
}

/// `POST /campaigns/{id}/edit`: saves the name and rules; on success the campaign's page,
/// else the form again with the refusal beside its field and everything typed kept.
pub(crate) async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match crate::page::posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let (k, editing) = match editable(&state, session.person, id).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let today = jinguo_bus::now()
        .with_timezone(&state.config.calendar.time_zone)
        .date_naive();
    let edit = match rules_typed(&typed, today) {
        Ok(rules) => jinguo_nominations::CampaignEdit {
            name: typed.get("name").to_owned(),
            rules,
        },
        Err(refused) => {
            return form_page(
                &state,
                &session,
                k.scope,
                Some(editing),
                typed,
                Some(refused),
            )
            .await;
        }
    };
    let person = session.person;
    let links = state.nominations();
    let saved = state
        .store
        .transaction(move |c| {
            let (edit, links) = (edit.clone(), links.clone());
            Box::pin(async move {
                jinguo_nominations::update_campaign(c, id, edit, person, &links, jinguo_bus::now())
                    .await
            })
        })
        .await;
    let refused = match saved {
        Ok(()) => return Redirect::to(&format!("/campaigns/{id}")).into_response(),
        Err(Refusal::Invalid { field, message }) => Refused::at(
            form_field(field),
            format!("{}：{}", field_label(field), for_people(&message)),
        ),
        Err(Refusal::Forbidden(_)) => {
            return crate::page::forbidden(&state, person, "您不能修改这个评选活动", None).await;
        }
        Err(Refusal::NotFound(_)) => return no_such_campaign(),
        Err(other) => return ApiError::from(other).into_response(),
    };
    form_page(
        &state,
        &session,
        k.scope,
        Some(editing),
        typed,
        Some(refused),
    )
    .await
}

/// `link` cut after each `/` and `-`, so that a phone may wrap it there.
fn break_after_slashes(link: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for ch in link.chars() {
        current.push(ch);
        if ch == '/' || ch == '-' {
            parts.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// The QR code of `link` as an SVG element to place in a page (no XML prologue), named for
/// screen readers.
fn qr_svg(link: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::new(link.as_bytes())?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .max_dimensions(300, 300)
        .build();
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen(
        "<svg",
        "<svg role=\"img\" aria-label=\"自荐链接的二维码\"",
        1,
    ))
}

fn decide_label(d: DecideRule) -> &'static str {
    match d {
        DecideRule::Any => "任一审核员决定即可",
        DecideRule::All => "须该级全部审核员同意（任一退回或不通过即决定）",
    }
}

fn no_reviewer_label(n: NoReviewer) -> &'static str {
    match n {
        NoReviewer::Flag => "标记为待指派，并通知县级妇联管理员指派审核员",
        NoReviewer::Skip => "跳过该级，直接进入下一级审核",
    }
}

/// A 公示 length as people say it: `3d` 3天, `72h` 72小时, `3wd` 3个工作日.
fn length_label(s: &str) -> String {
    let s = s.trim();
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |at| s.split_at(at));
    let unit = match unit {
        "wd" => "个工作日",
        "d" => "天",
        "h" => "小时",
        "m" => "分钟",
        "s" => "秒",
        _ => return s.to_owned(),
    };
    format!("{n}{unit}")
}

fn quota_label(n: u32) -> String {
    if n == 0 {
        "不限".to_owned()
    } else {
        format!("{n} 户")
    }
}

fn deadline_label(d: Option<&DeadlineRule>) -> String {
    match d {
        None => "不设".to_owned(),
        Some(DeadlineRule::Date(d)) => format!("{} 前", d.format("%Y年%m月%d日")),
        Some(DeadlineRule::WorkingDays(n)) => format!("该级开始后 {n} 个工作日内"),
    }
}

/// Every rule of a campaign, in Chinese.
fn rules_in_chinese(k: &CampaignView) -> Vec<(&'static str, String)> {
    let r = &k.rules;
    vec![
        ("村级推荐名额", quota_label(r.quotas.village)),
        ("乡镇（街道）推荐名额", quota_label(r.quotas.township)),
        ("县级推荐名额", quota_label(r.quotas.county)),
        (
            "村级公示期",
            r.village_publicity
                .as_deref()
                .map_or_else(|| "不设".to_owned(), length_label),
        ),
        ("县级公示期", length_label(&r.publicity)),
        ("村级审核截止", deadline_label(r.deadlines.village.as_ref())),
        (
            "乡镇（街道）审核截止",
            deadline_label(r.deadlines.township.as_ref()),
        ),
        ("县级审核截止", deadline_label(r.deadlines.county.as_ref())),
        (
            "村级逾期时",
            deadline_action_label(r.on_deadline.village).to_owned(),
        ),
        (
            "乡镇（街道）逾期时",
            deadline_action_label(r.on_deadline.township).to_owned(),
        ),
        (
            "县级逾期时",
            deadline_action_label(r.on_deadline.county).to_owned(),
        ),
        ("决定方式", decide_label(r.decide).to_owned()),
        (
            "某级没有审核员时",
            no_reviewer_label(r.no_reviewer).to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_said_in_chinese() {
        assert_eq!(length_label("3wd"), "3个工作日");
        assert_eq!(length_label("7d"), "7天");
        assert_eq!(length_label("72h"), "72小时");
        assert_eq!(length_label("odd"), "odd");
    }

    #[test]
    fn a_link_breaks_after_its_slashes() {
        assert_eq!(
            break_after_slashes("http://a/b-c"),
            ["http:/", "/", "a/", "b-", "c"]
        );
    }

    #[test]
    fn the_qr_code_is_an_inline_svg() {
        let svg =
            qr_svg("http://127.0.0.1:8080/nominate/00000000-0000-0000-0000-000000000001").unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn the_picker_never_leaves_its_root_nor_goes_below_a_county() {
        let root = OrgCode::parse("62").unwrap();
        let typed = |pairs: &[(&str, &str)]| {
            Typed(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let city = OrgCode::parse("6201").unwrap();
        assert_eq!(
            Pick::Area.area(root, &typed(&[("step", "pick"), ("scope", "6201")])),
            city
        );
        // A county is chosen, not drilled into.
        assert_eq!(
            Pick::Area.area(
                root,
                &typed(&[("area", "6201"), ("step", "pick"), ("scope", "620122")])
            ),
            city
        );
        let county_root = OrgCode::parse("620122").unwrap();
        assert_eq!(
            Pick::Area.area(county_root, &typed(&[("area", "62"), ("step", "up")])),
            county_root
        );
    }
}
