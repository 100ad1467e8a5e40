//! The transactional outbox: messages are recorded in the transaction that causes them and
//! published by a relay afterwards, so a message exists exactly when its cause committed.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::messaging::Envelope;

use crate::json::{from_text, naive, to_text, utc};
use crate::schema::outbox;
use crate::{Conn, StoreError, claimed, on_backend};

/// One message waiting to be published.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub envelope: Envelope,
    /// `None`: every consumer bound to the kind; `Some(consumer)`: that consumer only.
    pub target: Option<String>,
    pub publish_attempts: i32,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct PendingRecord {
    seq: i64,
    envelope: String,
    target: Option<String>,
    publish_attempts: i32,
}

#[derive(Insertable)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
struct NewRow<'a> {
    message_id: String,
    kind: &'a str,
    target: Option<&'a str>,
    envelope: String,
    created_at: chrono::NaiveDateTime,
    next_attempt_at: chrono::NaiveDateTime,
}

/// Records messages for every consumer bound to their kind. Call it inside the transaction
/// whose changes caused them.
pub async fn push(
    conn: &mut Conn<'_>,
    messages: &[Envelope],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for m in messages {
        insert(conn, m, None, now).await?;
    }
    Ok(())
}

/// Records a message for one consumer only (a retry or a replay).
pub async fn push_to(
    conn: &mut Conn<'_>,
    target: &str,
    message: &Envelope,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    insert(conn, message, Some(target), now).await
}

async fn insert(
    conn: &mut Conn<'_>,
    m: &Envelope,
    target: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    crate::wake::queued(crate::wake::Queue::Outbox);
    let row = NewRow {
        message_id: m.id.to_string(),
        kind: &m.kind,
        target,
        envelope: to_text(m),
        created_at: naive(now),
        next_attempt_at: naive(now),
    };
    let insert = diesel::insert_into(outbox::table).values(&row);
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// Up to `limit` unsent messages that are due, oldest first, held until the transaction ends.
/// On PostgreSQL rows another relay holds are skipped, so relays never publish the same row at
/// the same time.
pub async fn claim(
    conn: &mut Conn<'_>,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Pending>, StoreError> {
    let query = outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::next_attempt_at.le(naive(now)))
        .order(outbox::seq)
        .limit(limit as i64);
    let rows = claimed!(conn, query.select(PendingRecord::as_select()), |c, q| q
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(Pending {
                seq: r.seq,
                envelope: from_text(&r.envelope)?,
                target: r.target,
                publish_attempts: r.publish_attempts,
            })
        })
        .collect()
}

pub async fn mark_sent(
    conn: &mut Conn<'_>,
    seqs: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if seqs.is_empty() {
        return Ok(());
    }
    let update = diesel::update(outbox::table.filter(outbox::seq.eq_any(seqs.to_vec())))
        .set(outbox::sent_at.eq(Some(naive(now))));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// The row stays unsent; the relay tries again at `retry_at`.
pub async fn mark_failed(
    conn: &mut Conn<'_>,
    seq: i64,
    error: &str,
    retry_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = diesel::update(outbox::table.find(seq)).set((
        outbox::publish_attempts.eq(outbox::publish_attempts + 1),
        outbox::last_error.eq(Some(error)),
        outbox::next_attempt_at.eq(naive(retry_at)),
    ));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// An unsent message as operators see it.
#[derive(Debug, Clone)]
pub struct Unsent {
    pub seq: i64,
    pub kind: String,
    pub publish_attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct UnsentRecord {
    seq: i64,
    kind: String,
    publish_attempts: i32,
    last_error: Option<String>,
    next_attempt_at: NaiveDateTime,
}

/// Every message not yet published, oldest first.
pub async fn unsent(conn: &mut Conn<'_>) -> Result<Vec<Unsent>, StoreError> {
    let query = outbox::table
        .filter(outbox::sent_at.is_null())
        .order(outbox::seq);
    let rows = on_backend!(conn, |c| query
        .select(UnsentRecord::as_select())
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|r| Unsent {
            seq: r.seq,
            kind: r.kind,
            publish_attempts: r.publish_attempts,
            last_error: r.last_error,
            next_attempt_at: utc(r.next_attempt_at),
        })
        .collect())
}
