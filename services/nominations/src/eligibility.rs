//! The hold of a household with an incident flag: decided by the county case officers out of
//! everyone else's sight.

use chrono::{DateTime, Utc};
use jinguo_core::auth::Role;
use jinguo_core::nominations::{self as core, Event, Level, State};
use jinguo_core::notify::Urgency;
use jinguo_core::org::OrgCode;
use jinguo_store::nominations::{self as store, CampaignRow, NominationRow, Transition};
use jinguo_store::{Conn, StoreError, orgs, people, staff};
use uuid::Uuid;

use crate::access::{may, permit};
use crate::records::{campaign, locked, note};
use crate::refusal::{Refusal, illegal, invalid};
use crate::review::{enter_level, flag_no_reviewer, unit_for};
use crate::rules::{NoReviewer, Rules};
use crate::settings::Links;
use crate::views::is_stalled;

/// The purpose of the county case officers' eligibility links.
pub const ELIGIBILITY: &str = "eligibility";

/// The reasons a case officer may give for closing a held nomination: ordinary review reasons,
/// so that the closed nomination reads like any other rejection.
pub const CLOSE_REASONS: [&str; 3] = ["推荐材料不完整", "家庭事迹不够典型", "不符合本次评选条件"];

/// Events of the eligibility hold: recorded in the history, shown only to those who may see
/// why (see [`visible_history`]).
pub(crate) fn is_hidden_event(event: &str) -> bool {
    event.starts_with("eligibility_")
}

/// Holds a nomination for the county's case officers, and shows everyone else what entering
/// village review shows: a village without an active reviewer is flagged and the county's
/// admins told, exactly as for any other nomination.
pub(crate) async fn hold(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    ask_case_officers(conn, n, c, links, now).await?;
    let village = n.village;
    let flags =
        serde_json::from_str::<Rules>(&c.rules).map_or(true, |r| r.no_reviewer == NoReviewer::Flag);
    if flags
        && staff::holders_at(conn, Role::Reviewer, village)
            .await?
            .is_empty()
    {
        flag_no_reviewer(conn, n, c, Level::Village, village, links, now).await?;
    }
    Ok(())
}

/// Whether the nomination already shows as stalled at the village (flagged while it was held)
/// and still has nobody to review it there: letting it continue then changes nothing anyone
/// sees, and nobody is told twice.
pub(crate) async fn shown_stalled(conn: &mut Conn<'_>, n: &NominationRow) -> Result<bool, Refusal> {
    let village = n.village;
    Ok(is_stalled(&store::history(conn, n.id).await?)
        && staff::holders_at(conn, Role::Reviewer, village)
            .await?
            .is_empty())
}

/// Asks the county's case officers (by link and mail, naming neither the family nor the
/// reason) to decide on a held nomination.
pub(crate) async fn ask_case_officers(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let village = n.village;
    let county = unit_for(village, Level::County);
    let mut officers = staff::holders_at(conn, Role::CaseOfficer, county).await?;
    if officers.is_empty() {
        officers = staff::holders_above(conn, Role::CaseOfficer, county).await?;
    }
    // Asked once: an officer already holding a usable link is not asked again.
    let asked = jinguo_store::links::open_actors(conn, ELIGIBILITY, &n.id.to_string(), now).await?;
    if officers.iter().any(|o| asked.contains(o)) {
        return Ok(());
    }
    if officers.is_empty() {
        tracing::warn!(nomination = %n.id, %county, "a held nomination has no case officer to decide on it");
        note(conn, n, "eligibility_no_officer", county.as_str(), now).await?;
        return Ok(());
    }
    let village_name = orgs::get(conn, village)
        .await?
        .map(|u| u.name)
        .unwrap_or_default();
    for officer in officers {
        let secret = jinguo_auth::links::issue(
            conn,
            ELIGIBILITY,
            &n.id.to_string(),
            officer,
            links.valid_for,
            now,
        )
        .await?;
        let mail = jinguo_mail::EligibilityCheck {
            recipient: people::display_name(conn, officer).await?,
            campaign: c.name.clone(),
            village: village_name.clone(),
            link: format!("{}/link/{}", links.public_url, secret.expose()),
        };
        jinguo_mail::notify(conn, officer, &mail, Urgency::Normal, now).await?;
    }
    Ok(())
}

/// What a county case officer decides on a held nomination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EligibilityDecision {
    /// It enters village review as if just submitted.
    Continue,
    /// It ends as a rejection with one of [`CLOSE_REASONS`], recorded as the officer's.
    Close { reason: String },
}

/// A county case officer decides on a held nomination (emailed link or API: both come here).
pub async fn decide_eligibility(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    officer: Uuid,
    decision: EligibilityDecision,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    let village = n.village;
    permit(conn, officer, "nomination.eligibility_reason", village, now).await?;
    if n.state != State::EligibilityReview {
        return Err(Refusal::Conflict("该推荐不在资格核查中".into()));
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let actor = officer.to_string();
    let (event, name, reason) = match &decision {
        EligibilityDecision::Continue => (Event::EligibilityCleared, "eligibility_cleared", None),
        EligibilityDecision::Close { reason } => {
            if !CLOSE_REASONS.contains(&reason.as_str()) {
                return Err(invalid("reason", "请从列出的理由中选择一项"));
            }
            // Recorded as an ordinary village rejection, by the officer.
            (
                Event::EligibilityClosed,
                "village_reject",
                Some(reason.as_str()),
            )
        }
    };
    let to = core::next(n.state, event, rules.flow()).map_err(illegal)?;
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: name,
            actor: &actor,
            reason,
        },
        now,
    )
    .await?;
    let who = people::display_name(conn, officer).await?;
    jinguo_auth::links::supersede(conn, ELIGIBILITY, &nomination.to_string(), &who, now).await?;
    if to == State::VillageReview {
        let moved = NominationRow { state: to, ..n };
        if !shown_stalled(conn, &moved).await? {
            enter_level(conn, &moved, &c, Level::Village, links, now).await?;
        }
    } else {
        // Closed: the nominator hears it exactly as any village rejection, with the neutral
        // reason chosen from the list.
        crate::outcome::tell_nominator(conn, &n, &c, to, reason, links, now).await?;
    }
    Ok(to)
}

/// Whether `person` may see why a nomination in `village` is held (county case officers).
pub async fn reveals_eligibility(
    conn: &mut Conn<'_>,
    person: Uuid,
    village: OrgCode,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    may(conn, person, "nomination.eligibility_reason", village, now).await
}
