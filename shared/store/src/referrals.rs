//! 反家暴 referrals: cases (sensitive fields sealed by the caller, stored as opaque text),
//! case numbers, tasks, the timeline, who may read a case, and legal clocks.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::auth::Agency;
use jinguo_core::org::OrgCode;
use jinguo_core::referrals::{
    CaseNumber, ConsentBasis, Outcome, RiskLevel, Source, State, TaskState,
};
use uuid::Uuid;

use crate::error::{org, parse};
use crate::json::{naive, utc};
use crate::schema::{
    referral_access, referral_clocks, referral_counters, referral_events, referral_tasks, referrals,
};
use crate::{Conn, StoreError, locked, on_backend};

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    parse(s, "id")
}

/// A case as stored. The sealed fields are opaque here: only the program opens them.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralRow {
    pub id: Uuid,
    pub case_number: CaseNumber,
    pub county: OrgCode,
    pub village: OrgCode,
    pub source: Source,
    pub state: State,
    pub risk: Option<RiskLevel>,
    pub risk_score: Option<i32>,
    pub consent: ConsentBasis,
    pub assigned_officer: Option<Uuid>,
    pub victim_sealed: String,
    pub reporter_sealed: Option<String>,
    pub incident_sealed: String,
    pub outcome: Option<Outcome>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = referrals, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct ReferralRecord {
    id: String,
    case_number: String,
    county_code: String,
    village_code: String,
    source: String,
    state: String,
    risk_level: Option<String>,
    risk_score: Option<i32>,
    consent_basis: String,
    assigned_officer: Option<String>,
    victim_sealed: String,
    reporter_sealed: Option<String>,
    incident_sealed: String,
    outcome: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<ReferralRecord> for ReferralRow {
    type Error = StoreError;
    fn try_from(r: ReferralRecord) -> Result<Self, StoreError> {
        Ok(ReferralRow {
            id: uuid(&r.id)?,
            case_number: CaseNumber::parse(&r.case_number)
                .ok_or_else(|| StoreError::corrupt(format!("case number {:?}", r.case_number)))?,
            county: org(&r.county_code)?,
            village: org(&r.village_code)?,
            source: parse(&r.source, "referral source")?,
            state: parse(&r.state, "referral state")?,
            risk: r
                .risk_level
                .as_deref()
                .map(|l| parse(l, "risk level"))
                .transpose()?,
            risk_score: r.risk_score,
            consent: parse(&r.consent_basis, "consent basis")?,
            assigned_officer: r.assigned_officer.as_deref().map(uuid).transpose()?,
            victim_sealed: r.victim_sealed,
            reporter_sealed: r.reporter_sealed,
            incident_sealed: r.incident_sealed,
            outcome: r
                .outcome
                .as_deref()
                .map(|o| parse(o, "outcome"))
                .transpose()?,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        })
    }
}

impl From<&ReferralRow> for ReferralRecord {
    fn from(r: &ReferralRow) -> Self {
        ReferralRecord {
            id: r.id.to_string(),
            case_number: r.case_number.to_string(),
            county_code: r.county.to_string(),
            village_code: r.village.to_string(),
            source: r.source.as_str().to_owned(),
            state: r.state.as_str().to_owned(),
            risk_level: r.risk.map(|l| l.as_str().to_owned()),
            risk_score: r.risk_score,
            consent_basis: r.consent.as_str().to_owned(),
            assigned_officer: r.assigned_officer.map(|p| p.to_string()),
            victim_sealed: r.victim_sealed.clone(),
            reporter_sealed: r.reporter_sealed.clone(),
            incident_sealed: r.incident_sealed.clone(),
            outcome: r.outcome.map(|o| o.as_str().to_owned()),
            created_at: naive(r.created_at),
            updated_at: naive(r.updated_at),
        }
    }
}

/// The next case number of `county` in `year`, inside the caller's transaction (the counter
/// row is updated, so concurrent intakes queue on it and never share a number).
pub async fn next_case_number(
    conn: &mut Conn<'_>,
    county: OrgCode,
    year: i32,
) -> Result<CaseNumber, StoreError> {
    let code = county.to_string();
    let seed = diesel::insert_into(referral_counters::table)
        .values((
            referral_counters::county_code.eq(&code),
            referral_counters::year.eq(year),
            referral_counters::last_seq.eq(0),
        ))
        .on_conflict_do_nothing();
    on_backend!(conn, |c| seed.execute(c).await)?;
    let bump = diesel::update(referral_counters::table.find((&code, year)))
        .set(referral_counters::last_seq.eq(referral_counters::last_seq + 1));
    on_backend!(conn, |c| bump.execute(c).await)?;
    let read = referral_counters::table
        .find((&code, year))
        .select(referral_counters::last_seq);
    let seq: i32 = on_backend!(conn, |c| read.first(c).await)?;
    let seq = u32::try_from(seq).map_err(|_| StoreError::corrupt("negative case counter"))?;
    Ok(CaseNumber::new(county, year, seq))
}

pub async fn insert(conn: &mut Conn<'_>, r: &ReferralRow) -> Result<(), StoreError> {
    let insert = diesel::insert_into(referrals::table).values(ReferralRecord::from(r));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

pub async fn get(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<ReferralRow>, StoreError> {
    let query = referrals::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(ReferralRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(ReferralRow::try_from).transpose()
}

/// The case, locked until the transaction ends: steps on it are serialised.
pub async fn lock(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<ReferralRow>, StoreError> {
    let query = referrals::table.find(id.to_string());
    let row = locked!(conn, query.select(ReferralRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    row.map(ReferralRow::try_from).transpose()
}

pub async fn by_case_number(
    conn: &mut Conn<'_>,
    number: &CaseNumber,
) -> Result<Option<ReferralRow>, StoreError> {
    let query = referrals::table.filter(referrals::case_number.eq(number.to_string()));
    let row = on_backend!(conn, |c| query
        .select(ReferralRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(ReferralRow::try_from).transpose()
}

/// Writes back everything a step may change (state, risk, officer, sealed fields, outcome).
pub async fn update(conn: &mut Conn<'_>, r: &ReferralRow) -> Result<(), StoreError> {
    let update = diesel::update(referrals::table.find(r.id.to_string())).set((
        referrals::state.eq(r.state.as_str()),
        referrals::risk_level.eq(r.risk.map(RiskLevel::as_str)),
        referrals::risk_score.eq(r.risk_score),
        referrals::consent_basis.eq(r.consent.as_str()),
        referrals::assigned_officer.eq(r.assigned_officer.map(|p| p.to_string())),
        referrals::victim_sealed.eq(&r.victim_sealed),
        referrals::reporter_sealed.eq(r.reporter_sealed.as_deref()),
        referrals::incident_sealed.eq(&r.incident_sealed),
        referrals::outcome.eq(r.outcome.map(Outcome::as_str)),
        referrals::updated_at.eq(naive(r.updated_at)),
    ));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// Cases by id (for lists built from access rows), newest first.
pub async fn by_ids(conn: &mut Conn<'_>, ids: &[Uuid]) -> Result<Vec<ReferralRow>, StoreError> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let query = referrals::table
        .filter(referrals::id.eq_any(ids))
        .order(referrals::created_at.desc());
    let rows = on_backend!(conn, |c| query
        .select(ReferralRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(ReferralRow::try_from).collect()
}

/// What someone must acknowledge about a case: taking it, or an agency's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Intake,
    Agency(Agency),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: Uuid,
    pub referral: Uuid,
    pub kind: TaskKind,
    pub owner_unit: OrgCode,
    pub state: TaskState,
    pub opened_at: DateTime<Utc>,
    pub ack_due_at: DateTime<Utc>,
    pub act_due_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<Uuid>,
    pub settled_at: Option<DateTime<Utc>>,
    /// How many ladder steps have been notified (0 before the first).
    pub escalations: i32,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = referral_tasks, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct TaskRecord {
    id: String,
    referral_id: String,
    kind: String,
    agency: Option<String>,
    owner_unit: String,
    state: String,
    opened_at: NaiveDateTime,
    ack_due_at: NaiveDateTime,
    act_due_at: Option<NaiveDateTime>,
    acknowledged_at: Option<NaiveDateTime>,
    acknowledged_by: Option<String>,
    settled_at: Option<NaiveDateTime>,
    escalations: i32,
}

impl TryFrom<TaskRecord> for TaskRow {
    type Error = StoreError;
    fn try_from(r: TaskRecord) -> Result<Self, StoreError> {
        let kind = match (r.kind.as_str(), r.agency.as_deref()) {
            ("intake", _) => TaskKind::Intake,
            ("agency", Some(a)) => TaskKind::Agency(parse(a, "agency")?),
            _ => return Err(StoreError::corrupt(format!("task kind {:?}", r.kind))),
        };
        Ok(TaskRow {
            id: uuid(&r.id)?,
            referral: uuid(&r.referral_id)?,
            kind,
            owner_unit: org(&r.owner_unit)?,
            state: parse(&r.state, "task state")?,
            opened_at: utc(r.opened_at),
            ack_due_at: utc(r.ack_due_at),
            act_due_at: r.act_due_at.map(utc),
            acknowledged_at: r.acknowledged_at.map(utc),
            acknowledged_by: r.acknowledged_by.as_deref().map(uuid).transpose()?,
            settled_at: r.settled_at.map(utc),
            escalations: r.escalations,
        })
    }
}

impl From<&TaskRow> for TaskRecord {
    fn from(t: &TaskRow) -> Self {
        let (kind, agency) = match t.kind {
            TaskKind::Intake => ("intake", None),
            TaskKind::Agency(a) => ("agency", Some(a.as_str().to_owned())),
        };
        TaskRecord {
            id: t.id.to_string(),
            referral_id: t.referral.to_string(),
            kind: kind.to_owned(),
            agency,
            owner_unit: t.owner_unit.to_string(),
            state: t.state.as_str().to_owned(),
            opened_at: naive(t.opened_at),
            ack_due_at: naive(t.ack_due_at),
            act_due_at: t.act_due_at.map(naive),
            acknowledged_at: t.acknowledged_at.map(naive),
            acknowledged_by: t.acknowledged_by.map(|p| p.to_string()),
            settled_at: t.settled_at.map(naive),
            escalations: t.escalations,
        }
    }
}

pub async fn insert_task(conn: &mut Conn<'_>, t: &TaskRow) -> Result<(), StoreError> {
    let insert = diesel::insert_into(referral_tasks::table).values(TaskRecord::from(t));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The task, locked until the transaction ends.
pub async fn lock_task(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<TaskRow>, StoreError> {
    let query = referral_tasks::table.find(id.to_string());
    let row = locked!(conn, query.select(TaskRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    row.map(TaskRow::try_from).transpose()
}

/// The tasks of a case, oldest first.
pub async fn tasks(conn: &mut Conn<'_>, referral: Uuid) -> Result<Vec<TaskRow>, StoreError> {
    let query = referral_tasks::table
        .filter(referral_tasks::referral_id.eq(referral.to_string()))
        .order((referral_tasks::opened_at, referral_tasks::id));
    let rows = on_backend!(conn, |c| query
        .select(TaskRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(TaskRow::try_from).collect()
}

/// Writes back a task's state, acknowledgement, settlement and escalation count.
pub async fn update_task(conn: &mut Conn<'_>, t: &TaskRow) -> Result<(), StoreError> {
    let update = diesel::update(referral_tasks::table.find(t.id.to_string())).set((
        referral_tasks::state.eq(t.state.as_str()),
        referral_tasks::act_due_at.eq(t.act_due_at.map(naive)),
        referral_tasks::acknowledged_at.eq(t.acknowledged_at.map(naive)),
        referral_tasks::acknowledged_by.eq(t.acknowledged_by.map(|p| p.to_string())),
        referral_tasks::settled_at.eq(t.settled_at.map(naive)),
        referral_tasks::escalations.eq(t.escalations),
    ));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// One line of a case's timeline. `details` is JSON without personal data; `note_sealed` is
/// free text, sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: Uuid,
    pub referral: Uuid,
    pub task: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub details: serde_json::Value,
    pub note_sealed: Option<String>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = referral_events, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct EventRecord {
    id: String,
    referral_id: String,
    task_id: Option<String>,
    at: NaiveDateTime,
    actor: String,
    kind: String,
    details: String,
    note_sealed: Option<String>,
}

pub async fn insert_event(conn: &mut Conn<'_>, e: &EventRow) -> Result<(), StoreError> {
    let insert = diesel::insert_into(referral_events::table).values(EventRecord {
        id: e.id.to_string(),
        referral_id: e.referral.to_string(),
        task_id: e.task.map(|t| t.to_string()),
        at: naive(e.at),
        actor: e.actor.clone(),
        kind: e.kind.clone(),
        details: e.details.to_string(),
        note_sealed: e.note_sealed.clone(),
    });
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// A case's timeline, oldest first.
pub async fn events(conn: &mut Conn<'_>, referral: Uuid) -> Result<Vec<EventRow>, StoreError> {
    let query = referral_events::table
        .filter(referral_events::referral_id.eq(referral.to_string()))
        .order((referral_events::at, referral_events::id));
    let rows = on_backend!(conn, |c| query
        .select(EventRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(EventRow {
                id: uuid(&r.id)?,
                referral: uuid(&r.referral_id)?,
                task: r.task_id.as_deref().map(uuid).transpose()?,
                at: utc(r.at),
                actor: r.actor,
                kind: r.kind,
                details: serde_json::from_str(&r.details)
                    .map_err(|e| StoreError::corrupt(format!("event details: {e}")))?,
                note_sealed: r.note_sealed,
            })
        })
        .collect()
}

/// Grants `person` read access to the case for `reason`; `false` when they had it already.
pub async fn grant(
    conn: &mut Conn<'_>,
    referral: Uuid,
    person: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let insert = diesel::insert_into(referral_access::table)
        .values((
            referral_access::referral_id.eq(referral.to_string()),
            referral_access::person_id.eq(person.to_string()),
            referral_access::reason.eq(reason),
            referral_access::granted_at.eq(naive(now)),
        ))
        .on_conflict_do_nothing();
    let n = on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(n == 1)
}

/// Everyone granted access to the case.
pub async fn readers(conn: &mut Conn<'_>, referral: Uuid) -> Result<Vec<Uuid>, StoreError> {
    let query = referral_access::table
        .filter(referral_access::referral_id.eq(referral.to_string()))
        .select(referral_access::person_id);
    let rows: Vec<String> = on_backend!(conn, |c| query.load(c).await)?;
    rows.iter().map(|p| uuid(p)).collect()
}

/// The cases `person` was granted access to.
pub async fn cases_of(conn: &mut Conn<'_>, person: Uuid) -> Result<Vec<Uuid>, StoreError> {
    let query = referral_access::table
        .filter(referral_access::person_id.eq(person.to_string()))
        .select(referral_access::referral_id);
    let rows: Vec<String> = on_backend!(conn, |c| query.load(c).await)?;
    rows.iter().map(|p| uuid(p)).collect()
}

/// A legal clock of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockRow {
    pub id: Uuid,
    pub referral: Uuid,
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
    /// running, warned, breached, met or stopped.
    pub state: String,
    pub settled_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = referral_clocks, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct ClockRecord {
    id: String,
    referral_id: String,
    kind: String,
    started_at: NaiveDateTime,
    due_at: NaiveDateTime,
    warn_at: NaiveDateTime,
    state: String,
    settled_at: Option<NaiveDateTime>,
}

impl TryFrom<ClockRecord> for ClockRow {
    type Error = StoreError;
    fn try_from(r: ClockRecord) -> Result<Self, StoreError> {
        Ok(ClockRow {
            id: uuid(&r.id)?,
            referral: uuid(&r.referral_id)?,
            kind: r.kind,
            started_at: utc(r.started_at),
            due_at: utc(r.due_at),
            warn_at: utc(r.warn_at),
            state: r.state,
            settled_at: r.settled_at.map(utc),
        })
    }
}

pub async fn insert_clock(conn: &mut Conn<'_>, k: &ClockRow) -> Result<(), StoreError> {
    let insert = diesel::insert_into(referral_clocks::table).values(ClockRecord {
        id: k.id.to_string(),
        referral_id: k.referral.to_string(),
        kind: k.kind.clone(),
        started_at: naive(k.started_at),
        due_at: naive(k.due_at),
        warn_at: naive(k.warn_at),
        state: k.state.clone(),
        settled_at: k.settled_at.map(naive),
    });
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The clock, locked until the transaction ends.
pub async fn lock_clock(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<ClockRow>, StoreError> {
    let query = referral_clocks::table.find(id.to_string());
    let row = locked!(conn, query.select(ClockRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    row.map(ClockRow::try_from).transpose()
}

pub async fn clocks(conn: &mut Conn<'_>, referral: Uuid) -> Result<Vec<ClockRow>, StoreError> {
    let query = referral_clocks::table
        .filter(referral_clocks::referral_id.eq(referral.to_string()))
        .order((referral_clocks::due_at, referral_clocks::id));
    let rows = on_backend!(conn, |c| query
        .select(ClockRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(ClockRow::try_from).collect()
}

pub async fn set_clock_state(
    conn: &mut Conn<'_>,
    id: Uuid,
    state: &str,
    settled_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let update = diesel::update(referral_clocks::table.find(id.to_string())).set((
        referral_clocks::state.eq(state),
        referral_clocks::settled_at.eq(settled_at.map(naive)),
    ));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

pub async fn get_task(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<TaskRow>, StoreError> {
    let query = referral_tasks::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(TaskRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(TaskRow::try_from).transpose()
}
