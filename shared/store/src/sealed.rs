//! Every sealed value Jinguo keeps, in one registry ([`PLACES`]), and the SQL that key rotation
//! needs: pages of values not yet sealed under a given key, a compare-and-set replacement, and
//! counts of values per key.
//!
//! The store never opens or seals anything (it does not know the keys): it hands out values
//! and takes back new ones. What it knows of the sealed format is its prefix,
//! `v1:<key id>:`, enough to tell which key sealed a value.
//!
//! Guarantees:
//! - A sealed place added to the schema is added here (its [`Place`] constant, listed in
//!   [`PLACES`]) and nowhere else: rotation and its census walk this list, and writers take the
//!   associated data from the constant.
//! - [`replace`] writes only if the row still holds exactly what was read (the whole JSON
//!   object, for a field inside one): a value a concurrent writer changed is never overwritten.
//! - Table and column names in the SQL come only from [`PLACES`] (checked to be plain
//!   identifiers); everything else is bound.

use std::fmt;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::RunQueryDsl;

use crate::{Conn, StoreError, on_backend};

/// Where in its row a sealed value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A TEXT column holding the sealed value itself; NULL when there is none.
    Column(&'static str),
    /// A string field of the JSON object kept in a TEXT column; absent or null when there is
    /// none.
    JsonField {
        column: &'static str,
        field: &'static str,
    },
}

/// One kind of sealed value: the table, the column (or JSON field) that holds it, and the
/// associated data it is sealed for, `<context>:<row id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub table: &'static str,
    pub id_column: &'static str,
    pub holder: Holder,
    /// The associated data's prefix, e.g. `nomination.phone`.
    pub context: &'static str,
}

/// The nominee's contact phone, in the family record (see `jinguo_nominations::FamilyRecord`).
pub const NOMINATION_PHONE: Place = Place {
    table: "nominations",
    id_column: "id",
    holder: Holder::JsonField {
        column: "family",
        field: "phone_sealed",
    },
    context: "nomination.phone",
};

/// A referral's victim (migration 2026-12-01-000011_referrals).
pub const REFERRAL_VICTIM: Place = Place {
    table: "referrals",
    id_column: "id",
    holder: Holder::Column("victim_sealed"),
    context: "referral.victim",
};

/// Who reported a referral; NULL for self-referrals.
pub const REFERRAL_REPORTER: Place = Place {
    table: "referrals",
    id_column: "id",
    holder: Holder::Column("reporter_sealed"),
    context: "referral.reporter",
};

/// What happened, as the referral records it.
pub const REFERRAL_INCIDENT: Place = Place {
    table: "referrals",
    id_column: "id",
    holder: Holder::Column("incident_sealed"),
    context: "referral.incident",
};

/// The free-text note of a referral's timeline event; NULL when there is none.
pub const REFERRAL_EVENT_NOTE: Place = Place {
    table: "referral_events",
    id_column: "id",
    holder: Holder::Column("note_sealed"),
    context: "referral_event.note",
};

/// An objector's phone during a 公示 (migration 2026-12-06-000017_objections).
pub const OBJECTOR_PHONE: Place = Place {
    table: "nomination_objections",
    id_column: "id",
    holder: Holder::Column("phone_sealed"),
    context: "objection.phone",
};

/// Every place a sealed value is kept. A new sealed column is one more constant above and one
/// more entry here; whoever seals a value takes its associated data from its place
/// ([`Place::associated_data`]), so writer and rotation cannot disagree.
pub const PLACES: &[Place] = &[
    NOMINATION_PHONE,
    OBJECTOR_PHONE,
    REFERRAL_VICTIM,
    REFERRAL_REPORTER,
    REFERRAL_INCIDENT,
    REFERRAL_EVENT_NOTE,
];

impl Place {
    /// The associated data the value of row `id` is sealed for.
    pub fn associated_data(&self, id: &str) -> String {
        format!("{}:{id}", self.context)
    }

    /// The column the row keeps the value in (for a JSON field, the column of the object).
    pub fn column(&self) -> &'static str {
        match self.holder {
            Holder::Column(column) | Holder::JsonField { column, .. } => column,
        }
    }

    /// The value as an SQL expression (text, NULL when there is none).
    fn value_sql(&self, d: Dialect) -> String {
        match self.holder {
            Holder::Column(column) => column.to_owned(),
            Holder::JsonField { column, field } => match d {
                Dialect::Postgres => format!("(CAST({column} AS jsonb) ->> '{field}')"),
                Dialect::Sqlite => format!("json_extract({column}, '$.{field}')"),
            },
        }
    }

    #[cfg(test)]
    fn names(&self) -> impl Iterator<Item = &'static str> {
        let field = match self.holder {
            Holder::JsonField { field, .. } => Some(field),
            Holder::Column(_) => None,
        };
        [self.table, self.id_column, self.column()]
            .into_iter()
            .chain(field)
    }
}

/// `nominations.family.phone_sealed`, `referrals.victim_sealed`: table, column, and the field
/// inside a JSON column.
impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.holder {
            Holder::Column(column) => write!(f, "{}.{column}", self.table),
            Holder::JsonField { column, field } => write!(f, "{}.{column}.{field}", self.table),
        }
    }
}

/// One sealed value as read, with what [`replace`] must find unchanged to write over it.
#[derive(Clone, QueryableByName)]
pub struct Sealed {
    /// The row's id.
    #[diesel(sql_type = Text)]
    pub id: String,
    /// The sealed value (`v1:<key id>:…`, or whatever the row holds instead).
    #[diesel(sql_type = Text)]
    pub value: String,
    /// The column's whole text when read: the value, or the JSON object around it.
    #[diesel(sql_type = Text)]
    stored: String,
}

/// Never printed: even sealed, personal data stays out of logs.
impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// How many values of a place one key sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCount {
    /// The key id the value names; `None` for a value that is not in the sealed format.
    pub key_id: Option<String>,
    pub values: u64,
}

/// What differs between the backends in this module's SQL: placeholders and reading a JSON
/// field. Everything else is written once.
#[derive(Clone, Copy)]
enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    fn of(conn: &Conn<'_>) -> Dialect {
        match conn {
            Conn::Pg(_) => Dialect::Postgres,
            Conn::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The `n`th bound parameter (numbered, so one may appear twice).
    fn param(self, n: u8) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }
}

/// The prefix of a value sealed under `key_id`.
fn key_prefix(key_id: &str) -> String {
    format!("v1:{key_id}:")
}

/// Up to `limit` values of `place` not sealed under `key_id`, in id order, from the row after
/// `after` (the start when `None`): what a rotation re-seals next. Rows without a value are
/// skipped; a value in no sealed format at all is returned (it is not under `key_id`).
pub async fn not_under(
    conn: &mut Conn<'_>,
    place: &Place,
    key_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Sealed>, StoreError> {
    let d = Dialect::of(conn);
    let value = place.value_sql(d);
    let sql = format!(
        "SELECT {id} AS id, {value} AS value, {stored} AS stored FROM {table} \
         WHERE {value} IS NOT NULL AND substr({value}, 1, {p1}) <> {p2} AND {id} > {p3} \
         ORDER BY {id} LIMIT {p4}",
        id = place.id_column,
        stored = place.column(),
        table = place.table,
        p1 = d.param(1),
        p2 = d.param(2),
        p3 = d.param(3),
        p4 = d.param(4),
    );
    let prefix = key_prefix(key_id);
    let prefix_len = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    let query = diesel::sql_query(sql)
        .bind::<Integer, _>(prefix_len)
        .bind::<Text, _>(prefix)
        .bind::<Text, _>(after.unwrap_or("").to_owned())
        .bind::<BigInt, _>(limit);
    Ok(on_backend!(conn, |c| query.load::<Sealed>(c).await)?)
}

/// Replaces the value `old` was read from by `new`, if the row still holds exactly what was
/// read; `false` when it changed meanwhile (or is gone), and then nothing is written. For a
/// field inside a JSON object, the rest of the object is kept as it was.
pub async fn replace(
    conn: &mut Conn<'_>,
    place: &Place,
    old: &Sealed,
    new: &str,
) -> Result<bool, StoreError> {
    let stored = match place.holder {
        Holder::Column(_) => new.to_owned(),
        Holder::JsonField { field, .. } => {
            let mut object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&old.stored).map_err(|_| {
                    StoreError::corrupt(format!(
                        "{place} of row {}: the column is not a JSON object",
                        old.id
                    ))
                })?;
            object.insert(field.to_owned(), serde_json::Value::String(new.to_owned()));
            serde_json::Value::Object(object).to_string()
        }
    };
    let d = Dialect::of(conn);
    let sql = format!(
        "UPDATE {table} SET {column} = {p1} WHERE {id} = {p2} AND {column} = {p3}",
        table = place.table,
        column = place.column(),
        id = place.id_column,
        p1 = d.param(1),
        p2 = d.param(2),
        p3 = d.param(3),
    );
    let update = diesel::sql_query(sql)
        .bind::<Text, _>(stored)
        .bind::<Text, _>(old.id.clone())
        .bind::<Text, _>(old.stored.clone());
    Ok(on_backend!(conn, |c| update.execute(c).await)? == 1)
}

/// How many values of `place` each key sealed, by key id (values in no sealed format counted
/// under `None`), read page by page.
pub async fn count_by_key(conn: &mut Conn<'_>, place: &Place) -> Result<Vec<KeyCount>, StoreError> {
    /// The start of a value: enough for `v1:` and the longest key id (32) and its colon.
    const PREFIX: i32 = 40;
    const PAGE: i64 = 1000;
    #[derive(QueryableByName)]
    struct Prefix {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = Text)]
        prefix: String,
    }
    let d = Dialect::of(conn);
    let value = place.value_sql(d);
    let sql = format!(
        "SELECT {id} AS id, substr({value}, 1, {p1}) AS prefix FROM {table} \
         WHERE {value} IS NOT NULL AND {id} > {p2} ORDER BY {id} LIMIT {p3}",
        id = place.id_column,
        table = place.table,
        p1 = d.param(1),
        p2 = d.param(2),
        p3 = d.param(3),
    );
    let mut counts = std::collections::BTreeMap::<Option<String>, u64>::new();
    let mut after = String::new();
    loop {
        let query = diesel::sql_query(&sql)
            .bind::<Integer, _>(PREFIX)
            .bind::<Text, _>(after.clone())
            .bind::<BigInt, _>(PAGE);
        let page: Vec<Prefix> = on_backend!(conn, |c| query.load(c).await)?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let full = page.len() as i64 == PAGE;
        for row in page {
            *counts.entry(key_id_of(&row.prefix)).or_default() += 1;
        }
        if !full {
            break;
        }
    }
    Ok(counts
        .into_iter()
        .map(|(key_id, values)| KeyCount { key_id, values })
        .collect())
}

/// The key id a sealed value names (`v1:<key id>:…`); `None` for anything else.
fn key_id_of(value: &str) -> Option<String> {
    let rest = value.strip_prefix("v1:")?;
    let (id, _) = rest.split_once(':')?;
    (!id.is_empty()).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_plain_identifiers_and_places_are_unique() {
        for place in PLACES {
            for name in place.names() {
                assert!(
                    !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{place}: {name:?} must be a plain SQL identifier"
                );
            }
            assert!(
                !place.context.contains(':'),
                "{place}: context {:?}",
                place.context
            );
        }
        for (i, a) in PLACES.iter().enumerate() {
            for b in &PLACES[i + 1..] {
                assert_ne!(a.to_string(), b.to_string(), "a place is listed twice");
                assert_ne!(a.context, b.context, "two places share associated data");
            }
        }
    }

    #[test]
    fn places_name_table_column_and_field() {
        assert_eq!(
            NOMINATION_PHONE.to_string(),
            "nominations.family.phone_sealed"
        );
        assert_eq!(NOMINATION_PHONE.associated_data("7"), "nomination.phone:7");
        assert_eq!(REFERRAL_VICTIM.to_string(), "referrals.victim_sealed");
    }

    #[test]
    fn a_key_id_is_read_from_the_prefix_only() {
        assert_eq!(key_id_of("v1:2026-12:abc:def"), Some("2026-12".into()));
        assert_eq!(key_id_of("v1:k"), None);
        assert_eq!(key_id_of("v1::x"), None);
        assert_eq!(key_id_of("13912345678"), None);
    }
}
