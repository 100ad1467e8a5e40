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
