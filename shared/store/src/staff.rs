//! Staff: people who sign in, their role assignments on the org tree, and the permission table.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::auth::{Agency, Assignment, BreakGlass, Permission, Principal, Role, Scope};
use jinguo_core::org::OrgCode;
use uuid::Uuid;

use crate::error::parse;
use crate::json::{naive, utc};
use crate::schema::{break_glass, duty_roster, people, permissions, role_assignments};
use crate::{Conn, StoreError, on_backend};

fn parse_org(code: &str) -> Result<OrgCode, StoreError> {
    OrgCode::parse(code).map_err(|e| StoreError::corrupt(format!("org {code}: {e}")))
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
    let query = people::table.filter(
        diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
            .bind::<diesel::sql_types::Text, _>(lower),
    );
    let row = on_backend!(conn, |c| query
        .select(Account::as_select())
        .first(c)
        .await
        .optional())?;
    row.map(|a| Ok((parse(&a.id, "people id")?, a.active)))
        .transpose()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = people, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct Account {
    id: String,
    active: bool,
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = role_assignments, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct AssignmentRecord {
    person_id: String,
    role: String,
    org_code: String,
    agency: Option<String>,
}

impl TryFrom<&AssignmentRecord> for Assignment {
    type Error = StoreError;
    fn try_from(r: &AssignmentRecord) -> Result<Self, StoreError> {
        Ok(Assignment {
            role: parse(&r.role, "role")?,
            org: parse_org(&r.org_code)?,
            agency: r
                .agency
                .as_deref()
                .map(|a| parse::<Agency>(a, "agency"))
                .transpose()?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = break_glass, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct GrantRecord {
    case_id: String,
    expires_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = permissions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct PermissionRecord {
    role: String,
    action: String,
    scope: String,
}

/// The person columns a staff list shows.
#[derive(Queryable, Selectable)]
#[diesel(table_name = people, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct StaffRecord {
    display_name: String,
    email: String,
    active: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = duty_roster, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct ShiftRecord {
    person_id: String,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
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
    let query = role_assignments::table.filter(role_assignments::person_id.eq(id.clone()));
    let rows = on_backend!(conn, |c| query
        .select(AssignmentRecord::as_select())
        .load(c)
        .await)?;
    let query = break_glass::table
        .filter(break_glass::person_id.eq(id))
        .filter(break_glass::expires_at.gt(naive(now)));
    let grants = on_backend!(conn, |c| query
        .select(GrantRecord::as_select())
        .load(c)
        .await)?;
    Ok(Some(Principal {
        person,
        active,
        assignments: rows
            .iter()
            .map(Assignment::try_from)
            .collect::<Result<_, _>>()?,
        break_glass: grants
            .into_iter()
            .map(|g| BreakGlass {
                case: g.case_id,
                expires_at: utc(g.expires_at),
            })
            .collect(),
    }))
}

/// The whole permission table. Only migrations write it, and a release migrates before its
/// processes start, so a process reads it once and keeps it: every permission check used to
/// read it again (twice on a reviewer's page).
pub async fn permissions(conn: &mut Conn<'_>) -> Result<Vec<Permission>, StoreError> {
    static TABLE: tokio::sync::OnceCell<Vec<Permission>> = tokio::sync::OnceCell::const_new();
    TABLE
        .get_or_try_init(|| read_permissions(conn))
        .await
        .cloned()
}

async fn read_permissions(conn: &mut Conn<'_>) -> Result<Vec<Permission>, StoreError> {
    let rows = on_backend!(conn, |c| permissions::table
        .select(PermissionRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(Permission {
                role: parse(&r.role, "role")?,
                action: r.action,
                scope: parse::<Scope>(&r.scope, "scope")?,
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
        .order((people::display_name, role_assignments::id));
    let rows: Vec<(AssignmentRecord, StaffRecord)> = on_backend!(conn, |c| query
        .select((AssignmentRecord::as_select(), StaffRecord::as_select()))
        .load(c)
        .await)?;
    let mut by_person: Vec<StaffMember> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (row, person) in rows {
        let a = Assignment::try_from(&row)?;
        if org.is_some_and(|o| !a.org.is_within(&o)) {
            continue;
        }
        let i = *index.entry(row.person_id.clone()).or_insert_with(|| {
            by_person.push(StaffMember {
                id: row.person_id.parse().unwrap_or_default(),
                display_name: person.display_name,
                email: person.email,
                active: person.active,
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

/// The assignments of `role` held by active people.
#[diesel::dsl::auto_type]
fn active_holders<'a>(role: &'a str) -> _ {
    role_assignments::table
        .inner_join(people::table)
        .filter(role_assignments::role.eq(role))
        .filter(people::active.eq(true))
}

/// People holding `role` at `org` or any unit above it (e.g. a village's county supervisors).
pub async fn holders_above(
    conn: &mut Conn<'_>,
    role: Role,
    org: OrgCode,
) -> Result<Vec<Uuid>, StoreError> {
    let query = active_holders(role.as_str());
    let rows = on_backend!(conn, |c| query
        .select(AssignmentRecord::as_select())
        .load(c)
        .await)?;
    let mut out = Vec::new();
    for r in rows {
        if org.is_within(&parse_org(&r.org_code)?) {
            let id: Uuid = parse(&r.person_id, "people id")?;
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
    let query = duty_roster::table
        .filter(duty_roster::county_code.eq(county.to_string()))
        .filter(duty_roster::ends_at.gt(naive(from)))
        .order(duty_roster::starts_at);
    let rows = on_backend!(conn, |c| query
        .select(ShiftRecord::as_select())
        .load(c)
        .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(Shift {
                county,
                person: parse(&r.person_id, "duty_roster person")?,
                starts_at: utc(r.starts_at),
                ends_at: utc(r.ends_at),
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

/// Which of `orgs` have an active holder of `role` at exactly that unit, in one query per 500.
pub async fn units_with_holders(
    conn: &mut Conn<'_>,
    role: Role,
    orgs: &[OrgCode],
) -> Result<std::collections::HashSet<OrgCode>, StoreError> {
    let mut out = std::collections::HashSet::new();
    for chunk in orgs.chunks(500) {
        let codes: Vec<String> = chunk.iter().map(OrgCode::to_string).collect();
        let query = active_holders(role.as_str())
            .filter(role_assignments::org_code.eq_any(codes))
            .select(role_assignments::org_code)
            .distinct();
        let rows: Vec<String> = on_backend!(conn, |c| query.load(c).await)?;
        for code in rows {
            out.insert(parse(&code, "org code")?);
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
    let query = active_holders(role.as_str())
        .filter(role_assignments::org_code.eq(org.to_string()))
        .order(role_assignments::id)
        .select(role_assignments::person_id);
    let rows: Vec<String> = on_backend!(conn, |c| query.load(c).await)?;
    rows.iter().map(|p| parse(p, "people id")).collect()
}
