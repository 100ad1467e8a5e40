//! What the api renders of a tour: one read per page. Talks carry names (the village with its
//! township, the venue, the lecturer), never codes; the plan before publishing and the
//! sessions after it read alike.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use jinguo_core::org::{OrgCode, OrgLevel, OrgUnit};
use jinguo_store::tours::{self as store, SessionRow, SessionState, TourRow, TourState};
use jinguo_store::{Conn, orgs};
use jinguo_tours::Reason;
use jinguo_tours::ics::Method;
use serde::Serialize;
use uuid::Uuid;

use crate::notices::{self, Places, day_label, time_label};
use crate::plan::instance_of;
use crate::publish::{plan_of, venues};
use crate::refusal::Refusal;
use crate::rules::{Settings, TourSpec};
use crate::tour::{managed, removals_of};

pub fn state_label(s: TourState) -> &'static str {
    match s {
        TourState::Draft => "草稿",
        TourState::Planning => "正在计算",
        TourState::Planned => "已计算，待发布",
        TourState::Published => "已发布",
    }
}

pub fn reason_label(r: Reason) -> &'static str {
    match r {
        Reason::NoLecturerWithTopic => "没有能讲这个主题的志愿者",
        Reason::NoAvailableDate => "宣讲期间没有志愿者有空",
        Reason::NotReachableWithinDay => "路程太远，一天之内往返不了",
        Reason::NoCapacityLeft => "志愿者的场次已排满",
    }
}

/// A tour in a list.
#[derive(Debug, Clone, Serialize)]
pub struct TourLine {
    pub id: Uuid,
    pub name: String,
    pub county: String,
    pub state: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub topic: String,
}

/// One talk as pages and the schedule show it.
#[derive(Debug, Clone, Serialize)]
pub struct TalkView {
    pub session: Option<Uuid>,
    pub uid: Option<String>,
    pub sequence: u32,
    pub village_code: String,
    pub village: String,
    pub venue: String,
    pub lecturer_id: Option<Uuid>,
    pub lecturer: String,
    pub date: NaiveDate,
    pub day: String,
    pub time: String,
    /// 计划 / 已安排 / 已取消 / 已举行.
    pub state: &'static str,
    pub women: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayView {
    pub day: String,
    pub talks: Vec<TalkView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LecturerView {
    pub id: Uuid,
    pub name: String,
    pub talks: Vec<TalkView>,
    pub km: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnassignedView {
    pub village: String,
    pub reason: &'static str,
}

/// How far a township is covered (村村有活动).
#[derive(Debug, Clone, Serialize)]
pub struct TownshipCoverage {
    pub township: String,
    pub villages: usize,
    /// Villages with every talk scheduled or held.
    pub covered: usize,
    pub held: usize,
    pub women: u32,
    /// Each village of the township: its name and status (已举行, 已安排 or 未覆盖).
    pub list: Vec<(String, &'static str)>,
}

/// A village the tour may cover, as the page's village form shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VillageChoice {
    pub code: String,
    pub name: String,
    pub chosen: bool,
    pub venue: &'static str,
    pub capacity: Option<u32>,
}

/// A village's point on the map.
#[derive(Debug, Clone, Serialize)]
pub struct VillagePoint {
    pub name: String,
    pub status: &'static str,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TourView {
    pub id: Uuid,
    pub name: String,
    pub county: String,
    #[serde(skip)]
    pub state: TourState,
    pub state_label: &'static str,
    pub spec_days: String,
    pub topic: String,
    pub session_minutes: u32,
    pub plan_note: Option<String>,
    pub villages: usize,
    pub covered: usize,
    pub travel_km: f64,
    pub days: Vec<DayView>,
    pub lecturers: Vec<LecturerView>,
    pub unassigned: Vec<UnassignedView>,
    pub coverage: Vec<TownshipCoverage>,
    pub points: Vec<VillagePoint>,
    /// Lecturers of the county and the tour's days, for the removal pickers.
    pub volunteer_choices: Vec<(Uuid, String)>,
    pub day_choices: Vec<(NaiveDate, String)>,
    pub removed: Vec<String>,
    /// Before publishing: the villages in scope by township, for choosing villages and venues.
    pub village_choices: Vec<(String, Vec<VillageChoice>)>,
    /// Villages of the tour with nobody to host it (no active reviewer there): they hear of
    /// nothing, so the coordinator must tell them herself.
    pub without_host: Vec<String>,
    /// The tour runs into a year whose holidays and 调休 are not loaded: its days are Monday to
    /// Friday there, which the coordinator must check herself.
    pub calendar_note: Option<String>,
}

/// The counties where `person` may manage tours, by code, with their names: the one rule
/// (`tour.manage` on the county), decided in memory over the person's posts and the permission
/// table read once, so that a province's admin costs two queries and a list, not one check per
/// county.
pub async fn counties_for(
    conn: &mut Conn<'_>,
    person: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<(OrgCode, String)>, Refusal> {
    units_allowed(conn, person, now, crate::tour::MANAGE_TOURS, false).await
}

/// Where `person` keeps volunteers, by code, with names: each county where she may manage
/// volunteers, and, for a post at a township, that township (a township's coordinator keeps
/// the volunteers living in her villages). The same rule as adding one (`volunteer.manage`),
/// decided like [`counties_for`].
pub async fn volunteer_scopes(
    conn: &mut Conn<'_>,
    person: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<(OrgCode, String)>, Refusal> {
    units_allowed(
        conn,
        person,
        now,
        crate::volunteers::MANAGE_VOLUNTEERS,
        true,
    )
    .await
}

/// The counties (and with `townships`, the townships of posts below a county) on which
/// `person` holds `action`; a township inside a county already listed is left out.
async fn units_allowed(
    conn: &mut Conn<'_>,
    person: Uuid,
    now: DateTime<Utc>,
    action: &str,
    townships: bool,
) -> Result<Vec<(OrgCode, String)>, Refusal> {
    let Some(principal) = jinguo_store::staff::principal(conn, person, now).await? else {
        return Ok(Vec::new());
    };
    let table = jinguo_store::staff::permissions(conn).await?;
    let mut out: Vec<(OrgCode, String)> = Vec::new();
    for a in &principal.assignments {
        let units = match a.org.level() {
            OrgLevel::County => orgs::units(conn, &[a.org]).await?,
            level if level < OrgLevel::County => orgs::below(conn, a.org, OrgLevel::County).await?,
            OrgLevel::Township if townships => orgs::units(conn, &[a.org]).await?,
            _ => Vec::new(),
        };
        for u in units {
            let allowed = jinguo_core::auth::authorize(
                &principal,
                action,
                jinguo_core::auth::Target::Org(u.code),
                &table,
                now,
            );
            if allowed && !out.iter().any(|(c, _)| *c == u.code) {
                out.push((u.code, u.name));
            }
        }
    }
    // A township whose county is listed too adds nothing.
    let counties: Vec<OrgCode> = out
        .iter()
        .filter(|(c, _)| c.level() == OrgLevel::County)
        .map(|(c, _)| *c)
        .collect();
    out.retain(|(c, _)| {
        c.level() == OrgLevel::County || !counties.contains(&c.at_level(OrgLevel::County))
    });
    Ok(out)
}

/// The tours of the counties `person` manages tours in, newest first.
pub async fn tours_for(
    conn: &mut Conn<'_>,
    person: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<TourLine>, Refusal> {
    let counties = counties_for(conn, person, now).await?;
    let codes: Vec<OrgCode> = counties.iter().map(|(c, _)| *c).collect();
    let names: HashMap<OrgCode, String> = counties.into_iter().collect();
    let tours = store::tours_in(conn, &codes).await?;
    tours
        .into_iter()
        .map(|t| {
            let spec = crate::tour::spec_of(&t)?;
            Ok(TourLine {
                id: t.id,
                name: t.name,
                county: names.get(&t.county).cloned().unwrap_or_default(),
                state: state_label(t.state),
                from: spec.from,
                to: spec.to,
                topic: spec.topic,
            })
        })
        .collect()
}

fn talk_state(s: SessionState) -> &'static str {
    match s {
        SessionState::Scheduled => "已安排",
        SessionState::Cancelled => "已取消",
        SessionState::Held => "已举行",
    }
}

/// The talks of the tour: its sessions once published, else its plan.
async fn talks(
    conn: &mut Conn<'_>,
    row: &TourRow,
    spec: &TourSpec,
    venues: HashMap<OrgCode, String>,
) -> Result<Vec<TalkView>, Refusal> {
    let sessions: Vec<SessionRow> = if row.state == TourState::Published {
        store::sessions(conn, row.id).await?
    } else {
        let plan = plan_of(row)?;
        let mut per_village: HashMap<String, u32> = HashMap::new();
        let mut out = Vec::new();
        let mut planned = plan.map(|p| p.sessions).unwrap_or_default();
        planned.sort_by(|a, b| (a.date, a.start, &a.village).cmp(&(b.date, b.start, &b.village)));
        for s in planned {
            let n = per_village.entry(s.village.clone()).or_default();
            *n += 1;
            let (Ok(village), Ok(v)) = (OrgCode::parse(&s.village), s.lecturer.parse()) else {
                continue;
            };
            out.push(SessionRow {
                id: Uuid::nil(),
                tour_id: row.id,
                village,
                n: *n,
                volunteer: Some(v),
                day: s.date,
                starts: s.start,
                ends: s.end,
                sequence: 0,
                state: SessionState::Scheduled,
                attendance: None,
            });
        }
        out
    };
    let places = Places::load(conn, row.id, &row.name, &spec.topic, venues, &sessions).await?;
    let published = row.state == TourState::Published;
    let views = sessions
        .iter()
        .map(|s| TalkView {
            session: published.then_some(s.id),
            uid: published.then(|| notices::uid(row.id, s)),
            sequence: s.sequence,
            village_code: s.village.to_string(),
            village: places.village(s.village).to_owned(),
            venue: places.venue(s.village).to_owned(),
            lecturer_id: s.volunteer,
            lecturer: places.lecturer(s.volunteer).to_owned(),
            date: s.day,
            day: day_label(s.day),
            time: time_label(s.starts, s.ends),
            state: if published {
                talk_state(s.state)
            } else {
                "计划"
            },
            women: s.attendance.as_ref().map(|a| a.women),
        })
        .collect();
    Ok(views)
}

/// The tour page's data, for someone who manages tours of its county.
pub async fn tour_view(
    conn: &mut Conn<'_>,
    settings: &Settings,
    by: Uuid,
    tour: Uuid,
    now: DateTime<Utc>,
) -> Result<TourView, Refusal> {
    let (row, spec) = managed(conn, by, tour, false, now).await?;
    let planned = instance_of(conn, settings, &row).await?;
    let talks = talks(conn, &row, &spec, planned.venues.clone()).await?;
    let inst = &planned.instance;
    let county = orgs::names(conn, &[row.county]).await?;

    let mut days: BTreeMap<NaiveDate, Vec<TalkView>> = BTreeMap::new();
    let mut per_lecturer: BTreeMap<Uuid, Vec<TalkView>> = BTreeMap::new();
    for t in &talks {
        days.entry(t.date).or_default().push(t.clone());
        if let (Some(v), true) = (t.lecturer_id, t.state != "已取消") {
            per_lecturer.entry(v).or_default().push(t.clone());
        }
    }
    // Travel per lecturer: home → her talks of a day in order → home, straight line × road
    // factor, as the solver counts it.
    let village_at: HashMap<&str, (f64, f64)> = inst
        .villages
        .iter()
        .map(|v| (v.code.as_str(), (v.lat, v.lon)))
        .collect();
    let home_at: HashMap<&str, (f64, f64)> = inst
        .lecturers
        .iter()
        .map(|l| (l.id.as_str(), (l.home_lat, l.home_lon)))
        .collect();
    let km = |a: (f64, f64), b: (f64, f64)| {
        jinguo_tours::haversine_km(a.0, a.1, b.0, b.1) * inst.road_factor
    };
    let mut lecturers: Vec<LecturerView> = per_lecturer
        .into_iter()
        .map(|(id, talks)| {
            let mut total = 0.0;
            let home = home_at.get(id.to_string().as_str()).copied();
            let mut by_day: BTreeMap<NaiveDate, Vec<&TalkView>> = BTreeMap::new();
            for t in &talks {
                by_day.entry(t.date).or_default().push(t);
            }
            if let Some(home) = home {
                for day in by_day.values() {
                    let mut at = home;
                    for t in day {
                        if let Some(&v) = village_at.get(t.village_code.as_str()) {
                            total += km(at, v);
                            at = v;
                        }
                    }
                    total += km(at, home);
                }
            }
            LecturerView {
                id,
                name: talks
                    .first()
                    .map(|t| t.lecturer.clone())
                    .unwrap_or_default(),
                talks,
                km: (total * 10.0).round() / 10.0,
            }
        })
        .collect();
    lecturers.sort_by(|a, b| a.name.cmp(&b.name));

    // Coverage: a village is covered when all its talks are scheduled or held.
    let mut status: HashMap<&str, (u32, u32, u32)> = HashMap::new(); // live, held, women
    for t in &talks {
        let e = status.entry(t.village_code.as_str()).or_default();
        match t.state {
            "已举行" => {
                e.0 += 1;
                e.1 += 1;
                e.2 += t.women.unwrap_or(0);
            }
            "已安排" | "计划" => e.0 += 1,
            _ => {}
        }
    }
    let mut coverage: BTreeMap<OrgCode, TownshipCoverage> = BTreeMap::new();
    let mut points = Vec::new();
    let town_codes: Vec<OrgCode> = planned
        .villages
        .values()
        .map(|u| u.code.at_level(OrgLevel::Township))
        .collect();
    let town_names = orgs::names(conn, &town_codes).await?;
    // "什川镇上车村委会": a village as people name it.
    let full_name = |u: &OrgUnit| {
        let town = town_names.get(&u.code.at_level(OrgLevel::Township));
        format!("{}{}", town.map_or("", String::as_str), u.name)
    };
    let mut covered = 0;
    for v in &inst.villages {
        let Some(unit) = planned.villages.get(&v.code) else {
            continue;
        };
        let town = unit.code.at_level(OrgLevel::Township);
        let (live, held, women) = status.get(v.code.as_str()).copied().unwrap_or_default();
        let is_covered = live >= spec.sessions_per_village;
        covered += usize::from(is_covered);
        let c = coverage.entry(town).or_insert_with(|| TownshipCoverage {
            township: town_names.get(&town).cloned().unwrap_or_default(),
            villages: 0,
            covered: 0,
            held: 0,
            women: 0,
            list: Vec::new(),
        });
        c.villages += 1;
        c.covered += usize::from(is_covered);
        c.held += usize::from(held >= spec.sessions_per_village);
        c.women += women;
        let status = if held >= spec.sessions_per_village {
            "已举行"
        } else if is_covered {
            "已安排"
        } else {
            "未覆盖"
        };
        c.list.push((unit.name.clone(), status));
        points.push(VillagePoint {
            name: full_name(unit),
            status,
            lat: v.lat,
            lon: v.lon,
        });
    }
    let unassigned = if row.state == TourState::Published {
        talks
            .iter()
            .filter(|t| t.state == "已取消")
            .map(|t| UnassignedView {
                village: t.village.clone(),
                reason: "讲师无法前往，暂未能重新安排",
            })
            .collect()
    } else {
        plan_of(&row)?
            .map(|p| p.unassigned)
            .unwrap_or_default()
            .into_iter()
            .map(|u| UnassignedView {
                village: planned
                    .villages
                    .get(&u.village)
                    .map(full_name)
                    .unwrap_or_default(),
                reason: reason_label(u.reason),
            })
            .collect()
    };
    let removals = removals_of(&row)?;
    let mut volunteer_choices: Vec<(Uuid, String)> = planned
        .lecturers
        .iter()
        .filter_map(|(id, name)| Some((id.parse().ok()?, name.clone())))
        .collect();
    volunteer_choices.sort_by(|a, b| a.1.cmp(&b.1));
    let names_of: HashMap<Uuid, String> = volunteer_choices.iter().cloned().collect();
    let removed = removals
        .iter()
        .map(|r| match (r.volunteer, r.day) {
            (Some(v), Some(d)) => format!(
                "{} {}",
                names_of.get(&v).map_or("讲师", |s| s),
                day_label(d)
            ),
            (Some(v), None) => format!("{}（全部场次）", names_of.get(&v).map_or("讲师", |s| s)),
            (None, Some(d)) => format!("{}（全天）", day_label(d)),
            (None, None) => String::new(),
        })
        .collect();
    let travel_km = (lecturers.iter().map(|l| l.km).sum::<f64>() * 10.0).round() / 10.0;
    let codes: Vec<OrgCode> = planned.villages.values().map(|u| u.code).collect();
    let hosted =
        jinguo_store::staff::units_with_holders(conn, jinguo_core::auth::Role::Reviewer, &codes)
            .await?;
    let mut without_host: Vec<String> = planned
        .villages
        .values()
        .filter(|u| !hosted.contains(&u.code))
        .map(full_name)
        .collect();
    without_host.sort();
    let village_choices = if row.state == TourState::Published {
        Vec::new()
    } else {
        crate::tour::village_choices(conn, &row, &spec).await?
    };
    Ok(TourView {
        id: row.id,
        name: row.name.clone(),
        county: county.get(&row.county).cloned().unwrap_or_default(),
        state: row.state,
        state_label: state_label(row.state),
        spec_days: format!("{} 至 {}", spec.from, spec.to),
        topic: spec.topic.clone(),
        session_minutes: spec.session_minutes,
        plan_note: row.plan_note.clone(),
        villages: inst.villages.len(),
        covered,
        travel_km,
        days: days
            .into_iter()
            .map(|(d, talks)| DayView {
                day: day_label(d),
                talks,
            })
            .collect(),
        lecturers,
        unassigned,
        coverage: coverage.into_values().collect(),
        points,
        volunteer_choices,
        day_choices: inst.days.iter().map(|d| (*d, day_label(*d))).collect(),
        removed,
        village_choices,
        without_host,
        calendar_note: calendar_note(
            &settings
                .calendar
                .missing_years(spec.from.year(), spec.to.year()),
        ),
    })
}

/// What the tour page says when the tour runs into years without holiday data.
pub fn calendar_note(missing: &[i32]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let years = missing
        .iter()
        .map(|y| format!("{y}年"))
        .collect::<Vec<_>>()
        .join("、");
    Some(format!(
        "{years}的节假日和调休安排尚未载入系统，这段时间按周一至周五安排宣讲。国务院公布安排后请管理员更新日历；在此之前，元旦、春节等放假日请在“调整安排”中去掉。"
    ))
}

/// The published schedule as a calendar file (every talk still on).
pub async fn schedule_ics(
    conn: &mut Conn<'_>,
    by: Uuid,
    tour: Uuid,
    now: DateTime<Utc>,
) -> Result<String, Refusal> {
    let (row, spec) = managed(conn, by, tour, false, now).await?;
    let sessions: Vec<SessionRow> = store::sessions(conn, tour)
        .await?
        .into_iter()
        .filter(|s| s.state != SessionState::Cancelled)
        .collect();
    let venues = venues(conn, tour).await?;
    let places = Places::load(conn, tour, &row.name, &spec.topic, venues, &sessions).await?;
    let refs: Vec<&SessionRow> = sessions.iter().collect();
    Ok(notices::calendar(&places, Method::Publish, &refs, now))
}

/// The map: village points coloured by status, in a 640×480 box (equirectangular, scaled by
/// the cosine of the middle latitude so distances look right). Escapes every name.
pub fn map_svg(points: &[VillagePoint]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 480.0;
    const PAD: f64 = 16.0;
    let colour = |s: &str| match s {
        "已举行" => "#1b7f3b",
        "已安排" => "#1f5fbf",
        _ => "#c62828",
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"村村有活动覆盖图\">"
    );
    if !points.is_empty() {
        let (mut min_lat, mut max_lat, mut min_lon, mut max_lon) = (90f64, -90f64, 180f64, -180f64);
        for p in points {
            min_lat = min_lat.min(p.lat);
            max_lat = max_lat.max(p.lat);
            min_lon = min_lon.min(p.lon);
            max_lon = max_lon.max(p.lon);
        }
        let k = ((min_lat + max_lat) / 2.0).to_radians().cos();
        let span_x = ((max_lon - min_lon) * k).max(1e-6);
        let span_y = (max_lat - min_lat).max(1e-6);
        let scale = ((W - 2.0 * PAD) / span_x).min((H - 2.0 * PAD) / span_y);
        for p in points {
            let x = PAD + (p.lon - min_lon) * k * scale;
            let y = H - PAD - (p.lat - min_lat) * scale;
            svg.push_str(&format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{}\" data-status=\"{}\"><title>{}：{}</title></circle>",
                colour(p.status),
                p.status,
                escape(&p.name),
                p.status
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One talk as its decline or attendance link shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub tour: String,
    pub topic: String,
    /// "12月8日（周二）09:00–10:30 某镇某村妇女之家".
    pub line: String,
    pub lecturer: String,
    #[serde(skip)]
    pub state: SessionState,
    pub women: Option<u32>,
}

/// The talk `session`, with names, or `None`.
pub async fn session_view(
    conn: &mut Conn<'_>,
    session: Uuid,
) -> Result<Option<SessionView>, Refusal> {
    let Some(s) = store::session(conn, session).await? else {
        return Ok(None);
    };
    let Some(row) = store::tour(conn, s.tour_id).await? else {
        return Ok(None);
    };
    let spec = crate::tour::spec_of(&row)?;
    let venues = venues(conn, row.id).await?;
    let places = Places::load(
        conn,
        row.id,
        &row.name,
        &spec.topic,
        venues,
        std::slice::from_ref(&s),
    )
    .await?;
    Ok(Some(SessionView {
        tour: row.name.clone(),
        topic: spec.topic,
        line: places.line(&s),
        lecturer: places.lecturer(s.volunteer).to_owned(),
        state: s.state,
        women: s.attendance.as_ref().map(|a| a.women),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tour_into_years_without_holidays_says_which() {
        assert_eq!(calendar_note(&[]), None);
        let note = calendar_note(&[2027, 2028]).unwrap();
        assert!(
            note.starts_with("2027年、2028年的节假日和调休安排尚未载入系统"),
            "{note}"
        );
        assert!(note.contains("调整安排"), "{note}");
    }

    #[test]
    fn the_map_places_every_village_coloured_by_status_with_names_escaped() {
        let p = |name: &str, status, lat, lon| VillagePoint {
            name: name.into(),
            status,
            lat,
            lon,
        };
        let svg = map_svg(&[
            p("什川镇上车村", "已举行", 36.14, 104.08),
            p("南庄<村>", "已安排", 36.20, 104.10),
            p("北庄村", "未覆盖", 36.22, 104.04),
        ]);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("#1b7f3b") && svg.contains("#1f5fbf") && svg.contains("#c62828"));
        assert!(svg.contains("南庄&lt;村&gt;") && !svg.contains("南庄<村>"));
        // Every point inside the box.
        for c in svg.split("cx=\"").skip(1) {
            let x: f64 = c.split('"').next().unwrap().parse().unwrap();
            assert!((0.0..=640.0).contains(&x));
        }
        assert_eq!(map_svg(&[]).matches("<circle").count(), 0);
    }
}
