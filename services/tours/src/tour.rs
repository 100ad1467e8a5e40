//! 巡回宣讲: a tour is created by a coordinator of its county, for the whole county or some of
//! its townships, over a period, on one topic; its villages (every village in scope unless
//! listed) each with a venue.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use jinguo_core::auth::Target;
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_store::tours::{self as store, TourRow, TourState, TourVillageRow};
use jinguo_store::{Conn, orgs};
use serde::Deserialize;
use uuid::Uuid;

use crate::refusal::{Refusal, invalid};
use crate::rules::{
    self, MAX_CAPACITY, MAX_TOUR_DAYS, Removal, SESSION_MINUTES, SESSIONS_PER_VILLAGE, TourSpec,
    VENUES,
};

/// Who creates, plans, publishes and repairs tours: coordinators (and admins) of the county.
pub const MANAGE_TOURS: &str = "tour.manage";

/// A village to cover, with its venue (default 妇女之家) and capacity.
#[derive(Debug, Clone, Deserialize)]
pub struct VillageVenue {
    pub code: String,
    #[serde(default)]
    pub venue: Option<String>,
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// A tour as the coordinator asks for it.
#[derive(Debug, Clone, Deserialize)]
pub struct NewTour {
    pub name: String,
    pub county: String,
    /// Empty: the whole county.
    #[serde(default)]
    pub townships: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(default)]
    pub weekends: bool,
    pub topic: String,
    pub session_minutes: u32,
    #[serde(default = "one")]
    pub sessions_per_village: u32,
    #[serde(with = "jinguo_tours::hhmm")]
    pub day_start: NaiveTime,
    #[serde(with = "jinguo_tours::hhmm")]
    pub day_end: NaiveTime,
    /// Empty: every village in scope, at its 妇女之家.
    #[serde(default)]
    pub villages: Vec<VillageVenue>,
}

fn one() -> u32 {
    1
}

/// Whether `person` may manage tours of `county`: the one check of every tour entry point.
pub async fn may_manage(
    conn: &mut Conn<'_>,
    person: Uuid,
    county: OrgCode,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if jinguo_auth::may(conn, person, MANAGE_TOURS, Target::Org(county), now).await? {
        Ok(())
    } else {
        Err(Refusal::Forbidden(MANAGE_TOURS))
    }
}

/// Creates a draft tour for `by`, a coordinator of its county.
pub async fn create_tour(
    conn: &mut Conn<'_>,
    by: Uuid,
    t: &NewTour,
    now: DateTime<Utc>,
) -> Result<TourRow, Refusal> {
    let name = rules::name("name", &t.name)?;
    let county = OrgCode::parse(t.county.trim())
        .ok()
        .filter(|c| c.level() == OrgLevel::County)
        .ok_or_else(|| invalid("county", "请选择县（区）"))?;
    may_manage(conn, by, county, now).await?;
    if orgs::get(conn, county).await?.is_none() {
        return Err(invalid("county", "没有这个县（区）"));
    }
    let mut townships = Vec::new();
    for raw in &t.townships {
        let code = OrgCode::parse(raw.trim())
            .ok()
            .filter(|c| c.level() == OrgLevel::Township && c.is_within(&county))
            .ok_or_else(|| invalid("townships", "所选乡镇（街道）不在本县（区）"))?;
        if !townships.contains(&code) {
            townships.push(code);
        }
    }
    if t.to < t.from {
        return Err(invalid("to", "结束日期早于开始日期"));
    }
    if (t.to - t.from).num_days() + 1 > MAX_TOUR_DAYS {
        return Err(invalid("to", format!("一次宣讲最长 {MAX_TOUR_DAYS} 天")));
    }
    let topic = rules::topic("topic", &t.topic)?;
    let session_minutes = rules::within("session_minutes", t.session_minutes, SESSION_MINUTES)?;
    let sessions_per_village = rules::within(
        "sessions_per_village",
        t.sessions_per_village,
        (1, SESSIONS_PER_VILLAGE),
    )?;
    if t.day_end <= t.day_start {
        return Err(invalid("day_end", "每天结束时间应晚于开始时间"));
    }
    if (t.day_end - t.day_start).num_minutes() < i64::from(session_minutes) {
        return Err(invalid("day_end", "每天的时段放不下一场宣讲"));
    }
    let villages = villages_in_scope(conn, county, &townships, &t.villages).await?;
    let spec = TourSpec {
        townships,
        from: t.from,
        to: t.to,
        weekends: t.weekends,
        topic,
        session_minutes,
        sessions_per_village,
        day_start: t.day_start,
        day_end: t.day_end,
    };
    let row = TourRow {
        id: jinguo_bus::new_id(),
        name,
        county,
        spec: serde_json::to_string(&spec).expect("a spec serialises"),
        state: TourState::Draft,
        plan_request: None,
        plan: None,
        plan_note: None,
        removals: serde_json::to_string(&Vec::<Removal>::new()).expect("serialises"),
        created_by: by,
        created_at: now,
        planned_at: None,
        published_at: None,
    };
    store::insert_tour(conn, &row).await?;
    store::insert_villages(conn, row.id, &villages).await?;
    jinguo_auth::record(
        conn,
        &by.to_string(),
        "tour.created",
        &row.id.to_string(),
        serde_json::json!({ "county": county.to_string(), "villages": villages.len() }),
        now,
    )
    .await?;
    Ok(row)
}

/// Gives a tour not yet published its villages again, each with its venue and capacity
/// (within the tour's townships or county). A plan computed for the old villages is dropped:
/// the tour goes back to draft, and a plan being computed becomes stale.
pub async fn set_villages(
    conn: &mut Conn<'_>,
    by: Uuid,
    tour: Uuid,
    villages: &[VillageVenue],
    now: DateTime<Utc>,
) -> Result<TourRow, Refusal> {
    let (mut row, spec) = managed(conn, by, tour, true, now).await?;
    if row.state == TourState::Published {
        return Err(crate::refusal::conflict(
            "已发布的宣讲不能再改村（社区）或场所，请用调整安排",
        ));
    }
    if villages.is_empty() {
        return Err(invalid("villages", "请至少选择一个村（社区）"));
    }
    let rows = villages_in_scope(conn, row.county, &spec.townships, villages).await?;
    store::delete_villages(conn, tour).await?;
    store::insert_villages(conn, tour, &rows).await?;
    back_to_draft(&mut row);
    store::update_tour(conn, &row).await?;
    jinguo_auth::record(
        conn,
        &by.to_string(),
        "tour.villages_set",
        &tour.to_string(),
        serde_json::json!({ "villages": rows.len() }),
        now,
    )
    .await?;
    Ok(row)
}

/// Drops the plan of a tour not yet published whose input changed (villages, removals): it
/// goes back to draft, and a plan being computed finds itself stale.
pub(crate) fn back_to_draft(row: &mut TourRow) {
    if row.state != TourState::Draft {
        row.state = TourState::Draft;
        row.plan = None;
        row.plan_request = None;
        row.plan_note = None;
        row.planned_at = None;
    }
}

/// The villages a tour may cover, by township, each with whether it is chosen and its venue
/// and capacity: what the page's village form shows.
pub(crate) async fn village_choices(
    conn: &mut Conn<'_>,
    row: &TourRow,
    spec: &TourSpec,
) -> Result<Vec<(String, Vec<crate::views::VillageChoice>)>, Refusal> {
    let chosen: std::collections::HashMap<OrgCode, TourVillageRow> = store::villages(conn, row.id)
        .await?
        .into_iter()
        .map(|v| (v.village, v))
        .collect();
    let in_scope = |code: &OrgCode| {
        spec.townships.is_empty() || spec.townships.iter().any(|t| code.is_within(t))
    };
    let towns: std::collections::HashMap<OrgCode, String> =
        orgs::below(conn, row.county, OrgLevel::Township)
            .await?
            .into_iter()
            .map(|u| (u.code, u.name))
            .collect();
    let mut groups: Vec<(String, Vec<crate::views::VillageChoice>)> = Vec::new();
    for unit in orgs::below(conn, row.county, OrgLevel::Village).await? {
        if unit.location.is_none() || !in_scope(&unit.code) {
            continue;
        }
        let town = towns
            .get(&unit.code.at_level(OrgLevel::Township))
            .cloned()
            .unwrap_or_default();
        let here = chosen.get(&unit.code);
        let choice = crate::views::VillageChoice {
            code: unit.code.to_string(),
            name: unit.name,
            chosen: here.is_some(),
            venue: here.map_or(VENUES[0], |v| {
                VENUES
                    .iter()
                    .copied()
                    .find(|x| *x == v.venue)
                    .unwrap_or(VENUES[0])
            }),
            capacity: here.and_then(|v| v.capacity),
        };
        match groups.last_mut() {
            Some((t, list)) if *t == town => list.push(choice),
            _ => groups.push((town, vec![choice])),
        }
    }
    Ok(groups)
}

/// The villages to cover: those listed (each inside the scope, with a location), or every
/// village in scope that has a location.
async fn villages_in_scope(
    conn: &mut Conn<'_>,
    county: OrgCode,
    townships: &[OrgCode],
    listed: &[VillageVenue],
) -> Result<Vec<TourVillageRow>, Refusal> {
    let in_scope = |code: &OrgCode| {
        code.is_within(&county)
            && (townships.is_empty() || townships.iter().any(|t| code.is_within(t)))
    };
    let mut out: Vec<TourVillageRow> = Vec::new();
    if listed.is_empty() {
        for unit in orgs::below(conn, county, OrgLevel::Village).await? {
            if unit.location.is_some() && in_scope(&unit.code) {
                out.push(TourVillageRow {
                    village: unit.code,
                    venue: VENUES[0].to_owned(),
                    capacity: None,
                });
            }
        }
    } else {
        let mut codes = Vec::new();
        for v in listed {
            let code = OrgCode::parse(v.code.trim())
                .ok()
                .filter(|c| c.level() == OrgLevel::Village && in_scope(c))
                .ok_or_else(|| invalid("villages", "所选村（社区）不在宣讲范围内"))?;
            let venue = match v.venue.as_deref().map(str::trim) {
                None | Some("") => VENUES[0].to_owned(),
                Some(venue) if VENUES.contains(&venue) => venue.to_owned(),
                Some(_) => {
                    return Err(invalid(
                        "villages",
                        format!("宣讲场所应为{}", VENUES.join("或")),
                    ));
                }
            };
            if let Some(c) = v.capacity {
                rules::within("villages", c, (1, MAX_CAPACITY))?;
            }
            if codes.contains(&code) {
                continue;
            }
            codes.push(code);
            out.push(TourVillageRow {
                village: code,
                venue,
                capacity: v.capacity,
            });
        }
        let found = orgs::units(conn, &codes).await?;
        if found.len() != codes.len() || found.iter().any(|u| u.location.is_none()) {
            return Err(invalid(
                "villages",
                "所选村（社区）中有的不存在或没有位置信息",
            ));
        }
        out.sort_by_key(|v| v.village);
    }
    if out.is_empty() {
        return Err(invalid("townships", "宣讲范围内没有村（社区）"));
    }
    Ok(out)
}

/// The tour and its spec, for someone who manages tours of its county.
pub(crate) async fn managed(
    conn: &mut Conn<'_>,
    by: Uuid,
    tour: Uuid,
    lock: bool,
    now: DateTime<Utc>,
) -> Result<(TourRow, TourSpec), Refusal> {
    let row = if lock {
        store::lock_tour(conn, tour).await?
    } else {
        store::tour(conn, tour).await?
    };
    let row = row.ok_or(Refusal::NotFound("没有这个宣讲活动"))?;
    may_manage(conn, by, row.county, now).await?;
    let spec = spec_of(&row)?;
    Ok((row, spec))
}

pub(crate) fn spec_of(row: &TourRow) -> Result<TourSpec, Refusal> {
    serde_json::from_str(&row.spec).map_err(|e| Refusal::Corrupt {
        what: "tour spec",
        problem: e.to_string(),
    })
}

pub(crate) fn removals_of(row: &TourRow) -> Result<Vec<Removal>, Refusal> {
    serde_json::from_str(&row.removals).map_err(|e| Refusal::Corrupt {
        what: "tour removals",
        problem: e.to_string(),
    })
}
