//! What pages and the API may show of cases. A case's details are read only through
//! [`read_case`], which asks the one rule and audits every read with reader and reason; lists
//! and lookups by number show nothing of the people in a case.

use chrono::{DateTime, Utc};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_core::referrals::{
    CaseNumber, RiskLevel, State, TaskState, agency_label, agency_task_label,
};
use jinguo_store::referrals::{self as store, ReferralRow, TaskKind, TaskRow};
use jinguo_store::{Conn, StoreError, orgs, people};
use serde::Serialize;
use uuid::Uuid;

use crate::access::{READ, may_on_case, may_read};
use crate::clocks::{clock_label, clock_state_label};
use crate::details::{Incident, Reporter, Victim, open, place};
use crate::lifecycle::MANAGE;
use crate::refusal::Refusal;
use crate::settings::Settings;
use crate::tasks::may_act_on;

/// One case in a list: no personal data.
#[derive(Debug, Clone, Serialize)]
pub struct CaseLine {
    pub id: Uuid,
    pub case_number: String,
    pub village: String,
    pub state: State,
    pub state_label: &'static str,
    pub risk: Option<RiskLevel>,
    pub risk_label: &'static str,
    /// A task past its due time, or a breached clock.
    pub overdue: bool,
    pub updated_at: DateTime<Utc>,
}

/// A task as the case page and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskLine {
    pub id: Uuid,
    pub agency: Option<String>,
    pub label: String,
    pub state: TaskState,
    pub state_label: &'static str,
    pub ack_due: String,
    pub act_due: Option<String>,
    pub overdue: bool,
    pub escalations: i32,
    /// Whether the reader may act on this task now (the rule `act` applies).
    pub may_act: bool,
}

/// A legal clock as shown.
#[derive(Debug, Clone, Serialize)]
pub struct ClockLine {
    pub kind: String,
    pub label: &'static str,
    pub due: String,
    pub state: String,
    pub state_label: &'static str,
}

/// A line of the timeline, its note opened.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineLine {
    pub at: String,
    pub who: String,
    pub what: String,
    pub note: Option<String>,
}

/// A case with its details, for an authorised reader.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub line: CaseLine,
    pub township: String,
    pub source_label: &'static str,
    pub consent_label: &'static str,
    pub officer: Option<String>,
    pub victim: VictimView,
    /// Only the assigned officer sees who reported.
    pub reporter: Option<ReporterView>,
    pub incident: IncidentView,
    pub tasks: Vec<TaskLine>,
    pub clocks: Vec<ClockLine>,
    pub timeline: Vec<TimelineLine>,
    pub outcome: Option<&'static str>,
    /// Whether the reader may manage the case (assess, follow up, close, reopen): the rule
    /// those steps apply, so a page offers exactly what would be accepted.
    pub may_manage: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VictimView {
    pub name: String,
    pub sex: String,
    pub age: Option<u8>,
    pub phone: Option<String>,
    pub address: String,
    pub id_number: Option<String>,
    pub safe_contact: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReporterView {
    pub name: String,
    pub phone: Option<String>,
    pub organisation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    pub summary: String,
    pub relationship: String,
    pub children_ages: Vec<u8>,
    pub consent_note: String,
}

/// Why someone reads a case, recorded with the read.
pub const DEFAULT_REASON: &str = "案件处置";

/// Reads case `referral` for `person`: the one rule decides, the read is audited with its
/// reason. A refusal is [`Refusal::Forbidden`] (the caller audits it with
/// `record_refusal`); a case that does not exist is not found.
pub async fn read_case(
    conn: &mut Conn<'_>,
    settings: &Settings,
    person: Uuid,
    referral: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<CaseView, Refusal> {
    let r = store::get(conn, referral)
        .await?
        .ok_or(Refusal::NotFound("没有这个案件"))?;
    if !may_read(conn, person, &r, now).await? {
        return Err(Refusal::Forbidden(READ));
    }
    jinguo_auth::record(
        conn,
        &person.to_string(),
        "referral.read",
        r.case_number.as_str(),
        serde_json::json!({ "reason": reason_code(reason) }),
        now,
    )
    .await?;
    let victim: Victim = open(
        &settings.sealer,
        &r.victim_sealed,
        &place::victim(r.id),
        "victim",
    )?;
    let incident: Incident = open(
        &settings.sealer,
        &r.incident_sealed,
        &place::incident(r.id),
        "incident",
    )?;
    let reporter = match (&r.reporter_sealed, r.assigned_officer == Some(person)) {
        (Some(sealed), true) => {
            let rep: Reporter = open(&settings.sealer, sealed, &place::reporter(r.id), "reporter")?;
            Some(ReporterView {
                name: rep.name,
                phone: rep.phone,
                organisation: rep.organisation,
            })
        }
        _ => None,
    };
    let tasks = store::tasks(conn, r.id).await?;
    let clocks = store::clocks(conn, r.id).await?;
    let line = line(
        conn,
        &r,
        &tasks,
        clocks.iter().any(|k| k.state == "breached"),
        now,
    )
    .await?;
    let may_manage = may_on_case(conn, person, MANAGE, &r, now).await?;
    let mut task_lines = Vec::new();
    for t in &tasks {
        let may_act = t.state.is_open() && may_act_on(conn, person, &r, t, now).await?;
        task_lines.push(TaskLine {
            may_act,
            ..task_line(settings, t, now)
        });
    }
    let township = unit_name(conn, r.village.at_level(OrgLevel::Township)).await?;
    let officer = match r.assigned_officer {
        Some(p) => Some(people::display_name(conn, p).await?),
        None => None,
    };
    let mut timeline = Vec::new();
    for e in store::events(conn, r.id).await? {
        let who = match e.actor.parse::<Uuid>() {
            Ok(p) => people::display_name(conn, p).await?,
            Err(_) => "系统".to_owned(),
        };
        let note = match &e.note_sealed {
            Some(sealed) => Some(settings.sealer.open(sealed, &place::note(e.id)).map_err(
                |err| Refusal::Corrupt {
                    what: "timeline note",
                    problem: err.to_string(),
                },
            )?),
            None => None,
        };
        timeline.push(TimelineLine {
            at: settings.in_words(e.at),
            who,
            what: event_label(&e.kind, &e.details),
            note,
        });
    }
    Ok(CaseView {
        line,
        township,
        source_label: r.source.label(),
        consent_label: r.consent.label(),
        officer,
        victim: VictimView {
            name: victim.name,
            sex: victim.sex,
            age: victim.age,
            phone: victim.phone,
            address: victim.address,
            id_number: victim.id_number,
            safe_contact: victim.safe_contact,
        },
        reporter,
        incident: IncidentView {
            summary: incident.summary,
            relationship: incident.relationship,
            children_ages: incident.children_ages,
            consent_note: incident.consent_note,
        },
        tasks: task_lines,
        clocks: clocks
            .iter()
            .map(|k| ClockLine {
                kind: k.kind.clone(),
                label: clock_label(&k.kind),
                due: settings.in_words(k.due_at),
                state: k.state.clone(),
                state_label: clock_state_label(&k.state),
            })
            .collect(),
        timeline,
        outcome: r.outcome.map(|o| o.label()),
        may_manage,
    })
}

/// The reason as the audit log keeps it: a fixed code, never free text (which could name
/// people); anything else is "other".
fn reason_code(reason: &str) -> &'static str {
    match reason {
        "案件处置" => "case_work",
        "联动任务" => "agency_task",
        "督办" => "supervision",
        "紧急访问" => "break_glass",
        _ => "other",
    }
}

/// The reasons a reader may give (the page's select), in the order shown.
pub const READ_REASONS: [&str; 4] = ["案件处置", "联动任务", "督办", "紧急访问"];

fn task_line(settings: &Settings, t: &TaskRow, now: DateTime<Utc>) -> TaskLine {
    let (agency, label) = match t.kind {
        TaskKind::Intake => (None, "签收案件".to_owned()),
        TaskKind::Agency(a) => (
            Some(agency_label(a).to_owned()),
            agency_task_label(a).to_owned(),
        ),
    };
    TaskLine {
        id: t.id,
        agency,
        label,
        state: t.state,
        state_label: t.state.label(),
        ack_due: settings.in_words(t.ack_due_at),
        act_due: t.act_due_at.map(|d| settings.in_words(d)),
        overdue: task_overdue(t, now),
        escalations: t.escalations,
        may_act: false,
    }
}

fn task_overdue(t: &TaskRow, now: DateTime<Utc>) -> bool {
    (t.state == TaskState::Open && t.ack_due_at <= now)
        || (t.state.is_open() && t.act_due_at.is_some_and(|d| d <= now))
}

async fn line(
    conn: &mut Conn<'_>,
    r: &ReferralRow,
    tasks: &[TaskRow],
    breached: bool,
    now: DateTime<Utc>,
) -> Result<CaseLine, StoreError> {
    Ok(CaseLine {
        id: r.id,
        case_number: r.case_number.to_string(),
        village: unit_name(conn, r.village).await?,
        state: r.state,
        state_label: r.state.label(),
        risk: r.risk,
        risk_label: r.risk.map_or("待评估", |l| l.label()),
        overdue: breached || tasks.iter().any(|t| task_overdue(t, now)),
        updated_at: r.updated_at,
    })
}

async fn unit_name(conn: &mut Conn<'_>, code: OrgCode) -> Result<String, StoreError> {
    Ok(orgs::get(conn, code)
        .await?
        .map_or_else(|| "未知单位".to_owned(), |u| u.name))
}

/// The timeline's words for an event.
fn event_label(kind: &str, details: &serde_json::Value) -> String {
    let s = |k: &str| details.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let agency = s("agency")
        .parse()
        .ok()
        .map(|a| format!("（{}）", agency_label(a)))
        .unwrap_or_default();
    match kind {
        "intake" => "案件登记".to_owned(),
        "assessed" => format!(
            "风险评估：{}",
            s("risk").parse::<RiskLevel>().map_or("", |l| l.label())
        ),
        "task_opened" if agency.is_empty() => "等待签收案件".to_owned(),
        "task_opened" => format!("派发联动任务{agency}"),
        "task_acknowledged" => format!("签收{agency}"),
        "task_started" => format!("开始办理{agency}"),
        "task_done" => format!("办结{agency}"),
        "task_declined" => format!("退回任务{agency}"),
        "escalated" => {
            let step = details.get("step").and_then(|v| v.as_u64()).unwrap_or(0);
            if step == 0 {
                "已通知".to_owned()
            } else {
                format!("逐级催办（第 {step} 级）")
            }
        }
        "assigned" => "承办人签收案件".to_owned(),
        "task_overdue" => format!("超过办理期限{agency}"),
        "monitoring" => "联动任务全部办结，转入跟踪回访".to_owned(),
        "follow_up" => "回访记录".to_owned(),
        "closed" => "结案".to_owned(),
        "reopened" => "重新启动".to_owned(),
        "clock_started" => format!("开始计时：{}", clock_label(s("kind"))),
        "clock_warned" => format!("期限提醒：{}", clock_label(s("kind"))),
        "clock_breached" => format!("已超时：{}", clock_label(s("kind"))),
        "clock_met" => format!("按期完成：{}", clock_label(s("kind"))),
        _ => "其他".to_owned(),
    }
}

/// The cases `person` may read, newest first, optionally in one state or only overdue ones.
pub async fn my_cases(
    conn: &mut Conn<'_>,
    person: Uuid,
    state: Option<State>,
    only_overdue: bool,
    now: DateTime<Utc>,
) -> Result<Vec<CaseLine>, StoreError> {
    let ids = store::cases_of(conn, person).await?;
    let mut out = Vec::new();
    for r in store::by_ids(conn, &ids).await? {
        if state.is_some_and(|s| s != r.state) || !may_read(conn, person, &r, now).await? {
            continue;
        }
        let tasks = store::tasks(conn, r.id).await?;
        let breached = store::clocks(conn, r.id)
            .await?
            .iter()
            .any(|k| k.state == "breached");
        let l = line(conn, &r, &tasks, breached, now).await?;
        if !only_overdue || l.overdue {
            out.push(l);
        }
    }
    Ok(out)
}

/// What anyone allowed to find cases learns from a case number: that it exists in their area,
/// its state and whether they may read it. `None` when there is no such case in their area
/// (the same answer as no case at all).
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub id: Uuid,
    pub case_number: String,
    pub state_label: &'static str,
    pub may_read: bool,
}

pub async fn find(
    conn: &mut Conn<'_>,
    person: Uuid,
    number: &str,
    now: DateTime<Utc>,
) -> Result<Option<Found>, StoreError> {
    let Some(number) = CaseNumber::parse(number) else {
        return Ok(None);
    };
    let Some(r) = store::by_case_number(conn, &number).await? else {
        return Ok(None);
    };
    let may_find = jinguo_auth::may(
        conn,
        person,
        "referral.find",
        jinguo_core::auth::Target::Org(r.village),
        now,
    )
    .await?;
    if !may_find {
        return Ok(None);
    }
    Ok(Some(Found {
        id: r.id,
        case_number: r.case_number.to_string(),
        state_label: r.state.label(),
        may_read: may_read(conn, person, &r, now).await?,
    }))
}

/// What an acknowledgement link shows before anyone signs in: the case number and what is
/// asked, nothing else.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub referral: Uuid,
    pub case_number: String,
    pub asked: String,
    pub due: String,
    pub state_label: &'static str,
    pub open: bool,
}

pub async fn link_view(
    conn: &mut Conn<'_>,
    settings: &Settings,
    task: Uuid,
) -> Result<Option<LinkView>, StoreError> {
    let Some(t) = store::get_task(conn, task).await? else {
        return Ok(None);
    };
    let Some(r) = store::get(conn, t.referral).await? else {
        return Ok(None);
    };
    Ok(Some(LinkView {
        referral: r.id,
        case_number: r.case_number.to_string(),
        asked: crate::ladder::asked(&t),
        due: settings.in_words(t.ack_due_at),
        state_label: t.state.label(),
        open: t.state == TaskState::Open,
    }))
}
