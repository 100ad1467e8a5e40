//! Publishing: the checked plan becomes sessions (each with a UID kept for its life), every
//! lecturer is mailed her talks with a calendar file, every village host the visit, and each
//! talk gets its reminder and attendance request.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use jinguo_core::org::OrgCode;
use jinguo_store::Conn;
use jinguo_store::tours::{self as store, SessionRow, SessionState, TourRow, TourState};
use jinguo_tours::Schedule;
use uuid::Uuid;

use crate::notices::{self, Places};
use crate::plan::instance_of;
use crate::refusal::{Refusal, conflict};
use crate::rules::Settings;
use crate::tour::managed;

pub(crate) fn plan_of(row: &TourRow) -> Result<Option<Schedule>, Refusal> {
    row.plan
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| Refusal::Corrupt {
            what: "tour plan",
            problem: e.to_string(),
        })
}

/// The venues of a tour's villages.
pub(crate) async fn venues(
    conn: &mut Conn<'_>,
    tour: Uuid,
) -> Result<HashMap<OrgCode, String>, Refusal> {
    Ok(store::villages(conn, tour)
        .await?
        .into_iter()
        .map(|v| (v.village, v.venue))
        .collect())
}

/// Publishes the planned tour: the plan is checked again against today's volunteers and
/// calendar (one changed since planning must be planned again), then sessions, mails and
/// timers, all in the caller's transaction.
pub async fn publish(
    conn: &mut Conn<'_>,
    settings: &Settings,
    by: Uuid,
    tour: Uuid,
    now: DateTime<Utc>,
) -> Result<TourRow, Refusal> {
    let (mut row, spec) = managed(conn, by, tour, true, now).await?;
    match row.state {
        TourState::Planned => {}
        TourState::Published => return Err(conflict("这个宣讲安排已经发布")),
        _ => return Err(conflict("还没有计算出宣讲安排，请先计算")),
    }
    let plan = plan_of(&row)?.ok_or_else(|| conflict("还没有计算出宣讲安排，请先计算"))?;
    let planned = instance_of(conn, settings, &row).await?;
    if jinguo_tours::check(&planned.instance, &plan).is_err() {
        return Err(conflict("志愿者或日期在计算之后有变动，请重新计算后再发布"));
    }
    let mut per_village: BTreeMap<&str, u32> = BTreeMap::new();
    let mut sessions = Vec::new();
    let mut ordered = plan.sessions.clone();
    ordered.sort_by(|a, b| (a.date, a.start, &a.village).cmp(&(b.date, b.start, &b.village)));
    for s in &ordered {
        let n = per_village.entry(s.village.as_str()).or_default();
        *n += 1;
        let corrupt = |what: &str| Refusal::Corrupt {
            what: "tour plan",
            problem: format!("{what} {:?}", s),
        };
        sessions.push(SessionRow {
            id: jinguo_bus::new_id(),
            tour_id: tour,
            village: OrgCode::parse(&s.village).map_err(|_| corrupt("village"))?,
            n: *n,
            volunteer: Some(s.lecturer.parse().map_err(|_| corrupt("lecturer"))?),
            day: s.date,
            starts: s.start,
            ends: s.end,
            sequence: 0,
            state: SessionState::Scheduled,
            attendance: None,
        });
    }
    store::insert_sessions(conn, &sessions).await?;
    let places = Places::load(
        conn,
        tour,
        &row.name,
        &spec.topic,
        planned.venues,
        &sessions,
    )
    .await?;
    let mut by_lecturer: BTreeMap<Uuid, Vec<&SessionRow>> = BTreeMap::new();
    let mut by_village: BTreeMap<OrgCode, Vec<&SessionRow>> = BTreeMap::new();
    for s in &sessions {
        if let Some(v) = s.volunteer {
            by_lecturer.entry(v).or_default().push(s);
        }
        by_village.entry(s.village).or_default().push(s);
        notices::schedule_timers(conn, settings, s, now).await?;
    }
    for (lecturer, mine) in &by_lecturer {
        let lead = format!(
            "感谢您参加“{}”巡回宣讲（主题：{}）。您的宣讲安排如下，共 {} 场：",
            row.name,
            spec.topic,
            mine.len()
        );
        notices::tell_lecturer(conn, settings, &places, *lecturer, lead, mine, now).await?;
    }
    for (village, here) in &by_village {
        let lead = format!(
            "“{}”巡回宣讲（主题：{}）将到贵村，请提前通知妇女群众并准备场地：",
            row.name, spec.topic
        );
        notices::tell_hosts(conn, &places, *village, lead, here, now).await?;
    }
    row.state = TourState::Published;
    row.published_at = Some(now);
    store::update_tour(conn, &row).await?;
    jinguo_auth::record(
        conn,
        &by.to_string(),
        "tour.published",
        &tour.to_string(),
        serde_json::json!({ "sessions": sessions.len() }),
        now,
    )
    .await?;
    Ok(row)
}
