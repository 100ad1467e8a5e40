//! Repairing a published schedule (issue 17, item 9): a lecturer declines a session, or the
//! coordinator takes a lecturer or a day out. Every other published session stays exactly where
//! it is (lecturer, date, start and end), so only the people a change touches hear of it; the
//! villages that lost their talk are placed again where room is left: after the last published
//! talk of a day (its earlier talks keep their times; the lecturer may wait between them) or on
//! a day that had none, never back to the lecturer who gave it up (she declined it, or her day or
//! she was taken out). The instance given is the one
//! after the change (a lecturer removed, or marked unavailable on a day taken out): a published
//! session it no longer allows is dropped too.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveTime};

use super::solver::{Problem, schedule_from};
use super::{Instance, Schedule, Session, minutes, time_of};

/// A lecturer-day while repairing: the published talks it keeps (village, start, end), then
/// talks added after them.
struct Day {
    lecturer: usize,
    date: NaiveDate,
    kept: Vec<(usize, NaiveTime, NaiveTime)>,
    added: Vec<usize>,
}

impl Day {
    /// The day's km with `added` visited after the kept talks, or `None` when it does not fit
    /// the day window or the daily maximum.
    fn km_with(&self, p: &Problem, added: &[usize]) -> Option<f64> {
        if (self.kept.len() + added.len()) as u32 > p.inst.lecturers[self.lecturer].max_per_day {
            return None;
        }
        let l = self.lecturer;
        let mut km = 0.0;
        let mut clock = p.day.0;
        let mut at: Option<usize> = None;
        for &(v, _, end) in &self.kept {
            km += at.map_or(p.hv(l, v), |a| p.vv(a, v)).km;
            clock = minutes(end);
            at = Some(v);
        }
        p.walk_from(l, (km, clock, at), added.len(), |i| added[i])
    }

    fn holds(&self, village: usize) -> bool {
        self.kept.iter().any(|k| k.0 == village) || self.added.contains(&village)
    }
}

/// `published` repaired for `inst` with the sessions in `dropped` taken out (see the module
/// doc). Returns the new schedule; compare it with `published` to find who must hear of it.
pub fn repair(inst: &Instance, published: &Schedule, dropped: &[Session]) -> Schedule {
    let p = Problem::new(inst);
    let village_index: HashMap<&str, usize> = inst
        .villages
        .iter()
        .enumerate()
        .map(|(i, v)| (v.code.as_str(), i))
        .collect();
    let mut days: Vec<Day> = p
        .route_keys
        .iter()
        .map(|&(lecturer, date)| Day {
            lecturer,
            date,
            kept: Vec::new(),
            added: Vec::new(),
        })
        .collect();
    let day_index: HashMap<(&str, NaiveDate), usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| ((inst.lecturers[d.lecturer].id.as_str(), d.date), i))
        .collect();
    let mut kept_per_village = vec![0u32; inst.villages.len()];
    for s in &published.sessions {
        if dropped.contains(s) {
            continue;
        }
        // A session the changed instance no longer allows (her day is gone) is dropped too.
        let (Some(&v), Some(&d)) = (
            village_index.get(s.village.as_str()),
            day_index.get(&(s.lecturer.as_str(), s.date)),
        ) else {
            continue;
        };
        days[d].kept.push((v, s.start, s.end));
        kept_per_village[v] += 1;
    }
    let mut lost: Vec<usize> = dropped
        .iter()
        .filter_map(|s| village_index.get(s.village.as_str()).copied())
        .collect();
    // A talk given up does not go back to the lecturer who gave it up: she declined it, or
    // her day or she herself was taken out (then she has no day to take it anyway).
    let lecturer_index: HashMap<&str, usize> = inst
        .lecturers
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.as_str(), i))
        .collect();
    let declined: Vec<(usize, usize)> = dropped
        .iter()
        .filter_map(|s| {
            Some((
                *village_index.get(s.village.as_str())?,
                *lecturer_index.get(s.lecturer.as_str())?,
            ))
        })
        .collect();
    for d in &mut days {
        d.kept.sort_by_key(|k| k.1);
        // Taking a talk out of a day leaves the next one reachable in time on straight lines;
        // a county's matrix need not obey the triangle inequality, and a talk it makes late is
        // given up too.
        let mut clock = p.day.0;
        let mut at: Option<usize> = None;
        let mut keep = Vec::with_capacity(d.kept.len());
        for &(v, start, end) in &d.kept {
            let leg = at.map_or(p.hv(d.lecturer, v), |a| p.vv(a, v));
            if clock + leg.minutes > minutes(start) {
                kept_per_village[v] -= 1;
                lost.push(v);
                continue;
            }
            keep.push((v, start, end));
            clock = minutes(end);
            at = Some(v);
        }
        d.kept = keep;
    }
    let mut waiting: Vec<usize> = Vec::new();
    for (v, village) in inst.villages.iter().enumerate() {
        for _ in kept_per_village[v]..village.sessions {
            waiting.push(v);
        }
    }
    // The villages that just lost a talk first (their people were told a date), then any left
    // out before; within each, cheapest first, each to the place that adds the least travel.
    let (first, rest): (Vec<usize>, Vec<usize>) =
        waiting.into_iter().partition(|v| lost.contains(v));
    let mut left = place_cheapest_first(&p, &mut days, &declined, first);
    left.extend(place_cheapest_first(&p, &mut days, &declined, rest));
    schedule_of(&p, &days, &left)
}

/// Places `waiting` villages, cheapest first, each where it adds the least travel: after a
/// day's kept talks or on an empty day, among the days it is offered, never with a lecturer
/// in `declined` for that village. Returns those left.
fn place_cheapest_first(
    p: &Problem,
    days: &mut [Day],
    declined: &[(usize, usize)],
    mut waiting: Vec<usize>,
) -> Vec<usize> {
    loop {
        let mut best: Option<(f64, usize, usize, Vec<usize>)> = None;
        for (k, &v) in waiting.iter().enumerate() {
            for &di in &p.candidates[v] {
                let (di, day) = (di as usize, &days[di as usize]);
                // At most one talk per village per date, whoever gives it.
                if declined.contains(&(v, day.lecturer))
                    || (p.inst.villages[v].sessions > 1
                        && days.iter().any(|d| d.date == day.date && d.holds(v)))
                {
                    continue;
                }
                let Some(before) = day.km_with(p, &day.added) else {
                    continue;
                };
                for pos in 0..=day.added.len() {
                    let mut added = day.added.clone();
                    added.insert(pos, v);
                    if let Some(after) = day.km_with(p, &added)
                        && best.as_ref().is_none_or(|b| after - before < b.0)
                    {
                        best = Some((after - before, k, di, added));
                    }
                }
            }
        }
        let Some((_, k, di, added)) = best else {
            return waiting;
        };
        days[di].added = added;
        waiting.remove(k);
    }
}

fn schedule_of(p: &Problem, days: &[Day], waiting: &[usize]) -> Schedule {
    let inst = p.inst;
    let mut sessions = Vec::new();
    let mut travel_km = 0.0;
    let mut load = vec![0u32; inst.lecturers.len()];
    let mut placed = vec![0u32; inst.villages.len()];
    for day in days {
        let l = day.lecturer;
        travel_km += day.km_with(p, &day.added).unwrap_or(0.0);
        let session = |v: usize, start: i64| Session {
            village: inst.villages[v].code.clone(),
            lecturer: inst.lecturers[l].id.clone(),
            date: day.date,
            start: time_of(start),
            end: time_of(start + p.session),
        };
        let mut clock = p.day.0;
        let mut at: Option<usize> = None;
        for &(v, start, end) in &day.kept {
            sessions.push(Session {
                start,
                end,
                ..session(v, 0)
            });
            clock = minutes(end);
            at = Some(v);
        }
        for &v in &day.added {
            clock = p.start_at(clock + at.map_or(p.hv(l, v), |a| p.vv(a, v)).minutes);
            sessions.push(session(v, clock));
            clock += p.session;
            at = Some(v);
        }
        let talks = (day.kept.len() + day.added.len()) as u32;
        load[l] += talks;
        for v in day
            .kept
            .iter()
            .map(|k| k.0)
            .chain(day.added.iter().copied())
        {
            placed[v] += 1;
        }
    }
    schedule_from(p, sessions, travel_km, waiting, &placed, &load)
}
