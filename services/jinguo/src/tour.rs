//! `jinguo tour solve`: reads an instance (JSON), writes a schedule (JSON) to stdout, reports
//! progress on stderr, and refuses to print a schedule the independent checker rejects.
//! `jinguo tour check` runs that checker on a schedule from anywhere; `jinguo tour generate`
//! builds instances from the shipped org data.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use jinguo_tours::{Instance, Schedule, check, solve, travel_lower_bound_km};

#[derive(Debug, Subcommand)]
pub(crate) enum Tour {
    /// Compute a lecture-tour schedule that covers every village it can, with the least travel.
    Solve {
        /// The instance: villages, lecturers, days, day_start, day_end, session_minutes,
        /// speed_kmh, road_factor, topic, optionally travel_matrix (docs/tours.md).
        #[arg(long)]
        input: PathBuf,
        /// Stop improving after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        time_limit_ms: u64,
        /// The same seed and the same budget give the same schedule.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop after this many improvement steps instead of after a time: the same schedule
        /// on any machine.
        #[arg(long, conflicts_with = "time_limit_ms")]
        iterations: Option<u64>,
    },
    /// Check a schedule against an instance: every rule, and the statistics it reports. Lists
    /// each problem on stdout and exits 1 when there is any.
    Check {
        #[arg(long)]
        input: PathBuf,
        /// The schedule (as `tour solve` writes it, perhaps edited by hand).
        #[arg(long)]
        schedule: PathBuf,
    },
    /// Write one calendar file (.ics) per lecturer of a checked schedule, `<out>/<lecturer id>.ics`,
    /// with the villages' and lecturers' names from the instance.
    Ics {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        schedule: PathBuf,
        /// The directory the files go to (made if missing).
        #[arg(long)]
        out: PathBuf,
        /// Names the tour in every event's UID (default: the instance file's name), so that
        /// files written again for the same tour update the events instead of adding new ones.
        #[arg(long)]
        tour_id: Option<String>,
    },
    /// Write an instance built from the shipped org data of a real county, city or the whole
    /// province (for trials and benchmarks): its villages, lecturers at its township seats,
    /// availability from the seed.
    Generate {
        /// A county, city or province code: 620121 (永登县, 196 villages), 6211 (定西市, ~2,000),
        /// 62 (甘肃省, 17,718).
        #[arg(long, visible_alias = "unit")]
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
    match command {
        Tour::Solve {
            input,
            time_limit_ms,
            seed,
            iterations,
        } => {
            let budget = match iterations {
                Some(steps) => Budget::Steps(steps),
                None => Budget::Time(Duration::from_millis(time_limit_ms)),
            };
            solve_file(&input, budget, seed)
        }
        Tour::Check { input, schedule } => check_file(&input, &schedule),
        Tour::Ics {
            input,
            schedule,
            out,
            tour_id,
        } => write_calendars(&input, &schedule, &out, tour_id),
        Tour::Generate {
            county,
            lecturers,
            days,
            seed,
        } => {
            let instance = generate(&county, lecturers, days, seed)?;
            outln!("{}", serde_json::to_string_pretty(&instance)?);
            Ok(())
        }
    }
}

/// `text` as JSON of `T`; a value that does not fit is named by its field (`days[0]: …`), as
/// every later check names it.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| match e.path().to_string() {
        p if p == "." => anyhow::anyhow!("{}", e.inner()),
        p => anyhow::anyhow!("{p}: {}", e.inner()),
    })
}

/// Reads and validates an instance: a bad one stops here with one line naming the field.
fn read_instance(path: &Path) -> anyhow::Result<Instance> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut instance: Instance = from_json(&text)
        .with_context(|| format!("reading {}: not a tour instance", path.display()))?;
    let invalid = |e: String| anyhow::anyhow!("{}: {e}", path.display());
    if instance.period.is_some() {
        // The working days come from the configured calendar (built in, plus `calendar.dir`).
        let calendar = jinguo_config::Config::load()?.calendar.load()?;
        instance
            .resolve_days(
                |d| calendar.is_working_day(d, None),
                |d| calendar.is_holiday(d, None),
            )
            .map_err(invalid)?;
    }
    instance.validate().map_err(invalid)?;
    Ok(instance)
}

/// What the search may spend: a time limit, or (reproducible anywhere) a number of steps.
#[derive(Debug, Clone, Copy)]
enum Budget {
    Time(Duration),
    Steps(u64),
}

fn solve_file(input: &Path, budget: Budget, seed: u64) -> anyhow::Result<()> {
    // The limit is the command's: reading a province's instance counts too.
    let started = Instant::now();
    let instance = read_instance(input)?;
    let bar = RefCell::new(ProgressBar::new(
        started,
        instance.villages.len(),
        std::io::stderr().is_terminal(),
    ));
    let mut budget = CliBudget {
        budget,
        started,
        steps: 0,
        setup: None,
        bar: &bar,
    };
    let mut progress = |_iteration: u64, covered: usize, km: f64| {
        let mut bar = bar.borrow_mut();
        bar.covered = covered;
        bar.km = km;
        if covered == bar.villages && bar.all_covered_at.is_none() {
            bar.all_covered_at = Some(bar.started.elapsed());
        }
        bar.draw(false);
    };
    let schedule = solve(&instance, seed, &mut budget, &mut progress);
    bar.borrow_mut().finish();
    if let Err(violations) = check(&instance, &schedule) {
        let first = violations.first().map(|v| v.0.clone()).unwrap_or_default();
        anyhow::bail!(
            "the schedule failed its check ({} problems, first: {first}); nothing was written",
            violations.len()
        );
    }
    let stats = &schedule.stats;
    // Covered by the last passes, after the search reported its final progress.
    let all_covered_at = bar.borrow().all_covered_at.or(Some(started.elapsed()));
    // With a county's matrix the bound compares every pair of places, so it is left out of a
    // run with thousands of villages, where it would take longer than the solving.
    let bound_is_quick = instance.travel_matrix.is_none() || instance.villages.len() <= 3000;
    let bound = match all_covered_at {
        Some(at) if stats.covered == instance.villages.len() && bound_is_quick => format!(
            " (every village covered after {} ms; travel lower bound {:.1} km)",
            at.as_millis(),
            travel_lower_bound_km(&instance)
        ),
        Some(at) if stats.covered == instance.villages.len() => {
            format!(" (every village covered after {} ms)", at.as_millis())
        }
        _ => String::new(),
    };
    eprintln!(
        "done in {} ms: {} of {} villages covered, {:.1} km{bound}, {}–{} sessions a lecturer",
        started.elapsed().as_millis(),
        stats.covered,
        instance.villages.len(),
        stats.travel_km,
        stats.fewest_sessions,
        stats.most_sessions,
    );
    outln!("{}", serde_json::to_string_pretty(&schedule)?);
    Ok(())
}

/// The solver's budget as the command line gives it. With a time limit the search stops at
/// 90 % of it and everything else (construction, the last passes) by 93 %, which leaves the
/// checker, the lower bound and the output inside the limit + 5 %. With `--iterations` the
/// search takes exactly that many steps and nothing else is cut short.
///
/// On a large instance what follows the last pass also grows: the reasons of every village
/// left out and freeing the solver's tables took about 40 % as long as building them on all of
/// Gansu (900 ms to build, 340 ms after the budget said stop, on a 2-core machine), more than a
/// 2 s limit's 7 %. So half the set-up time, known when the solver first asks, is kept back
/// as well; on a county that is a few milliseconds.
struct CliBudget<'a> {
    budget: Budget,
    started: Instant,
    steps: u64,
    /// When the solver first asked: its set-up (reading the instance, building its tables).
    setup: Option<Duration>,
    bar: &'a RefCell<ProgressBar>,
}

impl CliBudget<'_> {
    fn setup(&mut self) -> Duration {
        *self.setup.get_or_insert_with(|| self.started.elapsed())
    }
}

impl jinguo_tours::Budget for CliBudget<'_> {
    fn spent(&mut self) -> f64 {
        self.setup();
        self.steps += 1;
        let share = match self.budget {
            Budget::Time(limit) => {
                self.started.elapsed().as_secs_f64() / (0.9 * limit.as_secs_f64()).max(1e-9)
            }
            Budget::Steps(n) => self.steps as f64 / n.max(1) as f64,
        };
        let mut bar = self.bar.borrow_mut();
        bar.share = share;
        bar.draw(false);
        share
    }

    fn exhausted(&mut self) -> bool {
        let setup = self.setup();
        match self.budget {
            Budget::Time(limit) => self.started.elapsed() + setup / 2 >= limit.mul_f64(0.93),
            Budget::Steps(_) => false,
        }
    }
}

fn read_schedule(path: &Path) -> anyhow::Result<Schedule> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    from_json(&text).with_context(|| format!("reading {}: not a tour schedule", path.display()))
}

/// `tour ics`: a calendar file per lecturer. Each session's UID is the tour, the village and
/// which of the village's talks it is (in date order), so a session moved to another day or
/// lecturer keeps its UID.
fn write_calendars(
    input: &Path,
    schedule: &Path,
    out: &Path,
    tour_id: Option<String>,
) -> anyhow::Result<()> {
    use jinguo_tours::ics::{Event, Method, calendar};
    let instance = read_instance(input)?;
    let mut plan = read_schedule(schedule)?;
    if let Err(problems) = check(&instance, &plan) {
        anyhow::bail!(
            "{}: fails its check ({} problems; `jinguo tour check` lists them); no calendar was written",
            schedule.display(),
            problems.len()
        );
    }
    let tour = tour_id.unwrap_or_else(|| {
        input
            .file_stem()
            .map_or("tour".into(), |s| s.to_string_lossy().into_owned())
    });
    // People read names; where the instance gives none, the code stands in.
    let names: std::collections::HashMap<&str, &str> = instance
        .villages
        .iter()
        .map(|v| (v.code.as_str(), v.name.as_str()))
        .chain(
            instance
                .lecturers
                .iter()
                .map(|l| (l.id.as_str(), l.name.as_str())),
        )
        .collect();
    let name = |code: &str| match names.get(code) {
        Some(name) if !name.is_empty() => (*name).to_owned(),
        _ => code.to_owned(),
    };
    plan.sessions
        .sort_by(|a, b| (a.date, a.start, &a.village).cmp(&(b.date, b.start, &b.village)));
    let mut talks_so_far: std::collections::HashMap<&str, u32> = Default::default();
    let mut by_lecturer: std::collections::BTreeMap<&str, Vec<Event>> = Default::default();
    for s in &plan.sessions {
        let nth = talks_so_far.entry(&s.village).or_default();
        *nth += 1;
        by_lecturer.entry(&s.lecturer).or_default().push(Event {
            uid: format!("{tour}-{}-{nth}@jinguo", s.village),
            sequence: 0,
            date: s.date,
            start: s.start,
            end: s.end,
            summary: format!("巡回宣讲：{}（{}）", instance.topic, name(&s.village)),
            location: name(&s.village),
            description: format!(
                "宣讲人：{}\n主题：{}\n{}–{}",
                name(&s.lecturer),
                instance.topic,
                s.start.format("%H:%M"),
                s.end.format("%H:%M")
            ),
        });
    }
    std::fs::create_dir_all(out).with_context(|| format!("making {}", out.display()))?;
    let stamp = chrono::Utc::now().naive_utc();
    for (lecturer, events) in by_lecturer {
        let path = out.join(format!("{lecturer}.ics"));
        std::fs::write(&path, calendar(Method::Publish, &events, stamp))
            .with_context(|| format!("writing {}", path.display()))?;
        outln!("{}: {} sessions", path.display(), events.len());
    }
    Ok(())
}

fn check_file(input: &Path, schedule: &Path) -> anyhow::Result<()> {
    let instance = read_instance(input)?;
    let schedule_data = read_schedule(schedule)?;
    match check(&instance, &schedule_data) {
        Ok(stats) => {
            outln!(
                "ok: {} of {} villages covered, {:.1} km, {}–{} sessions a lecturer",
                stats.covered,
                instance.villages.len(),
                stats.travel_km,
                stats.fewest_sessions,
                stats.most_sessions
            );
            Ok(())
        }
        Err(violations) => {
            for v in &violations {
                outln!("{}", v.0);
            }
            anyhow::bail!(
                "{}: {} problems (listed on stdout)",
                schedule.display(),
                violations.len()
            )
        }
    }
}

/// Progress on stderr: a bar redrawn in place on a terminal, a line now and then otherwise
/// (logs, CI).
struct ProgressBar {
    started: Instant,
    /// Share of the budget spent, 0 to 1.
    share: f64,
    villages: usize,
    covered: usize,
    km: f64,
    terminal: bool,
    drawn: Option<Instant>,
    /// When the search first had every village covered.
    all_covered_at: Option<Duration>,
}

impl ProgressBar {
    const WIDTH: usize = 24;

    fn new(started: Instant, villages: usize, terminal: bool) -> ProgressBar {
        ProgressBar {
            started,
            share: 0.0,
            villages,
            covered: 0,
            km: 0.0,
            terminal,
            drawn: None,
            all_covered_at: None,
        }
    }

    fn draw(&mut self, force: bool) {
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(500)
        };
        if !force && self.drawn.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        self.drawn = Some(Instant::now());
        let share = self.share.clamp(0.0, 1.0);
        let status = format!(
            "{:>3.0} %  {:.1} s  {}/{} villages  {:.1} km",
            share * 100.0,
            self.started.elapsed().as_secs_f64(),
            self.covered,
            self.villages,
            self.km
        );
        if self.terminal {
            let filled = (share * Self::WIDTH as f64).round() as usize;
            eprint!(
                "\r[{}{}] {status}\x1b[K",
                "#".repeat(filled),
                "-".repeat(Self::WIDTH - filled)
            );
        } else {
            eprintln!("solving: {status}");
        }
    }

    fn finish(&mut self) {
        self.draw(true);
        if self.terminal {
            eprintln!();
        }
    }
}

/// Generates an instance from the shipped org data: the villages of a real county, city or the
/// province (positions are the generated village coordinates), lecturers living at its township
/// seats, availability from the seed. For tests and benchmarks.
pub(crate) fn generate(
    county: &str,
    lecturers: usize,
    days: usize,
    seed: u64,
) -> anyhow::Result<Instance> {
    use jinguo_core::org::{OrgCode, OrgLevel};
    use jinguo_tours::{Lecturer, Village};
    let county = OrgCode::parse(county).map_err(|e| anyhow::anyhow!("--county: {e}"))?;
    anyhow::ensure!(
        county.level() <= OrgLevel::County,
        "--county: {county} is not a county, city or province"
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
    anyhow::ensure!(
        !towns.is_empty(),
        "--county: {county} has no township seats in the shipped data to house lecturers"
    );
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
                unavailable: Vec::new(),
                max_per_day: 2 + (next() % 2) as u32,
            }
        })
        .collect();
    Ok(Instance {
        villages,
        lecturers,
        days: all_days,
        period: None,
        day_start: chrono::NaiveTime::from_hms_opt(8, 30, 0).expect("a time"),
        day_end: chrono::NaiveTime::from_hms_opt(17, 30, 0).expect("a time"),
        session_minutes: 90,
        speed_kmh: 40.0,
        road_factor: 1.3,
        topic: "反家暴".into(),
        travel_matrix: None,
        fairness_slack: 0.0,
        start_step_minutes: 1,
    })
}
