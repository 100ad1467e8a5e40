//! 最美家庭 nominations, the program: submission with eligibility, the review of each level by
//! emailed link, quotas, and the history of every step. Each function runs inside the caller's
//! transaction and follows one shape: lock, decide (core), record (store), enqueue (mail).

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jinguo_auth::seal::Sealer;
use jinguo_core::auth::Role;
use jinguo_core::identity::{HouseholdKey, MobilePhone};
use jinguo_core::nominations::{self as core, Event, Flow, Level, State, Story};
use jinguo_core::notify::Urgency;
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_core::rules::{PublicityLength, RuleError, check_quota};
use jinguo_core::text::{self, ADDRESS_MAX, NAME_MAX};
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
/// office hours that day. Bounded: a date within five years, or 1–60 working days.
pub use jinguo_core::rules::DeadlineRule as Deadline;

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
    /// Every number and length of the rules within its bounds; the refusal names the field.
    fn check(&self, links: &Links, now: DateTime<Utc>) -> Result<(), Refusal> {
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
    /// Not eligible by an ordinary rule (or, told to county case officers only, the incident
    /// flag); `message` is what the nominator reads. The refusal is audited by [`submit`].
    #[error("{message}")]
    Ineligible {
        rule: &'static str,
        message: String,
        household: Uuid,
    },
    /// The person may not do this (`action` names the permission).
    #[error("not permitted: {0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("本级推荐名额（{quota} 个）已用完，需先退回或不通过其他推荐")]
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
    links: &Links,
    now: DateTime<Utc>,
) -> Result<Uuid, Refusal> {
    let name = text::single_line(&c.name, 100).map_err(|e| invalid("name", e.message()))?;
    let scope = OrgCode::parse(&c.scope_org)
        .map_err(|_| invalid("scope_org", "机构代码应为 2–12 位数字的统计用区划代码"))?;
    if scope.level() > OrgLevel::County {
        return Err(invalid("scope_org", "评选范围应为县（市、区）、市州或全省"));
    }
    if orgs::get(conn, scope).await?.is_none() {
        return Err(invalid("scope_org", "没有这个单位"));
    }
    if !(2000..=2100).contains(&c.year) {
        return Err(invalid("year", "年份应在 2000–2100 之间"));
    }
    if c.rules.categories.is_empty() {
        return Err(invalid("rules.categories", "请至少填写一个评选类别"));
    }
    for category in &c.rules.categories {
        text::single_line(category, NAME_MAX)
            .map_err(|e| invalid("rules.categories", e.message()))?;
    }
    c.rules.check(links, now)?;
    let id = Uuid::new_v4();
    let row = CampaignRow {
        id,
        name,
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

/// The family as submitted (the form and the API). What is kept of it is a [`FamilyRecord`]:
/// the ID number never, the phone only sealed.
#[derive(Clone, Serialize, Deserialize)]
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

/// Never printed: it holds an ID number and a phone.
impl std::fmt::Debug for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Family([redacted])")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub relation: String,
}

/// The family as the nomination row keeps it (JSON in `nominations.family`): names and address
/// for the reviewers, the head's ID number or phone only masked (`6201**********1234`), and
/// the contact phone sealed (opened for the review page only) beside its masked form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FamilyRecord {
    pub head_name: String,
    #[serde(default)]
    pub head_key_masked: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone_masked: Option<String>,
    #[serde(default)]
    pub phone_sealed: Option<String>,
    #[serde(default)]
    pub members: Vec<Member>,
}

impl FamilyRecord {
    /// What the associated data of a nomination's sealed phone is: it opens for that row only.
    fn phone_context(nomination: Uuid) -> String {
        format!("nomination.phone:{nomination}")
    }

    /// The contact phone in full, for the review page; `None` when there is none or it does not
    /// open (a wrong key is logged, not shown).
    pub fn phone(&self, nomination: Uuid, sealer: &Sealer) -> Option<String> {
        let sealed = self.phone_sealed.as_deref()?;
        match sealer.open(sealed, &Self::phone_context(nomination)) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(%nomination, error = %e, "a sealed phone does not open");
                None
            }
        }
    }
}

/// The family's record of a stored nomination (`family` column).
pub fn family_of(n: &NominationRow) -> FamilyRecord {
    serde_json::from_str(&n.family).unwrap_or_default()
}

/// The family checked field by field (Chinese refusals naming the field), with its household
/// keys: the head's ID number or phone, and the contact phone when given.
fn parse_family(
    f: &Family,
    today: chrono::NaiveDate,
) -> Result<(ParsedFamily, Vec<HouseholdKey>), Refusal> {
    let head_name = text::single_line(&f.head_name, NAME_MAX)
        .map_err(|e| invalid("family.head_name", e.message()))?;
    let head_key = HouseholdKey::parse(&f.head_id, today)
        .map_err(|e| invalid("family.head_id", e.message()))?;
    let address = text::single_line(&f.address, ADDRESS_MAX)
        .map_err(|e| invalid("family.address", e.message()))?;
    let phone = match f.phone.as_deref().map(jinguo_core::identity::clean) {
        Some(p) if !p.is_empty() => {
            Some(MobilePhone::parse(&p).map_err(|e| invalid("family.phone", e.message()))?)
        }
        _ => None,
    };
    let mut members = Vec::new();
    for m in &f.members {
        members.push(Member {
            name: text::single_line(&m.name, NAME_MAX)
                .map_err(|e| invalid("family.members.name", e.message()))?,
            relation: text::single_line(&m.relation, NAME_MAX)
                .map_err(|e| invalid("family.members.relation", e.message()))?,
        });
    }
    let mut keys = vec![head_key.clone()];
    if let Some(p) = &phone
        && head_key.as_str() != p.as_str()
    {
        keys.push(HouseholdKey::Phone(p.clone()));
    }
    Ok((
        ParsedFamily {
            head_name,
            head_key,
            address,
            phone,
            members,
        },
        keys,
    ))
}

struct ParsedFamily {
    head_name: String,
    head_key: HouseholdKey,
    address: String,
    phone: Option<MobilePhone>,
    members: Vec<Member>,
}

impl ParsedFamily {
    /// What is kept: masked keys and the sealed phone (a phone given as the head's key is the
    /// contact phone too).
    fn record(&self, nomination: Uuid, sealer: &Sealer) -> FamilyRecord {
        let phone = self.phone.clone().or(match &self.head_key {
            HouseholdKey::Phone(p) => Some(p.clone()),
            HouseholdKey::Id(_) => None,
        });
        FamilyRecord {
            head_name: self.head_name.clone(),
            head_key_masked: self.head_key.masked(),
            address: self.address.clone(),
            phone_masked: phone.as_ref().map(MobilePhone::masked),
            phone_sealed: phone
                .map(|p| sealer.seal(p.as_str(), &FamilyRecord::phone_context(nomination))),
            members: self.members.clone(),
        }
    }
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

/// The keyed hash that identifies a household by one of its keys (the canonical ID number or
/// phone): the same person always gives the same hash, however the number was typed.
fn household_hash(key: &str, identity: &HouseholdKey) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length works");
    mac.update(identity.as_str().as_bytes());
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

/// Who submits: the public self-nomination form, or a staff member (who needs
/// `nomination.submit` at the village).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nominator {
    Public,
    Staff(Uuid),
}

impl Nominator {
    fn actor(self) -> String {
        match self {
            Nominator::Public => "public".to_owned(),
            Nominator::Staff(id) => id.to_string(),
        }
    }
}

/// The one entry point for a submission (API and public form): runs [`submit_in`] in its own
/// transaction and, when an eligibility rule refuses, audits the refusal in a transaction of
/// its own (the refused one rolls back), with the rule and no family data.
pub async fn submit(
    store: &jinguo_store::Store,
    s: Submission,
    nominator: Nominator,
    links: &Links,
) -> Result<Uuid, Refusal> {
    let campaign = s.campaign_id;
    let result = store
        .transaction({
            let links = links.clone();
            move |c| {
                let (s, links) = (s.clone(), links.clone());
                Box::pin(async move { submit_in(c, s, nominator, &links, jinguo_bus::now()).await })
            }
        })
        .await;
    if let Err(Refusal::Ineligible {
        rule, household, ..
    }) = &result
    {
        let (rule, household, actor) = (*rule, *household, nominator.actor());
        store
            .transaction(move |c| {
                let actor = actor.clone();
                Box::pin(async move {
                    let details = serde_json::json!({ "campaign": campaign, "rule": rule, "outcome": "refused" });
                    jinguo_auth::record(
                        c,
                        &actor,
                        "nomination.eligibility_checked",
                        &household.to_string(),
                        details,
                        jinguo_bus::now(),
                    )
                    .await
                })
            })
            .await?;
    }
    result
}

/// Submits a nomination in the caller's transaction: validates, checks eligibility, records it
/// and asks the village's reviewers. A household with an incident flag is accepted exactly
/// like any other but held in `eligibility_review` for the county case officers; only they, when
/// they submit themselves, are told why instead.
pub async fn submit_in(
    conn: &mut Conn<'_>,
    s: Submission,
    nominator: Nominator,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<Uuid, Refusal> {
    let (campaign_row, rules) = campaign(conn, s.campaign_id).await?;
    let village =
        OrgCode::parse(&s.village).map_err(|_| invalid("village", "请选择所在的村（社区）"))?;
    if village.level() != OrgLevel::Village {
        return Err(invalid("village", "推荐应落在一个村（社区）"));
    }
    if let Nominator::Staff(person) = nominator {
        permit(conn, person, "nomination.submit", village, now).await?;
    }
    let scope =
        OrgCode::parse(&campaign_row.scope_org).map_err(|e| StoreError::Task(e.to_string()))?;
    if !village.is_within(&scope) || orgs::get(conn, village).await?.is_none() {
        return Err(invalid("village", "所选村（社区）不在本次评选范围内"));
    }
    if !rules.categories.contains(&s.category) {
        return Err(invalid(
            "category",
            format!("请选择评选类别：{}", rules.categories.join("、")),
        ));
    }
    let story = Story::parse(&s.story).map_err(|m| invalid("story", m))?;
    let today = now.with_timezone(&links.time_zone).date_naive();
    let (family, keys) = parse_family(&s.family, today)?;
    let keys: Vec<String> = keys
        .iter()
        .map(|k| household_hash(&links.household_key, k))
        .collect();
    let found = store::household(conn, &keys, now).await?;
    let household = found.id;
    let (awarded_categories, open_in_campaign) =
        store::household_record(conn, &found.all, s.campaign_id).await?;
    let record = core::HouseholdRecord {
        awarded_categories,
        incident_flag: found.incident_flag,
        open_in_campaign,
    };
    let admission = core::admit(&record, &s.category).map_err(|no| Refusal::Ineligible {
        rule: no.rule(),
        message: no.message(),
        household,
    })?;
    // County case officers who submit are told why, instead of the hold.
    if admission == core::Admission::Held
        && let Nominator::Staff(person) = nominator
        && may(conn, person, "nomination.eligibility_reason", village, now).await?
    {
        let no = core::Ineligible::IncidentFlag;
        return Err(Refusal::Ineligible {
            rule: no.rule(),
            message: no.message(),
            household,
        });
    }
    // Every check is audited with its rule, never the family.
    let rule = match admission {
        core::Admission::Review => "eligible",
        core::Admission::Held => "incident_flag",
    };
    jinguo_auth::record(
        conn,
        &nominator.actor(),
        "nomination.eligibility_checked",
        &household.to_string(),
        serde_json::json!({ "campaign": s.campaign_id, "rule": rule, "outcome": "accepted" }),
        now,
    )
    .await?;
    let state = match admission {
        core::Admission::Review => State::VillageReview,
        core::Admission::Held => State::EligibilityReview,
    };
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
        family: serde_json::to_string(&family.record(id, &links.sealer))
            .expect("family serialises"),
        story: story.as_str().to_owned(),
        nominator: nominator.actor(),
        state,
        created_at: now,
    };
    store::insert(conn, &row).await?;
    let t = Transition {
        from: state,
        to: state,
        event: "submitted",
        actor: &nominator.actor(),
        reason: None,
    };
    store::transition(conn, id, t, now).await?;
    match admission {
        core::Admission::Review => {
            enter_level(conn, &row, &campaign_row, Level::Village, links, now).await?
        }
        core::Admission::Held => hold(conn, &row, &campaign_row, links, now).await?,
    }
    Ok(id)
}

/// Loads who `person` is and decides (the one authorization of the project).
async fn may(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &'static str,
    org: OrgCode,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    jinguo_auth::may(
        conn,
        person,
        action,
        jinguo_core::auth::Target::Org(org),
        now,
    )
    .await
}

/// Refuses unless `person` (active) may do `action` at `org`.
async fn permit(
    conn: &mut Conn<'_>,
    person: Uuid,
    action: &'static str,
    org: OrgCode,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if may(conn, person, action, org, now).await? {
        Ok(())
    } else {
        Err(Refusal::Forbidden(action))
    }
}

/// The purpose of the county case officers' eligibility links.
pub const ELIGIBILITY: &str = "eligibility";

/// The reasons a case officer may give for closing a held nomination: ordinary review reasons,
/// so that the closed nomination reads like any other rejection.
pub const CLOSE_REASONS: [&str; 3] = ["推荐材料不完整", "家庭事迹不够典型", "不符合本次评选条件"];

/// Events of the eligibility hold: recorded in the history, shown only to those who may see
/// why (see [`visible_history`]).
fn is_hidden_event(event: &str) -> bool {
    event.starts_with("eligibility_")
}

/// Holds a nomination for the county's case officers, and shows everyone else what entering
/// village review shows: a village without an active reviewer is flagged and the county's
/// admins told, exactly as for any other nomination.
async fn hold(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    ask_case_officers(conn, n, c, links, now).await?;
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    let flags =
        serde_json::from_str::<Rules>(&c.rules).map_or(true, |r| r.no_reviewer == NoReviewer::Flag);
    if flags
        && staff::holders_at(conn, Role::Reviewer, village)
            .await?
            .is_empty()
    {
        flag_no_reviewer(conn, n, c, Level::Village, village, links, now).await?;
    }
    Ok(())
}

/// Whether the nomination already shows as stalled at the village (flagged while it was held)
/// and still has nobody to review it there: letting it continue then changes nothing anyone
/// sees, and nobody is told twice.
async fn shown_stalled(conn: &mut Conn<'_>, n: &NominationRow) -> Result<bool, Refusal> {
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    Ok(is_stalled(&store::history(conn, n.id).await?)
        && staff::holders_at(conn, Role::Reviewer, village)
            .await?
            .is_empty())
}

/// Asks the county's case officers (by link and mail, naming neither the family nor the
/// reason) to decide on a held nomination.
async fn ask_case_officers(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    let county = unit_for(village, Level::County);
    let mut officers = staff::holders_at(conn, Role::CaseOfficer, county).await?;
    if officers.is_empty() {
        officers = staff::holders_above(conn, Role::CaseOfficer, county).await?;
    }
    // Asked once: an officer already holding a usable link is not asked again.
    let asked = jinguo_store::links::open_actors(conn, ELIGIBILITY, &n.id.to_string(), now).await?;
    if officers.iter().any(|o| asked.contains(o)) {
        return Ok(());
    }
    if officers.is_empty() {
        tracing::warn!(nomination = %n.id, %county, "a held nomination has no case officer to decide on it");
        note(conn, n, "eligibility_no_officer", county.as_str(), now).await?;
        return Ok(());
    }
    let village_name = orgs::get(conn, village)
        .await?
        .map(|u| u.name)
        .unwrap_or_default();
    for officer in officers {
        let secret = jinguo_auth::links::issue(
            conn,
            ELIGIBILITY,
            &n.id.to_string(),
            officer,
            links.valid_for,
            now,
        )
        .await?;
        let mail = jinguo_mail::EligibilityCheck {
            recipient: people::display_name(conn, officer).await?,
            campaign: c.name.clone(),
            village: village_name.clone(),
            link: format!("{}/link/{}", links.public_url, secret.expose()),
        };
        jinguo_mail::notify(conn, officer, &mail, Urgency::Normal, now)
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
    }
    Ok(())
}

/// What a county case officer decides on a held nomination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EligibilityDecision {
    /// It enters village review as if just submitted.
    Continue,
    /// It ends as a rejection with one of [`CLOSE_REASONS`], recorded as the officer's.
    Close { reason: String },
}

/// A county case officer decides on a held nomination (emailed link or API: both come here).
pub async fn decide_eligibility(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    officer: Uuid,
    decision: EligibilityDecision,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    permit(conn, officer, "nomination.eligibility_reason", village, now).await?;
    if n.state != State::EligibilityReview {
        return Err(Refusal::Conflict(format!(
            "the nomination is {}, not held for eligibility",
            n.state
        )));
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let actor = officer.to_string();
    let (event, name, reason) = match &decision {
        EligibilityDecision::Continue => (Event::EligibilityCleared, "eligibility_cleared", None),
        EligibilityDecision::Close { reason } => {
            if !CLOSE_REASONS.contains(&reason.as_str()) {
                return Err(invalid("reason", "请从列出的理由中选择一项"));
            }
            // Recorded as an ordinary village rejection, by the officer.
            (
                Event::EligibilityClosed,
                "village_reject",
                Some(reason.as_str()),
            )
        }
    };
    let to = core::next(n.state, event, rules.flow()).map_err(illegal)?;
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: name,
            actor: &actor,
            reason,
        },
        now,
    )
    .await?;
    let who = people::display_name(conn, officer).await?;
    jinguo_auth::links::supersede(conn, ELIGIBILITY, &nomination.to_string(), &who, now).await?;
    if to == State::VillageReview {
        let moved = NominationRow { state: to, ..n };
        if !shown_stalled(conn, &moved).await? {
            enter_level(conn, &moved, &c, Level::Village, links, now).await?;
        }
    }
    Ok(to)
}

/// The history as `reveal`-less eyes may see it: the eligibility hold's own events left out,
/// its state shown as village review.
pub fn visible_history(steps: Vec<store::Step>, reveal: bool) -> Vec<store::Step> {
    if reveal {
        return steps;
    }
    steps
        .into_iter()
        .filter(|h| !is_hidden_event(&h.event))
        .map(|mut h| {
            let public = |s: &str| {
                s.parse::<State>()
                    .map_or_else(|_| s.to_owned(), |st| st.public().to_string())
            };
            h.from = public(&h.from);
            h.to = public(&h.to);
            h
        })
        .collect()
}

/// Whether `person` may look at and decide nomination `id` now: it is under review, they hold
/// an open task at its level, and they review at that unit (active, not moved away since).
/// The review pages ask it before showing anything (the phone above all).
pub async fn may_review(
    conn: &mut Conn<'_>,
    person: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(n) = store::get(conn, id).await? else {
        return Ok(false);
    };
    let Some(level) = n.state.review_level() else {
        return Ok(false);
    };
    let Ok(village) = OrgCode::parse(&n.village_code) else {
        return Ok(false);
    };
    let has_task = store::tasks(conn, id, level.as_str())
        .await?
        .iter()
        .any(|t| t.reviewer == person && !t.closed);
    Ok(has_task
        && may(
            conn,
            person,
            "nomination.review",
            unit_for(village, level),
            now,
        )
        .await?)
}

/// Whether a nomination's current level has no active reviewer, as its history shows it (the
/// hold's own events do not count, so a held nomination stalls exactly like any other).
pub fn is_stalled(steps: &[store::Step]) -> bool {
    steps
        .iter()
        .rev()
        .find(|h| !is_hidden_event(&h.event))
        .is_some_and(|h| h.event == "no_reviewer")
}

/// Whether `person` may see why a nomination in `village` is held (county case officers).
pub async fn reveals_eligibility(
    conn: &mut Conn<'_>,
    person: Uuid,
    village: OrgCode,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    may(conn, person, "nomination.eligibility_reason", village, now).await
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
        let to = core::next(n.state, Event::Approved { level }, flow).map_err(illegal)?;
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
    if reviewers.is_empty() {
        return flag_no_reviewer(conn, n, c, level, unit, links, now).await;
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
        ask_reviewer(conn, n, c, level, unit, reviewer, due, links, now).await?;
    }
    Ok(())
}

/// A reason as people type it: up to 500 characters counted without invisible ones, no control
/// characters or bidi overrides; `None` when empty.
fn reason_text(raw: Option<&str>) -> Result<Option<String>, Refusal> {
    match raw.map(jinguo_core::identity::clean) {
        Some(r) if !r.is_empty() => text::multi_line(raw.unwrap_or_default(), 1, REASON_MAX)
            .map(Some)
            .map_err(|e| invalid("reason", e.message())),
        _ => Ok(None),
    }
}

/// The longest reason a reviewer or nominator may give.
const REASON_MAX: usize = 500;

/// An event the state does not allow, said of the state everyone may see (a held nomination's
/// refusals read exactly like village review's).
fn illegal(e: core::Illegal) -> Refusal {
    Refusal::Conflict(format!(
        "{} is not possible while the nomination is {}",
        e.event,
        e.state.public()
    ))
}

/// The nomination, locked until the transaction ends.
async fn locked(conn: &mut Conn<'_>, nomination: Uuid) -> Result<NominationRow, Refusal> {
    store::lock(conn, nomination)
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("no nomination {nomination}")))
}

/// Records in the history something the system noticed that leaves the state as it is.
async fn note(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    event: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let t = Transition {
        from: n.state,
        to: n.state,
        event,
        actor: "system",
        reason: Some(reason),
    };
    store::transition(conn, n.id, t, now).await
}

/// A level whose unit has no active reviewer is never a silent stall: it is recorded in the
/// history (the county's list shows it as stalled) and the county's admins are told to appoint
/// a reviewer.
async fn flag_no_reviewer(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    level: Level,
    unit: OrgCode,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let family = family_of(n);
    note(conn, n, "no_reviewer", unit.as_str(), now).await?;
    tracing::warn!(nomination = %n.id, %unit, level = level.as_str(), "no active reviewer for this level");
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
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
    Ok(())
}

/// One reviewer's task at a level: the task row, an action link and the review mail.
#[allow(clippy::too_many_arguments)]
async fn ask_reviewer(
    conn: &mut Conn<'_>,
    n: &NominationRow,
    c: &CampaignRow,
    level: Level,
    unit: OrgCode,
    reviewer: Uuid,
    due: Option<DateTime<Utc>>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let family = family_of(n);
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
    Ok(())
}

/// Open work passes on from a person who may no longer do it (disabled, or moved to another
/// role): each review task they can no longer decide closes as `reassigned` (their link is
/// superseded), and every other active reviewer of the task's unit who has no open task there
/// gets one (task, link, mail); a level left with nobody is flagged as without a reviewer, as
/// when it opened. Held nominations whose case officer they were are offered to the county's
/// other case officers.
pub async fn hand_over(
    conn: &mut Conn<'_>,
    person: Uuid,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let open = store::open_tasks_for(conn, person).await?;
    let mut handed = 0;
    for (task, _, _) in open {
        let unit = OrgCode::parse(&task.org_code).map_err(|e| StoreError::Task(e.to_string()))?;
        if may(conn, person, "nomination.review", unit, now).await? {
            continue;
        }
        store::close_task(conn, task.id, "reassigned", now).await?;
        let Some(n) = store::lock(conn, task.nomination_id).await? else {
            continue;
        };
        let level: Level = match serde_json::from_value(serde_json::json!(task.level)) {
            Ok(l) => l,
            Err(e) => return Err(StoreError::Task(format!("task level: {e}")).into()),
        };
        jinguo_store::links::supersede_for(
            conn,
            REVIEW,
            &link_subject(n.id, level),
            person,
            "转交其他审核员",
            now,
        )
        .await?;
        if n.state.review_level() != Some(level) {
            continue;
        }
        let (c, _) = campaign(conn, n.campaign_id).await?;
        let still_open: Vec<Uuid> = store::tasks(conn, n.id, level.as_str())
            .await?
            .into_iter()
            .filter(|t| !t.closed)
            .map(|t| t.reviewer)
            .collect();
        let newcomers: Vec<Uuid> = staff::holders_at(conn, Role::Reviewer, unit)
            .await?
            .into_iter()
            .filter(|r| *r != person && !still_open.contains(r))
            .collect();
        note(conn, &n, "reassigned", &person.to_string(), now).await?;
        if still_open.is_empty() && newcomers.is_empty() {
            flag_no_reviewer(conn, &n, &c, level, unit, links, now).await?;
            continue;
        }
        for reviewer in newcomers {
            ask_reviewer(conn, &n, &c, level, unit, reviewer, task.due_at, links, now).await?;
        }
        handed += 1;
    }
    for subject in jinguo_store::links::subjects_of(conn, ELIGIBILITY, person).await? {
        let Ok(id) = subject.parse::<Uuid>() else {
            continue;
        };
        let Some(n) = store::lock(conn, id).await? else {
            continue;
        };
        let village =
            OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
        if n.state != State::EligibilityReview
            || may(conn, person, "nomination.eligibility_reason", village, now).await?
        {
            continue;
        }
        jinguo_store::links::supersede_for(conn, ELIGIBILITY, &subject, person, "转交", now)
            .await?;
        let (c, _) = campaign(conn, n.campaign_id).await?;
        ask_case_officers(conn, &n, &c, links, now).await?;
        handed += 1;
    }
    Ok(handed)
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
    let n = locked(conn, nomination).await?;
    let Some(level) = n.state.review_level() else {
        return Err(Refusal::Conflict(format!(
            "the nomination is {}, not under review",
            n.state.public()
        )));
    };
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    let unit = unit_for(village, level);
    let reason = reason_text(reason)?;
    let reason = reason.as_deref();
    if decision != Decision::Approve && reason.is_none() {
        return Err(invalid("reason", "退回或不通过时请填写理由"));
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let task = open_task(conn, nomination, level, reviewer).await?;
    // Whatever the entry point (link, page, API): only an active person who reviews at this
    // unit now decides — not one disabled or moved to another role since the task was made.
    permit(conn, reviewer, "nomination.review", unit, now).await?;
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
    let to = core::next(n.state, event, rules.flow()).map_err(illegal)?;
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
    let family = family_of(&n);
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
    let length = links
        .publicity_length(length)
        .map_err(|e| StoreError::Task(format!("campaign rules: {}", e.code())))?;
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    let due = length
        .ends_at(now, |days| {
            links.due(&Deadline::WorkingDays(days), village, now)
        })
        .unwrap_or(now);
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
    let n = locked(conn, nomination).await?;
    if n.state != in_state {
        return Ok(n.state);
    }
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let event = match in_state {
        State::VillagePublicity => Event::VillagePublicityEnded,
        _ => Event::PublicityEnded,
    };
    let to = core::next(n.state, event, rules.flow()).map_err(illegal)?;
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

/// The nominations service: it ends 公示 periods when their timers fire, reminds reviewers
/// before deadlines, and hands a disabled reviewer's open tasks on.
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
            if message.kind == jinguo_auth::staff::DISABLED
                || message.kind == jinguo_auth::staff::ROLES_CHANGED
            {
                let Some(person) = message.payload["person"]
                    .as_str()
                    .and_then(|s| s.parse::<Uuid>().ok())
                else {
                    return Err(jinguo_bus::HandlerError::permanent(
                        "staff message without person",
                    ));
                };
                return match hand_over(conn, person, &self.links, jinguo_bus::now()).await {
                    Ok(_) => Ok(()),
                    Err(Refusal::Store(e)) => Err(e.into()),
                    Err(other) => Err(jinguo_bus::HandlerError::permanent(other.to_string())),
                };
            }
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

/// The sealer of personal data at rest, from configuration (`crypto.*`); built once at start.
pub fn sealer_from(config: &jinguo_config::Config) -> Result<Sealer, jinguo_config::ConfigError> {
    Sealer::from_config(&config.crypto.data_keys, &config.crypto.data_key_current).map_err(|e| {
        jinguo_config::ConfigError {
            key: "crypto.data_keys".into(),
            origin: jinguo_config::Origin::Defaults,
            problem: e.to_string(),
        }
    })
}

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

/// The nominations service as a consuming worker.
pub fn worker(
    config: &jinguo_config::Config,
) -> Result<jinguo_bus::Worker, jinguo_config::ConfigError> {
    let calendar = std::sync::Arc::new(config.calendar.load()?);
    let sealer = std::sync::Arc::new(sealer_from(config)?);
    Ok(jinguo_bus::Worker {
        name: "nominations".into(),
        bindings: vec![
            "nomination.#".into(),
            jinguo_auth::staff::DISABLED.into(),
            jinguo_auth::staff::ROLES_CHANGED.into(),
        ],
        handler: std::sync::Arc::new(Nominations {
            links: links_from(config, calendar, sealer),
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
/// re-enters `village_review` and the village reviewers are asked again — unless its household
/// has been flagged since, when it is held for the county case officers as at submission.
/// Needs `nomination.submit` at the village.
pub async fn resubmit(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    by: Uuid,
    story: Option<&str>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    permit(conn, by, "nomination.submit", village, now).await?;
    let (c, rules) = campaign(conn, n.campaign_id).await?;
    let to = core::next(n.state, Event::Resubmitted, rules.flow()).map_err(illegal)?;
    if let Some(story) = story {
        let story = Story::parse(story).map_err(|m| invalid("story", m))?;
        store::set_story(conn, nomination, story.as_str()).await?;
    }
    let actor = by.to_string();
    store::transition(
        conn,
        nomination,
        Transition {
            from: n.state,
            to,
            event: "resubmitted",
            actor: &actor,
            reason: None,
        },
        now,
    )
    .await?;
    let moved = NominationRow { state: to, ..n };
    if store::incident_flag(conn, moved.household_id).await? {
        let held = core::next(to, Event::EligibilityHeld, rules.flow()).map_err(illegal)?;
        let t = Transition {
            from: to,
            to: held,
            event: "eligibility_held",
            actor: "system",
            reason: None,
        };
        store::transition(conn, nomination, t, now).await?;
        let held_row = NominationRow {
            state: held,
            ..moved
        };
        hold(conn, &held_row, &c, links, now).await?;
        // To the resubmitter it looks exactly like village review.
        return Ok(held.public());
    }
    enter_level(conn, &moved, &c, Level::Village, links, now).await?;
    Ok(to)
}

/// Withdraws a nomination that is not final; open review tasks close and their links are
/// superseded. Needs `nomination.withdraw` at the village.
pub async fn withdraw(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    by: Uuid,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<State, Refusal> {
    let n = locked(conn, nomination).await?;
    let village = OrgCode::parse(&n.village_code).map_err(|e| StoreError::Task(e.to_string()))?;
    permit(conn, by, "nomination.withdraw", village, now).await?;
    let reason = reason_text(reason)?;
    let reason = reason.as_deref();
    let by = &by.to_string();
    let (_, rules) = campaign(conn, n.campaign_id).await?;
    let to = core::next(n.state, Event::Withdrawn, rules.flow()).map_err(illegal)?;
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
    if n.state == State::EligibilityReview {
        jinguo_auth::links::supersede(
            conn,
            ELIGIBILITY,
            &nomination.to_string(),
            "推荐人撤回",
            now,
        )
        .await?;
    }
    Ok(to.public())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn households_are_known_by_a_keyed_hash_of_the_canonical_key() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let key = |raw: &str| HouseholdKey::parse(raw, today).unwrap();
        let a = household_hash("key-one-0123456789", &key("62012219800101104x"));
        for same in [
            " 620122-19800101104X ",
            "６２０１２２１９８００１０１１０４Ｘ",
            "620122\u{200b}19800101\u{2060}104X.",
            "620122\u{ad}198001011\u{3000}04X",
        ] {
            assert_eq!(
                a,
                household_hash("key-one-0123456789", &key(same)),
                "{same:?}"
            );
        }
        assert_ne!(
            a,
            household_hash("key-two-0123456789", &key("62012219800101104X"))
        );
        assert!(!a.contains("620122"));
    }

    #[test]
    fn each_level_has_its_unit() {
        let v = OrgCode::parse("620122100201").unwrap();
        assert_eq!(unit_for(v, Level::Village), v);
        assert_eq!(unit_for(v, Level::Township).as_str(), "620122100000");
        assert_eq!(unit_for(v, Level::County).as_str(), "620122000000");
    }
}
