//! The solver, the checker and the fairness search against each other, exact optima and
//! hand-broken schedules.

use super::solver::{Plan, Problem, Rng, each_order};
use super::*;
use chrono::{NaiveDate, NaiveTime};
use proptest::prelude::*;

/// Day `d` of December 2026, running on into January past the 31st.
fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() + chrono::Days::new(u64::from(d) - 1)
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
                unavailable: Vec::new(),
                max_per_day: max,
            })
            .collect(),
        days: (1..=days).map(date).collect(),
        period: None,
        day_start: NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
        day_end: NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
        session_minutes: 90,
        speed_kmh: 40.0,
        road_factor: 1.3,
        topic: "反家暴".into(),
        travel_matrix: None,
        fairness_slack: 0.0,
        start_step_minutes: 1,
    }
}

/// Solves with seed 7 and a budget of `iterations` search steps.
fn run(inst: &Instance, iterations: u64) -> Schedule {
    run_seeded(inst, 7, iterations)
}

fn run_seeded(inst: &Instance, seed: u64, iterations: u64) -> Schedule {
    solve(
        inst,
        seed,
        &mut Steps {
            taken: 0,
            limit: iterations,
        },
        &mut |_, _, _| {},
    )
}

/// A budget of search steps, with no hard limit.
struct Steps {
    taken: u64,
    limit: u64,
}

impl Budget for Steps {
    fn spent(&mut self) -> f64 {
        self.taken += 1;
        self.taken as f64 / self.limit as f64
    }
    fn exhausted(&mut self) -> bool {
        false
    }
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
        s.sessions[0].end = i.day_start + chrono::Duration::minutes(i64::from(i.session_minutes));
    }));
    // Over the daily maximum.
    assert!(broken(&|i, _| i.lecturers[0].max_per_day = 0));
    // Wrong topic.
    assert!(broken(
        &|i, _| i.lecturers[0].topics = vec!["家风家教".into()]
    ));
    // Statistics that do not match.
    assert!(broken(&|_, s| s.stats.travel_km += 1.0));
    // An unassigned list that does not name exactly the villages left out.
    assert!(broken(&|_, s| s.unassigned.push(Unassigned {
        village: "V0".into(),
        reason: Reason::NoCapacityLeft
    })));
    assert!(broken(&|_, s| s.unassigned.push(Unassigned {
        village: "V9".into(),
        reason: Reason::NoCapacityLeft
    })));
    let mut dropped = good.clone();
    let village = dropped.sessions.pop().unwrap().village;
    let problems = check(&inst, &dropped).unwrap_err();
    let expected = format!("{village} lacks sessions but is not listed as unassigned");
    assert!(problems.iter().any(|v| v.0 == expected), "{problems:?}");
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
    for case in 0..40 {
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
        let s = run_seeded(&inst, seed, 50);
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
    // The only road to V1 runs through V0 (a matrix need not obey the triangle inequality):
    // a two-talk day reaches it, a one-talk day cannot, and no road at all is unreachable.
    let through_v0 = [
        [Some(0.0), Some(30.0), None],
        [Some(30.0), Some(0.0), Some(10.0)],
        [Some(30.0), None, Some(0.0)],
    ];
    let chain = with_matrix(&base, through_v0);
    let s = run(&chain, 50);
    assert_eq!(s.stats.covered, 2, "{s:?}");
    assert_checked(&chain, &s);
    let mut one_a_day = chain.clone();
    one_a_day.lecturers[0].max_per_day = 1;
    let s = run(&one_a_day, 50);
    assert_eq!(
        (s.unassigned[0].village.as_str(), s.unassigned[0].reason),
        ("V1", Reason::NoCapacityLeft)
    );
    let mut no_road = through_v0;
    no_road[1][2] = None;
    let s = run(&with_matrix(&base, no_road), 50);
    assert_eq!(
        (s.unassigned[0].village.as_str(), s.unassigned[0].reason),
        ("V1", Reason::NotReachableWithinDay)
    );
}

#[test]
fn villages_reachable_only_together_are_visited_together() {
    // No road from home to V1 and none from V0 home: only home → V0 → V1 → home works, which
    // one-at-a-time insertion never builds (found by fuzzing).
    let base = instance(
        vec![(36.30, 103.90, 1), (36.31, 103.91, 1)],
        vec![(36.305, 103.905, vec![1], 2)],
        1,
    );
    let only_together = with_matrix(
        &base,
        [
            [Some(0.0), Some(10.0), None],
            [None, Some(0.0), Some(10.0)],
            [Some(10.0), Some(10.0), Some(0.0)],
        ],
    );
    for iterations in [0, 50] {
        let s = run(&only_together, iterations);
        assert_eq!(s.stats.covered, 2, "{s:?}");
        assert_checked(&only_together, &s);
    }
}

#[test]
fn a_village_with_some_of_its_talks_lacks_capacity_not_a_road() {
    // V (asked for two talks) is reachable only by way of V0 then V1; one date, so it gets one.
    let mut inst = instance(
        vec![(36.30, 103.90, 1), (36.31, 103.90, 1), (36.32, 103.90, 2)],
        vec![(36.30, 103.91, vec![1], 3)],
        1,
    );
    let ten = Some(10.0);
    inst.travel_matrix = Some(TravelMatrix {
        points: vec!["L0".into(), "V0".into(), "V1".into(), "V2".into()],
        minutes: vec![
            vec![Some(0.0), ten, None, None],
            vec![ten, Some(0.0), ten, None],
            vec![ten, None, Some(0.0), ten],
            vec![ten, None, None, Some(0.0)],
        ],
        km: None,
    });
    let s = run(&inst, 200);
    assert_eq!(s.sessions.len(), 3, "{s:?}");
    assert_eq!(
        (s.unassigned[0].village.as_str(), s.unassigned[0].reason),
        ("V2", Reason::NoCapacityLeft)
    );
}

#[test]
fn nearly_antipodal_points_are_half_the_earth_apart() {
    let km = haversine_km(
        -65.31433328860335,
        101.23094598314876,
        65.31433328960335,
        -78.76905401685124,
    );
    assert!(
        km.is_finite() && (km - std::f64::consts::PI * 6371.0).abs() < 1.0,
        "{km}"
    );
}

#[test]
fn a_day_broken_by_a_removal_is_never_kept() {
    // Neighbours are 1 km and 10 minutes apart, but A and C have no road between them: taking
    // B out of A→B→C breaks that day. The search must not keep such a plan (it would fail the
    // check); found by review, every seed failed before.
    let mut inst = instance(
        vec![(36.30, 103.90, 1), (36.31, 103.91, 1), (36.32, 103.92, 1)],
        vec![(36.305, 103.905, vec![1, 2], 3)],
        2,
    );
    let ten = Some(10.0);
    inst.travel_matrix = Some(TravelMatrix {
        points: vec!["L0".into(), "V0".into(), "V1".into(), "V2".into()],
        minutes: vec![
            vec![Some(0.0), ten, ten, ten],
            vec![ten, Some(0.0), ten, None],
            vec![ten, ten, Some(0.0), ten],
            vec![ten, None, ten, Some(0.0)],
        ],
        km: Some(vec![
            vec![Some(0.0), Some(10.0), Some(10.0), Some(10.0)],
            vec![Some(10.0), Some(0.0), Some(1.0), None],
            vec![Some(10.0), Some(1.0), Some(0.0), Some(1.0)],
            vec![Some(10.0), None, Some(1.0), Some(0.0)],
        ]),
    });
    for seed in 1..6 {
        let s = run_seeded(&inst, seed, 300);
        assert_eq!(s.stats.covered, 3);
        assert_checked(&inst, &s);
    }
}

#[test]
fn villages_come_before_extra_sessions() {
    // X, at the lecturer's door, asks for three talks; Y and Z, 20 km off, for one each. One
    // talk a day for three days: Y, Z and one talk at X cover two villages; three at X, one.
    let inst = instance(
        vec![(36.30, 103.90, 3), (36.48, 103.90, 1), (36.30, 104.12, 1)],
        vec![(36.30, 103.90, vec![1, 2, 3], 1)],
        3,
    );
    let s = run(&inst, 300);
    assert_eq!(s.stats.covered, 2, "{s:?}");
    assert_eq!(s.unassigned.len(), 1);
    assert_eq!(
        (s.unassigned[0].village.as_str(), s.unassigned[0].reason),
        ("V0", Reason::NoCapacityLeft)
    );
    assert_checked(&inst, &s);
}

#[test]
fn a_village_that_cannot_be_completed_gives_way_from_the_start() {
    // V0, next door, asks for two talks but there is one date: it can never be covered. The
    // first schedule, before any search, covers V1 and V2 instead (found by fuzzing).
    let inst = instance(
        vec![(36.0, 104.001, 2), (36.0, 104.010, 1), (36.0, 103.990, 1)],
        vec![(36.0, 104.0, vec![1], 2)],
        1,
    );
    let s = run(&inst, 0);
    assert_eq!(s.stats.covered, 2, "{s:?}");
    assert_eq!(s.unassigned[0].village, "V0");
}

#[test]
fn no_talks_a_day_is_no_capacity_and_no_share() {
    let mut inst = instance(
        vec![(36.30, 103.90, 1)],
        vec![(36.30, 103.90, vec![1], 2), (36.30, 103.90, vec![1], 0)],
        1,
    );
    let s = run(&inst, 50);
    // The lecturer who gives no talks does not count against fairness.
    assert_eq!((s.stats.fewest_sessions, s.stats.most_sessions), (1, 1));
    inst.lecturers[0].max_per_day = 0;
    let s = run(&inst, 50);
    assert_eq!(s.unassigned[0].reason, Reason::NoCapacityLeft);
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
            let bound = crate::travel_lower_bound_km(&inst);
            assert!(bound > 0.0 && bound <= s.stats.travel_km + 1e-9);
        }
    }
}

#[test]
fn the_lower_bound_from_the_grid_is_the_bound_by_definition() {
    // Up to 40 lecturers with 1–3 talks a day, so the nearest home is not always the one with
    // the cheapest round trip per talk, and more lecturers than the grid's first look.
    let mut rng = Rng(21);
    for case in 0..12 {
        let inst = city(30 + case * 20, 5 + case * 3, 3, 100 + case as u64);
        let mut inst = inst;
        for l in &mut inst.lecturers {
            l.max_per_day = 1 + rng.below(3) as u32;
        }
        let travel = Travel::new(&inst);
        let km = |a: Place, b: Place| travel.leg(a, b).unwrap().km;
        let homes: Vec<usize> = (0..inst.lecturers.len())
            .filter(|&l| inst.can_lecture(&inst.lecturers[l]))
            .collect();
        let n = inst.villages.len();
        let (mut legs, mut trips) = (0.0, 0.0);
        for v in 0..n {
            let here = Place::Village(v);
            let way = homes
                .iter()
                .map(|&l| Place::Home(l))
                .chain((0..n).filter(|&u| u != v).map(Place::Village))
                .map(|u| km(u, here))
                .fold(f64::INFINITY, f64::min);
            legs += way;
            trips += homes
                .iter()
                .map(|&l| 2.0 * km(Place::Home(l), here) / f64::from(inst.lecturers[l].max_per_day))
                .fold(f64::INFINITY, f64::min);
        }
        let bound = crate::travel_lower_bound_km(&inst);
        assert!(
            (bound - legs.max(trips)).abs() < 1e-6,
            "case {case}: {bound} vs {}",
            legs.max(trips)
        );
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
        "speed_kmh: 0 is not between 1 and 300"
    );
    assert_eq!(
        broken(&|i| i.road_factor = 0.5),
        "road_factor: 0.5 is not between 1 and 10"
    );
    assert_eq!(
        broken(&|i| i.session_minutes = 0),
        "session_minutes: must be positive"
    );
    assert_eq!(
        broken(&|i| i.villages[0].sessions = 0),
        "villages[0].sessions: 0 is not between 1 and 366"
    );
    assert_eq!(
        broken(&|i| i.speed_kmh = 1e-300),
        "speed_kmh: 1e-300 is not between 1 and 300"
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
        "travel_matrix.minutes[0][2]: -5 is not between 0 and 10000"
    );
}

#[test]
fn unavailable_dates_are_honoured_by_solver_and_checker() {
    // One lecturer beside two villages, one talk a day, listed on both days but unavailable on
    // the first: only one village can have its talk, on the second day.
    let mut inst = instance(
        vec![(36.30, 103.90, 1), (36.31, 103.91, 1)],
        vec![(36.305, 103.905, vec![1, 2], 1)],
        2,
    );
    inst.lecturers[0].unavailable = vec![date(1)];
    let s = run(&inst, 50);
    assert_checked(&inst, &s);
    assert_eq!(s.stats.covered, 1, "{s:?}");
    assert!(s.sessions.iter().all(|x| x.date == date(2)), "{s:?}");
    let mut moved = s.clone();
    moved.sessions[0].date = date(1);
    let problems = check(&inst, &moved).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|v| v.0 == "L0 is not available on 2026-12-01"),
        "{problems:?}"
    );
    // Nobody free on any day: the reason says so.
    inst.lecturers[0].unavailable = vec![date(1), date(2)];
    assert_eq!(run(&inst, 5).unassigned[0].reason, Reason::NoAvailableDate);
}

#[test]
fn a_period_takes_the_working_days_of_the_calendar() {
    // A calendar in miniature: 2026-12-03 (Thursday) a holiday, 2026-12-05 (Saturday) a 调休
    // working day, 2026-12-12 (Saturday) a holiday falling on a weekend.
    let holidays = [date(3), date(12)];
    let working = |d: NaiveDate| {
        d == date(5)
            || (!holidays.contains(&d)
                && !matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun))
    };
    let holiday = |d: NaiveDate| holidays.contains(&d);
    let mut inst = instance(
        vec![(36.30, 103.90, 1)],
        vec![(36.305, 103.905, vec![1], 2)],
        0,
    );
    inst.period = Some(Period {
        from: date(1),
        to: date(13),
        weekends: false,
    });
    let mut working_days = inst.clone();
    working_days.resolve_days(working, holiday).unwrap();
    let days = |ds: &[u32]| ds.iter().map(|&d| date(d)).collect::<Vec<_>>();
    assert_eq!(working_days.days, days(&[1, 2, 4, 5, 7, 8, 9, 10, 11]));
    let mut with_weekends = inst.clone();
    with_weekends.period.as_mut().unwrap().weekends = true;
    with_weekends.resolve_days(working, holiday).unwrap();
    assert_eq!(
        with_weekends.days,
        days(&[1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 13])
    );
    let refused = |f: &dyn Fn(&mut Instance)| {
        let mut i = inst.clone();
        f(&mut i);
        i.resolve_days(working, holiday).unwrap_err()
    };
    assert_eq!(
        refused(&|i| i.days = vec![date(1)]),
        "period: give either days or a period, not both"
    );
    assert_eq!(
        refused(&|i| i.period.as_mut().unwrap().to = date(1) - chrono::Days::new(1)),
        "period.to: 2026-11-30 is before period.from 2026-12-01"
    );
    // Without a period the days are left as given.
    let mut given = instance(
        vec![(36.30, 103.90, 1)],
        vec![(36.305, 103.905, vec![1], 2)],
        2,
    );
    given.resolve_days(working, holiday).unwrap();
    assert_eq!(given.days, days(&[1, 2]));
}

#[test]
fn instances_beyond_the_maximum_are_refused_before_any_work() {
    let mut inst = instance(
        vec![(36.30, 103.90, 1)],
        vec![(36.305, 103.905, vec![1], 2)],
        1,
    );
    let village = inst.villages[0].clone();
    inst.villages = (0..=MAX_VILLAGES)
        .map(|i| Village {
            code: format!("V{i}"),
            ..village.clone()
        })
        .collect();
    assert_eq!(
        inst.validate().unwrap_err(),
        "villages: 20001 villages; at most 20000 are taken"
    );
}

#[test]
fn a_waiting_village_takes_a_farther_villages_place_when_that_saves_travel() {
    // One talk a day, one day: the far village holds the only place, the near one waits.
    let inst = instance(
        vec![(36.30, 103.90, 1), (36.60, 104.20, 1)],
        vec![(36.305, 103.905, vec![1], 1)],
        1,
    );
    let p = Problem::new(&inst);
    let mut plan = Plan::new(&p);
    plan.routes[0].stops = vec![1];
    plan.unassigned = vec![0];
    let far = plan.cost(&p).km;
    plan.swap_waiting(&p, &mut Steps { taken: 0, limit: 1 });
    assert_eq!(
        (plan.routes[0].stops.clone(), plan.unassigned.clone()),
        (vec![0], vec![1])
    );
    assert!(plan.cost(&p).km < far);
}

/// The repaired schedule passes the checker, keeps every published session not dropped exactly
/// (village, lecturer, date, start, end), and gives the dropped villages their talks back when
/// there is room.
fn assert_repaired(changed: &Instance, published: &Schedule, dropped: &[Session]) -> Schedule {
    let repaired = repair(changed, published, dropped);
    assert_checked(changed, &repaired);
    for s in &published.sessions {
        if !dropped.contains(s) {
            assert!(repaired.sessions.contains(s), "{s:?} moved");
        }
    }
    repaired
}

#[test]
fn a_declined_session_is_given_again_and_nothing_else_moves() {
    let inst = city(120, 30, 6, 41);
    let published = run(&inst, 300);
    assert_eq!(published.stats.covered, 120);
    for k in [0, 17, 60] {
        let declined = published.sessions[k % published.sessions.len()].clone();
        let repaired = assert_repaired(&inst, &published, std::slice::from_ref(&declined));
        assert_eq!(
            repaired.stats.covered, 120,
            "{declined:?}: {:?}",
            repaired.unassigned
        );
        assert_eq!(repaired.sessions.len(), published.sessions.len());
        let again = repaired
            .sessions
            .iter()
            .find(|s| s.village == declined.village)
            .unwrap();
        assert_ne!(
            again.lecturer, declined.lecturer,
            "{again:?} went back to the lecturer who declined it"
        );
    }
    // A day taken out: every session on it goes, the rest stay.
    let day = published.sessions[0].date;
    let mut changed = inst.clone();
    changed.days.retain(|&d| d != day);
    let dropped: Vec<Session> = published
        .sessions
        .iter()
        .filter(|s| s.date == day)
        .cloned()
        .collect();
    let repaired = assert_repaired(&changed, &published, &dropped);
    assert!(repaired.sessions.iter().all(|s| s.date != day));
}

#[test]
fn a_lecturer_taken_out_leaves_every_other_session_where_it_was() {
    let inst = city(120, 30, 6, 43);
    let published = run(&inst, 300);
    let busiest = &published
        .sessions
        .iter()
        .max_by_key(|s| {
            published
                .sessions
                .iter()
                .filter(|t| t.lecturer == s.lecturer)
                .count()
        })
        .unwrap()
        .lecturer;
    let mut changed = inst.clone();
    changed.lecturers.retain(|l| &l.id != busiest);
    let dropped: Vec<Session> = published
        .sessions
        .iter()
        .filter(|s| &s.lecturer == busiest)
        .cloned()
        .collect();
    let repaired = assert_repaired(&changed, &published, &dropped);
    assert!(repaired.sessions.iter().all(|s| &s.lecturer != busiest));
    assert_eq!(repaired.stats.covered + repaired.unassigned.len(), 120);
    // With room to spare (30 lecturers over 6 days for 120 villages), every village keeps a talk.
    assert_eq!(repaired.stats.covered, 120, "{:?}", repaired.unassigned);
}

/// A budget already exhausted: construction stops at its first check.
struct Exhausted;

impl Budget for Exhausted {
    fn spent(&mut self) -> f64 {
        1.0
    }
    fn exhausted(&mut self) -> bool {
        true
    }
}

/// Villages on a jittered grid round a few dozen township seats, as generated cities are.
fn city(villages: usize, lecturers: usize, days: u32, seed: u64) -> Instance {
    let mut rng = Rng(seed);
    let side = (villages as f64).sqrt().ceil() as usize;
    let at = |i: usize, rng: &mut Rng| {
        (
            35.0 + (i / side) as f64 * 0.02 + rng.unit() * 0.01,
            104.0 + (i % side) as f64 * 0.02 + rng.unit() * 0.01,
        )
    };
    let vs = (0..villages).map(|i| {
        let (lat, lon) = at(i, &mut rng);
        (lat, lon, 1)
    });
    let vs: Vec<_> = vs.collect();
    let ls = (0..lecturers)
        .map(|_| {
            let (lat, lon) = at(rng.below(villages), &mut rng);
            let avail = (1..=days).filter(|_| rng.below(10) < 6).collect();
            (lat, lon, avail, 2 + rng.below(2) as u32)
        })
        .collect();
    instance(vs, ls, days)
}

#[test]
fn a_city_is_covered_from_nearest_lecturers_and_checked() {
    // 1,000 villages × ~4,300 lecturer-days is past the size where every village is offered
    // every route: candidates come from the nearest lecturers, the rest from the fallback.
    let inst = city(1000, 160, 45, 11);
    let p = Problem::new(&inst);
    assert!(p.restricted);
    assert!(p.candidates.iter().all(|c| c.len() <= 512 + 45));
    let s = run(&inst, 20);
    assert_checked(&inst, &s);
    assert_eq!(s.stats.covered, 1000, "{:?}", s.unassigned.first());
    // The grid's nearest neighbours are the true nearest.
    for v in [0, 777, 999] {
        let mut by_distance: Vec<usize> = (0..1000).filter(|&u| u != v).collect();
        let km = |u: usize| p.vv(v, u).km;
        by_distance.sort_by(|&a, &b| km(a).total_cmp(&km(b)).then(a.cmp(&b)));
        let near: Vec<usize> = p.near[v].iter().map(|&u| u as usize).collect();
        assert_eq!(near, by_distance[..near.len()], "village {v}");
    }
}

#[test]
fn an_exhausted_budget_still_returns_a_checked_schedule() {
    let inst = city(400, 20, 10, 3);
    let s = solve(&inst, 1, &mut Exhausted, &mut |_, _, _| {});
    assert_checked(&inst, &s);
    assert!(
        s.stats.covered < 400,
        "construction should have stopped early"
    );
    assert_eq!(s.unassigned.len(), 400 - s.stats.covered);
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
        let s = run_seeded(&inst, seed, 30);
        let checked = check(&inst, &s);
        prop_assert!(checked.is_ok(), "{:?}", checked);
        let stats = checked.unwrap();
        prop_assert_eq!(stats.covered, s.stats.covered);
        prop_assert!((stats.travel_km - s.stats.travel_km).abs() < 1e-6);
        let missing: usize = inst.villages.len() - s.stats.covered;
        prop_assert_eq!(missing, s.unassigned.len());
    }
}

#[test]
fn talks_start_on_the_step_and_the_checker_holds_them_to_it() {
    let mut inst = city(60, 6, 5, 3);
    inst.start_step_minutes = 10;
    let schedule = run(&inst, 200);
    assert!(schedule.stats.covered > 0);
    assert_checked(&inst, &schedule);
    for s in &schedule.sessions {
        assert_eq!(minutes(s.start) % 10, 0, "{s:?}");
    }
    // One minute late: the checker says so.
    let mut late = schedule.clone();
    let first = &mut late.sessions[0];
    first.start += chrono::Duration::minutes(1);
    first.end += chrono::Duration::minutes(1);
    let violations = check(&inst, &late).unwrap_err();
    assert!(
        violations
            .iter()
            .any(|v| v.0.contains("not on the 10-minute step")),
        "{violations:?}"
    );
    // A step out of bounds is refused by name.
    inst.start_step_minutes = 0;
    assert!(
        inst.validate()
            .unwrap_err()
            .starts_with("start_step_minutes")
    );
}
