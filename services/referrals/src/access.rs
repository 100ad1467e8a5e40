//! Who may read a case: the one rule every entry point asks (API, page, link, CLI).
//!
//! Readers are the assigned officer, liaisons with a task on the case, people a ladder step
//! reached and supervisors named on it (all recorded as grants in `referral_access`), and
//! break-glass holders for that case. Everyone else may find a case by its number only. Every
//! read is audited with reader and reason; a refused read is audited too.

use chrono::{DateTime, Utc};
use jinguo_core::auth::Target;
use jinguo_store::referrals::{self as store, ReferralRow};
use jinguo_store::{Conn, StoreError};
use uuid::Uuid;

use crate::refusal::Refusal;

/// The permission that reads a case's details.
pub const READ: &str = "referral.read";

/// Whether `person` may read the details of case `r` now.
pub async fn may_read(
    conn: &mut Conn<'_>,
    person: Uuid,
    r: &ReferralRow,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    may_on_case(conn, person, READ, r, now).await
}

/// Whether `person` may do `action` on case `r` (its readers count as assigned).
pub(crate) async fn may_on_case(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &str,
    r: &ReferralRow,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let readers = store::readers(conn, r.id).await?;
    jinguo_auth::may(
        conn,
        person,
        action,
        Target::Case {
            id: r.case_number.as_str(),
            org: r.village,
            assigned: &readers,
        },
        now,
    )
    .await
}

/// Refuses unless `person` may do `action` on the case. The refusal says nothing about the
/// case; the caller records it with [`record_refusal`] in a transaction of its own (the step's
/// transaction rolls back).
pub(crate) async fn permit_on_case(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &'static str,
    r: &ReferralRow,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if may_on_case(conn, person, action, r, now).await? {
        Ok(())
    } else {
        Err(Refusal::Forbidden(action))
    }
}

/// Records a refused attempt on a case in the audit log: who, which case, what.
pub async fn record_refusal(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &str,
    referral: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let subject = match store::get(conn, referral).await? {
        Some(r) => r.case_number.to_string(),
        None => referral.to_string(),
    };
    jinguo_auth::record(
        conn,
        &person.to_string(),
        "referral.refused",
        &subject,
        serde_json::json!({ "action": action }),
        now,
    )
    .await
}

/// Grants `person` read access for `reason` (assigned, task, ladder, supervisor), audited once.
pub(crate) async fn grant(
    conn: &mut Conn<'_>,
    r: &ReferralRow,
    person: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if store::grant(conn, r.id, person, reason, now).await? {
        jinguo_auth::record(
            conn,
            "system",
            "referral.access_granted",
            r.case_number.as_str(),
            serde_json::json!({ "person": person, "reason": reason }),
            now,
        )
        .await?;
    }
    Ok(())
}
