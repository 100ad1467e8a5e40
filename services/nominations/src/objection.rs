//! Objections during a 公示. Anyone may object from the public page: the 公示 pauses (its timer
//! is cancelled and the time left is kept) and the county reviewers are asked to investigate.
//! They uphold the objection (the nomination is revoked, with a reason) or dismiss it (the
//! 公示 goes on for the time that was left). Objections raised while an investigation is open
//! join it: one investigation, one mail.

use chrono::{DateTime, Duration, Utc};
use jinguo_core::auth::Role;
use jinguo_core::identity::MobilePhone;
use jinguo_core::nominations::{self as core, Event, Level, State};
use jinguo_core::notify::Urgency;
use jinguo_core::text::{self, NAME_MAX};
use jinguo_store::nominations::{self as store, NominationRow, Transition};
use jinguo_store::objections::{self, Investigation, ObjectionRow};
use jinguo_store::{Conn, orgs, people, staff};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::permit;
use crate::family::family_of;
use crate::outcome::tell_nominator;
use crate::publicity::{publicity_timer, set_publicity_end};
use crate::records::{campaign, link_for, locked, note, place_of};
use crate::refusal::{Refusal, corrupt, illegal, invalid, reason_text};
use crate::review::unit_for;
use crate::settings::Links;

/// The purpose of the county reviewers' investigation links.
pub const OBJECTION: &str = "objection";

/// An objection's reason: 10–1,000 characters.
pub const OBJECTION_REASON_MIN: usize = 10;
pub const OBJECTION_REASON_MAX: usize = 1_000;

/// An objection as the public form sends it.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct NewObjection {
    pub name: String,
    /// A mobile phone to reach the objector; only the county reviewers ever see it.
    pub phone: String,
    pub reason: String,
}

/// Never printed: it holds a phone.
impl std::fmt::Debug for NewObjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewObjection([redacted])")
    }
}

/// What the investigation decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The objection holds: the nomination is revoked (a reason is required).
    Uphold,
    /// The objection does not hold: the 公示 goes on for the time that was left.
    Dismiss,
}

/// The one entry point for an objection (the public page): checked field by field, then the
/// nomination's 公示 pauses, or the objection joins the investigation already open. Refused
/// when the nomination is not in a 公示 (nor under investigation), as if it did not exist.
pub async fn object(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    objection: &NewObjection,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let name =
        text::single_line(&objection.name, NAME_MAX).map_err(|e| invalid("name", e.message()))?;
    let phone = MobilePhone::parse(&objection.phone).map_err(|e| invalid("phone", e.message()))?;
    let reason = text::multi_line(
        &objection.reason,
        OBJECTION_REASON_MIN,
        OBJECTION_REASON_MAX,
    )
    .map_err(|e| invalid("reason", e.message()))?;
    let n = locked(conn, nomination).await?;
    if !matches!(
        n.state,
        State::VillagePublicity | State::Publicity | State::UnderInvestigation
    ) {
        return Err(Refusal::NotFound("该家庭现在不在公示期".into()));
    }
    let id = Uuid::new_v4();
    objections::insert(
        conn,
        &ObjectionRow {
            id,
            nomination_id: nomination,
            name,
            phone_sealed: links.sealer.seal(phone.as_str(), &phone_context(id)),
            reason,
            created_at: now,
        },
    )
    .await?;
    if n.state == State::UnderInvestigation {
        // One investigation: the reviewers' page lists every objection raised since it opened.
        note(conn, &n, "objection_joined", "", now).await?;
        return Ok(n.state);
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let to = core::next(n.state, Event::Objected, rules.flow()).map_err(illegal)?;
    // The clock stops: what is left of the 公示 is kept for a dismissal. A timer already gone
    // has fired (its message on the way finds the nomination moved and does nothing): nothing
    // is left, and a dismissal ends the 公示 at once.
    let key = publicity_timer(nomination, n.state);
    let due = jinguo_store::timers::get(conn, &key)
        .await?
        .map(|t| t.due_at);
    // Only a timer this transaction cancelled leaves time: one claimed meanwhile by a scheduler
    // has fired.
    let cancelled = jinguo_store::timers::cancel(conn, &key).await?;
    let remaining = match due {
        Some(due) if cancelled => (due - now).max(Duration::zero()),
        _ => Duration::zero(),
    };
    objections::open(
        conn,
        &Investigation {
            nomination_id: nomination,
            publicity: n.state,
            remaining,
            opened_at: now,
        },
    )
    .await?;
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: "objected",
            // Objections come from the public page: whoever it was is on the objection only.
            actor: "objector",
            reason: None,
        },
        now,
    )
    .await?;
    // Notes from here on keep the state the nomination is now in.
    let moved = NominationRow { state: to, ..n };
    ask_investigators(conn, &moved, &c.name, links, now).await?;
    Ok(to)
}

/// The history event of an objection with no county reviewer to investigate it.
const NO_INVESTIGATOR: &str = "no_investigator";

/// Objections waiting for want of a county reviewer are sent to `county`'s reviewers once one
/// is appointed (given the role, or enabled again): each gets the investigation link and mail.
pub(crate) async fn resume_investigations(
    conn: &mut Conn<'_>,
    county: jinguo_core::org::OrgCode,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let waiting =
        store::waiting_within(conn, &county, &[State::UnderInvestigation], NO_INVESTIGATOR).await?;
    for n in &waiting {
        let n = locked(conn, n.id).await?;
        let (c, _) = campaign(conn, n.campaign_id).await?;
        note(conn, &n, "investigator_appointed", county.as_str(), now).await?;
        ask_investigators(conn, &n, &c.name, links, now).await?;
    }
    Ok(waiting.len())
}

/// What a sealed objector's phone is bound to: it opens for that objection only (the registry's
/// place, so key rotation re-seals it for the same).
fn phone_context(objection: Uuid) -> String {
    jinguo_store::sealed::OBJECTOR_PHONE.associated_data(&objection.to_string())
}

/// The county reviewers of the nomination's county: each an investigation link and mail.
async fn ask_investigators(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    campaign: &str,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let county = unit_for(n.village, Level::County);
    let reviewers = staff::holders_at(conn, Role::Reviewer, county).await?;
    if reviewers.is_empty() {
        // Never a silent wait: noted, the county admins told, and taken up by the first county
        // reviewer appointed (`resume_investigations`).
        tracing::warn!(nomination = %n.id, %county, "an objection has no county reviewer to investigate it");
        note(conn, n, NO_INVESTIGATOR, county.as_str(), now).await?;
        let unit = orgs::get(conn, county)
            .await?
            .map_or_else(|| county.to_string(), |u| u.name);
        let family = family_of(n);
        for admin in staff::holders_above(conn, Role::Admin, county).await? {
            let notice = jinguo_mail::NoReviewerNotice {
                recipient: people::display_name(conn, admin).await?,
                campaign: campaign.to_owned(),
                family: family.head_name.clone(),
                level: "县级（公示异议核查）".to_owned(),
                unit: unit.clone(),
                link: format!(
                    "{}/admin/staff?org={county}&unit={county}",
                    links.public_url
                ),
            };
            jinguo_mail::notify(conn, admin, &notice, Urgency::Normal, now).await?;
        }
        return Ok(());
    }
    let village = place_of(conn, n.village).await?;
    let family = family_of(n);
    for reviewer in reviewers {
        let subject = n.id.to_string();
        let (person, link) = link_for(conn, OBJECTION, &subject, reviewer, links, now).await?;
        let mail = jinguo_mail::ObjectionNotice {
            recipient: person.display_name.clone(),
            campaign: campaign.to_owned(),
            family: family.head_name.clone(),
            village: village.clone(),
            link,
        };
        jinguo_mail::notify_person(conn, &person, &mail, Urgency::Normal, now).await?;
    }
    Ok(())
}

/// An objection as the investigating reviewer sees it: the objector's phone opened.
#[derive(Clone)]
pub struct ObjectionView {
    pub name: String,
    pub phone: Option<String>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Never printed: it holds a phone.
impl std::fmt::Debug for ObjectionView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectionView([redacted])")
    }
}

/// The objections of the open investigation of `nomination`, for `person` only if they may
/// decide it (a county reviewer of its county, active); `None` otherwise or when none is open.
pub async fn investigation_view(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    person: Uuid,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<Option<(NominationRow, Vec<ObjectionView>)>, Refusal> {
    let Some(n) = store::get(conn, nomination).await? else {
        return Ok(None);
    };
    let county = unit_for(n.village, Level::County);
    if n.state != State::UnderInvestigation
        || !crate::access::may(conn, person, "nomination.review", county, now).await?
    {
        return Ok(None);
    }
    let Some(open) = objections::open_for(conn, nomination).await? else {
        return Ok(None);
    };
    let shown = objections::since(conn, nomination, open.opened_at)
        .await?
        .into_iter()
        .map(|o| ObjectionView {
            phone: match links.sealer.open(&o.phone_sealed, &phone_context(o.id)) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(objection = %o.id, error = %e, "a sealed phone does not open");
                    None
                }
            },
            name: o.name,
            reason: o.reason,
            at: o.created_at,
        })
        .collect();
    Ok(Some((n, shown)))
}

/// The investigation's decision, by a county reviewer of the nomination's county (the emailed
/// link and the API go through here): uphold (→ revoked; a reason is required) or dismiss (→
/// back to the 公示 it paused, for the time that was left).
pub async fn investigate(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    by: Uuid,
    finding: Finding,
    reason: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    let county = unit_for(n.village, Level::County);
    permit(conn, by, "nomination.review", county, now).await?;
    if n.state != State::UnderInvestigation {
        return Err(Refusal::Conflict("该推荐现在没有待核查的异议".into()));
    }
    let reason = reason_text(reason)?;
    if finding == Finding::Uphold && reason.is_none() {
        return Err(invalid("reason", "维持异议、撤销推荐时请填写理由"));
    }
    let open = objections::open_for(conn, nomination)
        .await?
        .ok_or_else(|| {
            let missing = std::io::Error::other("under investigation without an investigation");
            corrupt("investigation", missing)
        })?;
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let (event, name) = match finding {
        Finding::Uphold => (Event::Revoked, "objection_upheld"),
        Finding::Dismiss => (
            Event::Cleared {
                back_to: open.publicity,
            },
            "objection_dismissed",
        ),
    };
    let to = core::next(n.state, event, rules.flow()).map_err(illegal)?;
    let actor = by.to_string();
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: name,
            actor: &actor,
            reason: reason.as_deref(),
        },
        now,
    )
    .await?;
    objections::close(conn, nomination).await?;
    let decider = people::display_name(conn, by).await?;
    jinguo_auth::links::supersede(conn, OBJECTION, &nomination.to_string(), &decider, now).await?;
    match finding {
        Finding::Dismiss => {
            set_publicity_end(conn, nomination, to, now + open.remaining, now).await?;
        }
        Finding::Uphold => tell_nominator(conn, &n, &c, to, reason.as_deref(), links, now).await?,
    }
    Ok(to)
}
