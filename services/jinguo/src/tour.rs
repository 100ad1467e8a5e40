//! `jinguo tour solve`: reads an instance (JSON), writes a schedule (JSON) to stdout, reports
//! progress on stderr, and refuses to print a schedule the independent checker rejects.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use jinguo_core::tours::{Instance, check};

#[derive(Debug, Subcommand)]
pub(crate) enum Tour {
    /// Compute a lecture-tour schedule that covers every village it can, with the least travel.
    Solve {
        /// The instance: villages, lecturers, days, day_start, day_end, session_minutes,
        /// speed_kmh, road_factor, topic (docs/tours.md).
        #[arg(long)]
        input: PathBuf,
        /// Stop improving after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        time_limit_ms: u64,
        /// The same seed gives the same schedule.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write an instance built from the shipped org data of a real county (for trials and
    /// benchmarks): its villages, lecturers at its township seats, availability from the seed.
    Generate {
        /// A county-level code, e.g. 620121 (永登县, 196 villages).
        #[arg(long)]
        county: String,
        #[arg(long, default_value_t = 40)]
        lecturers: usize,
        #[arg(long, default_value_t = 20)]
        days: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

pub(crate) fn run(command: Tour) -> anyhow::Result<()> {
    let (input, time_limit_ms, seed) = match command {
        Tour::Solve {
            input,
            time_limit_ms,
            seed,
        } => (input, time_limit_ms, seed),
        Tour::Generate {
            county,
            lecturers,
            days,
            seed,
        } => {
            let instance = generate(&county, lecturers, days, seed)?;
            println!("{}", serde_json::to_string_pretty(&instance)?);
            return Ok(());
        }
    };
    let text =
        std::fs::read_to_string(&input).with_context(|| format!("reading {}", input.display()))?;
    let instance: Instance = serde_json::from_str(&text)
        .with_context(|| format!("reading {}: not a tour instance", input.display()))?;
    anyhow::ensure!(
        instance.speed_kmh > 0.0,
        "{}: speed_kmh must be positive",
        input.display()
    );
    anyhow::ensure!(
        instance.road_factor >= 1.0,
        "{}: road_factor must be at least 1",
        input.display()
    );
    anyhow::ensure!(
        instance.day_start < instance.day_end,
        "{}: day_start must be before day_end",
        input.display()
    );
    let started = Instant::now();
    let limit = Duration::from_millis(time_limit_ms);
    let mut stop = || started.elapsed() >= limit;
    let mut progress = |iteration: u64, covered: usize, km: f64| {
        eprintln!(
            "[{:>6} ms] iteration {iteration:>7}: {covered} villages covered, {km:.1} km",
            started.elapsed().as_millis()
        );
    };
    let schedule = jinguo_core::tour_solver::solve(&instance, seed, &mut stop, &mut progress);
    if let Err(violations) = check(&instance, &schedule) {
        let first = violations.first().map(|v| v.0.clone()).unwrap_or_default();
        anyhow::bail!(
            "the schedule failed its check ({} problems, first: {first}); nothing was written",
            violations.len()
        );
    }
    eprintln!(
        "done in {} ms: {} of {} villages covered, {:.1} km",
        started.elapsed().as_millis(),
        schedule.stats.covered,
        instance.villages.len(),
        schedule.stats.travel_km
    );
    println!("{}", serde_json::to_string_pretty(&schedule)?);
    Ok(())
}

/// Generates an instance from the shipped org data: a real county's villages (positions are the
/// generated village coordinates), lecturers living at its township seats, availability from
/// the seed. For tests and benchmarks.
pub(crate) fn generate(
    county: &str,
    lecturers: usize,
    days: usize,
    seed: u64,
) -> anyhow::Result<Instance> {
    use jinguo_core::org::{OrgCode, OrgLevel};
    use jinguo_core::tours::{Lecturer, Village};
    let county = OrgCode::parse(county).map_err(|e| anyhow::anyhow!("--county: {e}"))?;
    anyhow::ensure!(
        county.level() == OrgLevel::County,
        "--county: {county} is not a county-level unit"
    );
    let rows = jinguo_core::org_file::parse(jinguo_store::seed::GANSU_ORGS_CSV)?;
    let units: Vec<_> = rows
        .into_iter()
        .map(|r| r.unit)
        .filter(|u| u.code.is_within(&county))
        .collect();
    let villages: Vec<Village> = units
        .iter()
        .filter(|u| u.level == OrgLevel::Village)
        .filter_map(|u| {
            let l = u.location?;
            Some(Village {
                code: u.code.to_string(),
                name: u.name.clone(),
                lat: l.latitude,
                lon: l.longitude,
                sessions: 1,
                venue_capacity: None,
            })
        })
        .collect();
    anyhow::ensure!(
        !villages.is_empty(),
        "--county: {county} has no villages in the shipped data"
    );
    let towns: Vec<_> = units
        .iter()
        .filter(|u| u.level == OrgLevel::Township && u.location.is_some())
        .collect();
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let first = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
    let all_days: Vec<chrono::NaiveDate> = (0..days as u64)
        .map(|d| first + chrono::Days::new(d))
        .collect();
    let lecturers = (0..lecturers)
        .map(|i| {
            let town = towns[(next() % towns.len() as u64) as usize];
            let at = town.location.expect("filtered");
            let available = all_days
                .iter()
                .copied()
                .filter(|_| next() % 10 < 6)
                .collect();
            Lecturer {
                id: format!("L{i:03}"),
                name: format!("{}巾帼志愿者{}", town.name, i + 1),
                home_lat: at.latitude,
                home_lon: at.longitude,
                topics: vec!["反家暴".into(), "家风家教".into()],
                available,
                max_per_day: 2 + (next() % 2) as u32,
            }
        })
        .collect();
    Ok(Instance {
        villages,
        lecturers,
        days: all_days,
        day_start: chrono::NaiveTime::from_hms_opt(8, 30, 0).expect("a time"),
        day_end: chrono::NaiveTime::from_hms_opt(17, 30, 0).expect("a time"),
        session_minutes: 90,
        speed_kmh: 40.0,
        road_factor: 1.3,
        topic: "反家暴".into(),
    })
}
