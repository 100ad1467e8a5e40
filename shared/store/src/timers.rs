//! Timers: every wait of more than a few seconds (deadlines, reminders, long retries). A timer
//! holds the message it will send; the scheduler turns due timers into outbox rows, once.

use chrono::{DateTime, Utc};
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
        .limit(limit as i64)
        .select((
            timers::key,
            timers::due_at,
            timers::target,
            timers::envelope,
        ));
    let rows: Vec<(String, chrono::NaiveDateTime, Option<String>, String)> =
        claimed!(conn, query, |c, q| q.load(c).await)?;
    rows.into_iter()
        .map(|(key, due_at, target, text)| {
            Ok(Timer {
                key,
                due_at: utc(due_at),
                target,
                envelope: from_text(&text)?,
            })
        })
        .collect()
}

/// The timer under `key`, if scheduled.
pub async fn get(conn: &mut Conn<'_>, key: &str) -> Result<Option<Timer>, StoreError> {
    let query = timers::table.find(key.to_owned()).select((
        timers::key,
        timers::due_at,
        timers::target,
        timers::envelope,
    ));
    let row: Option<(String, chrono::NaiveDateTime, Option<String>, String)> =
        on_backend!(conn, |c| query.first(c).await.optional())?;
    row.map(|(key, due_at, target, text)| {
        Ok(Timer {
            key,
            due_at: utc(due_at),
            target,
            envelope: from_text(&text)?,
        })
    })
    .transpose()
}
