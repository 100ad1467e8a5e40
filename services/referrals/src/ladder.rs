//! The escalation ladder: who is told that something waits on a case, and who next when nobody
//! acknowledges in time. Step 0 is told when the task opens (at once, whatever the level); each
//! further step when the previous one's time ran out; the top step again at the `repeat`
//! interval until someone acknowledges. Each step's people are granted read access (recorded)
//! and mailed the case number and a link, nothing else. A step fires once: its timer has its
//! own key, and a step that no longer matches the task's count is a stale message.

use chrono::{DateTime, Utc};
use jinguo_bus::Job;
use jinguo_core::auth::Role;
use jinguo_core::notify::Urgency;
use jinguo_core::org::OrgLevel;
use jinguo_core::referrals::{RiskLevel, Rung, TaskState, agency_task_label, rung_at};
use jinguo_mail::ReferralNotice;
use jinguo_store::referrals::{self as store, ReferralRow, TaskKind, TaskRow};
use jinguo_store::{Conn, StoreError, people, staff, timers};
use uuid::Uuid;

use crate::access::grant;
use crate::jobs::Escalate;
use crate::records::record;
use crate::refusal::Refusal;
use crate::rules::LevelPolicy;
use crate::settings::Settings;

/// The purpose of acknowledgement links (subject: the task id).
pub const ACKNOWLEDGE: &str = "referral.acknowledge";

/// The level whose deadlines a case runs on: its graded risk, `medium` until graded.
pub(crate) fn level_of(r: &ReferralRow) -> RiskLevel {
    r.risk.unwrap_or(RiskLevel::Medium)
}

fn ladder<'p>(policy: &'p LevelPolicy, task: &TaskRow) -> &'p [Rung] {
    match task.kind {
        TaskKind::Intake => &policy.ladder,
        TaskKind::Agency(_) => &policy.agency_ladder,
    }
}

/// What a task asks, in words for the mail and the link page.
pub fn asked(task: &TaskRow) -> String {
    match task.kind {
        TaskKind::Intake => "签收案件并联系当事人".to_owned(),
        TaskKind::Agency(a) => format!("签收联动任务（{}）", agency_task_label(a)),
    }
}

/// The people a rung reaches for `task` of case `r` now: the county's officers on duty (all
/// its case officers when nobody is), or the active holders of the role at the rung's unit —
/// for liaisons only those of the task's agency.
async fn reached(
    conn: &mut Conn<'_>,
    r: &ReferralRow,
    task: &TaskRow,
    rung: Rung,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let unit = rung.unit(r.village);
    if rung.on_duty {
        let on_duty = staff::on_duty(conn, r.village.at_level(OrgLevel::County), now).await?;
        if !on_duty.is_empty() {
            return Ok(on_duty);
        }
    }
    let holders = staff::holders_at(conn, rung.role, unit).await?;
    let TaskKind::Agency(agency) = task.kind else {
        return Ok(holders);
    };
    if rung.role != Role::AgencyLiaison {
        return Ok(holders);
    }
    let mut out = Vec::new();
    for p in holders {
        let of_agency = staff::principal(conn, p, now).await?.is_some_and(|who| {
            who.assignments
                .iter()
                .any(|a| a.role == Role::AgencyLiaison && a.org == unit && a.agency == Some(agency))
        });
        if of_agency {
            out.push(p);
        }
    }
    Ok(out)
}

/// Notifies step `step` of the task's ladder (0 when it opens) and sets the timer of the next.
pub(crate) async fn notify_step(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    task: &mut TaskRow,
    step: usize,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let policy = settings.policy.level(level_of(r));
    let rungs = ladder(policy, task);
    let Some((index, repeat)) = rung_at(rungs.len(), step) else {
        return Ok(());
    };
    let rung = rungs[index];
    let people = reached(conn, r, task, rung, now).await?;
    let mut asked = asked(task);
    if step > 0 {
        asked = format!("{asked}——已超过签收期限，请督办");
    }
    for person in &people {
        grant(conn, r, *person, "ladder", now).await?;
        let Some(to) = people::get(conn, *person).await? else {
            continue;
        };
        let secret = jinguo_auth::links::issue(
            conn,
            ACKNOWLEDGE,
            &task.id.to_string(),
            *person,
            settings.link_valid_for,
            now,
        )
        .await?;
        let notice = ReferralNotice {
            recipient: to.display_name.clone(),
            case_number: r.case_number.to_string(),
            asked: asked.clone(),
            due: settings.in_words(task.ack_due_at),
            urgent: policy.urgent,
            link: format!("{}/link/{}", settings.public_url, secret.expose()),
        };
        let urgency = if policy.urgent {
            Urgency::Urgent
        } else {
            Urgency::Normal
        };
        jinguo_mail::notify(conn, *person, &notice, urgency, now).await?;
    }
    record(
        conn,
        settings,
        r,
        Some(task.id),
        None,
        "escalated",
        serde_json::json!({
            "step": step,
            "rung": format!("{}@{}", rung.role, rung.level.as_str()),
            "repeat": repeat,
            "people": people.len(),
        }),
        None,
        now,
    )
    .await?;
    task.escalations = i32::try_from(step + 1).unwrap_or(i32::MAX);
    store::update_task(conn, task).await?;
    // The next step: when the acknowledgement is due for the first, then every `step`, the top
    // one every `repeat`.
    let next_at = if step == 0 {
        task.ack_due_at
    } else {
        let wait = if index + 1 < rungs.len() {
            policy.step
        } else {
            policy.repeat
        };
        settings.after(policy.clock, now, wait, r.county)
    };
    let next = Escalate {
        task: task.id,
        step: step + 1,
    };
    timers::schedule(
        conn,
        &timer_key(task.id, step + 1),
        next_at,
        None,
        &next.envelope(now),
        now,
    )
    .await?;
    Ok(())
}

fn timer_key(task: Uuid, step: usize) -> String {
    format!("referral.escalate:{task}:{step}")
}

/// A step's timer fired: tell the next rung unless the task was acknowledged (or settled) or
/// this step already happened.
pub async fn escalate(
    conn: &mut Conn<'_>,
    settings: &Settings,
    task: Uuid,
    step: usize,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let Some(mut t) = store::lock_task(conn, task).await? else {
        return Err(Refusal::NotFound("没有这项任务"));
    };
    if t.state != TaskState::Open || usize::try_from(t.escalations).ok() != Some(step) {
        return Ok(());
    }
    let Some(r) = store::get(conn, t.referral).await? else {
        return Err(Refusal::NotFound("没有这个案件"));
    };
    notify_step(conn, settings, &r, &mut t, step, now).await
}

/// The climbing stops: the pending step's timer is cancelled.
pub(crate) async fn stop(conn: &mut Conn<'_>, task: &TaskRow) -> Result<(), StoreError> {
    let next = usize::try_from(task.escalations).unwrap_or(0);
    timers::cancel(conn, &timer_key(task.id, next)).await?;
    Ok(())
}
