//! Dead letters: messages that could not be handled, kept for operators to read and replay.
//! The same table on both transports, so `jinguo dlq` is plain SQL either way.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::messaging::Envelope;

use crate::json::{from_text, naive, to_text, utc};
use crate::schema::dead_letters;
use crate::{Conn, StoreError, locked, on_backend};

/// One dead letter.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: i64,
    pub consumer: String,
    pub envelope: Envelope,
    pub error: String,
    pub dead_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = dead_letters, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct DeadLetterRecord {
    id: i64,
    consumer: String,
    envelope: String,
    error: String,
    dead_at: NaiveDateTime,
    replayed_at: Option<NaiveDateTime>,
}

impl TryFrom<DeadLetterRecord> for DeadLetter {
    type Error = StoreError;
    fn try_from(r: DeadLetterRecord) -> Result<Self, StoreError> {
        Ok(DeadLetter {
            id: r.id,
            consumer: r.consumer,
            envelope: from_text(&r.envelope)?,
            error: r.error,
            dead_at: utc(r.dead_at),
            replayed_at: r.replayed_at.map(utc),
        })
    }
}

/// Records that `consumer` gave up on `message` because of `error`.
pub async fn record(
    conn: &mut Conn<'_>,
    consumer: &str,
    message: &Envelope,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let insert = diesel::insert_into(dead_letters::table).values((
        dead_letters::message_id.eq(message.id.to_string()),
        dead_letters::kind.eq(&message.kind),
        dead_letters::consumer.eq(consumer),
        dead_letters::envelope.eq(to_text(message)),
        dead_letters::error.eq(error),
        dead_letters::dead_at.eq(naive(now)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// Dead letters, newest first; `pending_only` leaves out the ones already replayed.
pub async fn list(conn: &mut Conn<'_>, pending_only: bool) -> Result<Vec<DeadLetter>, StoreError> {
    let query = dead_letters::table.order(dead_letters::id.desc());
    let rows = on_backend!(conn, |c| query
        .select(DeadLetterRecord::as_select())
        .load(c)
        .await)?;
    // Few rows by nature (each is an incident); filtering here keeps one query for both backends.
    rows.into_iter()
        .filter(|r| !pending_only || r.replayed_at.is_none())
        .map(DeadLetter::try_from)
        .collect()
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<Option<DeadLetter>, StoreError> {
    let query = dead_letters::table.find(id);
    let row = locked!(conn, query.select(DeadLetterRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    row.map(DeadLetter::try_from).transpose()
}

pub async fn mark_replayed(
    conn: &mut Conn<'_>,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = diesel::update(dead_letters::table.find(id))
        .set(dead_letters::replayed_at.eq(Some(naive(now))));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}
