//! Travel between places: the rule both the solver and the checker apply.

use std::collections::HashMap;

use super::near::Grid;
use super::{Instance, TravelMatrix};

/// Great-circle distance in km on a sphere of radius 6371 km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    // Rounding can push `a` a hair above 1 for nearly antipodal points; asin would give NaN.
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

/// A place on a route, by index into the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Lecturer `l`'s home.
    Home(usize),
    Village(usize),
}

/// One leg of travel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    pub km: f64,
    /// Whole minutes on the road.
    pub minutes: i64,
}

/// Looks up legs for one instance: the matrix where it lists both ends, else straight-line
/// distance × road factor at the instance's speed, minutes rounded up.
pub struct Travel<'a> {
    inst: &'a Instance,
    matrix: Option<&'a TravelMatrix>,
    village_point: Vec<Option<usize>>,
    home_point: Vec<Option<usize>>,
}

impl<'a> Travel<'a> {
    pub fn new(inst: &'a Instance) -> Travel<'a> {
        let matrix = inst.travel_matrix.as_ref();
        let index: HashMap<&str, usize> = matrix
            .map(|m| {
                m.points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p.as_str(), i))
                    .collect()
            })
            .unwrap_or_default();
        Travel {
            inst,
            matrix,
            village_point: inst
                .villages
                .iter()
                .map(|v| index.get(v.code.as_str()).copied())
                .collect(),
            home_point: inst
                .lecturers
                .iter()
                .map(|l| index.get(l.id.as_str()).copied())
                .collect(),
        }
    }

    fn position(&self, place: Place) -> (f64, f64) {
        match place {
            Place::Home(l) => {
                let l = &self.inst.lecturers[l];
                (l.home_lat, l.home_lon)
            }
            Place::Village(v) => {
                let v = &self.inst.villages[v];
                (v.lat, v.lon)
            }
        }
    }

    fn point(&self, place: Place) -> Option<usize> {
        match place {
            Place::Home(l) => self.home_point[l],
            Place::Village(v) => self.village_point[v],
        }
    }

    /// The leg from one place to another, or `None` when the matrix says there is no road.
    pub fn leg(&self, from: Place, to: Place) -> Option<Leg> {
        let straight_km = || {
            let (a, b) = (self.position(from), self.position(to));
            haversine_km(a.0, a.1, b.0, b.1) * self.inst.road_factor
        };
        if let (Some(m), Some(i), Some(j)) = (self.matrix, self.point(from), self.point(to)) {
            let minutes = m.minutes.get(i)?.get(j).copied().flatten()?;
            let km =
                m.km.as_ref()
                    .and_then(|km| km.get(i)?.get(j).copied().flatten())
                    .unwrap_or_else(straight_km);
            return Some(Leg {
                km,
                minutes: minutes.ceil() as i64,
            });
        }
        let km = straight_km();
        Some(Leg {
            km,
            minutes: (km / self.inst.speed_kmh * 60.0).ceil() as i64,
        })
    }
}

/// A bound no schedule covering every village can beat, the larger of two:
/// - each session is reached by one leg and left by one, so travel is at least the sum over
///   sessions of (cheapest way in + cheapest way out) ÷ 2;
/// - with straight-line travel (a metric), a lecturer-day is at least as long as the round
///   trip to its farthest stop, so each stop costs at least its round trip from the home ÷ that
///   lecturer's daily maximum (a county's matrix need not obey the triangle inequality, so this
///   one is skipped when there is a matrix).
///
/// Benchmarks print it next to the solver's travel. With straight-line travel the nearest
/// other village comes from a grid, so a province's bound takes no longer than its solving.
pub fn travel_lower_bound_km(inst: &Instance) -> f64 {
    let travel = Travel::new(inst);
    let homes: Vec<usize> = (0..inst.lecturers.len())
        .filter(|&l| inst.can_lecture(&inst.lecturers[l]))
        .collect();
    let n = inst.villages.len();
    let km = |from: Place, to: Place| travel.leg(from, to).map_or(f64::INFINITY, |leg| leg.km);
    let finite_or_zero = |x: f64| if x.is_finite() { x } else { 0.0 };
    let villages = Grid::of_villages(inst);
    let home_grid = Grid::of_homes(inst, &homes);
    let most_a_day = homes
        .iter()
        .map(|&l| inst.lecturers[l].max_per_day)
        .max()
        .unwrap_or(1)
        .max(1);
    let round_trip_from = |ls: &mut dyn Iterator<Item = usize>, here: Place| {
        ls.map(|l| {
            let home = Place::Home(l);
            (km(home, here) + km(here, home)) / f64::from(inst.lecturers[l].max_per_day)
        })
        .fold(f64::INFINITY, f64::min)
    };
    let mut legs = 0.0;
    let mut round_trips = 0.0;
    for v in 0..n {
        let here = Place::Village(v);
        let sessions = f64::from(inst.villages[v].sessions);
        let (way_in, way_out, round_trip) = if inst.travel_matrix.is_some() {
            let places = || {
                homes
                    .iter()
                    .map(|&l| Place::Home(l))
                    .chain((0..n).filter(|&u| u != v).map(Place::Village))
            };
            (
                places().map(|u| km(u, here)).fold(f64::INFINITY, f64::min),
                places().map(|u| km(here, u)).fold(f64::INFINITY, f64::min),
                round_trip_from(&mut homes.iter().copied(), here),
            )
        } else {
            // Straight lines are symmetric and grow with distance: the nearest other village
            // or home is the cheapest way both in and out, and only homes near enough can give
            // the cheapest round trip per talk.
            let village = &inst.villages[v];
            let nearest_village = villages
                .nearest(village.lat, village.lon, 1, |u| u != v)
                .first()
                .map_or(f64::INFINITY, |&(_, u)| km(Place::Village(u), here));
            const NEAR: usize = 16;
            let near_homes = home_grid.nearest(village.lat, village.lon, NEAR, |_| true);
            let nearest_home = near_homes
                .first()
                .map_or(f64::INFINITY, |&(_, h)| km(Place::Home(homes[h]), here));
            let mut round_trip =
                round_trip_from(&mut near_homes.iter().map(|&(_, h)| homes[h]), here);
            // A home beyond the NEAR nearest is at least as far as the last of them.
            if let Some(&(farthest, _)) = near_homes.get(NEAR - 1)
                && round_trip > 2.0 * farthest * inst.road_factor / f64::from(most_a_day)
            {
                round_trip = round_trip_from(&mut homes.iter().copied(), here);
            }
            let way = nearest_village.min(nearest_home);
            (way, way, round_trip)
        };
        legs += finite_or_zero((way_in + way_out) / 2.0) * sessions;
        round_trips += finite_or_zero(round_trip) * sessions;
    }
    if inst.travel_matrix.is_some() {
        legs
    } else {
        legs.max(round_trips)
    }
}
