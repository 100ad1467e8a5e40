//! The Chinese working-day calendar: weekends, public holidays and make-up working days (调休),
//! one data file a year, plus overlays of extra local holidays for org subtrees.
//!
//! A year without data falls back to weekends only ([`Calendar::missing_years`] says which, so
//! start-up can warn).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::Deserialize;

use crate::org::OrgCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("calendar {source_name}: {problem}")]
pub struct CalendarError {
    pub source_name: String,
    pub problem: String,
}

#[derive(Debug, Clone, Default)]
struct YearDays {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

/// Extra days off for an org unit and everything below it.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub org: OrgCode,
    pub name: String,
    pub holidays: BTreeSet<NaiveDate>,
}

/// Office hours on a working day, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficeHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
}

impl OfficeHours {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(s: &str) -> Result<OfficeHours, String> {
        let (open, close) = s
            .split_once('-')
            .ok_or("office hours look like 09:00-17:30")?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| format!("{t:?} is not HH:MM"))
        };
        let (open, close) = (time(open)?, time(close)?);
        if open >= close {
            return Err("office hours must open before they close".into());
        }
        Ok(OfficeHours { open, close })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    workdays: Vec<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverlayFile {
    #[serde(default)]
    overlay: Vec<OverlayEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverlayEntry {
    org: String,
    name: String,
    holidays: Vec<NaiveDate>,
}

/// Which days are working days, nationally and in each org subtree.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, YearDays>,
    overlays: Vec<Overlay>,
}

impl Calendar {
    /// Adds a year file (`year`, `holidays`, `workdays`); a later file for the same year
    /// replaces an earlier one (an operator's override of the compiled-in data).
    pub fn add_year(&mut self, source_name: &str, text: &str) -> Result<i32, CalendarError> {
        let err = |problem: String| CalendarError {
            source_name: source_name.to_owned(),
            problem,
        };
        let file: YearFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for d in file.holidays.iter().chain(&file.workdays) {
            if d.year() != file.year {
                return Err(err(format!("{d} is not in {}", file.year)));
            }
        }
        let holidays: BTreeSet<NaiveDate> = file.holidays.into_iter().collect();
        let workdays: BTreeSet<NaiveDate> = file.workdays.into_iter().collect();
        if let Some(d) = holidays.intersection(&workdays).next() {
            return Err(err(format!(
                "{d} is listed both as a holiday and as a working day"
            )));
        }
        self.years
            .insert(file.year, YearDays { holidays, workdays });
        Ok(file.year)
    }

    /// Adds the `[[overlay]]` entries of an overlay file.
    pub fn add_overlays(&mut self, source_name: &str, text: &str) -> Result<(), CalendarError> {
        let err = |problem: String| CalendarError {
            source_name: source_name.to_owned(),
            problem,
        };
        let file: OverlayFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for entry in file.overlay {
            let org =
                OrgCode::parse(&entry.org).map_err(|e| err(format!("org {:?}: {e}", entry.org)))?;
            self.overlays.push(Overlay {
                org,
                name: entry.name,
                holidays: entry.holidays.into_iter().collect(),
            });
        }
        Ok(())
    }

    /// Years in `from..=to` with no data: those fall back to weekends only.
    pub fn missing_years(&self, from: i32, to: i32) -> Vec<i32> {
        (from..=to)
            .filter(|y| !self.years.contains_key(y))
            .collect()
    }

    /// Whether `date` is a working day, nationally (`org` `None`) or for `org`'s subtree.
    pub fn is_working_day(&self, date: NaiveDate, org: Option<&OrgCode>) -> bool {
        if let Some(org) = org
            && self
                .overlays
                .iter()
                .any(|o| org.is_within(&o.org) && o.holidays.contains(&date))
        {
            return false;
        }
        if let Some(year) = self.years.get(&date.year()) {
            if year.workdays.contains(&date) {
                return true;
            }
            if year.holidays.contains(&date) {
                return false;
            }
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// Whether `date` is a listed day off (a public holiday, nationally or for `org`'s subtree),
    /// as opposed to an ordinary weekend: a tour that allows weekend talks still skips these.
    pub fn is_holiday(&self, date: NaiveDate, org: Option<&OrgCode>) -> bool {
        let local = org.is_some_and(|org| {
            self.overlays
                .iter()
                .any(|o| org.is_within(&o.org) && o.holidays.contains(&date))
        });
        local
            || self
                .years
                .get(&date.year())
                .is_some_and(|y| y.holidays.contains(&date))
    }

    /// The `n`-th working day after `date` (`n` = 0: `date` itself).
    pub fn add_working_days(&self, date: NaiveDate, n: u32, org: Option<&OrgCode>) -> NaiveDate {
        let mut day = date;
        let mut left = n;
        while left > 0 {
            day = day + Days::new(1);
            if self.is_working_day(day, org) {
                left -= 1;
            }
        }
        day
    }

    /// The last working day before `date` (a reminder the working day before a talk). Looks
    /// back at most a year, then gives the day before.
    pub fn previous_working_day(&self, date: NaiveDate, org: Option<&OrgCode>) -> NaiveDate {
        let before = date.pred_opt().unwrap_or(date);
        let mut day = before;
        for _ in 0..366 {
            if self.is_working_day(day, org) {
                return day;
            }
            day = day.pred_opt().unwrap_or(day);
        }
        before
    }

    /// `t` itself when it falls in office hours on a working day, else the next opening time.
    pub fn next_working_time(
        &self,
        t: NaiveDateTime,
        hours: &OfficeHours,
        org: Option<&OrgCode>,
    ) -> NaiveDateTime {
        let (date, time) = (t.date(), t.time());
        if self.is_working_day(date, org) {
            if time < hours.open {
                return date.and_time(hours.open);
            }
            if time < hours.close {
                return t;
            }
        }
        let mut next = date + Days::new(1);
        while !self.is_working_day(next, org) {
            next = next + Days::new(1);
        }
        next.and_time(hours.open)
    }

    /// `t` plus `duration` of working time: the clock runs only inside office hours on working
    /// days (an escalation on a working-day clock). Local times in, local time out.
    pub fn add_working_time(
        &self,
        t: NaiveDateTime,
        duration: chrono::Duration,
        hours: &OfficeHours,
        org: Option<&OrgCode>,
    ) -> NaiveDateTime {
        let mut at = self.next_working_time(t, hours, org);
        let mut left = duration.max(chrono::Duration::zero());
        loop {
            let close = at.date().and_time(hours.close);
            let today = close - at;
            if left <= today {
                return at + left;
            }
            left -= today;
            at = self.next_working_time(close, hours, org);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The expected dates are written out in each assertion from the State Council's notice, not
    // derived from config/calendar/2026.toml, so a mistake in the data file fails these tests.
    const OFFICIAL_2026: &str = include_str!("../../../config/calendar/2026.toml");

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cal() -> Calendar {
        let mut c = Calendar::default();
        c.add_year("2026.toml", OFFICIAL_2026).unwrap();
        c
    }

    #[test]
    fn working_time_runs_only_in_office_hours_on_working_days() {
        let c = cal();
        let hours = OfficeHours::parse("09:00-17:00").unwrap();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let h = chrono::Duration::hours;
        // Friday 2026-12-04 16:00 + 2 h: one hour on Friday, one on Monday.
        assert_eq!(
            c.add_working_time(at("2026-12-04 16:00"), h(2), &hours, None),
            at("2026-12-07 10:00")
        );
        // Saturday night starts on Monday's opening.
        assert_eq!(
            c.add_working_time(at("2026-12-05 23:00"), h(1), &hours, None),
            at("2026-12-07 10:00")
        );
        // A whole office day ends at the close, not the next opening.
        assert_eq!(
            c.add_working_time(at("2026-12-07 09:00"), h(8), &hours, None),
            at("2026-12-07 17:00")
        );
    }

    #[test]
    fn spring_festival_2026_counts_the_make_up_saturdays() {
        let c = cal();
        // Friday 13 Feb 2026: one working day later is the make-up Saturday 14 Feb ...
        assert_eq!(
            c.add_working_days(d("2026-02-13"), 1, None),
            d("2026-02-14")
        );
        // ... and two later is Tuesday 24 Feb, after the holiday of 15–23 Feb.
        assert_eq!(
            c.add_working_days(d("2026-02-13"), 2, None),
            d("2026-02-24")
        );
        assert!(
            c.is_working_day(d("2026-02-28"), None),
            "Saturday 28 Feb 2026 is a make-up day"
        );
        for day in 15..=23 {
            assert!(!c.is_working_day(NaiveDate::from_ymd_opt(2026, 2, day).unwrap(), None));
        }
        // Looking back: the working day before Tuesday 24 Feb is Saturday 14 Feb, and before
        // the make-up Saturday it is Friday 13 Feb.
        assert_eq!(
            c.previous_working_day(d("2026-02-24"), None),
            d("2026-02-14")
        );
        assert_eq!(
            c.previous_working_day(d("2026-02-14"), None),
            d("2026-02-13")
        );
    }

    #[test]
    fn the_other_2026_holidays_and_make_up_days() {
        let c = cal();
        for off in [
            "2026-01-01",
            "2026-01-02",
            "2026-04-06",
            "2026-05-05",
            "2026-06-19",
            "2026-09-25",
            "2026-10-07",
        ] {
            assert!(!c.is_working_day(d(off), None), "{off} is a holiday");
        }
        for on in ["2026-01-04", "2026-05-09", "2026-09-20", "2026-10-10"] {
            assert!(
                c.is_working_day(d(on), None),
                "{on} is a make-up working day"
            );
        }
        assert!(c.is_working_day(d("2026-10-08"), None));
        assert!(
            !c.is_working_day(d("2026-11-28"), None),
            "an ordinary Saturday"
        );
    }

    #[test]
    fn a_year_without_data_falls_back_to_weekends() {
        let c = cal();
        assert_eq!(c.missing_years(2026, 2028), [2027, 2028]);
        assert!(
            c.is_working_day(d("2027-10-01"), None),
            "no 2027 data: a Friday is a working day"
        );
        assert!(!c.is_working_day(d("2027-10-02"), None));
    }

    #[test]
    fn overlays_add_local_holidays_to_a_subtree_only() {
        let mut c = cal();
        c.add_overlays(
            "overlays.toml",
            "[[overlay]]\norg = \"622900000000\"\nname = \"开斋节\"\nholidays = [\"2026-03-20\"]\n",
        )
        .unwrap();
        let linxia_village = OrgCode::parse("622921100201").unwrap();
        let lanzhou = OrgCode::parse("620102").unwrap();
        assert!(!c.is_working_day(d("2026-03-20"), Some(&linxia_village)));
        assert!(c.is_working_day(d("2026-03-20"), Some(&lanzhou)));
        assert!(c.is_working_day(d("2026-03-20"), None));
        assert_eq!(
            c.add_working_days(d("2026-03-19"), 1, Some(&linxia_village)),
            d("2026-03-23")
        );
    }

    #[test]
    fn next_working_time_respects_office_hours() {
        let c = cal();
        let hours = OfficeHours::parse("09:00-17:30").unwrap();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(
            c.next_working_time(at("2026-02-13 10:00"), &hours, None),
            at("2026-02-13 10:00")
        );
        assert_eq!(
            c.next_working_time(at("2026-02-13 07:15"), &hours, None),
            at("2026-02-13 09:00")
        );
        assert_eq!(
            c.next_working_time(at("2026-02-13 18:00"), &hours, None),
            at("2026-02-14 09:00")
        );
        assert_eq!(
            c.next_working_time(at("2026-02-14 17:45"), &hours, None),
            at("2026-02-24 09:00")
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let mut c = Calendar::default();
        let e = c
            .add_year("x.toml", "year = 2026\nholidays = [\"2025-12-31\"]\n")
            .unwrap_err();
        assert!(e.problem.contains("not in 2026"), "{e}");
        let e = c
            .add_year(
                "x.toml",
                "year = 2026\nholidays = [\"2026-01-01\"]\nworkdays = [\"2026-01-01\"]\n",
            )
            .unwrap_err();
        assert!(e.problem.contains("both"), "{e}");
        assert!(
            c.add_year("x.toml", "year = 2026\nholiday = []\n").is_err(),
            "unknown field"
        );
        assert!(OfficeHours::parse("17:00-09:00").is_err());
    }
}
