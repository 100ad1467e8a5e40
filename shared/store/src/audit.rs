//! The audit log: append-only and hash-chained. Each row's hash covers its content and the
//! previous row's hash, so changing or deleting a row breaks the chain from there on.
//!
//! Deleting the newest rows leaves a shorter chain that is still whole: only a record kept
//! outside the table can tell. [`Point`] is what such a record names (a signed checkpoint,
//! `jinguo_auth::checkpoint`), [`point`] finds it again and [`walk`] checks the rows after it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};

use crate::json::{naive, utc};
use crate::schema::audit_log;
use crate::{Conn, StoreError, on_backend};

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry. `details` is JSON without personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain hash of a row: SHA-256 over the previous hash and the row's fields, each
/// length-prefixed so no two different rows hash alike.
pub fn chain_hash(
    prev: &str,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: &str,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    let at = naive(at).format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    for field in [prev, &at, actor, action, subject, details] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends an entry in the caller's transaction. Appends are serialised (a table lock on
/// PostgreSQL, the immediate transaction on SQLite) so the chain never forks.
pub async fn append(
    conn: &mut Conn<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    details: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    crate::backend::lock_audit_log(conn).await?;
    let last = audit_log::table
        .order(audit_log::seq.desc())
        .select(audit_log::hash)
        .limit(1);
    let prev: Option<String> = on_backend!(conn, |c| last.first(c).await.optional())?;
    let prev = prev.unwrap_or_else(|| GENESIS.to_owned());
    // Stored with microsecond precision (PostgreSQL): hash exactly what will be read back.
    let at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let details = details.to_string();
    let hash = chain_hash(&prev, at, actor, action, subject, &details);
    let insert = diesel::insert_into(audit_log::table).values((
        audit_log::at.eq(naive(at)),
        audit_log::actor.eq(actor),
        audit_log::action.eq(action),
        audit_log::subject.eq(subject),
        audit_log::details.eq(&details),
        audit_log::prev_hash.eq(&prev),
        audit_log::hash.eq(&hash),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct EntryRecord {
    seq: i64,
    at: NaiveDateTime,
    actor: String,
    action: String,
    subject: String,
    details: String,
    prev_hash: String,
    hash: String,
}

impl From<EntryRecord> for Entry {
    fn from(r: EntryRecord) -> Self {
        Entry {
            seq: r.seq,
            at: utc(r.at),
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            details: r.details,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// Entries from `after_seq` on, oldest first, at most `limit`.
pub async fn page(
    conn: &mut Conn<'_>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Entry>, StoreError> {
    let query = audit_log::table
        .filter(audit_log::seq.gt(after_seq))
        .order(audit_log::seq)
        .limit(limit);
    let rows = on_backend!(conn, |c| query
        .select(EntryRecord::as_select())
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(Entry::from).collect())
}

/// Where a walk of the chain found it broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub reason: &'static str,
}

/// A row of the chain as a checkpoint names it: its seq, its hash, and how many rows the chain
/// holds up to and including it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub seq: i64,
    pub hash: String,
    pub count: i64,
}

impl Point {
    /// Before the first row: where a walk of the whole chain starts.
    pub fn genesis() -> Point {
        Point {
            seq: 0,
            hash: GENESIS.to_owned(),
            count: 0,
        }
    }
}

/// The row `seq` as a [`Point`], or `None` when there is no such row.
pub async fn point(conn: &mut Conn<'_>, seq: i64) -> Result<Option<Point>, StoreError> {
    let row = audit_log::table
        .filter(audit_log::seq.eq(seq))
        .select(audit_log::hash);
    let Some(hash) = on_backend!(conn, |c| row.first::<String>(c).await.optional())? else {
        return Ok(None);
    };
    let through = audit_log::table.filter(audit_log::seq.le(seq)).count();
    let count: i64 = on_backend!(conn, |c| through.get_result(c).await)?;
    Ok(Some(Point { seq, hash, count }))
}

/// Walks the chain on from `from` (a row already trusted, or [`Point::genesis`]): every later
/// row must follow the one before it and match its own hash. `Ok(head)` is the last row reached
/// (`from` itself when nothing follows it), `Err` the first broken row.
///
/// That `from` itself is still there, unchanged, is the caller's to check ([`point`]): the walk
/// starts after it.
pub async fn walk(conn: &mut Conn<'_>, from: Point) -> Result<Result<Point, Break>, StoreError> {
    let mut head = from;
    loop {
        let rows = page(conn, head.seq, 1000).await?;
        if rows.is_empty() {
            return Ok(Ok(head));
        }
        for e in rows {
            if e.prev_hash != head.hash {
                return Ok(Err(Break {
                    seq: e.seq,
                    reason: "does not follow the row before it (a row was removed or changed)",
                }));
            }
            if chain_hash(
                &e.prev_hash,
                e.at,
                &e.actor,
                &e.action,
                &e.subject,
                &e.details,
            ) != e.hash
            {
                return Ok(Err(Break {
                    seq: e.seq,
                    reason: "its content does not match its hash (the row was changed)",
                }));
            }
            head = Point {
                seq: e.seq,
                hash: e.hash,
                count: head.count + 1,
            };
        }
    }
}

/// Walks the whole chain; `Ok(n)` rows intact, or the first broken row.
pub async fn verify(conn: &mut Conn<'_>) -> Result<Result<usize, Break>, StoreError> {
    Ok(walk(conn, Point::genesis())
        .await?
        .map(|head| usize::try_from(head.count).unwrap_or(usize::MAX)))
}
