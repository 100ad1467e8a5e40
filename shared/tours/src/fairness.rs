//! Fairness, the objective's third term: evening out the sessions per lecturer. Without a
//! slack only exchanges that cost no travel are made ([`Plan::balance`]); with
//! `fairness_slack` the search may spend that share of extra travel ([`search_fairness`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::solver::{Budget, Plan, Problem, Rng};

impl Plan {
    /// Evens out the sessions per lecturer without adding travel: hands one lecturer-day's
    /// stops to another lecturer's day (swapping theirs back) when that costs no km and moves
    /// work from a busier lecturer to a less busy one. Lecturers who live at the same place
    /// make this common. Never raises the spread; stops when no exchange helps or the budget
    /// is exhausted. Beyond a few thousand lecturer-days only days of lecturers who live at the
    /// same place are paired, the exchanges that cost nothing there.
    pub(super) fn balance(&mut self, p: &Problem, budget: &mut dyn Budget) {
        let mut load = self.loads(p);
        let groups: Vec<Vec<usize>> = if self.routes.len() <= 2000 {
            vec![(0..self.routes.len()).collect()]
        } else {
            let mut by_home: BTreeMap<(u64, u64), Vec<usize>> = BTreeMap::new();
            for (ri, r) in self.routes.iter().enumerate() {
                let l = &p.inst.lecturers[r.lecturer];
                by_home
                    .entry((l.home_lat.to_bits(), l.home_lon.to_bits()))
                    .or_default()
                    .push(ri);
            }
            by_home.into_values().filter(|g| g.len() > 1).collect()
        };
        let mut improved = true;
        while improved {
            improved = false;
            for group in &groups {
                for &a in group {
                    if budget.exhausted() {
                        return;
                    }
                    for &b in group {
                        if self
                            .exchange_cost(p, &load, a, b)
                            .is_some_and(|delta| delta <= 1e-9)
                        {
                            self.exchange(&mut load, a, b);
                            improved = true;
                        }
                    }
                }
            }
        }
    }

    /// The km an exchange of the stops of routes `a` and `b` adds, if it is allowed: it moves
    /// work from a busier lecturer to a less busy one and brings their loads strictly closer,
    /// both days stay feasible, and no village gets two talks on a date.
    fn exchange_cost(&self, p: &Problem, load: &[u32], a: usize, b: usize) -> Option<f64> {
        let (ra, rb) = (&self.routes[a], &self.routes[b]);
        let moved = ra.stops.len() as i64 - rb.stops.len() as i64;
        let gap = i64::from(load[ra.lecturer]) - i64::from(load[rb.lecturer]);
        if ra.lecturer == rb.lecturer || moved <= 0 || gap <= moved {
            return None;
        }
        let before = p.route_km(ra.lecturer, &ra.stops)? + p.route_km(rb.lecturer, &rb.stops)?;
        let after = p.route_km(ra.lecturer, &rb.stops)? + p.route_km(rb.lecturer, &ra.stops)?;
        self.dates_allow_exchange(a, b).then_some(after - before)
    }

    /// Exchanges the stops of routes `a` and `b`, keeping `load` up to date.
    fn exchange(&mut self, load: &mut [u32], a: usize, b: usize) {
        let moved = self.routes[a].stops.len() as u32 - self.routes[b].stops.len() as u32;
        let stops_a = std::mem::take(&mut self.routes[a].stops);
        let stops_b = std::mem::replace(&mut self.routes[b].stops, stops_a);
        self.routes[a].stops = stops_b;
        load[self.routes[a].lecturer] -= moved;
        load[self.routes[b].lecturer] += moved;
    }

    /// Whether routes `a` and `b` can exchange their stops: a village moving to the other date
    /// must not already have a talk there on a third route.
    fn dates_allow_exchange(&self, a: usize, b: usize) -> bool {
        let (ra, rb) = (&self.routes[a], &self.routes[b]);
        if ra.date == rb.date {
            return true;
        }
        let taken = |village: usize, date: NaiveDate| {
            self.routes
                .iter()
                .enumerate()
                .any(|(i, r)| i != a && i != b && r.date == date && r.stops.contains(&village))
        };
        !ra.stops.iter().any(|&v| taken(v, rb.date)) && !rb.stops.iter().any(|&v| taken(v, ra.date))
    }

    /// The highest load among the lecturers fairness counts, and the days (routes with stops)
    /// of lecturers with that load; `None` when there are none.
    fn busiest_days(&self, p: &Problem, load: &[u32]) -> Option<(u32, Vec<usize>)> {
        let busiest = p.eligible.iter().map(|&l| load[l]).max()?;
        let days: Vec<usize> = (0..self.routes.len())
            .filter(|&r| {
                load[self.routes[r].lecturer] == busiest && !self.routes[r].stops.is_empty()
            })
            .collect();
        (!days.is_empty()).then_some((busiest, days))
    }

    /// Moves one stop of a busiest lecturer to the cheapest place with a lecturer at least two
    /// sessions less busy, if that costs at most `room` km.
    fn push_from_busiest(
        &self,
        p: &Problem,
        load: &[u32],
        rng: &mut Rng,
        room: f64,
    ) -> Option<Plan> {
        let (busiest, days) = self.busiest_days(p, load)?;
        let sources: Vec<(usize, usize)> = days
            .into_iter()
            .flat_map(|r| (0..self.routes[r].stops.len()).map(move |i| (r, i)))
            .collect();
        let (ri, i) = sources[rng.below(sources.len())];
        let mut candidate = self.clone();
        let from = &mut candidate.routes[ri];
        let before = p.route_km(from.lecturer, &from.stops)?;
        let v = from.stops.remove(i);
        let saving = before - p.route_km(from.lecturer, &from.stops)?;
        let (extra, rj, pos) = (0..candidate.routes.len())
            .filter(|&rj| load[candidate.routes[rj].lecturer] + 2 <= busiest)
            .filter_map(|rj| {
                candidate
                    .route_option(p, v, rj)
                    .map(|(c, pos)| (c, rj, pos))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))?;
        (extra - saving <= room).then(|| {
            candidate.routes[rj].stops.insert(pos, v);
            candidate
        })
    }

    /// Hands a whole day of a busiest lecturer to a less busy lecturer's day (taking hers
    /// back), the exchange that adds the least travel, if that is at most `room` km.
    fn exchange_from_busiest(
        &self,
        p: &Problem,
        load: &[u32],
        rng: &mut Rng,
        room: f64,
    ) -> Option<Plan> {
        let (_, days) = self.busiest_days(p, load)?;
        let a = days[rng.below(days.len())];
        let (delta, b) = (0..self.routes.len())
            .filter_map(|b| self.exchange_cost(p, load, a, b).map(|delta| (delta, b)))
            .min_by(|x, y| x.0.total_cmp(&y.0))?;
        (delta <= room).then(|| {
            let mut candidate = self.clone();
            candidate.exchange(&mut load.to_vec(), a, b);
            candidate
        })
    }

    /// Gives a least busy lecturer the stop, taken from a lecturer at least two sessions
    /// busier, that adds the least travel, if that is at most `room` km.
    fn pull_to_least_busy(
        &self,
        p: &Problem,
        load: &[u32],
        rng: &mut Rng,
        room: f64,
    ) -> Option<Plan> {
        let least = p.eligible.iter().map(|&l| load[l]).min()?;
        let idle: Vec<usize> = p
            .eligible
            .iter()
            .copied()
            .filter(|&l| load[l] == least)
            .collect();
        let lecturer = idle[rng.below(idle.len())];
        let mut best: Option<(f64, usize, usize, usize, usize)> = None;
        for (rj, target) in self.routes.iter().enumerate() {
            if target.lecturer != lecturer
                || target.stops.len() as u32 >= p.inst.lecturers[lecturer].max_per_day
            {
                continue;
            }
            let Some(target_km) = p.route_km(lecturer, &target.stops) else {
                continue;
            };
            for (ri, source) in self.routes.iter().enumerate() {
                if load[source.lecturer] < least + 2 {
                    continue;
                }
                let Some(source_km) = p.route_km(source.lecturer, &source.stops) else {
                    continue;
                };
                for i in 0..source.stops.len() {
                    let v = source.stops[i];
                    if !p.reachable(lecturer, v)
                        || (source.date != target.date && self.village_on(v, target.date))
                    {
                        continue;
                    }
                    let mut rest = source.stops.clone();
                    rest.remove(i);
                    // With a county's matrix a day can break when a stop leaves it.
                    let Some(rest_km) = p.route_km(source.lecturer, &rest) else {
                        continue;
                    };
                    let saving = source_km - rest_km;
                    for pos in 0..=target.stops.len() {
                        let Some(after) = p.route_km_with(lecturer, &target.stops, Some((pos, v)))
                        else {
                            continue;
                        };
                        let delta = after - target_km - saving;
                        if best.is_none_or(|b| delta < b.0) {
                            best = Some((delta, ri, i, rj, pos));
                        }
                    }
                }
            }
        }
        let (delta, ri, i, rj, pos) = best?;
        (delta <= room).then(|| {
            let mut candidate = self.clone();
            let v = candidate.routes[ri].stops.remove(i);
            candidate.routes[rj].stops.insert(pos, v);
            candidate
        })
    }
}

/// Evens out the sessions per lecturer while travel stays within `fairness_slack` of the
/// travel search's result: moves work from the busiest lecturers to less busy ones (pushing a
/// random stop, handing over a whole day, or pulling the cheapest stop to a least busy
/// lecturer). Accepts only
/// what lowers the spread, or the sum of squared loads that guides towards it, without losing
/// coverage or leaving the allowance.
pub(super) fn search_fairness(
    p: &Problem,
    start: Plan,
    rng: &mut Rng,
    stop: &mut dyn FnMut() -> bool,
) -> Plan {
    let allowance = start.cost(p).km * (1.0 + p.inst.fairness_slack);
    let key = |plan: &Plan| {
        let load = plan.loads(p);
        let (fewest, most) = p.fairness_of(&load);
        let squares: u64 = p.eligible.iter().map(|&l| u64::from(load[l]).pow(2)).sum();
        (most - fewest, squares)
    };
    let mut plan = start;
    let mut km = plan.cost(p).km;
    let mut current = key(&plan);
    while !stop() {
        let load = plan.loads(p);
        let room = allowance - km;
        let candidate = match rng.below(3) {
            0 => plan.push_from_busiest(p, &load, rng, room),
            1 => plan.exchange_from_busiest(p, &load, rng, room),
            _ => plan.pull_to_least_busy(p, &load, rng, room),
        };
        let Some(mut candidate) = candidate else {
            continue;
        };
        candidate.polish(p);
        let candidate_km = candidate.cost(p).km;
        let candidate_key = key(&candidate);
        if candidate_km <= allowance + 1e-9 && candidate_key < current {
            plan = candidate;
            km = candidate_km;
            current = candidate_key;
        }
    }
    plan
}
