//! What the program needs from configuration, loaded once: the policy, the sealer, the
//! household key, where links point, the calendar for working-day clocks.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jinguo_auth::seal::Sealer;
use jinguo_core::calendar::{Calendar, OfficeHours};
use jinguo_core::org::OrgCode;

use crate::rules::{ClockKind, Policy};

#[derive(Debug, Clone)]
pub struct Settings {
    pub public_url: String,
    pub link_valid_for: chrono::Duration,
    pub household_key: String,
    pub sealer: Arc<Sealer>,
    pub policy: Arc<Policy>,
    pub calendar: Arc<Calendar>,
    pub time_zone: chrono_tz::Tz,
    pub office_hours: OfficeHours,
    /// How long emergency access to a case lasts.
    pub break_glass_for: chrono::Duration,
}

impl Settings {
    /// From configuration, with the calendar and sealer the caller loaded once.
    pub fn from_config(
        config: &jinguo_config::Config,
        calendar: Arc<Calendar>,
        sealer: Arc<Sealer>,
    ) -> Result<Settings, jinguo_config::ConfigError> {
        let policy = Policy::from_config(config).map_err(|e| jinguo_config::ConfigError {
            key: "referrals".into(),
            origin: jinguo_config::Origin::Defaults,
            problem: e.to_string(),
        })?;
        Ok(Settings {
            public_url: config.http.public_url.clone(),
            link_valid_for: chrono::Duration::from_std(config.referrals.link_valid_for)
                .unwrap_or(chrono::Duration::days(3)),
            household_key: config.nominations.household_key.clone(),
            sealer,
            policy: Arc::new(policy),
            calendar,
            time_zone: config.calendar.time_zone,
            office_hours: config.calendar.office_hours,
            break_glass_for: chrono::Duration::from_std(config.auth.break_glass)
                .unwrap_or(chrono::Duration::minutes(30)),
        })
    }

    /// `from` plus `duration` on `clock`: wall time, or office hours on working days in `unit`.
    pub fn after(
        &self,
        clock: ClockKind,
        from: DateTime<Utc>,
        duration: std::time::Duration,
        unit: OrgCode,
    ) -> DateTime<Utc> {
        let d = chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::days(400));
        match clock {
            ClockKind::Wall => from + d,
            ClockKind::Working => {
                let local = from.with_timezone(&self.time_zone).naive_local();
                let at = self
                    .calendar
                    .add_working_time(local, d, &self.office_hours, Some(&unit));
                at.and_local_timezone(self.time_zone)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(from + d)
            }
        }
    }

    /// A time in words for people: "2026年12月1日 17:30".
    pub fn in_words(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.time_zone)
            .format("%Y年%-m月%-d日 %H:%M")
            .to_string()
    }

    /// The link of a case's page.
    pub fn case_url(&self, referral: uuid::Uuid) -> String {
        format!("{}/referrals/{referral}", self.public_url)
    }
}
