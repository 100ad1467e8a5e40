//! Loading and recording the program's rows: the campaign with its rules, the locked
//! nomination, notes in its history.

use chrono::{DateTime, Utc};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_store::nominations::{self as store, CampaignRow, NominationRow, Transition};
use jinguo_store::{Conn, StoreError, orgs};
use uuid::Uuid;

use crate::refusal::{Refusal, corrupt};
use crate::rules::Rules;

pub(crate) async fn campaign(
    conn: &mut Conn<'_>,
    id: Uuid,
) -> Result<(CampaignRow, Rules), Refusal> {
    let c = store::get_campaign(conn, id)
        .await?
        .ok_or_else(|| Refusal::NotFound("没有这项评选".into()))?;
    let rules: Rules = serde_json::from_str(&c.rules).map_err(|e| corrupt("campaign rules", e))?;
    Ok((c, rules))
}

/// The nomination, locked until the transaction ends.
pub(crate) async fn locked(
    conn: &mut Conn<'_>,
    nomination: Uuid,
) -> Result<NominationRow, Refusal> {
    store::lock(conn, nomination)
        .await?
        .ok_or_else(|| Refusal::NotFound("没有这份推荐".into()))
}

/// Records in the history something the system noticed that leaves the state as it is.
pub(crate) async fn note(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    event: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let t = Transition {
        from: n.state,
        to: n.state,
        event,
        actor: "system",
        reason: Some(reason),
    };
    store::transition(conn, n.id, t, now).await
}

/// Where a village is, as mails and pages say it: the township's and the village's names
/// ("石洞镇 魏家庄村").
pub async fn place_of(conn: &mut Conn<'_>, village: OrgCode) -> Result<String, StoreError> {
    let codes = [village.at_level(OrgLevel::Township), village];
    let names = orgs::names(conn, &codes).await?;
    Ok(codes
        .iter()
        .filter_map(|code| names.get(code).cloned())
        .collect::<Vec<_>>()
        .join(" "))
}

/// An action link of `purpose` about `subject` for `person`, as the URL their mail carries, with
/// the person to mail it to: what every program step that asks someone to act shares.
pub(crate) async fn link_for(
    conn: &mut Conn<'_>,
    purpose: &str,
    subject: &str,
    person: Uuid,
    links: &crate::settings::Links,
    now: DateTime<Utc>,
) -> Result<(jinguo_core::notify::Person, String), Refusal> {
    let secret =
        jinguo_auth::links::issue(conn, purpose, subject, person, links.valid_for, now).await?;
    let who = jinguo_store::people::get(conn, person)
        .await?
        .ok_or(jinguo_mail::NotifyError::UnknownPerson(person))?;
    Ok((
        who,
        format!("{}/link/{}", links.public_url, secret.expose()),
    ))
}
