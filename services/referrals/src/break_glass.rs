//! Break glass: emergency read access to one case for a short time, with a reason. The case
//! must exist inside the requester's area (a number outside it is refused exactly like one that
//! does not exist); the grant is audited and the county's supervisors are told at once. The
//! reason is free text that may name people: it is kept with the grant only, never in the audit
//! log or a mail.

use chrono::{DateTime, Utc};
use jinguo_core::auth::{Role, Target};
use jinguo_core::notify::Urgency;
use jinguo_core::referrals::CaseNumber;
use jinguo_store::referrals as store;
use jinguo_store::{Conn, people, staff};

use crate::refusal::{Refusal, invalid};
use crate::settings::Settings;

/// The permission that asks for emergency access.
pub const BREAK_GLASS: &str = "break_glass.request";

/// Grants `person` emergency access to case `number` until the returned time.
pub async fn break_glass(
    conn: &mut Conn<'_>,
    settings: &Settings,
    person: uuid::Uuid,
    number: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(CaseNumber, DateTime<Utc>), Refusal> {
    let unknown = || invalid("case_id", "没有这个案件编号，或它不在您的管辖范围内");
    let number = CaseNumber::parse(number).ok_or_else(unknown)?;
    let reason = jinguo_core::text::multi_line(reason, 10, 1_000)
        .map_err(|e| invalid("reason", format!("理由{}", e.message())))?;
    let r = store::by_case_number(conn, &number)
        .await?
        .ok_or_else(unknown)?;
    if !jinguo_auth::may(conn, person, BREAK_GLASS, Target::Org(r.village), now).await? {
        return Err(unknown());
    }
    let until = now + settings.break_glass_for;
    staff::grant_break_glass(conn, person, number.as_str(), &reason, now, until).await?;
    jinguo_auth::record(
        conn,
        &person.to_string(),
        "break_glass.granted",
        number.as_str(),
        serde_json::json!({ "until": until }),
        now,
    )
    .await?;
    let requester = people::display_name(conn, person).await?;
    for supervisor in staff::holders_above(conn, Role::Supervisor, r.county).await? {
        let notice = jinguo_mail::BreakGlassNotice {
            recipient: people::display_name(conn, supervisor).await?,
            requester: requester.clone(),
            case_number: number.to_string(),
            at: settings.in_words(now),
            until: settings.in_words(until),
            link: settings.case_url(r.id),
        };
        jinguo_mail::notify(conn, supervisor, &notice, Urgency::Urgent, now).await?;
    }
    Ok((number, until))
}
