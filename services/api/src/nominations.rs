//! 最美家庭 nominations over the JSON API.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jinguo_core::org::OrgCode;
use jinguo_nominations::{
    CampaignEdit, Decision, EligibilityDecision, Finding, NewCampaign, Nominator, Refusal,
    Submission,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{ApiCaller, require};
use crate::extract::{Json as JsonBody, Path};
use crate::{ApiError, AppState};

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid { field, message } => ApiError::bad_request(field, message),
            Refusal::Ineligible { rule, message, .. } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: rule,
                message,
                field: Some("family"),
            },
            Refusal::Forbidden(action) => ApiError::forbidden(action),
            Refusal::NotFound(m) => ApiError::not_found(m),
            Refusal::Conflict(m) => ApiError {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: m,
                field: None,
            },
            e @ Refusal::QuotaFull { .. } => ApiError {
                status: StatusCode::CONFLICT,
                code: "quota_full",
                message: e.to_string(),
                field: Some("decision"),
            },
            Refusal::Store(e) => ApiError::from(e),
            Refusal::Mail(e) => ApiError::from(e),
            e @ Refusal::Corrupt { .. } => ApiError::internal(&e),
        }
    }
}

/// `POST /api/v1/campaigns` (`campaign.manage` at the campaign's area).
pub(crate) async fn create_campaign(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    JsonBody(body): JsonBody<NewCampaign>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let scope = OrgCode::parse(&body.scope_org).map_err(|_| {
        ApiError::bad_request("scope_org", "机构代码应为 2–12 位数字的统计用区划代码")
    })?;
    require(&state, person, "campaign.manage", scope).await?;
    let links = state.nominations();
    let id = state
        .store
        .transaction(move |c| {
            let (body, links) = (body.clone(), links.clone());
            Box::pin(async move {
                jinguo_nominations::create_campaign(
                    c,
                    body,
                    &person.to_string(),
                    &links,
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// `PUT /api/v1/campaigns/{id}`: a campaign's name and rules (`campaign.manage` at its area,
/// checked by the program's one update step, like the page's).
pub(crate) async fn update_campaign(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<CampaignEdit>,
) -> Result<Json<Value>, ApiError> {
    let links = state.nominations();
    state
        .store
        .transaction(move |c| {
            let (body, links) = (body.clone(), links.clone());
            Box::pin(async move {
                jinguo_nominations::update_campaign(c, id, body, person, &links, jinguo_bus::now())
                    .await
            })
        })
        .await?;
    Ok(Json(json!({ "id": id })))
}

/// `POST /api/v1/nominations` (`nomination.submit` at the village). A household with an
/// incident flag is accepted like any other (and held out of sight); only county case
/// officers are told why instead.
pub(crate) async fn submit(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    JsonBody(body): JsonBody<Submission>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let links = state.nominations();
    let id =
        jinguo_nominations::submit(&state.store, body, Nominator::Staff(person), &links).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "state": "village_review" })),
    ))
}

/// `GET /api/v1/nominations/{id}`: state and history.
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let n = state
        .store
        .read(move |c| {
            Box::pin(async move {
                jinguo_nominations::nomination_detail(c, id, person, jinguo_bus::now()).await
            })
        })
        .await?
        .ok_or_else(|| ApiError::not_found("没有这份推荐"))?;
    require(&state, person, "nomination.view", n.village).await?;
    Ok(Json(json!({
        "id": n.id,
        "campaign_id": n.campaign_id,
        "village": n.village,
        "category": n.category,
        "channel": n.channel,
        "state": n.state,
        "history": n.history.iter().map(|h| json!({
            "at": h.at, "actor": h.actor, "event": h.event, "from": h.from, "to": h.to, "reason": h.reason
        })).collect::<Vec<_>>(),
    })))
}

/// Decides review task `task_id` for `person` in its own transaction (the API and the task
/// page).
pub(crate) async fn decide_task(
    state: &AppState,
    task_id: Uuid,
    person: Uuid,
    decision: Decision,
    reason: Option<String>,
) -> Result<jinguo_core::nominations::State, Refusal> {
    let links = state.nominations();
    state
        .store
        .transaction(move |c| {
            let (links, reason) = (links.clone(), reason.clone());
            Box::pin(async move {
                jinguo_nominations::decide_task(
                    c,
                    task_id,
                    person,
                    decision,
                    reason.as_deref(),
                    &links,
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await
}

#[derive(Deserialize)]
pub(crate) struct DecisionBody {
    decision: Decision,
    reason: Option<String>,
}

/// `POST /api/v1/reviews/{task_id}/decision`: the same decision as the emailed link.
pub(crate) async fn decide(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(task_id): Path<Uuid>,
    JsonBody(body): JsonBody<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let to = decide_task(&state, task_id, person, body.decision, body.reason).await?;
    Ok(Json(json!({ "state": to })))
}

/// 催办 by hand of nomination `id` by `person`, in its own transaction (the API and the
/// nomination page): how many reviewers were mailed, and the state as they may see it.
pub(crate) async fn urge(
    state: &AppState,
    id: Uuid,
    person: Uuid,
) -> Result<(usize, jinguo_core::nominations::State), Refusal> {
    let links = state.nominations();
    state
        .store
        .transaction(move |c| {
            let links = links.clone();
            Box::pin(async move {
                let urged =
                    jinguo_nominations::urge(c, id, person, &links, jinguo_bus::now()).await?;
                let n = jinguo_store::nominations::get(c, id).await?;
                let to = n.map_or(jinguo_core::nominations::State::VillageReview, |n| {
                    n.state.public()
                });
                Ok((urged, to))
            })
        })
        .await
}

#[derive(Deserialize)]
pub(crate) struct ReassignBody {
    /// The reviewer (a person's id) who takes the task over.
    reviewer: String,
}

/// Hands review task `task_id` to another reviewer of its unit, in its own transaction (the API
/// and the nomination page).
pub(crate) async fn reassign_task(
    state: &AppState,
    task_id: Uuid,
    person: Uuid,
    reviewer: &str,
) -> Result<(), Refusal> {
    let Ok(to) = reviewer.trim().parse::<Uuid>() else {
        return Err(Refusal::Invalid {
            field: "reviewer",
            message: "请选择本单位在岗的审核员".into(),
        });
    };
    let links = state.nominations();
    state
        .store
        .transaction(move |c| {
            let links = links.clone();
            Box::pin(async move {
                jinguo_nominations::reassign_task(c, task_id, person, to, &links, jinguo_bus::now())
                    .await
            })
        })
        .await
}

/// `POST /api/v1/reviews/{task_id}/reassign` `{"reviewer": id}`: a county admin (`staff.manage`
/// over the task's unit) hands an open task to another active reviewer of that unit.
pub(crate) async fn reassign(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(task_id): Path<Uuid>,
    JsonBody(body): JsonBody<ReassignBody>,
) -> Result<Json<Value>, ApiError> {
    reassign_task(&state, task_id, person, &body.reviewer).await?;
    Ok(Json(json!({ "task": task_id, "reassigned": true })))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
    org: Option<String>,
    township: Option<String>,
    overdue: Option<String>,
    stalled: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
    after: Option<String>,
}

/// Rows per page of the list unless `per_page` says otherwise, and the most it may say.
const PER_PAGE: u64 = 50;
const MAX_PER_PAGE: u64 = 200;

/// `GET /api/v1/campaigns/{id}/nominations?state=…&org=…&township=…&overdue=1&stalled=1&page=…&per_page=…`:
/// the county's list, newest first, a page at a time (`per_page` 50 by default, at most 200)
/// with the `total` that matches. `stalled` marks a nomination whose current level has no
/// active reviewer, `overdue` one whose open review task is past its deadline. Every answer
/// carries `next`, the cursor of the page after it (`null` on the last): `after=<next>` instead
/// of `page` asks for that page, in the same time however deep it is, and neither repeats nor
/// skips a row when nominations arrive meanwhile.
pub(crate) async fn list(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let wanted_state = q
        .state
        .as_deref()
        .map(|s| s.parse::<jinguo_core::nominations::State>())
        .transpose()
        .map_err(|_| ApiError::bad_request("state", "没有这个推荐状态"))?;
    let org = q
        .org
        .as_deref()
        .map(OrgCode::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("org", e.to_string()))?;
    let township = q
        .township
        .as_deref()
        .map(OrgCode::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("township", e.to_string()))?;
    let number = |v: Option<&str>, field: &'static str, default: u64, max: u64| match v {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad_request(field, format!("应为 1–{max} 的整数"))),
    };
    let page = number(q.page.as_deref(), "page", 1, u64::from(u32::MAX))?;
    let per_page = number(q.per_page.as_deref(), "per_page", PER_PAGE, MAX_PER_PAGE)?;
    let after = q
        .after
        .as_deref()
        .map(str::parse::<jinguo_nominations::Cursor>)
        .transpose()
        .map_err(|_| ApiError::bad_request("after", "不是本列表给出的翻页位置（next）"))?;
    if after.is_some() && q.page.is_some() {
        return Err(ApiError::bad_request(
            "page",
            "after 已指明从哪里开始，不能同时给 page",
        ));
    }
    let query = jinguo_nominations::ListQuery {
        state: wanted_state,
        township,
        overdue: crate::dashboard::flag(q.overdue.as_deref()),
        stalled: crate::dashboard::flag(q.stalled.as_deref()),
    };
    let campaign = state
        .store
        .read(move |c| Box::pin(jinguo_nominations::campaign_summary(c, id)))
        .await?
        .ok_or_else(|| ApiError::not_found("没有这项评选"))?;
    let scope = campaign.scope;
    let area = org.unwrap_or(scope);
    require(&state, person, "nomination.view", area).await?;
    let scope = jinguo_nominations::ListScope {
        campaign: id,
        campaign_area: scope,
        area,
        viewer: person,
    };
    let window = jinguo_nominations::Window {
        after,
        offset: if after.is_some() {
            0
        } else {
            (page - 1) * per_page
        },
        limit: Some(per_page),
    };
    let listed = state
        .store
        .read(move |c| {
            let query = query.clone();
            Box::pin(async move {
                jinguo_nominations::campaign_page(c, &scope, &query, window, jinguo_bus::now())
                    .await
            })
        })
        .await?;
    let rows = listed
        .rows
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id, "village": r.village, "village_name": r.village_name,
                "township": r.township, "township_name": r.township_name,
                "category": r.category, "channel": r.channel, "state": r.state,
                "created_at": r.created_at, "due_at": r.due_at,
                "overdue": r.overdue, "stalled": r.stalled
            })
        })
        .collect::<Vec<_>>();
    Ok(Json(json!({
        "campaign_id": id,
        "total": listed.total,
        "page": if after.is_some() { Value::Null } else { json!(page) },
        "per_page": per_page,
        "next": listed.next.map(|c| c.to_string()),
        "nominations": rows,
    })))
}

#[derive(Deserialize)]
pub(crate) struct ChangeBody {
    story: Option<String>,
    reason: Option<String>,
    /// `eligibility`: `continue` or `close`; `objection`: `dismiss` or `uphold`.
    decision: Option<String>,
}

/// `POST /api/v1/nominations/{id}/resubmit` (`nomination.submit`), `/withdraw`
/// (`nomination.withdraw`), `/eligibility` (county case officers: `continue`, or `close`
/// with one of the listed reasons) and `/objection` (county reviewers, while objections are
/// investigated: `dismiss`, or `uphold` with a reason) and `/urge` (催办 by hand, county admins:
/// the open tasks' reviewers are mailed; once a day per level, else 409).
pub(crate) async fn change(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path((id, what)): Path<(Uuid, String)>,
    JsonBody(body): JsonBody<ChangeBody>,
) -> Result<Json<Value>, ApiError> {
    let links = state.nominations();
    let to = match what.as_str() {
        "resubmit" => {
            state
                .store
                .transaction(move |c| {
                    let (links, story) = (links.clone(), body.story.clone());
                    Box::pin(async move {
                        jinguo_nominations::resubmit(
                            c,
                            id,
                            person,
                            story.as_deref(),
                            &links,
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await?
        }
        "withdraw" => {
            state
                .store
                .transaction(move |c| {
                    let reason = body.reason.clone();
                    Box::pin(async move {
                        jinguo_nominations::withdraw(
                            c,
                            id,
                            person,
                            reason.as_deref(),
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await?
        }
        "eligibility" => {
            let decision = match body.decision.as_deref() {
                Some("continue") => EligibilityDecision::Continue,
                Some("close") => EligibilityDecision::Close {
                    reason: body.reason.clone().unwrap_or_default(),
                },
                _ => {
                    return Err(ApiError::bad_request(
                        "decision",
                        "请选择 continue（可以参评）或 close（不予参评）",
                    ));
                }
            };
            state
                .store
                .transaction(move |c| {
                    let (links, decision) = (links.clone(), decision.clone());
                    Box::pin(async move {
                        jinguo_nominations::decide_eligibility(
                            c,
                            id,
                            person,
                            decision,
                            &links,
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await?
        }
        "urge" => {
            let (urged, to) = urge(&state, id, person).await?;
            return Ok(Json(json!({ "id": id, "state": to, "urged": urged })));
        }
        "objection" => {
            let finding = match body.decision.as_deref() {
                Some("uphold") => Finding::Uphold,
                Some("dismiss") => Finding::Dismiss,
                _ => {
                    return Err(ApiError::bad_request(
                        "decision",
                        "请选择 dismiss（驳回异议，继续公示）或 uphold（维持异议，撤销推荐）",
                    ));
                }
            };
            state
                .store
                .transaction(move |c| {
                    let (links, reason) = (links.clone(), body.reason.clone());
                    Box::pin(async move {
                        jinguo_nominations::investigate(
                            c,
                            id,
                            person,
                            finding,
                            reason.as_deref(),
                            &links,
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await?
        }
        _ => return Err(ApiError::not_found("没有这个操作")),
    };
    Ok(Json(json!({ "id": id, "state": to })))
}
