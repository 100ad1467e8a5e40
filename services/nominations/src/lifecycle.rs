//! Resubmitting a returned nomination and withdrawing one.

use chrono::{DateTime, Utc};
use jinguo_core::nominations::{self as core, Event, Level, State, Story};
use jinguo_store::Conn;
use jinguo_store::nominations::{self as store, NominationRow, Transition};
use uuid::Uuid;

use crate::access::permit;
use crate::eligibility::{ELIGIBILITY, hold};
use crate::records::{campaign, locked};
use crate::refusal::{Refusal, illegal, invalid, reason_text};
use crate::review::{REVIEW, enter_level, link_subject};
use crate::settings::Links;

/// The nominator sends a returned nomination in again (with a revised story, if given): it
/// re-enters `village_review` and the village reviewers are asked again — unless its household
/// has been flagged since, when it is held for the county case officers as at submission.
/// Needs `nomination.submit` at the village.
pub async fn resubmit(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    by: Uuid,
    story: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    let village = n.village;
    permit(conn, by, "nomination.submit", village, now).await?;
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let to = core::next(n.state, Event::Resubmitted, rules.flow()).map_err(illegal)?;
    if let Some(story) = story {
        let story = Story::parse(story).map_err(|m| invalid("story", m))?;
        store::set_story(conn, nomination, story.as_str()).await?;
    }
    let actor = by.to_string();
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: "resubmitted",
            actor: &actor,
            reason: None,
        },
        now,
    )
    .await?;
    let moved = NominationRow { state: to, ..n };
    if store::incident_flag(conn, moved.household_id).await? {
        let held = core::next(to, Event::EligibilityHeld, rules.flow()).map_err(illegal)?;
        let t = Transition {
            from: to,
            to: held,
            event: "eligibility_held",
            actor: "system",
            reason: None,
        };
        store::transition(conn, nomination, t, now).await?;
        let held_row = NominationRow {
            state: held,
            ..moved
        };
        hold(conn, &held_row, &c, links, now).await?;
        // To the resubmitter it looks exactly like village review.
        return Ok(held.public());
    }
    enter_level(conn, &moved, &c, Level::Village, links, now).await?;
    Ok(to)
}

/// Withdraws a nomination that is not final; open review tasks close and their links are
/// superseded. Needs `nomination.withdraw` at the village.
pub async fn withdraw(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    by: Uuid,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    let village = n.village;
    permit(conn, by, "nomination.withdraw", village, now).await?;
    let reason = reason_text(reason)?;
    let reason = reason.as_deref();
    let by = &by.to_string();
    let (_, rules) = campaign(conn, n.campaign_id).await?;
    let to = core::next(n.state, Event::Withdrawn, rules.flow()).map_err(illegal)?;
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: "withdrawn",
            actor: by,
            reason,
        },
        now,
    )
    .await?;
    if let Some(level) = n.state.review_level() {
        for t in store::tasks(conn, nomination, level.as_str())
            .await?
            .into_iter()
            .filter(|t| !t.closed)
        {
            store::close_task(conn, t.id, "withdrawn", now).await?;
        }
        jinguo_auth::links::supersede(
            conn,
            REVIEW,
            &link_subject(nomination, level),
            "推荐人撤回",
            now,
        )
        .await?;
    }
    if n.state == State::EligibilityReview {
        jinguo_auth::links::supersede(
            conn,
            ELIGIBILITY,
            &nomination.to_string(),
            "推荐人撤回",
            now,
        )
        .await?;
    }
    Ok(to.public())
}
