//! 最美家庭 nominations: campaigns, households, nominations with their history, review tasks
//! and what each unit forwarded (for quotas).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::nominations::{Level, State};
use jinguo_core::org::OrgCode;
use uuid::Uuid;

use crate::error::parse;
use crate::json::{naive, utc};
use crate::schema::{
    campaigns, forwarded, household_keys, households, nomination_counters, nomination_history,
    nominations, orgs, review_tasks,
};
use crate::{Conn, StoreError, locked, on_backend};

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    parse(s, "id")
}

#[derive(Debug, Clone)]
pub struct CampaignRow {
    pub id: Uuid,
    pub name: String,
    pub year: i32,
    pub scope_org: String,
    /// JSON, parsed by the nominations service.
    pub rules: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = campaigns, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct CampaignRecord {
    id: String,
    name: String,
    year: i32,
    scope_org: String,
    rules: String,
}

impl TryFrom<CampaignRecord> for CampaignRow {
    type Error = StoreError;
    fn try_from(r: CampaignRecord) -> Result<Self, StoreError> {
        Ok(CampaignRow {
            id: uuid(&r.id)?,
            name: r.name,
            year: r.year,
            scope_org: r.scope_org,
            rules: r.rules,
        })
    }
}

pub async fn insert_campaign(
    conn: &mut Conn<'_>,
    c: &CampaignRow,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let insert = diesel::insert_into(campaigns::table).values((
        campaigns::id.eq(c.id.to_string()),
        campaigns::name.eq(&c.name),
        campaigns::year.eq(c.year),
        campaigns::scope_org.eq(&c.scope_org),
        campaigns::rules.eq(&c.rules),
        campaigns::created_by.eq(by),
        campaigns::created_at.eq(naive(now)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

pub async fn get_campaign(
    conn: &mut Conn<'_>,
    id: Uuid,
) -> Result<Option<CampaignRow>, StoreError> {
    let query = campaigns::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(CampaignRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(CampaignRow::try_from).transpose()
}

/// Changes a campaign's name and rules (its year and area never change); whether it existed.
pub async fn update_campaign(
    conn: &mut Conn<'_>,
    id: Uuid,
    name: &str,
    rules: &str,
) -> Result<bool, StoreError> {
    let update = diesel::update(campaigns::table.find(id.to_string()))
        .set((campaigns::name.eq(name), campaigns::rules.eq(rules)));
    let changed = on_backend!(conn, |c| update.execute(c).await)?;
    Ok(changed == 1)
}

/// The categories the nominations of `campaign` hold, each once.
pub async fn categories_in_use(
    conn: &mut Conn<'_>,
    campaign: Uuid,
) -> Result<Vec<String>, StoreError> {
    let query = nominations::table
        .filter(nominations::campaign_id.eq(campaign.to_string()))
        .select(nominations::category)
        .distinct();
    Ok(on_backend!(conn, |c| query.load::<String>(c).await)?)
}

/// Every campaign, newest year first, then by name (there are tens, not thousands: pages
/// filter them by area).
pub async fn all_campaigns(conn: &mut Conn<'_>) -> Result<Vec<CampaignRow>, StoreError> {
    let query = campaigns::table.order((campaigns::year.desc(), campaigns::name.asc()));
    let rows = on_backend!(conn, |c| query
        .select(CampaignRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(CampaignRow::try_from).collect()
}

/// The household any of `keys` (keyed hashes of its ID number and phone) identifies, created
/// under the first key when none does.
pub async fn household(
    conn: &mut Conn<'_>,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<Household, StoreError> {
    let Some(first) = keys.first() else {
        return Err(StoreError::corrupt("a household needs at least one key"));
    };
    let mut ids = households_by_key(conn, keys).await?;
    if ids.is_empty() {
        // New: created under its first key (a concurrent submission of the same household
        // meets the unique key and reads the row this one made, or the other way round).
        let insert = diesel::insert_into(households::table)
            .values((
                households::id.eq(Uuid::new_v4().to_string()),
                households::identity_hash.eq(first),
                households::created_at.eq(naive(now)),
            ))
            .on_conflict_do_nothing();
        on_backend!(conn, |c| insert.execute(c).await)?;
        let query = households::table
            .filter(households::identity_hash.eq(first.to_owned()))
            .select(households::id);
        let id: String = on_backend!(conn, |c| query.first(c).await)?;
        ids.push(uuid(&id)?);
    }
    // Every key given now finds this household from now on (a key already known elsewhere
    // keeps its household).
    for key in keys {
        let insert = diesel::insert_into(household_keys::table)
            .values((
                household_keys::key_hash.eq(key),
                household_keys::household_id.eq(ids[0].to_string()),
            ))
            .on_conflict_do_nothing();
        on_backend!(conn, |c| insert.execute(c).await)?;
    }
    let query = households::table
        .filter(households::id.eq_any(ids.iter().map(Uuid::to_string).collect::<Vec<_>>()))
        .select(households::incident_flag);
    let flags: Vec<bool> = on_backend!(conn, |c| query.load(c).await)?;
    Ok(Household {
        id: ids[0],
        incident_flag: flags.into_iter().any(|f| f),
        all: ids,
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = household_keys, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct HouseholdKeyRecord {
    key_hash: String,
    household_id: String,
}

/// The households that hold any of `keys`, the one holding the first key first.
async fn households_by_key(conn: &mut Conn<'_>, keys: &[String]) -> Result<Vec<Uuid>, StoreError> {
    let query = household_keys::table.filter(household_keys::key_hash.eq_any(keys.to_vec()));
    let rows = on_backend!(conn, |c| query
        .select(HouseholdKeyRecord::as_select())
        .load(c)
        .await)?;
    let mut ids: Vec<Uuid> = Vec::new();
    for key in keys {
        for r in rows.iter().filter(|r| &r.key_hash == key) {
            let h = uuid(&r.household_id)?;
            if !ids.contains(&h) {
                ids.push(h);
            }
        }
    }
    Ok(ids)
}

/// A household as a submission finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    /// Where a new nomination is recorded.
    pub id: Uuid,
    /// Set when any household holding one of the keys carries the flag.
    pub incident_flag: bool,
    /// Every household holding one of the keys (more than one when an ID number and a phone
    /// were first seen apart): eligibility looks at all of them.
    pub all: Vec<Uuid>,
}

/// Whether the household carries an incident flag.
pub async fn incident_flag(conn: &mut Conn<'_>, household: Uuid) -> Result<bool, StoreError> {
    let query = households::table
        .find(household.to_string())
        .select(households::incident_flag);
    let flag: Option<bool> = on_backend!(conn, |c| query.first(c).await.optional())?;
    Ok(flag == Some(true))
}

/// Sets the incident flag (the referrals program does; tests too).
pub async fn set_incident_flag(
    conn: &mut Conn<'_>,
    household: Uuid,
    flag: bool,
) -> Result<(), StoreError> {
    let update = diesel::update(households::table.find(household.to_string()))
        .set(households::incident_flag.eq(flag));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = nominations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct PastNomination {
    campaign_id: String,
    category: String,
    state: String,
}

/// Categories the household was awarded in other campaigns, and whether it has an open
/// nomination in `campaign`.
pub async fn household_record(
    conn: &mut Conn<'_>,
    households: &[Uuid],
    campaign: Uuid,
) -> Result<(Vec<String>, bool), StoreError> {
    let query = nominations::table.filter(
        nominations::household_id
            .eq_any(households.iter().map(Uuid::to_string).collect::<Vec<_>>()),
    );
    let rows = on_backend!(conn, |c| query
        .select(PastNomination::as_select())
        .load(c)
        .await)?;
    let campaign = campaign.to_string();
    let mut awarded = Vec::new();
    let mut open = false;
    for r in rows {
        let state: State = parse(&r.state, "state")?;
        if r.campaign_id != campaign && state == State::Awarded {
            awarded.push(r.category);
        }
        if r.campaign_id == campaign && state.is_open() {
            open = true;
        }
    }
    Ok((awarded, open))
}

/// A nomination as stored.
#[derive(Debug, Clone)]
pub struct NominationRow {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub village: OrgCode,
    pub household_id: Uuid,
    pub category: String,
    pub channel: String,
    pub family: String,
    pub story: String,
    pub nominator: String,
    pub state: State,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = nominations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct NominationRecord {
    id: String,
    campaign_id: String,
    village_code: String,
    household_id: String,
    category: String,
    channel: String,
    family: String,
    story: String,
    nominator: String,
    state: String,
    created_at: NaiveDateTime,
}

impl TryFrom<NominationRecord> for NominationRow {
    type Error = StoreError;
    fn try_from(r: NominationRecord) -> Result<Self, StoreError> {
        Ok(NominationRow {
            id: uuid(&r.id)?,
            campaign_id: uuid(&r.campaign_id)?,
            village: parse(&r.village_code, "village code")?,
            household_id: uuid(&r.household_id)?,
            category: r.category,
            channel: r.channel,
            family: r.family,
            story: r.story,
            nominator: r.nominator,
            state: parse(&r.state, "state")?,
            created_at: utc(r.created_at),
        })
    }
}

impl From<&NominationRow> for NominationRecord {
    fn from(n: &NominationRow) -> Self {
        NominationRecord {
            id: n.id.to_string(),
            campaign_id: n.campaign_id.to_string(),
            village_code: n.village.to_string(),
            household_id: n.household_id.to_string(),
            category: n.category.clone(),
            channel: n.channel.clone(),
            family: n.family.clone(),
            story: n.story.clone(),
            nominator: n.nominator.clone(),
            state: n.state.as_str().to_owned(),
            created_at: naive(n.created_at),
        }
    }
}

pub async fn insert(conn: &mut Conn<'_>, n: &NominationRow) -> Result<(), StoreError> {
    let insert = diesel::insert_into(nominations::table).values((
        NominationRecord::from(n),
        nominations::updated_at.eq(naive(n.created_at)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

pub async fn get(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<NominationRow>, StoreError> {
    let query = nominations::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(NominationRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(NominationRow::try_from).transpose()
}

/// The nomination, locked until the transaction ends: decisions on it are serialised.
pub async fn lock(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<NominationRow>, StoreError> {
    let query = nominations::table.find(id.to_string());
    let row = locked!(conn, query.select(NominationRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    row.map(NominationRow::try_from).transpose()
}

/// Nominations of a campaign, optionally in one state, newest first.
pub async fn list(conn: &mut Conn<'_>, campaign: Uuid) -> Result<Vec<NominationRow>, StoreError> {
    let query = nominations::table
        .filter(nominations::campaign_id.eq(campaign.to_string()))
        .order(nominations::created_at.desc());
    let rows = on_backend!(conn, |c| query
        .select(NominationRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(NominationRow::try_from).collect()
}

/// The nominations of `campaign` in one of `states`, only those of `village` when given, by
/// village and then as they came in (the public 公示 lists).
pub async fn in_states(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    states: &[State],
    village: Option<OrgCode>,
) -> Result<Vec<NominationRow>, StoreError> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    // Every code is digits: "" to "~" spans them all.
    let (lo, hi) = village.map_or((String::new(), "~".to_owned()), |v| {
        (v.to_string(), v.to_string())
    });
    let query = nominations::table
        .filter(nominations::campaign_id.eq(campaign.to_string()))
        .filter(nominations::state.eq_any(states))
        .filter(nominations::village_code.between(lo, hi))
        .order((nominations::village_code, nominations::created_at));
    let rows = on_backend!(conn, |c| query
        .select(NominationRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(NominationRow::try_from).collect()
}

/// One line of a campaign's list: the nomination, its village's name and the last event of its
/// history that the eligibility hold did not write (what `stalled` is read from).
#[derive(Debug, Clone)]
pub struct CampaignListRow {
    pub nomination: NominationRow,
    /// `None` when the village code is not in the org tree.
    pub village_name: Option<String>,
    /// The newest history event not starting with `eligibility_`; `None` without one.
    pub last_visible_event: Option<String>,
}

/// The nominations of a campaign, newest first, each with its village's name and its last
/// visible event: one query however many nominations there are.
pub async fn campaign_rows(
    conn: &mut Conn<'_>,
    campaign: Uuid,
) -> Result<Vec<CampaignListRow>, StoreError> {
    let last_visible_event = nomination_history::table
        .filter(nomination_history::nomination_id.eq(nominations::id))
        .filter(
            nomination_history::event
                .not_like("eligibility\\_%")
                .escape('\\'),
        )
        .order(nomination_history::seq.desc())
        .select(nomination_history::event)
        .limit(1)
        .single_value();
    let query = nominations::table
        .left_join(orgs::table.on(orgs::code.eq(nominations::village_code)))
        .filter(nominations::campaign_id.eq(campaign.to_string()))
        .order(nominations::created_at.desc());
    type Line = (NominationRecord, Option<String>, Option<String>);
    let rows: Vec<Line> = on_backend!(conn, |c| query
        .select((
            NominationRecord::as_select(),
            orgs::name.nullable(),
            last_visible_event,
        ))
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|(nomination, village_name, last_visible_event)| {
            Ok(CampaignListRow {
                nomination: nomination.try_into()?,
                village_name,
                last_visible_event,
            })
        })
        .collect()
}

/// One change of state, as the history records it.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    pub from: State,
    pub to: State,
    pub event: &'a str,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
}

/// Moves a nomination and records the step in its history, in the caller's transaction.
pub async fn transition(
    conn: &mut Conn<'_>,
    id: Uuid,
    t: Transition<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Transition {
        from,
        to,
        event,
        actor,
        reason,
    } = t;
    // A step that leaves the state as it is (a note) never writes the state: a caller holding a
    // row read before the last change cannot put the old state back.
    if from == to {
        let touch = diesel::update(nominations::table.find(id.to_string()))
            .set(nominations::updated_at.eq(naive(now)));
        on_backend!(conn, |c| touch.execute(c).await)?;
    } else {
        let update = diesel::update(nominations::table.find(id.to_string())).set((
            nominations::state.eq(to.as_str()),
            nominations::updated_at.eq(naive(now)),
        ));
        on_backend!(conn, |c| update.execute(c).await)?;
    }
    let insert = diesel::insert_into(nomination_history::table).values((
        nomination_history::nomination_id.eq(id.to_string()),
        nomination_history::at.eq(naive(now)),
        nomination_history::actor.eq(actor),
        nomination_history::event.eq(event),
        nomination_history::from_state.eq(from.as_str()),
        nomination_history::to_state.eq(to.as_str()),
        nomination_history::reason.eq(reason),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// One step of a nomination's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub event: String,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = nomination_history, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct StepRecord {
    at: NaiveDateTime,
    actor: String,
    event: String,
    from_state: String,
    to_state: String,
    reason: Option<String>,
}

impl From<StepRecord> for Step {
    fn from(r: StepRecord) -> Self {
        Step {
            at: utc(r.at),
            actor: r.actor,
            event: r.event,
            from: r.from_state,
            to: r.to_state,
            reason: r.reason,
        }
    }
}

pub async fn history(conn: &mut Conn<'_>, id: Uuid) -> Result<Vec<Step>, StoreError> {
    let query = nomination_history::table
        .filter(nomination_history::nomination_id.eq(id.to_string()))
        .order(nomination_history::seq);
    let rows = on_backend!(conn, |c| query
        .select(StepRecord::as_select())
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(Step::from).collect())
}

/// A review task.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: Uuid,
    pub nomination_id: Uuid,
    pub level: Level,
    /// The unit that reviews at this level.
    pub unit: OrgCode,
    pub reviewer: Uuid,
    pub closed: bool,
    pub due_at: Option<DateTime<Utc>>,
}

pub async fn insert_task(
    conn: &mut Conn<'_>,
    t: &Task,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let insert = diesel::insert_into(review_tasks::table).values((
        review_tasks::id.eq(t.id.to_string()),
        review_tasks::nomination_id.eq(t.nomination_id.to_string()),
        review_tasks::level.eq(t.level.as_str()),
        review_tasks::org_code.eq(t.unit.to_string()),
        review_tasks::reviewer.eq(t.reviewer.to_string()),
        review_tasks::created_at.eq(naive(now)),
        review_tasks::due_at.eq(t.due_at.map(naive)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = review_tasks, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct TaskRecord {
    id: String,
    nomination_id: String,
    level: String,
    org_code: String,
    reviewer: String,
    closed_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
}

impl TryFrom<TaskRecord> for Task {
    type Error = StoreError;
    fn try_from(r: TaskRecord) -> Result<Self, StoreError> {
        Ok(Task {
            id: uuid(&r.id)?,
            nomination_id: uuid(&r.nomination_id)?,
            level: parse(&r.level, "task level")?,
            unit: parse(&r.org_code, "task unit")?,
            reviewer: uuid(&r.reviewer)?,
            closed: r.closed_at.is_some(),
            due_at: r.due_at.map(utc),
        })
    }
}

pub async fn get_task(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<Task>, StoreError> {
    let query = review_tasks::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(TaskRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(Task::try_from).transpose()
}

/// Closes every open task of a nomination's level; the deciding one records the decision.
pub async fn close_tasks(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    level: &str,
    decided: Uuid,
    decision: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let decide = diesel::update(review_tasks::table.find(decided.to_string())).set((
        review_tasks::decided_at.eq(Some(naive(now))),
        review_tasks::decision.eq(Some(decision)),
    ));
    on_backend!(conn, |c| decide.execute(c).await)?;
    let close = diesel::update(
        review_tasks::table
            .filter(review_tasks::nomination_id.eq(nomination.to_string()))
            .filter(review_tasks::level.eq(level.to_owned()))
            .filter(review_tasks::closed_at.is_null()),
    )
    .set(review_tasks::closed_at.eq(Some(naive(now))));
    on_backend!(conn, |c| close.execute(c).await)?;
    Ok(())
}

/// How many nominations `org` forwarded at `level` in `campaign`.
pub async fn forwarded_count(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    level: &str,
    org: &str,
) -> Result<i64, StoreError> {
    let query = forwarded::table
        .filter(forwarded::campaign_id.eq(campaign.to_string()))
        .filter(forwarded::level.eq(level.to_owned()))
        .filter(forwarded::org_code.eq(org.to_owned()))
        .count();
    Ok(on_backend!(conn, |c| query.get_result(c).await)?)
}

pub async fn record_forwarded(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    level: &str,
    org: &str,
    nomination: Uuid,
) -> Result<(), StoreError> {
    let insert = diesel::insert_into(forwarded::table).values((
        forwarded::campaign_id.eq(campaign.to_string()),
        forwarded::level.eq(level),
        forwarded::org_code.eq(org),
        forwarded::nomination_id.eq(nomination.to_string()),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The review tasks of a nomination's level.
pub async fn tasks(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    level: &str,
) -> Result<Vec<Task>, StoreError> {
    let query = review_tasks::table
        .filter(review_tasks::nomination_id.eq(nomination.to_string()))
        .filter(review_tasks::level.eq(level.to_owned()));
    let rows = on_backend!(conn, |c| query
        .select(TaskRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(Task::try_from).collect()
}

/// A reviewer's open tasks, oldest first, with the nomination's family (the program's JSON,
/// read by the program) and category.
pub async fn open_tasks_for(
    conn: &mut Conn<'_>,
    reviewer: Uuid,
) -> Result<Vec<(Task, String, String)>, StoreError> {
    let query = review_tasks::table
        .inner_join(nominations::table)
        .filter(review_tasks::reviewer.eq(reviewer.to_string()))
        .filter(review_tasks::closed_at.is_null())
        .order(review_tasks::created_at);
    type Open = (TaskRecord, String, String);
    let rows: Vec<Open> = on_backend!(conn, |c| query
        .select((
            TaskRecord::as_select(),
            nominations::family,
            nominations::category,
        ))
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|(task, family, category)| Ok((task.try_into()?, family, category)))
        .collect()
}

/// Closes one task with its decision (a level that needs every reviewer's approval).
pub async fn close_task(
    conn: &mut Conn<'_>,
    task: Uuid,
    decision: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = diesel::update(review_tasks::table.find(task.to_string())).set((
        review_tasks::decided_at.eq(Some(naive(now))),
        review_tasks::decision.eq(Some(decision)),
        review_tasks::closed_at.eq(Some(naive(now))),
    ));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// Replaces a nomination's story (a resubmission).
pub async fn set_story(conn: &mut Conn<'_>, id: Uuid, story: &str) -> Result<(), StoreError> {
    let update =
        diesel::update(nominations::table.find(id.to_string())).set(nominations::story.eq(story));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// Which of a campaign's nominations a dashboard page, the list API or an export asks for; every
/// part is applied in SQL.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only villages within each of these units (a part of the campaign's area, a chosen
    /// township). Leave the campaign's own area out: every nomination lies within it, and a
    /// range on the village code turns the newest-first walk of an index into a sort.
    pub within: Vec<OrgCode>,
    /// Only these stored states (`None`: any; empty: none). The program maps a state people
    /// see to the stored states shown as it.
    pub states: Option<Vec<String>>,
    /// Only those whose current level has no active reviewer.
    pub stalled: bool,
    /// Only those with an open review task due before this instant.
    pub overdue_at: Option<DateTime<Utc>>,
}

/// A row's place in the list's order (newest first, ties by id descending): what a keyset
/// page starts after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListKey {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Which rows of the filtered list to return: those after `after` (keyset paging, when
/// given), skipping `offset` of them, at most `limit` (`None`: all, for exports).
#[derive(Debug, Clone, Copy, Default)]
pub struct Slice {
    pub after: Option<ListKey>,
    pub offset: u64,
    pub limit: Option<u64>,
}

/// The codes of every unit within `unit`, as an inclusive range of 12-digit strings: a
/// prefix search that both backends answer from an ordinary index.
fn code_range(unit: &OrgCode) -> (String, String) {
    use jinguo_core::org::OrgLevel;
    let keep = match unit.level() {
        OrgLevel::Province => 2,
        OrgLevel::City => 4,
        OrgLevel::County => 6,
        OrgLevel::Township => 9,
        OrgLevel::Village => 12,
    };
    let prefix = &unit.as_str()[..keep];
    (
        format!("{prefix:0<12}"),
        format!("{prefix}{}", "9".repeat(12 - keep)),
    )
}

/// The newest visible event of the nomination in the outer query (eligibility events do not
/// count): what `stalled` is read from.
macro_rules! last_visible_event {
    () => {
        nomination_history::table
            .filter(nomination_history::nomination_id.eq(nominations::id))
            .filter(
                nomination_history::event
                    .not_like("eligibility\\_%")
                    .escape('\\'),
            )
            .order(nomination_history::seq.desc())
            .select(nomination_history::event)
            .limit(1)
            .single_value()
    };
}

/// Applies a [`ListFilter`] to a boxed query over `nominations` of `campaign`.
macro_rules! filtered {
    ($query:expr, $campaign:expr, $filter:expr) => {{
        let filter: &ListFilter = $filter;
        let mut q = $query.filter(nominations::campaign_id.eq($campaign.to_string()));
        for unit in &filter.within {
            let (lo, hi) = code_range(unit);
            q = q.filter(nominations::village_code.between(lo, hi));
        }
        if let Some(states) = &filter.states {
            q = q.filter(nominations::state.eq_any(states.clone()));
        }
        if filter.stalled {
            // Candidates from the partial index of `no_reviewer` events, then the exact test.
            let ever = nomination_history::table
                .filter(nomination_history::event.eq(STALLED_EVENT))
                .select(nomination_history::nomination_id);
            q = q
                .filter(nominations::id.eq_any(ever))
                .filter(last_visible_event!().eq(STALLED_EVENT));
        }
        if let Some(at) = filter.overdue_at {
            let overdue = review_tasks::table
                .filter(review_tasks::closed_at.is_null())
                .filter(review_tasks::due_at.lt(naive(at)))
                .select(review_tasks::nomination_id);
            q = q.filter(nominations::id.eq_any(overdue));
        }
        q
    }};
}

/// The history event of a level opened without an active reviewer.
const STALLED_EVENT: &str = "no_reviewer";

/// The nominations of any campaign waiting in one of `$states` within `$unit` whose newest
/// visible event is `no_reviewer`: stalled at that unit for want of a reviewer. The candidates
/// come from the partial index of `no_reviewer` events.
macro_rules! stalled_within {
    ($unit:expr, $states:expr) => {
        stalled_within!($unit, $states, STALLED_EVENT)
    };
    ($unit:expr, $states:expr, $event:expr) => {{
        let states: Vec<&str> = $states.iter().map(|s| s.as_str()).collect();
        let (lo, hi) = code_range($unit);
        let ever = nomination_history::table
            .filter(nomination_history::event.eq($event))
            .select(nomination_history::nomination_id);
        nominations::table
            .filter(nominations::state.eq_any(states))
            .filter(nominations::village_code.between(lo, hi))
            .filter(nominations::id.eq_any(ever))
            .filter(last_visible_event!().eq($event))
    }};
}

/// The nominations stalled at `unit` in one of `states` (see [`stalled_within!`]), oldest first.
pub async fn stalled_within(
    conn: &mut Conn<'_>,
    unit: &OrgCode,
    states: &[State],
) -> Result<Vec<NominationRow>, StoreError> {
    waiting_within(conn, unit, states, STALLED_EVENT).await
}

/// The nominations within `unit` in one of `states` whose newest visible event is `event` (a
/// wait the system noted, e.g. an objection with nobody to investigate it), oldest first.
pub async fn waiting_within(
    conn: &mut Conn<'_>,
    unit: &OrgCode,
    states: &[State],
    event: &str,
) -> Result<Vec<NominationRow>, StoreError> {
    let query =
        stalled_within!(unit, states, event).order((nominations::created_at, nominations::id));
    let rows = on_backend!(conn, |c| query
        .select(NominationRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(NominationRow::try_from).collect()
}

/// How many nominations are stalled at `unit` in one of `states`: a count, for the question
/// "is this the first?" asked at every stall.
pub async fn count_stalled_within(
    conn: &mut Conn<'_>,
    unit: &OrgCode,
    states: &[State],
) -> Result<i64, StoreError> {
    let query = stalled_within!(unit, states).count();
    Ok(on_backend!(conn, |c| query.get_result(c).await)?)
}

/// How many nominations of `campaign` each village within `area` holds in each stored state:
/// one grouped query over a covering index.
pub async fn village_state_counts(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    area: &OrgCode,
) -> Result<Vec<VillageStateCount>, StoreError> {
    let (lo, hi) = code_range(area);
    let query = nominations::table
        .filter(nominations::campaign_id.eq(campaign.to_string()))
        .filter(nominations::village_code.between(lo, hi))
        .group_by((nominations::village_code, nominations::state))
        .select((
            nominations::village_code,
            nominations::state,
            diesel::dsl::count_star(),
        ));
    let rows: Vec<(String, String, i64)> = on_backend!(conn, |c| query.load(c).await)?;
    rows.into_iter().map(VillageStateCount::from_row).collect()
}

impl VillageStateCount {
    /// A `(village_code, state, count)` row of a grouped count.
    fn from_row((village, state, count): (String, String, i64)) -> Result<Self, StoreError> {
        Ok(VillageStateCount {
            village: parse(&village, "village code")?,
            state: parse(&state, "state")?,
            count: u64::try_from(count).unwrap_or(0),
        })
    }
}

/// One cell of [`village_state_counts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VillageStateCount {
    pub village: OrgCode,
    pub state: State,
    pub count: u64,
}

/// How many nominations of `campaign` match `filter`.
pub async fn count_filtered(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    filter: &ListFilter,
) -> Result<u64, StoreError> {
    let n: i64 = on_backend!(conn, |c| {
        filtered!(nominations::table.into_boxed(), campaign, filter)
            .count()
            .get_result(c)
            .await
    })?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One line of a campaign's dashboard, list or export: what the row shows, without the story.
#[derive(Debug, Clone)]
pub struct ListedNomination {
    pub id: Uuid,
    pub village: OrgCode,
    /// `None` when the village code is not in the org tree.
    pub village_name: Option<String>,
    /// The village's township (its parent in the org tree) and its name; `None` when the
    /// village is not in the tree.
    pub township_name: Option<String>,
    pub category: String,
    pub channel: String,
    /// JSON, read by the nominations program.
    pub family: String,
    /// As stored (the program decides what a viewer sees).
    pub state: State,
    pub created_at: DateTime<Utc>,
    /// The earliest deadline of the nomination's open review tasks.
    pub due_at: Option<DateTime<Utc>>,
    /// The newest history event not written by the eligibility hold.
    pub last_visible_event: Option<String>,
}

impl ListedNomination {
    /// Where this row stands in the list's order: the key a next page starts after.
    pub fn key(&self) -> ListKey {
        ListKey {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = nominations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct ListedRecord {
    id: String,
    village_code: String,
    category: String,
    channel: String,
    family: String,
    state: String,
    created_at: NaiveDateTime,
}

/// The nominations of `campaign` that match `filter`, newest first (ties by id), the rows of
/// `slice`: one query. Its inner SELECT finds the page's ids by walking an index that holds
/// the order and every filtered column (an OFFSET skips index entries, not rows with their
/// subqueries); the outer one reads only those rows, with their village's and township's
/// names, earliest open deadline and last visible event.
pub async fn list_filtered(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    filter: &ListFilter,
    slice: Slice,
) -> Result<Vec<ListedNomination>, StoreError> {
    let offset = i64::try_from(slice.offset).unwrap_or(i64::MAX);
    let limit = slice.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
    let after = slice.after.map(|k| (naive(k.created_at), k.id.to_string()));
    let (village, township) = diesel::alias!(orgs as village_org, orgs as township_org);
    type Line = (
        ListedRecord,
        Option<String>,
        Option<String>,
        Option<NaiveDateTime>,
        Option<String>,
    );
    let rows: Vec<Line> = on_backend!(conn, |c| {
        let mut ids = filtered!(nominations::table.into_boxed(), campaign, filter)
            .order((nominations::created_at.desc(), nominations::id.desc()))
            .select(nominations::id)
            .offset(offset);
        if let Some((at, id)) = after.clone() {
            // `created_at <= at` first: a range the index can seek to.
            ids = ids.filter(nominations::created_at.le(at)).filter(
                nominations::created_at
                    .lt(at)
                    .or(nominations::created_at.eq(at).and(nominations::id.lt(id))),
            );
        }
        if let Some(limit) = limit {
            ids = ids.limit(limit);
        } else if offset > 0 {
            // SQLite takes an OFFSET only after a LIMIT.
            ids = ids.limit(i64::MAX);
        }
        let due_at = review_tasks::table
            .filter(review_tasks::nomination_id.eq(nominations::id))
            .filter(review_tasks::closed_at.is_null())
            .filter(review_tasks::due_at.is_not_null())
            .order(review_tasks::due_at.asc())
            .select(review_tasks::due_at)
            .limit(1)
            .single_value();
        nominations::table
            .left_join(village.on(village.field(orgs::code).eq(nominations::village_code)))
            .left_join(
                township.on(township
                    .field(orgs::code)
                    .nullable()
                    .eq(village.field(orgs::parent_code))),
            )
            .filter(nominations::id.eq_any(ids))
            .order((nominations::created_at.desc(), nominations::id.desc()))
            .select((
                ListedRecord::as_select(),
                village.field(orgs::name).nullable(),
                township.field(orgs::name).nullable(),
                due_at,
                last_visible_event!(),
            ))
            .load(c)
            .await
    })?;
    rows.into_iter()
        .map(
            |(r, village_name, township_name, due_at, last_visible_event)| {
                Ok(ListedNomination {
                    id: uuid(&r.id)?,
                    village: parse(&r.village_code, "village code")?,
                    village_name,
                    township_name,
                    category: r.category,
                    channel: r.channel,
                    family: r.family,
                    state: parse(&r.state, "state")?,
                    created_at: utc(r.created_at),
                    due_at: due_at.map(utc),
                    last_visible_event,
                })
            },
        )
        .collect()
}

/// The next sequence number of nominations in `county` for campaign year `year`, inside the
/// caller's transaction (the counter row is updated, so concurrent submissions queue on it and
/// never share a number).
pub async fn next_reference_seq(
    conn: &mut Conn<'_>,
    county: &str,
    year: i32,
) -> Result<u32, StoreError> {
    let seed = diesel::insert_into(nomination_counters::table)
        .values((
            nomination_counters::county_code.eq(county),
            nomination_counters::year.eq(year),
            nomination_counters::last_seq.eq(0),
        ))
        .on_conflict_do_nothing();
    on_backend!(conn, |c| seed.execute(c).await)?;
    let bump = diesel::update(nomination_counters::table.find((county, year)))
        .set(nomination_counters::last_seq.eq(nomination_counters::last_seq + 1));
    on_backend!(conn, |c| bump.execute(c).await)?;
    let read = nomination_counters::table
        .find((county, year))
        .select(nomination_counters::last_seq);
    let seq: i32 = on_backend!(conn, |c| read.first(c).await)?;
    u32::try_from(seq).map_err(|_| StoreError::corrupt("negative nomination counter"))
}

/// Gives nomination `id` its readable reference (unique).
pub async fn set_reference(
    conn: &mut Conn<'_>,
    id: Uuid,
    reference: &str,
) -> Result<(), StoreError> {
    let update = diesel::update(nominations::table.find(id.to_string()))
        .set(nominations::reference.eq(reference));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// The readable reference of nomination `id`, if it has one.
pub async fn reference(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<String>, StoreError> {
    let query = nominations::table
        .find(id.to_string())
        .select(nominations::reference);
    let found: Option<Option<String>> = on_backend!(conn, |c| query.first(c).await.optional())?;
    Ok(found.flatten())
}

/// An open review task with what the daily digest shows of its nomination.
#[derive(Debug, Clone)]
pub struct OpenReviewTask {
    pub task: Task,
    /// The program's JSON of the family, read by the program.
    pub family: String,
    pub category: String,
    /// The nomination's state now: the task is current only while it is under review at the
    /// task's level.
    pub state: State,
}

/// Every open review task whose nomination is in one of `states`, oldest first: one query for
/// all reviewers (the daily digest).
pub async fn open_review_tasks(
    conn: &mut Conn<'_>,
    states: &[State],
) -> Result<Vec<OpenReviewTask>, StoreError> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let query = review_tasks::table
        .inner_join(nominations::table)
        .filter(review_tasks::closed_at.is_null())
        .filter(nominations::state.eq_any(states))
        .order((review_tasks::created_at, review_tasks::id));
    type Open = (TaskRecord, String, String, String);
    let rows: Vec<Open> = on_backend!(conn, |c| query
        .select((
            TaskRecord::as_select(),
            nominations::family,
            nominations::category,
            nominations::state,
        ))
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|(task, family, category, state)| {
            Ok(OpenReviewTask {
                task: task.try_into()?,
                family,
                category,
                state: parse(&state, "state")?,
            })
        })
        .collect()
}

/// How many nominations stalled for want of a reviewer (newest visible event `no_reviewer`, as
/// in [`stalled_within`]) each village holds in each of `states`, across campaigns: one grouped
/// query (the daily digest of the county admins).
pub async fn stalled_counts(
    conn: &mut Conn<'_>,
    states: &[State],
) -> Result<Vec<VillageStateCount>, StoreError> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let ever = nomination_history::table
        .filter(nomination_history::event.eq(STALLED_EVENT))
        .select(nomination_history::nomination_id);
    let query = nominations::table
        .filter(nominations::state.eq_any(states))
        .filter(nominations::id.eq_any(ever))
        .filter(last_visible_event!().eq(STALLED_EVENT))
        .group_by((nominations::village_code, nominations::state))
        .select((
            nominations::village_code,
            nominations::state,
            diesel::dsl::count_star(),
        ));
    let rows: Vec<(String, String, i64)> = on_backend!(conn, |c| query.load(c).await)?;
    rows.into_iter().map(VillageStateCount::from_row).collect()
}
