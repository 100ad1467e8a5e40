//! Timers: every wait of more than a few seconds (deadlines, reminders, long retries). A timer
//! holds the message it will send; the scheduler turns due timers into outbox rows, once.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::messaging::Envelope;

use crate::json::{from_text, naive, to_text, utc};
use crate::schema::timers;
use crate::{Conn, StoreError, claimed, on_backend};

/// A timer as stored.
#[derive(Debug, Clone)]
pub struct Timer {
    pub key: String,
    pub due_at: DateTime<Utc>,
    pub target: Option<String>,
    pub envelope: Envelope,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = timers, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct TimerRecord {
    key: String,
    due_at: NaiveDateTime,
    target: Option<String>,
    envelope: String,
}

impl TryFrom<TimerRecord> for Timer {
    type Error = StoreError;
    fn try_from(r: TimerRecord) -> Result<Self, StoreError> {
        Ok(Timer {
            key: r.key,
            due_at: utc(r.due_at),
            target: r.target,
            envelope: from_text(&r.envelope)?,
        })
    }
}

/// Schedules `message` for `due_at` under `key`, in the caller's transaction. Idempotent: when
/// `key` is already scheduled nothing changes and `false` is returned.
pub async fn schedule(
    conn: &mut Conn<'_>,
    key: &str,
    due_at: DateTime<Utc>,
    target: Option<&str>,
    message: &Envelope,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let insert = diesel::insert_into(timers::table)
        .values((
            timers::key.eq(key),
            timers::due_at.eq(naive(due_at)),
            timers::kind.eq(&message.kind),
            timers::target.eq(target),
            timers::envelope.eq(to_text(message)),
            timers::created_at.eq(naive(now)),
        ))
        .on_conflict_do_nothing();
    Ok(on_backend!(conn, |c| insert.execute(c).await)? == 1)
}

/// Moves a scheduled timer; `false` when there is none under `key`.
pub async fn reschedule(
    conn: &mut Conn<'_>,
    key: &str,
    due_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let update = diesel::update(timers::table.find(key)).set(timers::due_at.eq(naive(due_at)));
    Ok(on_backend!(conn, |c| update.execute(c).await)? == 1)
}

/// Cancels a timer; `false` when there is none under `key` (already fired or never set).
pub async fn cancel(conn: &mut Conn<'_>, key: &str) -> Result<bool, StoreError> {
    let delete = diesel::delete(timers::table.find(key));
    Ok(on_backend!(conn, |c| delete.execute(c).await)? == 1)
}

/// Due timers, earliest first, held until the transaction ends (others' claims skipped).
pub async fn claim_due(
    conn: &mut Conn<'_>,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Timer>, StoreError> {
    let query = timers::table
        .filter(timers::due_at.le(naive(now)))
        .order(timers::due_at)
        .limit(limit as i64);
    let rows = claimed!(conn, query.select(TimerRecord::as_select()), |c, q| q
        .load(c)
        .await)?;
    rows.into_iter().map(Timer::try_from).collect()
}

/// The timer under `key`, if scheduled.
pub async fn get(conn: &mut Conn<'_>, key: &str) -> Result<Option<Timer>, StoreError> {
    let query = timers::table.find(key.to_owned());
    let row = on_backend!(conn, |c| query
        .select(TimerRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(Timer::try_from).transpose()
}
