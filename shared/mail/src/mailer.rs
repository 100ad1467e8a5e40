//! The mailer service: `mail.send` → lettre, over SMTP (pooled) or as .eml files. A mail is
//! multipart/alternative (plain and HTML), wrapped in multipart/mixed with its attachment when it
//! has one.
//!
//! A mail is marked sent once the server accepted it, so a redelivered `mail.send` does not send
//! it again. A crash after the server accepted the mail and before that commit can send it
//! twice — with the same Message-ID, so clients show it once. No transaction is open during the
//! SMTP exchange (`Handlers::on_outside`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jinguo_bus::{HandlerError, Handlers, Worker};
use jinguo_config::Config;
use jinguo_store::mail::OutgoingMail;
use jinguo_store::{BoxFuture, Store};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::MailSend;
use crate::smtp::NoDelaySmtp;

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    /// `smtp://` (plain or STARTTLS): connections of our own, with `TCP_NODELAY` (crate::smtp).
    SmtpNoDelay(Arc<NoDelaySmtp>),
    /// `smtps://`: lettre's transport.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `<dir>/<mail id>.eml`, for the embedded default and development.
    Files(PathBuf),
}

/// A failed send: temporary ones are retried, permanent ones become dead letters.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

impl From<SendError> for HandlerError {
    fn from(e: SendError) -> Self {
        HandlerError {
            message: e.message,
            permanent: e.permanent,
        }
    }
}

impl Transport {
    /// SMTP when `mail.smtp_url` is set, else files in `mail.dir`.
    pub fn from_config(config: &Config) -> Result<Transport, String> {
        match &config.mail.smtp_url {
            Some(url) => {
                // lettre's parser checks every URL, also those sent on our own connections.
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("configuration: mail.smtp_url: {e}"))?;
                Ok(match NoDelaySmtp::from_url(url) {
                    Some(own) => Transport::SmtpNoDelay(Arc::new(own)),
                    None => Transport::Smtp(builder.build()),
                })
            }
            None => Ok(Transport::Files(config.mail.dir.clone())),
        }
    }

    pub async fn send(&self, message: &Message, id: Uuid) -> Result<(), SendError> {
        match self {
            Transport::SmtpNoDelay(smtp) => smtp
                .send(message.envelope(), &message.formatted())
                .await
                .map_err(|e| SendError {
                    permanent: e.is_permanent(),
                    message: format!("smtp: {e}"),
                }),
            Transport::Smtp(smtp) => {
                smtp.send(message.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        // Connection trouble and 4xx answers are worth another try; 5xx are not.
                        permanent: e.is_permanent(),
                        message: format!("smtp: {e}"),
                    })
            }
            Transport::Files(dir) => write_file(dir, id, &message.formatted())
                .await
                .map_err(|e| SendError {
                    permanent: false,
                    message: format!("writing mail to {}: {e}", dir.display()),
                }),
        }
    }
}

/// Writes atomically (temporary file, then rename), so a reader never sees half a mail.
async fn write_file(dir: &Path, id: Uuid, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{id}.eml.tmp"));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, dir.join(format!("{id}.eml"))).await
}

/// The `mail.send` handler.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// Right-hand side of every Message-ID.
    domain: String,
}

impl Mailer {
    pub fn new(transport: Transport, from: &str) -> Result<Mailer, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("configuration: mail.from: {from:?} is not a mailbox: {e}"))?;
        let domain = from.email.domain().to_owned();
        Ok(Mailer {
            transport,
            from,
            domain,
        })
    }

    /// Message-ID from the mail's id: the same on every attempt.
    pub fn message_id(&self, id: Uuid) -> String {
        format!("<{id}@{}>", self.domain)
    }

    fn build(&self, mail: &OutgoingMail) -> Result<Message, SendError> {
        let permanent = |what: String| SendError {
            message: what,
            permanent: true,
        };
        let to: Mailbox = mail
            .to_address
            .parse()
            .map_err(|e| permanent(format!("mail {}: bad recipient address: {e}", mail.id)))?;
        let mut body =
            MultiPart::alternative_plain_html(mail.text_body.clone(), mail.html_body.clone());
        if let Some(attachment) = &mail.attachment {
            let content_type = ContentType::parse(&attachment.content_type).map_err(|e| {
                permanent(format!(
                    "mail {}: attachment content type {:?}: {e}",
                    mail.id, attachment.content_type
                ))
            })?;
            body = MultiPart::mixed().multipart(body).singlepart(
                Attachment::new(attachment.filename.clone())
                    .body(attachment.body.clone(), content_type),
            );
        }
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(self.message_id(mail.id)))
            .multipart(body)
            .map_err(|e| permanent(format!("mail {}: {e}", mail.id)))
    }
}

impl Mailer {
    /// Sends the mail of `job`, once: a mail already marked sent is not sent again.
    ///
    /// No transaction is open while the SMTP server answers: the mail is read, sent, then
    /// marked sent in a short transaction of its own. On SQLite a transaction held across the
    /// exchange would hold the one write lock, and every decision behind it would wait.
    pub fn send<'a>(
        &'a self,
        store: &'a Store,
        job: MailSend,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let id = job.mail_id;
            let Some(mail) = store
                .read(move |c| Box::pin(jinguo_store::mail::get(c, id)))
                .await?
            else {
                return Err(HandlerError::permanent(format!("no mail {id}")));
            };
            if mail.sent_at.is_some() {
                tracing::info!(mail = %id, "mail already sent; not sending again");
                return Ok(());
            }
            let email = self.build(&mail)?;
            self.transport.send(&email, id).await?;
            let sent_at = jinguo_bus::now();
            store
                .write_alone(move |c| Box::pin(jinguo_store::mail::mark_sent(c, id, sent_at)))
                .await?;
            tracing::info!(mail = %id, "mail sent");
            Ok(())
        })
    }
}

/// The mailer as a consuming service.
pub fn mailer_worker(config: &Config) -> Result<Worker, String> {
    let mailer = Mailer::new(Transport::from_config(config)?, &config.mail.from)?;
    Ok(Handlers::new(mailer)
        .on_outside::<MailSend, _>(Mailer::send)
        .worker("mailer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jinguo_store::mail::Attachment;

    fn mail(attachment: Option<Attachment>) -> OutgoingMail {
        OutgoingMail {
            id: Uuid::from_u128(7),
            person_id: None,
            to_address: "wangfang@example.cn".into(),
            subject: "宣讲安排".into(),
            text_body: "见附件。".into(),
            html_body: "<p>见附件。</p>".into(),
            created_at: "2026-12-06T08:00:00Z".parse().unwrap(),
            sent_at: None,
            attachment,
        }
    }

    fn mailer() -> Mailer {
        Mailer::new(
            Transport::Files("unused".into()),
            "巾帼 <noreply@jinguo.invalid>",
        )
        .unwrap()
    }

    #[test]
    fn an_attachment_makes_the_mail_mixed_around_the_alternative() {
        let calendar = Attachment {
            filename: "宣讲安排.ics".into(),
            content_type: "text/calendar; charset=UTF-8; method=PUBLISH".into(),
            body: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into(),
        };
        let raw =
            String::from_utf8(mailer().build(&mail(Some(calendar))).unwrap().formatted()).unwrap();
        let mixed = raw.find("multipart/mixed").expect(&raw);
        let alternative = raw.find("multipart/alternative").expect(&raw);
        let calendar = raw.find("Content-Type: text/calendar").expect(&raw);
        assert!(mixed < alternative && alternative < calendar, "{raw}");
        assert!(raw.contains("Content-Disposition: attachment"), "{raw}");

        let raw = String::from_utf8(mailer().build(&mail(None)).unwrap().formatted()).unwrap();
        assert!(!raw.contains("multipart/mixed"), "{raw}");
        assert!(!raw.contains("Content-Disposition"), "{raw}");
    }

    #[test]
    fn an_attachment_type_that_does_not_parse_is_a_permanent_error_naming_the_mail() {
        let bad = Attachment {
            filename: "x.ics".into(),
            content_type: "calendar".into(),
            body: String::new(),
        };
        let e = mailer().build(&mail(Some(bad))).unwrap_err();
        assert!(e.permanent);
        assert!(e.message.contains(&Uuid::from_u128(7).to_string()), "{e}");
    }
}
