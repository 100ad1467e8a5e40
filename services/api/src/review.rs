//! The reviewer's page behind an emailed review link (GET shows, POST decides in signin.rs).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jinguo_auth::Secret;
use jinguo_core::nominations::{Level, State};
use jinguo_nominations::{
    Detail, EligibilityPage as EligibilityPageView, Refusal, ReviewPage as ReviewPageView,
};
use jinguo_store::StoreError;
use jinguo_store::links::ActionLink;
use uuid::Uuid;

use crate::links::{Acted, LinkAction, LinkForm};
use crate::page::{self, Refused, RefusedForm, message};
use crate::timeline::{Step, channel_label, event_label, timeline};
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage<'a> {
    level: &'static str,
    /// What approving does at this level, in the words of the choice.
    approve_label: &'static str,
    detail: Detail,
    channel: &'static str,
    /// The contact phone in full: the reviewer may need to call the family.
    phone: Option<String>,
    timeline: Vec<Step>,
    quota_full: bool,
    quota: u32,
    action: String,
    csrf: &'a str,
    /// The choice and reason as sent, kept when the form comes back refused.
    decision: String,
    reason: String,
    refused: Option<Refused>,
}

impl RefusedForm for ReviewPage<'_> {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

impl ReviewPage<'_> {
    fn members(&self) -> String {
        crate::timeline::members_line(&self.detail.family.members)
    }
}

/// A review form as sent back: the choice and reason to keep, and why it was refused.
struct SentBack {
    decision: String,
    reason: String,
    refused: Refused,
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
            field: "reason",
            message,
        } => format!("{}。", message.trim_end_matches('。')),
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

/// A refusal of a review decision where the form shows it: a missing reason beside the
/// reason field, anything else above the form.
fn review_refused(r: &Refusal) -> Refused {
    match r {
        Refusal::Invalid {
            field: "reason", ..
        } => Refused::at("reason", refusal_text(r)),
        other => Refused::above(refusal_text(other)),
    }
}

/// A review decision as the form names it.
fn decision_of(chosen: Option<&str>) -> Result<jinguo_nominations::Decision, Refused> {
    match chosen {
        Some("approve") => Ok(jinguo_nominations::Decision::Approve),
        Some("reject") => Ok(jinguo_nominations::Decision::Reject),
        Some("return") => Ok(jinguo_nominations::Decision::Return),
        _ => Err(Refused::at("decision", "请选择通过、退回或不通过。")),
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
        None,
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

/// The review page for nomination `id` as `reviewer` may see it, its form posting to `action`;
/// a form sent back refused shows again with what was chosen and typed.
async fn render(
    state: &AppState,
    id: Uuid,
    reviewer: Uuid,
    action: String,
    csrf: &str,
    sent_back: Option<SentBack>,
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
    let (decision, reason, refused) = match sent_back {
        Some(b) => (b.decision, b.reason, Some(b.refused)),
        None => (String::new(), String::new(), None),
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    let view = *view;
    page::render(
        status,
        &ReviewPage {
            level: view.level.label(),
            approve_label: if view.level == Level::County {
                "通过，进入公示"
            } else {
                "通过，报送上一级审核"
            },
            channel: channel_label(&view.detail.channel),
            timeline: timeline(&view.detail, state.nominations().time_zone),
            detail: view.detail,
            phone: view.phone,
            quota_full: view.quota_full,
            quota: view.quota,
            action,
            csrf,
            decision,
            reason,
            refused,
        },
    )
}

/// The open review task `task_id` of `person`, or the page that says there is none.
async fn open_task(state: &AppState, task_id: Uuid, person: Uuid) -> Result<Uuid, Response> {
    let task = match state
        .store
        .read(move |c| Box::pin(jinguo_nominations::task_view(c, task_id)))
        .await
    {
        Ok(Some(t)) if t.reviewer == person => t,
        Ok(_) => {
            return Err(message(
                StatusCode::NOT_FOUND,
                "没有这项任务",
                "这项审核任务不存在，或不属于您。".into(),
                None,
            ));
        }
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    if task.closed {
        return Err(message(
            StatusCode::CONFLICT,
            "已处理",
            "这项审核任务已经处理完毕。".into(),
            None,
        ));
    }
    Ok(task.nomination)
}

/// `GET /tasks/{task_id}`: the same review page for a signed-in reviewer, from the task list.
pub(crate) async fn task_page(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    crate::extract::Path(task_id): crate::extract::Path<Uuid>,
) -> Response {
    let session = match page::signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let nomination = match open_task(&state, task_id, session.person).await {
        Ok(n) => n,
        Err(page) => return page,
    };
    let action = format!("/tasks/{task_id}");
    render(
        &state,
        nomination,
        session.person,
        action,
        &session.csrf,
        None,
    )
    .await
}

#[derive(serde::Deserialize)]
pub(crate) struct TaskForm {
    csrf: String,
    #[serde(default)]
    decision: Option<String>,
    reason: Option<String>,
}

/// `POST /tasks/{task_id}`: decides from the task list (session + CSRF); a refused decision
/// shows the page again, the refusal beside its field and the choice and reason kept.
pub(crate) async fn decide_task(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    crate::extract::Path(task_id): crate::extract::Path<Uuid>,
    crate::extract::Form(form): crate::extract::Form<TaskForm>,
) -> Response {
    let session = match page::signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    if session.csrf != form.csrf {
        return crate::page::stale_form("请刷新审核页面后重试。");
    }
    let nomination = match open_task(&state, task_id, session.person).await {
        Ok(n) => n,
        Err(page) => return page,
    };
    let refused = match decision_of(form.decision.as_deref()) {
        Err(refused) => refused,
        Ok(decision) => {
            let reason = form.reason.clone();
            match crate::nominations::decide_task(&state, task_id, session.person, decision, reason)
                .await
            {
                Ok(to) => return decided_page(to),
                Err(Refusal::Store(e)) => return ApiError::from(e).into_response(),
                Err(r) => review_refused(&r),
            }
        }
    };
    let sent_back = SentBack {
        decision: form.decision.unwrap_or_default(),
        reason: form.reason.unwrap_or_default(),
        refused,
    };
    let action = format!("/tasks/{task_id}");
    render(
        &state,
        nomination,
        session.person,
        action,
        &session.csrf,
        Some(sent_back),
    )
    .await
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

#[derive(Template)]
#[template(path = "objection.html")]
struct ObjectionPage<'a> {
    family: String,
    campaign: String,
    category: String,
    village: String,
    story: String,
    /// What is left of the paused 公示, in words.
    remaining: String,
    objections: Vec<ShownObjection>,
    action: String,
    csrf: &'a str,
    decision: String,
    reason: String,
    refused: Option<Refused>,
}

struct ShownObjection {
    name: String,
    phone: Option<String>,
    reason: String,
    at: String,
}

impl RefusedForm for ObjectionPage<'_> {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

/// GET behind an investigation link: the objections (with the objectors' phones), the story
/// and the finding form; changes nothing. Only a county reviewer who may decide sees anything.
async fn objection_page(
    state: &AppState,
    link: &ActionLink,
    secret: &Secret,
    csrf: &str,
    sent_back: Option<SentBack>,
) -> Response {
    let Ok(id) = link.subject.parse::<Uuid>() else {
        return no_such_nomination();
    };
    let (person, links) = (link.actor, state.nominations());
    let loaded = state
        .store
        .read(move |c| {
            let links = links.clone();
            Box::pin(async move {
                let now = jinguo_bus::now();
                let Some((n, objections)) =
                    jinguo_nominations::investigation_view(c, id, person, &links, now).await?
                else {
                    return Ok(None);
                };
                let c_row = jinguo_store::nominations::get_campaign(c, n.campaign_id).await?;
                let open = jinguo_store::objections::open_for(c, id).await?;
                let village = jinguo_nominations::place_of(c, n.village).await?;
                Ok::<_, Refusal>(Some((n, objections, c_row, open, village)))
            })
        })
        .await;
    let (n, objections, campaign, open, village) = match loaded {
        Ok(Some(v)) => v,
        Ok(None) => {
            return message(
                StatusCode::CONFLICT,
                "无需您核查",
                "这项异议核查已不需要您处理。".into(),
                None,
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let tz = state.config.calendar.time_zone;
    let remaining = open.map_or(0, |o| o.remaining.num_seconds().max(0));
    let remaining = match remaining {
        s if s >= 86_400 => format!("约 {} 天", (s + 43_200) / 86_400),
        s if s >= 3_600 => format!("约 {} 小时", (s + 1_800) / 3_600),
        s if s >= 60 => format!("约 {} 分钟", (s + 30) / 60),
        s => format!("{s} 秒"),
    };
    let (decision, reason, refused) = match sent_back {
        Some(b) => (b.decision, b.reason, Some(b.refused)),
        None => (String::new(), String::new(), None),
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    let family = jinguo_nominations::family_of(&n);
    page::render(
        status,
        &ObjectionPage {
            family: family.head_name,
            campaign: campaign.map(|c| c.name).unwrap_or_default(),
            category: n.category.clone(),
            village,
            story: n.story.clone(),
            remaining,
            objections: objections
                .into_iter()
                .map(|o| ShownObjection {
                    name: o.name,
                    phone: o.phone,
                    reason: o.reason,
                    at: crate::links::local_time(o.at, tz),
                })
                .collect(),
            action: format!("/link/{}", secret.expose()),
            csrf,
            decision,
            reason,
            refused,
        },
    )
}

/// The page once a review or eligibility decision is recorded.
fn decided_page(to: State) -> Response {
    message(
        StatusCode::OK,
        "审核意见已提交",
        format!("谢谢！该推荐现在的状态：{}。", state_label(to)),
        None,
    )
}

/// What a link records with its use once a decision is made, and the answer.
fn decided(to: State) -> Acted {
    (to.to_string(), decided_page(to))
}

/// A refusal of the program as the link page says it, or the store's error to roll back.
fn refused(r: Refusal) -> Result<Result<Acted, Refused>, StoreError> {
    match r {
        Refusal::Store(e) | Refusal::Mail(jinguo_mail::NotifyError::Store(e)) => Err(e),
        e @ (Refusal::Mail(_) | Refusal::Corrupt { .. }) => {
            // Our fault, logged with its chain; the page says to try later.
            let _ = ApiError::internal(&e);
            Ok(Err(Refused::above(refusal_text(&e))))
        }
        other => Ok(Err(review_refused(&other))),
    }
}

/// The page of a used review link: what was decided, by whom and when, read from the
/// nomination's history (the reviewer's own step at that level).
async fn used_review_page(state: &AppState, link: &ActionLink) -> Response {
    let tz = state.config.calendar.time_zone;
    let Some(id) = jinguo_nominations::reviewed_nomination(&link.subject) else {
        return crate::links::used_page(link, tz, None);
    };
    let reviewer = link.actor;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                jinguo_nominations::nomination_detail(c, id, reviewer, jinguo_bus::now()).await
            })
        })
        .await;
    let detail = match loaded {
        Ok(Some(d)) => d,
        Ok(None) => return crate::links::used_page(link, tz, None),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let actor = reviewer.to_string();
    let decision = detail.history.iter().rev().find(|h| {
        h.actor == actor
            && ["_approve", "_approval", "_return", "_reject"]
                .iter()
                .any(|d| h.event.ends_with(d))
    });
    let Some(step) = decision else {
        return crate::links::used_page(link, tz, None);
    };
    let who = detail
        .actor_names
        .iter()
        .find(|(a, _)| *a == actor)
        .map_or("审核人", |(_, n)| n.as_str());
    let reason = step
        .reason
        .as_deref()
        .map(|r| format!("理由：{r}。"))
        .unwrap_or_default();
    message(
        StatusCode::CONFLICT,
        "已审核",
        format!(
            "{who}已于 {} 审核了{}家庭的推荐。结果：{}。{reason}",
            crate::links::local_time(step.at, tz),
            detail.family.head_name,
            event_label(&step.event, &step.to),
        ),
        Some("每个审核链接只能使用一次。如需查看这份推荐的最新进展，请登录后在工作台查看。"),
    )
}

/// The nominations program's emailed links: review (`{nomination}:{level}`, the reviewer's
/// page and decision) and eligibility (`{nomination}`, the county case officer's page and
/// decision).
pub(crate) enum NominationLink {
    Review,
    Eligibility,
    /// `{nomination}`: a county reviewer's investigation of the objections to a family in 公示.
    Objection,
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
            NominationLink::Objection => Box::pin(objection_page(state, link, secret, csrf, None)),
        }
    }

    fn act<'a>(
        &'a self,
        state: &'a AppState,
        conn: &'a mut jinguo_store::Conn<'_>,
        link: &'a ActionLink,
        form: &'a LinkForm,
        now: chrono::DateTime<chrono::Utc>,
    ) -> jinguo_store::BoxFuture<'a, Result<Result<Acted, Refused>, StoreError>> {
        Box::pin(async move {
            let missing = || Ok(Err(Refused::above("这个链接指向的推荐不存在。")));
            let links = state.nominations();
            let decided_to = match self {
                NominationLink::Review => {
                    let decision = match decision_of(form.decision.as_deref()) {
                        Ok(d) => d,
                        Err(refused) => return Ok(Err(refused)),
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
                        _ => return Ok(Err(Refused::above("请选择核查结果。"))),
                    };
                    let Ok(id) = link.subject.parse() else {
                        return missing();
                    };
                    jinguo_nominations::decide_eligibility(
                        conn, id, link.actor, decision, &links, now,
                    )
                    .await
                }
                NominationLink::Objection => {
                    let finding = match form.decision.as_deref() {
                        Some("uphold") => jinguo_nominations::Finding::Uphold,
                        Some("dismiss") => jinguo_nominations::Finding::Dismiss,
                        _ => return Ok(Err(Refused::at("decision", "请选择驳回异议或维持异议。"))),
                    };
                    let Ok(id) = link.subject.parse() else {
                        return missing();
                    };
                    let reason = form.reason.as_deref();
                    jinguo_nominations::investigate(
                        conn, id, link.actor, finding, reason, &links, now,
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

    fn refused<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
        form: &'a LinkForm,
        refused: Refused,
    ) -> jinguo_store::BoxFuture<'a, Response> {
        Box::pin(async move {
            let sent_back = SentBack {
                decision: form.decision.clone().unwrap_or_default(),
                reason: form.reason.clone().unwrap_or_default(),
                refused,
            };
            if let NominationLink::Objection = self {
                return objection_page(state, link, secret, csrf, Some(sent_back)).await;
            }
            let id = jinguo_nominations::reviewed_nomination(&link.subject);
            let (NominationLink::Review, Some(id)) = (self, id) else {
                let refused = sent_back.refused;
                return message(
                    refused.status,
                    "未能提交",
                    refused.message,
                    Some("请返回上一页修改后重新提交。"),
                );
            };
            let action = format!("/link/{}", secret.expose());
            render(state, id, link.actor, action, csrf, Some(sent_back)).await
        })
    }

    fn used<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
    ) -> jinguo_store::BoxFuture<'a, Response> {
        Box::pin(async move {
            match self {
                NominationLink::Review => used_review_page(state, link).await,
                NominationLink::Eligibility | NominationLink::Objection => {
                    crate::links::used_page(link, state.config.calendar.time_zone, None)
                }
            }
        })
    }
}
