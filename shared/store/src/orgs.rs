//! The org tree: reading units and their children, and importing a whole file.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use jinguo_core::org::{Location, OrgCode, OrgLevel, OrgUnit};
use jinguo_core::org_file::{OrgRow, RowError};

use crate::schema::orgs;
use crate::{Conn, StoreError, locked, on_backend};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(
    table_name = orgs,
    treat_none_as_default_value = false,
    check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite)
)]
struct OrgRecord {
    code: String,
    parent_code: Option<String>,
    level: String,
    name: String,
    longitude: Option<f64>,
    latitude: Option<f64>,
    coordinates_generated: bool,
}

impl From<&OrgUnit> for OrgRecord {
    fn from(u: &OrgUnit) -> Self {
        OrgRecord {
            code: u.code.to_string(),
            parent_code: u.parent.map(|p| p.to_string()),
            level: u.level.as_str().to_owned(),
            name: u.name.clone(),
            longitude: u.location.map(|l| l.longitude),
            latitude: u.location.map(|l| l.latitude),
            coordinates_generated: u.location.is_some_and(|l| l.generated),
        }
    }
}

impl OrgRecord {
    /// Rows were validated on the way in; a row that no longer parses means the table was
    /// edited by hand, which is reported rather than guessed around.
    fn into_unit(self) -> Result<OrgUnit, StoreError> {
        let corrupt =
            |what: &str| StoreError::corrupt(format!("orgs row {}: bad {what}", self.code));
        let code = OrgCode::parse(&self.code).map_err(|_| corrupt("code"))?;
        let level: OrgLevel = self.level.parse().map_err(|_| corrupt("level"))?;
        let location = match (self.longitude, self.latitude) {
            (Some(lon), Some(lat)) => Some(
                Location::new(lon, lat, self.coordinates_generated)
                    .map_err(|_| corrupt("location"))?,
            ),
            _ => None,
        };
        Ok(OrgUnit {
            code,
            parent: code.parent(),
            level,
            practice_center: level.practice_center(),
            name: self.name,
            location,
        })
    }
}

/// One unit, or `None` when the code is not in the tree.
pub async fn get(conn: &mut Conn<'_>, code: OrgCode) -> Result<Option<OrgUnit>, StoreError> {
    let query = orgs::table.find(code.to_string());
    let record = on_backend!(conn, |c| query
        .select(OrgRecord::as_select())
        .first(c)
        .await
        .optional())?;
    record.map(OrgRecord::into_unit).transpose()
}

/// One unit, locked against concurrent writers until the transaction ends.
pub async fn lock(conn: &mut Conn<'_>, code: OrgCode) -> Result<Option<OrgUnit>, StoreError> {
    let query = orgs::table.find(code.to_string());
    let record = locked!(conn, query.select(OrgRecord::as_select()), |c, q| q
        .first(c)
        .await
        .optional())?;
    record.map(OrgRecord::into_unit).transpose()
}

/// The units directly below `code`, by code.
pub async fn children(conn: &mut Conn<'_>, code: OrgCode) -> Result<Vec<OrgUnit>, StoreError> {
    let query = orgs::table
        .filter(orgs::parent_code.eq(code.to_string()))
        .order(orgs::code);
    let records = on_backend!(conn, |c| query.select(OrgRecord::as_select()).load(c).await)?;
    records.into_iter().map(OrgRecord::into_unit).collect()
}

/// The names of `codes` that are in the tree, in one query (a code not in the tree is left out).
pub async fn names(
    conn: &mut Conn<'_>,
    codes: &[OrgCode],
) -> Result<HashMap<OrgCode, String>, StoreError> {
    if codes.is_empty() {
        return Ok(HashMap::new());
    }
    let query = orgs::table
        .filter(orgs::code.eq_any(codes.iter().map(OrgCode::to_string).collect::<Vec<_>>()))
        .select((orgs::code, orgs::name));
    let rows: Vec<(String, String)> = on_backend!(conn, |c| query.load(c).await)?;
    rows.into_iter()
        .map(|(code, name)| Ok((crate::error::parse(&code, "org code")?, name)))
        .collect()
}

/// The units at `level` that lie within `code` (a county's villages, say), by code.
pub async fn below(
    conn: &mut Conn<'_>,
    code: OrgCode,
    level: OrgLevel,
) -> Result<Vec<OrgUnit>, StoreError> {
    let prefix = &code.as_str()[..code.level().prefix_len()];
    let query = orgs::table
        .filter(orgs::code.like(format!("{prefix}%")))
        .filter(orgs::level.eq(level.as_str()))
        .order(orgs::code);
    let records = on_backend!(conn, |c| query.select(OrgRecord::as_select()).load(c).await)?;
    records.into_iter().map(OrgRecord::into_unit).collect()
}

/// The units of `codes` that are in the tree, by code, in chunked queries.
pub async fn units(conn: &mut Conn<'_>, codes: &[OrgCode]) -> Result<Vec<OrgUnit>, StoreError> {
    let mut out = Vec::with_capacity(codes.len());
    for chunk in codes.chunks(500) {
        let query = orgs::table
            .filter(orgs::code.eq_any(chunk.iter().map(OrgCode::to_string).collect::<Vec<_>>()))
            .order(orgs::code);
        let records = on_backend!(conn, |c| query.select(OrgRecord::as_select()).load(c).await)?;
        for r in records {
            out.push(r.into_unit()?);
        }
    }
    out.sort_by_key(|u| u.code);
    Ok(out)
}

/// How many units each level has.
pub async fn count_by_level(conn: &mut Conn<'_>) -> Result<BTreeMap<OrgLevel, i64>, StoreError> {
    let query = orgs::table
        .group_by(orgs::level)
        .select((orgs::level, diesel::dsl::count_star()));
    let rows: Vec<(String, i64)> = on_backend!(conn, |c| query.load(c).await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(level, n)| Some((level.parse().ok()?, n)))
        .collect())
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub inserted: usize,
    pub renamed: usize,
    pub unchanged: usize,
}

/// Why an import was refused; nothing of the file is applied.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    BadRow(#[from] RowError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Inserts or updates every row (parents first, as `org_file::parse` orders them). Run it in a
/// transaction: a row whose parent is neither in the file nor in the tree fails the whole import.
pub async fn import(conn: &mut Conn<'_>, rows: &[OrgRow]) -> Result<ImportSummary, ImportError> {
    let query = orgs::table.select((orgs::code, orgs::name));
    let existing: HashMap<String, String> =
        on_backend!(conn, |c| query.load::<(String, String)>(c).await)
            .map_err(StoreError::from)?
            .into_iter()
            .collect();
    let in_file: HashMap<OrgCode, ()> = rows.iter().map(|r| (r.unit.code, ())).collect();

    let mut summary = ImportSummary {
        inserted: 0,
        renamed: 0,
        unchanged: 0,
    };
    for row in rows {
        if let Some(parent) = row.unit.parent
            && !in_file.contains_key(&parent)
            && !existing.contains_key(parent.as_str())
        {
            return Err(RowError {
                line: row.line,
                message: format!(
                    "parent {parent} of {} is neither in the file nor in the tree",
                    row.unit.code
                ),
            }
            .into());
        }
        match existing.get(row.unit.code.as_str()) {
            None => summary.inserted += 1,
            Some(name) if *name != row.unit.name => summary.renamed += 1,
            Some(_) => summary.unchanged += 1,
        }
    }

    // One statement a row: diesel cannot batch an upsert on SQLite, and a single code path
    // keeps both backends honest. Inside one transaction this is ~1 s for all of Gansu.
    for row in rows {
        let record = OrgRecord::from(&row.unit);
        let upsert = diesel::insert_into(orgs::table)
            .values(&record)
            .on_conflict(orgs::code)
            .do_update()
            .set((
                orgs::name.eq(excluded(orgs::name)),
                orgs::longitude.eq(excluded(orgs::longitude)),
                orgs::latitude.eq(excluded(orgs::latitude)),
                orgs::coordinates_generated.eq(excluded(orgs::coordinates_generated)),
            ));
        on_backend!(conn, |c| upsert.execute(c).await).map_err(StoreError::from)?;
    }
    Ok(summary)
}

/// True when the tree has no units at all (a fresh embedded database).
pub async fn is_empty(conn: &mut Conn<'_>) -> Result<bool, StoreError> {
    let query = orgs::table.select(orgs::code).limit(1);
    let any: Option<String> = on_backend!(conn, |c| query.first(c).await.optional())?;
    Ok(any.is_none())
}
