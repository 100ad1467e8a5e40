//! 巡回宣讲 (lecture tours) over the JSON API, [`run`] (the one way every tour endpoint and
//! page runs a step of the program), and the two emailed links of a tour: a lecturer's decline
//! ([`DeclineLink`]) and a host's attendance record ([`AttendanceLink`]).
//!
//! The api never reads the program's tables: it calls the program's functions and renders
//! what they return.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jinguo_store::links::ActionLink;
use jinguo_store::tours::SessionState;
use jinguo_store::{BoxFuture, Conn, StoreError};
use jinguo_tour_program::{NewTour, NewVolunteer, Refusal, Removal, Settings};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use askama::Template;
use jinguo_auth::Secret;

use crate::auth::ApiCaller;
use crate::extract::{Json as JsonBody, Path};
use crate::links::{Acted, LinkAction, LinkForm};
use crate::page::{Refused, message, render};
use crate::{ApiError, AppState};

/// The program's refusals in the API's one error shape. Bad CSV lines are listed in the
/// message, line by line.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid { field, message } => ApiError::bad_request(field, message),
            Refusal::Lines(lines) => ApiError::bad_request(
                "file",
                lines
                    .iter()
                    .map(|l| format!("第 {} 行 {}：{}", l.line, l.field, l.message))
                    .collect::<Vec<_>>()
                    .join("；"),
            ),
            Refusal::Forbidden(action) => ApiError::forbidden(action),
            Refusal::NotFound(m) => ApiError::not_found(m),
            Refusal::Conflict(m) => ApiError {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: m,
                field: None,
            },
            Refusal::Store(e) => ApiError::from(e),
            Refusal::Mail(e) => ApiError::from(e),
            e @ Refusal::Corrupt { .. } => ApiError::internal(&e),
        }
    }
}

/// Runs one step of the tours program in a transaction of its own: the one way every tour
/// endpoint and page does.
pub(crate) async fn run<R, F>(state: &AppState, step: F) -> Result<R, Refusal>
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
    let settings = state.tours().clone();
    state
        .store
        .transaction(move |c| {
            let (settings, step) = (settings.clone(), step.clone());
            Box::pin(async move { step(c, &settings, jinguo_bus::now()).await })
        })
        .await
}

/// `POST /api/v1/volunteers`: adds one volunteer.
pub(crate) async fn add_volunteer(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    JsonBody(v): JsonBody<NewVolunteer>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let row = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::add_volunteer(c, person, &v, now).await })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": row.person_id }))))
}

/// `POST /api/v1/volunteers/import`: a CSV body (the template's columns); every row or none.
pub(crate) async fn import_volunteers(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    body: String,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let imported = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::import_volunteers(c, person, &body, now).await })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "imported": imported }))))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CountyQuery {
    county: String,
}

/// `GET /api/v1/volunteers?county=`: the volunteers of a county, or of a township for its
/// coordinator.
pub(crate) async fn list_volunteers(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Query(q): Query<CountyQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let county = jinguo_core::org::OrgCode::parse(q.county.trim())
        .map_err(|_| ApiError::bad_request("county", "请给出 12 位的县（区）或乡镇（街道）代码"))?;
    let rows = run(&state, move |c, _, now| {
        Box::pin(async move {
            let rows = jinguo_tour_program::volunteers_of(c, person, county, now).await?;
            let mut out = Vec::new();
            for v in rows {
                let name = jinguo_store::people::display_name(c, v.person_id).await?;
                out.push(json!({
                    "id": v.person_id,
                    "name": name,
                    "home_village": v.home_village.to_string(),
                    "topics": v.topics,
                    "max_per_day": v.max_per_day,
                    "available_from": v.available_from,
                    "available_to": v.available_to,
                    "unavailable": v.unavailable,
                }));
            }
            Ok(out)
        })
    })
    .await?;
    Ok(Json(json!({ "volunteers": rows })))
}

/// `POST /api/v1/tours`: creates a draft tour.
pub(crate) async fn create_tour(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    JsonBody(t): JsonBody<NewTour>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let row = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::create_tour(c, person, &t, now).await })
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": row.id, "state": row.state.as_str() })),
    ))
}

/// `GET /api/v1/tours/{id}`: the tour with its plan or sessions, coverage and map points.
pub(crate) async fn show_tour(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let view = run(&state, move |c, s, now| {
        Box::pin(async move { jinguo_tour_program::tour_view(c, s, person, id, now).await })
    })
    .await?;
    let mut value = serde_json::to_value(&view).map_err(|e| ApiError::internal(&e))?;
    value["state"] = json!(view.state.as_str());
    Ok(Json(value))
}

/// `PUT /api/v1/tours/{id}/villages`: the villages the tour covers, each with its venue and
/// capacity, before publishing (a computed plan is dropped: the tour is a draft again).
pub(crate) async fn set_villages(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    JsonBody(villages): JsonBody<Vec<jinguo_tour_program::VillageVenue>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let row = run(&state, move |c, _, now| {
        Box::pin(
            async move { jinguo_tour_program::set_villages(c, person, id, &villages, now).await },
        )
    })
    .await?;
    Ok(Json(json!({ "id": row.id, "state": row.state.as_str() })))
}

/// `POST /api/v1/tours/{id}/plan`: the worker plans it (202; `GET` shows the plan when done).
pub(crate) async fn plan_tour(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let row = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::request_plan(c, person, id, now).await })
    })
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": row.id, "state": row.state.as_str() })),
    ))
}

/// `POST /api/v1/tours/{id}/publish`: sessions, mails with calendar files, reminders.
pub(crate) async fn publish_tour(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let row = run(&state, move |c, s, now| {
        Box::pin(async move { jinguo_tour_program::publish(c, s, person, id, now).await })
    })
    .await?;
    Ok(Json(json!({ "id": row.id, "state": row.state.as_str() })))
}

/// `POST /api/v1/tours/{id}/removals`: takes a lecturer (`volunteer`), a day (`day`) or a
/// lecturer on a day out of the tour: a published one is repaired; before that the tour goes
/// back to draft (`replan`) and its next plan leaves them out.
pub(crate) async fn remove(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
    JsonBody(removal): JsonBody<Removal>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let repaired = run(&state, move |c, s, now| {
        Box::pin(async move { jinguo_tour_program::remove(c, s, person, id, removal, now).await })
    })
    .await?;
    Ok(Json(
        json!({ "moved": repaired.moved, "cancelled": repaired.cancelled, "replan": repaired.replan }),
    ))
}

/// `GET /api/v1/tours/{id}/schedule`: every talk with its UID, sequence, names and state.
pub(crate) async fn schedule(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let view = run(&state, move |c, s, now| {
        Box::pin(async move { jinguo_tour_program::tour_view(c, s, person, id, now).await })
    })
    .await?;
    let sessions: Vec<_> = view.days.iter().flat_map(|d| d.talks.iter()).collect();
    Ok(Json(json!({
        "tour": view.id,
        "name": view.name,
        "state": view.state.as_str(),
        "sessions": sessions,
    })))
}

/// `GET /api/v1/tours/{id}/schedule.ics`: the talks still on, as one calendar file.
pub(crate) async fn schedule_ics(
    State(state): State<AppState>,
    ApiCaller(person): ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let body = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::schedule_ics(c, person, id, now).await })
    })
    .await?;
    Ok(calendar_response(body))
}

/// A calendar file download.
pub(crate) fn calendar_response(body: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"schedule.ics\""),
    );
    (headers, body).into_response()
}

// --- emailed links ------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "tours/decline.html")]
struct DeclinePage<'a> {
    view: &'a jinguo_tour_program::SessionView,
    open: bool,
    token: &'a str,
    csrf: &'a str,
    reason: &'a str,
    refused: Option<Refused>,
}

#[derive(Template)]
#[template(path = "tours/attendance.html")]
struct AttendancePage<'a> {
    view: &'a jinguo_tour_program::SessionView,
    open: bool,
    token: &'a str,
    csrf: &'a str,
    women: &'a str,
    covered: &'a str,
    note: &'a str,
    refused: Option<Refused>,
}

impl AttendancePage<'_> {
    fn error_at(&self, field: &str) -> Option<&str> {
        self.refused
            .as_ref()
            .filter(|r| r.field == Some(field))
            .map(|r| r.message.as_str())
    }
}

fn points_nowhere() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "链接无效",
        "这个链接指向的宣讲不存在。".to_owned(),
        None,
    )
}

async fn session_of(
    state: &AppState,
    link: &ActionLink,
) -> Result<Option<jinguo_tour_program::SessionView>, Response> {
    let Ok(session) = link.subject.parse::<Uuid>() else {
        return Ok(None);
    };
    state
        .store
        .read(move |c| Box::pin(async move { jinguo_tour_program::session_view(c, session).await }))
        .await
        .map_err(|e| ApiError::from(e).into_response())
}

/// The refusal a link's POST shows, from what the program said; database failures go back as
/// errors (the link stays unused).
fn refused_by(r: Refusal) -> Result<Refused, StoreError> {
    match r {
        Refusal::Store(e) | Refusal::Mail(jinguo_mail::NotifyError::Store(e)) => Err(e),
        Refusal::Invalid { field, message } => Ok(Refused::at(field, message)),
        Refusal::Conflict(m) => Ok(Refused::above(format!("{m}。"))),
        Refusal::Forbidden(_) => Ok(Refused::above("您现在不能办理这场宣讲的事项。")),
        Refusal::NotFound(_) => Ok(Refused::above("这个链接指向的宣讲不存在。")),
        e => {
            let _ = ApiError::internal(&e);
            Ok(Refused::above("系统暂时无法处理，请稍后再试。"))
        }
    }
}

/// A lecturer's link to decline one talk: GET shows the talk and asks why; POST declines it,
/// the tour is repaired and the people it touches are told.
pub(crate) struct DeclineLink;

impl DeclineLink {
    async fn page(
        state: &AppState,
        link: &ActionLink,
        secret: &Secret,
        csrf: &str,
        reason: &str,
        refused: Option<Refused>,
    ) -> Response {
        let view = match session_of(state, link).await {
            Ok(Some(v)) => v,
            Ok(None) => return points_nowhere(),
            Err(page) => return page,
        };
        let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
        let page = DeclinePage {
            open: view.state == SessionState::Scheduled,
            view: &view,
            token: secret.expose(),
            csrf,
            reason,
            refused,
        };
        render(status, &page)
    }
}

impl LinkAction for DeclineLink {
    fn show<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
    ) -> BoxFuture<'a, Response> {
        Box::pin(DeclineLink::page(state, link, secret, csrf, "", None))
    }

    fn act<'a>(
        &'a self,
        state: &'a AppState,
        conn: &'a mut Conn<'_>,
        link: &'a ActionLink,
        form: &'a LinkForm,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Result<Acted, Refused>, StoreError>> {
        Box::pin(async move {
            let Ok(session) = link.subject.parse::<Uuid>() else {
                return Ok(Err(Refused::above("这个链接指向的宣讲不存在。")));
            };
            let reason = form.reason.as_deref().unwrap_or("");
            let settings = state.tours();
            match jinguo_tour_program::decline(conn, settings, link.actor, session, reason, now)
                .await
            {
                Ok(r) => {
                    let said = if r.cancelled > 0 {
                        "已收到您的说明。这场宣讲暂时没有其他讲师能够前往，县妇联会另行安排。"
                    } else {
                        "已收到您的说明，这场宣讲已改由其他讲师承担，村里也已收到通知。"
                    };
                    let page = message(StatusCode::OK, "已推辞", said.to_owned(), None);
                    Ok(Ok(("declined".to_owned(), page)))
                }
                Err(r) => refused_by(r).map(Err),
            }
        })
    }

    fn refused<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
        form: &'a LinkForm,
        refused: Refused,
    ) -> BoxFuture<'a, Response> {
        Box::pin(async move {
            let reason = form.reason.as_deref().unwrap_or("");
            DeclineLink::page(state, link, secret, csrf, reason, Some(refused)).await
        })
    }
}

/// A host's link to record how a talk went: GET shows the form; POST records it once.
pub(crate) struct AttendanceLink;

impl AttendanceLink {
    async fn page(
        state: &AppState,
        link: &ActionLink,
        secret: &Secret,
        csrf: &str,
        form: Option<&LinkForm>,
        refused: Option<Refused>,
    ) -> Response {
        let view = match session_of(state, link).await {
            Ok(Some(v)) => v,
            Ok(None) => return points_nowhere(),
            Err(page) => return page,
        };
        let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
        let field = |f: fn(&LinkForm) -> &Option<String>| {
            form.and_then(|x| f(x).as_deref()).unwrap_or("").to_owned()
        };
        let (women, covered, note) = (
            field(|f| &f.women),
            field(|f| &f.topic_covered),
            field(|f| &f.note),
        );
        let page = AttendancePage {
            open: view.state == SessionState::Scheduled,
            view: &view,
            token: secret.expose(),
            csrf,
            women: &women,
            covered: &covered,
            note: &note,
            refused,
        };
        render(status, &page)
    }
}

impl LinkAction for AttendanceLink {
    fn show<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
    ) -> BoxFuture<'a, Response> {
        Box::pin(AttendanceLink::page(state, link, secret, csrf, None, None))
    }

    fn act<'a>(
        &'a self,
        state: &'a AppState,
        conn: &'a mut Conn<'_>,
        link: &'a ActionLink,
        form: &'a LinkForm,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Result<Acted, Refused>, StoreError>> {
        Box::pin(async move {
            let Ok(session) = link.subject.parse::<Uuid>() else {
                return Ok(Err(Refused::above("这个链接指向的宣讲不存在。")));
            };
            let text = |v: &Option<String>| v.as_deref().unwrap_or("").to_owned();
            let record = match jinguo_tour_program::parse_record(
                &text(&form.women),
                &text(&form.topic_covered),
                &text(&form.note),
            ) {
                Ok(r) => r,
                Err(r) => return refused_by(r).map(Err),
            };
            let settings = state.tours();
            match jinguo_tour_program::record_attendance(
                conn, settings, link.actor, session, &record, now,
            )
            .await
            {
                Ok(_) => {
                    let page = message(
                        StatusCode::OK,
                        "已记录",
                        format!("已记录：到场妇女 {} 人。感谢您的组织！", record.women),
                        None,
                    );
                    Ok(Ok(("recorded".to_owned(), page)))
                }
                Err(r) => refused_by(r).map(Err),
            }
        })
    }

    fn refused<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
        form: &'a LinkForm,
        refused: Refused,
    ) -> BoxFuture<'a, Response> {
        Box::pin(AttendanceLink::page(
            state,
            link,
            secret,
            csrf,
            Some(form),
            Some(refused),
        ))
    }
}
