//! 反家暴联动 pages: the officer's list (`/referrals`), the intake form (`/referrals/new`), one
//! case (`/referrals/{id}`, its reads audited with a reason, and the forms of its steps), the
//! acknowledgement link ([`ReferralLink`]), and the public page of the self-referral (`/help`,
//! 咨询服务: neutral in its title, headings and address, with a quick exit).
//!
//! Every step goes through [`crate::referrals::run`], so a refused permission is audited the
//! same way as over the API. A refusal is shown beside the field it is about with what was
//! typed; a forbidden step is a page that says nothing about the case. Nothing a person typed
//! is logged, and the public page's confirmation shows only the case number.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use jinguo_auth::Secret;
use jinguo_core::auth::{Agency, Target, authorize};
use jinguo_core::org::OrgCode;
use jinguo_core::referrals::{ConsentBasis, Outcome, Source, State as CaseState, TaskState};
use jinguo_referrals::{
    Assessment, CaseView, Completion, Consent, INTAKE, NewReferral, READ_REASONS, Refusal,
    Reporter, SelfReferral, TaskLine, TaskStep, Victim,
};
use jinguo_store::links::ActionLink;
use jinguo_store::{BoxFuture, Conn, StoreError, staff};
use uuid::Uuid;

use crate::auth::{ClientAddr, SignedIn};
use crate::extract::{Form, Path};
use crate::limits::{HOUR, Limit};
use crate::links::{Acted, LinkAction, LinkForm};
use crate::page::for_people;
use crate::page::{Refused, RefusedForm, message};
use crate::page::{render, signed_in};
use crate::picker::{Pick, Picker, Typed};
use crate::referrals::{On, read_reason, run};
use crate::{ApiError, AppState};

/// Where the quick exit leads: a neutral page (a weather search).
const QUICK_EXIT: &str = "https://www.baidu.com/s?wd=%E5%A4%A9%E6%B0%94";

// --- what every page here shares -------------------------------------------------------------

/// The Chinese name of a field the program names in a refusal.
fn field_label(field: &str) -> &'static str {
    match field {
        "village" => "村（社区）",
        "source" => "案件来源",
        "reporter.name" => "报告人姓名",
        "reporter.phone" => "报告人电话",
        "reporter.organisation" => "报告单位",
        "victim.name" | "name" => "姓名",
        "victim.sex" => "性别",
        "victim.age" => "年龄",
        "victim.phone" | "phone" => "联系电话",
        "victim.address" => "住址",
        "victim.id_number" => "身份证号",
        "victim.safe_contact" | "safe_contact" => "安全联系方式",
        "children" => "未成年子女年龄",
        "relationship" => "与施暴者关系",
        "summary" => "情况说明",
        "answers" => "风险评估",
        "agencies" => "联动单位",
        "consent.basis" => "信息共享依据",
        "consent.note" => "同意情况说明",
        "note" => "说明",
        "reason" => "理由",
        "outcome" => "结案结果",
        "order_expires_on" => "保护令有效期至",
        _ => "填写内容",
    }
}

/// What a page does with a refusal of the program: show the form again with a sentence, or
/// answer with a page of its own.
enum Shown {
    Again(Refused),
    Page(Response),
}

/// `person` is who asked (their posts are named on a 403); none on the public page.
async fn shown(state: &AppState, person: Option<Uuid>, r: Refusal) -> Shown {
    match r {
        Refusal::Invalid { field, message } => Shown::Again(Refused::at(
            field,
            format!("{}：{}", field_label(field), for_people(&message)),
        )),
        Refusal::Conflict(m) => Shown::Again(Refused {
            field: None,
            message: m.to_owned(),
            status: StatusCode::CONFLICT,
        }),
        Refusal::Forbidden(_) => Shown::Page(forbidden(state, person).await),
        Refusal::NotFound(_) => Shown::Page(no_such_case()),
        other => Shown::Page(ApiError::from(other).into_response()),
    }
}

/// The page of a refused permission: it says nothing about the case (the attempt is audited),
/// only the asker's own posts.
async fn forbidden(state: &AppState, person: Option<Uuid>) -> Response {
    let cannot = "您没有进行这项操作的权限";
    let hint = Some("如需办理，请联系所在县区的个案专员或督导。");
    match person {
        Some(person) => crate::page::forbidden(state, person, cannot, hint).await,
        None => message(
            StatusCode::FORBIDDEN,
            "没有权限",
            format!("{cannot}。"),
            hint,
        ),
    }
}

fn no_such_case() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这个案件",
        "没有找到这个案件，请核对链接。".into(),
        None,
    )
}

/// A value for a URL's query string (the read reasons are Chinese).
fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn case_url(id: Uuid, reason: &str) -> String {
    format!("/referrals/{id}?reason={}", query_value(reason))
}

/// Whether one of `person`'s roles carries `action` on cases they are assigned to or that lie
/// in their area: what decides which forms a page offers. The program decides each step
/// itself; this only spares people buttons that would be refused.
async fn role_may(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &str,
    now: DateTime<Utc>,
) -> Result<Vec<OrgCode>, StoreError> {
    let Some(who) = staff::principal(conn, person, now).await? else {
        return Ok(Vec::new());
    };
    let table = staff::permissions(conn).await?;
    let me = [person];
    Ok(who
        .assignments
        .iter()
        .map(|a| a.org)
        .filter(|org| {
            let target = Target::Case {
                id: "",
                org: *org,
                assigned: &me,
            };
            authorize(&who, action, target, &table, now)
        })
        .collect())
}

// --- /referrals: my cases --------------------------------------------------------------------

#[derive(Template)]
#[template(path = "referrals/list.html")]
struct ListPage {
    cases: Vec<jinguo_referrals::CaseLine>,
    may_intake: bool,
    number: String,
    found: Option<jinguo_referrals::Found>,
    not_found: bool,
    states: Vec<(&'static str, &'static str)>,
    state: String,
    overdue: bool,
}

#[derive(serde::Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
    overdue: Option<String>,
    number: Option<String>,
}

/// `GET /referrals`: the cases the signed-in person may read (filtered by state, or overdue),
/// a box to find a case by its number, and the way to the intake form for those who take
/// cases in.
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let person = session.person;
    let wanted = q.state.as_deref().and_then(|s| s.parse::<CaseState>().ok());
    let overdue = q.overdue.as_deref() == Some("true");
    let number = q.number.unwrap_or_default().trim().to_owned();
    let n = number.clone();
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                let cases = jinguo_referrals::my_cases(c, person, wanted, overdue, now).await?;
                let may_intake = !role_may(c, person, INTAKE, now).await?.is_empty();
                let found = if n.is_empty() {
                    None
                } else {
                    jinguo_referrals::find(c, person, &n, now).await?
                };
                Ok::<_, StoreError>((cases, may_intake, found))
            })
        })
        .await;
    let (cases, may_intake, found) = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let page = ListPage {
        cases,
        may_intake,
        not_found: !number.is_empty() && found.is_none(),
        number,
        found,
        states: CaseState::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        state: wanted.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        overdue,
    };
    render(StatusCode::OK, &page)
}

// --- /referrals/new: intake ------------------------------------------------------------------

#[derive(Template)]
#[template(path = "referrals/new.html")]
struct IntakePage {
    csrf: String,
    picker: Picker,
    sources: Vec<(&'static str, &'static str)>,
    bases: Vec<(&'static str, &'static str)>,
    /// (id, text) of the risk questions.
    questions: Vec<(String, String)>,
    values: Typed,
    refused: Option<Refused>,
}

impl RefusedForm for IntakePage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

fn questions(state: &AppState) -> Vec<(String, String)> {
    state
        .referrals()
        .policy
        .questionnaire
        .questions
        .iter()
        .map(|q| (q.id.clone(), q.text.clone()))
        .collect()
}

/// Where the signed-in person takes cases in: the first unit where they may, or the page to
/// show instead.
async fn intake_root(state: &AppState, person: Uuid) -> Result<OrgCode, Response> {
    let areas = state
        .store
        .read(move |c| {
            Box::pin(async move { role_may(c, person, INTAKE, jinguo_bus::now()).await })
        })
        .await;
    match areas.map(|a| a.into_iter().next()) {
        Ok(Some(root)) => Ok(root),
        Ok(None) => Err(crate::page::forbidden(
            state,
            person,
            "您的岗位不负责登记反家暴案件",
            Some("如需开通，请联系所在县区妇联管理员。"),
        )
        .await),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

async fn intake_page(
    state: &AppState,
    session: &SignedIn,
    root: OrgCode,
    values: Typed,
    refused: Option<Refused>,
) -> Response {
    let area = Pick::Village.area(root, &values);
    let loaded = state
        .store
        .read(move |c| Box::pin(Pick::Village.picker(c, root, area)))
        .await;
    let picker = match loaded {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    let page = IntakePage {
        csrf: session.csrf.clone(),
        picker,
        sources: Source::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        bases: ConsentBasis::ALL
            .iter()
            .map(|b| (b.as_str(), b.label()))
            .collect(),
        questions: questions(state),
        values,
        refused,
    };
    render(status, &page)
}

/// `GET /referrals/new`: the intake form.
pub(crate) async fn intake_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let root = match intake_root(&state, session.person).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let values = Typed(vec![("victim.sex".into(), "女".into())]);
    intake_page(&state, &session, root, values, None).await
}

/// Ages typed as "3，7" (any of , ， 、 or spaces between).
fn children_ages(raw: &str) -> Result<Vec<u8>, Refused> {
    raw.split(|c: char| c == ',' || c == '，' || c == '、' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u8>().map_err(|_| {
                Refused::at("children", "未成年子女年龄：请填写数字，多个年龄用逗号隔开")
            })
        })
        .collect()
}

/// The intake form as the program's input; what cannot even be read is refused beside its
/// field.
fn new_referral(v: &Typed) -> Result<NewReferral, Refused> {
    let source = v
        .get("source")
        .parse::<Source>()
        .map_err(|_| Refused::at("source", "案件来源：请选择"))?;
    let reporter_keys = ["reporter.name", "reporter.phone", "reporter.organisation"];
    let reporter = if reporter_keys.iter().all(|k| v.get(k).trim().is_empty()) {
        None
    } else {
        Some(Reporter {
            name: v.get("reporter.name").to_owned(),
            phone: v.optional("reporter.phone"),
            organisation: v.get("reporter.organisation").to_owned(),
        })
    };
    let age = match v.get("victim.age").trim() {
        "" => None,
        a => Some(
            a.parse::<u8>()
                .map_err(|_| Refused::at("victim.age", "年龄：请填写 0 到 120 之间的整数"))?,
        ),
    };
    let basis = v
        .get("consent.basis")
        .parse::<ConsentBasis>()
        .map_err(|_| Refused::at("consent.basis", "信息共享依据：请选择"))?;
    Ok(NewReferral {
        village: v.get("village").trim().to_owned(),
        source,
        reporter,
        victim: Victim {
            name: v.get("victim.name").to_owned(),
            sex: v.get("victim.sex").to_owned(),
            age,
            phone: v.optional("victim.phone"),
            address: v.get("victim.address").to_owned(),
            id_number: v.optional("victim.id_number"),
            safe_contact: v.get("victim.safe_contact").to_owned(),
        },
        children_ages: children_ages(v.get("children"))?,
        relationship: v.get("relationship").to_owned(),
        summary: v.get("summary").to_owned(),
        answers: v.all("answer").map(|id| (id.to_owned(), true)).collect(),
        consent: Consent {
            basis,
            note: v.get("consent.note").to_owned(),
        },
    })
}

/// `POST /referrals/new`: a picker step (`step=pick`/`up`: the form again, nothing taken in),
/// or the intake; on success the case's page.
pub(crate) async fn intake_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match crate::page::posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let root = match intake_root(&state, session.person).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    if typed.is_picker_step() {
        return intake_page(&state, &session, root, typed, None).await;
    }
    let input = match new_referral(&typed) {
        Ok(i) => i,
        Err(refused) => return intake_page(&state, &session, root, typed, Some(refused)).await,
    };
    let person = session.person;
    let result = run(&state, person, On::Request("intake"), move |c, s, now| {
        Box::pin(async move { jinguo_referrals::intake(c, s, person, &input, now).await })
    })
    .await;
    let refused = match result {
        Ok(r) => {
            return Redirect::to(&case_url(r.id, jinguo_referrals::DEFAULT_REASON)).into_response();
        }
        // Outside the person's area: said beside the village (and audited by `run`).
        Err(Refusal::Forbidden(_)) => Refused {
            field: Some("village"),
            message: "村（社区）：您不能在这个村（社区）登记案件".into(),
            status: StatusCode::FORBIDDEN,
        },
        Err(r) => match shown(&state, Some(session.person), r).await {
            Shown::Again(refused) => refused,
            Shown::Page(page) => return page,
        },
    };
    intake_page(&state, &session, root, typed, Some(refused)).await
}

// --- /referrals/{id}: one case ---------------------------------------------------------------

#[derive(Template)]
#[template(path = "referrals/reason.html")]
struct ReasonPage {
    id: Uuid,
    reasons: &'static [&'static str],
    error: Option<String>,
}

/// A task with the steps its page offers.
struct TaskItem {
    line: TaskLine,
    key: String,
    can_acknowledge: bool,
    can_start: bool,
    can_settle: bool,
    /// A court task: completing it may record the protection order's end.
    court: bool,
}

/// A sentence shown beside one of the page's forms after a refused step.
struct Notice {
    form: String,
    message: String,
}

#[derive(Template)]
#[template(path = "referrals/case.html")]
struct CasePage {
    id: Uuid,
    reason: &'static str,
    csrf: String,
    view: CaseView,
    tasks: Vec<TaskItem>,
    can_assess: bool,
    can_follow_up: bool,
    can_close: bool,
    can_reopen: bool,
    questions: Vec<(String, String)>,
    agencies: Vec<(&'static str, &'static str)>,
    outcomes: Vec<(&'static str, &'static str)>,
    notice: Option<Notice>,
    values: Typed,
}

impl CasePage {
    fn notice_at(&self, form: &str) -> Option<&str> {
        self.notice
            .as_ref()
            .filter(|n| n.form == form)
            .map(|n| n.message.as_str())
    }

    /// A refusal whose form the page no longer offers (the case moved on): shown at the top.
    fn orphan_notice(&self) -> Option<&str> {
        let n = self.notice.as_ref()?;
        let shown = match n.form.as_str() {
            "assess" => self.can_assess,
            "followups" => self.can_follow_up,
            "close" => self.can_close,
            "reopen" => self.can_reopen,
            task => self
                .tasks
                .iter()
                .any(|t| t.key == task && (t.can_acknowledge || t.can_start || t.can_settle)),
        };
        (!shown).then_some(n.message.as_str())
    }

    /// Whether `key` was sent with `value` from `form`, when that form was refused.
    fn checked(&self, form: &str, key: &str, value: &str) -> bool {
        self.notice.as_ref().is_some_and(|n| n.form == form) && self.values.has(key, value)
    }

    /// What was typed into `field` of `form`, when that form was refused.
    fn typed(&self, form: &str, field: &str) -> &str {
        if self.notice.as_ref().is_some_and(|n| n.form == form) {
            self.values.get(field)
        } else {
            ""
        }
    }

    fn children(&self) -> String {
        self.view
            .incident
            .children_ages
            .iter()
            .map(|a| format!("{a}岁"))
            .collect::<Vec<_>>()
            .join("、")
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct ReasonQuery {
    reason: Option<String>,
}

/// `GET /referrals/{id}?reason=…`: first why the person reads (a GET form adding `?reason=`),
/// then the case, the read audited with that reason. A refused read is a page that says
/// nothing about the case, and is audited too.
pub(crate) async fn case_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(q): Query<ReasonQuery>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let asked = q.reason.as_deref().map(str::trim).unwrap_or_default();
    if asked.is_empty() {
        return reason_page(id, None);
    }
    let Ok(reason) = read_reason(Some(asked)) else {
        return reason_page(id, Some("请从列表中选择查看原因。".into()));
    };
    show_case(&state, &session, id, reason, None, Typed::default()).await
}

fn reason_page(id: Uuid, error: Option<String>) -> Response {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &ReasonPage {
            id,
            reasons: &READ_REASONS,
            error,
        },
    )
}

/// Reads case `id` for the signed-in person (audited with `reason`) and renders it, with
/// `notice` beside the form that was refused.
async fn show_case(
    state: &AppState,
    session: &SignedIn,
    id: Uuid,
    reason: &'static str,
    notice: Option<(Notice, StatusCode)>,
    values: Typed,
) -> Response {
    let person = session.person;
    let read = run(state, person, On::Case(id), move |c, s, now| {
        Box::pin(async move { jinguo_referrals::read_case(c, s, person, id, reason, now).await })
    })
    .await;
    let view = match read {
        Ok(v) => v,
        Err(r) => {
            return match shown(state, Some(session.person), r).await {
                Shown::Page(page) => page,
                // A read refuses nothing a person typed.
                Shown::Again(refused) => {
                    message(refused.status, "无法显示案件", refused.message, None)
                }
            };
        }
    };
    let court = jinguo_core::referrals::agency_label(Agency::Court);
    let tasks = view
        .tasks
        .iter()
        .map(|t| TaskItem {
            key: t.id.to_string(),
            can_acknowledge: t.may_act && t.state == TaskState::Open,
            can_start: t.may_act
                && matches!(t.state, TaskState::Open | TaskState::Acknowledged)
                && t.agency.is_some(),
            can_settle: t.may_act && t.state.is_open() && t.agency.is_some(),
            court: t.agency.as_deref() == Some(court),
            line: t.clone(),
        })
        .collect();
    let (s, manage) = (view.line.state, view.may_manage);
    let (status, notice) = match notice {
        Some((n, status)) => (status, Some(n)),
        None => (StatusCode::OK, None),
    };
    let page = CasePage {
        id,
        reason,
        csrf: session.csrf.clone(),
        tasks,
        can_assess: manage && s != CaseState::Closed,
        can_follow_up: manage && matches!(s, CaseState::Active | CaseState::Monitoring),
        can_close: manage
            && matches!(
                s,
                CaseState::Assessed | CaseState::Active | CaseState::Monitoring
            ),
        can_reopen: manage && s == CaseState::Closed,
        questions: questions(state),
        agencies: Agency::ALL
            .iter()
            .map(|a| (a.as_str(), jinguo_core::referrals::agency_task_label(*a)))
            .collect(),
        outcomes: Outcome::ALL
            .iter()
            .map(|o| (o.as_str(), o.label()))
            .collect(),
        view,
        notice,
        values,
    };
    render(status, &page)
}

/// `POST /referrals/{id}/{action}`: a step of the case from its page (`assess`, `followups`,
/// `close`, `reopen`); session and CSRF as every form. On success the case again (read with the
/// same reason); a refusal beside the form, keeping what was typed.
pub(crate) async fn case_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(Uuid, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let typed = Typed(pairs);
    let step = match action.as_str() {
        "assess" => {
            let agencies: Result<Vec<Agency>, _> =
                typed.all("agency").map(str::parse::<Agency>).collect();
            let Ok(agencies) = agencies else {
                return refused_step(
                    &state,
                    &headers,
                    id,
                    &action,
                    typed,
                    "联动单位：请从列表中选择",
                )
                .await;
            };
            CaseStep::Assess(Assessment {
                answers: typed.all("answer").map(|q| (q.to_owned(), true)).collect(),
                agencies,
                urgent: typed.has("urgent", "yes"),
            })
        }
        "followups" => CaseStep::FollowUp(typed.optional("note")),
        "close" => {
            let Ok(outcome) = typed.get("outcome").parse::<Outcome>() else {
                return refused_step(&state, &headers, id, &action, typed, "结案结果：请选择")
                    .await;
            };
            CaseStep::Close(outcome, typed.optional("note"))
        }
        "reopen" => CaseStep::Reopen(typed.optional("reason")),
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                "页面不存在",
                "没有这个操作。".into(),
                None,
            );
        }
    };
    act_from_page(
        &state,
        &headers,
        id,
        &action,
        typed,
        move |c, s, person, now| {
            Box::pin(async move {
                match step {
                    CaseStep::Assess(a) => {
                        jinguo_referrals::assess(c, s, person, id, &a, now).await?;
                    }
                    CaseStep::FollowUp(note) => {
                        jinguo_referrals::follow_up(c, s, person, id, note.as_deref(), now).await?;
                    }
                    CaseStep::Close(outcome, note) => {
                        jinguo_referrals::close(c, s, person, id, outcome, note.as_deref(), now)
                            .await?;
                    }
                    CaseStep::Reopen(reason) => {
                        jinguo_referrals::reopen(c, s, person, id, reason.as_deref(), now).await?;
                    }
                }
                Ok(())
            })
        },
    )
    .await
}

#[derive(Clone)]
enum CaseStep {
    Assess(Assessment),
    FollowUp(Option<String>),
    Close(Outcome, Option<String>),
    Reopen(Option<String>),
}

/// `POST /referrals/{id}/tasks/{task_id}/{step}`: `acknowledge`, `start`, `complete` (a note,
/// and for a court task the protection order's end) or `decline` (a reason) from the case page.
pub(crate) async fn task_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, task, step)): Path<(Uuid, Uuid, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let typed = Typed(pairs);
    let form = task.to_string();
    let step = match step.as_str() {
        "acknowledge" => TaskStep::Acknowledge,
        "start" => TaskStep::Start,
        "complete" => {
            let Some(order_expires_on) =
                crate::referrals::parse_date(typed.get("order_expires_on"))
            else {
                return refused_step(
                    &state,
                    &headers,
                    id,
                    &form,
                    typed,
                    "保护令有效期至：日期格式应为 2026-12-31",
                )
                .await;
            };
            TaskStep::Complete(Completion {
                note: typed.optional("note"),
                order_expires_on,
            })
        }
        "decline" => TaskStep::Decline {
            reason: typed.optional("reason"),
        },
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                "页面不存在",
                "没有这个操作。".into(),
                None,
            );
        }
    };
    act_from_page(
        &state,
        &headers,
        id,
        &form,
        typed,
        move |c, s, person, now| {
            Box::pin(async move {
                jinguo_referrals::act(c, s, person, id, task, step, now).await?;
                Ok(())
            })
        },
    )
    .await
}

/// A page form refused before reaching the program (a value that cannot be read): the case
/// again with `text` beside `form`.
async fn refused_step(
    state: &AppState,
    headers: &HeaderMap,
    id: Uuid,
    form: &str,
    typed: Typed,
    text: &str,
) -> Response {
    let session = match signed_in(state, headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    if typed.get("csrf") != session.csrf {
        return crate::page::stale_form("请刷新页面后重试。");
    }
    let reason =
        read_reason(Some(typed.get("read_reason"))).unwrap_or(jinguo_referrals::DEFAULT_REASON);
    let notice = Notice {
        form: form.to_owned(),
        message: text.to_owned(),
    };
    show_case(
        state,
        &session,
        id,
        reason,
        Some((notice, StatusCode::BAD_REQUEST)),
        typed,
    )
    .await
}

/// Runs a step posted from case `id`'s page (form `form`) for the signed-in person: back to
/// the case on success, the case with the refusal beside the form otherwise.
async fn act_from_page<F>(
    state: &AppState,
    headers: &HeaderMap,
    id: Uuid,
    form: &str,
    typed: Typed,
    step: F,
) -> Response
where
    F: for<'r, 'c> FnOnce(
            &'r mut Conn<'c>,
            &'r jinguo_referrals::Settings,
            Uuid,
            DateTime<Utc>,
        ) -> BoxFuture<'r, Result<(), Refusal>>
        + Clone
        + Send
        + 'static,
{
    let session = match signed_in(state, headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    if typed.get("csrf") != session.csrf {
        return crate::page::stale_form("请刷新页面后重试。");
    }
    let reason =
        read_reason(Some(typed.get("read_reason"))).unwrap_or(jinguo_referrals::DEFAULT_REASON);
    let person = session.person;
    let result = run(state, person, On::Case(id), move |c, s, now| {
        step(c, s, person, now)
    })
    .await;
    let refused = match result {
        Ok(()) => return Redirect::to(&case_url(id, reason)).into_response(),
        Err(r) => match shown(state, Some(session.person), r).await {
            Shown::Again(refused) => refused,
            Shown::Page(page) => return page,
        },
    };
    let notice = Notice {
        form: form.to_owned(),
        message: refused.message,
    };
    show_case(
        state,
        &session,
        id,
        reason,
        Some((notice, refused.status)),
        typed,
    )
    .await
}

// --- the acknowledgement link ----------------------------------------------------------------

#[derive(Template)]
#[template(path = "referrals/link.html")]
struct LinkPage<'a> {
    referral: Uuid,
    case_number: String,
    asked: String,
    due: String,
    state_label: &'static str,
    open: bool,
    token: &'a str,
    csrf: &'a str,
}

/// Acknowledgement links (`jinguo_referrals::ACKNOWLEDGE`, subject: the task). GET shows only
/// the case number, what is asked and by when, with a "签收" form and the way to the case's
/// page after signing in; it changes nothing. POST acknowledges the task as the link's person
/// (whoever is signed in), through the program's one task step.
pub(crate) struct ReferralLink;

fn link_points_nowhere() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "链接无效",
        "这个链接指向的任务不存在。".into(),
        None,
    )
}

impl LinkAction for ReferralLink {
    fn show<'a>(
        &'a self,
        state: &'a AppState,
        link: &'a ActionLink,
        secret: &'a Secret,
        csrf: &'a str,
    ) -> BoxFuture<'a, Response> {
        Box::pin(async move {
            let Ok(task) = link.subject.parse::<Uuid>() else {
                return link_points_nowhere();
            };
            let settings = state.referrals().clone();
            let view = state
                .store
                .read(move |c| {
                    Box::pin(async move { jinguo_referrals::link_view(c, &settings, task).await })
                })
                .await;
            let view = match view {
                Ok(Some(v)) => v,
                Ok(None) => return link_points_nowhere(),
                Err(e) => return ApiError::from(e).into_response(),
            };
            let page = LinkPage {
                referral: view.referral,
                case_number: view.case_number,
                asked: view.asked,
                due: view.due,
                state_label: view.state_label,
                open: view.open,
                token: secret.expose(),
                csrf,
            };
            render(StatusCode::OK, &page)
        })
    }

    fn act<'a>(
        &'a self,
        state: &'a AppState,
        conn: &'a mut Conn<'_>,
        link: &'a ActionLink,
        _form: &'a LinkForm,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Result<Acted, Refused>, StoreError>> {
        Box::pin(async move {
            let settings = state.referrals();
            let Ok(task) = link.subject.parse::<Uuid>() else {
                return Ok(Err(Refused::above("这个链接指向的任务不存在。".to_owned())));
            };
            let Some(view) = jinguo_referrals::link_view(conn, settings, task).await? else {
                return Ok(Err(Refused::above("这个链接指向的任务不存在。".to_owned())));
            };
            let person = link.actor;
            let acted = jinguo_referrals::act(
                conn,
                settings,
                person,
                view.referral,
                task,
                TaskStep::Acknowledge,
                now,
            )
            .await;
            match acted {
                Ok(_) => {
                    let page = message(
                        StatusCode::OK,
                        "已签收",
                        format!("案件 {} 的这项任务已签收，催办随之停止。", view.case_number),
                        Some("登录后可在“我的案件”中查看详情并继续办理。"),
                    );
                    Ok(Ok(("acknowledged".to_owned(), page)))
                }
                Err(Refusal::Store(e) | Refusal::Mail(jinguo_mail::NotifyError::Store(e))) => {
                    Err(e)
                }
                // Refused before the step wrote anything (the program checks permission
                // first), and this transaction commits without marking the link used: the
                // attempt is on record here, as `run` records it elsewhere.
                Err(Refusal::Forbidden(action)) => {
                    jinguo_referrals::record_refusal(conn, person, action, view.referral, now)
                        .await?;
                    Ok(Err(Refused::above("您现在不能签收这项任务。".to_owned())))
                }
                Err(Refusal::Conflict(m)) => Ok(Err(Refused::above(format!("{m}。")))),
                Err(Refusal::NotFound(_)) => {
                    Ok(Err(Refused::above("这个链接指向的任务不存在。".to_owned())))
                }
                Err(e) => {
                    // Our fault, logged with its chain (no data in it); the page says to
                    // try later.
                    let _ = ApiError::internal(&e);
                    Ok(Err(Refused::above(
                        "系统暂时无法处理，请稍后再试。".to_owned(),
                    )))
                }
            }
        })
    }
}

// --- /help: the public page (咨询服务) -------------------------------------------------------

#[derive(Template)]
#[template(path = "referrals/help.html")]
struct HelpPage {
    quick_exit: &'static str,
    picker: Picker,
    values: Typed,
    refused: Option<Refused>,
}

impl RefusedForm for HelpPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

#[derive(Template)]
#[template(path = "referrals/help_done.html")]
struct HelpDone {
    quick_exit: &'static str,
    case_number: String,
}

/// Where the public page's picker starts: the province.
fn province() -> OrgCode {
    OrgCode::parse("62").expect("the province code parses")
}

/// No copy of the public page, or of what it shows after a submission, is kept anywhere.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn help_page(state: &AppState, values: Typed, refused: Option<Refused>) -> Response {
    let root = province();
    let area = Pick::Village.area(root, &values);
    let loaded = state
        .store
        .read(move |c| Box::pin(Pick::Village.picker(c, root, area)))
        .await;
    let picker = match loaded {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    no_store(render(
        status,
        &HelpPage {
            quick_exit: QUICK_EXIT,
            picker,
            values,
            refused,
        },
    ))
}

/// `GET /help`: the public self-referral form.
pub(crate) async fn help_form(State(state): State<AppState>) -> Response {
    help_page(&state, Typed::default(), None).await
}

/// The program's field names as the public form's.
fn help_field(field: &'static str) -> &'static str {
    match field {
        "victim.name" => "name",
        "victim.phone" => "phone",
        "victim.safe_contact" => "safe_contact",
        other => other,
    }
}

/// `POST /help`: a picker step, or the self-referral. Accepted submissions are limited per
/// client address per hour (`referrals.self_referral_per_ip_per_hour`; checked before, counted
/// when one is accepted). The answer shows only the case number and the hotline.
pub(crate) async fn help_submit(
    State(state): State<AppState>,
    client: ClientAddr,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let typed = Typed(pairs);
    if typed.is_picker_step() {
        return help_page(&state, typed, None).await;
    }
    let limits = [Limit::new(
        format!("help:ip:{}", client.key()),
        state.config.referrals.self_referral_per_ip_per_hour,
        HOUR,
    )];
    if let Err(wait) = state.limiter.check(&limits) {
        let refused = Refused {
            field: None,
            message: format!(
                "提交过于频繁，暂时不能受理，{}如有紧急情况，请拨打 110。",
                crate::limits::try_again_in(wait)
            ),
            status: StatusCode::TOO_MANY_REQUESTS,
        };
        let mut page = help_page(&state, typed, Some(refused)).await;
        if page.status() == StatusCode::TOO_MANY_REQUESTS {
            crate::edge::set_retry_after(&mut page, wait);
        }
        return page;
    }
    let input = SelfReferral {
        village: typed.get("village").trim().to_owned(),
        name: typed.get("name").to_owned(),
        phone: typed.optional("phone"),
        safe_contact: typed.get("safe_contact").to_owned(),
        summary: typed.get("summary").to_owned(),
    };
    let settings = state.referrals().clone();
    let result = state
        .store
        .transaction(move |c| {
            let (settings, input) = (settings.clone(), input.clone());
            Box::pin(async move {
                jinguo_referrals::self_referral(c, &settings, &input, jinguo_bus::now()).await
            })
        })
        .await;
    let refused = match result {
        Ok(r) => {
            state.limiter.record(&limits);
            let page = HelpDone {
                quick_exit: QUICK_EXIT,
                case_number: r.case_number.to_string(),
            };
            return no_store(render(StatusCode::CREATED, &page));
        }
        Err(Refusal::Invalid { field, message }) => Refused::at(
            help_field(field),
            format!("{}：{}", field_label(field), for_people(&message)),
        ),
        Err(r) => match shown(&state, None, r).await {
            Shown::Again(refused) => refused,
            Shown::Page(page) => return no_store(page),
        },
    };
    help_page(&state, typed, Some(refused)).await
}

/// `GET /static/quick-exit.js`: the public page's quick exit, which with JavaScript on also
/// replaces the page in the history (the one script of the service, from ourselves).
pub(crate) async fn quick_exit_script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../templates/referrals/quick-exit.js"),
    )
        .into_response()
}

/// The public page's content security policy: the edge's, plus our own quick-exit script
/// (`script-src 'self'`). Every other answer keeps the edge's policy, which allows no script.
pub(crate) async fn quick_exit_policy(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let help = request.uri().path() == "/help";
    let mut response = next.run(request).await;
    if help {
        let policy = format!("{}; script-src 'self'", crate::CSP);
        if let Ok(v) = HeaderValue::from_str(&policy) {
            response.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
        }
    }
    response
}
