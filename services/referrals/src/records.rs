//! Loading and recording the program's rows: the locked case, its timeline, the audit log.

use chrono::{DateTime, Utc};
use jinguo_store::referrals::{self as store, EventRow, ReferralRow};
use jinguo_store::{Conn, StoreError};
use uuid::Uuid;

use crate::details::sealed_note;
use crate::refusal::Refusal;
use crate::settings::Settings;

/// The case, locked until the transaction ends.
pub(crate) async fn locked(conn: &mut Conn<'_>, id: Uuid) -> Result<ReferralRow, Refusal> {
    store::lock(conn, id)
        .await?
        .ok_or(Refusal::NotFound("没有这个案件"))
}

/// Who did something, as the timeline and audit log name them.
pub(crate) fn actor_name(actor: Option<Uuid>) -> String {
    actor.map_or_else(|| "system".to_owned(), |p| p.to_string())
}

/// A line on the case's timeline (its note sealed) and the same step in the audit log
/// (subject: the case number; details: no personal data).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    task: Option<Uuid>,
    actor: Option<Uuid>,
    kind: &str,
    details: serde_json::Value,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = Uuid::new_v4();
    let actor = actor_name(actor);
    store::insert_event(
        conn,
        &EventRow {
            id,
            referral: r.id,
            task,
            at: now,
            actor: actor.clone(),
            kind: kind.to_owned(),
            details: details.clone(),
            note_sealed: sealed_note(&settings.sealer, id, note),
        },
    )
    .await?;
    jinguo_auth::record(
        conn,
        &actor,
        &format!("referral.{kind}"),
        r.case_number.as_str(),
        details,
        now,
    )
    .await
}
