//! Email: every mail's template (HTML with a plain-text twin, Simplified Chinese), composing a
//! mail into the outbox inside the caller's transaction, and the mailer that sends it.
//!
//! Programs do not send email: they [`notify`] a person with an urgency, and the channel choice
//! (`jinguo_core::notify::channels`) decides how it goes out. Email is the channel today.

mod mailer;
mod smtp;
mod templates;

use chrono::{DateTime, Utc};
use jinguo_bus::Job;
use jinguo_core::notify::{self, Channel, Person, Urgency};
use jinguo_store::mail::OutgoingMail;
use jinguo_store::{Conn, StoreError, outbox, people};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use jinguo_store::mail::Attachment;
pub use mailer::{Mailer, SendError, Transport, mailer_worker};
pub use templates::{
    BreakGlassNotice, DailyDigest, DeadlineReminder, DigestItem, EligibilityCheck, Email,
    EscalationNotice, NoReviewerNotice, NominationOutcome, ObjectionNotice, ReferralNotice,
    Rendered, ReviewRequest, ReviewUrge, SignInLink, StaffWelcome, StalledUnit, TourLine, TourLink,
    TourNotice,
};

/// The job the mailer handles: send the stored mail `mail_id`. The message id is the mail's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailSend {
    pub mail_id: Uuid,
}

impl Job for MailSend {
    const KIND: &'static str = "mail.send";
}

/// The message kind the mailer listens to.
pub const MAIL_SEND: &str = MailSend::KIND;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no person {0}")]
    UnknownPerson(Uuid),
    #[error("rendering mail template: {0}")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The channels this deployment can send on. SMS joins when a gateway is configured.
pub const AVAILABLE_CHANNELS: [Channel; 1] = [Channel::Email];

/// Notifies `person_id` with `email`, inside the caller's transaction: the mail exists (and
/// will be sent) exactly when the caller's changes commit. Returns the ids of the mails composed.
pub async fn notify(
    conn: &mut Conn<'_>,
    person_id: Uuid,
    email: &dyn Email,
    urgency: Urgency,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, NotifyError> {
    let person = person(conn, person_id).await?;
    notify_person(conn, &person, email, urgency, now).await
}

/// Like [`notify`], and every mail composed carries `attachment` (a lecture tour's .ics file).
pub async fn notify_attached(
    conn: &mut Conn<'_>,
    person_id: Uuid,
    email: &dyn Email,
    attachment: Attachment,
    urgency: Urgency,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, NotifyError> {
    let person = person(conn, person_id).await?;
    on_channels(conn, &person, email, Some(&attachment), urgency, now).await
}

/// Like [`notify`], for a person the caller has read already.
pub async fn notify_person(
    conn: &mut Conn<'_>,
    person: &Person,
    email: &dyn Email,
    urgency: Urgency,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, NotifyError> {
    on_channels(conn, person, email, None, urgency, now).await
}

async fn person(conn: &mut Conn<'_>, id: Uuid) -> Result<Person, NotifyError> {
    people::get(conn, id)
        .await?
        .ok_or(NotifyError::UnknownPerson(id))
}

async fn on_channels(
    conn: &mut Conn<'_>,
    person: &Person,
    email: &dyn Email,
    attachment: Option<&Attachment>,
    urgency: Urgency,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, NotifyError> {
    let mut sent = Vec::new();
    for channel in notify::channels(person, urgency, &AVAILABLE_CHANNELS) {
        match channel {
            Channel::Email => sent.push(compose_with(conn, person, email, attachment, now).await?),
            // Not in AVAILABLE_CHANNELS yet: an SMS gateway adapter goes here (an attachment
            // stays with the email).
            Channel::Sms => {}
        }
    }
    Ok(sent)
}

/// Renders `email` for `to`, records it and enqueues its `mail.send` message (same id).
pub async fn compose(
    conn: &mut Conn<'_>,
    to: &Person,
    email: &dyn Email,
    now: DateTime<Utc>,
) -> Result<Uuid, NotifyError> {
    compose_with(conn, to, email, None, now).await
}

async fn compose_with(
    conn: &mut Conn<'_>,
    to: &Person,
    email: &dyn Email,
    attachment: Option<&Attachment>,
    now: DateTime<Utc>,
) -> Result<Uuid, NotifyError> {
    let rendered = email.render()?;
    let id = jinguo_bus::new_id();
    jinguo_store::mail::insert(
        conn,
        &OutgoingMail {
            id,
            person_id: Some(to.id),
            to_address: to.email.clone(),
            subject: rendered.subject,
            text_body: rendered.text,
            html_body: rendered.html,
            created_at: now,
            sent_at: None,
            attachment: attachment.cloned(),
        },
    )
    .await?;
    let message = MailSend { mail_id: id }.envelope_with_id(id, now);
    outbox::push(conn, &[message], now).await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_send_keeps_its_wire_format() {
        let id = Uuid::from_u128(7);
        let at: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        let e = MailSend { mail_id: id }.envelope_with_id(id, at);
        assert_eq!(e.kind, "mail.send");
        assert_eq!(e.id, id);
        assert_eq!(e.payload, serde_json::json!({ "mail_id": id }));
        assert_eq!(MailSend::decode(&e).unwrap().mail_id, id);
    }
}
