//! Cron jobs: 6-field expressions (seconds first) evaluated in a time zone. Which ticks are due is
//! pure; firing each tick exactly once across replicas is the store's unique (job, tick) row.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A job from configuration.
#[derive(Debug, Clone)]
pub struct CronJob {
    pub name: String,
    pub expression: String,
    pub schedule: cron::Schedule,
    /// The message kind each tick sends.
    pub kind: String,
    /// Fire only on working days of the calendar ("daily, on working days").
    pub working_days_only: bool,
    pub enabled: bool,
}

/// What start-up does with ticks missed while nothing ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissedTicks {
    /// Fire the latest missed tick, once.
    Once,
    /// Drop them.
    Skip,
}

/// Parses a 6-field expression (`sec min hour day-of-month month day-of-week`). Day-of-week
/// must use names (`Mon-Fri`): the `cron` crate numbers Sun=1…Sat=7, unlike Unix cron, so a
/// number there is a likely mistake and is refused.
pub fn parse_schedule(expression: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "{expression:?} must have 6 fields: sec min hour day-of-month month day-of-week"
        ));
    }
    if fields[5].chars().any(|c| c.is_ascii_digit()) {
        return Err(format!(
            "{expression:?}: write days of the week as names (Mon-Fri), not numbers"
        ));
    }
    cron::Schedule::from_str(expression).map_err(|e| format!("{expression:?}: {e}"))
}

/// Ticks in `(after, until]`, oldest first, at most `limit`.
pub fn ticks_between(
    schedule: &cron::Schedule,
    tz: Tz,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&tz))
        .map(|t| t.with_timezone(&Utc))
        .take_while(|t| *t <= until)
        .take(limit)
        .collect()
}

/// The tick to fire at start, if any: with [`MissedTicks::Once`] the latest tick after the last
/// one fired and up to `now`. A job never fired before has missed nothing.
pub fn catch_up(
    schedule: &cron::Schedule,
    tz: Tz,
    last_fired: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: MissedTicks,
) -> Option<DateTime<Utc>> {
    let last = last_fired?;
    if policy == MissedTicks::Skip {
        return None;
    }
    // The latest tick ≤ now: walk back from now in growing windows rather than forward from a
    // possibly years-old `last`.
    let mut window = chrono::Duration::hours(1);
    loop {
        let from = (now - window).max(last);
        if let Some(t) = ticks_between(schedule, tz, from, now, usize::MAX).last() {
            return Some(*t);
        }
        if from == last {
            return None;
        }
        window = window * 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekday_numbers_are_refused_names_accepted() {
        assert!(parse_schedule("0 0 9 * * Mon-Fri").is_ok());
        let e = parse_schedule("0 0 9 * * 2-6").unwrap_err();
        assert!(e.contains("names"), "{e}");
        assert!(
            parse_schedule("0 9 * * *")
                .unwrap_err()
                .contains("6 fields")
        );
        assert!(parse_schedule("0 0 25 * * *").is_err());
    }

    #[test]
    fn ticks_follow_the_time_zone() {
        // 08:00 in Shanghai is 00:00 UTC.
        let s = parse_schedule("0 0 8 * * *").unwrap();
        let ticks = ticks_between(
            &s,
            chrono_tz::Asia::Shanghai,
            at("2026-11-27T12:00:00Z"),
            at("2026-11-29T12:00:00Z"),
            10,
        );
        assert_eq!(
            ticks,
            [at("2026-11-28T00:00:00Z"), at("2026-11-29T00:00:00Z")]
        );
    }

    #[test]
    fn missed_ticks_fire_once_or_not_at_all() {
        let hourly = parse_schedule("0 0 * * * *").unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        let last = Some(at("2026-11-28T01:00:00Z"));
        let now = at("2026-11-28T05:30:00Z");
        assert_eq!(
            catch_up(&hourly, tz, last, now, MissedTicks::Once),
            Some(at("2026-11-28T05:00:00Z"))
        );
        assert_eq!(catch_up(&hourly, tz, last, now, MissedTicks::Skip), None);
        assert_eq!(
            catch_up(&hourly, tz, None, now, MissedTicks::Once),
            None,
            "never fired: nothing missed"
        );
        let just_fired = Some(at("2026-11-28T05:00:00Z"));
        assert_eq!(
            catch_up(&hourly, tz, just_fired, now, MissedTicks::Once),
            None
        );
        // Weekly job last fired a month ago: the latest missed tick only.
        let weekly = parse_schedule("0 0 8 * * Mon").unwrap();
        let t = catch_up(
            &weekly,
            tz,
            Some(at("2026-10-26T00:00:00Z")),
            now,
            MissedTicks::Once,
        );
        assert_eq!(t, Some(at("2026-11-23T00:00:00Z")));
    }
}
