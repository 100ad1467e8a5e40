//! The inbox: which consumer has handled which message. Recorded in the handler's transaction,
//! so "handled" and "its effects" commit together or not at all.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::json::naive;
use crate::schema::inbox;
use crate::{Conn, StoreError, on_backend};

/// Records that `consumer` handles `message_id` now. `false`: it already did, and the caller
/// must do nothing (a redelivery).
pub async fn record(
    conn: &mut Conn<'_>,
    consumer: &str,
    message_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let insert = diesel::insert_into(inbox::table)
        .values((
            inbox::consumer.eq(consumer),
            inbox::message_id.eq(message_id.to_string()),
            inbox::handled_at.eq(naive(now)),
        ))
        .on_conflict_do_nothing();
    let inserted = on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(inserted == 1)
}
