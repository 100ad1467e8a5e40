//! What the program needs from configuration: where links point and how long they work, the
//! household key, the sealer of personal data, the calendar.

use chrono::{DateTime, Duration, Utc};
use jinguo_auth::seal::Sealer;
use jinguo_core::org::OrgCode;
use jinguo_core::rules::{PublicityLength, RuleError};

use crate::rules::Deadline;

/// What the program needs from configuration: where links point and how long they work, the
/// household key, and the working-day calendar for deadlines.
#[derive(Debug, Clone)]
pub struct Links {
    pub public_url: String,
    pub valid_for: Duration,
    pub household_key: String,
    /// Seals the family's phone at rest (opened only for the review page).
    pub sealer: std::sync::Arc<Sealer>,
    /// The shortest 公示 by time a campaign may set (one minute; seconds in tests).
    pub shortest_publicity: std::time::Duration,
    pub calendar: std::sync::Arc<jinguo_core::calendar::Calendar>,
    pub time_zone: chrono_tz::Tz,
    pub office_hours: jinguo_core::calendar::OfficeHours,
}

impl Links {
    /// When a level opened at `now` in `unit` is due, by the campaign's deadline.
    pub fn due(
        &self,
        deadline: &Deadline,
        unit: OrgCode,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&self.time_zone).date_naive();
        let date = deadline.due_date(today, |d, n| {
            self.calendar.add_working_days(d, n, Some(&unit))
        })?;
        date.and_time(self.office_hours.close)
            .and_local_timezone(self.time_zone)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// A 公示 length as campaigns may set it: 1 minute (or the configured shortest) to 90
    /// days, or 1–60 working days.
    pub fn publicity_length(&self, s: &str) -> Result<PublicityLength, RuleError> {
        PublicityLength::parse_with_floor(s, self.shortest_publicity)
    }

    /// A due time in words for people: "2026年12月1日（周二）17:30".
    pub fn in_words(&self, t: DateTime<Utc>) -> String {
        use chrono::Datelike;
        let local = t.with_timezone(&self.time_zone);
        let weekday = ["一", "二", "三", "四", "五", "六", "日"]
            [local.weekday().num_days_from_monday() as usize];
        format!(
            "{}年{}月{}日（周{weekday}）{}",
            local.year(),
            local.month(),
            local.day(),
            local.format("%H:%M")
        )
    }
}

/// The sealer of personal data at rest, from configuration (`crypto.*`); built once at start.
pub use jinguo_auth::seal::sealer_from;

/// Links from configuration, with the calendar and the sealer made once by the caller.
pub fn links_from(
    config: &jinguo_config::Config,
    calendar: std::sync::Arc<jinguo_core::calendar::Calendar>,
    sealer: std::sync::Arc<Sealer>,
) -> Links {
    Links {
        public_url: config.http.public_url.clone(),
        valid_for: Duration::days(i64::from(config.nominations.review_link_days)),
        household_key: config.nominations.household_key.clone(),
        sealer,
        shortest_publicity: config.nominations.shortest_publicity,
        calendar,
        time_zone: config.calendar.time_zone,
        office_hours: config.calendar.office_hours,
    }
}
