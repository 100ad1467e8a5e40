//! The reviewer's page behind an emailed review link (GET shows, POST decides in signin.rs).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jinguo_auth::Secret;
use jinguo_core::nominations::State;
use jinguo_nominations::{Refusal, Rules, family_of};
use jinguo_store::links::ActionLink;
use jinguo_store::{StoreError, nominations as store, orgs};
use uuid::Uuid;

use crate::signin::message;
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage<'a> {
    level: &'static str,
    family: String,
    /// The head's ID number or phone, masked.
    head_key: String,
    address: String,
    /// The contact phone in full: the reviewer may need to call the family.
    phone: Option<String>,
    campaign: String,
    category: String,
    village: String,
    story: String,
    quota_full: bool,
    quota: u32,
    action: String,
    csrf: &'a str,
}

pub(crate) fn state_label(s: State) -> &'static str {
    match s {
        // Only the county case officers ever see this label; everyone else sees `public()`.
        State::EligibilityReview => "资格核查中",
        State::VillageReview => "村级审核中",
        State::VillagePublicity => "村级公示中",
        State::TownshipReview => "乡镇级审核中",
        State::CountyReview => "县级审核中",
        State::Publicity => "公示中",
        State::Awarded => "已获评",
        State::Rejected => "未通过",
        State::Returned => "已退回推荐人",
        State::Withdrawn => "已撤回",
        State::UnderInvestigation => "核查中",
        State::Revoked => "已撤销",
    }
}

pub(crate) fn refusal_text(r: &Refusal) -> String {
    match r {
        Refusal::Invalid {
            field: "reason", ..
        } => "退回或不通过时请填写理由。".into(),
        Refusal::QuotaFull { quota, .. } => {
            format!("本级推荐名额（{quota} 个）已用完，需先退回或不通过其他推荐。")
        }
        Refusal::Conflict(_) | Refusal::Forbidden(_) => "这项审核已经处理过，或不属于您。".into(),
        Refusal::NotFound(_) => "找不到这份推荐。".into(),
        Refusal::Invalid { message, .. } | Refusal::Ineligible { message, .. } => message.clone(),
        Refusal::Store(_) => "系统暂时无法处理，请稍后再试。".into(),
    }
}

/// GET behind an emailed link: the nomination and the decision form; changes nothing.
pub(crate) async fn page(
    state: &AppState,
    link: &ActionLink,
    secret: &Secret,
    csrf: &str,
) -> Response {
    let Some(id) = link
        .subject
        .split(':')
        .next()
        .and_then(|s| s.parse::<Uuid>().ok())
    else {
        return message(
            StatusCode::NOT_FOUND,
            "链接无效",
            "这个链接指向的推荐不存在。".into(),
            None,
        );
    };
    render(
        state,
        id,
        link.actor,
        format!("/link/{}", secret.expose()),
        csrf,
    )
    .await
}

/// A nomination with its campaign and its village (code and name), for the pages.
type WithNames = (
    store::NominationRow,
    Option<store::CampaignRow>,
    Option<jinguo_core::org::OrgCode>,
    String,
);

async fn with_names(
    c: &mut jinguo_store::Conn<'_>,
    id: Uuid,
) -> Result<Option<WithNames>, StoreError> {
    let Some(n) = store::get(c, id).await? else {
        return Ok(None);
    };
    let campaign = store::get_campaign(c, n.campaign_id).await?;
    let village = jinguo_core::org::OrgCode::parse(&n.village_code).ok();
    let village_name = match village {
        Some(v) => orgs::get(c, v).await?.map(|u| u.name).unwrap_or_default(),
        None => String::new(),
    };
    Ok(Some((n, campaign, village, village_name)))
}

/// The review page for nomination `id`, its form posting to `action`.
async fn render(
    state: &AppState,
    id: Uuid,
    reviewer: Uuid,
    action: String,
    csrf: &str,
) -> Response {
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let Some((n, campaign, village, village_name)) = with_names(c, id).await? else {
                    return Ok::<_, StoreError>(None);
                };
                if !jinguo_nominations::may_review(c, reviewer, id, jinguo_bus::now()).await? {
                    return Ok(Some(Err(n.state)));
                }
                let quota = match (n.state.review_level(), &campaign, village) {
                    (Some(level), Some(camp), Some(v)) => {
                        let rules: Option<Rules> = serde_json::from_str(&camp.rules).ok();
                        let unit = jinguo_nominations::unit_for(v, level);
                        let used =
                            store::forwarded_count(c, n.campaign_id, level.as_str(), unit.as_str())
                                .await?;
                        let quota = rules.map_or(0, |r| match level {
                            jinguo_core::nominations::Level::Village => r.quotas.village,
                            jinguo_core::nominations::Level::Township => r.quotas.township,
                            jinguo_core::nominations::Level::County => r.quotas.county,
                        });
                        (
                            quota,
                            !jinguo_core::nominations::within_quota(used as u32, quota),
                        )
                    }
                    _ => (0, false),
                };
                Ok(Some(Ok((
                    n,
                    campaign.map(|c| c.name).unwrap_or_default(),
                    village_name,
                    quota,
                ))))
            })
        })
        .await;
    let (n, campaign, village, (quota, quota_full)) = match loaded {
        Ok(Some(Ok(v))) => v,
        Ok(Some(Err(now_in))) => {
            // Not (or no longer) theirs to review: say so without showing the family.
            return message(
                StatusCode::CONFLICT,
                "无需您审核",
                format!(
                    "这项审核已不需要您处理（该推荐现在{}）。",
                    state_label(now_in.public())
                ),
                None,
            );
        }
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "链接无效",
                "这个链接指向的推荐不存在。".into(),
                None,
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(level) = n.state.review_level() else {
        return message(
            StatusCode::CONFLICT,
            "无需审核",
            format!("该推荐现在{}，不在审核中。", state_label(n.state.public())),
            None,
        );
    };
    let family = family_of(&n);
    let page = ReviewPage {
        level: level.label(),
        phone: family.phone(n.id, &state.sealer),
        head_key: family.head_key_masked,
        address: family.address,
        family: family.head_name,
        campaign,
        category: n.category,
        village,
        story: n.story,
        quota_full,
        quota,
        action,
        csrf,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// `GET /tasks/{task_id}`: the same review page for a signed-in reviewer, from the task list.
pub(crate) async fn task_page(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    crate::extract::Path(task_id): crate::extract::Path<Uuid>,
) -> Response {
    let session = match crate::auth::SignedIn::from_headers(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return axum::response::Redirect::to("/signin").into_response(),
        Err(e) => return e.into_response(),
    };
    let task = match state
        .store
        .read(move |c| Box::pin(store::get_task(c, task_id)))
        .await
    {
        Ok(Some(t)) if t.reviewer == session.person => t,
        Ok(_) => {
            return message(
                StatusCode::NOT_FOUND,
                "没有这项任务",
                "这项审核任务不存在，或不属于您。".into(),
                None,
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    if task.closed {
        return message(
            StatusCode::CONFLICT,
            "已处理",
            "这项审核任务已经处理完毕。".into(),
            None,
        );
    }
    render(
        &state,
        task.nomination_id,
        session.person,
        format!("/tasks/{task_id}"),
        &session.csrf,
    )
    .await
}

#[derive(serde::Deserialize)]
pub(crate) struct TaskForm {
    csrf: String,
    decision: String,
    reason: Option<String>,
}

/// `POST /tasks/{task_id}`: decides from the task list (session + CSRF).
pub(crate) async fn decide_task(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    crate::extract::Path(task_id): crate::extract::Path<Uuid>,
    crate::extract::Form(form): crate::extract::Form<TaskForm>,
) -> Response {
    let session = match crate::auth::SignedIn::from_headers(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return axum::response::Redirect::to("/signin").into_response(),
        Err(e) => return e.into_response(),
    };
    if session.csrf != form.csrf {
        return message(
            StatusCode::FORBIDDEN,
            "请从页面操作",
            "请刷新审核页面后重试。".into(),
            None,
        );
    }
    let decision = match form.decision.as_str() {
        "approve" => jinguo_nominations::Decision::Approve,
        "reject" => jinguo_nominations::Decision::Reject,
        "return" => jinguo_nominations::Decision::Return,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "请选择审核意见",
                "请选择通过、退回或不通过。".into(),
                None,
            );
        }
    };
    let links = crate::nominations::links(&state);
    let person = session.person;
    let result = state
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let task = store::get_task(c, task_id)
                    .await?
                    .ok_or_else(|| Refusal::NotFound("no task".into()))?;
                if task.reviewer != person {
                    return Err(Refusal::Conflict("not yours".into()));
                }
                jinguo_nominations::decide(
                    c,
                    task.nomination_id,
                    person,
                    decision,
                    form.reason.as_deref(),
                    &links,
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await;
    match result {
        Ok(to) => message(
            StatusCode::OK,
            "审核意见已提交",
            format!("谢谢！该推荐现在的状态：{}。", state_label(to)),
            None,
        ),
        Err(Refusal::Store(e)) => ApiError::from(e).into_response(),
        Err(r) => message(
            StatusCode::CONFLICT,
            "未能提交",
            refusal_text(&r),
            Some("请返回上一页修改后重新提交。"),
        ),
    }
}

struct DashboardRow {
    family: String,
    village: String,
    category: String,
    state: &'static str,
    stalled: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    campaign: String,
    org_name: String,
    rows: Vec<DashboardRow>,
    stalled: usize,
}

#[derive(serde::Deserialize)]
pub(crate) struct DashboardQuery {
    org: Option<String>,
}

/// `GET /admin/campaigns/{id}?org=CODE`: the county dashboard of a campaign; stalled
/// nominations (a level without an active reviewer) are flagged.
pub(crate) async fn dashboard(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    crate::extract::Path(id): crate::extract::Path<Uuid>,
    axum::extract::Query(q): axum::extract::Query<DashboardQuery>,
) -> Response {
    let session = match crate::auth::SignedIn::from_headers(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return axum::response::Redirect::to("/signin").into_response(),
        Err(e) => return e.into_response(),
    };
    let campaign = match state
        .store
        .read(move |c| Box::pin(store::get_campaign(c, id)))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "没有这项评选",
                "请核对链接。".into(),
                None,
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let scope = q
        .org
        .as_deref()
        .and_then(|o| jinguo_core::org::OrgCode::parse(o).ok())
        .or_else(|| jinguo_core::org::OrgCode::parse(&campaign.scope_org).ok());
    let Some(area) = scope else {
        return message(
            StatusCode::BAD_REQUEST,
            "机构代码有误",
            "请检查 org 参数。".into(),
            None,
        );
    };
    if let Err(e) = crate::auth::require(&state, session.person, "nomination.view", area).await {
        return if e.status == StatusCode::FORBIDDEN {
            message(
                StatusCode::FORBIDDEN,
                "没有权限",
                format!("您没有查看 {area} 推荐的权限。"),
                None,
            )
        } else {
            e.into_response()
        };
    }
    let viewer = session.person;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let reveal =
                    jinguo_nominations::reveals_eligibility(c, viewer, area, jinguo_bus::now())
                        .await?;
                let mut rows = Vec::new();
                for n in store::list(c, id).await? {
                    let Ok(village) = jinguo_core::org::OrgCode::parse(&n.village_code) else {
                        continue;
                    };
                    if !village.is_within(&area) {
                        continue;
                    }
                    let stalled = jinguo_nominations::is_stalled(&store::history(c, n.id).await?);
                    rows.push(DashboardRow {
                        family: family_of(&n).head_name,
                        village: orgs::get(c, village)
                            .await?
                            .map(|u| u.name)
                            .unwrap_or_default(),
                        category: n.category,
                        state: state_label(if reveal { n.state } else { n.state.public() }),
                        stalled,
                    });
                }
                let org_name = orgs::get(c, area)
                    .await?
                    .map(|u| u.name)
                    .unwrap_or_default();
                Ok::<_, StoreError>((rows, org_name))
            })
        })
        .await;
    let (rows, org_name) = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let stalled = rows.iter().filter(|r| r.stalled).count();
    let page = Dashboard {
        campaign: campaign.name,
        org_name,
        rows,
        stalled,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "eligibility.html")]
struct EligibilityPage<'a> {
    family: String,
    campaign: String,
    category: String,
    village: String,
    story: String,
    reasons: &'static [&'static str],
    action: String,
    csrf: &'a str,
}

/// GET behind a county case officer's eligibility link: the held nomination, why it is held,
/// and the choice (continue, or close with an ordinary reason); changes nothing. Only the
/// officer the link was issued to gets here (the link rules saw to it).
pub(crate) async fn eligibility_page(
    state: &AppState,
    link: &ActionLink,
    secret: &Secret,
    csrf: &str,
) -> Response {
    let Ok(id) = link.subject.parse::<Uuid>() else {
        return message(
            StatusCode::NOT_FOUND,
            "链接无效",
            "这个链接指向的推荐不存在。".into(),
            None,
        );
    };
    let actor = link.actor;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let Some((n, campaign, code, village)) = with_names(c, id).await? else {
                    return Ok::<_, StoreError>(None);
                };
                // Only while the link's person is still a case officer there.
                let entitled = match code {
                    Some(code) => {
                        jinguo_nominations::reveals_eligibility(c, actor, code, jinguo_bus::now())
                            .await?
                    }
                    None => false,
                };
                if !entitled {
                    return Ok(None);
                }
                Ok(Some((
                    n,
                    campaign.map(|c| c.name).unwrap_or_default(),
                    village,
                )))
            })
        })
        .await;
    let (n, campaign, village) = match loaded {
        Ok(Some(v)) => v,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "链接无效",
                "这个链接指向的推荐不存在。".into(),
                None,
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    if n.state != State::EligibilityReview {
        return message(
            StatusCode::CONFLICT,
            "无需核查",
            format!("该推荐现在{}，不需要资格核查。", state_label(n.state)),
            None,
        );
    }
    let page = EligibilityPage {
        family: family_of(&n).head_name,
        campaign,
        category: n.category,
        village,
        story: n.story,
        reasons: &jinguo_nominations::CLOSE_REASONS,
        action: format!("/link/{}", secret.expose()),
        csrf,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}
