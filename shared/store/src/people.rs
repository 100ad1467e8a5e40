//! People Jinguo notifies: how to reach them and how they prefer to be reached.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::notify::{Channel, Person};
use uuid::Uuid;

use crate::error::parse;
use crate::json::naive;
use crate::schema::people;
use crate::{Conn, StoreError, on_backend};

#[derive(Queryable, Selectable)]
#[diesel(table_name = people, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct PersonRecord {
    id: String,
    display_name: String,
    email: String,
    phone: Option<String>,
    preferred_channel: String,
}

impl TryFrom<PersonRecord> for Person {
    type Error = StoreError;
    fn try_from(r: PersonRecord) -> Result<Self, StoreError> {
        Ok(Person {
            id: parse(&r.id, "people id")?,
            display_name: r.display_name,
            email: r.email,
            phone: r.phone,
            preferred_channel: parse(&r.preferred_channel, "preferred_channel")?,
        })
    }
}

/// Adds a person; the email is unique regardless of case.
pub async fn insert(
    conn: &mut Conn<'_>,
    person: &Person,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let insert = diesel::insert_into(people::table).values((
        people::id.eq(person.id.to_string()),
        people::display_name.eq(&person.display_name),
        people::email.eq(&person.email),
        people::phone.eq(&person.phone),
        people::preferred_channel.eq(person.preferred_channel.as_str()),
        people::created_at.eq(naive(now)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

pub async fn get(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<Person>, StoreError> {
    let query = people::table.find(id.to_string());
    let row = on_backend!(conn, |c| query
        .select(PersonRecord::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(Person::try_from).transpose()
}

/// Changes how a person prefers to be reached.
pub async fn set_preferred_channel(
    conn: &mut Conn<'_>,
    id: Uuid,
    channel: Channel,
) -> Result<bool, StoreError> {
    let update = diesel::update(people::table.find(id.to_string()))
        .set(people::preferred_channel.eq(channel.as_str()));
    Ok(on_backend!(conn, |c| update.execute(c).await)? == 1)
}

/// The name to greet someone by in mail and pages; empty for an unknown person.
pub async fn display_name(conn: &mut Conn<'_>, id: Uuid) -> Result<String, StoreError> {
    Ok(get(conn, id)
        .await?
        .map(|p| p.display_name)
        .unwrap_or_default())
}

/// The names of `ids` and whether each is active, in one query per 500 (an unknown id is left
/// out): what a page listing many people needs.
pub async fn names(
    conn: &mut Conn<'_>,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, (String, bool)>, StoreError> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let query = people::table
            .filter(people::id.eq_any(chunk.iter().map(Uuid::to_string).collect::<Vec<_>>()))
            .select((people::id, people::display_name, people::active));
        let rows: Vec<(String, String, bool)> = on_backend!(conn, |c| query.load(c).await)?;
        for (id, name, active) in rows {
            out.insert(parse(&id, "people id")?, (name, active));
        }
    }
    Ok(out)
}
