//! Legal clocks: protection-order decisions (72 h from the application, 24 h when urgent), an
//! order's expiry (a reminder to apply for an extension), shelter stays, follow-up visits
//! after a police warning letter. Each clock warns `warn_before` its deadline and records a
//! breach after it, once each (timers with their own keys; a clock that was met or stopped
//! does nothing when its timer fires).

use chrono::{DateTime, Utc};
use jinguo_bus::Job;
use jinguo_core::auth::Role;
use jinguo_core::notify::Urgency;
use jinguo_core::org::OrgLevel;
use jinguo_mail::ReferralNotice;
use jinguo_store::referrals::{self as store, ClockRow, ReferralRow};
use jinguo_store::{Conn, StoreError, people, staff, timers};
use uuid::Uuid;

use crate::jobs::{ClockDue, ClockWarn};
use crate::records::record;
use crate::refusal::Refusal;
use crate::settings::Settings;

/// The kinds of legal clock.
pub const PROTECTION_ORDER_DECISION: &str = "protection_order_decision";
pub const PROTECTION_ORDER_EXPIRY: &str = "protection_order_expiry";
pub const SHELTER_STAY: &str = "shelter_stay";
pub const FOLLOW_UP_VISIT: &str = "follow_up_visit";

/// A clock's name for people.
pub fn clock_label(kind: &str) -> &'static str {
    match kind {
        PROTECTION_ORDER_DECISION => "人身安全保护令裁定期限",
        PROTECTION_ORDER_EXPIRY => "人身安全保护令有效期（到期前申请延长）",
        SHELTER_STAY => "临时庇护期限",
        FOLLOW_UP_VISIT => "告诫书后回访",
        _ => "期限",
    }
}

/// A clock state's name for people.
pub fn clock_state_label(state: &str) -> &'static str {
    match state {
        "running" => "计时中",
        "warned" => "即将到期",
        "breached" => "已超时",
        "met" => "已完成",
        "stopped" => "已停止",
        _ => "未知",
    }
}

/// Starts a clock due at `due`, warning `warn_before` it (never before it starts).
pub(crate) async fn start(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    kind: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Uuid, Refusal> {
    let warn_before = chrono::Duration::from_std(settings.policy.clocks.warn_before)
        .unwrap_or(chrono::Duration::hours(6));
    let warn_at = (due - warn_before).max(now);
    let id = Uuid::new_v4();
    store::insert_clock(
        conn,
        &ClockRow {
            id,
            referral: r.id,
            kind: kind.to_owned(),
            started_at: now,
            due_at: due,
            warn_at,
            state: "running".into(),
            settled_at: None,
        },
    )
    .await?;
    let warn = ClockWarn { clock: id }.envelope(now);
    timers::schedule(
        conn,
        &format!("referral.clock:{id}:warn"),
        warn_at,
        None,
        &warn,
        now,
    )
    .await?;
    let due_message = ClockDue { clock: id }.envelope(now);
    timers::schedule(
        conn,
        &format!("referral.clock:{id}:due"),
        due,
        None,
        &due_message,
        now,
    )
    .await?;
    record(
        conn,
        settings,
        r,
        None,
        None,
        "clock_started",
        serde_json::json!({ "clock": id, "kind": kind, "due_at": due }),
        None,
        now,
    )
    .await?;
    Ok(id)
}

/// The earliest running clock of `kind` is met (the order was decided, the visit made): its
/// timers are cancelled. `false` when none was running.
pub(crate) async fn meet(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<bool, Refusal> {
    let running = store::clocks(conn, r.id)
        .await?
        .into_iter()
        .find(|k| k.kind == kind && matches!(k.state.as_str(), "running" | "warned"));
    let Some(k) = running else {
        return Ok(false);
    };
    settle(conn, &k, "met", now).await?;
    record(
        conn,
        settings,
        r,
        None,
        None,
        "clock_met",
        serde_json::json!({ "clock": k.id, "kind": kind }),
        None,
        now,
    )
    .await?;
    Ok(true)
}

/// Every running clock of the case stops (the case closed).
pub(crate) async fn stop_all(
    conn: &mut Conn<'_>,
    r: &ReferralRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for k in store::clocks(conn, r.id).await? {
        if matches!(k.state.as_str(), "running" | "warned") {
            settle(conn, &k, "stopped", now).await?;
        }
    }
    Ok(())
}

async fn settle(
    conn: &mut Conn<'_>,
    k: &ClockRow,
    state: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    store::set_clock_state(conn, k.id, state, Some(now)).await?;
    timers::cancel(conn, &format!("referral.clock:{}:warn", k.id)).await?;
    timers::cancel(conn, &format!("referral.clock:{}:due", k.id)).await?;
    Ok(())
}

/// A clock's warning time came: tell the assigned officer (and the county's case officers
/// when nobody is assigned).
pub async fn warn(
    conn: &mut Conn<'_>,
    settings: &Settings,
    clock: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let Some(k) = store::lock_clock(conn, clock).await? else {
        return Err(Refusal::NotFound("没有这个期限"));
    };
    if k.state != "running" {
        return Ok(());
    }
    let r = store::get(conn, k.referral)
        .await?
        .ok_or(Refusal::NotFound("没有这个案件"))?;
    store::set_clock_state(conn, k.id, "warned", None).await?;
    record(
        conn,
        settings,
        &r,
        None,
        None,
        "clock_warned",
        serde_json::json!({ "clock": k.id, "kind": k.kind, "due_at": k.due_at }),
        None,
        now,
    )
    .await?;
    let people = officers(conn, &r).await?;
    let asked = format!("{}即将到期", clock_label(&k.kind));
    tell(conn, settings, &r, &people, &asked, k.due_at, false, now).await
}

/// A clock's deadline passed unmet: the breach is recorded and the officer and the county's
/// supervisors are told, urgently.
pub async fn due(
    conn: &mut Conn<'_>,
    settings: &Settings,
    clock: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let Some(k) = store::lock_clock(conn, clock).await? else {
        return Err(Refusal::NotFound("没有这个期限"));
    };
    if !matches!(k.state.as_str(), "running" | "warned") {
        return Ok(());
    }
    let r = store::get(conn, k.referral)
        .await?
        .ok_or(Refusal::NotFound("没有这个案件"))?;
    store::set_clock_state(conn, k.id, "breached", Some(now)).await?;
    record(
        conn,
        settings,
        &r,
        None,
        None,
        "clock_breached",
        serde_json::json!({ "clock": k.id, "kind": k.kind, "due_at": k.due_at }),
        None,
        now,
    )
    .await?;
    let mut people = officers(conn, &r).await?;
    for s in staff::holders_at(conn, Role::Supervisor, r.county).await? {
        if !people.contains(&s) {
            crate::access::grant(conn, &r, s, "supervisor", now).await?;
            people.push(s);
        }
    }
    let asked = format!("{}已超时", clock_label(&k.kind));
    tell(conn, settings, &r, &people, &asked, k.due_at, true, now).await
}

/// Tells the case's officer (the county's case officers when nobody is assigned) that `asked`.
pub(crate) async fn tell_officers(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    asked: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let people = officers(conn, r).await?;
    tell(conn, settings, r, &people, asked, due, false, now).await
}

/// The assigned officer, or the county's case officers when nobody is assigned.
async fn officers(conn: &mut Conn<'_>, r: &ReferralRow) -> Result<Vec<Uuid>, StoreError> {
    match r.assigned_officer {
        Some(p) => Ok(vec![p]),
        None => {
            staff::holders_at(
                conn,
                Role::CaseOfficer,
                r.village.at_level(OrgLevel::County),
            )
            .await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn tell(
    conn: &mut Conn<'_>,
    settings: &Settings,
    r: &ReferralRow,
    to: &[Uuid],
    asked: &str,
    due: DateTime<Utc>,
    urgent: bool,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    for person in to {
        let Some(p) = people::get(conn, *person).await? else {
            continue;
        };
        let notice = ReferralNotice {
            recipient: p.display_name.clone(),
            case_number: r.case_number.to_string(),
            asked: asked.to_owned(),
            due: settings.in_words(due),
            urgent,
            link: settings.case_url(r.id),
        };
        let urgency = if urgent {
            Urgency::Urgent
        } else {
            Urgency::Normal
        };
        jinguo_mail::notify(conn, *person, &notice, urgency, now).await?;
    }
    Ok(())
}
