//! Tasks: taking the case (intake) and each agency's part (police 告诫书, court 保护令,
//! civil affairs 庇护, …): opened with their deadlines and ladders, acknowledged (which stops
//! the climbing), started, completed or declined with a reason. Some tasks drive legal clocks.

use chrono::{DateTime, NaiveDate, Utc};
use jinguo_bus::Job;
use jinguo_core::auth::{Agency, Role};
use jinguo_core::org::OrgLevel;
use jinguo_core::referrals::{self as core, Event, Facts, TaskEvent, TaskState};
use jinguo_store::referrals::{self as store, ReferralRow, TaskKind, TaskRow};
use jinguo_store::{Conn, staff, timers};
use serde::Deserialize;
use uuid::Uuid;

use crate::access::grant;
use crate::clocks;
use crate::details::note;
use crate::jobs::ActDue;
use crate::ladder::{self, level_of};
use crate::records::record;
use crate::refusal::{Refusal, invalid};
use crate::settings::Settings;

/// The permission that acknowledges, completes and declines tasks.
pub const ACKNOWLEDGE: &str = "referral.acknowledge";

/// Opens the task of taking the case: the county's ladder starts at once.
pub(crate) async fn open_intake(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    now: DateTime<Utc>,
) -> Result<TaskRow, Refusal> {
    open(conn, settings, r, TaskKind::Intake, now).await
}

/// Opens an agency's task: its liaisons get access and the agency ladder starts; a court task
/// starts the protection-order decision clock (24 h when `urgent`).
pub(crate) async fn open_agency(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    agency: Agency,
    urgent: bool,
    now: DateTime<Utc>,
) -> Result<TaskRow, Refusal> {
    let task = open(conn, settings, r, TaskKind::Agency(agency), now).await?;
    if agency == Agency::Court {
        let c = &settings.policy.clocks;
        let within = if urgent {
            c.protection_order_decision_urgent
        } else {
            c.protection_order_decision
        };
        let due = now + chrono::Duration::from_std(within).unwrap_or(chrono::Duration::hours(72));
        clocks::start(
            conn,
            settings,
            r,
            clocks::PROTECTION_ORDER_DECISION,
            due,
            now,
        )
        .await?;
    }
    Ok(task)
}

async fn open(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    kind: TaskKind,
    now: DateTime<Utc>,
) -> Result<TaskRow, Refusal> {
    let policy = settings.policy.level(level_of(r));
    let county = r.village.at_level(OrgLevel::County);
    let mut task = TaskRow {
        id: Uuid::new_v4(),
        referral: r.id,
        kind,
        owner_unit: county,
        state: TaskState::Open,
        opened_at: now,
        ack_due_at: settings.after(policy.clock, now, policy.acknowledge, county),
        act_due_at: match kind {
            TaskKind::Intake => None,
            TaskKind::Agency(_) => Some(settings.after(policy.clock, now, policy.act, county)),
        },
        acknowledged_at: None,
        acknowledged_by: None,
        settled_at: None,
        escalations: 0,
    };
    store::insert_task(conn, &task).await?;
    record(
        conn,
        settings,
        r,
        Some(task.id),
        None,
        "task_opened",
        serde_json::json!({ "task": task.id, "agency": agency_of(&task) }),
        None,
        now,
    )
    .await?;
    if let Some(due) = task.act_due_at {
        let message = ActDue { task: task.id }.envelope(now);
        timers::schedule(conn, &act_timer(task.id), due, None, &message, now).await?;
    }
    ladder::notify_step(conn, settings, r, &mut task, 0, now).await?;
    Ok(task)
}

fn act_timer(task: Uuid) -> String {
    format!("referral.act_due:{task}")
}

/// An agency task's time to act ran out with the task still open: recorded, and the case's
/// officer (the county's case officers when nobody is assigned) is told.
pub async fn act_due(
    conn: &mut Conn<'_>,
    settings: &Settings,
    task: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let Some(t) = store::lock_task(conn, task).await? else {
        return Err(Refusal::NotFound("没有这项任务"));
    };
    if !t.state.is_open() {
        return Ok(());
    }
    let r = store::get(conn, t.referral)
        .await?
        .ok_or(Refusal::NotFound("没有这个案件"))?;
    record(
        conn,
        settings,
        &r,
        Some(t.id),
        None,
        "task_overdue",
        serde_json::json!({ "task": t.id, "agency": agency_of(&t) }),
        None,
        now,
    )
    .await?;
    let asked = format!("{}——已超过办理期限", ladder::asked(&t));
    let due = t.act_due_at.unwrap_or(now);
    clocks::tell_officers(conn, settings, &r, &asked, due, now).await
}

fn agency_of(task: &TaskRow) -> Option<&'static str> {
    match task.kind {
        TaskKind::Intake => None,
        TaskKind::Agency(a) => Some(a.as_str()),
    }
}

/// What completing a task may carry.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Completion {
    /// What was done (sealed on the timeline).
    #[serde(default)]
    pub note: Option<String>,
    /// A court task: the protection order was issued and runs until this date (at most six
    /// months); its expiry clock starts.
    #[serde(default)]
    pub order_expires_on: Option<NaiveDate>,
}

/// What a person does to a task.
#[derive(Debug, Clone)]
pub enum TaskStep {
    Acknowledge,
    Start,
    Complete(Completion),
    Decline { reason: Option<String> },
}

/// A person acts on a task of case `referral`: the one entry for API, page and emailed link.
/// They must be allowed to on the case (a reader with the acknowledge permission: someone a
/// ladder step reached, a liaison with the task, the assigned officer).
pub async fn act(
    conn: &mut Conn<'_>,
    settings: &Settings,
    person: Uuid,
    referral: Uuid,
    task: Uuid,
    step: TaskStep,
    now: DateTime<Utc>,
) -> Result<TaskRow, Refusal> {
    let mut r = crate::records::locked(conn, referral).await?;
    let mut t = store::lock_task(conn, task)
        .await?
        .filter(|t| t.referral == referral)
        .ok_or(Refusal::NotFound("没有这项任务"))?;
    if !may_act_on(conn, person, &r, &t, now).await? {
        return Err(Refusal::Forbidden(ACKNOWLEDGE));
    }
    let (event, kind, text) = match &step {
        TaskStep::Acknowledge => (TaskEvent::Acknowledge, "task_acknowledged", None),
        TaskStep::Start => (TaskEvent::Start, "task_started", None),
        TaskStep::Complete(c) => (
            TaskEvent::Complete,
            "task_done",
            note("note", c.note.as_deref(), false)?,
        ),
        TaskStep::Decline { reason } => (
            TaskEvent::Decline,
            "task_declined",
            note("reason", reason.as_deref(), true)?,
        ),
    };
    let was = t.state;
    t.state = core::next_task(t.state, event)?;
    if was == TaskState::Open {
        t.acknowledged_at = Some(now);
        t.acknowledged_by = Some(person);
        ladder::stop(conn, &t).await?;
        // Everyone else the ladder reached holds a link to the same task: theirs now say who
        // took it, instead of refusing a second acknowledgement.
        let who = jinguo_store::people::display_name(conn, person).await?;
        jinguo_auth::links::supersede(conn, ladder::ACKNOWLEDGE, &t.id.to_string(), &who, now)
            .await?;
    }
    if !t.state.is_open() {
        t.settled_at = Some(now);
        timers::cancel(conn, &act_timer(t.id)).await?;
    }
    store::update_task(conn, &t).await?;
    record(
        conn,
        settings,
        &r,
        Some(t.id),
        Some(person),
        kind,
        serde_json::json!({ "task": t.id, "agency": agency_of(&t), "state": t.state.as_str() }),
        text.as_deref(),
        now,
    )
    .await?;
    if t.kind == TaskKind::Intake && was == TaskState::Open {
        take(conn, settings, &mut r, person, now).await?;
    }
    legal_clocks(conn, settings, &r, &t, was, &step, now).await?;
    if !t.state.is_open() {
        settle_case(conn, settings, &mut r, now).await?;
    }
    Ok(t)
}

/// Whether `person` may act on task `t` of case `r`: a reader with the acknowledge permission
/// on the case, and for an agency's task one of its liaisons or someone else the ladder
/// reached. The one rule `act` and the case page ask.
pub(crate) async fn may_act_on(
    conn: &mut Conn<'_>,
    person: Uuid,
    r: &ReferralRow,
    t: &TaskRow,
    now: DateTime<Utc>,
) -> Result<bool, jinguo_store::StoreError> {
    if !crate::access::may_on_case(conn, person, ACKNOWLEDGE, r, now).await? {
        return Ok(false);
    }
    match t.kind {
        TaskKind::Intake => Ok(true),
        TaskKind::Agency(agency) => may_act_for(conn, person, r, agency, now).await,
    }
}

/// A liaison acts for their own agency only; anyone else the ladder reached (a supervisor)
/// may act on behalf of it.
async fn may_act_for(
    conn: &mut Conn<'_>,
    person: Uuid,
    r: &ReferralRow,
    agency: Agency,
    now: DateTime<Utc>,
) -> Result<bool, jinguo_store::StoreError> {
    let Some(who) = staff::principal(conn, person, now).await? else {
        return Ok(false);
    };
    let liaison_of = |a: &jinguo_core::auth::Assignment| {
        a.role == Role::AgencyLiaison && r.village.is_within(&a.org)
    };
    let liaisons: Vec<_> = who.assignments.iter().filter(|a| liaison_of(a)).collect();
    let others = who.assignments.iter().any(|a| !liaison_of(a));
    Ok(others || liaisons.iter().any(|a| a.agency == Some(agency)))
}

/// Taking the case: a case officer who acknowledges becomes its officer.
async fn take(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &mut ReferralRow,
    person: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let is_officer = staff::principal(conn, person, now)
        .await?
        .is_some_and(|p| p.assignments.iter().any(|a| a.role == Role::CaseOfficer));
    if is_officer && r.assigned_officer != Some(person) {
        r.assigned_officer = Some(person);
        r.updated_at = now;
        store::update(conn, r).await?;
        grant(conn, r, person, "assigned", now).await?;
        record(
            conn,
            settings,
            r,
            None,
            Some(person),
            "assigned",
            serde_json::json!({ "officer": person }),
            None,
            now,
        )
        .await?;
    }
    Ok(())
}

/// The legal clocks a task step starts or meets.
async fn legal_clocks(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    t: &TaskRow,
    was: TaskState,
    step: &TaskStep,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let TaskKind::Agency(agency) = t.kind else {
        return Ok(());
    };
    let c = &settings.policy.clocks;
    let after = |d: std::time::Duration| {
        now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1))
    };
    match (agency, step) {
        (Agency::CivilAffairs, _) if was == TaskState::Open => {
            clocks::start(
                conn,
                settings,
                r,
                clocks::SHELTER_STAY,
                after(c.shelter_stay),
                now,
            )
            .await?;
        }
        (Agency::Court, TaskStep::Complete(done)) => {
            clocks::meet(conn, settings, r, clocks::PROTECTION_ORDER_DECISION, now).await?;
            if let Some(until) = done.order_expires_on {
                let today = now.with_timezone(&settings.time_zone).date_naive();
                if until <= today || until > today + chrono::Months::new(6) {
                    return Err(invalid(
                        "order_expires_on",
                        "保护令有效期应在今天之后、六个月以内",
                    ));
                }
                let expires = until
                    .and_hms_opt(0, 0, 0)
                    .and_then(|t| t.and_local_timezone(settings.time_zone).earliest())
                    .map_or(now, |t| t.with_timezone(&Utc));
                let notice = chrono::Duration::from_std(c.protection_order_extension_notice)
                    .unwrap_or(chrono::Duration::days(14));
                let id = clocks::start(
                    conn,
                    settings,
                    r,
                    clocks::PROTECTION_ORDER_EXPIRY,
                    expires,
                    now,
                )
                .await?;
                // The reminder to apply for an extension comes `notice` before the end.
                let warn_at = (expires - notice).max(now);
                jinguo_store::timers::reschedule(
                    conn,
                    &format!("referral.clock:{id}:warn"),
                    warn_at,
                )
                .await?;
            }
        }
        (Agency::Court, TaskStep::Decline { .. }) => {
            clocks::meet(conn, settings, r, clocks::PROTECTION_ORDER_DECISION, now).await?;
        }
        (Agency::Police, TaskStep::Complete(_)) => {
            for visit in &c.warning_letter_visits {
                clocks::start(
                    conn,
                    settings,
                    r,
                    clocks::FOLLOW_UP_VISIT,
                    after(*visit),
                    now,
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// When the last agency task of an active case settles, the case moves to follow-ups.
async fn settle_case(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &mut ReferralRow,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if r.state != core::State::Active {
        return Ok(());
    }
    let open_tasks = store::tasks(conn, r.id)
        .await?
        .iter()
        .filter(|t| matches!(t.kind, TaskKind::Agency(_)) && t.state.is_open())
        .count();
    if open_tasks > 0 {
        return Ok(());
    }
    r.state = core::next(r.state, Event::Monitor, Facts { open_tasks })?;
    r.updated_at = now;
    store::update(conn, r).await?;
    record(
        conn,
        settings,
        r,
        None,
        None,
        "monitoring",
        serde_json::json!({ "state": r.state.as_str() }),
        None,
        now,
    )
    .await?;
    Ok(())
}
