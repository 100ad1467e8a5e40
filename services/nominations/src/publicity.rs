//! 公示 periods: their end by timer.

use chrono::{DateTime, Utc};
use jinguo_bus::Job;
use jinguo_core::nominations::{self as core, Event, State};
use jinguo_store::Conn;
use jinguo_store::nominations::{self as store, NominationRow, Transition};
use uuid::Uuid;

use crate::jobs::PublicityEnded;
use crate::outcome::tell_nominator;
use crate::records::{campaign, locked};
use crate::refusal::{Refusal, corrupt, illegal};
use crate::review::enter_level;
use crate::rules::{Deadline, Rules};
use crate::settings::Links;

/// The message that ends a 公示.
pub const PUBLICITY_ENDED: &str = "nomination.publicity_ended";

/// Entering a 公示 sets a timer for its end, in the same transaction. Working days end at the
/// close of office hours, on the calendar of the nomination's village.
pub(crate) async fn schedule_publicity_end(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    to: State,
    rules: &Rules,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let length = match to {
        State::VillagePublicity => rules.village_publicity.as_deref(),
        State::Publicity => Some(rules.publicity.as_str()),
        _ => None,
    };
    let Some(length) = length else { return Ok(()) };
    let length = links
        .publicity_length(length)
        .map_err(|e| corrupt("campaign rules", e))?;
    let village = n.village;
    let due = length
        .ends_at(now, |days| {
            links.due(&Deadline::WorkingDays(days), village, now)
        })
        .unwrap_or(now);
    set_publicity_end(conn, n.id, to, due, now).await
}

/// The timer that ends the 公示 `publicity` of `nomination`: one per nomination and 公示.
pub(crate) fn publicity_timer(nomination: Uuid, publicity: State) -> String {
    format!("publicity:{nomination}:{publicity}")
}

/// Sets the end of a 公示 to `due` (a new one, or one resumed after an objection).
pub(crate) async fn set_publicity_end(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    publicity: State,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let message = PublicityEnded {
        nomination,
        state: publicity,
    }
    .envelope(now);
    let key = publicity_timer(nomination, publicity);
    jinguo_store::timers::schedule(conn, &key, due, None, &message, now).await?;
    Ok(())
}

/// A 公示 ended (its timer fired): the nomination moves on unless something else moved it
/// first (an objection, a withdrawal), in which case the message has no effect.
pub async fn publicity_ended(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    in_state: State,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    if n.state != in_state {
        return Ok(n.state);
    }
    // A 公示 resumed after a dismissed objection has a timer of its own again: a message of
    // the timer before the objection, delivered late, does not end it early.
    let pending = jinguo_store::timers::get(conn, &publicity_timer(nomination, in_state)).await?;
    if pending.is_some_and(|t| t.due_at > now) {
        return Ok(n.state);
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let event = match in_state {
        State::VillagePublicity => Event::VillagePublicityEnded,
        _ => Event::PublicityEnded,
    };
    let to = core::next(n.state, event, rules.flow()).map_err(illegal)?;
    let name = if in_state == State::VillagePublicity {
        "village_publicity_ended"
    } else {
        "publicity_ended"
    };
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: name,
            actor: "system",
            reason: None,
        },
        now,
    )
    .await?;
    tell_nominator(conn, &n, &c, to, None, links, now).await?;
    if let Some(level) = to.review_level() {
        let moved = NominationRow { state: to, ..n };
        enter_level(conn, &moved, &c, level, links, now).await?;
    }
    Ok(to)
}
