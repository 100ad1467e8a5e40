//! A campaign's rules: categories, quotas, 公示 lengths, deadlines, the decide and no-reviewer
//! rules; stored as JSON with the campaign and bounded when it is created.

use chrono::{DateTime, Utc};
use jinguo_core::nominations::{Flow, Level};
use jinguo_core::rules::{RuleError, check_quota};
use serde::{Deserialize, Serialize};

use crate::refusal::{Refusal, invalid};
use crate::settings::Links;

/// A campaign's rules (stored as JSON with the campaign).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rules {
    pub categories: Vec<String>,
    /// How many each village, township and county may forward (0: no limit).
    pub quotas: Quotas,
    /// Length of the village 公示 after village approval (`3d`, `72h`; seconds in tests);
    /// `None`: no village 公示.
    #[serde(default)]
    pub village_publicity: Option<String>,
    /// Length of the county 公示.
    pub publicity: String,
    /// Whose decision completes a level: `any` one reviewer (the default) or `all` of them
    /// (every approval needed; any rejection or return decides at once).
    #[serde(default)]
    pub decide: DecideRule,
    /// When each level must have decided.
    #[serde(default)]
    pub deadlines: Deadlines,
    /// A level whose unit has no active reviewer: `flag` it (and tell the county admins; the
    /// default) or `skip` to the next level.
    #[serde(default)]
    pub no_reviewer: NoReviewer,
    /// What happens when a level's deadline passes with its tasks open.
    #[serde(default)]
    pub on_deadline: DeadlineActions,
}

/// Per level, what a passed deadline does.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeadlineActions {
    #[serde(default)]
    pub village: DeadlineAction,
    #[serde(default)]
    pub township: DeadlineAction,
    #[serde(default)]
    pub county: DeadlineAction,
}

impl DeadlineActions {
    pub(crate) fn of(&self, level: Level) -> DeadlineAction {
        match level {
            Level::Village => self.village,
            Level::Township => self.township,
            Level::County => self.county,
        }
    }
}

/// What a passed deadline does to a level still open.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineAction {
    /// Shown on the dashboard as overdue, recorded in the history; nothing else (the default).
    #[default]
    Flag,
    /// The reviewers one level up are mailed a 催办 notice with a task of their own, and may
    /// decide on behalf of the level (recorded as such).
    Escalate,
    /// The nomination goes back to its nominator.
    Return,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoReviewer {
    #[default]
    Flag,
    Skip,
}

/// Per-level deadlines; a level without one has none.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Deadlines {
    #[serde(default)]
    pub village: Option<Deadline>,
    #[serde(default)]
    pub township: Option<Deadline>,
    #[serde(default)]
    pub county: Option<Deadline>,
}

/// A fixed date, or a number of working days from when the level opens (holidays and 调休
/// counted by the calendar, local holidays of the unit's subtree included). Due at the close of
/// office hours that day. Bounded: a date within five years, or 1–60 working days.
pub use jinguo_core::rules::DeadlineRule as Deadline;

impl Deadlines {
    pub(crate) fn of(&self, level: Level) -> Option<&Deadline> {
        match level {
            Level::Village => self.village.as_ref(),
            Level::Township => self.township.as_ref(),
            Level::County => self.county.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DecideRule {
    #[default]
    Any,
    All,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Quotas {
    pub village: u32,
    pub township: u32,
    pub county: u32,
}

impl Quotas {
    pub(crate) fn of(&self, level: Level) -> u32 {
        match level {
            Level::Village => self.village,
            Level::Township => self.township,
            Level::County => self.county,
        }
    }
}

impl Rules {
    /// Every number and length of the rules within its bounds; the refusal names the field.
    pub(crate) fn check(&self, links: &Links, now: DateTime<Utc>) -> Result<(), Refusal> {
        let rule = |field: &'static str| move |e: RuleError| invalid(field, e.message());
        check_quota(self.quotas.village).map_err(rule("rules.quotas.village"))?;
        check_quota(self.quotas.township).map_err(rule("rules.quotas.township"))?;
        check_quota(self.quotas.county).map_err(rule("rules.quotas.county"))?;
        links
            .publicity_length(&self.publicity)
            .map_err(rule("rules.publicity"))?;
        if let Some(v) = &self.village_publicity {
            links
                .publicity_length(v)
                .map_err(rule("rules.village_publicity"))?;
        }
        if self.on_deadline.county == DeadlineAction::Escalate {
            return Err(invalid(
                "rules.on_deadline.county",
                "县级审核没有上一级，逾期时不能选择“上报上一级”",
            ));
        }
        let today = now.with_timezone(&links.time_zone).date_naive();
        for (field, d) in [
            ("rules.deadlines.village", &self.deadlines.village),
            ("rules.deadlines.township", &self.deadlines.township),
            ("rules.deadlines.county", &self.deadlines.county),
        ] {
            if let Some(d) = d {
                d.check(today).map_err(rule(field))?;
            }
        }
        Ok(())
    }

    pub(crate) fn flow(&self) -> Flow {
        Flow {
            village_publicity: self.village_publicity.is_some(),
        }
    }
}
