//! Lecture tours (巡回宣讲): volunteers, tours, their villages and their published sessions.
//! What a tour asks for (`spec`) and its computed plan are JSON the tours program reads; the
//! rest is typed here.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::org::OrgCode;
use uuid::Uuid;

use crate::error::{org, parse};
use crate::json::{naive, utc};
use crate::schema::{tour_sessions, tour_villages, tours, volunteers};
use crate::{Conn, StoreError, locked, on_backend};

fn date(s: &str) -> Result<NaiveDate, StoreError> {
    parse(s, "date")
}

fn time(s: &str) -> Result<NaiveTime, StoreError> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|e| StoreError::corrupt(format!("bad time {s:?}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::corrupt(format!("stored {what}: {e}")))
}

fn text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serialises")
}

/// A volunteer lecturer (巾帼志愿者); her name, email and phone are the person's.
#[derive(Debug, Clone, PartialEq)]
pub struct VolunteerRow {
    pub person_id: Uuid,
    pub home_village: OrgCode,
    pub county: OrgCode,
    pub topics: Vec<String>,
    pub max_per_day: u32,
    pub available_from: Option<NaiveDate>,
    pub available_to: Option<NaiveDate>,
    pub unavailable: Vec<NaiveDate>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = volunteers, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct VolunteerRecord {
    person_id: String,
    home_village: String,
    county_code: String,
    topics: String,
    max_per_day: i32,
    available_from: Option<String>,
    available_to: Option<String>,
    unavailable: String,
    created_by: String,
    created_at: NaiveDateTime,
}

impl TryFrom<VolunteerRecord> for VolunteerRow {
    type Error = StoreError;
    fn try_from(r: VolunteerRecord) -> Result<Self, StoreError> {
        Ok(VolunteerRow {
            person_id: parse(&r.person_id, "person id")?,
            home_village: org(&r.home_village)?,
            county: org(&r.county_code)?,
            topics: json(&r.topics, "topics")?,
            max_per_day: r.max_per_day.max(0) as u32,
            available_from: r.available_from.as_deref().map(date).transpose()?,
            available_to: r.available_to.as_deref().map(date).transpose()?,
            unavailable: json(&r.unavailable, "unavailable dates")?,
            created_by: parse(&r.created_by, "created_by")?,
            created_at: utc(r.created_at),
        })
    }
}

impl From<&VolunteerRow> for VolunteerRecord {
    fn from(v: &VolunteerRow) -> Self {
        VolunteerRecord {
            person_id: v.person_id.to_string(),
            home_village: v.home_village.to_string(),
            county_code: v.county.to_string(),
            topics: text(&v.topics),
            max_per_day: v.max_per_day as i32,
            available_from: v.available_from.map(|d| d.to_string()),
            available_to: v.available_to.map(|d| d.to_string()),
            unavailable: text(&v.unavailable),
            created_by: v.created_by.to_string(),
            created_at: naive(v.created_at),
        }
    }
}

pub async fn insert_volunteer(conn: &mut Conn<'_>, v: &VolunteerRow) -> Result<(), StoreError> {
    let insert = diesel::insert_into(volunteers::table).values(VolunteerRecord::from(v));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

pub async fn volunteer(
    conn: &mut Conn<'_>,
    person: Uuid,
) -> Result<Option<VolunteerRow>, StoreError> {
    let query = volunteers::table.find(person.to_string());
    let row = on_backend!(conn, |c| query
        .select(VolunteerRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(VolunteerRow::try_from).transpose()
}

/// The volunteers living in `county`, in the order they were added.
pub async fn volunteers_of(
    conn: &mut Conn<'_>,
    county: OrgCode,
) -> Result<Vec<VolunteerRow>, StoreError> {
    let query = volunteers::table
        .filter(volunteers::county_code.eq(county.to_string()))
        .order((volunteers::created_at, volunteers::person_id));
    let rows = on_backend!(conn, |c| query
        .select(VolunteerRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(VolunteerRow::try_from).collect()
}

/// What a tour is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TourState {
    /// Created, never planned (or its planning failed).
    Draft,
    /// A plan was asked for; the worker is computing it.
    Planning,
    /// A checked plan waits to be published.
    Planned,
    /// Sessions went out to lecturers and hosts.
    Published,
}

impl TourState {
    pub fn as_str(self) -> &'static str {
        match self {
            TourState::Draft => "draft",
            TourState::Planning => "planning",
            TourState::Planned => "planned",
            TourState::Published => "published",
        }
    }
}

impl std::str::FromStr for TourState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "draft" => TourState::Draft,
            "planning" => TourState::Planning,
            "planned" => TourState::Planned,
            "published" => TourState::Published,
            _ => return Err(format!("{s:?} is not a tour state")),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TourRow {
    pub id: Uuid,
    pub name: String,
    pub county: OrgCode,
    /// What the coordinator asked for, as the tours program wrote it.
    pub spec: String,
    pub state: TourState,
    /// The planning asked for last: a job for another one finds itself stale.
    pub plan_request: Option<Uuid>,
    /// The last computed plan, as the tours program wrote it.
    pub plan: Option<String>,
    /// Why the last planning produced nothing (shown to the coordinator).
    pub plan_note: Option<String>,
    /// Lecturers and days taken out (before publishing or after), as the tours program wrote
    /// them.
    pub removals: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub planned_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tours, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_null = true)]
struct TourRecord {
    id: String,
    name: String,
    county_code: String,
    spec: String,
    state: String,
    plan_request: Option<String>,
    plan: Option<String>,
    plan_note: Option<String>,
    removals: String,
    created_by: String,
    created_at: NaiveDateTime,
    planned_at: Option<NaiveDateTime>,
    published_at: Option<NaiveDateTime>,
}

impl TryFrom<TourRecord> for TourRow {
    type Error = StoreError;
    fn try_from(r: TourRecord) -> Result<Self, StoreError> {
        Ok(TourRow {
            id: parse(&r.id, "tour id")?,
            name: r.name,
            county: org(&r.county_code)?,
            spec: r.spec,
            state: parse(&r.state, "tour state")?,
            plan_request: r
                .plan_request
                .as_deref()
                .map(|s| parse(s, "plan request"))
                .transpose()?,
            plan: r.plan,
            plan_note: r.plan_note,
            removals: r.removals,
            created_by: parse(&r.created_by, "created_by")?,
            created_at: utc(r.created_at),
            planned_at: r.planned_at.map(utc),
            published_at: r.published_at.map(utc),
        })
    }
}

impl From<&TourRow> for TourRecord {
    fn from(t: &TourRow) -> Self {
        TourRecord {
            id: t.id.to_string(),
            name: t.name.clone(),
            county_code: t.county.to_string(),
            spec: t.spec.clone(),
            state: t.state.as_str().to_owned(),
            plan_request: t.plan_request.map(|u| u.to_string()),
            plan: t.plan.clone(),
            plan_note: t.plan_note.clone(),
            removals: t.removals.clone(),
            created_by: t.created_by.to_string(),
            created_at: naive(t.created_at),
            planned_at: t.planned_at.map(naive),
            published_at: t.published_at.map(naive),
        }
    }
}

pub async fn insert_tour(conn: &mut Conn<'_>, t: &TourRow) -> Result<(), StoreError> {
    let insert = diesel::insert_into(tours::table).values(TourRecord::from(t));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// Writes every column of `t` back (the caller read it locked).
pub async fn update_tour(conn: &mut Conn<'_>, t: &TourRow) -> Result<(), StoreError> {
    let update = diesel::update(tours::table.find(t.id.to_string())).set(TourRecord::from(t));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

pub async fn tour(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<TourRow>, StoreError> {
    let query = tours::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(TourRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(TourRow::try_from).transpose()
}

/// The tour, locked for a change (PostgreSQL; SQLite's write transaction is exclusive).
pub async fn lock_tour(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<TourRow>, StoreError> {
    let query = tours::table.find(id.to_string());
    let row = locked!(conn, query.select(TourRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    row.map(TourRow::try_from).transpose()
}

/// The tours of the counties in `counties`, newest first.
pub async fn tours_in(
    conn: &mut Conn<'_>,
    counties: &[OrgCode],
) -> Result<Vec<TourRow>, StoreError> {
    let codes: Vec<String> = counties.iter().map(|c| c.to_string()).collect();
    let query = tours::table
        .filter(tours::county_code.eq_any(codes))
        .order((tours::created_at.desc(), tours::id));
    let rows = on_backend!(conn, |c| query
        .select(TourRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(TourRow::try_from).collect()
}

/// A village a tour covers, with where the talk is held.
#[derive(Debug, Clone, PartialEq)]
pub struct TourVillageRow {
    pub village: OrgCode,
    pub venue: String,
    pub capacity: Option<u32>,
}

pub async fn insert_villages(
    conn: &mut Conn<'_>,
    tour: Uuid,
    villages: &[TourVillageRow],
) -> Result<(), StoreError> {
    // One statement a row: SQLite's batch insert takes no NULL defaults.
    for v in villages {
        let insert = diesel::insert_into(tour_villages::table).values((
            tour_villages::tour_id.eq(tour.to_string()),
            tour_villages::village_code.eq(v.village.to_string()),
            tour_villages::venue.eq(v.venue.clone()),
            tour_villages::capacity.eq(v.capacity.map(|c| c as i32)),
        ));
        on_backend!(conn, |c| insert.execute(c).await)?;
    }
    Ok(())
}

/// A tour's villages by code.
pub async fn villages(conn: &mut Conn<'_>, tour: Uuid) -> Result<Vec<TourVillageRow>, StoreError> {
    let query = tour_villages::table
        .filter(tour_villages::tour_id.eq(tour.to_string()))
        .order(tour_villages::village_code)
        .select((
            tour_villages::village_code,
            tour_villages::venue,
            tour_villages::capacity,
        ));
    let rows: Vec<(String, String, Option<i32>)> = on_backend!(conn, |c| query.load(c).await)?;
    rows.into_iter()
        .map(|(code, venue, capacity)| {
            Ok(TourVillageRow {
                village: org(&code)?,
                venue,
                capacity: capacity.map(|c| c.max(0) as u32),
            })
        })
        .collect()
}

/// Where a published talk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Scheduled,
    /// No lecturer could take it after a decline or a removal.
    Cancelled,
    /// The host recorded it.
    Held,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Scheduled => "scheduled",
            SessionState::Cancelled => "cancelled",
            SessionState::Held => "held",
        }
    }
}

impl std::str::FromStr for SessionState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "scheduled" => SessionState::Scheduled,
            "cancelled" => SessionState::Cancelled,
            "held" => SessionState::Held,
            _ => return Err(format!("{s:?} is not a session state")),
        })
    }
}

/// What the host recorded after a talk.
#[derive(Debug, Clone, PartialEq)]
pub struct Attendance {
    pub women: u32,
    pub topic_covered: bool,
    pub note: String,
    pub recorded_at: DateTime<Utc>,
}

/// A published talk: the `n`-th of its village in the tour (its calendar UID), at its latest
/// version `sequence`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: Uuid,
    pub tour_id: Uuid,
    pub village: OrgCode,
    pub n: u32,
    pub volunteer: Option<Uuid>,
    pub day: NaiveDate,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
    pub sequence: u32,
    pub state: SessionState,
    pub attendance: Option<Attendance>,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tour_sessions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_null = true)]
struct SessionRecord {
    id: String,
    tour_id: String,
    village_code: String,
    n: i32,
    volunteer_id: Option<String>,
    day: String,
    starts: String,
    ends: String,
    sequence: i32,
    state: String,
    attendance: Option<i32>,
    topic_covered: Option<bool>,
    note: Option<String>,
    recorded_at: Option<NaiveDateTime>,
}

impl TryFrom<SessionRecord> for SessionRow {
    type Error = StoreError;
    fn try_from(r: SessionRecord) -> Result<Self, StoreError> {
        let attendance = match (r.attendance, r.topic_covered, r.recorded_at) {
            (Some(women), Some(topic_covered), Some(at)) => Some(Attendance {
                women: women.max(0) as u32,
                topic_covered,
                note: r.note.unwrap_or_default(),
                recorded_at: utc(at),
            }),
            _ => None,
        };
        Ok(SessionRow {
            id: parse(&r.id, "session id")?,
            tour_id: parse(&r.tour_id, "tour id")?,
            village: org(&r.village_code)?,
            n: r.n.max(0) as u32,
            volunteer: r
                .volunteer_id
                .as_deref()
                .map(|v| parse(v, "volunteer"))
                .transpose()?,
            day: date(&r.day)?,
            starts: time(&r.starts)?,
            ends: time(&r.ends)?,
            sequence: r.sequence.max(0) as u32,
            state: parse(&r.state, "session state")?,
            attendance,
        })
    }
}

impl From<&SessionRow> for SessionRecord {
    fn from(s: &SessionRow) -> Self {
        let a = s.attendance.as_ref();
        SessionRecord {
            id: s.id.to_string(),
            tour_id: s.tour_id.to_string(),
            village_code: s.village.to_string(),
            n: s.n as i32,
            volunteer_id: s.volunteer.map(|v| v.to_string()),
            day: s.day.to_string(),
            starts: s.starts.format("%H:%M").to_string(),
            ends: s.ends.format("%H:%M").to_string(),
            sequence: s.sequence as i32,
            state: s.state.as_str().to_owned(),
            attendance: a.map(|a| a.women as i32),
            topic_covered: a.map(|a| a.topic_covered),
            note: a.map(|a| a.note.clone()),
            recorded_at: a.map(|a| naive(a.recorded_at)),
        }
    }
}

pub async fn insert_sessions(
    conn: &mut Conn<'_>,
    sessions: &[SessionRow],
) -> Result<(), StoreError> {
    for s in sessions {
        let insert = diesel::insert_into(tour_sessions::table).values(SessionRecord::from(s));
        on_backend!(conn, |c| insert.execute(c).await)?;
    }
    Ok(())
}

/// Writes every column of `s` back (the caller holds its tour locked).
pub async fn update_session(conn: &mut Conn<'_>, s: &SessionRow) -> Result<(), StoreError> {
    let update =
        diesel::update(tour_sessions::table.find(s.id.to_string())).set(SessionRecord::from(s));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

pub async fn session(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<SessionRow>, StoreError> {
    let query = tour_sessions::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(SessionRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(SessionRow::try_from).transpose()
}

/// A tour's sessions by day, start and village.
pub async fn sessions(conn: &mut Conn<'_>, tour: Uuid) -> Result<Vec<SessionRow>, StoreError> {
    let query = tour_sessions::table
        .filter(tour_sessions::tour_id.eq(tour.to_string()))
        .order((
            tour_sessions::day,
            tour_sessions::starts,
            tour_sessions::village_code,
            tour_sessions::n,
        ));
    let rows = on_backend!(conn, |c| query
        .select(SessionRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(SessionRow::try_from).collect()
}

/// Takes every village out of a tour (before its villages are given again).
pub async fn delete_villages(conn: &mut Conn<'_>, tour: Uuid) -> Result<usize, StoreError> {
    let delete =
        diesel::delete(tour_villages::table.filter(tour_villages::tour_id.eq(tour.to_string())));
    Ok(on_backend!(conn, |c| delete.execute(c).await)?)
}
