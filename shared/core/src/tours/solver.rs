//! The tour solver: regret insertion to construct, then large-neighbourhood search with
//! simulated annealing to improve, until the caller says stop. Deterministic for a seed.
//! Objective, in order: villages covered, total travel.

use chrono::NaiveDate;

use super::{
    Instance, Leg, Place, Reason, Schedule, Session, Stats, Travel, Unassigned, minutes, time_of,
};

/// A small deterministic generator (xorshift64*): same seed, same schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One lecturer-day.
#[derive(Clone)]
struct Route {
    lecturer: usize,
    date: NaiveDate,
    stops: Vec<usize>,
}

/// A demand unit: one session a village asked for.
#[derive(Clone, Copy)]
struct Item {
    village: usize,
}

struct Problem<'a> {
    inst: &'a Instance,
    /// Leg between village i and j.
    vv: Vec<Vec<Leg>>,
    /// Leg from lecturer l's home to village i.
    hv: Vec<Vec<Leg>>,
    /// Leg from village i back to lecturer l's home.
    vh: Vec<Vec<Leg>>,
    day: (i64, i64),
    session: i64,
    /// Whether lecturer l can visit village i at all in a day (there and back with one talk).
    reachable: Vec<Vec<bool>>,
    /// The lecturers fairness is measured over ([`Instance::can_lecture`]).
    eligible: Vec<usize>,
}

/// A leg the matrix says has no road: so long that no day can hold it.
const NO_ROAD: Leg = Leg {
    km: f64::INFINITY,
    minutes: 1 << 40,
};

impl<'a> Problem<'a> {
    fn new(inst: &'a Instance) -> Problem<'a> {
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
        problem.reachable = (0..inst.lecturers.len())
            .map(|l| {
                (0..n)
                    .map(|v| problem.route_km_with(l, &[], Some((0, v))).is_some())
                    .collect()
            })
            .collect();
        problem
    }

    /// Travel km of a route, or `None` when it does not fit the day or the daily maximum.
    fn route_km(&self, lecturer: usize, stops: &[usize]) -> Option<f64> {
        self.route_km_with(lecturer, stops, None)
    }

    /// Like [`Problem::route_km`] with `insert` = (position, village) put into the route, without
    /// building the new route (the solver's inner loop).
    fn route_km_with(
        &self,
        lecturer: usize,
        stops: &[usize],
        insert: Option<(usize, usize)>,
    ) -> Option<f64> {
        let len = stops.len() + usize::from(insert.is_some());
        if len as u32 > self.inst.lecturers[lecturer].max_per_day {
            return None;
        }
        let at = |i: usize| -> usize {
            match insert {
                Some((pos, v)) if i == pos => v,
                Some((pos, _)) if i > pos => stops[i - 1],
                _ => stops[i],
            }
        };
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

/// The objective, in order: villages left out, travel, spread of sessions per lecturer.
#[derive(Clone, Copy, Debug)]
struct Cost {
    uncovered: usize,
    km: f64,
    spread: u32,
}

impl Cost {
    /// Strictly better in the objective's order (travel differing by less than a metre is
    /// a tie, so that fairness decides).
    fn better_than(&self, other: &Cost) -> bool {
        if self.uncovered != other.uncovered {
            return self.uncovered < other.uncovered;
        }
        if (self.km - other.km).abs() > 1e-3 {
            return self.km < other.km;
        }
        self.spread < other.spread
    }
}

/// The state being improved.
#[derive(Clone)]
struct Plan {
    routes: Vec<Route>,
    unassigned: Vec<usize>,
}

impl Plan {
    fn cost(&self, p: &Problem) -> Cost {
        let km: f64 = self
            .routes
            .iter()
            .filter_map(|r| p.route_km(r.lecturer, &r.stops))
            .sum();
        let (fewest, most) = self.fairness(p);
        Cost {
            uncovered: self.unassigned.len(),
            km,
            spread: most - fewest,
        }
    }

    fn loads(&self, p: &Problem) -> Vec<u32> {
        let mut load = vec![0u32; p.inst.lecturers.len()];
        for r in &self.routes {
            load[r.lecturer] += r.stops.len() as u32;
        }
        load
    }

    /// (fewest, most) sessions among the lecturers who could lecture.
    fn fairness(&self, p: &Problem) -> (u32, u32) {
        let load = self.loads(p);
        let eligible = || p.eligible.iter().map(|&l| load[l]);
        (eligible().min().unwrap_or(0), eligible().max().unwrap_or(0))
    }

    /// Evens out the sessions per lecturer without adding travel: hands one lecturer-day's
    /// stops to another lecturer's day (swapping theirs back) when that costs no km and moves
    /// work from a busier lecturer to a less busy one. Lecturers who live at the same place
    /// make this common. Never raises the spread; stops when no exchange helps.
    fn balance(&mut self, p: &Problem) {
        let mut load = self.loads(p);
        let mut improved = true;
        while improved {
            improved = false;
            for a in 0..self.routes.len() {
                for b in 0..self.routes.len() {
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

    fn village_on(&self, village: usize, date: NaiveDate) -> bool {
        self.routes
            .iter()
            .any(|r| r.date == date && r.stops.contains(&village))
    }

    /// The best place for `village` in route `ri`: (extra km, position), or `None`.
    fn route_option(&self, p: &Problem, village: usize, ri: usize) -> Option<(f64, usize)> {
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
        self.polish(p);
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
        let busiest = p.eligible.iter().map(|&l| load[l]).max()?;
        let sources: Vec<(usize, usize)> = (0..self.routes.len())
            .filter(|&r| load[self.routes[r].lecturer] == busiest)
            .flat_map(|r| (0..self.routes[r].stops.len()).map(move |i| (r, i)))
            .collect();
        if sources.is_empty() {
            return None;
        }
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
        let busiest = p.eligible.iter().map(|&l| load[l]).max()?;
        let days: Vec<usize> = (0..self.routes.len())
            .filter(|&r| {
                load[self.routes[r].lecturer] == busiest && !self.routes[r].stops.is_empty()
            })
            .collect();
        if days.is_empty() {
            return None;
        }
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
            let target_km = p.route_km(lecturer, &target.stops)?;
            for (ri, source) in self.routes.iter().enumerate() {
                if load[source.lecturer] < least + 2 {
                    continue;
                }
                let source_km = p.route_km(source.lecturer, &source.stops)?;
                for i in 0..source.stops.len() {
                    let v = source.stops[i];
                    if !p.reachable[lecturer][v]
                        || (source.date != target.date && self.village_on(v, target.date))
                    {
                        continue;
                    }
                    let mut rest = source.stops.clone();
                    rest.remove(i);
                    let saving = source_km - p.route_km(source.lecturer, &rest)?;
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

    /// Puts each short day's stops in their best order (a lecturer gives a handful of talks a
    /// day, so trying every order is cheap and exact).
    fn polish(&mut self, p: &Problem) {
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
fn each_order(items: &mut Vec<usize>, k: usize, f: &mut dyn FnMut(&[usize])) {
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
    if !on_days.iter().any(|&l| p.route_km(l, &[village]).is_some()) {
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
    let items: Vec<Item> = inst
        .villages
        .iter()
        .enumerate()
        .flat_map(|(vi, v)| (0..v.sessions).map(move |_| Item { village: vi }))
        .collect();
    let mut plan = Plan {
        routes,
        unassigned: items.iter().map(|i| i.village).collect(),
    };
    plan.insert_all(&p);
    let fairness_share = if inst.fairness_slack > 0.0 { 0.3 } else { 0.0 };
    let travel_share = 1.0 - fairness_share;
    let mut best = search_travel(&p, plan, &mut rng, &mut || spent() / travel_share, progress);
    if fairness_share > 0.0 {
        best = search_fairness(&p, best, &mut rng, &mut || spent() >= 1.0);
    }
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
        let q = 1 + rng.below(4);
        let seed_v = {
            let non_empty: Vec<usize> = (0..candidate.routes.len())
                .filter(|&r| !candidate.routes[r].stops.is_empty())
                .collect();
            let r = non_empty[rng.below(non_empty.len())];
            let stops = &candidate.routes[r].stops;
            stops[rng.below(stops.len())]
        };
        // Half the time the stops nearest a random one (related removal), half the time any.
        let mut near: Vec<usize> = (0..inst.villages.len()).collect();
        if rng.below(2) == 0 {
            near.sort_by(|&a, &b| p.vv[seed_v][a].km.total_cmp(&p.vv[seed_v][b].km));
        } else {
            for i in (1..near.len()).rev() {
                near.swap(i, rng.below(i + 1));
            }
        }
        let mut removed = 0;
        for v in near {
            if removed >= q {
                break;
            }
            for r in candidate.routes.iter_mut() {
                if let Some(pos) = r.stops.iter().position(|&s| s == v) {
                    r.stops.remove(pos);
                    candidate.unassigned.push(v);
                    removed += 1;
                    break;
                }
            }
        }
        if rng.below(2) == 0 {
            candidate.insert_all(p);
        } else {
            candidate.insert_shuffled(p, rng);
        }
        let cost = candidate.cost(p);
        let accept = cost.uncovered < current_cost.uncovered
            || (cost.uncovered == current_cost.uncovered
                && (cost.km <= current_cost.km
                    || rng.unit() < ((current_cost.km - cost.km) / temperature).exp()));
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

/// Evens out the sessions per lecturer while travel stays within `fairness_slack` of the
/// travel search's result: moves work from the busiest lecturers to less busy ones (pushing a
/// random stop, handing over a whole day, or pulling the cheapest stop to a least busy
/// lecturer). Accepts only
/// what lowers the spread, or the sum of squared loads that guides towards it, without losing
/// coverage or leaving the allowance.
fn search_fairness(
    p: &Problem,
    start: Plan,
    rng: &mut Rng,
    stop: &mut dyn FnMut() -> bool,
) -> Plan {
    let allowance = start.cost(p).km * (1.0 + p.inst.fairness_slack);
    let key = |plan: &Plan| {
        let load = plan.loads(p);
        let (fewest, most) = plan.fairness(p);
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

/// Villages with every session they asked for.
fn covered(inst: &Instance, plan: &Plan) -> usize {
    let mut counts = vec![0u32; inst.villages.len()];
    for r in &plan.routes {
        for &v in &r.stops {
            counts[v] += 1;
        }
    }
    inst.villages
        .iter()
        .enumerate()
        .filter(|(i, v)| counts[*i] >= v.sessions)
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
    let unassigned = missing
        .into_iter()
        .map(|v| Unassigned {
            village: inst.villages[v].code.clone(),
            reason: reason(p, v),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tours::{Lecturer, TravelMatrix, Village, check};
    use chrono::NaiveTime;
    use proptest::prelude::*;

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    fn instance(
        villages: Vec<(f64, f64, u32)>,
        lecturers: Vec<(f64, f64, Vec<u32>, u32)>,
        days: u32,
    ) -> Instance {
        Instance {
            villages: villages
                .into_iter()
                .enumerate()
                .map(|(i, (lat, lon, sessions))| Village {
                    code: format!("V{i}"),
                    name: String::new(),
                    lat,
                    lon,
                    sessions,
                    venue_capacity: None,
                })
                .collect(),
            lecturers: lecturers
                .into_iter()
                .enumerate()
                .map(|(i, (lat, lon, avail, max))| Lecturer {
                    id: format!("L{i}"),
                    name: String::new(),
                    home_lat: lat,
                    home_lon: lon,
                    topics: vec!["反家暴".into()],
                    available: avail.into_iter().map(date).collect(),
                    max_per_day: max,
                })
                .collect(),
            days: (1..=days).map(date).collect(),
            day_start: NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
            day_end: NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
            session_minutes: 90,
            speed_kmh: 40.0,
            road_factor: 1.3,
            topic: "反家暴".into(),
            travel_matrix: None,
            fairness_slack: 0.0,
        }
    }

    fn run(inst: &Instance, iterations: u64) -> Schedule {
        let mut n = 0;
        solve(
            inst,
            7,
            &mut || {
                n += 1;
                n as f64 / iterations as f64
            },
            &mut |_, _, _| {},
        )
    }

    /// The checker accepts the schedule and agrees with its statistics.
    fn assert_checked(inst: &Instance, s: &Schedule) {
        let stats = check(inst, s).expect("the checker accepts it");
        assert!((stats.travel_km - s.stats.travel_km).abs() < 1e-6);
        assert_eq!(
            (
                stats.covered,
                stats.spread,
                stats.most_sessions,
                stats.fewest_sessions
            ),
            (
                s.stats.covered,
                s.stats.spread,
                s.stats.most_sessions,
                s.stats.fewest_sessions
            )
        );
    }

    #[test]
    fn an_instance_built_around_a_full_schedule_is_fully_covered() {
        // Three lecturers, each living beside two villages; one day, two talks each.
        let inst = instance(
            vec![
                (36.30, 103.90, 1),
                (36.31, 103.91, 1),
                (36.50, 104.10, 1),
                (36.51, 104.11, 1),
                (36.10, 103.70, 1),
                (36.11, 103.71, 1),
            ],
            vec![
                (36.305, 103.905, vec![1], 2),
                (36.505, 104.105, vec![1], 2),
                (36.105, 103.705, vec![1], 2),
            ],
            1,
        );
        let s = run(&inst, 200);
        assert_eq!(s.stats.covered, 6, "{s:?}");
        assert!(s.unassigned.is_empty());
        assert!(check(&inst, &s).is_ok());
    }

    #[test]
    fn unplaceable_villages_say_why() {
        let far = instance(
            vec![(36.3, 103.9, 1), (45.0, 125.0, 1)],
            vec![(36.3, 103.9, vec![1], 3)],
            1,
        );
        let s = run(&far, 20);
        assert_eq!(s.unassigned.len(), 1);
        assert_eq!(s.unassigned[0].reason, Reason::NotReachableWithinDay);
        let mut no_topic = far.clone();
        no_topic.topic = "家风家教".into();
        assert_eq!(
            run(&no_topic, 5).unassigned[0].reason,
            Reason::NoLecturerWithTopic
        );
        let mut no_date = far.clone();
        no_date.lecturers[0].available = vec![date(20)];
        assert_eq!(
            run(&no_date, 5).unassigned[0].reason,
            Reason::NoAvailableDate
        );
        let busy = instance(
            vec![(36.30, 103.90, 1), (36.31, 103.91, 1)],
            vec![(36.3, 103.9, vec![1], 1)],
            1,
        );
        assert_eq!(run(&busy, 20).unassigned[0].reason, Reason::NoCapacityLeft);
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let inst = instance(
            (0..8)
                .map(|i| {
                    (
                        36.0 + f64::from(i) * 0.03,
                        103.8 + f64::from(i % 3) * 0.04,
                        1,
                    )
                })
                .collect(),
            vec![
                (36.05, 103.85, vec![1, 2], 3),
                (36.15, 103.9, vec![1, 2], 3),
            ],
            2,
        );
        assert_eq!(run(&inst, 100), run(&inst, 100));
    }

    #[test]
    fn the_checker_rejects_hand_broken_schedules() {
        let inst = instance(
            vec![(36.30, 103.90, 1), (36.32, 103.93, 1), (36.36, 103.97, 1)],
            vec![(36.31, 103.91, vec![1, 2], 3)],
            2,
        );
        let good = run(&inst, 50);
        assert!(check(&inst, &good).is_ok());
        assert!(good.sessions.len() >= 2);
        let broken = |f: &dyn Fn(&mut Instance, &mut Schedule)| {
            let (mut i, mut s) = (inst.clone(), good.clone());
            f(&mut i, &mut s);
            check(&i, &s).is_err()
        };
        // Overlap: a session moved onto the one before it.
        assert!(broken(&|_, s| {
            let (a, b) = (s.sessions[0].clone(), &mut s.sessions[1]);
            if a.date == b.date {
                b.start = a.start;
                b.end = a.end;
            } else {
                b.date = a.date;
                b.start = a.start;
                b.end = a.end;
            }
        }));
        // Unavailable date.
        assert!(broken(&|_, s| s.sessions[0].date = date(9)));
        // No time to travel: the first talk starts the moment the day starts.
        assert!(broken(&|i, s| {
            s.sessions[0].start = i.day_start;
            s.sessions[0].end =
                i.day_start + chrono::Duration::minutes(i64::from(i.session_minutes));
        }));
        // Over the daily maximum.
        assert!(broken(&|i, _| i.lecturers[0].max_per_day = 0));
        // Wrong topic.
        assert!(broken(
            &|i, _| i.lecturers[0].topics = vec!["家风家教".into()]
        ));
        // Statistics that do not match.
        assert!(broken(&|_, s| s.stats.travel_km += 1.0));
    }

    /// Exact optimum by enumeration (tiny instances only): every assignment of villages to
    /// lecturer-days or to nobody, every order within a day. (covered, km), best first.
    fn exact(inst: &Instance) -> (usize, f64) {
        let p = Problem::new(inst);
        let routes: Vec<(usize, NaiveDate)> = inst
            .lecturers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.topics.contains(&inst.topic))
            .flat_map(|(li, l)| {
                l.available
                    .iter()
                    .filter(|d| inst.days.contains(d))
                    .map(move |d| (li, *d))
            })
            .collect();
        let n = inst.villages.len();
        let choices = routes.len() + 1;
        let mut best = (0usize, 0.0f64);
        let mut assignment = vec![0usize; n];
        loop {
            // Evaluate: each route's villages in their best order.
            let mut covered = 0;
            let mut km = 0.0;
            let mut ok = true;
            for (ri, &(l, _)) in routes.iter().enumerate() {
                let stops: Vec<usize> = (0..n).filter(|&v| assignment[v] == ri + 1).collect();
                if stops.is_empty() {
                    continue;
                }
                if stops.len() as u32 > inst.lecturers[l].max_per_day {
                    ok = false;
                    break;
                }
                let mut best_route: Option<f64> = None;
                each_order(&mut stops.clone(), 0, &mut |order| {
                    if let Some(k) = p.route_km(l, order)
                        && best_route.is_none_or(|b| k < b)
                    {
                        best_route = Some(k);
                    }
                });
                match best_route {
                    Some(k) => {
                        km += k;
                        covered += stops.len();
                    }
                    None => ok = false,
                }
            }
            if ok
                && (covered > best.0
                    || (covered == best.0 && (km < best.1 || best.0 == 0 && best.1 == 0.0)))
            {
                best = (covered, km);
            }
            // Next assignment (odometer).
            let mut i = 0;
            while i < n {
                assignment[i] += 1;
                if assignment[i] < choices {
                    break;
                }
                assignment[i] = 0;
                i += 1;
            }
            if i == n {
                return best;
            }
        }
    }

    #[test]
    fn small_instances_reach_optimal_coverage_and_travel_within_five_percent() {
        let mut rng = Rng(42);
        for case in 0..16 {
            let n = 4 + rng.below(5); // 4–8 villages
            let villages: Vec<(f64, f64, u32)> = (0..n)
                .map(|_| (36.0 + rng.unit() * 0.5, 103.6 + rng.unit() * 0.5, 1))
                .collect();
            let lecturers = vec![
                (
                    36.0 + rng.unit() * 0.5,
                    103.6 + rng.unit() * 0.5,
                    vec![1, 2],
                    2,
                ),
                (
                    36.0 + rng.unit() * 0.5,
                    103.6 + rng.unit() * 0.5,
                    vec![1],
                    3,
                ),
            ];
            let inst = instance(villages, lecturers, 2);
            let (opt_covered, opt_km) = exact(&inst);
            let s = run(&inst, 3000);
            assert_eq!(s.stats.covered, opt_covered, "case {case}: coverage");
            assert!(
                s.stats.travel_km <= opt_km * 1.05 + 1e-9,
                "case {case}: {} km vs optimal {opt_km} km",
                s.stats.travel_km
            );
        }
    }

    #[test]
    fn fairness_breaks_ties_in_travel() {
        // Two lecturers living in the same place, one talk a day each, four days: every full
        // schedule travels the same, so fairness decides: two talks each.
        let inst = instance(
            vec![
                (36.30, 103.90, 1),
                (36.34, 103.95, 1),
                (36.25, 103.85, 1),
                (36.40, 103.80, 1),
            ],
            vec![
                (36.31, 103.91, vec![1, 2, 3, 4], 1),
                (36.31, 103.91, vec![1, 2, 3, 4], 1),
            ],
            4,
        );
        for seed in 1..6 {
            let mut n = 0;
            let s = solve(
                &inst,
                seed,
                &mut || {
                    n += 1;
                    f64::from(n) / 50.0
                },
                &mut |_, _, _| {},
            );
            assert_eq!(s.stats.covered, 4);
            assert_eq!(
                (
                    s.stats.fewest_sessions,
                    s.stats.most_sessions,
                    s.stats.spread
                ),
                (2, 2, 0),
                "seed {seed}: {s:?}"
            );
            assert_checked(&inst, &s);
        }
    }

    #[test]
    fn fairness_never_costs_travel() {
        // One lecturer lives beside both villages, the other far away: the near one does both,
        // however unequal, because travel comes before fairness.
        let inst = instance(
            vec![(36.30, 103.90, 1), (36.301, 103.901, 1)],
            vec![(36.30, 103.90, vec![1], 2), (36.80, 104.40, vec![1], 2)],
            1,
        );
        let s = run(&inst, 100);
        assert_eq!(s.stats.covered, 2);
        assert_eq!((s.stats.most_sessions, s.stats.fewest_sessions), (2, 0));
        assert!(s.sessions.iter().all(|x| x.lecturer == "L0"));
    }

    #[test]
    fn a_fairness_slack_buys_fairness_with_bounded_travel() {
        // L0 lives among four villages, L1 a few km off: the least travel has L0 give every
        // talk; allowing fairness to cost travel shares them out.
        let inst = instance(
            vec![
                (36.300, 103.900, 1),
                (36.305, 103.905, 1),
                (36.310, 103.900, 1),
                (36.300, 103.910, 1),
            ],
            vec![
                (36.303, 103.903, vec![1, 2], 2),
                (36.312, 103.912, vec![1, 2], 2),
            ],
            2,
        );
        let strict = run(&inst, 300);
        assert_eq!(strict.stats.covered, 4);
        assert_eq!(
            (strict.stats.fewest_sessions, strict.stats.most_sessions),
            (0, 4)
        );
        let mut generous = inst.clone();
        generous.fairness_slack = 1.0;
        let fair = run(&generous, 300);
        assert_eq!(fair.stats.covered, 4);
        assert_eq!(fair.stats.spread, 0, "{fair:?}");
        assert!(fair.stats.travel_km > strict.stats.travel_km);
        assert!(fair.stats.travel_km <= strict.stats.travel_km * 2.0 + 1e-9);
        assert_checked(&generous, &fair);
        // A small allowance buys less.
        let mut tight = inst.clone();
        tight.fairness_slack = 0.01;
        let some = run(&tight, 300);
        assert!(some.stats.travel_km <= strict.stats.travel_km * 1.01 + 1e-9);
        assert!(some.stats.spread > 0);
    }

    /// A matrix over the lecturer's home L0 and villages V0, V1.
    fn with_matrix(inst: &Instance, minutes: [[Option<f64>; 3]; 3]) -> Instance {
        let mut inst = inst.clone();
        inst.travel_matrix = Some(TravelMatrix {
            points: vec!["L0".into(), "V0".into(), "V1".into()],
            minutes: minutes.iter().map(|r| r.to_vec()).collect(),
            km: None,
        });
        inst
    }

    #[test]
    fn a_county_travel_matrix_replaces_straight_lines() {
        let base = instance(
            vec![(36.30, 103.90, 1), (36.31, 103.91, 1)],
            vec![(36.305, 103.905, vec![1], 2)],
            1,
        );
        // A mountain road: 70 minutes out to V0, 20 back; V0 → V1 is 45 minutes one way only.
        let hilly = with_matrix(
            &base,
            [
                [Some(0.0), Some(70.0), Some(200.0)],
                [Some(20.0), Some(0.0), Some(45.0)],
                [Some(20.0), None, Some(0.0)],
            ],
        );
        let s = run(&hilly, 100);
        assert_eq!(s.stats.covered, 2, "{s:?}");
        let first = &s.sessions.iter().find(|x| x.village == "V0").unwrap();
        assert_eq!(
            first.start.format("%H:%M").to_string(),
            "09:40",
            "08:30 + 70 min"
        );
        let second = &s.sessions.iter().find(|x| x.village == "V1").unwrap();
        assert_eq!(
            second.start.format("%H:%M").to_string(),
            "11:55",
            "11:10 + 45 min"
        );
        assert!(check(&hilly, &s).is_ok());
        // The straight-line schedule breaks the matrix's times, and the checker says so.
        let straight = run(&base, 100);
        assert!(check(&hilly, &straight).is_err());
        // No road to V1 from anywhere but V0, and none back: V1 cannot be visited.
        let cut = with_matrix(
            &base,
            [
                [Some(0.0), Some(30.0), None],
                [Some(30.0), Some(0.0), Some(10.0)],
                [Some(30.0), None, Some(0.0)],
            ],
        );
        let mut cut = cut;
        cut.lecturers[0].max_per_day = 1;
        let s = run(&cut, 50);
        assert_eq!(s.unassigned.len(), 1);
        assert_eq!(s.unassigned[0].village, "V1");
        assert_eq!(s.unassigned[0].reason, Reason::NotReachableWithinDay);
    }

    #[test]
    fn the_lower_bound_is_below_every_schedule() {
        let mut rng = Rng(9);
        for _ in 0..20 {
            let villages = (0..6)
                .map(|_| (36.0 + rng.unit() * 0.5, 103.6 + rng.unit() * 0.5, 1))
                .collect();
            let lecturers = (0..3)
                .map(|_| {
                    (
                        36.0 + rng.unit() * 0.5,
                        103.6 + rng.unit() * 0.5,
                        vec![1, 2],
                        3,
                    )
                })
                .collect();
            let inst = instance(villages, lecturers, 2);
            let s = run(&inst, 200);
            if s.stats.covered == inst.villages.len() {
                let bound = crate::tours::travel_lower_bound_km(&inst);
                assert!(bound > 0.0 && bound <= s.stats.travel_km + 1e-9);
            }
        }
    }

    #[test]
    fn invalid_instances_name_the_field() {
        let inst = instance(
            vec![(36.30, 103.90, 1), (36.31, 103.91, 1)],
            vec![(36.305, 103.905, vec![1], 2)],
            1,
        );
        assert_eq!(inst.validate(), Ok(()));
        let broken = |f: &dyn Fn(&mut Instance)| {
            let mut i = inst.clone();
            f(&mut i);
            i.validate().unwrap_err()
        };
        assert_eq!(
            broken(&|i| i.villages[1].code = "V0".into()),
            "villages[1].code: V0 appears twice"
        );
        assert_eq!(
            broken(&|i| i.villages[0].lat = 136.0),
            "villages[0].lat: 136 is not a latitude"
        );
        assert_eq!(
            broken(&|i| i.lecturers[0].home_lon = -200.0),
            "lecturers[0].home_lon: -200 is not a longitude"
        );
        assert_eq!(
            broken(&|i| i.day_end = i.day_start),
            "day_end: must be after day_start"
        );
        assert_eq!(
            broken(&|i| i.speed_kmh = 0.0),
            "speed_kmh: 0 is not a positive speed"
        );
        assert_eq!(
            broken(&|i| i.road_factor = 0.5),
            "road_factor: 0.5 is below 1"
        );
        assert_eq!(
            broken(&|i| i.session_minutes = 0),
            "session_minutes: must be positive"
        );
        let square = [[Some(0.0); 3]; 3];
        assert_eq!(with_matrix(&inst, square).validate(), Ok(()));
        assert_eq!(
            broken(&|i| {
                *i = with_matrix(i, square);
                i.travel_matrix.as_mut().unwrap().points[2] = "V9".into();
            }),
            "travel_matrix.points[2]: V9 is neither a village code nor a lecturer id"
        );
        assert_eq!(
            broken(&|i| {
                *i = with_matrix(i, square);
                i.travel_matrix.as_mut().unwrap().minutes[1].pop();
            }),
            "travel_matrix.minutes[1]: 2 entries for 3 points"
        );
        assert_eq!(
            broken(&|i| {
                *i = with_matrix(i, square);
                i.travel_matrix.as_mut().unwrap().minutes[0][2] = Some(-5.0);
            }),
            "travel_matrix.minutes[0][2]: -5 is not a non-negative number"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The checker accepts every schedule the solver returns.
        #[test]
        fn the_checker_accepts_what_the_solver_returns(
            villages in proptest::collection::vec((36.0f64..36.6, 103.6f64..104.2, 1u32..3), 1..10),
            lecturers in proptest::collection::vec((36.0f64..36.6, 103.6f64..104.2, proptest::collection::vec(1u32..4, 1..3), 1u32..4), 1..4),
            seed in 1u64..1000,
            fairness_slack in prop_oneof![Just(0.0), 0.0f64..0.5],
        ) {
            let mut inst = instance(villages, lecturers, 3);
            inst.fairness_slack = fairness_slack;
            let mut n = 0;
            let s = solve(&inst, seed, &mut || { n += 1; f64::from(n) / 30.0 }, &mut |_, _, _| {});
            let checked = check(&inst, &s);
            prop_assert!(checked.is_ok(), "{:?}", checked);
            let stats = checked.unwrap();
            prop_assert_eq!(stats.covered, s.stats.covered);
            prop_assert!((stats.travel_km - s.stats.travel_km).abs() < 1e-6);
            let missing: usize = inst.villages.len() - s.stats.covered;
            prop_assert_eq!(missing, s.unassigned.len());
        }
    }
}
