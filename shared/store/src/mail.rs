//! Outgoing mail: composed in the transaction that decides to send it, sent by the mailer,
//! marked sent in the mailer's own transaction.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::parse;
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
    pub attachment: Option<Attachment>,
}

/// A file sent with a mail, stored as text (a lecture tour's .ics calendar).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    /// A MIME content type with its parameters, e.g. `text/calendar; charset=UTF-8; method=PUBLISH`;
    /// the mailer refuses (permanently) one that does not parse.
    pub content_type: String,
    pub body: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outgoing_mail, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct MailRecord {
    id: String,
    person_id: Option<String>,
    to_address: String,
    subject: String,
    text_body: String,
    html_body: String,
    created_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
    attachment_name: Option<String>,
    attachment_type: Option<String>,
    attachment_body: Option<String>,
}

impl TryFrom<MailRecord> for OutgoingMail {
    type Error = StoreError;
    fn try_from(r: MailRecord) -> Result<Self, StoreError> {
        let attachment = match (r.attachment_name, r.attachment_type, r.attachment_body) {
            (Some(filename), Some(content_type), Some(body)) => Some(Attachment {
                filename,
                content_type,
                body,
            }),
            (None, None, None) => None,
            _ => {
                return Err(StoreError::corrupt(format!(
                    "outgoing_mail {}: part of an attachment",
                    r.id
                )));
            }
        };
        Ok(OutgoingMail {
            id: parse(&r.id, "outgoing_mail id")?,
            person_id: r
                .person_id
                .as_deref()
                .map(|p| parse(p, "outgoing_mail person_id"))
                .transpose()?,
            to_address: r.to_address,
            subject: r.subject,
            text_body: r.text_body,
            html_body: r.html_body,
            created_at: utc(r.created_at),
            sent_at: r.sent_at.map(utc),
            attachment,
        })
    }
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
        outgoing_mail::attachment_name.eq(mail.attachment.as_ref().map(|a| &a.filename)),
        outgoing_mail::attachment_type.eq(mail.attachment.as_ref().map(|a| &a.content_type)),
        outgoing_mail::attachment_body.eq(mail.attachment.as_ref().map(|a| &a.body)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

pub async fn get(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<OutgoingMail>, StoreError> {
    let query = outgoing_mail::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(MailRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(OutgoingMail::try_from).transpose()
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
        .limit(limit);
    let rows = on_backend!(conn, |c| query
        .select(MailRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter().map(OutgoingMail::try_from).collect()
}
