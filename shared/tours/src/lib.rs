//! Lecture tours (陇原妇女面对面): send volunteer lecturers to every village (村村有活动) with
//! the least travel. Pure: the instance and the schedule are data; the solver and the
//! independent checker are functions of them.
//!
//! A lecturer-day is a route from the lecturer's home and back inside the day window. Travel
//! between two places comes from the county's travel-time matrix when it lists both, and
//! otherwise is straight-line (haversine, radius 6371 km) distance × road factor ÷ speed.

mod check;
mod fairness;
pub mod ics;
mod near;
mod repair;
mod solver;
#[cfg(test)]
mod tests;
mod travel;

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

pub use check::{Violation, check};
pub use repair::repair;
pub use solver::{Budget, solve};
pub use travel::{Leg, Place, Travel, haversine_km, travel_lower_bound_km};

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

/// The largest instance taken, checked before any work (docs/tours.md, "Size"): every village
/// of Gansu is 17,718, and a province-wide tour solves within 1 GB.
pub const MAX_VILLAGES: usize = 20_000;
pub const MAX_LECTURERS: usize = 2_000;
pub const MAX_DAYS: usize = 366;
/// Lecturer-days (a lecturer's available dates among the days, summed over lecturers).
pub const MAX_LECTURER_DAYS: usize = 60_000;
/// Points of a county's travel matrix (its entries grow with the square).
pub const MAX_MATRIX_POINTS: usize = 2_500;

/// More talks than a village could host in a year of daily visits is a typo.
const MAX_SESSIONS: u32 = 366;

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
    /// Dates she cannot come even if `available` lists them (a volunteer's own exceptions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<NaiveDate>,
    pub max_per_day: u32,
}

impl Lecturer {
    /// Whether she can lecture on `date`: listed as available and not as unavailable.
    pub fn free_on(&self, date: NaiveDate) -> bool {
        self.available.contains(&date) && !self.unavailable.contains(&date)
    }

    /// The tour's days she is free on, ascending, each once: her lecturer-days.
    pub fn free_days(&self, days: &HashSet<NaiveDate>) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = self
            .available
            .iter()
            .copied()
            .filter(|&d| days.contains(&d) && self.free_on(d))
            .collect();
        dates.sort();
        dates.dedup();
        dates
    }
}

/// A tour's dates when `days` is not given: the working days from `from` to `to` on the
/// Chinese calendar (public holidays off, 调休 Saturdays and Sundays on), and weekends too when
/// the coordinator allows weekend talks (public holidays stay off).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(default)]
    pub weekends: bool,
}

/// Travel a county measured on its roads, between named points: village codes and lecturer
/// ids (standing for the lecturer's home). Row = from, column = to; it may be asymmetric.
/// `null` means there is no road. Pairs it does not list fall back to the straight-line rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TravelMatrix {
    pub points: Vec<String>,
    /// Minutes of travel.
    pub minutes: Vec<Vec<Option<f64>>>,
    /// Road kilometres; when absent (or `null` for a pair) travel counts straight-line × road
    /// factor.
    #[serde(default)]
    pub km: Option<Vec<Vec<Option<f64>>>>,
}

/// A tour-planning problem. Unknown fields are ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Instance {
    pub villages: Vec<Village>,
    pub lecturers: Vec<Lecturer>,
    /// The dates talks may be given; or leave it out and give `period`.
    #[serde(default)]
    pub days: Vec<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    #[serde(with = "hhmm")]
    pub day_start: NaiveTime,
    #[serde(with = "hhmm")]
    pub day_end: NaiveTime,
    pub session_minutes: u32,
    pub speed_kmh: f64,
    pub road_factor: f64,
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travel_matrix: Option<TravelMatrix>,
    /// How much extra travel fairness may cost, as a share of the least travel found (0.1 =
    /// 10 %). 0, the default, keeps the strict order: fairness only decides between schedules
    /// that travel the same.
    #[serde(default)]
    pub fairness_slack: f64,
    /// Talks start on this step of minutes after midnight (10: 09:00, 09:10, …), the lecturer
    /// waiting for it after she arrives. 1, the default, starts a talk when she arrives.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub start_step_minutes: u32,
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// `HH:MM` times in JSON, for serde's `with`.
pub mod hhmm {
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
    /// Fairness: sessions of the busiest lecturer minus those of the least busy, among the
    /// lecturers who could lecture at all (see [`Instance::can_lecture`]).
    pub spread: u32,
    pub most_sessions: u32,
    pub fewest_sessions: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Schedule {
    pub sessions: Vec<Session>,
    pub unassigned: Vec<Unassigned>,
    pub stats: Stats,
}

impl Instance {
    /// Whether a lecturer counts for fairness: she has the topic, a date among the days and
    /// room for a talk a day.
    pub fn can_lecture(&self, l: &Lecturer) -> bool {
        l.max_per_day > 0
            && l.topics.contains(&self.topic)
            && self.days.iter().any(|&d| l.free_on(d))
    }

    /// Fills `days` from `period` with a calendar's answers (`is_working_day`, `is_holiday`),
    /// leaving an instance that gives `days` as it is. Both at once, or a period that runs
    /// backwards or longer than a year, is refused naming the field.
    pub fn resolve_days(
        &mut self,
        is_working_day: impl Fn(NaiveDate) -> bool,
        is_holiday: impl Fn(NaiveDate) -> bool,
    ) -> Result<(), String> {
        let Some(period) = &self.period else {
            return Ok(());
        };
        if !self.days.is_empty() {
            return Err("period: give either days or a period, not both".into());
        }
        if period.to < period.from {
            return Err(format!(
                "period.to: {} is before period.from {}",
                period.to, period.from
            ));
        }
        let span = (period.to - period.from).num_days() + 1;
        if span > MAX_DAYS as i64 {
            return Err(format!("period: {span} days; at most {MAX_DAYS} are taken"));
        }
        let weekend =
            |d: NaiveDate| matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
        self.days = period
            .from
            .iter_days()
            .take(span as usize)
            .filter(|&d| is_working_day(d) || (period.weekends && weekend(d) && !is_holiday(d)))
            .collect();
        Ok(())
    }

    /// The first thing wrong with the instance, naming the field (`villages[3].lat: …`), so a
    /// coordinator can fix the file. A valid instance may still be unsolvable; that is the
    /// solver's report, not an error.
    pub fn validate(&self) -> Result<(), String> {
        self.check_size()?;
        let mut codes = HashSet::new();
        for (i, v) in self.villages.iter().enumerate() {
            let at = format!("villages[{i}]");
            if v.code.trim().is_empty() {
                return Err(format!("{at}.code: empty"));
            }
            if !codes.insert(v.code.as_str()) {
                return Err(format!("{at}.code: {} appears twice", v.code));
            }
            check_position(&at, "lat", "lon", v.lat, v.lon)?;
            if !(1..=MAX_SESSIONS).contains(&v.sessions) {
                return Err(format!(
                    "{at}.sessions: {} is not between 1 and {MAX_SESSIONS}",
                    v.sessions
                ));
            }
        }
        let mut ids = HashSet::new();
        for (i, l) in self.lecturers.iter().enumerate() {
            let at = format!("lecturers[{i}]");
            if l.id.trim().is_empty() {
                return Err(format!("{at}.id: empty"));
            }
            if !ids.insert(l.id.as_str()) {
                return Err(format!("{at}.id: {} appears twice", l.id));
            }
            if codes.contains(l.id.as_str()) {
                return Err(format!(
                    "{at}.id: {} is also a village code, so the travel matrix could not tell them apart",
                    l.id
                ));
            }
            check_position(&at, "home_lat", "home_lon", l.home_lat, l.home_lon)?;
        }
        if self.day_start >= self.day_end {
            return Err("day_end: must be after day_start".into());
        }
        if self.session_minutes == 0 {
            return Err("session_minutes: must be positive".into());
        }
        if !(1..=60).contains(&self.start_step_minutes) {
            return Err(format!(
                "start_step_minutes: {} is not between 1 and 60",
                self.start_step_minutes
            ));
        }
        // Bounds keep every clock sum far from overflow as well as catching typos.
        if !(1.0..=300.0).contains(&self.speed_kmh) {
            return Err(format!(
                "speed_kmh: {} is not between 1 and 300",
                show(self.speed_kmh)
            ));
        }
        if !(1.0..=10.0).contains(&self.road_factor) {
            return Err(format!(
                "road_factor: {} is not between 1 and 10",
                show(self.road_factor)
            ));
        }
        if !(0.0..=1.0).contains(&self.fairness_slack) {
            return Err(format!(
                "fairness_slack: {} is not a share between 0 and 1",
                show(self.fairness_slack)
            ));
        }
        if let Some(m) = &self.travel_matrix {
            let mut points = HashSet::new();
            for (i, p) in m.points.iter().enumerate() {
                if !codes.contains(p.as_str()) && !ids.contains(p.as_str()) {
                    return Err(format!(
                        "travel_matrix.points[{i}]: {p} is neither a village code nor a lecturer id"
                    ));
                }
                if !points.insert(p.as_str()) {
                    return Err(format!("travel_matrix.points[{i}]: {p} appears twice"));
                }
            }
            check_square(
                "travel_matrix.minutes",
                &m.minutes,
                m.points.len(),
                10_000.0,
            )?;
            if let Some(km) = &m.km {
                check_square("travel_matrix.km", km, m.points.len(), 10_000.0)?;
            }
        }
        Ok(())
    }
}

impl Instance {
    /// The size limits, first of all, so an instance too large is refused before any work.
    fn check_size(&self) -> Result<(), String> {
        let too_many = |field: &str, count: usize, max: usize, unit: &str| {
            (count > max).then(|| format!("{field}: {count} {unit}; at most {max} are taken"))
        };
        let days: HashSet<NaiveDate> = self.days.iter().copied().collect();
        let lecturer_days: usize = self
            .lecturers
            .iter()
            .map(|l| l.free_days(&days).len())
            .sum();
        let matrix_points = self.travel_matrix.as_ref().map_or(0, |m| m.points.len());
        let problem = too_many("villages", self.villages.len(), MAX_VILLAGES, "villages")
            .or_else(|| {
                too_many(
                    "lecturers",
                    self.lecturers.len(),
                    MAX_LECTURERS,
                    "lecturers",
                )
            })
            .or_else(|| too_many("days", days.len(), MAX_DAYS, "days"))
            .or_else(|| {
                too_many(
                    "lecturers[].available",
                    lecturer_days,
                    MAX_LECTURER_DAYS,
                    "lecturer-days",
                )
            })
            .or_else(|| {
                too_many(
                    "travel_matrix.points",
                    matrix_points,
                    MAX_MATRIX_POINTS,
                    "points",
                )
            });
        problem.map_or(Ok(()), Err)
    }
}

fn check_position(
    at: &str,
    lat_field: &str,
    lon_field: &str,
    lat: f64,
    lon: f64,
) -> Result<(), String> {
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("{at}.{lat_field}: {} is not a latitude", show(lat)));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!(
            "{at}.{lon_field}: {} is not a longitude",
            show(lon)
        ));
    }
    Ok(())
}

/// A square matrix of `n` × `n` entries, each `null` or a number from 0 to `max`.
fn check_square(field: &str, rows: &[Vec<Option<f64>>], n: usize, max: f64) -> Result<(), String> {
    if rows.len() != n {
        return Err(format!("{field}: {} rows for {n} points", rows.len()));
    }
    for (i, row) in rows.iter().enumerate() {
        if row.len() != n {
            return Err(format!(
                "{field}[{i}]: {} entries for {n} points",
                row.len()
            ));
        }
        if let Some((j, x)) = row
            .iter()
            .enumerate()
            .find_map(|(j, x)| x.filter(|x| !(0.0..=max).contains(x)).map(|x| (j, x)))
        {
            return Err(format!(
                "{field}[{i}][{j}]: {} is not between 0 and {max}",
                show(x)
            ));
        }
    }
    Ok(())
}

/// A number as a person would write it: 136.3, but 1e300 rather than three hundred digits.
fn show(x: f64) -> String {
    if x != 0.0 && !(1e-3..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Minutes since midnight.
fn minutes(t: NaiveTime) -> i64 {
    use chrono::Timelike;
    i64::from(t.hour()) * 60 + i64::from(t.minute())
}

/// The time `m` minutes after midnight (within the day).
fn time_of(m: i64) -> NaiveTime {
    NaiveTime::from_hms_opt((m / 60) as u32, (m % 60) as u32, 0).unwrap_or(NaiveTime::MIN)
}
