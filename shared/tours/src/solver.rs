//! The tour solver: regret insertion to construct, then large-neighbourhood search with
//! simulated annealing to improve, until the budget is spent; fairness (fairness.rs) last.
//! Deterministic for a seed and a budget in steps. Objective, in order: villages covered,
//! sessions given, total travel, fairness.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::fairness;
use super::near::Grid;
use super::{
    Instance, Leg, Place, Reason, Schedule, Session, Stats, Travel, Unassigned, minutes, time_of,
};

/// A small deterministic generator (xorshift64*): same seed, same schedule.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One lecturer-day.
#[derive(Clone)]
pub(super) struct Route {
    pub(super) lecturer: usize,
    pub(super) date: NaiveDate,
    pub(super) stops: Vec<usize>,
}

pub(super) struct Problem<'a> {
    pub(super) inst: &'a Instance,
    travel: Travel<'a>,
    vv: Legs,
    hv: Legs,
    vh: Legs,
    pub(super) day: (i64, i64),
    pub(super) session: i64,
    /// Talks start on multiples of this many minutes after midnight.
    pub(super) step: i64,
    /// The lecturers fairness is measured over ([`Instance::can_lecture`]).
    pub(super) eligible: Vec<usize>,
    /// Every lecturer-day of a lecturer with the topic: (lecturer, date), lecturer by
    /// lecturer, dates ascending. A plan's routes are these, in this order.
    pub(super) route_keys: Vec<(usize, NaiveDate)>,
    /// For each village the routes it is offered, ascending: every route of a lecturer who can
    /// reach it, or on a city or larger only those of the lecturers living nearest.
    pub(super) candidates: Vec<Vec<u32>>,
    /// Whether `candidates` leaves routes out, so that a village without a place among them
    /// is then offered every route.
    pub(super) restricted: bool,
    /// For each lecturer the villages offered her routes (the reverse of `candidates`).
    pub(super) offered: Vec<Vec<u32>>,
    /// For each village the villages nearest it (straight line), nearest first: the search's
    /// related removals.
    pub(super) near: Vec<Vec<u32>>,
}

/// Legs of one kind (village to village, home to village, village to home): a table while
/// it is small, computed when asked beyond that, so memory grows with the instance, not with
/// its square.
enum Legs {
    Table { columns: usize, legs: Vec<Leg> },
    Computed,
}

/// Up to this many entries a leg table is kept (16 MB); beyond, legs are computed when asked.
const LEG_TABLE_MAX: usize = 1 << 20;

/// Up to this many (village, route) pairs every village is offered every route.
const CANDIDATES_ALL_MAX: usize = 4_000_000;

/// Villages remembered as each village's neighbours.
const NEIGHBOURS: usize = 24;

/// A leg the matrix says has no road: so long that no day can hold it.
const NO_ROAD: Leg = Leg {
    km: f64::INFINITY,
    minutes: 1 << 40,
};

impl<'a> Problem<'a> {
    pub(super) fn new(inst: &'a Instance) -> Problem<'a> {
        let n = inst.villages.len();
        let lecturers = inst.lecturers.len();
        let mut problem = Problem {
            inst,
            travel: Travel::new(inst),
            vv: Legs::Computed,
            hv: Legs::Computed,
            vh: Legs::Computed,
            day: (minutes(inst.day_start), minutes(inst.day_end)),
            session: i64::from(inst.session_minutes),
            step: i64::from(inst.start_step_minutes.max(1)),
            eligible: (0..lecturers)
                .filter(|&l| inst.can_lecture(&inst.lecturers[l]))
                .collect(),
            route_keys: route_keys(inst),
            candidates: Vec::new(),
            restricted: false,
            offered: Vec::new(),
            near: Vec::new(),
        };
        let table = |rows: usize, leg: &dyn Fn(usize, usize) -> Leg| {
            if rows * n > LEG_TABLE_MAX {
                return Legs::Computed;
            }
            let legs = (0..rows)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .map(|(i, j)| leg(i, j))
                .collect();
            Legs::Table { columns: n, legs }
        };
        let vv = table(n, &|i, j| problem.leg(Place::Village(i), Place::Village(j)));
        let hv = table(lecturers, &|l, v| {
            problem.leg(Place::Home(l), Place::Village(v))
        });
        let vh = table(lecturers, &|l, v| {
            problem.leg(Place::Village(v), Place::Home(l))
        });
        (problem.vv, problem.hv, problem.vh) = (vv, hv, vh);
        let villages = Grid::of_villages(inst);
        problem.near = inst
            .villages
            .iter()
            .enumerate()
            .map(|(i, v)| {
                villages
                    .nearest(v.lat, v.lon, NEIGHBOURS, |j| j != i)
                    .into_iter()
                    .map(|(_, j)| j as u32)
                    .collect()
            })
            .collect();
        problem.restricted = n * problem.route_keys.len() > CANDIDATES_ALL_MAX;
        problem.candidates = problem.candidate_routes();
        problem.offered = vec![Vec::new(); lecturers];
        for (v, routes) in problem.candidates.iter().enumerate() {
            let mut last = None;
            for &ri in routes {
                let l = problem.route_keys[ri as usize].0;
                // A lecturer's routes are consecutive in each village's ascending list.
                if last != Some(l) {
                    problem.offered[l].push(v as u32);
                    last = Some(l);
                }
            }
        }
        problem
    }

    fn leg(&self, from: Place, to: Place) -> Leg {
        self.travel.leg(from, to).unwrap_or(NO_ROAD)
    }

    pub(super) fn vv(&self, from: usize, to: usize) -> Leg {
        match &self.vv {
            Legs::Table { columns, legs } => legs[from * columns + to],
            Legs::Computed => self.leg(Place::Village(from), Place::Village(to)),
        }
    }

    pub(super) fn hv(&self, lecturer: usize, village: usize) -> Leg {
        match &self.hv {
            Legs::Table { columns, legs } => legs[lecturer * columns + village],
            Legs::Computed => self.leg(Place::Home(lecturer), Place::Village(village)),
        }
    }

    pub(super) fn vh(&self, lecturer: usize, village: usize) -> Leg {
        match &self.vh {
            Legs::Table { columns, legs } => legs[lecturer * columns + village],
            Legs::Computed => self.leg(Place::Village(village), Place::Home(lecturer)),
        }
    }

    /// Whether lecturer `l` may visit village `v` on some day (false only when ruled out for
    /// certain). Straight-line travel obeys the triangle inequality, so a village out of reach
    /// on a day trip is out of reach on any day. A county's matrix need not (a village may be
    /// reachable only by way of another), so then nothing is ruled out in advance.
    pub(super) fn reachable(&self, l: usize, v: usize) -> bool {
        self.inst.travel_matrix.is_some() || self.day_km(l, &[v]).is_some()
    }

    /// The routes each village is offered. Every route of a lecturer who can reach it while
    /// villages × routes stays small; beyond, the routes of the nearest lecturers who can
    /// reach it: at least 8 lecturers and 320 routes, or 512 routes, whichever comes first.
    fn candidate_routes(&self) -> Vec<Vec<u32>> {
        let inst = self.inst;
        let mut first_route = vec![usize::MAX; inst.lecturers.len()];
        let mut route_count = vec![0usize; inst.lecturers.len()];
        for (ri, &(l, _)) in self.route_keys.iter().enumerate() {
            first_route[l] = first_route[l].min(ri);
            route_count[l] += 1;
        }
        let routes_of =
            |l: usize| (first_route[l]..first_route[l] + route_count[l]).map(|r| r as u32);
        // In route order, so that the routes offered come out ascending.
        let mut lecturing: Vec<usize> = (0..inst.lecturers.len())
            .filter(|&l| route_count[l] > 0 && inst.lecturers[l].max_per_day > 0)
            .collect();
        lecturing.sort_by_key(|&l| first_route[l]);
        if !self.restricted {
            return (0..inst.villages.len())
                .map(|v| {
                    lecturing
                        .iter()
                        .filter(|&&l| self.reachable(l, v))
                        .flat_map(|&l| routes_of(l))
                        .collect()
                })
                .collect();
        }
        let homes = Grid::of_homes(inst, &lecturing);
        inst.villages
            .iter()
            .enumerate()
            .map(|(v, village)| {
                let mut chosen: Vec<usize> = Vec::new();
                let mut routes = 0;
                for (_, h) in homes.nearest(village.lat, village.lon, 64, |_| true) {
                    let l = lecturing[h];
                    if !self.reachable(l, v) {
                        continue;
                    }
                    chosen.push(l);
                    routes += route_count[l];
                    if (chosen.len() >= 8 && routes >= 320) || routes >= 512 {
                        break;
                    }
                }
                // A lecturer's routes are consecutive, lecturer by lecturer.
                chosen.sort_unstable_by_key(|&l| first_route[l]);
                chosen.into_iter().flat_map(routes_of).collect()
            })
            .collect()
    }

    /// Travel km of a day visiting `stops` in order, ignoring the daily maximum, or `None`
    /// when it does not fit the day window.
    pub(super) fn day_km(&self, lecturer: usize, stops: &[usize]) -> Option<f64> {
        self.walk(lecturer, stops.len(), |i| stops[i])
    }

    /// (fewest, most) sessions among the lecturers fairness counts, given each lecturer's load.
    pub(super) fn fairness_of(&self, load: &[u32]) -> (u32, u32) {
        let eligible = || self.eligible.iter().map(|&l| load[l]);
        (eligible().min().unwrap_or(0), eligible().max().unwrap_or(0))
    }

    /// Travel km of a route, or `None` when it does not fit the day or the daily maximum.
    pub(super) fn route_km(&self, lecturer: usize, stops: &[usize]) -> Option<f64> {
        self.route_km_with(lecturer, stops, None)
    }

    /// Like [`Problem::route_km`] with `insert` = (position, village) put into the route, without
    /// building the new route (the solver's inner loop).
    pub(super) fn route_km_with(
        &self,
        lecturer: usize,
        stops: &[usize],
        insert: Option<(usize, usize)>,
    ) -> Option<f64> {
        let len = stops.len() + usize::from(insert.is_some());
        if len as u32 > self.inst.lecturers[lecturer].max_per_day {
            return None;
        }
        self.walk(lecturer, len, |i| match insert {
            Some((pos, v)) if i == pos => v,
            Some((pos, _)) if i > pos => stops[i - 1],
            _ => stops[i],
        })
    }

    /// Walks a day of `len` stops (`at(i)` is the i-th) from home and back: its km, or `None`
    /// when it does not fit the day window.
    fn walk(&self, lecturer: usize, len: usize, at: impl Fn(usize) -> usize) -> Option<f64> {
        self.walk_from(lecturer, (0.0, self.day.0, None), len, at)
    }

    /// Walks on from `start` = (km so far, clock, where she is: `None` at home) through `len`
    /// more stops and home: the day's km, or `None` when it does not fit the day window.
    /// When a talk starts for a lecturer arriving at `arrival` (minutes after midnight): on
    /// the instance's start step.
    pub(super) fn start_at(&self, arrival: i64) -> i64 {
        // The walk is the search's inner loop: no division when talks start on arrival.
        if self.step == 1 {
            arrival
        } else {
            (arrival + self.step - 1).div_euclid(self.step) * self.step
        }
    }

    pub(super) fn walk_from(
        &self,
        lecturer: usize,
        start: (f64, i64, Option<usize>),
        len: usize,
        at: impl Fn(usize) -> usize,
    ) -> Option<f64> {
        let (mut km, mut clock, mut prev) = start;
        for i in 0..len {
            let v = at(i);
            let leg = match prev {
                None => self.hv(lecturer, v),
                Some(p) => self.vv(p, v),
            };
            km += leg.km;
            clock = self.start_at(clock + leg.minutes) + self.session;
            if clock > self.day.1 {
                return None;
            }
            prev = Some(v);
        }
        if let Some(p) = prev {
            let home = self.vh(lecturer, p);
            km += home.km;
            clock += home.minutes;
        }
        (clock <= self.day.1).then_some(km)
    }
}

/// One route per lecturer-day of each lecturer with the topic, however often a date is listed.
/// Lecturers who give more talks a day come first: where two places cost the same (lecturers
/// living at the same seat), insertion keeps the first, and a day with room for a third talk
/// can later save a whole trip.
fn route_keys(inst: &Instance) -> Vec<(usize, NaiveDate)> {
    let days: HashSet<NaiveDate> = inst.days.iter().copied().collect();
    let mut lecturers: Vec<(usize, &crate::Lecturer)> = inst
        .lecturers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.topics.contains(&inst.topic))
        .collect();
    lecturers.sort_by_key(|&(li, l)| (std::cmp::Reverse(l.max_per_day), li));
    lecturers
        .into_iter()
        .flat_map(|(li, l)| l.free_days(&days).into_iter().map(move |date| (li, date)))
        .collect()
}

/// The objective, in order: villages left out, then sessions left out (a talk given in a
/// village that asked for two is still worth giving), travel, spread of sessions per lecturer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cost {
    pub(super) uncovered: usize,
    pub(super) missing: usize,
    /// Infinite when a day does not fit (a removal can break a day when a county's matrix
    /// does not obey the triangle inequality); such a plan is never accepted.
    pub(super) km: f64,
    pub(super) spread: u32,
}

impl Cost {
    fn coverage(&self) -> (usize, usize) {
        (self.uncovered, self.missing)
    }
}

/// What the solver may spend. The CLI's time limit or `--iterations` lives behind it, so the
/// core needs no clock.
pub trait Budget {
    /// The share of the search's budget used, 0 to 1; asked once per search step.
    fn spent(&mut self) -> f64;
    /// Whether the whole run must end now. Construction and the last passes ask it between
    /// pieces of work and, when it says so, stop with the plan they have: every plan the solver
    /// holds is a checked one, just less complete or less polished.
    fn exhausted(&mut self) -> bool;
}

/// No hard limit: for the search's own small reinsertions, which the search's steps bound.
struct Unlimited;

impl Budget for Unlimited {
    fn spent(&mut self) -> f64 {
        0.0
    }
    fn exhausted(&mut self) -> bool {
        false
    }
}

/// The state being improved.
#[derive(Clone)]
pub(super) struct Plan {
    pub(super) routes: Vec<Route>,
    pub(super) unassigned: Vec<usize>,
    /// While open: the routes changed since, each with its stops before the first change, so a
    /// rejected search step can be put back without copying the whole plan.
    journal: Option<Vec<(usize, Vec<usize>)>>,
}

/// An item's places while insertion runs: the cheapest and the cost of the second cheapest.
#[derive(Clone, Copy)]
struct Places {
    /// (extra km, index into the item's candidates, position in the route).
    best: Option<(f64, usize, usize)>,
    second: f64,
}

impl Places {
    fn of(row: &[Option<(f64, usize)>]) -> Places {
        let mut places = Places {
            best: None,
            second: f64::INFINITY,
        };
        for (j, option) in row.iter().enumerate() {
            if let Some((cost, pos)) = *option {
                places.offer(cost, j, pos);
            }
        }
        places
    }

    fn offer(&mut self, cost: f64, j: usize, pos: usize) {
        match self.best {
            Some((b, _, _)) if cost >= b => self.second = self.second.min(cost),
            _ => {
                self.second = self.best.map_or(f64::INFINITY, |b| b.0);
                self.best = Some((cost, j, pos));
            }
        }
    }

    /// Takes in that candidate `j` changed from `old` to `row[j]`; whether anything changed.
    fn update(
        &mut self,
        row: &[Option<(f64, usize)>],
        j: usize,
        old: Option<(f64, usize)>,
    ) -> bool {
        let was_counted =
            self.best.is_some_and(|b| b.1 == j) || old.is_some_and(|(c, _)| c <= self.second);
        if was_counted {
            *self = Places::of(row);
            return true;
        }
        match row[j] {
            Some((cost, pos)) if self.best.is_none_or(|b| cost < b.0) || cost < self.second => {
                self.offer(cost, j, pos);
                true
            }
            _ => false,
        }
    }

    /// How much worse the second place is than the best (infinite with a single place).
    fn regret(&self) -> f64 {
        self.best.map_or(f64::NEG_INFINITY, |b| self.second - b.0)
    }
}

/// The order insertion takes the waiting items in.
#[derive(Clone, Copy)]
enum Order {
    /// The one whose second-best place is worst compared with its best first.
    Regret,
    /// The cheapest to place first.
    Cheapest,
}

/// An item in the regret queue; `version` tells a stale entry from the item's latest.
struct Queued {
    regret: f64,
    cost: f64,
    item: usize,
    version: u32,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    /// Greatest regret first; then the cheaper place; then the earlier item.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.regret
            .total_cmp(&other.regret)
            .then(other.cost.total_cmp(&self.cost))
            .then(other.item.cmp(&self.item))
    }
}

impl Plan {
    pub(super) fn new(p: &Problem) -> Plan {
        let routes = p
            .route_keys
            .iter()
            .map(|&(lecturer, date)| Route {
                lecturer,
                date,
                stops: Vec::new(),
            })
            .collect();
        // One item per session asked for: a village that wants two talks is in the list twice.
        let unassigned = p
            .inst
            .villages
            .iter()
            .enumerate()
            .flat_map(|(vi, v)| (0..v.sessions).map(move |_| vi))
            .collect();
        Plan {
            routes,
            unassigned,
            journal: None,
        }
    }

    /// Route `ri`'s stops to change, noted in the journal when one is open.
    fn edit(&mut self, ri: usize) -> &mut Vec<usize> {
        if let Some(journal) = &mut self.journal
            && !journal.iter().any(|(r, _)| *r == ri)
        {
            journal.push((ri, self.routes[ri].stops.clone()));
        }
        &mut self.routes[ri].stops
    }

    /// Villages left without all their talks: each session is on a route or waiting, so these
    /// are the villages among the waiting items.
    pub(super) fn uncovered(&self) -> usize {
        let mut waiting = self.unassigned.clone();
        waiting.sort_unstable();
        waiting.dedup();
        waiting.len()
    }

    pub(super) fn cost(&self, p: &Problem) -> Cost {
        let km: f64 = self
            .routes
            .iter()
            .map(|r| p.route_km(r.lecturer, &r.stops).unwrap_or(f64::INFINITY))
            .sum();
        let (fewest, most) = self.fairness(p);
        Cost {
            uncovered: self.uncovered(),
            missing: self.unassigned.len(),
            km,
            spread: most - fewest,
        }
    }

    pub(super) fn loads(&self, p: &Problem) -> Vec<u32> {
        let mut load = vec![0u32; p.inst.lecturers.len()];
        for r in &self.routes {
            load[r.lecturer] += r.stops.len() as u32;
        }
        load
    }

    /// (fewest, most) sessions among the lecturers who could lecture.
    pub(super) fn fairness(&self, p: &Problem) -> (u32, u32) {
        p.fairness_of(&self.loads(p))
    }

    /// Talks placed per village.
    pub(super) fn placed(&self, inst: &Instance) -> Vec<u32> {
        let mut placed = vec![0u32; inst.villages.len()];
        for r in &self.routes {
            for &v in &r.stops {
                placed[v] += 1;
            }
        }
        placed
    }

    pub(super) fn village_on(&self, village: usize, date: NaiveDate) -> bool {
        self.routes
            .iter()
            .any(|r| r.date == date && r.stops.contains(&village))
    }

    /// The best place for `village` in route `ri`: (extra km, position), or `None`.
    pub(super) fn route_option(
        &self,
        p: &Problem,
        village: usize,
        ri: usize,
    ) -> Option<(f64, usize)> {
        let r = &self.routes[ri];
        // A village asked for once and waiting for a place is on no route: skip the scan.
        if r.stops.len() as u32 >= p.inst.lecturers[r.lecturer].max_per_day
            || (p.inst.villages[village].sessions > 1 && self.village_on(village, r.date))
        {
            return None;
        }
        let before = p.route_km(r.lecturer, &r.stops)?;
        let mut best: Option<(f64, usize)> = None;
        for pos in 0..=r.stops.len() {
            if let Some(after) = p.route_km_with(r.lecturer, &r.stops, Some((pos, village)))
                && best.is_none_or(|(c, _)| after - before < c)
            {
                best = Some((after - before, pos));
            }
        }
        best
    }

    /// Regret insertion: repeatedly insert the item whose second-best place is worst compared
    /// with its best (items with a single place first). Each item's best place per candidate
    /// route is kept, with its best and second best; an insertion refreshes only the changed
    /// route's entries (and, for a village asked for more than once, that day's), and a queue
    /// keyed by regret finds the next item without scanning them all. Then, when candidates
    /// leave routes out, items still waiting are offered every route.
    fn insert_all(&mut self, p: &Problem, budget: &mut dyn Budget) {
        self.insert_by(p, Order::Regret, true, budget);
    }

    /// Insertion as [`Plan::insert_all`], in the given order.
    /// `anywhere`: whether items no candidate route takes are then offered every route (the
    /// search says no: a step would scan every route for each waiting village, and a step that
    /// loses a village is never accepted anyway).
    fn insert_by(&mut self, p: &Problem, order: Order, anywhere: bool, budget: &mut dyn Budget) {
        if budget.exhausted() {
            return;
        }
        let items = std::mem::take(&mut self.unassigned);
        let mut rows: Vec<Vec<Option<(f64, usize)>>> = Vec::with_capacity(items.len());
        for (k, &v) in items.iter().enumerate() {
            if k % 256 == 255 && budget.exhausted() {
                self.unassigned = items;
                return;
            }
            rows.push(
                p.candidates[v]
                    .iter()
                    .map(|&ri| self.route_option(p, v, ri as usize))
                    .collect(),
            );
        }
        let mut places: Vec<Places> = rows.iter().map(|row| Places::of(row)).collect();
        let mut version = vec![0u32; items.len()];
        let mut done = vec![false; items.len()];
        let queued = |item: usize, places: &Places, version: u32| {
            places.best.map(|b| Queued {
                regret: match order {
                    Order::Regret => places.regret(),
                    Order::Cheapest => -b.0,
                },
                cost: b.0,
                item,
                version,
            })
        };
        let mut queue: std::collections::BinaryHeap<Queued> = (0..items.len())
            .filter_map(|k| queued(k, &places[k], 0))
            .collect();
        let mut item_of: HashMap<usize, Vec<usize>> = HashMap::new();
        for (k, &v) in items.iter().enumerate() {
            item_of.entry(v).or_default().push(k);
        }
        let mut waiting = items.len();
        let mut inserted = 0u32;
        while let Some(next) = queue.pop() {
            let k = next.item;
            if done[k] || next.version != version[k] {
                continue;
            }
            inserted += 1;
            if inserted.is_multiple_of(32) && budget.exhausted() {
                break;
            }
            let v = items[k];
            let Some((_, j, pos)) = places[k].best else {
                continue;
            };
            let ri = p.candidates[v][j] as usize;
            self.edit(ri).insert(pos, v);
            done[k] = true;
            let date = self.routes[ri].date;
            // The same village cannot have a second talk that day.
            for &u in item_of.get(&v).into_iter().flatten() {
                if done[u] {
                    continue;
                }
                for (j, &rj) in p.candidates[v].iter().enumerate() {
                    if self.routes[rj as usize].date == date {
                        rows[u][j] = None;
                    }
                }
                places[u] = Places::of(&rows[u]);
                version[u] += 1;
                queue.extend(queued(u, &places[u], version[u]));
            }
            // The items this route is a candidate of: few waiting items are looked at one by
            // one, many through the villages near the route's lecturer.
            let lecturer = self.routes[ri].lecturer;
            let concerned: Vec<usize> = if waiting * 8 < p.offered[lecturer].len() {
                (0..items.len()).filter(|&u| !done[u]).collect()
            } else {
                p.offered[lecturer]
                    .iter()
                    .flat_map(|&village| item_of.get(&(village as usize)).into_iter().flatten())
                    .copied()
                    .filter(|&u| !done[u])
                    .collect()
            };
            waiting -= 1;
            for u in concerned {
                let village = items[u];
                if village == v {
                    continue;
                }
                let Ok(j) = p.candidates[village].binary_search(&(ri as u32)) else {
                    continue;
                };
                let old = rows[u][j];
                rows[u][j] = self.route_option(p, village, ri);
                if rows[u][j] != old && places[u].update(&rows[u], j, old) {
                    version[u] += 1;
                    queue.extend(queued(u, &places[u], version[u]));
                }
            }
        }
        self.unassigned = (0..items.len())
            .filter(|&k| !done[k])
            .map(|k| items[k])
            .collect();
        if anywhere && p.restricted && !self.unassigned.is_empty() {
            self.insert_anywhere(p, budget);
        }
        self.insert_pairs(p, budget);
    }

    /// Offers each waiting item every route, cheapest first: for the villages the nearest
    /// lecturers' routes could not take (a city or larger, where candidates leave routes out).
    fn insert_anywhere(&mut self, p: &Problem, budget: &mut dyn Budget) {
        let items = std::mem::take(&mut self.unassigned);
        for (n, &v) in items.iter().enumerate() {
            if n % 16 == 15 && budget.exhausted() {
                self.unassigned.extend_from_slice(&items[n..]);
                return;
            }
            let best = (0..self.routes.len())
                .filter_map(|ri| self.route_option(p, v, ri).map(|(c, pos)| (c, ri, pos)))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((_, ri, pos)) => self.edit(ri).insert(pos, v),
                None => self.unassigned.push(v),
            }
        }
    }

    /// Under a county's matrix a village may fit a day only together with another (no road from
    /// home to B, but one by way of A), which one-at-a-time insertion never builds: try each
    /// pair of waiting villages in each day, cheapest first. Straight-line travel obeys the
    /// triangle inequality, so there a pair never fits where its members singly could not.
    fn insert_pairs(&mut self, p: &Problem, budget: &mut dyn Budget) {
        if p.inst.travel_matrix.is_none() || self.unassigned.len() < 2 {
            return;
        }
        while !budget.exhausted() {
            let mut best: Option<(f64, usize, usize, usize, Vec<usize>)> = None;
            for a in 0..self.unassigned.len() {
                for b in a + 1..self.unassigned.len() {
                    let (u, v) = (self.unassigned[a], self.unassigned[b]);
                    if u == v {
                        continue;
                    }
                    for (ri, r) in self.routes.iter().enumerate() {
                        let Some(before) = p.route_km(r.lecturer, &r.stops) else {
                            continue;
                        };
                        if self.village_on(u, r.date) || self.village_on(v, r.date) {
                            continue;
                        }
                        for i in 0..=r.stops.len() {
                            for j in 0..=r.stops.len() + 1 {
                                if i == j {
                                    continue;
                                }
                                let mut stops = r.stops.clone();
                                stops.insert(i, u);
                                stops.insert(j, v);
                                if let Some(after) = p.route_km(r.lecturer, &stops)
                                    && best.as_ref().is_none_or(|b| after - before < b.0)
                                {
                                    best = Some((after - before, a, b, ri, stops));
                                }
                            }
                        }
                    }
                }
            }
            let Some((_, a, b, ri, stops)) = best else {
                return;
            };
            *self.edit(ri) = stops;
            self.unassigned.swap_remove(b);
            self.unassigned.swap_remove(a);
        }
    }

    /// A village given some but not all of its talks is not covered, and its talks may be
    /// what keeps other villages out. For each such village, take its talks back, place the
    /// other waiting villages first, then offer its talks again; keep the result if more
    /// villages (or sessions) end up covered.
    fn release_partial(&mut self, p: &Problem, budget: &mut dyn Budget) {
        let placed = self.placed(p.inst);
        let partial =
            (0..placed.len()).filter(|&v| placed[v] > 0 && placed[v] < p.inst.villages[v].sessions);
        for v in partial {
            if budget.exhausted() {
                return;
            }
            let before = self.cost(p);
            let mut trial = self.clone();
            for r in &mut trial.routes {
                r.stops.retain(|&s| s != v);
            }
            trial.unassigned.retain(|&s| s != v);
            trial.insert_all(p, budget);
            trial
                .unassigned
                .extend((0..p.inst.villages[v].sessions).map(|_| v));
            trial.insert_all(p, budget);
            trial.polish(p);
            let after = trial.cost(p);
            if after.km.is_finite() && after.coverage() < before.coverage() {
                *self = trial;
            }
        }
    }

    /// When villages wait for want of room, a waiting village may take a nearby talk's place
    /// for less travel: tries each waiting village in place of each of its nearest placed
    /// villages (at the best position in that day), makes every exchange that saves travel,
    /// and repeats until none does.
    pub(super) fn swap_waiting(&mut self, p: &Problem, budget: &mut dyn Budget) {
        let mut improved = true;
        while improved && !self.unassigned.is_empty() {
            improved = false;
            let mut on_route: HashMap<usize, (usize, usize)> = HashMap::new();
            for (ri, r) in self.routes.iter().enumerate() {
                for (i, &v) in r.stops.iter().enumerate() {
                    on_route.insert(v, (ri, i));
                }
            }
            for k in 0..self.unassigned.len() {
                if budget.exhausted() {
                    return;
                }
                let w = self.unassigned[k];
                if p.inst.villages[w].sessions > 1 {
                    continue;
                }
                let mut best: Option<(f64, usize, usize, Vec<usize>)> = None;
                for &s in &p.near[w] {
                    let s = s as usize;
                    let Some(&(ri, i)) = on_route.get(&s) else {
                        continue;
                    };
                    if p.inst.villages[s].sessions > 1 {
                        continue;
                    }
                    let r = &self.routes[ri];
                    let Some(before) = p.route_km(r.lecturer, &r.stops) else {
                        continue;
                    };
                    let mut rest = r.stops.clone();
                    rest.remove(i);
                    for pos in 0..=rest.len() {
                        if let Some(after) = p.route_km_with(r.lecturer, &rest, Some((pos, w)))
                            && after < before - 1e-6
                            && best.as_ref().is_none_or(|b| after - before < b.0)
                        {
                            let mut stops = rest.clone();
                            stops.insert(pos, w);
                            best = Some((after - before, ri, s, stops));
                        }
                    }
                }
                if let Some((_, ri, s, stops)) = best {
                    self.routes[ri].stops = stops;
                    self.unassigned[k] = s;
                    self.polish_route(p, ri);
                    improved = true;
                    break;
                }
            }
        }
    }

    /// Greedy insertion in a random order: each item goes to its cheapest place, if any. Less
    /// clever than regret, which is the point: it lets the search leave regret's groove.
    fn insert_shuffled(&mut self, p: &Problem, rng: &mut Rng) {
        let mut items = std::mem::take(&mut self.unassigned);
        for i in (1..items.len()).rev() {
            items.swap(i, rng.below(i + 1));
        }
        for v in items {
            let best = p.candidates[v]
                .iter()
                .filter_map(|&ri| {
                    let ri = ri as usize;
                    self.route_option(p, v, ri).map(|(c, pos)| (c, ri, pos))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((_, ri, pos)) => self.edit(ri).insert(pos, v),
                None => self.unassigned.push(v),
            }
        }
        self.insert_pairs(p, &mut Unlimited);
    }

    /// Puts each short day's stops in their best order (a lecturer gives a handful of talks a
    /// day, so trying every order is cheap and exact).
    pub(super) fn polish(&mut self, p: &Problem) {
        for ri in 0..self.routes.len() {
            self.polish_route(p, ri);
        }
    }

    fn polish_route(&mut self, p: &Problem, ri: usize) {
        let r = &mut self.routes[ri];
        if !(2..=6).contains(&r.stops.len()) {
            return;
        }
        let mut best = (
            p.route_km(r.lecturer, &r.stops).unwrap_or(f64::INFINITY),
            None,
        );
        let mut order = r.stops.clone();
        each_order(&mut order, 0, &mut |o| {
            if let Some(km) = p.route_km(r.lecturer, o)
                && km < best.0 - 1e-9
            {
                best = (km, Some(o.to_vec()));
            }
        });
        if let Some(stops) = best.1 {
            r.stops = stops;
        }
    }
}

/// Calls `f` with every ordering of `items[k..]`.
pub(super) fn each_order(items: &mut Vec<usize>, k: usize, f: &mut dyn FnMut(&[usize])) {
    if k == items.len() {
        f(items);
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        each_order(items, k + 1, f);
        items.swap(k, i);
    }
}

/// Why villages cannot be placed at all, for the report. The lecturers are sorted out once.
pub(super) struct Reasons<'p, 'a> {
    p: &'p Problem<'a>,
    any_with_topic: bool,
    /// Lecturers with the topic and a date among the days.
    on_days: Vec<usize>,
    /// Their homes, for the nearest one.
    homes: Grid,
}

impl<'p, 'a> Reasons<'p, 'a> {
    pub(super) fn new(p: &'p Problem<'a>) -> Self {
        let inst = p.inst;
        let days: HashSet<NaiveDate> = inst.days.iter().copied().collect();
        let with_topic = |l: &&crate::Lecturer| l.topics.contains(&inst.topic);
        let on_days: Vec<usize> = (0..inst.lecturers.len())
            .filter(|&l| {
                let lecturer = &inst.lecturers[l];
                with_topic(&lecturer) && days.iter().any(|&d| lecturer.free_on(d))
            })
            .collect();
        let homes = Grid::of_homes(inst, &on_days);
        Reasons {
            p,
            any_with_topic: inst.lecturers.iter().any(|l| with_topic(&l)),
            on_days,
            homes,
        }
    }

    pub(super) fn of(&self, village: usize) -> Reason {
        let (p, inst) = (self.p, self.p.inst);
        if !self.any_with_topic {
            return Reason::NoLecturerWithTopic;
        }
        if self.on_days.is_empty() {
            return Reason::NoAvailableDate;
        }
        let reachable = if inst.travel_matrix.is_none() {
            // Straight-line travel depends on distance alone: the nearest home decides.
            let v = &inst.villages[village];
            self.homes
                .nearest(v.lat, v.lon, 1, |_| true)
                .first()
                .is_some_and(|&(_, h)| p.day_km(self.on_days[h], &[village]).is_some())
        } else {
            // Reachable on a day trip, or (a matrix need not obey the triangle inequality) by
            // way of one other village; longer detours are not searched for the report.
            let others = || (0..inst.villages.len()).filter(|&u| u != village);
            self.on_days.iter().any(|&l| {
                p.day_km(l, &[village]).is_some()
                    || others().any(|u| {
                        p.day_km(l, &[u, village]).is_some() || p.day_km(l, &[village, u]).is_some()
                    })
            })
        };
        if reachable {
            Reason::NoCapacityLeft
        } else {
            Reason::NotReachableWithinDay
        }
    }
}

/// Solves `inst` within `budget` (see [`Budget`]); `progress` hears (iteration, villages
/// covered, km) on improvements.
///
/// Construction, the search and the last passes share the budget: construction and the last
/// passes stop when it is exhausted, with the plan they have. The search's share goes to
/// travel; when the instance allows fairness some extra travel (`fairness_slack`), its last
/// 30 % goes to evening out the sessions per lecturer within that allowance. A final pass
/// evens them out further at no cost in travel.
pub fn solve(
    inst: &Instance,
    seed: u64,
    budget: &mut dyn Budget,
    progress: &mut dyn FnMut(u64, usize, f64),
) -> Schedule {
    let p = Problem::new(inst);
    let mut rng = Rng(seed.max(1));
    let mut plan = Plan::new(&p);
    plan.insert_all(&p, budget);
    plan.polish(&p);
    plan.release_partial(&p, budget);
    let fairness_share = if inst.fairness_slack > 0.0 { 0.3 } else { 0.0 };
    let travel_share = 1.0 - fairness_share;
    let mut best = if budget.exhausted() {
        plan
    } else {
        search_travel(
            &p,
            plan,
            &mut rng,
            &mut || budget.spent() / travel_share,
            progress,
        )
    };
    if fairness_share > 0.0 {
        best = fairness::search_fairness(&p, best, &mut rng, &mut || {
            budget.spent() >= 1.0 || budget.exhausted()
        });
    }
    // Fairness moves can open room a waiting village fits into; coverage comes first.
    best.insert_all(&p, budget);
    best.polish(&p);
    best.release_partial(&p, budget);
    best.swap_waiting(&p, budget);
    best.balance(&p, budget);
    to_schedule(&p, &best)
}

/// Large-neighbourhood search for travel: remove a few stops (random, or around one village),
/// reinsert by regret or greedily in random order, accept by simulated annealing on travel
/// (never losing coverage), cooling over the budget (`spent` says how much of it is used, 0 to
/// 1), so a longer run cools more slowly. A step changes a few routes, so only their travel is
/// recomputed, and a rejected step is put back from the plan's journal. Returns the best plan
/// seen.
fn search_travel(
    p: &Problem,
    mut plan: Plan,
    rng: &mut Rng,
    spent: &mut dyn FnMut() -> f64,
    progress: &mut dyn FnMut(u64, usize, f64),
) -> Plan {
    let inst = p.inst;
    let km_of = |plan: &Plan, ri: usize| {
        let r = &plan.routes[ri];
        p.route_km(r.lecturer, &r.stops).unwrap_or(f64::INFINITY)
    };
    let mut route_km: Vec<f64> = (0..plan.routes.len()).map(|ri| km_of(&plan, ri)).collect();
    let mut current = (
        plan.uncovered(),
        plan.unassigned.len(),
        route_km.iter().sum::<f64>(),
    );
    let mut best = plan.clone();
    let mut best_cost = plan.cost(p);
    progress(0, inst.villages.len() - current.0, current.2);
    // Start hot enough to accept a detour of ~2 % of the first schedule's travel; end at
    // 100 m, where little but improvements pass.
    let hot = (current.2 * 0.02).max(0.5);
    let cold = 0.1f64.min(hot);
    let mut iteration = 0u64;
    let mut stops: Vec<(usize, usize)> = Vec::new();
    let mut nearby = vec![false; inst.villages.len()];
    let mut dirty = vec![false; plan.routes.len()];
    let mut changed_since_best: Vec<usize> = Vec::new();
    let spread = |plan: &Plan| {
        let (fewest, most) = plan.fairness(p);
        most - fewest
    };
    loop {
        let used = spent();
        stops.clear();
        for (ri, r) in plan.routes.iter().enumerate() {
            stops.extend((0..r.stops.len()).map(|i| (ri, i)));
        }
        if used >= 1.0 || stops.is_empty() {
            break;
        }
        let temperature = hot * (cold / hot).powf(used.max(0.0));
        iteration += 1;
        // Up to 8 stops: on a small instance that can be all of them, enough to jump between
        // schedules that differ in many places; on a county, more gained nothing measurable.
        // Stops, not villages: a village asked for several talks may lose more than one.
        let mut q = 1 + rng.below(stops.len().min(8));
        // A third of the time the stops nearest a random one (related removal), a third whole
        // days near it (so a half-empty day can close and its talks fill others), a third any.
        let mode = rng.below(3);
        if mode < 2 {
            // The seed is a placed village, or half the time a waiting one, whose neighbours
            // give way so that it may take their place.
            let seed = if !plan.unassigned.is_empty() && rng.below(2) == 0 {
                plan.unassigned[rng.below(plan.unassigned.len())]
            } else {
                let (sr, si) = stops[rng.below(stops.len())];
                plan.routes[sr].stops[si]
            };
            nearby[seed] = true;
            for &u in &p.near[seed] {
                nearby[u as usize] = true;
            }
            stops.retain(|&(ri, i)| nearby[plan.routes[ri].stops[i]]);
            nearby[seed] = false;
            for &u in &p.near[seed] {
                nearby[u as usize] = false;
            }
            let km = |&(ri, i): &(usize, usize)| p.vv(seed, plan.routes[ri].stops[i]).km;
            stops.sort_by(|a, b| km(a).total_cmp(&km(b)).then(a.cmp(b)));
            if mode == 1 {
                // The days of the nearest stops, whole, up to 1–3 days.
                let days = 1 + rng.below(3);
                let mut routes: Vec<usize> = Vec::new();
                for &(ri, _) in &stops {
                    if !routes.contains(&ri) {
                        routes.push(ri);
                        if routes.len() == days {
                            break;
                        }
                    }
                }
                stops.clear();
                for &ri in &routes {
                    stops.extend((0..plan.routes[ri].stops.len()).map(|i| (ri, i)));
                }
                q = stops.len();
            }
        } else {
            for i in 0..q {
                let j = i + rng.below(stops.len() - i);
                stops.swap(i, j);
            }
        }
        stops.truncate(q);
        // Later positions first, so earlier ones stay where they were.
        stops.sort_unstable_by(|a, b| b.cmp(a));
        let waiting = plan.unassigned.clone();
        plan.journal = Some(Vec::new());
        let mut removed = Vec::with_capacity(stops.len());
        for &(ri, i) in &stops {
            removed.push(plan.edit(ri).remove(i));
        }
        // Of the villages already waiting, only those near the removed ones compete for the
        // room: where many wait for want of room, reinserting them all made every step as slow
        // as construction. The rest wait aside and rejoin after.
        for &v in &removed {
            nearby[v] = true;
            for &u in &p.near[v] {
                nearby[u as usize] = true;
            }
        }
        let (active, aside): (Vec<usize>, Vec<usize>) = waiting.iter().partition(|&&v| nearby[v]);
        for &v in &removed {
            nearby[v] = false;
            for &u in &p.near[v] {
                nearby[u as usize] = false;
            }
        }
        plan.unassigned = active;
        plan.unassigned.extend_from_slice(&removed);
        // Regret, cheapest first (when more villages wait than there is room for, which ones
        // get the room matters more than which are hardest to place), or greedy in a random
        // order.
        match rng.below(3) {
            0 => plan.insert_by(p, Order::Regret, false, &mut Unlimited),
            1 => plan.insert_by(p, Order::Cheapest, false, &mut Unlimited),
            _ => plan.insert_shuffled(p, rng),
        }
        plan.unassigned.extend_from_slice(&aside);
        let journal = plan.journal.take().unwrap_or_default();
        let mut km = current.2;
        let mut changed = Vec::with_capacity(journal.len());
        for &(ri, _) in &journal {
            plan.polish_route(p, ri);
            let after = km_of(&plan, ri);
            km += after - route_km[ri];
            changed.push((ri, after));
        }
        let coverage = (plan.uncovered(), plan.unassigned.len());
        let accept = km.is_finite()
            && (coverage < (current.0, current.1)
                || (coverage == (current.0, current.1)
                    && (km <= current.2 || rng.unit() < ((current.2 - km) / temperature).exp())));
        if !accept {
            for (ri, stops) in journal {
                plan.routes[ri].stops = stops;
            }
            plan.unassigned = waiting;
            continue;
        }
        for (ri, after) in changed {
            route_km[ri] = after;
            if !dirty[ri] {
                dirty[ri] = true;
                changed_since_best.push(ri);
            }
        }
        // Summed afresh, so that rounding does not drift over a long run.
        current = (coverage.0, coverage.1, route_km.iter().sum());
        // Strictly better in the objective's order; travel differing by less than a metre is a
        // tie, so that fairness decides.
        let better = if (current.0, current.1) != best_cost.coverage() {
            (current.0, current.1) < best_cost.coverage()
        } else if (current.2 - best_cost.km).abs() > 1e-3 {
            current.2 < best_cost.km
        } else {
            spread(&plan) < best_cost.spread
        };
        if better {
            // The best plan follows the current one route by route: only the routes changed
            // since it was last brought up to date are copied.
            for ri in changed_since_best.drain(..) {
                dirty[ri] = false;
                best.routes[ri].stops.clone_from(&plan.routes[ri].stops);
            }
            best.unassigned.clone_from(&plan.unassigned);
            best_cost = Cost {
                uncovered: current.0,
                missing: current.1,
                km: current.2,
                spread: spread(&plan),
            };
            progress(iteration, inst.villages.len() - current.0, current.2);
        }
    }
    best
}

fn to_schedule(p: &Problem, plan: &Plan) -> Schedule {
    let inst = p.inst;
    let mut sessions = Vec::new();
    let mut km = 0.0;
    for r in &plan.routes {
        if r.stops.is_empty() {
            continue;
        }
        km += p.route_km(r.lecturer, &r.stops).unwrap_or(0.0);
        let mut clock = p.day.0;
        let mut prev: Option<usize> = None;
        for &v in &r.stops {
            let leg = match prev {
                None => p.hv(r.lecturer, v),
                Some(x) => p.vv(x, v),
            };
            clock = p.start_at(clock + leg.minutes);
            sessions.push(Session {
                village: inst.villages[v].code.clone(),
                lecturer: inst.lecturers[r.lecturer].id.clone(),
                date: r.date,
                start: time_of(clock),
                end: time_of(clock + p.session),
            });
            clock += p.session;
            prev = Some(v);
        }
    }
    schedule_from(
        p,
        sessions,
        km,
        &plan.unassigned,
        &plan.placed(inst),
        &plan.loads(p),
    )
}

/// The schedule as written: sessions sorted, each village short of its talks listed once with
/// its reason, the statistics. `waiting` holds a village once per talk it lacks; `placed` and
/// `load` are talks per village and per lecturer.
pub(super) fn schedule_from(
    p: &Problem,
    mut sessions: Vec<Session>,
    travel_km: f64,
    waiting: &[usize],
    placed: &[u32],
    load: &[u32],
) -> Schedule {
    let inst = p.inst;
    sessions.sort();
    let mut missing = waiting.to_vec();
    missing.sort_unstable();
    missing.dedup();
    let reasons = Reasons::new(p);
    let unassigned = missing
        .iter()
        .map(|&v| Unassigned {
            village: inst.villages[v].code.clone(),
            // A village that got a talk is plainly reachable: it lacks room for the rest.
            reason: if placed[v] > 0 {
                Reason::NoCapacityLeft
            } else {
                reasons.of(v)
            },
        })
        .collect();
    let (fewest_sessions, most_sessions) = p.fairness_of(load);
    Schedule {
        sessions,
        unassigned,
        stats: Stats {
            covered: inst.villages.len() - missing.len(),
            travel_km,
            spread: most_sessions - fewest_sessions,
            most_sessions,
            fewest_sessions,
        },
    }
}
