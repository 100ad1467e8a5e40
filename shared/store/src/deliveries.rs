//! The in-process bus's queue: one row per (consumer, message), removed in the transaction that
//! handles it. It plays the part of RabbitMQ's queues in the embedded default, retry waits
//! included (a failed delivery is postponed, not re-sent).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::messaging::Envelope;

use crate::json::{from_text, naive, to_text};
use crate::schema::deliveries;
use crate::{Conn, StoreError, claimed, on_backend};

#[derive(Debug, Clone)]
pub struct Delivery {
    pub seq: i64,
    pub envelope: Envelope,
}

pub async fn enqueue(
    conn: &mut Conn<'_>,
    consumer: &str,
    message: &Envelope,
    due_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    crate::wake::queued(crate::wake::Queue::Deliveries(consumer));
    let insert = diesel::insert_into(deliveries::table).values((
        deliveries::consumer.eq(consumer),
        deliveries::message_id.eq(message.id.to_string()),
        deliveries::envelope.eq(to_text(message)),
        deliveries::due_at.eq(naive(due_at)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = deliveries, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct DeliveryRecord {
    seq: i64,
    envelope: String,
}

/// The next due delivery for `consumer`, held until the transaction ends.
pub async fn claim_next(
    conn: &mut Conn<'_>,
    consumer: &str,
    now: DateTime<Utc>,
) -> Result<Option<Delivery>, StoreError> {
    let query = deliveries::table
        .filter(deliveries::consumer.eq(consumer.to_owned()))
        .filter(deliveries::due_at.le(naive(now)))
        .order(deliveries::seq)
        .limit(1);
    let row = claimed!(conn, query.select(DeliveryRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    row.map(|r| {
        Ok(Delivery {
            seq: r.seq,
            envelope: from_text(&r.envelope)?,
        })
    })
    .transpose()
}

pub async fn remove(conn: &mut Conn<'_>, seq: i64) -> Result<(), StoreError> {
    let delete = diesel::delete(deliveries::table.find(seq));
    on_backend!(conn, |c| delete.execute(c).await)?;
    Ok(())
}

/// Stores the next attempt of a failed delivery, due at `due_at`.
pub async fn postpone(
    conn: &mut Conn<'_>,
    seq: i64,
    next: &Envelope,
    due_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = diesel::update(deliveries::table.find(seq)).set((
        deliveries::envelope.eq(to_text(next)),
        deliveries::due_at.eq(naive(due_at)),
    ));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// How many deliveries wait for `consumer` (due or not).
pub async fn waiting(conn: &mut Conn<'_>, consumer: &str) -> Result<i64, StoreError> {
    let query = deliveries::table
        .filter(deliveries::consumer.eq(consumer.to_owned()))
        .count();
    Ok(on_backend!(conn, |c| query.get_result(c).await)?)
}
