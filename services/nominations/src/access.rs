//! Permissions: the one authorization of the project, asked by every step.

use chrono::{DateTime, Utc};
use jinguo_core::org::OrgCode;
use jinguo_store::{Conn, StoreError};
use uuid::Uuid;

use crate::refusal::Refusal;

/// Loads who `person` is and decides (the one authorization of the project).
pub(crate) async fn may(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &'static str,
    org: OrgCode,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    jinguo_auth::may(
        conn,
        person,
        action,
        jinguo_core::auth::Target::Org(org),
        now,
    )
    .await
}

/// Refuses unless `person` (active) may do `action` at `org`.
pub(crate) async fn permit(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &'static str,
    org: OrgCode,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if may(conn, person, action, org, now).await? {
        Ok(())
    } else {
        Err(Refusal::Forbidden(action))
    }
}
