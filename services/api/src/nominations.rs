//! 最美家庭 nominations over the JSON API.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jinguo_core::org::OrgCode;
use jinguo_nominations::{
    Decision, EligibilityDecision, Links, NewCampaign, Nominator, Refusal, Submission,
};
use jinguo_store::StoreError;
use jinguo_store::nominations as store;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{ApiCaller, require};
use crate::extract::{Json as JsonBody, Path};
use crate::{ApiError, AppState};

pub(crate) fn links(state: &AppState) -> Links {
    jinguo_nominations::links_from(&state.config, state.calendar.clone(), state.sealer.clone())
}

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
    let links = links(&state);
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

/// `POST /api/v1/nominations` (`nomination.submit` at the village). A household with an
/// incident flag is accepted like any other (and held out of sight); only county case
/// officers are told why instead.
pub(crate) async fn submit(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    JsonBody(body): JsonBody<Submission>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let links = links(&state);
    let id =
        jinguo_nominations::submit(&state.store, body, Nominator::Staff(person), &links).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "state": "village_review" })),
    ))
}

/// Whether `person` may see a held nomination for what it is (county case officers).
async fn reveals(state: &AppState, person: Uuid, village: OrgCode) -> Result<bool, ApiError> {
    Ok(state
        .store
        .read(move |c| {
            Box::pin(async move {
                jinguo_nominations::reveals_eligibility(c, person, village, jinguo_bus::now()).await
            })
        })
        .await?)
}

/// `GET /api/v1/nominations/{id}`: state and history.
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let (n, history) = state
        .store
        .read(move |c| {
            Box::pin(async move {
                Ok::<_, StoreError>((store::get(c, id).await?, store::history(c, id).await?))
            })
        })
        .await?;
    let n = n.ok_or_else(|| ApiError::not_found(format!("no nomination {id}")))?;
    let village = OrgCode::parse(&n.village_code).map_err(|e| ApiError::internal(&e))?;
    require(&state, person, "nomination.view", village).await?;
    let reveal = reveals(&state, person, village).await?;
    let history = jinguo_nominations::visible_history(history, reveal);
    Ok(Json(json!({
        "id": n.id,
        "campaign_id": n.campaign_id,
        "village": n.village_code,
        "category": n.category,
        "channel": n.channel,
        "state": if reveal { n.state } else { n.state.public() },
        "history": history.iter().map(|h| json!({
            "at": h.at, "actor": h.actor, "event": h.event, "from": h.from, "to": h.to, "reason": h.reason
        })).collect::<Vec<_>>(),
    })))
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
    let links = links(&state);
    let to = state
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let task = store::get_task(c, task_id)
                    .await?
                    .ok_or_else(|| Refusal::NotFound(format!("no review task {task_id}")))?;
                if task.reviewer != person {
                    return Err(Refusal::Conflict(
                        "this review task belongs to another reviewer".into(),
                    ));
                }
                jinguo_nominations::decide(
                    c,
                    task.nomination_id,
                    person,
                    body.decision,
                    body.reason.as_deref(),
                    &links,
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await?;
    Ok(Json(json!({ "state": to })))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
    org: Option<String>,
}

/// `GET /api/v1/campaigns/{id}/nominations?state=…&org=…`: the county's list. `stalled` marks a
/// nomination whose current level has no active reviewer.
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
        .map_err(|m| ApiError::bad_request("state", m))?;
    let org = q
        .org
        .as_deref()
        .map(OrgCode::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("org", e.to_string()))?;
    let campaign = state
        .store
        .read(move |c| Box::pin(store::get_campaign(c, id)))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no campaign {id}")))?;
    let scope = OrgCode::parse(&campaign.scope_org).map_err(|e| ApiError::internal(&e))?;
    let area = org.unwrap_or(scope);
    require(&state, person, "nomination.view", area).await?;
    let reveal = reveals(&state, person, area).await?;
    let rows = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let mut out = Vec::new();
                for n in store::list(c, id).await? {
                    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
                    let shown = if reveal { n.state } else { n.state.public() };
                    if !village.is_within(&area) || wanted_state.is_some_and(|s| s != shown) {
                        continue;
                    }
                    let history = store::history(c, n.id).await?;
                    let stalled = jinguo_nominations::is_stalled(&history);
                    out.push(json!({
                        "id": n.id, "village": n.village_code, "category": n.category, "state": shown, "stalled": stalled
                    }));
                }
                Ok::<_, StoreError>(out)
            })
        })
        .await?;
    Ok(Json(json!({ "campaign_id": id, "nominations": rows })))
}

#[derive(Deserialize)]
pub(crate) struct ChangeBody {
    story: Option<String>,
    reason: Option<String>,
    /// `eligibility`: `continue` or `close`.
    decision: Option<String>,
}

/// `POST /api/v1/nominations/{id}/resubmit` (`nomination.submit`), `/withdraw`
/// (`nomination.withdraw`) and `/eligibility` (county case officers: `continue`, or `close`
/// with one of the listed reasons).
pub(crate) async fn change(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path((id, what)): Path<(Uuid, String)>,
    JsonBody(body): JsonBody<ChangeBody>,
) -> Result<Json<Value>, ApiError> {
    let links = links(&state);
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
                        "decision must be continue or close",
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
        _ => return Err(ApiError::not_found("no such endpoint")),
    };
    Ok(Json(json!({ "id": id, "state": to })))
}
