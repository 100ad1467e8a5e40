//! Planning: the coordinator asks (`request_plan`), the tours worker solves (`plan_tour`, a
//! job run outside any transaction, within the configured time limit) and stores the best
//! checked schedule it found. A newer request makes an older job's result stale; a
//! redelivered job finds its request answered and does nothing.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use jinguo_bus::Job;
use jinguo_core::org::{OrgCode, OrgUnit};
use jinguo_store::tours::{self as store, TourRow, TourState};
use jinguo_store::{Conn, Store, orgs, outbox, people};
use jinguo_tours::{Instance, Lecturer, Period, Schedule, Village};
use uuid::Uuid;

use crate::jobs::PlanTour;
use crate::refusal::{Refusal, conflict};
use crate::rules::{Removal, Settings, TourSpec};
use crate::tour::{managed, removals_of, spec_of};

/// Straight-line distance × this is the road distance the solver assumes.
const ROAD_FACTOR: f64 = 1.3;
/// Average speed on county roads, km/h.
const SPEED_KMH: f64 = 40.0;
/// Talks start on a ten-minute step (09:00, 09:10, …), not at 09:02: a time a host can
/// announce.
const START_STEP_MINUTES: u32 = 10;

/// A tour as the solver sees it, with what people read beside the codes.
pub struct Planned {
    pub instance: Instance,
    /// Village code → the unit (name, township, location).
    pub villages: HashMap<String, OrgUnit>,
    /// Village → venue.
    pub venues: HashMap<OrgCode, String>,
    /// Lecturer id (the volunteer's person id) → name.
    pub lecturers: HashMap<String, String>,
}

/// Builds the solver's instance of `row`: its villages, the county's volunteers who are not
/// removed, its days from the working-day calendar of its county, minus removed days.
pub async fn instance_of(
    conn: &mut Conn<'_>,
    settings: &Settings,
    row: &TourRow,
) -> Result<Planned, Refusal> {
    let spec = spec_of(row)?;
    let removals = removals_of(row)?;
    let tour_villages = store::villages(conn, row.id).await?;
    let codes: Vec<OrgCode> = tour_villages.iter().map(|v| v.village).collect();
    let units: HashMap<String, OrgUnit> = orgs::units(conn, &codes)
        .await?
        .into_iter()
        .map(|u| (u.code.to_string(), u))
        .collect();
    let villages: Vec<Village> = tour_villages
        .iter()
        .filter_map(|tv| {
            let unit = units.get(tv.village.as_str())?;
            let at = unit.location?;
            Some(Village {
                code: tv.village.to_string(),
                name: unit.name.clone(),
                lat: at.latitude,
                lon: at.longitude,
                sessions: spec.sessions_per_village,
                venue_capacity: tv.capacity,
            })
        })
        .collect();
    let venues = tour_villages
        .iter()
        .map(|tv| (tv.village, tv.venue.clone()))
        .collect();
    let days = tour_days(settings, row.county, &spec, &removals);
    let volunteers = store::volunteers_of(conn, row.county).await?;
    let homes: HashMap<OrgCode, OrgUnit> = orgs::units(
        conn,
        &volunteers
            .iter()
            .map(|v| v.home_village)
            .collect::<Vec<_>>(),
    )
    .await?
    .into_iter()
    .map(|u| (u.code, u))
    .collect();
    let people = people::names(
        conn,
        &volunteers.iter().map(|v| v.person_id).collect::<Vec<_>>(),
    )
    .await?;
    let mut lecturers = Vec::new();
    let mut names = HashMap::new();
    for v in volunteers {
        let id = v.person_id;
        if removals
            .iter()
            .any(|r| r.volunteer == Some(id) && r.day.is_none())
        {
            continue;
        }
        let Some(home) = homes.get(&v.home_village).and_then(|u| u.location) else {
            continue;
        };
        // A disabled person gives no talks.
        let Some((name, true)) = people.get(&id).cloned() else {
            continue;
        };
        let available = days
            .iter()
            .copied()
            .filter(|d| v.available_from.is_none_or(|f| f <= *d))
            .filter(|d| v.available_to.is_none_or(|t| *d <= t))
            .collect();
        let mut unavailable = v.unavailable.clone();
        unavailable.extend(removals.iter().filter_map(|r| match (r.volunteer, r.day) {
            (Some(who), Some(day)) if who == id => Some(day),
            _ => None,
        }));
        names.insert(id.to_string(), name.clone());
        lecturers.push(Lecturer {
            id: id.to_string(),
            name,
            home_lat: home.latitude,
            home_lon: home.longitude,
            topics: v.topics,
            available,
            unavailable,
            max_per_day: v.max_per_day,
        });
    }
    Ok(Planned {
        instance: Instance {
            villages,
            lecturers,
            days,
            period: None,
            day_start: spec.day_start,
            day_end: spec.day_end,
            session_minutes: spec.session_minutes,
            speed_kmh: SPEED_KMH,
            road_factor: ROAD_FACTOR,
            topic: spec.topic.clone(),
            travel_matrix: None,
            fairness_slack: 0.0,
            start_step_minutes: START_STEP_MINUTES,
        },
        villages: units,
        venues,
        lecturers: names,
    })
}

/// The tour's days: its period's working days in its county (holidays off, 调休 on), weekends
/// only when allowed, minus the days taken out for everyone.
fn tour_days(
    settings: &Settings,
    county: OrgCode,
    spec: &TourSpec,
    removals: &[Removal],
) -> Vec<NaiveDate> {
    let mut period = Instance {
        villages: Vec::new(),
        lecturers: Vec::new(),
        days: Vec::new(),
        period: Some(Period {
            from: spec.from,
            to: spec.to,
            weekends: spec.weekends,
        }),
        day_start: spec.day_start,
        day_end: spec.day_end,
        session_minutes: spec.session_minutes,
        speed_kmh: SPEED_KMH,
        road_factor: ROAD_FACTOR,
        topic: spec.topic.clone(),
        travel_matrix: None,
        fairness_slack: 0.0,
        start_step_minutes: START_STEP_MINUTES,
    };
    let calendar = &settings.calendar;
    // The spec's bounds were checked when the tour was created.
    let resolved = period.resolve_days(
        |d| calendar.is_working_day(d, Some(&county)),
        |d| calendar.is_holiday(d, Some(&county)),
    );
    if resolved.is_err() {
        return Vec::new();
    }
    period
        .days
        .into_iter()
        .filter(|d| {
            !removals
                .iter()
                .any(|r| r.volunteer.is_none() && r.day == Some(*d))
        })
        .collect()
}

/// Asks the worker for a plan of `tour`: a draft or planned tour becomes planning; a newer
/// request supersedes one still running. A published tour is repaired, not planned again.
pub async fn request_plan(
    conn: &mut Conn<'_>,
    by: Uuid,
    tour: Uuid,
    now: DateTime<Utc>,
) -> Result<TourRow, Refusal> {
    let (mut row, _) = managed(conn, by, tour, true, now).await?;
    if row.state == TourState::Published {
        return Err(conflict(
            "已发布的宣讲安排不能重新计算，请用调整（取消某位讲师或某一天）",
        ));
    }
    let request = jinguo_bus::new_id();
    row.state = TourState::Planning;
    row.plan_request = Some(request);
    row.plan_note = None;
    store::update_tour(conn, &row).await?;
    let job = PlanTour { tour, request }.envelope(now);
    outbox::push(conn, &[job], now).await?;
    jinguo_auth::record(
        conn,
        &by.to_string(),
        "tour.plan_requested",
        &tour.to_string(),
        serde_json::json!({ "request": request }),
        now,
    )
    .await?;
    Ok(row)
}

/// The solver's budget: a wall-clock limit for the search (90 %) and the rest (93 %).
struct Deadline {
    started: Instant,
    limit: std::time::Duration,
}

impl jinguo_tours::Budget for Deadline {
    fn spent(&mut self) -> f64 {
        self.started.elapsed().as_secs_f64() / (0.9 * self.limit.as_secs_f64()).max(1e-9)
    }

    fn exhausted(&mut self) -> bool {
        self.started.elapsed().as_secs_f64() >= 0.93 * self.limit.as_secs_f64()
    }
}

/// What the worker concluded.
#[derive(Clone)]
enum Outcome {
    Plan(Schedule),
    Failed(String),
}

/// The job: solves the tour if `request` is still the one asked for, and stores the checked
/// plan (or why there is none). No transaction is open while solving.
pub(crate) async fn plan_tour(
    store: &Store,
    settings: &Settings,
    tour: Uuid,
    request: Uuid,
) -> Result<(), Refusal> {
    let s = settings.clone();
    let current = store
        .read(move |c| {
            Box::pin(async move {
                let Some(row) = store::tour(c, tour).await? else {
                    return Ok::<_, Refusal>(None);
                };
                if row.state != TourState::Planning || row.plan_request != Some(request) {
                    return Ok(None);
                }
                Ok(Some(instance_of(c, &s, &row).await?.instance))
            })
        })
        .await?;
    let Some(instance) = current else {
        tracing::info!(%tour, %request, "plan request answered or superseded; nothing to do");
        return Ok(());
    };
    let limit = settings.plan_time_limit;
    let seed = request.as_u128() as u64;
    // A solver that stopped abnormally leaves the tour a draft to plan again, not planning
    // for ever.
    let outcome = tokio::task::spawn_blocking(move || solve_checked(&instance, seed, limit))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(%tour, error = %e, "the solver stopped abnormally");
            Outcome::Failed("计算意外中止，请重新计算".into())
        });
    let now = jinguo_bus::now();
    store
        .transaction(move |c| {
            let outcome = outcome.clone();
            Box::pin(async move {
                let Some(mut row) = store::lock_tour(c, tour).await? else {
                    return Ok::<_, Refusal>(());
                };
                if row.state != TourState::Planning || row.plan_request != Some(request) {
                    return Ok(());
                }
                match outcome {
                    Outcome::Plan(schedule) => {
                        row.state = TourState::Planned;
                        row.plan = Some(serde_json::to_string(&schedule).expect("serialises"));
                        row.plan_note = None;
                        row.planned_at = Some(now);
                    }
                    Outcome::Failed(note) => {
                        row.state = TourState::Draft;
                        row.plan_note = Some(note);
                    }
                }
                store::update_tour(c, &row).await?;
                Ok(())
            })
        })
        .await
}

fn solve_checked(instance: &Instance, seed: u64, limit: std::time::Duration) -> Outcome {
    if instance.lecturers.is_empty() {
        return Outcome::Failed("本县（区）还没有可宣讲的志愿者，请先登记巾帼志愿者".into());
    }
    if instance.days.is_empty() {
        return Outcome::Failed("宣讲期间没有可用的日子（工作日或允许的周末）".into());
    }
    if let Err(e) = instance.validate() {
        tracing::warn!(problem = %e, "tour instance refused by the solver");
        return Outcome::Failed("宣讲数据有误，无法计算，请联系管理员".into());
    }
    let mut budget = Deadline {
        started: Instant::now(),
        limit,
    };
    let schedule = jinguo_tours::solve(instance, seed, &mut budget, &mut |_, _, _| {});
    match jinguo_tours::check(instance, &schedule) {
        Ok(_) => Outcome::Plan(schedule),
        Err(v) => {
            tracing::error!(problems = v.len(), first = ?v.first(), "a computed plan failed its check");
            Outcome::Failed("计算结果未通过校验，请重新计算".into())
        }
    }
}
