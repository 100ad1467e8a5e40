//! 最美家庭 nominations, the program: submission with eligibility, the review of each level by
//! emailed link, quotas, and the history of every step. Each function runs inside the caller's
//! transaction and follows one shape: lock, decide (core), record (store), enqueue (mail).

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jinguo_core::auth::Role;
use jinguo_core::messaging::parse_duration;
use jinguo_core::nominations::{self as core, Event, Flow, Level, State, Story};
use jinguo_core::notify::Urgency;
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_store::nominations::{self as store, CampaignRow, NominationRow, Task, Transition};
use jinguo_store::{Conn, StoreError, orgs, people, staff};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

/// The purpose of review links.
pub const REVIEW: &str = "review";

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
/// office hours that day.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    Date(chrono::NaiveDate),
    WorkingDays(u32),
}

impl Deadlines {
    fn of(&self, level: Level) -> Option<&Deadline> {
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
    fn of(&self, level: Level) -> u32 {
        match level {
            Level::Village => self.village,
            Level::Township => self.township,
            Level::County => self.county,
        }
    }
}

impl Rules {
    fn flow(&self) -> Flow {
        Flow {
            village_publicity: self.village_publicity.is_some(),
        }
    }
}

/// A refusal the caller can act on: the field and the rule.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Not eligible; `message` is what the nominator may read (neutral for the incident flag).
    #[error("{message}")]
    Ineligible { rule: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the {level} quota of {quota} is used up: reject or return another nomination first")]
    QuotaFull { level: &'static str, quota: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        field,
        message: message.into(),
    }
}

/// Everything needed to create a campaign.
#[derive(Debug, Clone, Deserialize)]
pub struct NewCampaign {
    pub name: String,
    pub year: i32,
    pub scope_org: String,
    pub rules: Rules,
}

pub async fn create_campaign(
    conn: &mut Conn<'_>,
    c: NewCampaign,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, Refusal> {
    if c.name.trim().is_empty() {
        return Err(invalid("name", "name is empty"));
    }
    let scope = OrgCode::parse(&c.scope_org).map_err(|e| invalid("scope_org", e.to_string()))?;
    if scope.level() > OrgLevel::County {
        return Err(invalid(
            "scope_org",
            "a campaign covers a county, a city or the province",
        ));
    }
    if orgs::get(conn, scope).await?.is_none() {
        return Err(invalid("scope_org", format!("no org unit {scope}")));
    }
    if c.rules.categories.is_empty() {
        return Err(invalid("rules.categories", "name at least one category"));
    }
    parse_length(&c.rules.publicity).map_err(|m| invalid("rules.publicity", m))?;
    if let Some(v) = &c.rules.village_publicity {
        parse_length(v).map_err(|m| invalid("rules.village_publicity", m))?;
    }
    let id = Uuid::new_v4();
    let row = CampaignRow {
        id,
        name: c.name.trim().to_owned(),
        year: c.year,
        scope_org: scope.to_string(),
        rules: serde_json::to_string(&c.rules).expect("rules serialise"),
    };
    store::insert_campaign(conn, &row, by, now).await?;
    jinguo_auth::record(
        conn,
        by,
        "campaign.created",
        &id.to_string(),
        serde_json::json!({ "scope": scope }),
        now,
    )
    .await?;
    Ok(id)
}

/// The family as submitted. Personal data: it stays in the nomination row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Family {
    pub head_name: String,
    /// The head's ID number or phone: only its keyed hash identifies the household.
    pub head_id: String,
    pub address: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub relation: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Submission {
    pub campaign_id: Uuid,
    pub village: String,
    pub category: String,
    pub channel: core::Channel,
    pub family: Family,
    pub story: String,
}

/// What the program needs from configuration: where links point and how long they work, the
/// household key, and the working-day calendar for deadlines.
#[derive(Debug, Clone)]
pub struct Links {
    pub public_url: String,
    pub valid_for: Duration,
    pub household_key: String,
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
        let date = match deadline {
            Deadline::Date(d) => *d,
            Deadline::WorkingDays(n) => {
                let today = now.with_timezone(&self.time_zone).date_naive();
                self.calendar.add_working_days(today, *n, Some(&unit))
            }
        };
        date.and_time(self.office_hours.close)
            .and_local_timezone(self.time_zone)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
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

fn household_hash(key: &str, head_id: &str) -> String {
    let normalised: String = head_id
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_uppercase();
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length works");
    mac.update(normalised.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn campaign(conn: &mut Conn<'_>, id: Uuid) -> Result<(CampaignRow, Rules), Refusal> {
    let c = store::get_campaign(conn, id)
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("no campaign {id}")))?;
    let rules: Rules = serde_json::from_str(&c.rules)
        .map_err(|e| StoreError::Task(format!("campaign rules: {e}")))?;
    Ok((c, rules))
}

/// Submits a nomination: validates, checks eligibility (the incident flag answered neutrally
/// and audited), records it in `village_review`, and asks the village's reviewers.
pub async fn submit(
    conn: &mut Conn<'_>,
    s: Submission,
    nominator: &str,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<Uuid, Refusal> {
    let (campaign_row, rules) = campaign(conn, s.campaign_id).await?;
    let village = OrgCode::parse(&s.village).map_err(|e| invalid("village", e.to_string()))?;
    if village.level() != OrgLevel::Village {
        return Err(invalid(
            "village",
            "a nomination belongs to a village (村/社区)",
        ));
    }
    let scope =
        OrgCode::parse(&campaign_row.scope_org).map_err(|e| StoreError::Task(e.to_string()))?;
    if !village.is_within(&scope) || orgs::get(conn, village).await?.is_none() {
        return Err(invalid(
            "village",
            format!("{village} is not in this campaign's area {scope}"),
        ));
    }
    if !rules.categories.contains(&s.category) {
        return Err(invalid(
            "category",
            format!("choose one of: {}", rules.categories.join("、")),
        ));
    }
    let story = Story::parse(&s.story).map_err(|m| invalid("story", m))?;
    if s.family.head_name.trim().is_empty() {
        return Err(invalid(
            "family.head_name",
            "the head of the family is not named",
        ));
    }
    if s.family.head_id.trim().len() < 6 {
        return Err(invalid(
            "family.head_id",
            "give the head's ID number or phone",
        ));
    }
    let (household, incident_flag) = store::household(
        conn,
        &household_hash(&links.household_key, &s.family.head_id),
        now,
    )
    .await?;
    let (awarded_categories, open_in_campaign) =
        store::household_record(conn, household, s.campaign_id).await?;
    let record = core::HouseholdRecord {
        awarded_categories,
        incident_flag,
        open_in_campaign,
    };
    if let Err(no) = core::eligible(&record, &s.category) {
        // Only county case officers may learn the reason; the log keeps the rule, not the family.
        let details = serde_json::json!({ "campaign": s.campaign_id, "rule": no.rule() });
        jinguo_auth::record(
            conn,
            nominator,
            "nomination.ineligible",
            &household.to_string(),
            details,
            now,
        )
        .await?;
        return Err(Refusal::Ineligible {
            rule: no.rule(),
            message: no.public_message(),
        });
    }
    let id = Uuid::new_v4();
    let row = NominationRow {
        id,
        campaign_id: s.campaign_id,
        village_code: village.to_string(),
        household_id: household,
        category: s.category,
        channel: serde_json::to_value(s.channel)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        family: serde_json::to_string(&s.family).expect("family serialises"),
        story: story.as_str().to_owned(),
        nominator: nominator.to_owned(),
        state: State::VillageReview,
        created_at: now,
    };
    store::insert(conn, &row).await?;
    let t = Transition {
        from: State::VillageReview,
        to: State::VillageReview,
        event: "submitted",
        actor: nominator,
        reason: None,
    };
    store::transition(conn, id, t, now).await?;
    enter_level(conn, &row, &campaign_row, Level::Village, links, now).await?;
    Ok(id)
}

/// The org unit that reviews a nomination at `level`.
pub fn unit_for(village: OrgCode, level: Level) -> OrgCode {
    let mut unit = village;
    let target = match level {
        Level::Village => OrgLevel::Village,
        Level::Township => OrgLevel::Township,
        Level::County => OrgLevel::County,
    };
    while unit.level() > target {
        unit = unit.parent().unwrap_or(unit);
    }
    unit
}

fn link_subject(nomination: Uuid, level: Level) -> String {
    format!("{nomination}:{}", level.as_str())
}

/// Opens a level: a task, a link and an email for each active reviewer of its unit. A unit
/// with no reviewer is never a silent stall: it is recorded in the history and the county
/// admins are told.
async fn enter_level(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    level: Level,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    let unit = unit_for(village, level);
    let reviewers = staff::holders_at(conn, Role::Reviewer, unit).await?;
    let rules: Option<Rules> = serde_json::from_str(&c.rules).ok();
    if reviewers.is_empty()
        && rules
            .as_ref()
            .is_some_and(|r| r.no_reviewer == NoReviewer::Skip)
    {
        // Configured to skip: the level passes without a decision, recorded as such.
        let flow = rules.as_ref().map_or(
            Flow {
                village_publicity: false,
            },
            Rules::flow,
        );
        let to = core::next(n.state, Event::Approved { level }, flow)
            .map_err(|e| Refusal::Conflict(e.to_string()))?;
        let event = format!("{}_skipped", level.as_str());
        let t = Transition {
            from: n.state,
            to,
            event: &event,
            actor: "system",
            reason: Some(unit.as_str()),
        };
        store::transition(conn, n.id, t, now).await?;
        if let Some(r) = &rules {
            schedule_publicity_end(conn, n, to, r, links, now).await?;
        }
        if let Some(next_level) = to.review_level() {
            let moved = NominationRow {
                state: to,
                ..n.clone()
            };
            Box::pin(enter_level(conn, &moved, c, next_level, links, now)).await?;
        }
        return Ok(());
    }
    let family: Family =
        serde_json::from_str(&n.family).map_err(|e| StoreError::Task(e.to_string()))?;
    if reviewers.is_empty() {
        let t = Transition {
            from: n.state,
            to: n.state,
            event: "no_reviewer",
            actor: "system",
            reason: Some(unit.as_str()),
        };
        store::transition(conn, n.id, t, now).await?;
        tracing::warn!(nomination = %n.id, %unit, level = level.as_str(), "no active reviewer for this level");
        // Never a silent stall: flagged in the history (the county's list shows it as stalled)
        // and the county's admins are told to appoint a reviewer.
        let county = unit_for(village, Level::County);
        let unit_name = orgs::get(conn, unit)
            .await?
            .map(|u| u.name)
            .unwrap_or_else(|| unit.to_string());
        for admin in staff::holders_above(conn, Role::Admin, county).await? {
            let name = people::display_name(conn, admin).await?;
            let notice = jinguo_mail::NoReviewerNotice {
                recipient: name,
                campaign: c.name.clone(),
                family: family.head_name.clone(),
                level: level.label().to_owned(),
                unit: unit_name.clone(),
                link: format!("{}/admin/staff?org={county}", links.public_url),
            };
            jinguo_mail::notify(conn, admin, &notice, Urgency::Normal, now)
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        return Ok(());
    }
    let due = rules
        .as_ref()
        .and_then(|r| r.deadlines.of(level))
        .and_then(|d| links.due(d, unit, now));
    if let Some(due) = due {
        // A reminder a day before the deadline (or at once when it is closer than that).
        let at = (due - Duration::days(1)).max(now);
        let message = jinguo_bus::message(
            REVIEW_REMINDER,
            serde_json::json!({ "nomination": n.id, "level": level, "due": due }),
        );
        let key = format!("review-reminder:{}:{}", n.id, level.as_str());
        jinguo_store::timers::schedule(conn, &key, at, None, &message, now).await?;
    }
    for reviewer in reviewers {
        let task = Task {
            id: Uuid::new_v4(),
            nomination_id: n.id,
            level: level.as_str().to_owned(),
            org_code: unit.to_string(),
            reviewer,
            closed: false,
            due_at: due,
        };
        store::insert_task(conn, &task, now).await?;
        let secret = jinguo_auth::links::issue(
            conn,
            REVIEW,
            &link_subject(n.id, level),
            reviewer,
            links.valid_for,
            now,
        )
        .await?;
        let name = people::display_name(conn, reviewer).await?;
        let mail = jinguo_mail::ReviewRequest {
            recipient: name,
            campaign: c.name.clone(),
            family: family.head_name.clone(),
            category: n.category.clone(),
            level: level.label().to_owned(),
            link: format!("{}/link/{}", links.public_url, secret.expose()),
            due: due.map(|d| links.in_words(d)).unwrap_or_default(),
        };
        jinguo_mail::notify(conn, reviewer, &mail, Urgency::Normal, now)
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
    }
    Ok(())
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
    Return,
}

/// Decides a level for `reviewer`: refused when the level is no longer open (another reviewer
/// decided: the caller sees who), when the quota is used up, or when a reason is missing.
/// The first decision completes the level and supersedes the other reviewers' links.
pub async fn decide(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    reviewer: Uuid,
    decision: Decision,
    reason: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = store::lock(conn, nomination)
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("no nomination {nomination}")))?;
    let Some(level) = n.state.review_level() else {
        return Err(Refusal::Conflict(format!(
            "the nomination is {}, not under review",
            n.state
        )));
    };
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    let unit = unit_for(village, level);
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if decision != Decision::Approve && reason.is_none() {
        return Err(invalid(
            "reason",
            "give the reason for rejecting or returning",
        ));
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let task = open_task(conn, nomination, level, reviewer).await?;
    if rules.decide == DecideRule::All && decision == Decision::Approve {
        let others_open = store::tasks(conn, nomination, level.as_str())
            .await?
            .iter()
            .any(|t| !t.closed && t.id != task);
        if others_open {
            // One approval of several needed: recorded, the level stays open.
            let event = format!("{}_approval", level.as_str());
            let actor = reviewer.to_string();
            let t = Transition {
                from: n.state,
                to: n.state,
                event: &event,
                actor: &actor,
                reason,
            };
            store::transition(conn, nomination, t, now).await?;
            store::close_task(conn, task, "approve", now).await?;
            return Ok(n.state);
        }
    }
    if decision == Decision::Approve {
        // Serialise approvals of one unit: the quota holds under concurrency.
        orgs::lock(conn, unit).await?;
        let quota = rules.quotas.of(level);
        let used =
            store::forwarded_count(conn, n.campaign_id, level.as_str(), unit.as_str()).await?;
        if !core::within_quota(used as u32, quota) {
            return Err(Refusal::QuotaFull {
                level: level.as_str(),
                quota,
            });
        }
    }
    let event = match decision {
        Decision::Approve => Event::Approved { level },
        Decision::Reject => Event::Rejected { level },
        Decision::Return => Event::Returned { level },
    };
    let to =
        core::next(n.state, event, rules.flow()).map_err(|e| Refusal::Conflict(e.to_string()))?;
    let actor = reviewer.to_string();
    let name = people::display_name(conn, reviewer).await?;
    let event_name = format!(
        "{}_{}",
        level.as_str(),
        serde_json::to_value(decision)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    );
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: &event_name,
            actor: &actor,
            reason,
        },
        now,
    )
    .await?;
    store::close_tasks(conn, nomination, level.as_str(), task, &event_name, now).await?;
    jinguo_auth::links::supersede(conn, REVIEW, &link_subject(nomination, level), &name, now)
        .await?;
    if decision == Decision::Approve {
        store::record_forwarded(
            conn,
            n.campaign_id,
            level.as_str(),
            unit.as_str(),
            nomination,
        )
        .await?;
    }
    schedule_publicity_end(conn, &n, to, &rules, links, now).await?;
    if let Some(next_level) = to.review_level() {
        let moved = NominationRow { state: to, ..n };
        enter_level(conn, &moved, &c, next_level, links, now).await?;
    }
    Ok(to)
}

/// The message that ends a 公示.
pub const PUBLICITY_ENDED: &str = "nomination.publicity_ended";

/// The message that reminds a level's reviewers before its deadline.
pub const REVIEW_REMINDER: &str = "nomination.review_reminder";

/// Reminds the reviewers with open tasks at a level that is still under review.
pub async fn remind(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    level: Level,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let Some(n) = store::get(conn, nomination).await? else {
        return Ok(0);
    };
    if n.state.review_level() != Some(level) {
        return Ok(0);
    }
    let family: Family =
        serde_json::from_str(&n.family).map_err(|e| StoreError::Task(e.to_string()))?;
    let mut sent = 0;
    for task in store::tasks(conn, nomination, level.as_str())
        .await?
        .into_iter()
        .filter(|t| !t.closed)
    {
        let Some(due) = task.due_at else { continue };
        let name = people::display_name(conn, task.reviewer).await?;
        let reminder = jinguo_mail::DeadlineReminder {
            recipient: name,
            task: format!(
                "{}家庭的{}推荐（{}审核）",
                family.head_name,
                n.category,
                level.label()
            ),
            due: links.in_words(due),
            link: format!("{}/tasks/{}", links.public_url, task.id),
        };
        jinguo_mail::notify(conn, task.reviewer, &reminder, Urgency::Normal, now)
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        sent += 1;
    }
    Ok(sent)
}

/// A 公示 length: a duration (`3d`, `72h`; seconds in tests) or working days (`3wd`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Length {
    Time(std::time::Duration),
    WorkingDays(u32),
}

fn parse_length(s: &str) -> Result<Length, String> {
    match s.trim().strip_suffix("wd") {
        Some(n) => n
            .parse()
            .map(Length::WorkingDays)
            .map_err(|_| format!("{s:?} is not a number of working days like 3wd")),
        None => parse_duration(s).map(Length::Time),
    }
}

/// Entering a 公示 sets a timer for its end, in the same transaction. Working days end at the
/// close of office hours, on the calendar of the nomination's village.
async fn schedule_publicity_end(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    to: State,
    rules: &Rules,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let length = match to {
        State::VillagePublicity => rules.village_publicity.as_deref(),
        State::Publicity => Some(rules.publicity.as_str()),
        _ => None,
    };
    let Some(length) = length else { return Ok(()) };
    let length =
        parse_length(length).map_err(|m| StoreError::Task(format!("campaign rules: {m}")))?;
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    let due = match length {
        Length::Time(d) => now + Duration::from_std(d).unwrap_or_default(),
        Length::WorkingDays(days) => links
            .due(&Deadline::WorkingDays(days), village, now)
            .unwrap_or(now),
    };
    let message = jinguo_bus::message(
        PUBLICITY_ENDED,
        serde_json::json!({ "nomination": n.id, "state": to }),
    );
    let key = format!("publicity:{}:{to}", n.id);
    jinguo_store::timers::schedule(conn, &key, due, None, &message, now).await?;
    Ok(())
}

/// A 公示 ended (its timer fired): the nomination moves on unless something else moved it
/// first (an objection, a withdrawal), in which case the message has no effect.
pub async fn publicity_ended(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    in_state: State,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = store::lock(conn, nomination)
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("no nomination {nomination}")))?;
    if n.state != in_state {
        return Ok(n.state);
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let event = match in_state {
        State::VillagePublicity => Event::VillagePublicityEnded,
        _ => Event::PublicityEnded,
    };
    let to =
        core::next(n.state, event, rules.flow()).map_err(|e| Refusal::Conflict(e.to_string()))?;
    let name = if in_state == State::VillagePublicity {
        "village_publicity_ended"
    } else {
        "publicity_ended"
    };
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: name,
            actor: "system",
            reason: None,
        },
        now,
    )
    .await?;
    if let Some(level) = to.review_level() {
        let moved = NominationRow { state: to, ..n };
        enter_level(conn, &moved, &c, level, links, now).await?;
    }
    Ok(to)
}

/// The nominations service: it ends 公示 periods when their timers fire.
pub struct Nominations {
    pub links: Links,
}

impl jinguo_bus::Handler for Nominations {
    fn handle<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        message: &'a jinguo_bus::Envelope,
    ) -> jinguo_store::BoxFuture<'a, Result<(), jinguo_bus::HandlerError>> {
        Box::pin(async move {
            if message.kind == REVIEW_REMINDER {
                let id = message.payload["nomination"]
                    .as_str()
                    .and_then(|s| s.parse::<Uuid>().ok());
                let level = serde_json::from_value::<Level>(message.payload["level"].clone()).ok();
                let (Some(id), Some(level)) = (id, level) else {
                    return Err(jinguo_bus::HandlerError::permanent(
                        "review_reminder without nomination and level",
                    ));
                };
                return match remind(conn, id, level, &self.links, jinguo_bus::now()).await {
                    Ok(_) => Ok(()),
                    Err(Refusal::Store(e)) => Err(e.into()),
                    Err(other) => Err(jinguo_bus::HandlerError::permanent(other.to_string())),
                };
            }
            if message.kind != PUBLICITY_ENDED {
                return Ok(());
            }
            let id = message.payload["nomination"]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok());
            let state = message.payload["state"]
                .as_str()
                .and_then(|s| s.parse::<State>().ok());
            let (Some(id), Some(state)) = (id, state) else {
                return Err(jinguo_bus::HandlerError::permanent(
                    "publicity_ended without nomination and state",
                ));
            };
            match publicity_ended(conn, id, state, &self.links, jinguo_bus::now()).await {
                Ok(_) => Ok(()),
                Err(Refusal::Store(e)) => Err(e.into()),
                Err(other) => Err(jinguo_bus::HandlerError::permanent(other.to_string())),
            }
        })
    }
}

/// Links from configuration, with the calendar loaded once by the caller.
pub fn links_from(
    config: &jinguo_config::Config,
    calendar: std::sync::Arc<jinguo_core::calendar::Calendar>,
) -> Links {
    Links {
        public_url: config.http.public_url.clone(),
        valid_for: Duration::days(i64::from(config.nominations.review_link_days)),
        household_key: config.nominations.household_key.clone(),
        calendar,
        time_zone: config.calendar.time_zone,
        office_hours: config.calendar.office_hours,
    }
}

/// The nominations service as a consuming worker.
pub fn worker(
    config: &jinguo_config::Config,
) -> Result<jinguo_bus::Worker, jinguo_config::ConfigError> {
    let calendar = std::sync::Arc::new(config.calendar.load()?);
    Ok(jinguo_bus::Worker {
        name: "nominations".into(),
        bindings: vec!["nomination.#".into()],
        handler: std::sync::Arc::new(Nominations {
            links: links_from(config, calendar),
        }),
    })
}

async fn open_task(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    level: Level,
    reviewer: Uuid,
) -> Result<Uuid, Refusal> {
    let tasks = store::tasks(conn, nomination, level.as_str()).await?;
    tasks
        .into_iter()
        .find(|t| t.reviewer == reviewer && !t.closed)
        .map(|t| t.id)
        .ok_or_else(|| {
            Refusal::Conflict(
                "this review is not open for you (decided already, or not yours)".into(),
            )
        })
}

/// The nominator sends a returned nomination in again (with a revised story, if given): it
/// re-enters `village_review` and the village reviewers are asked again.
pub async fn resubmit(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    by: &str,
    story: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = store::lock(conn, nomination)
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("no nomination {nomination}")))?;
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let to = core::next(n.state, Event::Resubmitted, rules.flow())
        .map_err(|e| Refusal::Conflict(e.to_string()))?;
    if let Some(story) = story {
        let story = Story::parse(story).map_err(|m| invalid("story", m))?;
        store::set_story(conn, nomination, story.as_str()).await?;
    }
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: "resubmitted",
            actor: by,
            reason: None,
        },
        now,
    )
    .await?;
    let moved = NominationRow { state: to, ..n };
    enter_level(conn, &moved, &c, Level::Village, links, now).await?;
    Ok(to)
}

/// Withdraws a nomination that is not final; open review tasks close and their links are
/// superseded.
pub async fn withdraw(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    by: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = store::lock(conn, nomination)
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("no nomination {nomination}")))?;
    let (_, rules) = campaign(conn, n.campaign_id).await?;
    let to = core::next(n.state, Event::Withdrawn, rules.flow())
        .map_err(|e| Refusal::Conflict(e.to_string()))?;
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: "withdrawn",
            actor: by,
            reason,
        },
        now,
    )
    .await?;
    if let Some(level) = n.state.review_level() {
        for t in store::tasks(conn, nomination, level.as_str())
            .await?
            .into_iter()
            .filter(|t| !t.closed)
        {
            store::close_task(conn, t.id, "withdrawn", now).await?;
        }
        jinguo_auth::links::supersede(
            conn,
            REVIEW,
            &link_subject(nomination, level),
            "推荐人撤回",
            now,
        )
        .await?;
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn households_are_known_by_a_keyed_hash_of_a_normalised_id() {
        let a = household_hash("key-one-0123456789", "62012219800101123x");
        assert_eq!(
            a,
            household_hash("key-one-0123456789", " 620122-19800101123X ")
        );
        assert_ne!(
            a,
            household_hash("key-two-0123456789", "62012219800101123X")
        );
        assert!(!a.contains("620122"));
    }

    #[test]
    fn publicity_lengths_are_durations_or_working_days() {
        assert_eq!(parse_length("3wd"), Ok(Length::WorkingDays(3)));
        assert_eq!(
            parse_length("2s"),
            Ok(Length::Time(std::time::Duration::from_secs(2)))
        );
        assert!(parse_length("xwd").is_err());
        assert!(parse_length("three days").is_err());
    }

    #[test]
    fn each_level_has_its_unit() {
        let v = OrgCode::parse("620122100201").unwrap();
        assert_eq!(unit_for(v, Level::Village), v);
        assert_eq!(unit_for(v, Level::Township).as_str(), "620122100000");
        assert_eq!(unit_for(v, Level::County).as_str(), "620122000000");
    }
}
