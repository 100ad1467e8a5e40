//! The independent checker: validates every rule on its own code path (by names, from the
//! sessions as written, not from the solver's routes) and recomputes the statistics. Used by
//! the tests, by `jinguo tour check`, and before a schedule is printed.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;

use super::{Instance, Place, Schedule, Session, Stats, Travel, minutes, time_of};

/// A rule a schedule breaks, in words a coordinator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

pub fn check(inst: &Instance, schedule: &Schedule) -> Result<Stats, Vec<Violation>> {
    let mut errors = Vec::new();
    let mut fail = |message: String| errors.push(Violation(message));
    let travel = Travel::new(inst);
    let villages: HashMap<&str, usize> = inst
        .villages
        .iter()
        .enumerate()
        .map(|(i, v)| (v.code.as_str(), i))
        .collect();
    let lecturers: HashMap<&str, usize> = inst
        .lecturers
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.as_str(), i))
        .collect();
    let days: HashSet<NaiveDate> = inst.days.iter().copied().collect();
    let (day_start, day_end) = (minutes(inst.day_start), minutes(inst.day_end));
    let mut routes: BTreeMap<(usize, NaiveDate), Vec<(usize, &Session)>> = BTreeMap::new();
    let mut per_village: HashMap<usize, u32> = HashMap::new();
    let mut village_dates: HashSet<(usize, NaiveDate)> = HashSet::new();
    for s in &schedule.sessions {
        let Some(&v) = villages.get(s.village.as_str()) else {
            fail(format!("unknown village {}", s.village));
            continue;
        };
        let Some(&l) = lecturers.get(s.lecturer.as_str()) else {
            fail(format!("unknown lecturer {}", s.lecturer));
            continue;
        };
        if !inst.lecturers[l].topics.contains(&inst.topic) {
            fail(format!("{} does not lecture on {}", s.lecturer, inst.topic));
        }
        if !inst.lecturers[l].free_on(s.date) || !days.contains(&s.date) {
            fail(format!("{} is not available on {}", s.lecturer, s.date));
        }
        if minutes(s.end) - minutes(s.start) != i64::from(inst.session_minutes) {
            fail(format!(
                "session at {} on {} is not {} minutes long",
                s.village, s.date, inst.session_minutes
            ));
        }
        if !village_dates.insert((v, s.date)) {
            fail(format!("{} has two sessions on {}", s.village, s.date));
        }
        *per_village.entry(v).or_default() += 1;
        routes.entry((l, s.date)).or_default().push((v, s));
    }
    for (&v, &n) in &per_village {
        if n > inst.villages[v].sessions {
            fail(format!(
                "{} has {n} sessions, more than it asked for",
                inst.villages[v].code
            ));
        }
    }
    let mut travel_km = 0.0;
    for ((l, date), mut stops) in routes {
        let id = &inst.lecturers[l].id;
        stops.sort_by_key(|(_, s)| s.start);
        if stops.len() as u32 > inst.lecturers[l].max_per_day {
            fail(format!(
                "{id} has {} sessions on {date}, over the daily maximum",
                stops.len()
            ));
        }
        let mut at = Place::Home(l);
        let mut clock = day_start;
        for &(v, s) in &stops {
            let Some(leg) = travel.leg(at, Place::Village(v)) else {
                fail(format!(
                    "{id} has no road to {} on {date}: the travel matrix lists none",
                    s.village
                ));
                clock = minutes(s.end);
                at = Place::Village(v);
                continue;
            };
            travel_km += leg.km;
            let arrive = clock + leg.minutes;
            if minutes(s.start) < arrive {
                fail(format!(
                    "{id} cannot reach {} by {} on {date}: travel needs until {}",
                    s.village,
                    s.start.format("%H:%M"),
                    time_of(arrive).format("%H:%M")
                ));
            }
            let step = i64::from(inst.start_step_minutes.max(1));
            if minutes(s.start) % step != 0 {
                fail(format!(
                    "{id}'s session at {} on {date} starts at {}, not on the {step}-minute step",
                    s.village,
                    s.start.format("%H:%M")
                ));
            }
            clock = minutes(s.end);
            at = Place::Village(v);
        }
        match travel.leg(at, Place::Home(l)) {
            Some(home) if clock + home.minutes <= day_end => travel_km += home.km,
            Some(home) => {
                travel_km += home.km;
                fail(format!(
                    "{id} cannot be home by the end of the day on {date}"
                ));
            }
            None => fail(format!("{id} has no road home on {date}")),
        }
    }
    let is_covered =
        |v: usize| per_village.get(&v).copied().unwrap_or(0) >= inst.villages[v].sessions;
    let covered = (0..inst.villages.len()).filter(|&v| is_covered(v)).count();
    // The unassigned list names exactly the villages left without all their sessions.
    let mut listed = HashSet::new();
    for u in &schedule.unassigned {
        match villages.get(u.village.as_str()) {
            None => fail(format!("unassigned names unknown village {}", u.village)),
            Some(&v) if !listed.insert(v) => {
                fail(format!("{} is listed as unassigned twice", u.village))
            }
            Some(&v) if is_covered(v) => fail(format!(
                "{} is listed as unassigned but has all its sessions",
                u.village
            )),
            Some(_) => {}
        }
    }
    for (v, village) in inst.villages.iter().enumerate() {
        if !is_covered(v) && !listed.contains(&v) {
            fail(format!(
                "{} lacks sessions but is not listed as unassigned",
                village.code
            ));
        }
    }
    let (fewest_sessions, most_sessions) = fairness(inst, &schedule.sessions);
    let stats = Stats {
        covered,
        travel_km,
        spread: most_sessions - fewest_sessions,
        most_sessions,
        fewest_sessions,
    };
    let reported = &schedule.stats;
    if (stats.travel_km - reported.travel_km).abs() > 0.01
        || stats.covered != reported.covered
        || (stats.spread, stats.most_sessions, stats.fewest_sessions)
            != (
                reported.spread,
                reported.most_sessions,
                reported.fewest_sessions,
            )
    {
        fail(format!(
            "reported statistics ({} covered, {:.2} km, {}–{} sessions a lecturer) differ from the schedule ({} covered, {:.2} km, {}–{})",
            reported.covered,
            reported.travel_km,
            reported.fewest_sessions,
            reported.most_sessions,
            stats.covered,
            stats.travel_km,
            stats.fewest_sessions,
            stats.most_sessions
        ));
    }
    if errors.is_empty() {
        Ok(stats)
    } else {
        Err(errors)
    }
}

/// (fewest, most) sessions per lecturer among those who could lecture at all; (0, 0) when none
/// can.
fn fairness(inst: &Instance, sessions: &[Session]) -> (u32, u32) {
    let mut load: HashMap<&str, u32> = HashMap::new();
    for s in sessions {
        *load.entry(s.lecturer.as_str()).or_default() += 1;
    }
    let loads: Vec<u32> = inst
        .lecturers
        .iter()
        .filter(|l| inst.can_lecture(l))
        .map(|l| load.get(l.id.as_str()).copied().unwrap_or(0))
        .collect();
    (
        loads.iter().copied().min().unwrap_or(0),
        loads.iter().copied().max().unwrap_or(0),
    )
}
