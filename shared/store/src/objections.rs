//! Objections raised during a 公示 and the one open investigation of each nomination.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::nominations::State;
use uuid::Uuid;

use crate::error::parse;
use crate::json::{naive, utc};
use crate::schema::{nomination_investigations, nomination_objections};
use crate::{Conn, StoreError, on_backend};

/// An objection as stored: the objector's phone only sealed.
#[derive(Debug, Clone)]
pub struct ObjectionRow {
    pub id: Uuid,
    pub nomination_id: Uuid,
    pub name: String,
    pub phone_sealed: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = nomination_objections, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct ObjectionRecord {
    id: String,
    nomination_id: String,
    name: String,
    phone_sealed: String,
    reason: String,
    created_at: NaiveDateTime,
}

pub async fn insert(conn: &mut Conn<'_>, o: &ObjectionRow) -> Result<(), StoreError> {
    let record = ObjectionRecord {
        id: o.id.to_string(),
        nomination_id: o.nomination_id.to_string(),
        name: o.name.clone(),
        phone_sealed: o.phone_sealed.clone(),
        reason: o.reason.clone(),
        created_at: naive(o.created_at),
    };
    let insert = diesel::insert_into(nomination_objections::table).values(record);
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The objections to `nomination` since `since`, oldest first (an investigation shows those
/// raised since it opened).
pub async fn since(
    conn: &mut Conn<'_>,
    nomination: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<ObjectionRow>, StoreError> {
    let query = nomination_objections::table
        .filter(nomination_objections::nomination_id.eq(nomination.to_string()))
        .filter(nomination_objections::created_at.ge(naive(since)))
        .order((nomination_objections::created_at, nomination_objections::id));
    let rows = on_backend!(conn, |c| query
        .select(ObjectionRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(ObjectionRow {
                id: parse(&r.id, "id")?,
                nomination_id: parse(&r.nomination_id, "id")?,
                name: r.name,
                phone_sealed: r.phone_sealed,
                reason: r.reason,
                created_at: utc(r.created_at),
            })
        })
        .collect()
}

/// An open investigation: the 公示 it paused and the time that was left of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Investigation {
    pub nomination_id: Uuid,
    pub publicity: State,
    pub remaining: Duration,
    pub opened_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = nomination_investigations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct InvestigationRecord {
    nomination_id: String,
    publicity: String,
    remaining_ms: i64,
    opened_at: NaiveDateTime,
}

/// Opens the investigation of `i.nomination_id` (one at a time: the caller holds the
/// nomination's lock and has checked that none is open).
pub async fn open(conn: &mut Conn<'_>, i: &Investigation) -> Result<(), StoreError> {
    let record = InvestigationRecord {
        nomination_id: i.nomination_id.to_string(),
        publicity: i.publicity.as_str().to_owned(),
        remaining_ms: i.remaining.num_milliseconds(),
        opened_at: naive(i.opened_at),
    };
    let insert = diesel::insert_into(nomination_investigations::table).values(record);
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The open investigation of `nomination`, if any.
pub async fn open_for(
    conn: &mut Conn<'_>,
    nomination: Uuid,
) -> Result<Option<Investigation>, StoreError> {
    let query = nomination_investigations::table.find(nomination.to_string());
    let row = on_backend!(conn, |c| query
        .select(InvestigationRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(|r| {
        Ok(Investigation {
            nomination_id: parse(&r.nomination_id, "id")?,
            publicity: parse(&r.publicity, "state")?,
            remaining: Duration::milliseconds(r.remaining_ms),
            opened_at: utc(r.opened_at),
        })
    })
    .transpose()
}

/// Closes the investigation of `nomination` (upheld or dismissed: the history keeps which).
pub async fn close(conn: &mut Conn<'_>, nomination: Uuid) -> Result<(), StoreError> {
    let delete = diesel::delete(nomination_investigations::table.find(nomination.to_string()));
    on_backend!(conn, |c| delete.execute(c).await)?;
    Ok(())
}
