//! Outgoing mail: composed in the transaction that decides to send it, sent by the mailer,
//! marked sent in the mailer's own transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::json::{naive, utc};
use crate::schema::outgoing_mail;
use crate::{Conn, StoreError, on_backend};

/// A mail with its rendered parts.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMail {
    /// Also the id of the `mail.send` message that carries it, and the base of its Message-ID.
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

type Row = (
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

fn columns() -> (
    outgoing_mail::id,
    outgoing_mail::person_id,
    outgoing_mail::to_address,
    outgoing_mail::subject,
    outgoing_mail::text_body,
    outgoing_mail::html_body,
    outgoing_mail::created_at,
    outgoing_mail::sent_at,
) {
    (
        outgoing_mail::id,
        outgoing_mail::person_id,
        outgoing_mail::to_address,
        outgoing_mail::subject,
        outgoing_mail::text_body,
        outgoing_mail::html_body,
        outgoing_mail::created_at,
        outgoing_mail::sent_at,
    )
}

fn from_row(r: Row) -> Result<OutgoingMail, StoreError> {
    let bad = |what: &str| {
        StoreError::Query(diesel::result::Error::DeserializationError(
            format!("outgoing_mail row {}: bad {what}", r.0).into(),
        ))
    };
    Ok(OutgoingMail {
        id: r.0.parse().map_err(|_| bad("id"))?,
        person_id: r
            .1
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|_| bad("person_id"))?,
        to_address: r.2,
        subject: r.3,
        text_body: r.4,
        html_body: r.5,
        created_at: utc(r.6),
        sent_at: r.7.map(utc),
    })
}

pub async fn insert(conn: &mut Conn<'_>, mail: &OutgoingMail) -> Result<(), StoreError> {
    let insert = diesel::insert_into(outgoing_mail::table).values((
        outgoing_mail::id.eq(mail.id.to_string()),
        outgoing_mail::person_id.eq(mail.person_id.map(|p| p.to_string())),
        outgoing_mail::to_address.eq(&mail.to_address),
        outgoing_mail::subject.eq(&mail.subject),
        outgoing_mail::text_body.eq(&mail.text_body),
        outgoing_mail::html_body.eq(&mail.html_body),
        outgoing_mail::created_at.eq(naive(mail.created_at)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

pub async fn get(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<OutgoingMail>, StoreError> {
    let query = outgoing_mail::table.find(id.to_string()).select(columns());
    let row: Option<Row> = on_backend!(conn, |c| query.first(c).await.optional())?;
    row.map(from_row).transpose()
}

pub async fn mark_sent(
    conn: &mut Conn<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = diesel::update(outgoing_mail::table.find(id.to_string()))
        .set(outgoing_mail::sent_at.eq(Some(naive(now))));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// The latest mails, newest first (the development mailbox page).
pub async fn recent(conn: &mut Conn<'_>, limit: i64) -> Result<Vec<OutgoingMail>, StoreError> {
    let query = outgoing_mail::table
        .order(outgoing_mail::created_at.desc())
        .limit(limit)
        .select(columns());
    let rows: Vec<Row> = on_backend!(conn, |c| query.load(c).await)?;
    rows.into_iter().map(from_row).collect()
}
