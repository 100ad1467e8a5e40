//! Action links: one module for every emailed action (sign-in, review, acknowledgement, lecture
//! decline, attendance). A link is a 256-bit secret bound to a purpose, a subject, an actor and
//! an expiry. Looking at it (GET) changes nothing; using it (POST) acts once, inside the same
//! transaction that locks it.

use chrono::{DateTime, Duration, Utc};
use jinguo_store::links::{self as store_links, ActionLink};
use jinguo_store::{Conn, StoreError};
use uuid::Uuid;

use crate::{Secret, record};

/// What a presented link turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkState {
    /// Never issued (or mistyped).
    Unknown,
    /// Issued to someone else than the person signed in: a forwarded link.
    Foreign(ActionLink),
    Expired(ActionLink),
    /// Already used, with its outcome.
    Used(ActionLink),
    /// Someone else decided first.
    Superseded(ActionLink),
    /// Its person is disabled, or was when the link was revoked: it never works again.
    Revoked(ActionLink),
    Valid(ActionLink),
}

/// What `superseded_by` says of links ended by disabling their person.
pub const REVOKED: &str = "账号已停用";

impl LinkState {
    pub fn name(&self) -> &'static str {
        match self {
            LinkState::Unknown => "unknown",
            LinkState::Foreign(_) => "foreign",
            LinkState::Expired(_) => "expired",
            LinkState::Used(_) => "used",
            LinkState::Superseded(_) => "superseded",
            LinkState::Revoked(_) => "revoked",
            LinkState::Valid(_) => "valid",
        }
    }
}

fn classify(
    link: Option<ActionLink>,
    actor_active: bool,
    signed_in: Option<Uuid>,
    now: DateTime<Utc>,
) -> LinkState {
    let Some(link) = link else {
        return LinkState::Unknown;
    };
    if signed_in.is_some_and(|p| p != link.actor) {
        LinkState::Foreign(link)
    } else if !actor_active || link.superseded_by.as_deref() == Some(REVOKED) {
        LinkState::Revoked(link)
    } else if link.used_at.is_some() {
        LinkState::Used(link)
    } else if link.superseded_at.is_some() {
        LinkState::Superseded(link)
    } else if link.expires_at <= now {
        LinkState::Expired(link)
    } else {
        LinkState::Valid(link)
    }
}

/// Issues a link in the caller's transaction and returns its secret (for the email only).
pub async fn issue(
    conn: &mut Conn<'_>,
    purpose: &str,
    subject: &str,
    actor: Uuid,
    valid_for: Duration,
    now: DateTime<Utc>,
) -> Result<Secret, StoreError> {
    let secret = Secret::generate();
    store_links::insert_link(
        conn,
        &ActionLink {
            token_hash: secret.hash(),
            purpose: purpose.to_owned(),
            subject: subject.to_owned(),
            actor,
            created_at: now,
            expires_at: now + valid_for,
            used_at: None,
            outcome: None,
            superseded_at: None,
            superseded_by: None,
        },
    )
    .await?;
    record(
        conn,
        &actor.to_string(),
        "link.issued",
        subject,
        serde_json::json!({ "purpose": purpose }),
        now,
    )
    .await?;
    Ok(secret)
}

/// What a link is, without changing anything (the GET side; mail scanners fetch links).
pub async fn inspect(
    conn: &mut Conn<'_>,
    secret: &Secret,
    signed_in: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<LinkState, StoreError> {
    let link = store_links::get_link(conn, &secret.hash()).await?;
    let active = actor_active(conn, link.as_ref()).await?;
    Ok(classify(link, active, signed_in, now))
}

/// Whether the link's person is active at the moment of use (the one rule, in the store).
async fn actor_active(conn: &mut Conn<'_>, link: Option<&ActionLink>) -> Result<bool, StoreError> {
    match link {
        Some(l) => jinguo_store::staff::is_active(conn, l.actor).await,
        None => Ok(false),
    }
}

/// Locks the link for the POST side: call inside the transaction that acts, then [`used`] if
/// the action went ahead. Anything but `Valid` is audited here as a refused use.
pub async fn claim(
    conn: &mut Conn<'_>,
    secret: &Secret,
    signed_in: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<LinkState, StoreError> {
    let link = store_links::lock_link(conn, &secret.hash()).await?;
    let active = actor_active(conn, link.as_ref()).await?;
    let state = classify(link, active, signed_in, now);
    match &state {
        LinkState::Valid(_) => {}
        LinkState::Unknown => {
            let actor = signed_in.map_or_else(|| "anonymous".to_owned(), |p| p.to_string());
            record(
                conn,
                &actor,
                "link.refused",
                "unknown",
                serde_json::json!({ "reason": "unknown" }),
                now,
            )
            .await?;
        }
        other => {
            let link = match other {
                LinkState::Foreign(l)
                | LinkState::Expired(l)
                | LinkState::Used(l)
                | LinkState::Superseded(l)
                | LinkState::Revoked(l) => l,
                _ => unreachable!("handled above"),
            };
            let actor = signed_in.unwrap_or(link.actor).to_string();
            let details = serde_json::json!({ "purpose": link.purpose, "reason": other.name() });
            record(conn, &actor, "link.refused", &link.subject, details, now).await?;
        }
    }
    Ok(state)
}

/// Marks a claimed link used with its outcome, and audits the use.
pub async fn used(
    conn: &mut Conn<'_>,
    link: &ActionLink,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    store_links::mark_used(conn, &link.token_hash, outcome, now).await?;
    let details = serde_json::json!({ "purpose": link.purpose, "outcome": outcome });
    record(
        conn,
        &link.actor.to_string(),
        "link.used",
        &link.subject,
        details,
        now,
    )
    .await
}

/// Supersedes the other open links of a subject once someone decided (`by`: their name, shown
/// on the page of anyone who opens a superseded link).
pub async fn supersede(
    conn: &mut Conn<'_>,
    purpose: &str,
    subject: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    store_links::supersede(conn, purpose, subject, by, now).await
}
