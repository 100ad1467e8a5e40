//! Lecture tours (陇原妇女面对面): send volunteer lecturers to every village (村村有活动) with
//! the least travel. Pure: the instance and the schedule are data; the solver and the
//! independent checker are functions of them.
//!
//! A lecturer-day is a route from the lecturer's home and back inside the day window. Travel
//! time is straight-line (haversine, radius 6371 km) distance × road factor ÷ speed.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Village {
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    /// How many sessions this village wants (usually 1).
    #[serde(default = "one")]
    pub sessions: u32,
    #[serde(default)]
    pub venue_capacity: Option<u32>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lecturer {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub home_lat: f64,
    pub home_lon: f64,
    pub topics: Vec<String>,
    pub available: Vec<NaiveDate>,
    pub max_per_day: u32,
}

/// A tour-planning problem. Unknown fields are ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Instance {
    pub villages: Vec<Village>,
    pub lecturers: Vec<Lecturer>,
    pub days: Vec<NaiveDate>,
    #[serde(with = "hhmm")]
    pub day_start: NaiveTime,
    #[serde(with = "hhmm")]
    pub day_end: NaiveTime,
    pub session_minutes: u32,
    pub speed_kmh: f64,
    pub road_factor: f64,
    pub topic: String,
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        NaiveTime::parse_from_str(&s, "%H:%M").map_err(serde::de::Error::custom)
    }
}

/// One talk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Session {
    pub village: String,
    pub lecturer: String,
    pub date: NaiveDate,
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
}

/// Why a village got no session.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoLecturerWithTopic,
    NoAvailableDate,
    NotReachableWithinDay,
    NoCapacityLeft,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unassigned {
    pub village: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    /// Villages with all the sessions they asked for.
    pub covered: usize,
    pub travel_km: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Schedule {
    pub sessions: Vec<Session>,
    pub unassigned: Vec<Unassigned>,
    pub stats: Stats,
}

/// Great-circle distance in km on a sphere of radius 6371 km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

impl Instance {
    /// Road kilometres between two points.
    pub fn road_km(&self, a: (f64, f64), b: (f64, f64)) -> f64 {
        haversine_km(a.0, a.1, b.0, b.1) * self.road_factor
    }

    /// Whole minutes to travel `km`, rounded up.
    pub fn travel_minutes(&self, km: f64) -> i64 {
        (km / self.speed_kmh * 60.0).ceil() as i64
    }

    fn day_minutes(&self) -> (i64, i64) {
        (minutes(self.day_start), minutes(self.day_end))
    }
}

fn minutes(t: NaiveTime) -> i64 {
    use chrono::Timelike;
    i64::from(t.hour()) * 60 + i64::from(t.minute())
}

fn time_of(m: i64) -> NaiveTime {
    NaiveTime::from_hms_opt((m / 60) as u32, (m % 60) as u32, 0).unwrap_or(NaiveTime::MIN)
}

/// A rule a schedule breaks, in words a coordinator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

/// The independent checker: validates every rule on its own code path and recomputes the
/// statistics. Used by the tests and before a schedule is published.
pub fn check(inst: &Instance, schedule: &Schedule) -> Result<Stats, Vec<Violation>> {
    let mut errors = Vec::new();
    let villages: HashMap<&str, &Village> =
        inst.villages.iter().map(|v| (v.code.as_str(), v)).collect();
    let lecturers: HashMap<&str, &Lecturer> =
        inst.lecturers.iter().map(|l| (l.id.as_str(), l)).collect();
    let days: HashSet<NaiveDate> = inst.days.iter().copied().collect();
    let (day_start, day_end) = inst.day_minutes();
    let mut routes: BTreeMap<(&str, NaiveDate), Vec<&Session>> = BTreeMap::new();
    let mut per_village: HashMap<&str, u32> = HashMap::new();
    let mut village_dates: HashSet<(&str, NaiveDate)> = HashSet::new();
    for s in &schedule.sessions {
        let Some(v) = villages.get(s.village.as_str()) else {
            errors.push(Violation(format!("unknown village {}", s.village)));
            continue;
        };
        let Some(l) = lecturers.get(s.lecturer.as_str()) else {
            errors.push(Violation(format!("unknown lecturer {}", s.lecturer)));
            continue;
        };
        if !l.topics.contains(&inst.topic) {
            errors.push(Violation(format!(
                "{} does not lecture on {}",
                l.id, inst.topic
            )));
        }
        if !l.available.contains(&s.date) || !days.contains(&s.date) {
            errors.push(Violation(format!(
                "{} is not available on {}",
                l.id, s.date
            )));
        }
        if minutes(s.end) - minutes(s.start) != i64::from(inst.session_minutes) {
            errors.push(Violation(format!(
                "session at {} on {} is not {} minutes long",
                v.code, s.date, inst.session_minutes
            )));
        }
        if !village_dates.insert((v.code.as_str(), s.date)) {
            errors.push(Violation(format!(
                "{} has two sessions on {}",
                v.code, s.date
            )));
        }
        *per_village.entry(v.code.as_str()).or_default() += 1;
        routes.entry((l.id.as_str(), s.date)).or_default().push(s);
    }
    for (code, n) in &per_village {
        if *n > villages[code].sessions {
            errors.push(Violation(format!(
                "{code} has {n} sessions, more than it asked for"
            )));
        }
    }
    let mut travel = 0.0;
    for ((lecturer, date), mut sessions) in routes {
        let l = lecturers[lecturer];
        sessions.sort_by_key(|s| s.start);
        if sessions.len() as u32 > l.max_per_day {
            errors.push(Violation(format!(
                "{lecturer} has {} sessions on {date}, over the daily maximum",
                sessions.len()
            )));
        }
        let mut at = (l.home_lat, l.home_lon);
        let mut clock = day_start;
        for s in &sessions {
            let v = villages[s.village.as_str()];
            let km = inst.road_km(at, (v.lat, v.lon));
            travel += km;
            let arrive = clock + inst.travel_minutes(km);
            if minutes(s.start) < arrive {
                errors.push(Violation(format!(
                    "{lecturer} cannot reach {} by {} on {date}: travel needs until {}",
                    v.code,
                    s.start.format("%H:%M"),
                    time_of(arrive).format("%H:%M")
                )));
            }
            clock = minutes(s.end);
            at = (v.lat, v.lon);
        }
        let home = inst.road_km(at, (l.home_lat, l.home_lon));
        travel += home;
        if clock + inst.travel_minutes(home) > day_end {
            errors.push(Violation(format!(
                "{lecturer} cannot be home by the end of the day on {date}"
            )));
        }
    }
    let covered = inst
        .villages
        .iter()
        .filter(|v| per_village.get(v.code.as_str()).copied().unwrap_or(0) >= v.sessions)
        .count();
    let stats = Stats {
        covered,
        travel_km: travel,
    };
    if (stats.travel_km - schedule.stats.travel_km).abs() > 0.01
        || stats.covered != schedule.stats.covered
    {
        errors.push(Violation(format!(
            "reported statistics ({} covered, {:.2} km) differ from the schedule ({} covered, {:.2} km)",
            schedule.stats.covered, schedule.stats.travel_km, stats.covered, stats.travel_km
        )));
    }
    if errors.is_empty() {
        Ok(stats)
    } else {
        Err(errors)
    }
}
