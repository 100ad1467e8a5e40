//! Repairs of a published tour: a lecturer declines a talk through her link, or the
//! coordinator takes a lecturer or a day out. The plan is repaired with every other published
//! talk pinned where it is (`jinguo_tours::repair`), and only the people a change touches
//! hear of it: the lecturer who lost a talk (a cancelling calendar file), the one who gained
//! it (the talk under its old UID with a higher SEQUENCE) and the village's hosts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use jinguo_store::Conn;
use jinguo_store::tours::{self as store, SessionRow, SessionState, TourRow, TourState};
use jinguo_tours::{Schedule, Session, Stats};
use uuid::Uuid;

use crate::notices::{self, Places};
use crate::plan::instance_of;
use crate::refusal::{Refusal, conflict, invalid};
use crate::rules::{self, Removal, Settings};
use crate::tour::{managed, removals_of, spec_of};

/// What a repair changed, for the caller's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Repaired {
    /// Talks that moved to another lecturer or day (same UID, higher sequence).
    pub moved: usize,
    /// Talks no lecturer could take.
    pub cancelled: usize,
    /// The tour was not published yet: the removal was noted, the tour is a draft again and
    /// must be planned anew.
    pub replan: bool,
}

fn as_session(s: &SessionRow) -> Session {
    Session {
        village: s.village.to_string(),
        lecturer: s.volunteer.map(|v| v.to_string()).unwrap_or_default(),
        date: s.day,
        start: s.starts,
        end: s.ends,
    }
}

/// A lecturer declines her talk `session` (the decline link's POST).
pub async fn decline(
    conn: &mut Conn<'_>,
    settings: &Settings,
    volunteer: Uuid,
    session: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Repaired, Refusal> {
    let reason = rules::note("reason", reason)?;
    let s = store::session(conn, session)
        .await?
        .ok_or(Refusal::NotFound("没有这场宣讲"))?;
    let row = store::lock_tour(conn, s.tour_id)
        .await?
        .ok_or(Refusal::NotFound("没有这场宣讲"))?;
    // Read again under the tour's lock: a repair running beside this one has finished.
    let s = store::session(conn, session)
        .await?
        .ok_or(Refusal::NotFound("没有这场宣讲"))?;
    if s.volunteer != Some(volunteer) || s.state != SessionState::Scheduled {
        return Err(conflict("这场宣讲已不由您主讲，无需再推辞"));
    }
    if s.day < today(settings, now) {
        return Err(conflict("这场宣讲的日期已过"));
    }
    jinguo_auth::record(
        conn,
        &volunteer.to_string(),
        "tour.declined",
        &session.to_string(),
        serde_json::json!({ "tour": row.id, "with_reason": !reason.is_empty() }),
        now,
    )
    .await?;
    repair_and_tell(conn, settings, &row, &[s], now).await
}

pub(crate) fn today(settings: &Settings, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&settings.time_zone).date_naive()
}

/// The coordinator takes a lecturer (every day, or one day) or a day (for everyone) out of
/// the tour `tour`. Published, it is repaired and the people touched are told; before that,
/// the removal shapes the next plan (a 元旦 in a year whose holidays are not loaded, say).
pub async fn remove(
    conn: &mut Conn<'_>,
    settings: &Settings,
    by: Uuid,
    tour: Uuid,
    removal: Removal,
    now: DateTime<Utc>,
) -> Result<Repaired, Refusal> {
    let (mut row, spec) = managed(conn, by, tour, true, now).await?;
    if removal.volunteer.is_none() && removal.day.is_none() {
        return Err(invalid("volunteer", "请选择要取消的讲师或日期"));
    }
    if let Some(day) = removal.day
        && (day < spec.from || day > spec.to)
    {
        return Err(invalid("day", "这一天不在宣讲期间"));
    }
    if let Some(v) = removal.volunteer
        && store::volunteer(conn, v)
            .await?
            .is_none_or(|x| x.county != row.county)
    {
        return Err(invalid("volunteer", "没有这位讲师"));
    }
    let mut removals = removals_of(&row)?;
    if !removals.contains(&removal) {
        removals.push(removal);
    }
    row.removals = serde_json::to_string(&removals).expect("serialises");
    let published = row.state == TourState::Published;
    if !published {
        // Nobody has been told anything yet: the removal shapes the next plan, and a plan
        // computed (or being computed) without it is dropped.
        crate::tour::back_to_draft(&mut row);
    }
    store::update_tour(conn, &row).await?;
    // Talks of days gone by are left for their hosts to record.
    let today = today(settings, now);
    let dropped: Vec<SessionRow> = store::sessions(conn, tour)
        .await?
        .into_iter()
        .filter(|s| s.state == SessionState::Scheduled && s.day >= today)
        .filter(|s| s.volunteer.is_some_and(|v| removal.covers(v, s.day)))
        .collect();
    jinguo_auth::record(
        conn,
        &by.to_string(),
        "tour.removed",
        &tour.to_string(),
        serde_json::json!({ "volunteer": removal.volunteer, "day": removal.day, "talks": dropped.len() }),
        now,
    )
    .await?;
    if !published {
        return Ok(Repaired {
            replan: true,
            ..Repaired::default()
        });
    }
    repair_and_tell(conn, settings, &row, &dropped, now).await
}

/// Repairs the published tour `row` with `dropped` taken out, writes what changed and tells
/// exactly the people it touched. Talks on days already past are left as they are.
async fn repair_and_tell(
    conn: &mut Conn<'_>,
    settings: &Settings,
    row: &TourRow,
    dropped: &[SessionRow],
    now: DateTime<Utc>,
) -> Result<Repaired, Refusal> {
    if dropped.is_empty() {
        return Ok(Repaired::default());
    }
    let spec = spec_of(row)?;
    let planned = instance_of(conn, settings, row).await?;
    // The talks still to come take part (and those given up); those of today and before stay
    // as they are, and nothing is placed on them.
    let today = today(settings, now);
    let all = store::sessions(conn, row.id).await?;
    let live: Vec<&SessionRow> = all
        .iter()
        .filter(|s| s.state == SessionState::Scheduled && s.volunteer.is_some())
        .filter(|s| s.day > today || dropped.iter().any(|d| d.id == s.id))
        .collect();
    let published = Schedule {
        sessions: live.iter().map(|s| as_session(s)).collect(),
        unassigned: Vec::new(),
        stats: Stats {
            covered: 0,
            travel_km: 0.0,
            spread: 0,
            most_sessions: 0,
            fewest_sessions: 0,
        },
    };
    let dropped_sessions: Vec<Session> = dropped.iter().map(as_session).collect();
    let mut instance = planned.instance;
    instance.days.retain(|d| *d > today);
    let repaired = jinguo_tours::repair(&instance, &published, &dropped_sessions);
    // Per village, the repaired talks not matching a kept one are where dropped ones went;
    // none goes to a day already begun.
    let mut fresh: HashMap<String, Vec<Session>> = HashMap::new();
    for s in repaired.sessions {
        fresh.entry(s.village.clone()).or_default().push(s);
    }
    let mut changed: Vec<(SessionRow, SessionRow)> = Vec::new();
    for s in &live {
        let old = as_session(s);
        let here = fresh.entry(old.village.clone()).or_default();
        if let Some(i) = here.iter().position(|x| *x == old) {
            here.remove(i);
        } else {
            changed.push(((*s).clone(), (*s).clone()));
        }
    }
    for placed in fresh.values_mut() {
        placed.retain(|s| s.date > today);
    }
    for (before, after) in &mut changed {
        after.sequence = before.sequence + 1;
        match fresh
            .get_mut(&before.village.to_string())
            .and_then(|v| v.pop())
        {
            Some(n) => {
                after.volunteer = n.lecturer.parse().ok();
                after.day = n.date;
                after.starts = n.start;
                after.ends = n.end;
            }
            None => {
                after.volunteer = None;
                after.state = SessionState::Cancelled;
            }
        }
        notices::cancel_timers(conn, before).await?;
        // The lecturer's old decline link of the talk says where it went, not "decline".
        let went = if after.state == SessionState::Scheduled {
            "转交其他讲师"
        } else {
            "转交县妇联另行安排"
        };
        jinguo_auth::links::supersede(conn, notices::DECLINE, &before.id.to_string(), went, now)
            .await?;
        store::update_session(conn, after).await?;
        if after.state == SessionState::Scheduled {
            notices::schedule_timers(conn, settings, after, now).await?;
        }
    }
    let venues = planned.venues;
    let touched: Vec<SessionRow> = changed
        .iter()
        .flat_map(|(b, a)| [b.clone(), a.clone()])
        .collect();
    let places = Places::load(conn, row.id, &row.name, &spec.topic, venues, &touched).await?;
    let mut lost: BTreeMap<Uuid, Vec<&SessionRow>> = BTreeMap::new();
    let mut gained: BTreeMap<Uuid, Vec<&SessionRow>> = BTreeMap::new();
    let mut villages: BTreeMap<_, Vec<&SessionRow>> = BTreeMap::new();
    for (before, after) in &changed {
        if let Some(v) = before.volunteer {
            lost.entry(v).or_default().push(before);
        }
        if let Some(v) = after.volunteer {
            gained.entry(v).or_default().push(after);
        }
        villages.entry(after.village).or_default().push(after);
    }
    for (v, talks) in &lost {
        // The cancelling file names the talk's new version, so it replaces the old event.
        let bumped: Vec<SessionRow> = talks
            .iter()
            .map(|s| SessionRow {
                sequence: s.sequence + 1,
                ..(*s).clone()
            })
            .collect();
        let refs: Vec<&SessionRow> = bumped.iter().collect();
        notices::tell_lecturer_cancelled(conn, &places, *v, &refs, now).await?;
    }
    for (v, talks) in &gained {
        let lead = format!(
            "“{}”巡回宣讲有调整，请您承担以下宣讲（已附日历文件）：",
            row.name
        );
        notices::tell_lecturer(conn, settings, &places, *v, lead, talks, now).await?;
    }
    for (village, talks) in &villages {
        let (moved, cancelled): (Vec<&SessionRow>, Vec<&SessionRow>) = talks
            .iter()
            .partition(|s| s.state == SessionState::Scheduled);
        if !moved.is_empty() {
            let lead = format!("“{}”巡回宣讲到贵村的安排有调整，新的安排如下：", row.name);
            notices::tell_hosts(conn, &places, *village, lead, &moved, now).await?;
        }
        if !cancelled.is_empty() {
            let lead = format!(
                "很抱歉，“{}”巡回宣讲到贵村的以下场次暂时没有讲师能够前往，已取消，县妇联将另行安排：",
                row.name
            );
            notices::tell_hosts(conn, &places, *village, lead, &cancelled, now).await?;
        }
    }
    let cancelled = changed
        .iter()
        .filter(|(_, a)| a.state == SessionState::Cancelled)
        .count();
    Ok(Repaired {
        moved: changed.len() - cancelled,
        cancelled,
        replan: false,
    })
}
