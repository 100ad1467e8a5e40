//! Deadlines that pass with a level still open, and 催办 by hand.
//!
//! Opening a level with a deadline sets a timer for it (in the same transaction). When it fires
//! and that opening's tasks are still open, the campaign's rule for the level decides:
//! `flag` (recorded; the dashboard shows it overdue), `return` (back to the nominator) or
//! `escalate` (the reviewers one level up get a task, a link and a 催办 mail, and may decide on
//! behalf of the level). A timer fires once across schedulers and its message is handled once
//! with its effects, so each opening escalates or returns at most once.

use chrono::{DateTime, Duration, Utc};
use jinguo_core::auth::Role;
use jinguo_core::nominations::{self as core, Event, Level, State};
use jinguo_core::notify::Urgency;
use jinguo_store::nominations::{self as store, NominationRow, Task, Transition};
use jinguo_store::{Conn, orgs, people, staff};
use uuid::Uuid;

use crate::access::permit;
use crate::family::family_of;
use crate::jobs::ReviewDeadline;
use crate::outcome::tell_nominator;
use crate::records::{campaign, link_for, locked, note, place_of};
use crate::refusal::{Refusal, illegal};
use crate::review::{REVIEW, link_subject, unit_for};
use crate::rules::DeadlineAction;
use crate::settings::Links;

/// The history event of a decision made by the level above on behalf of a late level.
pub(crate) const ON_BEHALF: &str = "decided_on_behalf";

/// The message of a passed deadline.
pub const REVIEW_DEADLINE: &str = "nomination.review_deadline";

/// Sets the timer of a level's deadline `due`. Keyed by the due time too, so that a level opened
/// again (returned and resubmitted) has its own timer beside an earlier one still pending.
pub(crate) async fn schedule(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    level: Level,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let message = jinguo_bus::Job::envelope(
        &ReviewDeadline {
            nomination,
            level,
            due,
        },
        now,
    );
    let key = format!(
        "review-deadline:{nomination}:{}:{}",
        level.as_str(),
        due.timestamp()
    );
    jinguo_store::timers::schedule(conn, &key, due, None, &message, now).await?;
    Ok(())
}

/// The deadline `due` of `level` passed (its timer fired). Nothing happens unless the level is
/// still open with the tasks of the opening that deadline was set for.
pub async fn deadline_passed(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    level: Level,
    due: DateTime<Utc>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    if n.state.review_level() != Some(level) {
        return Ok(n.state);
    }
    let open: Vec<Task> = store::tasks(conn, nomination, level.as_str())
        .await?
        .into_iter()
        .filter(|t| !t.closed)
        .collect();
    let this_opening = |t: &Task| {
        t.due_at
            .is_some_and(|d| (d - due).abs() < Duration::seconds(1))
    };
    if !open.iter().any(this_opening) {
        return Ok(n.state);
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    match rules.on_deadline.of(level) {
        DeadlineAction::Flag => {
            note(conn, &n, "deadline_passed", level.as_str(), now).await?;
            Ok(n.state)
        }
        DeadlineAction::Return => {
            let to =
                core::next(n.state, Event::Returned { level }, rules.flow()).map_err(illegal)?;
            let t = Transition {
                from: n.state,
                to,
                event: "deadline_returned",
                actor: "system",
                reason: Some(level.as_str()),
            };
            store::transition(conn, nomination, t, now).await?;
            for t in &open {
                store::close_task(conn, t.id, "deadline_returned", now).await?;
            }
            jinguo_auth::links::supersede(
                conn,
                REVIEW,
                &link_subject(nomination, level),
                "审核逾期，已退回推荐人",
                now,
            )
            .await?;
            let reason = format!("{}审核逾期未完成，按评选规则退回", level.label());
            tell_nominator(conn, &n, &c, to, Some(&reason), links, now).await?;
            Ok(to)
        }
        DeadlineAction::Escalate => {
            let Some(up) = level.above() else {
                note(conn, &n, "deadline_passed", level.as_str(), now).await?;
                return Ok(n.state);
            };
            let upper = unit_for(n.village, up);
            note(conn, &n, "escalated", upper.as_str(), now).await?;
            let reviewers: Vec<Uuid> = staff::holders_at(conn, Role::Reviewer, upper)
                .await?
                .into_iter()
                .filter(|r| !open.iter().any(|t| t.reviewer == *r))
                .collect();
            if reviewers.is_empty() {
                tracing::warn!(%nomination, %upper, "a late level has nobody above to escalate to");
            }
            ask_above(conn, &n, &c.name, level, upper, &reviewers, due, links, now).await?;
            Ok(n.state)
        }
    }
}

/// Each reviewer of the unit above: a task at the late level (of their own unit), a review link
/// and the 催办 mail.
#[allow(clippy::too_many_arguments)]
async fn ask_above(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    campaign: &str,
    level: Level,
    upper: jinguo_core::org::OrgCode,
    reviewers: &[Uuid],
    due: DateTime<Utc>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if reviewers.is_empty() {
        return Ok(());
    }
    let family = family_of(n);
    let village = place_of(conn, n.village).await?;
    let late_unit = unit_for(n.village, level);
    let unit = orgs::get(conn, late_unit)
        .await?
        .map_or_else(|| late_unit.to_string(), |u| u.name);
    for &reviewer in reviewers {
        let task = Task {
            id: Uuid::new_v4(),
            nomination_id: n.id,
            level,
            unit: upper,
            reviewer,
            closed: false,
            due_at: None,
        };
        store::insert_task(conn, &task, now).await?;
        let subject = link_subject(n.id, level);
        let (person, link) = link_for(conn, REVIEW, &subject, reviewer, links, now).await?;
        let mail = jinguo_mail::EscalationNotice {
            recipient: person.display_name.clone(),
            campaign: campaign.to_owned(),
            family: family.head_name.clone(),
            village: village.clone(),
            level: level.label().to_owned(),
            unit: unit.clone(),
            due: links.in_words(due),
            link,
        };
        jinguo_mail::notify_person(conn, &person, &mail, Urgency::Normal, now).await?;
    }
    Ok(())
}

/// Records a 催办 of `level` by `by` in the history.
async fn record_urge(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    by: Uuid,
    level: Level,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let actor = by.to_string();
    let t = Transition {
        from: n.state,
        to: n.state,
        event: URGED,
        actor: &actor,
        // The level in words: the timeline shows a person's reason as it is.
        reason: Some(level.label()),
    };
    store::transition(conn, n.id, t, now).await?;
    Ok(())
}

/// The history event of a 催办 by hand.
const URGED: &str = "urged";

/// 催办 by hand (the dashboard, the nomination page and the API): a county admin
/// (`campaign.manage` at the county) mails each reviewer with an open task at the current level. At most once a day per
/// level: a second within 24 hours is refused, saying when the last was.
pub async fn urge(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    by: Uuid,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let n = locked(conn, nomination).await?;
    // County admins (and above): not a village's or a township's own admins.
    permit(
        conn,
        by,
        "campaign.manage",
        unit_for(n.village, Level::County),
        now,
    )
    .await?;
    let Some(level) = n.state.public().review_level() else {
        return Err(Refusal::Conflict("该推荐现在不在审核中，无需催办".into()));
    };
    let last = store::history(conn, nomination)
        .await?
        .into_iter()
        .filter(|h| h.event == URGED && h.reason.as_deref() == Some(level.label()))
        .map(|h| h.at)
        .max();
    if let Some(at) = last.filter(|at| now - *at < Duration::hours(24)) {
        return Err(Refusal::Conflict(format!(
            "{}已催办过，同一审核每天最多催办一次",
            links.in_words(at)
        )));
    }
    if n.state == State::EligibilityReview {
        // Held: to the asker it is village review and must look exactly like it (the step in
        // the history, the once a day); the 催办 goes to the county case officers who hold it,
        // as a fresh eligibility link.
        record_urge(conn, &n, by, level, now).await?;
        let (c, _) = campaign(conn, n.campaign_id).await?;
        crate::eligibility::ask_case_officers(conn, &n, &c, links, now).await?;
        return Ok(1);
    }
    let open: Vec<Task> = store::tasks(conn, nomination, level.as_str())
        .await?
        .into_iter()
        .filter(|t| !t.closed)
        .collect();
    if open.is_empty() {
        return Err(Refusal::Conflict(
            "这一级目前没有待处理的审核任务（可能暂无审核员）".into(),
        ));
    }
    record_urge(conn, &n, by, level, now).await?;
    let by_name = people::display_name(conn, by).await?;
    let family = family_of(&n);
    for task in &open {
        let name = people::display_name(conn, task.reviewer).await?;
        let mail = jinguo_mail::ReviewUrge {
            recipient: name,
            by: by_name.clone(),
            task: format!(
                "{}家庭的{}推荐（{}审核）",
                family.head_name,
                n.category,
                level.label()
            ),
            due: task.due_at.map(|d| links.in_words(d)),
            link: format!("{}/tasks/{}", links.public_url, task.id),
        };
        jinguo_mail::notify(conn, task.reviewer, &mail, Urgency::Normal, now).await?;
    }
    Ok(open.len())
}
