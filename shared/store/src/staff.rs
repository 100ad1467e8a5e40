//! Staff: people who sign in, their role assignments on the org tree, and the permission table.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::auth::{Agency, Assignment, BreakGlass, Permission, Principal, Role, Scope};
use jinguo_core::org::OrgCode;
use uuid::Uuid;

use crate::json::{naive, utc};
use crate::schema::{break_glass, people, permissions, role_assignments};
use crate::{Conn, StoreError, on_backend};

fn corrupt(what: String) -> StoreError {
    StoreError::Query(diesel::result::Error::DeserializationError(what.into()))
}

/// A staff member as lists show them.
#[derive(Debug, Clone)]
pub struct StaffMember {
    pub id: Uuid,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub assignments: Vec<Assignment>,
}

/// The person with this email (any case), if any: `(id, active)`.
pub async fn find_by_email(
    conn: &mut Conn<'_>,
    email: &str,
) -> Result<Option<(Uuid, bool)>, StoreError> {
    let lower = email.trim().to_lowercase();
    let query = people::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(lower),
        )
        .select((people::id, people::active));
    let row: Option<(String, bool)> = on_backend!(conn, |c| query.first(c).await.optional())?;
    row.map(|(id, active)| {
        Ok((
            id.parse().map_err(|_| corrupt(format!("people id {id}")))?,
            active,
        ))
    })
    .transpose()
}

/// Whether `person` exists and is active: the one rule every credential (bearer token,
/// session, action link, sign-in link) and every decision asks at the moment of use.
pub async fn is_active(conn: &mut Conn<'_>, person: Uuid) -> Result<bool, StoreError> {
    let query = people::table
        .find(person.to_string())
        .select(people::active);
    let active: Option<bool> = on_backend!(conn, |c| query.first(c).await.optional())?;
    Ok(active == Some(true))
}

pub async fn set_active(conn: &mut Conn<'_>, id: Uuid, active: bool) -> Result<bool, StoreError> {
    let update = diesel::update(people::table.find(id.to_string())).set(people::active.eq(active));
    Ok(on_backend!(conn, |c| update.execute(c).await)? == 1)
}

/// Adds a role; `false` when the person already has it at that unit.
pub async fn assign(
    conn: &mut Conn<'_>,
    person: Uuid,
    a: &Assignment,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let insert = diesel::insert_into(role_assignments::table)
        .values((
            role_assignments::person_id.eq(person.to_string()),
            role_assignments::role.eq(a.role.as_str()),
            role_assignments::org_code.eq(a.org.to_string()),
            role_assignments::agency.eq(a.agency.map(|g| g.as_str())),
            role_assignments::created_at.eq(naive(now)),
        ))
        .on_conflict_do_nothing();
    Ok(on_backend!(conn, |c| insert.execute(c).await)? == 1)
}

/// Removes every role of `person` (before reassigning).
pub async fn unassign_all(conn: &mut Conn<'_>, person: Uuid) -> Result<usize, StoreError> {
    let delete = diesel::delete(
        role_assignments::table.filter(role_assignments::person_id.eq(person.to_string())),
    );
    Ok(on_backend!(conn, |c| delete.execute(c).await)?)
}

type AssignmentRow = (String, String, String, Option<String>);

fn assignment((_, role, org, agency): AssignmentRow) -> Result<Assignment, StoreError> {
    Ok(Assignment {
        role: role.parse().map_err(corrupt)?,
        org: OrgCode::parse(&org).map_err(|e| corrupt(format!("org {org}: {e}")))?,
        agency: agency
            .map(|a| a.parse::<Agency>())
            .transpose()
            .map_err(corrupt)?,
    })
}

/// Everything authorization needs about `person`, or `None` if there is no such person.
pub async fn principal(
    conn: &mut Conn<'_>,
    person: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Principal>, StoreError> {
    let id = person.to_string();
    let query = people::table.find(id.clone()).select(people::active);
    let Some(active): Option<bool> = on_backend!(conn, |c| query.first(c).await.optional())? else {
        return Ok(None);
    };
    let query = role_assignments::table
        .filter(role_assignments::person_id.eq(id.clone()))
        .select((
            role_assignments::person_id,
            role_assignments::role,
            role_assignments::org_code,
            role_assignments::agency,
        ));
    let rows: Vec<AssignmentRow> = on_backend!(conn, |c| query.load(c).await)?;
    let query = break_glass::table
        .filter(break_glass::person_id.eq(id))
        .filter(break_glass::expires_at.gt(naive(now)))
        .select((break_glass::case_id, break_glass::expires_at));
    let grants: Vec<(String, chrono::NaiveDateTime)> = on_backend!(conn, |c| query.load(c).await)?;
    Ok(Some(Principal {
        person,
        active,
        assignments: rows.into_iter().map(assignment).collect::<Result<_, _>>()?,
        break_glass: grants
            .into_iter()
            .map(|(case, expires_at)| BreakGlass {
                case,
                expires_at: utc(expires_at),
            })
            .collect(),
    }))
}

/// The whole permission table.
pub async fn permissions(conn: &mut Conn<'_>) -> Result<Vec<Permission>, StoreError> {
    let query =
        permissions::table.select((permissions::role, permissions::action, permissions::scope));
    let rows: Vec<(String, String, String)> = on_backend!(conn, |c| query.load(c).await)?;
    rows.into_iter()
        .map(|(role, action, scope)| {
            Ok(Permission {
                role: role.parse().map_err(corrupt)?,
                action,
                scope: scope.parse::<Scope>().map_err(corrupt)?,
            })
        })
        .collect()
}

/// Staff with a role at `org` or below it (all staff when `org` is `None`), by name.
pub async fn list(
    conn: &mut Conn<'_>,
    org: Option<OrgCode>,
) -> Result<Vec<StaffMember>, StoreError> {
    let query = role_assignments::table
        .inner_join(people::table)
        .select((
            (
                role_assignments::person_id,
                role_assignments::role,
                role_assignments::org_code,
                role_assignments::agency,
            ),
            (people::display_name, people::email, people::active),
        ))
        .order((people::display_name, role_assignments::id));
    let rows: Vec<(AssignmentRow, (String, String, bool))> =
        on_backend!(conn, |c| query.load(c).await)?;
    let mut by_person: Vec<StaffMember> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (row, (name, email, active)) in rows {
        let person = row.0.clone();
        let a = assignment(row)?;
        if org.is_some_and(|o| !a.org.is_within(&o)) {
            continue;
        }
        let i = *index.entry(person.clone()).or_insert_with(|| {
            by_person.push(StaffMember {
                id: person.parse().unwrap_or_default(),
                display_name: name,
                email,
                active,
                assignments: Vec::new(),
            });
            by_person.len() - 1
        });
        by_person[i].assignments.push(a);
    }
    Ok(by_person)
}

/// Grants emergency access to one case until `expires_at`.
pub async fn grant_break_glass(
    conn: &mut Conn<'_>,
    person: Uuid,
    case: &str,
    reason: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let insert = diesel::insert_into(break_glass::table).values((
        break_glass::person_id.eq(person.to_string()),
        break_glass::case_id.eq(case),
        break_glass::reason.eq(reason),
        break_glass::granted_at.eq(naive(now)),
        break_glass::expires_at.eq(naive(expires_at)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// People holding `role` at `org` or any unit above it (e.g. a village's county supervisors).
pub async fn holders_above(
    conn: &mut Conn<'_>,
    role: Role,
    org: OrgCode,
) -> Result<Vec<Uuid>, StoreError> {
    let query = role_assignments::table
        .inner_join(people::table)
        .filter(role_assignments::role.eq(role.as_str()))
        .filter(people::active.eq(true))
        .select((role_assignments::person_id, role_assignments::org_code));
    let rows: Vec<(String, String)> = on_backend!(conn, |c| query.load(c).await)?;
    let mut out = Vec::new();
    for (person, code) in rows {
        let unit = OrgCode::parse(&code).map_err(|e| corrupt(format!("org {code}: {e}")))?;
        if org.is_within(&unit) {
            let id: Uuid = person
                .parse()
                .map_err(|_| corrupt(format!("people id {person}")))?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// One shift of a case officer on a county's duty roster.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    pub county: OrgCode,
    pub person: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

pub async fn add_shift(conn: &mut Conn<'_>, s: &Shift) -> Result<(), StoreError> {
    use crate::schema::duty_roster;
    let insert = diesel::insert_into(duty_roster::table).values((
        duty_roster::county_code.eq(s.county.to_string()),
        duty_roster::person_id.eq(s.person.to_string()),
        duty_roster::starts_at.eq(naive(s.starts_at)),
        duty_roster::ends_at.eq(naive(s.ends_at)),
    ));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The shifts of `county` that have not ended by `from`, in order.
pub async fn shifts(
    conn: &mut Conn<'_>,
    county: OrgCode,
    from: DateTime<Utc>,
) -> Result<Vec<Shift>, StoreError> {
    use crate::schema::duty_roster;
    let query = duty_roster::table
        .filter(duty_roster::county_code.eq(county.to_string()))
        .filter(duty_roster::ends_at.gt(naive(from)))
        .order(duty_roster::starts_at)
        .select((
            duty_roster::person_id,
            duty_roster::starts_at,
            duty_roster::ends_at,
        ));
    let rows: Vec<(String, chrono::NaiveDateTime, chrono::NaiveDateTime)> =
        on_backend!(conn, |c| query.load(c).await)?;
    rows.into_iter()
        .map(|(p, s, e)| {
            Ok(Shift {
                county,
                person: p
                    .parse()
                    .map_err(|_| corrupt(format!("duty_roster person {p}")))?,
                starts_at: utc(s),
                ends_at: utc(e),
            })
        })
        .collect()
}

/// The case officers on duty for `county` at `at` (active ones only).
pub async fn on_duty(
    conn: &mut Conn<'_>,
    county: OrgCode,
    at: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let mut out = Vec::new();
    for s in shifts(conn, county, at).await? {
        if s.starts_at <= at && !out.contains(&s.person) {
            let active = principal(conn, s.person, at)
                .await?
                .is_some_and(|p| p.active);
            if active {
                out.push(s.person);
            }
        }
    }
    Ok(out)
}

/// Active people holding `role` at exactly `org` (e.g. the reviewers of a village).
pub async fn holders_at(
    conn: &mut Conn<'_>,
    role: Role,
    org: OrgCode,
) -> Result<Vec<Uuid>, StoreError> {
    let query = role_assignments::table
        .inner_join(people::table)
        .filter(role_assignments::role.eq(role.as_str()))
        .filter(role_assignments::org_code.eq(org.to_string()))
        .filter(people::active.eq(true))
        .order(role_assignments::id)
        .select(role_assignments::person_id);
    let rows: Vec<String> = on_backend!(conn, |c| query.load(c).await)?;
    rows.iter()
        .map(|p| p.parse().map_err(|_| corrupt(format!("people id {p}"))))
        .collect()
}
