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
}

pub(crate) fn run(command: Tour) -> anyhow::Result<()> {
    let Tour::Solve {
        input,
        time_limit_ms,
        seed,
    } = command;
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
