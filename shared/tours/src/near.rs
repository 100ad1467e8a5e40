//! Nearest places by straight-line distance, from a grid of cells: what keeps the solver's work
//! per village nearly constant on a city or the whole province, where comparing every village
//! with every other would be quadratic.

use std::collections::HashSet;

use super::{Instance, haversine_km};

/// Points (latitude, longitude) bucketed into square cells of a few points each.
pub(super) struct Grid {
    points: Vec<(f64, f64)>,
    cells: Vec<Vec<u32>>,
    cols: usize,
    rows: usize,
    lat0: f64,
    lon0: f64,
    /// Cell side in degrees.
    cell: f64,
    /// A floor on the km spanned by one degree anywhere in the grid (latitude or longitude), so
    /// that a ring of cells can be ruled out before its points are measured.
    km_per_degree: f64,
}

impl Grid {
    pub(super) fn new(points: Vec<(f64, f64)>) -> Grid {
        let (mut lat_lo, mut lat_hi, mut lon_lo, mut lon_hi) =
            (90.0f64, -90.0f64, 180.0f64, -180.0f64);
        for &(lat, lon) in &points {
            lat_lo = lat_lo.min(lat);
            lat_hi = lat_hi.max(lat);
            lon_lo = lon_lo.min(lon);
            lon_hi = lon_hi.max(lon);
        }
        if points.is_empty() {
            (lat_lo, lat_hi, lon_lo, lon_hi) = (0.0, 0.0, 0.0, 0.0);
        }
        // About four points a cell where there are points: places cluster (a province is a
        // strip, a county its valleys), so the first guess from the bounding box is refined by
        // the occupied cells' average.
        let area = ((lat_hi - lat_lo) * (lon_hi - lon_lo)).max(1e-6);
        let mut cell = (area / (points.len().max(1) as f64 / 4.0)).sqrt().max(1e-3);
        for _ in 0..2 {
            let occupied: HashSet<(i64, i64)> = points
                .iter()
                .map(|&(lat, lon)| {
                    (
                        ((lat - lat_lo) / cell) as i64,
                        ((lon - lon_lo) / cell) as i64,
                    )
                })
                .collect();
            let per_cell = points.len() as f64 / occupied.len().max(1) as f64;
            cell = (cell * (4.0 / per_cell).sqrt()).max(1e-3);
        }
        let cols = ((lon_hi - lon_lo) / cell) as usize + 1;
        let rows = ((lat_hi - lat_lo) / cell) as usize + 1;
        let mut cells = vec![Vec::new(); cols * rows];
        let highest = lat_lo.abs().max(lat_hi.abs()).min(89.0);
        let mut grid = Grid {
            points,
            cells: Vec::new(),
            cols,
            rows,
            lat0: lat_lo,
            lon0: lon_lo,
            cell,
            // A degree of longitude at the highest latitude is the shortest degree; 0.99 covers
            // the sine's curvature over a few cells.
            km_per_degree: 6371.0 * std::f64::consts::PI / 180.0
                * highest.to_radians().cos()
                * 0.99,
        };
        for (i, &(lat, lon)) in grid.points.iter().enumerate() {
            let (c, r) = grid.cell_of(lat, lon);
            cells[r * cols + c].push(i as u32);
        }
        grid.cells = cells;
        grid
    }

    /// The instance's villages, indexed as in the instance.
    pub(super) fn of_villages(inst: &Instance) -> Grid {
        Grid::new(inst.villages.iter().map(|v| (v.lat, v.lon)).collect())
    }

    /// The homes of `lecturers`, indexed by position in that list.
    pub(super) fn of_homes(inst: &Instance, lecturers: &[usize]) -> Grid {
        let home = |l: usize| (inst.lecturers[l].home_lat, inst.lecturers[l].home_lon);
        Grid::new(lecturers.iter().map(|&l| home(l)).collect())
    }

    /// The cell holding a position (clamped into the grid).
    fn cell_of(&self, lat: f64, lon: f64) -> (usize, usize) {
        let at = |x: f64, origin: f64, n: usize| {
            (((x - origin) / self.cell).max(0.0) as usize).min(n - 1)
        };
        (at(lon, self.lon0, self.cols), at(lat, self.lat0, self.rows))
    }

    /// Up to `k` points accepted by `keep`, nearest first, as (straight-line km, index). Exact:
    /// a ring of cells is only left unvisited when no point in it can be nearer than the k-th
    /// found.
    pub(super) fn nearest(
        &self,
        lat: f64,
        lon: f64,
        k: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(f64, usize)> {
        let mut found: Vec<(f64, usize)> = Vec::new();
        if k == 0 || self.points.is_empty() {
            return found;
        }
        let (c0, r0) = self.cell_of(lat, lon);
        let widest = self.cols.max(self.rows);
        let by_distance =
            |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        for ring in 0..=widest {
            // Every point in this ring is at least (ring - 1) cells away in latitude or longitude.
            let floor = (ring.saturating_sub(1)) as f64 * self.cell * self.km_per_degree;
            if found.len() >= k {
                let (_, kth, _) = found.select_nth_unstable_by(k - 1, by_distance);
                if floor > kth.0 {
                    break;
                }
            }
            for (c, r) in ring_cells(c0, r0, ring, self.cols, self.rows) {
                for &i in &self.cells[r * self.cols + c] {
                    let i = i as usize;
                    if keep(i) {
                        let (plat, plon) = self.points[i];
                        found.push((haversine_km(lat, lon, plat, plon), i));
                    }
                }
            }
        }
        found.sort_unstable_by(by_distance);
        found.truncate(k);
        found
    }
}

/// The cells at Chebyshev distance `ring` from (c0, r0), inside a grid of cols × rows.
fn ring_cells(
    c0: usize,
    r0: usize,
    ring: usize,
    cols: usize,
    rows: usize,
) -> impl Iterator<Item = (usize, usize)> {
    let (c0, r0, ring) = (c0 as i64, r0 as i64, ring as i64);
    (r0 - ring..=r0 + ring)
        .flat_map(move |r| {
            let edge = r == r0 - ring || r == r0 + ring;
            let step = if edge { 1 } else { (2 * ring).max(1) as usize };
            (c0 - ring..=c0 + ring).step_by(step).map(move |c| (c, r))
        })
        .filter(move |&(c, r)| c >= 0 && r >= 0 && c < cols as i64 && r < rows as i64)
        .map(|(c, r)| (c as usize, r as usize))
}
