//! SMTP over pooled connections with `TCP_NODELAY`.
//!
//! lettre 0.11 writes a message's body and its closing `\r\n.\r\n` in two writes on a socket
//! with Nagle's algorithm on: the five-byte terminator waits until the server acknowledges the
//! body, and a server, which says nothing before the terminator, delays that acknowledgement by
//! 40 ms. Every mail took 42 ms longer than its exchange (`jinguo-bench workflow`, with SMTP:
//! 47 ms from a decision to the next mail against 5 ms with file mail). lettre offers no option
//! for it (upstream lettre#1159 sets it, in no release yet), so for `smtp://` URLs — plain, or
//! with STARTTLS (`?tls=required`, `?tls=opportunistic`) — the mailer opens the TCP connection
//! itself, with `TCP_NODELAY`, and hands it to lettre's SMTP client. `smtps://` (TLS from the
//! first byte) stays with lettre's own transport.

use std::sync::Mutex;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// What a `smtp://` URL says, as lettre reads it.
pub struct NoDelaySmtp {
    host: String,
    port: u16,
    tls: Option<Tls>,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// Connections that sent their last mail cleanly, ready for the next.
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

/// How long one exchange may take, connection included, as lettre's own default.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Connections kept between mails: as many as mails the consumer sends at once, at most.
const MAX_IDLE: usize = 32;

impl NoDelaySmtp {
    /// `None` for a URL this client does not take (`smtps://`, an unknown `tls=`): lettre's
    /// transport takes it, or refuses it with its own message.
    pub(crate) fn from_url(raw: &str) -> Option<NoDelaySmtp> {
        let url = url::Url::parse(raw).ok()?;
        if url.scheme() != "smtp" {
            return None;
        }
        let host = url.host_str()?.to_owned();
        let tls_mode = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (tls, default_port) = match tls_mode.as_deref() {
            None => (None, 25),
            Some("required") => (
                Some(Tls::Required(TlsParameters::new(host.clone()).ok()?)),
                587,
            ),
            Some("opportunistic") => (
                Some(Tls::Opportunistic(TlsParameters::new(host.clone()).ok()?)),
                587,
            ),
            Some(_) => return None,
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        Some(NoDelaySmtp {
            port: url.port().unwrap_or(default_port),
            host,
            tls,
            credentials,
            hello,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one mail, on an idle connection if there is one. A pooled connection the server
    /// closed meanwhile fails at its first command, before anything of the mail was accepted:
    /// the mail then goes once more on a new connection.
    pub(crate) async fn send(&self, envelope: &Envelope, email: &[u8]) -> Result<(), SmtpError> {
        if let Some(conn) = self.take_idle() {
            match self.send_on(conn, envelope, email).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_permanent() => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "pooled SMTP connection failed; trying a new one")
                }
            }
        }
        let conn = tokio::time::timeout(TIMEOUT, self.connect())
            .await
            .map_err(|_| SmtpError::TimedOut)??;
        self.send_on(conn, envelope, email).await
    }

    async fn send_on(
        &self,
        mut conn: AsyncSmtpConnection,
        envelope: &Envelope,
        email: &[u8],
    ) -> Result<(), SmtpError> {
        let sent = match tokio::time::timeout(TIMEOUT, conn.send(envelope, email)).await {
            Ok(answer) => answer.map_err(SmtpError::from),
            Err(_) => Err(SmtpError::TimedOut),
        };
        if sent.is_ok() && !conn.has_broken() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        sent.map(|_| ())
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(SmtpError::Connect)?;
        stream.set_nodelay(true).map_err(SmtpError::Connect)?;
        let mut conn =
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?;
        match &self.tls {
            Some(Tls::Required(params)) => conn.starttls(params.clone(), &self.hello).await?,
            Some(Tls::Opportunistic(params)) if conn.can_starttls() => {
                conn.starttls(params.clone(), &self.hello).await?
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(conn)
    }
}

/// Why a mail did not go. lettre's own error has no public constructor, hence this one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SmtpError {
    #[error("{0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("connecting: {0}")]
    Connect(std::io::Error),
    #[error("no answer within {} s", TIMEOUT.as_secs())]
    TimedOut,
}

impl SmtpError {
    /// A 5xx answer: no retry will change it.
    pub(crate) fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Smtp(e) if e.is_permanent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_read_as_lettre_reads_them_and_smtps_is_left_to_lettre() {
        let plain = NoDelaySmtp::from_url("smtp://127.0.0.1").unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 25));
        assert!(plain.tls.is_none() && plain.credentials.is_none());

        let starttls = NoDelaySmtp::from_url(
            "smtp://fulian%40gs:p%40ss@mail.example.cn/jinguo.example.cn?tls=required",
        )
        .unwrap();
        assert_eq!(starttls.port, 587);
        assert!(matches!(starttls.tls, Some(Tls::Required(_))));
        assert!(starttls.credentials.is_some());
        assert_eq!(starttls.hello, ClientId::Domain("jinguo.example.cn".into()));

        let port = NoDelaySmtp::from_url("smtp://mail.example.cn:2525?tls=opportunistic").unwrap();
        assert_eq!(port.port, 2525);
        assert!(matches!(port.tls, Some(Tls::Opportunistic(_))));

        assert!(NoDelaySmtp::from_url("smtps://mail.example.cn").is_none());
        assert!(NoDelaySmtp::from_url("smtp://mail.example.cn?tls=sometimes").is_none());
        assert!(NoDelaySmtp::from_url("not a url").is_none());
    }
}
