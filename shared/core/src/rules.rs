//! Campaign rules with bounds: 公示 lengths, review deadlines and quotas.
//!
//! Guarantees: a [`PublicityLength`] is 1 minute to 90 days, or 1 to 60 working days; a
//! [`DeadlineRule`] is a date within five years of the day it is checked, or 1 to 60 working
//! days; a quota is 0 to 100,000. Parsing never panics and never wraps, whatever the input, and
//! every value inside the bounds can be added to any timestamp of this century without overflow.
//! A refusal names the rule: a Chinese sentence for people and an English code for machines.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Months, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::messaging::{saturating_number, split_duration};

/// Why a campaign rule was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// Not `3d`, `72h`, `30m`, `90s` or `3wd`.
    PublicityFormat,
    /// A duration outside 1 minute – 90 days.
    PublicityOutOfRange,
    /// Working days outside 1–60.
    PublicityWorkingDaysOutOfRange,
    /// Neither a date (`2027-03-31`) nor working days (`10wd`).
    DeadlineFormat,
    /// A date more than five years from today.
    DeadlineDateOutOfRange,
    /// Working days outside 1–60.
    DeadlineWorkingDaysOutOfRange,
    /// A quota above 100,000.
    QuotaOutOfRange,
}

impl RuleError {
    /// The Chinese sentence shown beside the field.
    pub fn message(&self) -> &'static str {
        match self {
            RuleError::PublicityFormat => "公示期应写作时长（如 3d、72h、30m）或工作日数（如 3wd）",
            RuleError::PublicityOutOfRange => "公示期应在1分钟到90天之间",
            RuleError::PublicityWorkingDaysOutOfRange => "公示期的工作日数应在1到60之间",
            RuleError::DeadlineFormat => "截止时间应写作日期（如 2027-03-31）或工作日数（如 10wd）",
            RuleError::DeadlineDateOutOfRange => "截止日期应在今天前后五年之内",
            RuleError::DeadlineWorkingDaysOutOfRange => "截止时间的工作日数应在1到60之间",
            RuleError::QuotaOutOfRange => "名额应在0到100000之间",
        }
    }

    /// A stable English code for JSON bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::PublicityFormat => "publicity_format",
            RuleError::PublicityOutOfRange => "publicity_out_of_range",
            RuleError::PublicityWorkingDaysOutOfRange => "publicity_working_days_out_of_range",
            RuleError::DeadlineFormat => "deadline_format",
            RuleError::DeadlineDateOutOfRange => "deadline_date_out_of_range",
            RuleError::DeadlineWorkingDaysOutOfRange => "deadline_working_days_out_of_range",
            RuleError::QuotaOutOfRange => "quota_out_of_range",
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for RuleError {}

/// The most working days a 公示 or a deadline may span.
pub const MAX_WORKING_DAYS: u32 = 60;

/// `"<digits>wd"` as a number of working days saturated at `u32::MAX`; `None` when not that shape.
fn working_days(s: &str) -> Option<u32> {
    let n = saturating_number(s.strip_suffix("wd")?)?;
    Some(u32::try_from(n).unwrap_or(u32::MAX))
}

/// A 公示 length: a duration (`3d`, `72h`, `30m`) or working days (`3wd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicityLength {
    Time(Duration),
    WorkingDays(u32),
}

impl PublicityLength {
    /// The shortest 公示 by time.
    pub const MIN_TIME: Duration = Duration::from_secs(60);
    /// The longest 公示 by time.
    pub const MAX_TIME: Duration = Duration::from_secs(90 * 86_400);

    /// Parses and bounds a length: 1 minute – 90 days, or 1–60 working days.
    pub fn parse(s: &str) -> Result<PublicityLength, RuleError> {
        Self::parse_with_floor(s, Self::MIN_TIME)
    }

    /// As [`PublicityLength::parse`], with `floor` (at least 1 ms, at most 90 days) as the
    /// shortest length by time instead of one minute: for test configurations whose 公示 lasts
    /// a second. Production passes nothing lower than [`PublicityLength::MIN_TIME`].
    pub fn parse_with_floor(s: &str, floor: Duration) -> Result<PublicityLength, RuleError> {
        let s = s.trim();
        let floor = floor.clamp(Duration::from_millis(1), Self::MAX_TIME);
        if let Some(n) = working_days(s) {
            return if (1..=MAX_WORKING_DAYS).contains(&n) {
                Ok(PublicityLength::WorkingDays(n))
            } else {
                Err(RuleError::PublicityWorkingDaysOutOfRange)
            };
        }
        let (n, unit_ms) = split_duration(s).ok_or(RuleError::PublicityFormat)?;
        n.checked_mul(unit_ms)
            .map(Duration::from_millis)
            .filter(|d| (floor..=Self::MAX_TIME).contains(d))
            .map(PublicityLength::Time)
            .ok_or(RuleError::PublicityOutOfRange)
    }

    /// When a 公示 that starts at `now` ends. `working_days_end` answers for a length in working
    /// days (the calendar lives with the caller); a length by time is added with checked
    /// arithmetic. `None` only if the result is not representable.
    pub fn ends_at(
        &self,
        now: DateTime<Utc>,
        working_days_end: impl FnOnce(u32) -> Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        match *self {
            PublicityLength::Time(d) => now.checked_add_signed(TimeDelta::from_std(d).ok()?),
            PublicityLength::WorkingDays(n) => working_days_end(n),
        }
    }
}

/// When a level must have decided: a fixed date, or a number of working days from when the
/// level opens. Serialised as `{"date":"2027-03-31"}` or `{"working_days":10}`, the shape of the
/// campaign rules stored today; check it with [`DeadlineRule::check`] when a campaign is
/// created, because deserialising cannot know today's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineRule {
    Date(NaiveDate),
    WorkingDays(u32),
}

impl DeadlineRule {
    /// How far from today a fixed deadline may lie, either way.
    pub const MAX_YEARS: u32 = 5;

    /// Parses `2027-03-31` or `10wd` and checks it against `today`.
    pub fn parse(s: &str, today: NaiveDate) -> Result<DeadlineRule, RuleError> {
        let s = s.trim();
        let rule = if let Some(n) = working_days(s) {
            DeadlineRule::WorkingDays(n)
        } else {
            let date =
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| RuleError::DeadlineFormat)?;
            DeadlineRule::Date(date)
        };
        rule.check(today)?;
        Ok(rule)
    }

    /// A date no more than five years before or after `today` (a campaign may be recorded after
    /// the fact), or 1–60 working days.
    pub fn check(&self, today: NaiveDate) -> Result<(), RuleError> {
        match *self {
            DeadlineRule::Date(d) => {
                let months = Months::new(12 * Self::MAX_YEARS);
                let earliest = today.checked_sub_months(months).unwrap_or(NaiveDate::MIN);
                let latest = today.checked_add_months(months).unwrap_or(NaiveDate::MAX);
                if (earliest..=latest).contains(&d) {
                    Ok(())
                } else {
                    Err(RuleError::DeadlineDateOutOfRange)
                }
            }
            DeadlineRule::WorkingDays(n) if (1..=MAX_WORKING_DAYS).contains(&n) => Ok(()),
            DeadlineRule::WorkingDays(_) => Err(RuleError::DeadlineWorkingDaysOutOfRange),
        }
    }

    /// The due date for a level opening `today`: the fixed date, or `add_working_days(today, n)`
    /// (the calendar's). `None` for working days outside 1–60, so that a rule stored before the
    /// bounds existed is never handed to the calendar.
    pub fn due_date(
        &self,
        today: NaiveDate,
        add_working_days: impl FnOnce(NaiveDate, u32) -> NaiveDate,
    ) -> Option<NaiveDate> {
        match *self {
            DeadlineRule::Date(d) => Some(d),
            DeadlineRule::WorkingDays(n) if (1..=MAX_WORKING_DAYS).contains(&n) => {
                Some(add_working_days(today, n))
            }
            DeadlineRule::WorkingDays(_) => None,
        }
    }
}

/// The largest quota a level may have (0 means no limit).
pub const MAX_QUOTA: u32 = 100_000;

/// A quota of 0 (no limit) to 100,000.
pub fn check_quota(n: u32) -> Result<u32, RuleError> {
    if n <= MAX_QUOTA {
        Ok(n)
    } else {
        Err(RuleError::QuotaOutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    #[test]
    fn publicity_lengths_are_bounded_durations_or_working_days() {
        assert_eq!(
            PublicityLength::parse("3d"),
            Ok(PublicityLength::Time(Duration::from_secs(3 * 86_400)))
        );
        assert_eq!(
            PublicityLength::parse(" 72h "),
            Ok(PublicityLength::Time(Duration::from_secs(72 * 3_600)))
        );
        assert_eq!(
            PublicityLength::parse("3wd"),
            Ok(PublicityLength::WorkingDays(3))
        );
        assert_eq!(
            PublicityLength::parse("90d"),
            Ok(PublicityLength::Time(PublicityLength::MAX_TIME))
        );
        assert_eq!(
            PublicityLength::parse("91d"),
            Err(RuleError::PublicityOutOfRange)
        );
        assert_eq!(
            PublicityLength::parse("2s"),
            Err(RuleError::PublicityOutOfRange)
        );
        assert_eq!(
            PublicityLength::parse_with_floor("2s", Duration::from_secs(1)),
            Ok(PublicityLength::Time(Duration::from_secs(2)))
        );
        assert_eq!(
            PublicityLength::parse_with_floor("0s", Duration::ZERO),
            Err(RuleError::PublicityOutOfRange)
        );
        assert_eq!(
            PublicityLength::parse("9999999999d"),
            Err(RuleError::PublicityOutOfRange)
        );
        assert_eq!(
            PublicityLength::parse("213503982334602d"),
            Err(RuleError::PublicityOutOfRange)
        );
        assert_eq!(
            PublicityLength::parse("61wd"),
            Err(RuleError::PublicityWorkingDaysOutOfRange)
        );
        assert_eq!(
            PublicityLength::parse("0wd"),
            Err(RuleError::PublicityWorkingDaysOutOfRange)
        );
        assert_eq!(
            PublicityLength::parse("4294967295wd"),
            Err(RuleError::PublicityWorkingDaysOutOfRange)
        );
        for bad in ["xwd", "three days", "", "-3d", "3 wd", "wd"] {
            assert_eq!(
                PublicityLength::parse(bad),
                Err(RuleError::PublicityFormat),
                "{bad:?}"
            );
        }
        assert_eq!(
            RuleError::PublicityOutOfRange.message(),
            "公示期应在1分钟到90天之间"
        );
    }

    #[test]
    fn publicity_end_uses_checked_arithmetic() {
        let now = DateTime::<Utc>::MAX_UTC;
        let length = PublicityLength::parse("1d").unwrap();
        assert_eq!(length.ends_at(now, |_| None), None);
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            length.ends_at(now, |_| None),
            Some("2026-12-02T00:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn deadlines_are_dates_within_five_years_or_up_to_sixty_working_days() {
        assert_eq!(
            DeadlineRule::parse("2027-03-31", today()),
            Ok(DeadlineRule::Date(
                NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()
            ))
        );
        assert_eq!(
            DeadlineRule::parse("10wd", today()),
            Ok(DeadlineRule::WorkingDays(10))
        );
        assert!(DeadlineRule::parse("2031-12-01", today()).is_ok());
        assert_eq!(
            DeadlineRule::parse("2031-12-02", today()),
            Err(RuleError::DeadlineDateOutOfRange)
        );
        assert_eq!(
            DeadlineRule::parse("1900-01-01", today()),
            Err(RuleError::DeadlineDateOutOfRange)
        );
        assert_eq!(
            DeadlineRule::WorkingDays(4_294_967_295).check(today()),
            Err(RuleError::DeadlineWorkingDaysOutOfRange)
        );
        assert_eq!(
            DeadlineRule::WorkingDays(4_294_967_295).due_date(today(), |_, _| unreachable!()),
            None
        );
        assert_eq!(
            DeadlineRule::parse("soon", today()),
            Err(RuleError::DeadlineFormat)
        );
    }

    #[test]
    fn deadlines_keep_the_stored_json_shape() {
        let d: DeadlineRule = serde_json::from_str(r#"{"working_days":3}"#).unwrap();
        assert_eq!(d, DeadlineRule::WorkingDays(3));
        let d: DeadlineRule = serde_json::from_str(r#"{"date":"2027-01-15"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"date":"2027-01-15"}"#
        );
    }

    #[test]
    fn quotas_are_bounded() {
        assert_eq!(check_quota(0), Ok(0));
        assert_eq!(check_quota(100_000), Ok(100_000));
        assert_eq!(check_quota(100_001), Err(RuleError::QuotaOutOfRange));
    }

    fn extreme() -> impl Strategy<Value = String> {
        let unit = prop_oneof![
            Just(""),
            Just("ms"),
            Just("s"),
            Just("m"),
            Just("h"),
            Just("d"),
            Just("wd"),
            Just("y")
        ];
        prop_oneof![
            any::<String>(),
            (any::<u64>(), unit.clone()).prop_map(|(n, u)| format!("{n}{u}")),
            (any::<i64>(), unit.clone()).prop_map(|(n, u)| format!("{n}{u}")),
            ("[0-9]{15,60}", unit.clone()).prop_map(|(n, u)| format!("{n}{u}")),
            (".{0,3}", "[0-9０-９]{1,25}", unit).prop_map(|(p, n, u)| format!("{p}{n}{u}")),
            Just(format!("{}d", u64::MAX)),
            Just(format!("{}wd", u64::MAX)),
            Just("+262143-12-31".to_owned()),
            Just("-262143-01-01".to_owned()),
        ]
    }

    proptest! {
        #[test]
        fn publicity_length_never_panics_and_stays_in_bounds(s in extreme()) {
            match PublicityLength::parse(&s) {
                Ok(PublicityLength::Time(d)) => {
                    prop_assert!((PublicityLength::MIN_TIME..=PublicityLength::MAX_TIME).contains(&d));
                }
                Ok(PublicityLength::WorkingDays(n)) => prop_assert!((1..=60).contains(&n)),
                Err(_) => {}
            }
        }

        #[test]
        fn deadline_rule_never_panics_and_stays_in_bounds(
            s in extreme(),
            days_from_epoch in -100_000i64..100_000,
        ) {
            let today = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
                + TimeDelta::days(days_from_epoch);
            match DeadlineRule::parse(&s, today) {
                Ok(DeadlineRule::Date(d)) => {
                    prop_assert!((d - today).num_days().abs() <= 5 * 366);
                }
                Ok(DeadlineRule::WorkingDays(n)) => prop_assert!((1..=60).contains(&n)),
                Err(_) => {}
            }
        }

        #[test]
        fn deadline_check_never_panics_at_the_ends_of_time(
            n in any::<u32>(),
            extreme_today in prop_oneof![Just(NaiveDate::MIN), Just(NaiveDate::MAX)],
        ) {
            let _ = DeadlineRule::WorkingDays(n).check(extreme_today);
            let _ = DeadlineRule::Date(NaiveDate::MAX).check(extreme_today);
            let _ = DeadlineRule::Date(NaiveDate::MIN).check(today());
        }
    }
}
