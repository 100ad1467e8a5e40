//! 反家暴联动 (domestic-violence referrals) over the JSON API, and [`run`]: the one way every
//! referral endpoint and page (`referral_pages`) runs a step of the program.
//!
//! The api never reads the program's tables and never opens sealed data: it calls the
//! program's functions and renders what they return. Request bodies are never logged (the
//! program's input types print `[redacted]` anyway); a refusal carries no personal data.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use jinguo_core::referrals::{Outcome, State as CaseState};
use jinguo_referrals::{
    Assessment, Completion, DEFAULT_REASON, NewReferral, READ_REASONS, Refusal, Settings, TaskStep,
};
use jinguo_store::referrals::ReferralRow;
use jinguo_store::{BoxFuture, Conn};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::ApiCaller;
use crate::extract::{Json as JsonBody, Path};
use crate::{ApiError, AppState};

/// The program's refusals in the API's one error shape. A 403 names only the permission,
/// never anything about the case; stored data that does not open is a 500 whose log line
/// carries the cause chain (which holds no data), not the data.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid { field, message } => ApiError::bad_request(field, message),
            Refusal::Forbidden(action) => ApiError::forbidden(action),
            Refusal::NotFound(m) => ApiError::not_found(m),
            Refusal::Conflict(m) => ApiError {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: m.to_owned(),
                field: None,
            },
            Refusal::Store(e) => ApiError::from(e),
            Refusal::Mail(e) => ApiError::from(e),
            e @ Refusal::Corrupt { .. } => ApiError::internal(&e),
        }
    }
}

/// What a refused attempt was on, for the audit log.
#[derive(Debug, Clone, Copy)]
pub(crate) enum On {
    /// A case: the refusal is recorded against its number.
    Case(Uuid),
    /// A request with no case yet (taking one in, emergency access): the subject says which.
    Request(&'static str),
}

/// Runs one step of the referrals program for `person` in a transaction of its own: the one
/// way every referral endpoint and page does.
///
/// When the program refuses the person permission ([`Refusal::Forbidden`]), the step's
/// transaction has rolled back, and the attempt is then recorded in a second transaction
/// (`jinguo_referrals::record_refusal` for a case), so it stays on record whatever the step had
/// begun. The refusal is handed back unchanged.
pub(crate) async fn run<R, F>(state: &AppState, person: Uuid, on: On, step: F) -> Result<R, Refusal>
where
    F: for<'r, 'c> FnOnce(
            &'r mut Conn<'c>,
            &'r Settings,
            DateTime<Utc>,
        ) -> BoxFuture<'r, Result<R, Refusal>>
        + Clone
        + Send
        + 'static,
    R: Send + 'static,
{
    let settings = state.referrals().clone();
    let result = state
        .store
        .transaction(move |c| {
            let (settings, step) = (settings.clone(), step.clone());
            Box::pin(async move { step(c, &settings, jinguo_bus::now()).await })
        })
        .await;
    let forbidden = match &result {
        Err(Refusal::Forbidden(action)) => Some(*action),
        _ => None,
    };
    if let Some(action) = forbidden {
        state
            .store
            .transaction(move |c| {
                Box::pin(async move {
                    let now = jinguo_bus::now();
                    match on {
                        On::Case(case) => {
                            jinguo_referrals::record_refusal(c, person, action, case, now).await
                        }
                        On::Request(what) => {
                            jinguo_auth::record(
                                c,
                                &person.to_string(),
                                "referral.refused",
                                what,
                                json!({ "action": action }),
                                now,
                            )
                            .await
                        }
                    }
                })
            })
            .await?;
    }
    result
}

/// Reads within the program (no audit row of its own, nothing to roll back): lists and lookups.
async fn read<R, F>(state: &AppState, f: F) -> Result<R, ApiError>
where
    F: for<'r, 'c> FnOnce(
            &'r mut Conn<'c>,
            &'r Settings,
            DateTime<Utc>,
        ) -> BoxFuture<'r, Result<R, jinguo_store::StoreError>>
        + Clone
        + Send
        + 'static,
{
    let settings: Arc<Settings> = state.referrals().clone();
    Ok(state
        .store
        .read(move |c| Box::pin(async move { f(c, &settings, jinguo_bus::now()).await }))
        .await?)
}

/// A case as the API answers a step that changed it.
fn case_json(r: &ReferralRow) -> Value {
    json!({
        "id": r.id,
        "case_number": r.case_number.as_str(),
        "state": r.state,
        "risk": r.risk,
    })
}

/// The read reason given (one of `READ_REASONS`), the default when none is.
pub(crate) fn read_reason(raw: Option<&str>) -> Result<&'static str, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(DEFAULT_REASON),
        Some(r) => READ_REASONS
            .iter()
            .copied()
            .find(|k| *k == r)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "reason",
                    format!("查看原因应为：{}", READ_REASONS.join("、")),
                )
            }),
    }
}

/// `POST /api/v1/referrals`: takes a case in (`referral.intake` at its village).
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    JsonBody(body): JsonBody<NewReferral>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = run(&state, person, On::Request("intake"), move |c, s, now| {
        Box::pin(async move { jinguo_referrals::intake(c, s, person, &body, now).await })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(case_json(&r))))
}

#[derive(Deserialize)]
pub(crate) struct ReadQuery {
    reason: Option<String>,
}

/// `GET /api/v1/referrals/{id}?reason=…`: the case for an authorised reader, the read audited
/// with its reason.
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    Query(q): Query<ReadQuery>,
) -> Result<Json<jinguo_referrals::CaseView>, ApiError> {
    let reason = read_reason(q.reason.as_deref())?;
    let view = run(&state, person, On::Case(id), move |c, s, now| {
        Box::pin(async move { jinguo_referrals::read_case(c, s, person, id, reason, now).await })
    })
    .await?;
    Ok(Json(view))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
    overdue: Option<String>,
    number: Option<String>,
}

/// `GET /api/v1/referrals?state=…&overdue=true`: the caller's cases; `?number=…`: what the
/// caller may learn of one case number in their area (404 when nothing).
pub(crate) async fn list(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(number) = q.number {
        let found = read(&state, move |c, _, now| {
            Box::pin(async move { jinguo_referrals::find(c, person, &number, now).await })
        })
        .await?
        .ok_or_else(|| ApiError::not_found("没有这个案件编号，或它不在您的管辖范围内"))?;
        return Ok(Json(json!(found)));
    }
    let wanted = match q.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<CaseState>().map_err(|_| {
            ApiError::bad_request(
                "state",
                format!(
                    "state must be one of: {}",
                    CaseState::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?),
    };
    let overdue = match q.overdue.as_deref().map(str::trim) {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("overdue", "overdue is true or false")),
    };
    let cases = read(&state, move |c, _, now| {
        Box::pin(async move { jinguo_referrals::my_cases(c, person, wanted, overdue, now).await })
    })
    .await?;
    Ok(Json(json!({ "cases": cases })))
}

/// `POST /api/v1/referrals/{id}/assess` (`referral.manage`): grades the risk, opens the
/// agencies' tasks.
pub(crate) async fn assess(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<Assessment>,
) -> Result<Json<Value>, ApiError> {
    let r = run(&state, person, On::Case(id), move |c, s, now| {
        Box::pin(async move { jinguo_referrals::assess(c, s, person, id, &body, now).await })
    })
    .await?;
    Ok(Json(case_json(&r)))
}

/// A step on task `task` of case `id`, answered with the task's new state.
async fn task_step(
    state: &AppState,
    person: Uuid,
    id: Uuid,
    task: Uuid,
    step: TaskStep,
) -> Result<Json<Value>, ApiError> {
    let t = run(state, person, On::Case(id), move |c, s, now| {
        Box::pin(async move { jinguo_referrals::act(c, s, person, id, task, step, now).await })
    })
    .await?;
    Ok(Json(json!({ "id": t.id, "state": t.state })))
}

/// `POST /api/v1/referrals/{id}/tasks/{task_id}/acknowledge`.
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path((id, task)): Path<(Uuid, Uuid)>,
) -> Result<Json<Value>, ApiError> {
    task_step(&state, person, id, task, TaskStep::Acknowledge).await
}

/// `POST /api/v1/referrals/{id}/tasks/{task_id}/start`.
pub(crate) async fn start(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path((id, task)): Path<(Uuid, Uuid)>,
) -> Result<Json<Value>, ApiError> {
    task_step(&state, person, id, task, TaskStep::Start).await
}

/// `POST /api/v1/referrals/{id}/tasks/{task_id}/complete` (`{note, order_expires_on}`).
pub(crate) async fn complete(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path((id, task)): Path<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<Completion>,
) -> Result<Json<Value>, ApiError> {
    task_step(&state, person, id, task, TaskStep::Complete(body)).await
}

#[derive(Clone, Deserialize)]
pub(crate) struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/referrals/{id}/tasks/{task_id}/decline` (`{reason}`).
pub(crate) async fn decline(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path((id, task)): Path<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    let step = TaskStep::Decline {
        reason: body.reason,
    };
    task_step(&state, person, id, task, step).await
}

#[derive(Clone, Deserialize)]
pub(crate) struct NoteBody {
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/referrals/{id}/followups` (`{note}`): a follow-up visit.
pub(crate) async fn follow_up(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    run(&state, person, On::Case(id), move |c, s, now| {
        Box::pin(async move {
            jinguo_referrals::follow_up(c, s, person, id, body.note.as_deref(), now).await
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

#[derive(Clone, Deserialize)]
pub(crate) struct CloseBody {
    outcome: Outcome,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/referrals/{id}/close` (`{outcome, note}`).
pub(crate) async fn close(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<CloseBody>,
) -> Result<Json<Value>, ApiError> {
    let r = run(&state, person, On::Case(id), move |c, s, now| {
        Box::pin(async move {
            jinguo_referrals::close(c, s, person, id, body.outcome, body.note.as_deref(), now).await
        })
    })
    .await?;
    Ok(Json(case_json(&r)))
}

/// `POST /api/v1/referrals/{id}/reopen` (`{reason}`).
pub(crate) async fn reopen(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    let r = run(&state, person, On::Case(id), move |c, s, now| {
        Box::pin(async move {
            jinguo_referrals::reopen(c, s, person, id, body.reason.as_deref(), now).await
        })
    })
    .await?;
    Ok(Json(case_json(&r)))
}

/// A date a person typed for a protection order's end (`2026-12-31`), for pages.
pub(crate) fn parse_date(raw: &str) -> Option<Option<NaiveDate>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Some(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().map(Some)
}
