//! The tour solver: regret insertion to construct, then large-neighbourhood search with
//! simulated annealing to improve, until the budget is spent; fairness (fairness.rs) last.
//! Deterministic for a seed and a budget in steps. Objective, in order: villages covered,
//! sessions given, total travel, fairness.

use chrono::NaiveDate;

use super::fairness;
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
    /// Leg between village i and j.
    pub(super) vv: Vec<Vec<Leg>>,
    /// Leg from lecturer l's home to village i.
    pub(super) hv: Vec<Vec<Leg>>,
    /// Leg from village i back to lecturer l's home.
    pub(super) vh: Vec<Vec<Leg>>,
    pub(super) day: (i64, i64),
    pub(super) session: i64,
    /// Whether lecturer l can visit village i at all in a day (false only when ruled out for
    /// certain; see [`Problem::new`]).
    pub(super) reachable: Vec<Vec<bool>>,
    /// The lecturers fairness is measured over ([`Instance::can_lecture`]).
    pub(super) eligible: Vec<usize>,
}

/// A leg the matrix says has no road: so long that no day can hold it.
const NO_ROAD: Leg = Leg {
    km: f64::INFINITY,
    minutes: 1 << 40,
};

impl<'a> Problem<'a> {
    pub(super) fn new(inst: &'a Instance) -> Problem<'a> {
        let travel = Travel::new(inst);
        let leg = |a: Place, b: Place| travel.leg(a, b).unwrap_or(NO_ROAD);
        let n = inst.villages.len();
        let lecturers = 0..inst.lecturers.len();
        let vv = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| leg(Place::Village(i), Place::Village(j)))
                    .collect()
            })
            .collect();
        let hv = lecturers
            .clone()
            .map(|l| {
                (0..n)
                    .map(|i| leg(Place::Home(l), Place::Village(i)))
                    .collect()
            })
            .collect();
        let vh = lecturers
            .map(|l| {
                (0..n)
                    .map(|i| leg(Place::Village(i), Place::Home(l)))
                    .collect()
            })
            .collect();
        let mut problem = Problem {
            inst,
            vv,
            hv,
            vh,
            day: (minutes(inst.day_start), minutes(inst.day_end)),
            session: i64::from(inst.session_minutes),
            reachable: Vec::new(),
            eligible: (0..inst.lecturers.len())
                .filter(|&l| inst.can_lecture(&inst.lecturers[l]))
                .collect(),
        };
        // Straight-line travel obeys the triangle inequality, so a village out of reach on a
        // day trip is out of reach on any day. A county's matrix need not (a village may be
        // reachable only by way of another), so then nothing is ruled out in advance.
        problem.reachable = (0..inst.lecturers.len())
            .map(|l| {
                (0..n)
                    .map(|v| inst.travel_matrix.is_some() || problem.day_km(l, &[v]).is_some())
                    .collect()
            })
            .collect();
        problem
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
        let mut km = 0.0;
        let mut clock = self.day.0;
        let mut prev: Option<usize> = None;
        for i in 0..len {
            let v = at(i);
            let leg = match prev {
                None => self.hv[lecturer][v],
                Some(p) => self.vv[p][v],
            };
            km += leg.km;
            clock += leg.minutes + self.session;
            if clock > self.day.1 {
                return None;
            }
            prev = Some(v);
        }
        if let Some(p) = prev {
            let home = self.vh[lecturer][p];
            km += home.km;
            clock += home.minutes;
        }
        (clock <= self.day.1).then_some(km)
    }
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

    /// Strictly better in the objective's order (travel differing by less than a metre is
    /// a tie, so that fairness decides).
    fn better_than(&self, other: &Cost) -> bool {
        if self.coverage() != other.coverage() {
            return self.coverage() < other.coverage();
        }
        if (self.km - other.km).abs() > 1e-3 {
            return self.km < other.km;
        }
        self.spread < other.spread
    }
}

/// The state being improved.
#[derive(Clone)]
pub(super) struct Plan {
    pub(super) routes: Vec<Route>,
    pub(super) unassigned: Vec<usize>,
}

impl Plan {
    pub(super) fn cost(&self, p: &Problem) -> Cost {
        let km: f64 = self
            .routes
            .iter()
            .map(|r| p.route_km(r.lecturer, &r.stops).unwrap_or(f64::INFINITY))
            .sum();
        let (fewest, most) = self.fairness(p);
        Cost {
            uncovered: p.inst.villages.len() - covered(p.inst, self),
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
            || !p.reachable[r.lecturer][village]
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

    /// Regret insertion: repeatedly insert the item whose second-best option is worst compared
    /// with its best (items with a single option first). Each item's best place per route is
    /// kept in a table; an insertion recomputes only the column of the route it changed (and,
    /// for a village asked for more than once, that day's other routes).
    fn insert_all(&mut self, p: &Problem) {
        let routes = self.routes.len();
        let mut table: Vec<Vec<Option<(f64, usize)>>> = self
            .unassigned
            .iter()
            .map(|&v| (0..routes).map(|ri| self.route_option(p, v, ri)).collect())
            .collect();
        loop {
            let mut pick: Option<(f64, usize, (f64, usize, usize))> = None;
            for (k, row) in table.iter().enumerate() {
                let mut best: Option<(f64, usize, usize)> = None;
                let mut second: Option<f64> = None;
                for (ri, option) in row.iter().enumerate() {
                    let Some((c, pos)) = *option else { continue };
                    match best {
                        Some((b, _, _)) if c >= b => {
                            if second.is_none_or(|s| c < s) {
                                second = Some(c);
                            }
                        }
                        _ => {
                            second = best.map(|b| b.0);
                            best = Some((c, ri, pos));
                        }
                    }
                }
                let Some(b) = best else { continue };
                let regret = second.map_or(f64::INFINITY, |s| s - b.0);
                let better = match pick {
                    None => true,
                    Some((r, _, pb)) => regret > r || (regret == r && b.0 < pb.0),
                };
                if better {
                    pick = Some((regret, k, b));
                }
            }
            let Some((_, k, (_, ri, pos))) = pick else {
                self.insert_pairs(p);
                self.polish(p);
                return;
            };
            let v = self.unassigned.swap_remove(k);
            table.swap_remove(k);
            self.routes[ri].stops.insert(pos, v);
            let date = self.routes[ri].date;
            for (idx, &u) in self.unassigned.iter().enumerate() {
                table[idx][ri] = self.route_option(p, u, ri);
                if u == v {
                    // The same village cannot have a second talk that day.
                    for (rj, r) in self.routes.iter().enumerate() {
                        if r.date == date {
                            table[idx][rj] = None;
                        }
                    }
                }
            }
        }
    }

    /// Under a county's matrix a village may fit a day only together with another (no road from
    /// home to B, but one by way of A), which one-at-a-time insertion never builds: try each
    /// pair of waiting villages in each day, cheapest first. Straight-line travel obeys the
    /// triangle inequality, so there a pair never fits where its members singly could not.
    fn insert_pairs(&mut self, p: &Problem) {
        if p.inst.travel_matrix.is_none() || self.unassigned.len() < 2 {
            return;
        }
        loop {
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
            self.routes[ri].stops = stops;
            self.unassigned.swap_remove(b);
            self.unassigned.swap_remove(a);
        }
    }

    /// A village given some but not all of its talks is not covered, and its talks may be
    /// what keeps other villages out. For each such village, take its talks back, place the
    /// other waiting villages first, then offer its talks again; keep the result if more
    /// villages (or sessions) end up covered.
    fn release_partial(&mut self, p: &Problem) {
        let placed = self.placed(p.inst);
        let partial =
            (0..placed.len()).filter(|&v| placed[v] > 0 && placed[v] < p.inst.villages[v].sessions);
        for v in partial {
            let before = self.cost(p);
            let mut trial = self.clone();
            for r in &mut trial.routes {
                r.stops.retain(|&s| s != v);
            }
            trial.unassigned.retain(|&s| s != v);
            trial.insert_all(p);
            trial
                .unassigned
                .extend((0..p.inst.villages[v].sessions).map(|_| v));
            trial.insert_all(p);
            let after = trial.cost(p);
            if after.km.is_finite() && after.coverage() < before.coverage() {
                *self = trial;
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
            let best = (0..self.routes.len())
                .filter_map(|ri| self.route_option(p, v, ri).map(|(c, pos)| (c, ri, pos)))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((_, ri, pos)) => self.routes[ri].stops.insert(pos, v),
                None => self.unassigned.push(v),
            }
        }
        self.insert_pairs(p);
        self.polish(p);
    }

    /// Puts each short day's stops in their best order (a lecturer gives a handful of talks a
    /// day, so trying every order is cheap and exact).
    pub(super) fn polish(&mut self, p: &Problem) {
        for r in self
            .routes
            .iter_mut()
            .filter(|r| (2..=6).contains(&r.stops.len()))
        {
            let mut best = (
                p.route_km(r.lecturer, &r.stops).unwrap_or(f64::INFINITY),
                r.stops.clone(),
            );
            let mut order = r.stops.clone();
            each_order(&mut order, 0, &mut |o| {
                if let Some(km) = p.route_km(r.lecturer, o)
                    && km < best.0 - 1e-9
                {
                    best = (km, o.to_vec());
                }
            });
            r.stops = best.1;
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

/// Why `village` cannot be placed at all, for the report.
fn reason(p: &Problem, village: usize) -> Reason {
    let inst = p.inst;
    let with_topic: Vec<usize> = (0..inst.lecturers.len())
        .filter(|&l| inst.lecturers[l].topics.contains(&inst.topic))
        .collect();
    if with_topic.is_empty() {
        return Reason::NoLecturerWithTopic;
    }
    let on_days: Vec<usize> = with_topic
        .into_iter()
        .filter(|&l| {
            inst.lecturers[l]
                .available
                .iter()
                .any(|d| inst.days.contains(d))
        })
        .collect();
    if on_days.is_empty() {
        return Reason::NoAvailableDate;
    }
    // Reachable on a day trip, or (a matrix need not obey the triangle inequality) by way of
    // one other village; longer detours are not searched for the report.
    let others = || (0..inst.villages.len()).filter(|&u| u != village);
    let reachable = |l: usize| {
        p.day_km(l, &[village]).is_some()
            || (inst.travel_matrix.is_some()
                && others().any(|u| {
                    p.day_km(l, &[u, village]).is_some() || p.day_km(l, &[village, u]).is_some()
                }))
    };
    if !on_days.into_iter().any(reachable) {
        return Reason::NotReachableWithinDay;
    }
    Reason::NoCapacityLeft
}

/// Solves `inst`. `spent` is asked between improvement steps how much of the budget is used
/// (0 to 1; a time limit lives there, so the core needs no clock); `progress` hears (iteration,
/// villages covered, km) on improvements.
///
/// The budget goes to the travel search; when the instance allows fairness some extra travel
/// (`fairness_slack`), its last 30 % goes to evening out the sessions per lecturer within that
/// allowance. A final pass evens them out further at no cost in travel.
pub fn solve(
    inst: &Instance,
    seed: u64,
    spent: &mut dyn FnMut() -> f64,
    progress: &mut dyn FnMut(u64, usize, f64),
) -> Schedule {
    let p = Problem::new(inst);
    let mut rng = Rng(seed.max(1));
    let routes: Vec<Route> = inst
        .lecturers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.topics.contains(&inst.topic))
        .flat_map(|(li, l)| {
            // One route per lecturer-day, however often a date is listed.
            let mut dates: Vec<NaiveDate> = l
                .available
                .iter()
                .copied()
                .filter(|d| inst.days.contains(d))
                .collect();
            dates.sort();
            dates.dedup();
            dates.into_iter().map(move |date| Route {
                lecturer: li,
                date,
                stops: Vec::new(),
            })
        })
        .collect();
    // One item per session asked for: a village that wants two talks is in the list twice.
    let unassigned = inst
        .villages
        .iter()
        .enumerate()
        .flat_map(|(vi, v)| (0..v.sessions).map(move |_| vi))
        .collect();
    let mut plan = Plan { routes, unassigned };
    plan.insert_all(&p);
    plan.release_partial(&p);
    let fairness_share = if inst.fairness_slack > 0.0 { 0.3 } else { 0.0 };
    let travel_share = 1.0 - fairness_share;
    let mut best = search_travel(&p, plan, &mut rng, &mut || spent() / travel_share, progress);
    if fairness_share > 0.0 {
        best = fairness::search_fairness(&p, best, &mut rng, &mut || spent() >= 1.0);
    }
    // Fairness moves can open room a waiting village fits into; coverage comes first.
    best.insert_all(&p);
    best.release_partial(&p);
    best.balance(&p);
    to_schedule(&p, &best)
}

/// Large-neighbourhood search for travel: remove a few stops (random, or around one village),
/// reinsert by regret or greedily in random order, accept by simulated annealing on travel
/// (never losing coverage), cooling over the budget (`spent` says how much of it is used, 0 to
/// 1), so a longer run cools more slowly. Returns the best plan seen.
fn search_travel(
    p: &Problem,
    mut plan: Plan,
    rng: &mut Rng,
    spent: &mut dyn FnMut() -> f64,
    progress: &mut dyn FnMut(u64, usize, f64),
) -> Plan {
    let inst = p.inst;
    let mut best = plan.clone();
    let mut best_cost = best.cost(p);
    let mut current_cost = best_cost;
    progress(0, covered(inst, &best), best_cost.km);
    // Start hot enough to accept a detour of ~2 % of the first schedule's travel; end at
    // 100 m, where little but improvements pass.
    let hot = (best_cost.km * 0.02).max(0.5);
    let cold = 0.1f64.min(hot);
    let mut temperature;
    let mut iteration = 0u64;
    let assigned_count = |pl: &Plan| pl.routes.iter().map(|r| r.stops.len()).sum::<usize>();
    loop {
        let used = spent();
        if used >= 1.0 || assigned_count(&plan) == 0 {
            break;
        }
        temperature = hot * (cold / hot).powf(used.max(0.0));
        iteration += 1;
        let mut candidate = plan.clone();
        // Stops, not villages: a village asked for several talks may lose more than one.
        let mut stops: Vec<(usize, usize)> = candidate
            .routes
            .iter()
            .enumerate()
            .flat_map(|(ri, r)| (0..r.stops.len()).map(move |i| (ri, i)))
            .collect();
        // Up to 8 stops: on a small instance that can be all of them, enough to jump between
        // schedules that differ in many places; on a county, more gained nothing measurable.
        let q = 1 + rng.below(stops.len().min(8));
        // Half the time the stops nearest a random one (related removal), half the time any.
        if rng.below(2) == 0 {
            let (sr, si) = stops[rng.below(stops.len())];
            let near = &p.vv[candidate.routes[sr].stops[si]];
            let km = |&(ri, i): &(usize, usize)| near[candidate.routes[ri].stops[i]].km;
            stops.select_nth_unstable_by(q - 1, |a, b| km(a).total_cmp(&km(b)));
        } else {
            for i in 0..q {
                let j = i + rng.below(stops.len() - i);
                stops.swap(i, j);
            }
        }
        stops.truncate(q);
        // Later positions first, so earlier ones stay where they were.
        stops.sort_unstable_by(|a, b| b.cmp(a));
        for (ri, i) in stops {
            let v = candidate.routes[ri].stops.remove(i);
            candidate.unassigned.push(v);
        }
        if rng.below(2) == 0 {
            candidate.insert_all(p);
        } else {
            candidate.insert_shuffled(p, rng);
        }
        let cost = candidate.cost(p);
        let accept = cost.km.is_finite()
            && (cost.coverage() < current_cost.coverage()
                || (cost.coverage() == current_cost.coverage()
                    && (cost.km <= current_cost.km
                        || rng.unit() < ((current_cost.km - cost.km) / temperature).exp())));
        if accept {
            plan = candidate;
            current_cost = cost;
            if cost.better_than(&best_cost) {
                best = plan.clone();
                best_cost = cost;
                progress(iteration, covered(inst, &best), best_cost.km);
            }
        }
    }
    best
}

/// Villages with every session they asked for.
fn covered(inst: &Instance, plan: &Plan) -> usize {
    let placed = plan.placed(inst);
    inst.villages
        .iter()
        .enumerate()
        .filter(|(i, v)| placed[*i] >= v.sessions)
        .count()
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
                None => p.hv[r.lecturer][v],
                Some(x) => p.vv[x][v],
            };
            clock += leg.minutes;
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
    sessions.sort();
    let covered = covered(inst, plan);
    let mut missing: Vec<usize> = plan.unassigned.clone();
    missing.sort();
    missing.dedup();
    let placed = plan.placed(inst);
    let unassigned = missing
        .into_iter()
        .map(|v| Unassigned {
            village: inst.villages[v].code.clone(),
            // A village that got a talk is plainly reachable: it lacks room for the rest.
            reason: if placed[v] > 0 {
                Reason::NoCapacityLeft
            } else {
                reason(p, v)
            },
        })
        .collect();
    let (fewest_sessions, most_sessions) = plan.fairness(p);
    Schedule {
        sessions,
        unassigned,
        stats: Stats {
            covered,
            travel_km: km,
            spread: most_sessions - fewest_sessions,
            most_sessions,
            fewest_sessions,
        },
    }
}
