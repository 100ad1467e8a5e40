//! Action links (by token hash), sessions and API tokens: the credentials Jinguo hands out.
//! Only hashes are stored; the secrets exist in emails, cookies and the operator's terminal.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::parse;
use crate::json::{naive, utc};
use crate::schema::{action_links, api_tokens, sessions};
use crate::{Conn, StoreError, locked, on_backend};

/// An action link as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionLink {
    pub token_hash: String,
    pub purpose: String,
    pub subject: String,
    pub actor: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub superseded_at: Option<DateTime<Utc>>,
    /// Who decided instead, in words for the page ("王芳").
    pub superseded_by: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = action_links, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct LinkRecord {
    token_hash: String,
    purpose: String,
    subject: String,
    actor: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    outcome: Option<String>,
    superseded_at: Option<NaiveDateTime>,
    superseded_by: Option<String>,
}

impl TryFrom<LinkRecord> for ActionLink {
    type Error = StoreError;
    fn try_from(r: LinkRecord) -> Result<Self, StoreError> {
        Ok(ActionLink {
            actor: parse(&r.actor, "action link actor")?,
            token_hash: r.token_hash,
            purpose: r.purpose,
            subject: r.subject,
            created_at: utc(r.created_at),
            expires_at: utc(r.expires_at),
            used_at: r.used_at.map(utc),
            outcome: r.outcome,
            superseded_at: r.superseded_at.map(utc),
            superseded_by: r.superseded_by,
        })
    }
}

pub async fn insert_link(conn: &mut Conn<'_>, l: &ActionLink) -> Result<(), StoreError> {
    let insert = diesel::insert_into(action_links::table).values((
        action_links::token_hash.eq(&l.token_hash),
        action_links::purpose.eq(&l.purpose),
        action_links::subject.eq(&l.subject),
        action_links::actor.eq(l.actor.to_string()),
        action_links::created_at.eq(naive(l.created_at)),
        action_links::expires_at.eq(naive(l.expires_at)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The link with this token hash, locked until the transaction ends (a POST decides once).
pub async fn lock_link(
    conn: &mut Conn<'_>,
    token_hash: &str,
) -> Result<Option<ActionLink>, StoreError> {
    let query = action_links::table.find(token_hash.to_owned());
    let row = locked!(conn, query.select(LinkRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    row.map(ActionLink::try_from).transpose()
}

pub async fn get_link(
    conn: &mut Conn<'_>,
    token_hash: &str,
) -> Result<Option<ActionLink>, StoreError> {
    let query = action_links::table.find(token_hash.to_owned());
    let row = on_backend!(conn, |c| query
        .select(LinkRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(ActionLink::try_from).transpose()
}

pub async fn mark_used(
    conn: &mut Conn<'_>,
    token_hash: &str,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = diesel::update(action_links::table.find(token_hash.to_owned())).set((
        action_links::used_at.eq(Some(naive(now))),
        action_links::outcome.eq(Some(outcome)),
    ));
    on_backend!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// The links for (`purpose`, `subject`) not used and not superseded.
#[diesel::dsl::auto_type]
fn unused<'a>(purpose: &'a str, subject: &'a str) -> _ {
    action_links::purpose
        .eq(purpose)
        .and(action_links::subject.eq(subject))
        .and(action_links::used_at.is_null())
        .and(action_links::superseded_at.is_null())
}

/// What superseding a link writes: when, and who decided instead (`by`, for the page).
#[diesel::dsl::auto_type]
fn superseded<'a>(by: &'a str, now: DateTime<Utc>) -> _ {
    let at: Option<NaiveDateTime> = Some(naive(now));
    let by: Option<&'a str> = Some(by);
    (
        action_links::superseded_at.eq(at),
        action_links::superseded_by.eq(by),
    )
}

/// Marks every unused link for (`purpose`, `subject`) superseded: someone else decided.
pub async fn supersede(
    conn: &mut Conn<'_>,
    purpose: &str,
    subject: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let update = diesel::update(action_links::table.filter(unused(purpose, subject)))
        .set(superseded(by, now));
    Ok(on_backend!(conn, |c| update.execute(c).await)?)
}

/// The people holding a usable (unused, not superseded, unexpired) link for
/// (`purpose`, `subject`).
pub async fn open_actors(
    conn: &mut Conn<'_>,
    purpose: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let query = action_links::table
        .filter(unused(purpose, subject))
        .filter(action_links::expires_at.gt(naive(now)))
        .select(action_links::actor);
    let rows: Vec<String> = on_backend!(conn, |c| query.load(c).await)?;
    Ok(rows.iter().filter_map(|a| a.parse().ok()).collect())
}

/// The subjects of `actor`'s links for `purpose` (used or not).
pub async fn subjects_of(
    conn: &mut Conn<'_>,
    purpose: &str,
    actor: Uuid,
) -> Result<Vec<String>, StoreError> {
    let query = action_links::table
        .filter(action_links::purpose.eq(purpose.to_owned()))
        .filter(action_links::actor.eq(actor.to_string()))
        .select(action_links::subject)
        .distinct();
    Ok(on_backend!(conn, |c| query.load(c).await)?)
}

/// Supersedes `actor`'s unused links for (`purpose`, `subject`): the work passed to others.
pub async fn supersede_for(
    conn: &mut Conn<'_>,
    purpose: &str,
    subject: &str,
    actor: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let update = diesel::update(
        action_links::table
            .filter(unused(purpose, subject))
            .filter(action_links::actor.eq(actor.to_string())),
    )
    .set(superseded(by, now));
    Ok(on_backend!(conn, |c| update.execute(c).await)?)
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub person: Uuid,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_session(
    conn: &mut Conn<'_>,
    token_hash: &str,
    person: Uuid,
    csrf: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let insert = diesel::insert_into(sessions::table).values((
        sessions::token_hash.eq(token_hash),
        sessions::person_id.eq(person.to_string()),
        sessions::csrf.eq(csrf),
        sessions::created_at.eq(naive(now)),
        sessions::expires_at.eq(naive(expires_at)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct SessionRecord {
    person_id: String,
    csrf: String,
    expires_at: NaiveDateTime,
}

/// The live session for this token hash, of an active person.
pub async fn session(
    conn: &mut Conn<'_>,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    let query = sessions::table
        .find(token_hash.to_owned())
        .filter(sessions::expires_at.gt(naive(now)));
    let row = on_backend!(conn, |c| query
        .select(SessionRecord::as_select())
        .first(c)
        .await
        .optional())?;
    // A session whose person id does not parse is no session.
    let Some(session) = row.and_then(|r| {
        Some(Session {
            person: r.person_id.parse().ok()?,
            csrf: r.csrf,
            expires_at: utc(r.expires_at),
        })
    }) else {
        return Ok(None);
    };
    Ok(crate::staff::is_active(conn, session.person)
        .await?
        .then_some(session))
}

pub async fn delete_session(conn: &mut Conn<'_>, token_hash: &str) -> Result<(), StoreError> {
    let delete = diesel::delete(sessions::table.find(token_hash.to_owned()));
    on_backend!(conn, |c| delete.execute(c).await)?;
    Ok(())
}

pub async fn insert_api_token(
    conn: &mut Conn<'_>,
    token_hash: &str,
    person: Uuid,
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let insert = diesel::insert_into(api_tokens::table).values((
        api_tokens::token_hash.eq(token_hash),
        api_tokens::person_id.eq(person.to_string()),
        api_tokens::created_at.eq(naive(now)),
        api_tokens::expires_at.eq(expires_at.map(naive)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct TokenRecord {
    person_id: String,
    expires_at: Option<NaiveDateTime>,
}

/// The active person a live (unexpired, unrevoked) API token belongs to.
pub async fn api_token_person(
    conn: &mut Conn<'_>,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StoreError> {
    let query = api_tokens::table
        .find(token_hash.to_owned())
        .filter(api_tokens::revoked_at.is_null());
    let row = on_backend!(conn, |c| query
        .select(TokenRecord::as_select())
        .first(c)
        .await
        .optional())?;
    let Some(person) = row
        .filter(|t| t.expires_at.is_none_or(|e| utc(e) > now))
        .and_then(|t| t.person_id.parse::<Uuid>().ok())
    else {
        return Ok(None);
    };
    Ok(crate::staff::is_active(conn, person)
        .await?
        .then_some(person))
}

/// What disabling a person ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revoked {
    pub sessions: usize,
    pub tokens: usize,
    pub links: usize,
}

/// Ends every credential of `person`: deletes their sessions, revokes their API tokens and
/// supersedes their unused action links (`by`: what the link page says instead).
pub async fn revoke_all(
    conn: &mut Conn<'_>,
    person: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Revoked, StoreError> {
    let id = person.to_string();
    let delete = diesel::delete(sessions::table.filter(sessions::person_id.eq(id.clone())));
    let sessions = on_backend!(conn, |c| delete.execute(c).await)?;
    let revoke = diesel::update(
        api_tokens::table
            .filter(api_tokens::person_id.eq(id.clone()))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(Some(naive(now))));
    let tokens = on_backend!(conn, |c| revoke.execute(c).await)?;
    let supersede = diesel::update(
        action_links::table
            .filter(action_links::actor.eq(id))
            .filter(action_links::used_at.is_null())
            .filter(action_links::superseded_at.is_null()),
    )
    .set(superseded(by, now));
    let links = on_backend!(conn, |c| supersede.execute(c).await)?;
    Ok(Revoked {
        sessions,
        tokens,
        links,
    })
}
