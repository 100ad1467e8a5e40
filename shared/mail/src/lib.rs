//! Email: every mail's template (HTML with a plain-text twin, Simplified Chinese), composing a
//! mail into the outbox inside the caller's transaction, and the mailer that sends it.
//!
//! Programs do not send email: they [`notify`] a person with an urgency, and the channel choice
//! (`jinguo_core::notify::channels`) decides how it goes out. Email is the channel today.

mod mailer;
mod templates;

use chrono::{DateTime, Utc};
use jinguo_bus::Envelope;
use jinguo_core::notify::{self, Channel, Person, Urgency};
use jinguo_store::mail::OutgoingMail;
use jinguo_store::{Conn, StoreError, outbox, people};
use uuid::Uuid;

pub use mailer::{Mailer, SendError, Transport, mailer_worker};
pub use templates::{
    BreakGlassNotice, DailyDigest, DeadlineReminder, DigestItem, EligibilityCheck, Email,
    NoReviewerNotice, Rendered, ReviewRequest, SignInLink,
};

/// The message kind the mailer listens to.
pub const MAIL_SEND: &str = "mail.send";

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
    let person = people::get(conn, person_id)
        .await?
        .ok_or(NotifyError::UnknownPerson(person_id))?;
    let mut sent = Vec::new();
    for channel in notify::channels(&person, urgency, &AVAILABLE_CHANNELS) {
        match channel {
            Channel::Email => sent.push(compose(conn, &person, email, now).await?),
            // Not in AVAILABLE_CHANNELS yet: an SMS gateway adapter goes here.
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
        },
    )
    .await?;
    let message = Envelope::new(MAIL_SEND, serde_json::json!({ "mail_id": id }), id, now);
    outbox::push(conn, &[message], now).await?;
    Ok(id)
}
