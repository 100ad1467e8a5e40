//! Review levels: entering a level (tasks, links, mails), deciding it, reminders, and handing
//! open tasks on when a reviewer leaves.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use jinguo_core::auth::Role;
use jinguo_core::nominations::{self as core, Event, Flow, Level, State};
use jinguo_core::notify::Urgency;
use jinguo_core::org::OrgCode;
use jinguo_store::nominations::{self as store, CampaignRow, NominationRow, Task, Transition};
use jinguo_store::{Conn, StoreError, orgs, people, staff};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{may, permit};
use crate::eligibility::{ELIGIBILITY, ask_case_officers, reveals_eligibility};
use crate::family::family_of;
use crate::outcome::tell_nominator;
use crate::publicity::schedule_publicity_end;
use crate::records::{campaign, link_for, locked, note, place_of};
use crate::refusal::{Refusal, illegal, invalid, reason_text};
use crate::rules::{DecideRule, NoReviewer, Rules};
use crate::settings::Links;
use crate::views::NO_REVIEWER;

/// The purpose of review links.
pub const REVIEW: &str = "review";

/// Whether `person` may look at and decide nomination `n` now: it is under review, they hold
/// an open task at its level, and they review at that task's unit (active, not moved away
/// since): the level's unit, or the one above for a task escalated past its deadline.
/// The review pages ask it before showing anything (the phone above all).
pub async fn may_review(
    conn: &mut Conn<'_>,
    person: Uuid,
    n: &NominationRow,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(level) = n.state.review_level() else {
        return Ok(false);
    };
    let task = store::tasks(conn, n.id, level.as_str())
        .await?
        .into_iter()
        .find(|t| t.reviewer == person && !t.closed);
    // The task's unit is the level's, or the one above it for a task escalated after the
    // deadline passed.
    match task {
        Some(t) => may(conn, person, "nomination.review", t.unit, now).await,
        None => Ok(false),
    }
}

/// The org unit that reviews a nomination at `level`.
pub fn unit_for(village: OrgCode, level: Level) -> OrgCode {
    village.at_level(level.org_level())
}

/// What a review link is about: `{nomination}:{level}` (the program owns the format).
pub(crate) fn link_subject(nomination: Uuid, level: Level) -> String {
    format!("{nomination}:{}", level.as_str())
}

/// The nomination a review link's subject names; `None` for a subject this program did not
/// write.
pub fn reviewed_nomination(subject: &str) -> Option<Uuid> {
    subject.split(':').next()?.parse().ok()
}

/// Opens a level: a task, a link and an email for each active reviewer of its unit. A unit
/// with no reviewer is never a silent stall: it is recorded in the history and the county
/// admins are told.
pub(crate) async fn enter_level(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    level: Level,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let village = n.village;
    let unit = unit_for(village, level);
    let reviewers = staff::holders_at(conn, Role::Reviewer, unit).await?;
    let rules: Option<Rules> = serde_json::from_str(&c.rules).ok();
    if reviewers.is_empty()
        && rules
            .as_ref()
            .is_some_and(|r| r.no_reviewer == NoReviewer::Skip)
    {
        // Configured to skip: the level passes without a decision, recorded as such.
        let flow = rules.as_ref().map_or(
            Flow {
                village_publicity: false,
            },
            Rules::flow,
        );
        let to = core::next(n.state, Event::Approved { level }, flow).map_err(illegal)?;
        let event = format!("{}_skipped", level.as_str());
        let t = Transition {
            from: n.state,
            to,
            event: &event,
            actor: "system",
            reason: Some(unit.as_str()),
        };
        store::transition(conn, n.id, t, now).await?;
        if let Some(r) = &rules {
            schedule_publicity_end(conn, n, to, r, links, now).await?;
        }
        tell_nominator(conn, n, c, to, None, links, now).await?;
        if let Some(next_level) = to.review_level() {
            let moved = NominationRow {
                state: to,
                ..n.clone()
            };
            Box::pin(enter_level(conn, &moved, c, next_level, links, now)).await?;
        }
        return Ok(());
    }
    if reviewers.is_empty() {
        return flag_no_reviewer(conn, n, c, level, unit, links, now).await;
    }
    open_level(conn, n, c, level, unit, &reviewers, links, now).await
}

/// A level opened for `reviewers` at `unit`: its deadline (with a reminder timer the day before)
/// and each reviewer's task, link and mail.
#[allow(clippy::too_many_arguments)]
async fn open_level(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    level: Level,
    unit: OrgCode,
    reviewers: &[Uuid],
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let rules: Option<Rules> = serde_json::from_str(&c.rules).ok();
    let due = rules
        .as_ref()
        .and_then(|r| r.deadlines.of(level))
        .and_then(|d| links.due(d, unit, now));
    if let Some(due) = due {
        // A reminder a day before the deadline (or at once when it is closer than that).
        let at = (due - Duration::days(1)).max(now);
        let reminder = crate::jobs::ReviewReminder {
            nomination: n.id,
            level,
            due,
        };
        let message = jinguo_bus::Job::envelope(&reminder, now);
        // Per due time, like the deadline's: a level opened again has its own.
        let key = format!(
            "review-reminder:{}:{}:{}",
            n.id,
            level.as_str(),
            due.timestamp()
        );
        jinguo_store::timers::schedule(conn, &key, at, None, &message, now).await?;
        crate::deadline::schedule(conn, n.id, level, due, now).await?;
    }
    ask_reviewers(conn, n, c, level, unit, reviewers, due, links, now).await
}

/// The states a nomination stalled at `level` can be in: village review includes the
/// eligibility hold, which stalls exactly like it.
fn stall_states(level: Level) -> &'static [State] {
    match level {
        Level::Village => &[State::VillageReview, State::EligibilityReview],
        Level::Township => &[State::TownshipReview],
        Level::County => &[State::CountyReview],
    }
}

/// The history event of a stalled level that moves again.
pub(crate) const REVIEWER_APPOINTED: &str = "reviewer_appointed";

/// Levels stalled for want of a reviewer move again once `person` may review there: for each
/// unit where `person` is now an active reviewer, every nomination stalled at that unit's level
/// is recorded as moving on (`reviewer_appointed`) and gets a task, link and mail for each of
/// the unit's active reviewers. A nomination held for eligibility is recorded the same way, so
/// it stops showing as stalled like the others, and gets its tasks when it is let through.
/// Runs when a person is appointed, given a role, or enabled again; returns how many moved.
pub async fn resume_stalled(
    conn: &mut Conn<'_>,
    person: Uuid,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let Some(principal) = staff::principal(conn, person, now).await? else {
        return Ok(0);
    };
    if !principal.active {
        return Ok(0);
    }
    let mut resumed = 0;
    for a in principal
        .assignments
        .iter()
        .filter(|a| a.role == Role::Reviewer)
    {
        let (unit, Some(level)) = (a.org, Level::reviewed_by(a.org.level())) else {
            continue;
        };
        if level == Level::County {
            resumed += crate::objection::resume_investigations(conn, unit, links, now).await?;
        }
        // Serialised with the stalls at this unit (see `flag_no_reviewer`).
        orgs::lock(conn, unit).await?;
        let reviewers = staff::holders_at(conn, Role::Reviewer, unit).await?;
        // Stalled nominations of one unit mostly share a campaign: read each once.
        let mut campaigns: HashMap<Uuid, CampaignRow> = HashMap::new();
        for stalled in store::stalled_within(conn, &unit, stall_states(level)).await? {
            let n = locked(conn, stalled.id).await?;
            if !stall_states(level).contains(&n.state) {
                continue;
            }
            note(conn, &n, REVIEWER_APPOINTED, unit.as_str(), now).await?;
            if n.state != State::EligibilityReview {
                let c = match campaigns.get(&n.campaign_id) {
                    Some(c) => c.clone(),
                    None => campaign(conn, n.campaign_id).await?.0,
                };
                open_level(conn, &n, &c, level, unit, &reviewers, links, now).await?;
                campaigns.insert(n.campaign_id, c);
            }
            resumed += 1;
        }
    }
    if resumed > 0 {
        tracing::info!(%person, resumed, "stalled levels moved on with a new reviewer");
    }
    Ok(resumed)
}

/// A level whose unit has no active reviewer is never a silent stall: it is recorded in the
/// history (the county's list shows it as stalled) and, when it is the first to stall at that
/// unit, the county's admins are told to appoint a reviewer — once per unit, not once per
/// nomination (the others waiting there are in the dashboard's stalled list).
pub(crate) async fn flag_no_reviewer(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    level: Level,
    unit: OrgCode,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let family = family_of(n);
    note(conn, n, NO_REVIEWER, unit.as_str(), now).await?;
    tracing::warn!(nomination = %n.id, %unit, level = level.as_str(), "no active reviewer for this level");
    // Two stalls at one unit at once must not both think they are the first.
    orgs::lock(conn, unit).await?;
    // The count includes this nomination, noted above.
    if store::count_stalled_within(conn, &unit, stall_states(level)).await? > 1 {
        return Ok(());
    }
    let village = n.village;
    let county = unit_for(village, Level::County);
    let unit_name = orgs::get(conn, unit)
        .await?
        .map(|u| u.name)
        .unwrap_or_else(|| unit.to_string());
    for admin in staff::holders_above(conn, Role::Admin, county).await? {
        let name = people::display_name(conn, admin).await?;
        let notice = jinguo_mail::NoReviewerNotice {
            recipient: name,
            campaign: c.name.clone(),
            family: family.head_name.clone(),
            level: level.label().to_owned(),
            unit: unit_name.clone(),
            link: format!("{}/admin/staff?org={county}&unit={unit}", links.public_url),
        };
        jinguo_mail::notify(conn, admin, &notice, Urgency::Normal, now).await?;
    }
    Ok(())
}

/// Each reviewer's task at a level: the task row, an action link and the review mail. What the
/// mails share (the family, the township's and the village's names) is read once for all.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn ask_reviewers(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    level: Level,
    unit: OrgCode,
    reviewers: &[Uuid],
    due: Option<DateTime<Utc>>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if reviewers.is_empty() {
        return Ok(());
    }
    let family = family_of(n);
    let village = place_of(conn, n.village).await?;
    for &reviewer in reviewers {
        let task = Task {
            id: Uuid::new_v4(),
            nomination_id: n.id,
            level,
            unit,
            reviewer,
            closed: false,
            due_at: due,
        };
        store::insert_task(conn, &task, now).await?;
        let subject = link_subject(n.id, level);
        let (person, link) = link_for(conn, REVIEW, &subject, reviewer, links, now).await?;
        let mail = jinguo_mail::ReviewRequest {
            recipient: person.display_name.clone(),
            campaign: c.name.clone(),
            family: family.head_name.clone(),
            village: village.clone(),
            category: n.category.clone(),
            level: level.label().to_owned(),
            link,
            due: due.map(|d| links.in_words(d)).unwrap_or_default(),
        };
        jinguo_mail::notify_person(conn, &person, &mail, Urgency::Normal, now).await?;
    }
    Ok(())
}

/// Open work passes on from a person who may no longer do it (disabled, or moved to another
/// role): each review task they can no longer decide closes as `reassigned` (their link is
/// superseded), and every other active reviewer of the task's unit who has no open task there
/// gets one (task, link, mail); a level left with nobody is flagged as without a reviewer, as
/// when it opened. Held nominations whose case officer they were are offered to the county's
/// other case officers.
pub async fn hand_over(
    conn: &mut Conn<'_>,
    person: Uuid,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let open = store::open_tasks_for(conn, person).await?;
    let mut handed = 0;
    for (task, _, _) in open {
        let unit = task.unit;
        if may(conn, person, "nomination.review", unit, now).await? {
            continue;
        }
        store::close_task(conn, task.id, "reassigned", now).await?;
        let Some(n) = store::lock(conn, task.nomination_id).await? else {
            continue;
        };
        let level = task.level;
        jinguo_store::links::supersede_for(
            conn,
            REVIEW,
            &link_subject(n.id, level),
            person,
            "转交其他审核员",
            now,
        )
        .await?;
        if n.state.review_level() != Some(level) {
            continue;
        }
        let (c, _) = campaign(conn, n.campaign_id).await?;
        let still_open: Vec<Uuid> = store::tasks(conn, n.id, level.as_str())
            .await?
            .into_iter()
            .filter(|t| !t.closed)
            .map(|t| t.reviewer)
            .collect();
        let newcomers: Vec<Uuid> = staff::holders_at(conn, Role::Reviewer, unit)
            .await?
            .into_iter()
            .filter(|r| *r != person && !still_open.contains(r))
            .collect();
        note(conn, &n, "reassigned", &person.to_string(), now).await?;
        if still_open.is_empty() && newcomers.is_empty() {
            flag_no_reviewer(conn, &n, &c, level, unit, links, now).await?;
            continue;
        }
        ask_reviewers(
            conn,
            &n,
            &c,
            level,
            unit,
            &newcomers,
            task.due_at,
            links,
            now,
        )
        .await?;
        handed += 1;
    }
    for subject in jinguo_store::links::subjects_of(conn, ELIGIBILITY, person).await? {
        let Ok(id) = subject.parse::<Uuid>() else {
            continue;
        };
        let Some(n) = store::lock(conn, id).await? else {
            continue;
        };
        let village = n.village;
        if n.state != State::EligibilityReview
            || reveals_eligibility(conn, person, village, now).await?
        {
            continue;
        }
        jinguo_store::links::supersede_for(
            conn,
            ELIGIBILITY,
            &subject,
            person,
            "转交其他个案专员",
            now,
        )
        .await?;
        let (c, _) = campaign(conn, n.campaign_id).await?;
        ask_case_officers(conn, &n, &c, links, now).await?;
        handed += 1;
    }
    Ok(handed)
}

/// A county admin hands open review task `task` to a named reviewer (the staff page's picker
/// and the API go through here): `by` manages staff over the task's unit; `to` is an active
/// reviewer there with no open task at that level. The old task closes as `reassigned`, its
/// link says so (转交给…), and `to` gets a task, link and mail with the same deadline.
pub async fn reassign_task(
    conn: &mut Conn<'_>,
    task: Uuid,
    by: Uuid,
    to: Uuid,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let t = store::get_task(conn, task)
        .await?
        .ok_or_else(|| Refusal::NotFound("没有这项审核任务".into()))?;
    let n = locked(conn, t.nomination_id).await?;
    // County admins (and above): not a village's or a township's own admins.
    permit(
        conn,
        by,
        "staff.manage",
        unit_for(n.village, Level::County),
        now,
    )
    .await?;
    if t.closed || n.state.review_level() != Some(t.level) {
        return Err(Refusal::Conflict("这项审核已经处理过，无需转交".into()));
    }
    if !staff::holders_at(conn, Role::Reviewer, t.unit)
        .await?
        .contains(&to)
    {
        return Err(invalid("reviewer", "请选择本单位在岗的审核员"));
    }
    let holds_one = store::tasks(conn, n.id, t.level.as_str())
        .await?
        .iter()
        .any(|o| !o.closed && o.reviewer == to);
    if holds_one {
        return Err(invalid("reviewer", "这位审核员已有这份推荐的审核任务"));
    }
    store::close_task(conn, t.id, "reassigned", now).await?;
    let name = people::display_name(conn, to).await?;
    jinguo_store::links::supersede_for(
        conn,
        REVIEW,
        &link_subject(n.id, t.level),
        t.reviewer,
        &format!("转交给{name}"),
        now,
    )
    .await?;
    let actor = by.to_string();
    let reason = format!("转交给{name}");
    let step = Transition {
        from: n.state,
        to: n.state,
        event: "reassigned_by_admin",
        actor: &actor,
        reason: Some(&reason),
    };
    store::transition(conn, n.id, step, now).await?;
    let (c, _) = campaign(conn, n.campaign_id).await?;
    ask_reviewers(conn, &n, &c, t.level, t.unit, &[to], t.due_at, links, now).await
}

/// Decides review task `task` for `reviewer` (the API and the task page): refused unless it is
/// theirs; then exactly [`decide`].
#[allow(clippy::too_many_arguments)]
pub async fn decide_task(
    conn: &mut Conn<'_>,
    task: Uuid,
    reviewer: Uuid,
    decision: Decision,
    reason: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let t = store::get_task(conn, task)
        .await?
        .ok_or_else(|| Refusal::NotFound("没有这项审核任务".into()))?;
    if t.reviewer != reviewer {
        return Err(Refusal::Conflict("这项审核任务属于另一位审核员".into()));
    }
    decide(
        conn,
        t.nomination_id,
        reviewer,
        decision,
        reason,
        links,
        now,
    )
    .await
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
    Return,
}

/// Decides a level for `reviewer`: refused when the level is no longer open (another reviewer
/// decided: the caller sees who), when the quota is used up, or when a reason is missing.
/// The first decision completes the level and supersedes the other reviewers' links.
pub async fn decide(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    reviewer: Uuid,
    decision: Decision,
    reason: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    let Some(level) = n.state.review_level() else {
        return Err(Refusal::Conflict("该推荐现在不在审核中".into()));
    };
    let village = n.village;
    let unit = unit_for(village, level);
    let reason = reason_text(reason)?;
    let reason = reason.as_deref();
    if decision != Decision::Approve && reason.is_none() {
        return Err(invalid("reason", "退回或不通过时请填写理由"));
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let task = open_task(conn, nomination, level, reviewer).await?;
    // A task of the unit above, made when the level's deadline passed and the campaign
    // escalates: its reviewer decides on behalf of the level.
    let on_behalf = task.unit != unit;
    if on_behalf && level.above().map(|up| unit_for(village, up)) != Some(task.unit) {
        return Err(Refusal::Forbidden("nomination.review"));
    }
    // Whatever the entry point (link, page, API): only an active person who reviews at the
    // task's unit now decides — not one disabled or moved to another role since it was made.
    permit(conn, reviewer, "nomination.review", task.unit, now).await?;
    let task = task.id;
    if on_behalf {
        let actor = reviewer.to_string();
        let t = Transition {
            from: n.state,
            to: n.state,
            event: crate::deadline::ON_BEHALF,
            actor: &actor,
            reason: None,
        };
        store::transition(conn, nomination, t, now).await?;
    }
    if rules.decide == DecideRule::All && decision == Decision::Approve && !on_behalf {
        let others_open = store::tasks(conn, nomination, level.as_str())
            .await?
            .iter()
            .any(|t| !t.closed && t.id != task && t.unit == unit);
        if others_open {
            // One approval of several needed: recorded, the level stays open.
            let event = format!("{}_approval", level.as_str());
            let actor = reviewer.to_string();
            let t = Transition {
                from: n.state,
                to: n.state,
                event: &event,
                actor: &actor,
                reason,
            };
            store::transition(conn, nomination, t, now).await?;
            store::close_task(conn, task, "approve", now).await?;
            return Ok(n.state);
        }
    }
    if decision == Decision::Approve {
        // Serialise approvals of one unit: the quota holds under concurrency.
        orgs::lock(conn, unit).await?;
        let quota = rules.quotas.of(level);
        let used =
            store::forwarded_count(conn, n.campaign_id, level.as_str(), unit.as_str()).await?;
        if !core::within_quota(used as u32, quota) {
            return Err(Refusal::QuotaFull {
                level: level.as_str(),
                quota,
            });
        }
    }
    let event = match decision {
        Decision::Approve => Event::Approved { level },
        Decision::Reject => Event::Rejected { level },
        Decision::Return => Event::Returned { level },
    };
    let to = core::next(n.state, event, rules.flow()).map_err(illegal)?;
    let actor = reviewer.to_string();
    let name = people::display_name(conn, reviewer).await?;
    let event_name = format!(
        "{}_{}",
        level.as_str(),
        serde_json::to_value(decision)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    );
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: &event_name,
            actor: &actor,
            reason,
        },
        now,
    )
    .await?;
    store::close_tasks(conn, nomination, level.as_str(), task, &event_name, now).await?;
    jinguo_auth::links::supersede(conn, REVIEW, &link_subject(nomination, level), &name, now)
        .await?;
    if decision == Decision::Approve {
        store::record_forwarded(
            conn,
            n.campaign_id,
            level.as_str(),
            unit.as_str(),
            nomination,
        )
        .await?;
    }
    schedule_publicity_end(conn, &n, to, &rules, links, now).await?;
    tell_nominator(conn, &n, &c, to, reason, links, now).await?;
    if let Some(next_level) = to.review_level() {
        let moved = NominationRow { state: to, ..n };
        enter_level(conn, &moved, &c, next_level, links, now).await?;
    }
    Ok(to)
}

/// The message that reminds a level's reviewers before its deadline.
pub const REVIEW_REMINDER: &str = "nomination.review_reminder";

/// Reminds the reviewers with open tasks at a level that is still under review.
pub async fn remind(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    level: Level,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let Some(n) = store::get(conn, nomination).await? else {
        return Ok(0);
    };
    if n.state.review_level() != Some(level) {
        return Ok(0);
    }
    let family = family_of(&n);
    let mut sent = 0;
    for task in store::tasks(conn, nomination, level.as_str())
        .await?
        .into_iter()
        .filter(|t| !t.closed)
    {
        let Some(due) = task.due_at else { continue };
        let name = people::display_name(conn, task.reviewer).await?;
        let reminder = jinguo_mail::DeadlineReminder {
            recipient: name,
            task: format!(
                "{}家庭的{}推荐（{}审核）",
                family.head_name,
                n.category,
                level.label()
            ),
            due: links.in_words(due),
            link: format!("{}/tasks/{}", links.public_url, task.id),
        };
        jinguo_mail::notify(conn, task.reviewer, &reminder, Urgency::Normal, now).await?;
        sent += 1;
    }
    Ok(sent)
}

pub(crate) async fn open_task(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    level: Level,
    reviewer: Uuid,
) -> Result<Task, Refusal> {
    let tasks = store::tasks(conn, nomination, level.as_str()).await?;
    tasks
        .into_iter()
        .find(|t| t.reviewer == reviewer && !t.closed)
        .ok_or_else(|| Refusal::Conflict("这项审核已经处理过，或不属于您".into()))
}
