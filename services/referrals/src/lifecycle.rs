//! The case officer's steps after intake: assess (grade the risk, open agency tasks), record
//! follow-up visits, close with an outcome, reopen. Each goes through the one transition
//! function in core and the one permission rule on the case.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use jinguo_core::auth::Agency;
use jinguo_core::referrals::{self as core, Event, Facts, Outcome};
use jinguo_store::Conn;
use jinguo_store::referrals::{self as store, ReferralRow, TaskKind};
use serde::Deserialize;
use uuid::Uuid;

use crate::access::permit_on_case;
use crate::clocks;
use crate::details::{Incident, note, open, place, seal};
use crate::records::{locked, record};
use crate::refusal::{Refusal, invalid};
use crate::settings::Settings;
use crate::tasks;

/// The permission that manages a case (assess, follow up, close).
pub const MANAGE: &str = "referral.manage";

/// An assessment: the questionnaire's answers, and the agencies to involve now.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Assessment {
    #[serde(default)]
    pub answers: BTreeMap<String, bool>,
    #[serde(default)]
    pub agencies: Vec<Agency>,
    /// The protection-order application is urgent (the court decides within 24 h).
    #[serde(default)]
    pub urgent: bool,
}

/// Grades the risk (again) and opens the tasks of the agencies asked for.
pub async fn assess(
    conn: &mut Conn<'_>,
    settings: &Settings,
    person: Uuid,
    referral: Uuid,
    a: &Assessment,
    now: DateTime<Utc>,
) -> Result<ReferralRow, Refusal> {
    let mut r = locked(conn, referral).await?;
    permit_on_case(conn, person, MANAGE, &r, now).await?;
    let grade = settings
        .policy
        .questionnaire
        .grade(&a.answers)
        .map_err(|e| invalid("answers", e.to_string()))?;
    let open_tasks = agency_tasks_open(conn, r.id).await?;
    r.state = core::next(r.state, Event::Assess, Facts { open_tasks })?;
    r.risk = Some(grade.level);
    r.risk_score = Some(i32::try_from(grade.score).unwrap_or(i32::MAX));
    // The answers join the sealed incident record.
    let mut incident: Incident = open(
        &settings.sealer,
        &r.incident_sealed,
        &place::incident(r.id),
        "incident",
    )?;
    incident.answers = a.answers.clone();
    r.incident_sealed = seal(&settings.sealer, &incident, &place::incident(r.id));
    r.updated_at = now;
    store::update(conn, &r).await?;
    record(
        conn,
        settings,
        &r,
        None,
        Some(person),
        "assessed",
        serde_json::json!({ "risk": grade.level.as_str(), "score": grade.score }),
        None,
        now,
    )
    .await?;
    if !a.agencies.is_empty() {
        let mut seen = Vec::new();
        for agency in &a.agencies {
            if seen.contains(agency) {
                continue;
            }
            seen.push(*agency);
        }
        r.state = core::next(r.state, Event::OpenTasks, Facts { open_tasks })?;
        store::update(conn, &r).await?;
        for agency in seen {
            tasks::open_agency(conn, settings, &r, agency, a.urgent, now).await?;
        }
    }
    Ok(r)
}

async fn agency_tasks_open(conn: &mut Conn<'_>, referral: Uuid) -> Result<usize, Refusal> {
    Ok(store::tasks(conn, referral)
        .await?
        .iter()
        .filter(|t| matches!(t.kind, TaskKind::Agency(_)) && t.state.is_open())
        .count())
}

/// Records a follow-up visit (its note sealed); it meets the earliest follow-up clock.
pub async fn follow_up(
    conn: &mut Conn<'_>,
    settings: &Settings,
    person: Uuid,
    referral: Uuid,
    text: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let r = locked(conn, referral).await?;
    permit_on_case(conn, person, MANAGE, &r, now).await?;
    let text = note("note", text, true)?;
    let open_tasks = agency_tasks_open(conn, r.id).await?;
    core::next(r.state, Event::FollowUp, Facts { open_tasks })?;
    record(
        conn,
        settings,
        &r,
        None,
        Some(person),
        "follow_up",
        serde_json::json!({}),
        text.as_deref(),
        now,
    )
    .await?;
    clocks::meet(conn, settings, &r, clocks::FOLLOW_UP_VISIT, now).await?;
    Ok(())
}

/// Closes the case with an outcome; its clocks stop.
pub async fn close(
    conn: &mut Conn<'_>,
    settings: &Settings,
    person: Uuid,
    referral: Uuid,
    outcome: Outcome,
    text: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ReferralRow, Refusal> {
    let mut r = locked(conn, referral).await?;
    permit_on_case(conn, person, MANAGE, &r, now).await?;
    let text = note("note", text, false)?;
    let open_tasks = agency_tasks_open(conn, r.id).await?;
    r.state = core::next(r.state, Event::Close, Facts { open_tasks })?;
    r.outcome = Some(outcome);
    r.updated_at = now;
    store::update(conn, &r).await?;
    for mut t in store::tasks(conn, r.id).await? {
        // Only the intake task can still be open here (agency tasks block closing).
        if t.state.is_open() {
            crate::ladder::stop(conn, &t).await?;
            t.state = core::TaskState::Done;
            t.settled_at = Some(now);
            store::update_task(conn, &t).await?;
        }
    }
    clocks::stop_all(conn, &r, now).await?;
    record(
        conn,
        settings,
        &r,
        None,
        Some(person),
        "closed",
        serde_json::json!({ "outcome": outcome.as_str() }),
        text.as_deref(),
        now,
    )
    .await?;
    Ok(r)
}

/// Reopens a closed case (a reason is required).
pub async fn reopen(
    conn: &mut Conn<'_>,
    settings: &Settings,
    person: Uuid,
    referral: Uuid,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ReferralRow, Refusal> {
    let mut r = locked(conn, referral).await?;
    permit_on_case(conn, person, MANAGE, &r, now).await?;
    let reason = note("reason", reason, true)?;
    r.state = core::next(r.state, Event::Reopen, Facts::default())?;
    r.outcome = None;
    r.updated_at = now;
    store::update(conn, &r).await?;
    record(
        conn,
        settings,
        &r,
        None,
        Some(person),
        "reopened",
        serde_json::json!({}),
        reason.as_deref(),
        now,
    )
    .await?;
    Ok(r)
}
