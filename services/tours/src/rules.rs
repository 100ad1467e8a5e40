//! What a tour asks for and the bounds every entry point keeps, and the program's settings.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime};
use jinguo_core::calendar::Calendar;
use jinguo_core::org::OrgCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::refusal::{Refusal, invalid};

/// The topics a volunteer may give and a tour may ask for (百千万巾帼大宣讲).
pub const TOPICS: &[&str] = &[
    "家风家教",
    "政策宣讲",
    "法律宣传",
    "反家庭暴力法",
    "妇女权益保障法",
    "科学育儿",
    "健康知识",
];

/// Where a village hosts a talk.
pub const VENUES: &[&str] = &["妇女之家", "新时代文明实践站"];

pub const MAX_PER_DAY: u32 = 6;
pub const SESSION_MINUTES: (u32, u32) = (15, 240);
pub const SESSIONS_PER_VILLAGE: u32 = 10;
pub const MAX_CAPACITY: u32 = 5_000;
/// A tour runs at most a year.
pub const MAX_TOUR_DAYS: i64 = 366;
pub const MAX_NAME_CHARS: usize = 40;
pub const MAX_NOTE_CHARS: usize = 500;
/// More women than this at one talk is a typo.
pub const MAX_ATTENDANCE: u32 = 5_000;

/// What the coordinator asked for; stored with the tour, read only by this program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TourSpec {
    /// Empty: the whole county.
    pub townships: Vec<OrgCode>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub weekends: bool,
    pub topic: String,
    pub session_minutes: u32,
    pub sessions_per_village: u32,
    pub day_start: NaiveTime,
    pub day_end: NaiveTime,
}

/// A lecturer, a day, or a lecturer on a day taken out of a published tour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub volunteer: Option<Uuid>,
    pub day: Option<NaiveDate>,
}

impl Removal {
    /// Whether this removal takes `volunteer` out on `day`.
    pub fn covers(&self, volunteer: Uuid, day: NaiveDate) -> bool {
        self.volunteer.is_none_or(|v| v == volunteer) && self.day.is_none_or(|d| d == day)
    }
}

pub(crate) fn topic(field: &'static str, raw: &str) -> Result<String, Refusal> {
    let t = raw.trim();
    if TOPICS.contains(&t) {
        Ok(t.to_owned())
    } else {
        Err(invalid(
            field,
            format!("“{t}”不是可选的宣讲主题（{}）", TOPICS.join("、")),
        ))
    }
}

/// A person's or tour's name: trimmed, not empty, not too long.
pub(crate) fn name(field: &'static str, raw: &str) -> Result<String, Refusal> {
    let n = raw.trim();
    if n.is_empty() {
        return Err(invalid(field, "请填写名称"));
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(field, format!("不能超过 {MAX_NAME_CHARS} 个字")));
    }
    if n.chars().any(char::is_control) {
        return Err(invalid(field, "含有不可见字符"));
    }
    Ok(n.to_owned())
}

pub(crate) fn within(
    field: &'static str,
    value: u32,
    (lo, hi): (u32, u32),
) -> Result<u32, Refusal> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(field, format!("应在 {lo} 到 {hi} 之间")))
    }
}

/// A free-text note: trimmed, bounded.
pub(crate) fn note(field: &'static str, raw: &str) -> Result<String, Refusal> {
    let n = raw.trim();
    if n.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid(field, format!("不能超过 {MAX_NOTE_CHARS} 个字")));
    }
    Ok(n.to_owned())
}

/// The program's settings, read once from the configuration.
#[derive(Clone)]
pub struct Settings {
    pub public_url: String,
    pub link_valid_for: chrono::Duration,
    pub plan_time_limit: std::time::Duration,
    pub calendar: Arc<Calendar>,
    pub time_zone: chrono_tz::Tz,
    /// Reminders go out when offices open on the working day before a talk.
    pub office_opens: NaiveTime,
}

impl Settings {
    pub fn from_config(
        config: &jinguo_config::Config,
        calendar: Arc<Calendar>,
    ) -> Result<Settings, jinguo_config::ConfigError> {
        Ok(Settings {
            public_url: config.http.public_url.clone(),
            link_valid_for: chrono::Duration::from_std(config.tours.link_valid_for)
                .unwrap_or(chrono::Duration::days(60)),
            plan_time_limit: config.tours.plan_time_limit,
            calendar,
            time_zone: config.calendar.time_zone,
            office_opens: config.calendar.office_hours.open,
        })
    }

    pub(crate) fn link(&self, secret: &jinguo_auth::Secret) -> String {
        format!(
            "{}/link/{}",
            self.public_url.trim_end_matches('/'),
            secret.expose()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removal_covers_exactly_what_it_names() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let d1: NaiveDate = "2027-03-01".parse().unwrap();
        let d2: NaiveDate = "2027-03-02".parse().unwrap();
        let lecturer = Removal {
            volunteer: Some(a),
            day: None,
        };
        assert!(lecturer.covers(a, d1) && lecturer.covers(a, d2) && !lecturer.covers(b, d1));
        let day = Removal {
            volunteer: None,
            day: Some(d1),
        };
        assert!(day.covers(a, d1) && day.covers(b, d1) && !day.covers(a, d2));
        let both = Removal {
            volunteer: Some(a),
            day: Some(d1),
        };
        assert!(both.covers(a, d1) && !both.covers(a, d2) && !both.covers(b, d1));
    }

    #[test]
    fn names_topics_and_numbers_are_bounded_naming_the_field() {
        assert_eq!(name("name", "  李梅 ").unwrap(), "李梅");
        for bad in ["", "   ", "李\u{7}梅"] {
            assert!(matches!(
                name("name", bad),
                Err(Refusal::Invalid { field: "name", .. })
            ));
        }
        assert!(name("name", &"长".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert_eq!(topic("topic", " 家风家教").unwrap(), "家风家教");
        assert!(matches!(
            topic("topic", "跳舞"),
            Err(Refusal::Invalid { field: "topic", .. })
        ));
        assert!(within("n", 0, (1, 6)).is_err() && within("n", 7, (1, 6)).is_err());
        assert_eq!(within("n", 6, (1, 6)).unwrap(), 6);
        assert!(note("note", &"字".repeat(MAX_NOTE_CHARS + 1)).is_err());
    }
}
