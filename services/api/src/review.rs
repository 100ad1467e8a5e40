//! The reviewer's page behind an emailed review link (GET shows, POST decides in signin.rs).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jinguo_auth::Secret;
use jinguo_core::nominations::State;
use jinguo_nominations::{
    EligibilityPage as EligibilityPageView, Refusal, ReviewPage as ReviewPageView,
};
use jinguo_store::StoreError;
use jinguo_store::links::ActionLink;
use uuid::Uuid;

use crate::links::{Acted, LinkAction, LinkForm};
use crate::page::message;
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
        Refusal::Store(_) | Refusal::Mail(_) | Refusal::Corrupt { .. } => {
            "系统暂时无法处理，请稍后再试。".into()
        }
    }
}

/// GET behind an emailed link: the nomination and the decision form; changes nothing.
pub(crate) async fn page(
    state: &AppState,
    link: &ActionLink,
    secret: &Secret,
    csrf: &str,
) -> Response {
    let Some(id) = jinguo_nominations::reviewed_nomination(&link.subject) else {
        return no_such_nomination();
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

/// The page of a link whose nomination is gone (or not the holder's to see).
fn no_such_nomination() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "链接无效",
        "这个链接指向的推荐不存在。".into(),
        None,
    )
}

/// The review page for nomination `id` as `reviewer` may see it, its form posting to `action`.
async fn render(
    state: &AppState,
    id: Uuid,
    reviewer: Uuid,
    action: String,
    csrf: &str,
) -> Response {
    let sealer = state.sealer.clone();
    let loaded = state
        .store
        .read(move |c| {
            let sealer = sealer.clone();
            Box::pin(async move {
                jinguo_nominations::review_page(c, id, reviewer, &sealer, jinguo_bus::now()).await
            })
        })
        .await;
    let view = match loaded {
        Ok(ReviewPageView::Open(view)) => view,
        Ok(ReviewPageView::NotYours { now_in }) => {
            // Not (or no longer) theirs to review: say so without showing the family.
            return message(
                StatusCode::CONFLICT,
                "无需您审核",
                format!(
                    "这项审核已不需要您处理（该推荐现在{}）。",
                    state_label(now_in)
                ),
                None,
            );
        }
        Ok(ReviewPageView::Missing) => {
            return no_such_nomination();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let page = ReviewPage {
        level: view.level.label(),
        family: view.family,
        head_key: view.head_key,
        address: view.address,
        phone: view.phone,
        campaign: view.campaign,
        category: view.category,
        village: view.village,
        story: view.story,
        quota_full: view.quota_full,
        quota: view.quota,
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
        .read(move |c| Box::pin(jinguo_nominations::task_view(c, task_id)))
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
        task.nomination,
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
    let result =
        crate::nominations::decide_task(&state, task_id, session.person, decision, form.reason)
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
        return no_such_nomination();
    };
    let officer = link.actor;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                jinguo_nominations::eligibility_page(c, id, officer, jinguo_bus::now()).await
            })
        })
        .await;
    let view = match loaded {
        Ok(EligibilityPageView::Open(view)) => view,
        Ok(EligibilityPageView::NotHeld { now_in }) => {
            return message(
                StatusCode::CONFLICT,
                "无需核查",
                format!("该推荐现在{}，不需要资格核查。", state_label(now_in)),
                None,
            );
        }
        Ok(EligibilityPageView::NotYours) => {
            return no_such_nomination();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let page = EligibilityPage {
        family: view.family,
        campaign: view.campaign,
        category: view.category,
        village: view.village,
        story: view.story,
        reasons: &jinguo_nominations::CLOSE_REASONS,
        action: format!("/link/{}", secret.expose()),
        csrf,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The answer once a review or eligibility decision is recorded.
fn decided(to: State) -> Acted {
    let page = message(
        StatusCode::OK,
        "审核意见已提交",
        format!("谢谢！该推荐现在的状态：{}。", state_label(to)),
        None,
    );
    (to.to_string(), page)
}

/// A refusal of the program as the link page says it, or the store's error to roll back.
fn refused(r: Refusal) -> Result<Result<Acted, String>, StoreError> {
    match r {
        Refusal::Store(e) | Refusal::Mail(jinguo_mail::NotifyError::Store(e)) => Err(e),
        e @ (Refusal::Mail(_) | Refusal::Corrupt { .. }) => {
            // Our fault, logged with its chain; the page says to try later.
            let _ = ApiError::internal(&e);
            Ok(Err(refusal_text(&e)))
        }
        other => Ok(Err(refusal_text(&other))),
    }
}

/// The nominations program's emailed links: review (`{nomination}:{level}`, the reviewer's
/// page and decision) and eligibility (`{nomination}`, the county case officer's page and
/// decision).
pub(crate) enum NominationLink {
    Review,
    Eligibility,
}

impl LinkAction for NominationLink {
    fn show<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
    ) -> jinguo_store::BoxFuture<'a, Response> {
        match self {
            NominationLink::Review => Box::pin(page(state, link, secret, csrf)),
            NominationLink::Eligibility => Box::pin(eligibility_page(state, link, secret, csrf)),
        }
    }

    fn act<'a>(
        &'a self,
        state: &'a AppState,
        conn: &'a mut jinguo_store::Conn<'_>,
        link: &'a ActionLink,
        form: &'a LinkForm,
        now: chrono::DateTime<chrono::Utc>,
    ) -> jinguo_store::BoxFuture<'a, Result<Result<Acted, String>, StoreError>> {
        Box::pin(async move {
            let missing = || Ok(Err("这个链接指向的推荐不存在。".to_owned()));
            let links = state.nominations();
            let decided_to = match self {
                NominationLink::Review => {
                    let decision = match form.decision.as_deref() {
                        Some("approve") => jinguo_nominations::Decision::Approve,
                        Some("reject") => jinguo_nominations::Decision::Reject,
                        Some("return") => jinguo_nominations::Decision::Return,
                        _ => return Ok(Err("请选择审核意见。".into())),
                    };
                    let Some(id) = jinguo_nominations::reviewed_nomination(&link.subject) else {
                        return missing();
                    };
                    let reason = form.reason.as_deref();
                    jinguo_nominations::decide(conn, id, link.actor, decision, reason, &links, now)
                        .await
                }
                NominationLink::Eligibility => {
                    let decision = match form.decision.as_deref() {
                        Some("continue") => jinguo_nominations::EligibilityDecision::Continue,
                        Some("close") => jinguo_nominations::EligibilityDecision::Close {
                            reason: form.reason.clone().unwrap_or_default(),
                        },
                        _ => return Ok(Err("请选择核查结果。".into())),
                    };
                    let Ok(id) = link.subject.parse() else {
                        return missing();
                    };
                    jinguo_nominations::decide_eligibility(
                        conn, id, link.actor, decision, &links, now,
                    )
                    .await
                }
            };
            match decided_to {
                Ok(to) => Ok(Ok(decided(to))),
                Err(r) => refused(r),
            }
        })
    }
}
