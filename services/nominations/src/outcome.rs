//! Telling the nominator what became of a nomination: returned (with a link to edit and send it
//! again), not passed (with the reason), in 公示, awarded, revoked. A staff nominator is
//! mailed; a nomination from the public form (a self-nomination, or one by a neighbour) has
//! nobody to mail, so the village's chair (the village unit's admins, else its coordinators)
//! is mailed to tell the family, as the form promises. Nothing goes to the family's phone.

use chrono::{DateTime, Utc};
use jinguo_core::auth::Role;
use jinguo_core::nominations::State;
use jinguo_core::notify::Urgency;
use jinguo_store::nominations::{CampaignRow, NominationRow};
use jinguo_store::{Conn, people, staff};
use uuid::Uuid;

use crate::family::family_of;
use crate::refusal::Refusal;
use crate::settings::Links;

/// Mails the nominator (or the village chair) that `n` is now `to`, with the decision's
/// `reason`; states nobody is told of (a review level, paused 公示) send nothing. Runs in the
/// transaction of the step, so the mail goes once, with it.
pub(crate) async fn tell_nominator(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    to: State,
    reason: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let base = &links.public_url;
    let (outcome, link, action) = match to {
        State::Returned => (
            "已被退回，请修改后重新提交".to_owned(),
            Some(format!("{base}/nominations/{}", n.id)),
            "修改并重新提交",
        ),
        State::Rejected => ("未通过审核".to_owned(), None, ""),
        State::VillagePublicity => (
            "已通过村级审核，正在村内公示".to_owned(),
            Some(format!(
                "{base}/public/campaigns/{}/villages/{}",
                n.campaign_id, n.village
            )),
            "查看公示",
        ),
        State::Publicity => (
            "已通过县级审核，正在公示".to_owned(),
            Some(format!("{base}/public/campaigns/{}", n.campaign_id)),
            "查看公示",
        ),
        State::Awarded => (
            format!("已获评“{}”，公示期满无异议", n.category),
            Some(format!("{base}/public/campaigns/{}/awarded", n.campaign_id)),
            "查看表彰名单",
        ),
        State::Revoked => ("经公示异议核查，已被撤销".to_owned(), None, ""),
        _ => return Ok(()),
    };
    let (recipients, for_family) = match n.nominator.parse::<Uuid>() {
        Ok(staff_nominator) => (vec![staff_nominator], false),
        Err(_) => (village_chair(conn, n).await?, true),
    };
    let family = family_of(n);
    for recipient in recipients {
        let Some(person) = people::get(conn, recipient).await? else {
            continue;
        };
        let mail = jinguo_mail::NominationOutcome {
            recipient: person.display_name.clone(),
            campaign: c.name.clone(),
            family: family.head_name.clone(),
            outcome: outcome.clone(),
            reason: reason.map(str::to_owned),
            for_family,
            link: link.clone(),
            action: action.to_owned(),
        };
        jinguo_mail::notify_person(conn, &person, &mail, Urgency::Normal, now).await?;
    }
    Ok(())
}

/// Who tells a family that nominated itself: the village unit's admins, else its coordinators.
async fn village_chair(conn: &mut Conn<'_>, n: &NominationRow) -> Result<Vec<Uuid>, Refusal> {
    for role in [Role::Admin, Role::Coordinator] {
        let holders = staff::holders_at(conn, role, n.village).await?;
        if !holders.is_empty() {
            return Ok(holders);
        }
    }
    tracing::warn!(nomination = %n.id, village = %n.village, "nobody at the village to tell the family");
    Ok(Vec::new())
}
