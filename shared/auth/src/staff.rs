//! Onboarding staff: one at a time or a whole CSV, all or nothing.

use chrono::{DateTime, Utc};
use jinguo_bus::Job;
use jinguo_core::auth::{Agency, Assignment, Role, Target};
use jinguo_core::notify::{Channel, Person};
use jinguo_core::org::OrgCode;
use jinguo_store::{Conn, StoreError, orgs, people, staff as store_staff};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One staff member to add, already parsed.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub assignment: Assignment,
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// A line of an import is refused: `column` names the CSV column at fault (`email`, `name`,
    /// `role`, `org`, `agency`, `phone`), `None` for the header or the CSV itself; `message` is
    /// for people, in Chinese.
    #[error("line {line}: {}{message}", column_prefix(*.column))]
    BadRow {
        line: u64,
        column: Option<&'static str>,
        message: String,
    },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The granter may not do this (403); `message` is for people, in Chinese.
    #[error("{message}")]
    Forbidden { message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The welcome mail of a new person could not be composed (the add is rolled back with it).
    #[error("composing the welcome mail")]
    Mail(#[source] jinguo_mail::NotifyError),
}

fn column_prefix(column: Option<&'static str>) -> String {
    column.map(|c| format!("{c}: ")).unwrap_or_default()
}

/// The Chinese name of a role, for pages and mails.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "管理员",
        Role::Reviewer => "审核员",
        Role::Coordinator => "宣讲协调员",
        Role::CaseOfficer => "个案专员",
        Role::AgencyLiaison => "联动单位联络员",
        Role::Supervisor => "督导",
        Role::Viewer => "查看者",
    }
}

/// A role by its code (`reviewer`) or its Chinese name (`审核员`).
fn parse_role(raw: &str) -> Option<Role> {
    let raw = raw.trim();
    raw.parse()
        .ok()
        .or_else(|| Role::ALL.iter().copied().find(|r| role_label(*r) == raw))
}

/// Who grants a role: an operator at the server's command line (trusted like the database
/// itself), or a staff member, who may grant only inside their own subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantor {
    Operator,
    Staff(Uuid),
}

impl Grantor {
    /// How the audit log names them.
    pub fn actor(self) -> String {
        match self {
            Grantor::Operator => "cli".to_owned(),
            Grantor::Staff(id) => id.to_string(),
        }
    }
}

/// Roles that read referral data: granting one needs `staff.grant_sensitive` (supervisors),
/// not just `staff.manage` (admins).
pub fn is_sensitive(role: Role) -> bool {
    matches!(
        role,
        Role::CaseOfficer | Role::Supervisor | Role::AgencyLiaison
    )
}

fn forbidden(message: &str) -> StaffError {
    StaffError::Forbidden {
        message: message.to_owned(),
    }
}

/// The one rule for granting `a` to `person` (`None`: a person not yet known). Nobody grants
/// to themselves; a staff granter needs `staff.manage` at the role's unit
/// (`staff.grant_sensitive` for roles that read referral data), and every role the person
/// already holds must lie where the granter holds that too; a disabled person gets no role.
pub async fn may_grant(
    conn: &mut Conn<'_>,
    by: Grantor,
    person: Option<Uuid>,
    a: &Assignment,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    if let Some(person) = person
        && !store_staff::is_active(conn, person).await?
    {
        return Err(StaffError::Invalid {
            field: "email",
            message: "该人员已停用，不能授予角色；请先启用".into(),
        });
    }
    let Grantor::Staff(granter) = by else {
        return Ok(());
    };
    if person == Some(granter) {
        return Err(forbidden("不能给自己授予角色"));
    }
    let granter = Granter::load(conn, granter, now).await?;
    if !granter.may(a.role, a.org) {
        return Err(forbidden(if is_sensitive(a.role) {
            "个案专员、督导和联动单位联络员只能由该单位的督导授予"
        } else {
            "没有在该单位管理人员的权限"
        }));
    }
    if let Some(person) = person {
        for h in roles_of(conn, person, now).await? {
            if !granter.may(a.role, h.org) {
                return Err(forbidden(
                    "此人员在您管理范围之外另有任职，不能由您授予角色",
                ));
            }
        }
    }
    Ok(())
}

/// Whether `by` may manage `person` (disable, enable, reassign): never themselves, and every
/// role the person holds must lie where `by` holds the permission that grants it.
pub async fn may_manage(
    conn: &mut Conn<'_>,
    by: Grantor,
    person: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    let Grantor::Staff(manager) = by else {
        return Ok(());
    };
    if manager == person {
        return Err(forbidden("不能停用、启用或调整自己的账号"));
    }
    let manager = Granter::load(conn, manager, now).await?;
    for h in roles_of(conn, person, now).await? {
        if !manager.may(h.role, h.org) {
            return Err(forbidden("此人员不在您管理的范围内"));
        }
    }
    Ok(())
}

/// A staff member who grants or manages, loaded once for all the checks of one request.
struct Granter {
    principal: Option<jinguo_core::auth::Principal>,
    table: Vec<jinguo_core::auth::Permission>,
    now: DateTime<Utc>,
}

impl Granter {
    async fn load(
        conn: &mut Conn<'_>,
        person: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Granter, StoreError> {
        Ok(Granter {
            principal: store_staff::principal(conn, person, now).await?,
            table: store_staff::permissions(conn).await?,
            now,
        })
    }

    /// May they grant (or manage someone holding) `role` at `org`? Roles that read referral
    /// data need `staff.grant_sensitive` (supervisors), every other role `staff.manage`
    /// (admins), where the granter holds it.
    fn may(&self, role: Role, org: jinguo_core::org::OrgCode) -> bool {
        let action = if is_sensitive(role) {
            "staff.grant_sensitive"
        } else {
            "staff.manage"
        };
        self.principal.as_ref().is_some_and(|p| {
            jinguo_core::auth::authorize(p, action, Target::Org(org), &self.table, self.now)
        })
    }
}

/// The roles `person` holds (none for an unknown person).
async fn roles_of(
    conn: &mut Conn<'_>,
    person: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Assignment>, StoreError> {
    Ok(store_staff::principal(conn, person, now)
        .await?
        .map(|p| p.assignments)
        .unwrap_or_default())
}

/// Replaces every role of `person` with `a` (the admin page's 调整岗位), by the rules of
/// [`may_manage`] and [`may_grant`]; `staff.roles_changed` then lets each program pass on the
/// open work the person may no longer do.
pub async fn reassign(
    conn: &mut Conn<'_>,
    by: Grantor,
    person: Uuid,
    a: &Assignment,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    if orgs::get(conn, a.org).await?.is_none() {
        return Err(StaffError::Invalid {
            field: "unit",
            message: format!("没有代码为 {} 的单位", a.org),
        });
    }
    may_manage(conn, by, person, now).await?;
    may_grant(conn, by, Some(person), a, now).await?;
    store_staff::unassign_all(conn, person).await?;
    store_staff::assign(conn, person, a, now).await?;
    let details = serde_json::json!({ "role": a.role.as_str(), "org": a.org });
    crate::record(
        conn,
        &by.actor(),
        "staff.reassigned",
        &person.to_string(),
        details,
        now,
    )
    .await?;
    announce(conn, &StaffRolesChanged { person }, now).await?;
    Ok(())
}

/// Tells every program about `person` inside the caller's transaction: the message is sent
/// exactly when the change commits.
async fn announce(
    conn: &mut Conn<'_>,
    message: &impl Job,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    message.enqueue(conn, now).await.map(|_| ())
}

/// The message every program hears when a person's roles change (given, as when appointed, or
/// moved): open work they may no longer do moves on, and work waiting for someone in their new
/// role moves again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffRolesChanged {
    pub person: Uuid,
}

impl Job for StaffRolesChanged {
    const KIND: &'static str = "staff.roles_changed";
}

/// The message every program hears when a person is disabled: their open work moves on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffDisabled {
    pub person: Uuid,
}

impl Job for StaffDisabled {
    const KIND: &'static str = "staff.disabled";
}

/// The message every program hears when a person is enabled again: work waiting for someone
/// in their role moves again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffEnabled {
    pub person: Uuid,
}

impl Job for StaffEnabled {
    const KIND: &'static str = "staff.enabled";
}

/// The kind of [`StaffRolesChanged`].
pub const ROLES_CHANGED: &str = StaffRolesChanged::KIND;
/// The kind of [`StaffDisabled`].
pub const DISABLED: &str = StaffDisabled::KIND;
/// The kind of [`StaffEnabled`].
pub const ENABLED: &str = StaffEnabled::KIND;

/// Disables (`active: false`) or re-enables a person, in the caller's transaction. Disabling
/// ends their sessions, revokes their API tokens and supersedes their unused links at once;
/// the `staff.disabled` message then lets each program hand their open tasks on. Returns
/// `false` when nothing changed (already in that state).
pub async fn set_active(
    conn: &mut Conn<'_>,
    person: Uuid,
    active: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool, StaffError> {
    let was = store_staff::is_active(conn, person).await?;
    if was == active {
        return Ok(false);
    }
    store_staff::set_active(conn, person, active).await?;
    let (action, details) = if active {
        ("staff.enabled", serde_json::json!({}))
    } else {
        let r = jinguo_store::links::revoke_all(conn, person, crate::links::REVOKED, now).await?;
        (
            "staff.disabled",
            serde_json::json!({ "sessions": r.sessions, "tokens": r.tokens, "links": r.links }),
        )
    };
    crate::record(conn, actor, action, &person.to_string(), details, now).await?;
    if active {
        announce(conn, &StaffEnabled { person }, now).await?;
    } else {
        announce(conn, &StaffDisabled { person }, now).await?;
    }
    Ok(true)
}

/// Checks an email's shape (one @, a dot in the domain, no spaces) and lower-cases it.
pub fn parse_email(raw: &str) -> Result<String, String> {
    let e = raw.trim().to_lowercase();
    let ok = matches!(e.split_once('@'), Some((local, domain))
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && !e.contains(char::is_whitespace)
        && !e.contains(char::is_control)
        && e.matches('@').count() == 1;
    if ok {
        Ok(e)
    } else {
        Err(format!("{raw:?} is not an email address"))
    }
}

/// Parses the parts of a role assignment; the agency is required for liaisons only.
pub fn parse_assignment(
    role: &str,
    org: &str,
    agency: Option<&str>,
) -> Result<Assignment, (&'static str, String)> {
    let role = parse_role(role).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        (
            "role",
            format!(
                "{role:?} is not one of: {} (or their Chinese names)",
                known.join(", ")
            ),
        )
    })?;
    let org = OrgCode::parse(org).map_err(|e| ("org", format!("{org:?}: {e}")))?;
    let agency = match agency.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => Some(a.parse::<Agency>().map_err(|e| ("agency", e))?),
        None => None,
    };
    match (role, agency) {
        (Role::AgencyLiaison, None) => Err(("agency", "an agency_liaison needs --agency".into())),
        (r, Some(_)) if r != Role::AgencyLiaison => {
            Err(("agency", "only an agency_liaison has an agency".into()))
        }
        _ => Ok(Assignment { role, org, agency }),
    }
}

/// Adds a staff member (or, for a known email, the role) in the caller's transaction.
/// Returns the person's id and whether the person is new.
pub async fn add(
    conn: &mut Conn<'_>,
    s: &NewStaff,
    by: Grantor,
    now: DateTime<Utc>,
) -> Result<(Uuid, bool), StaffError> {
    if orgs::get(conn, s.assignment.org).await?.is_none() {
        return Err(StaffError::Invalid {
            field: "org",
            message: format!("没有代码为 {} 的单位", s.assignment.org),
        });
    }
    let known = store_staff::find_by_email(conn, &s.email)
        .await?
        .map(|(id, _)| id);
    may_grant(conn, by, known, &s.assignment, now).await?;
    let actor = &by.actor();
    let (id, new) = match known {
        Some(id) => (id, false),
        None => {
            let id = Uuid::new_v4();
            let person = Person {
                id,
                display_name: s.name.clone(),
                email: s.email.clone(),
                phone: s.phone.clone(),
                preferred_channel: Channel::Email,
            };
            people::insert(conn, &person, now).await?;
            (id, true)
        }
    };
    store_staff::assign(conn, id, &s.assignment, now).await?;
    let details = serde_json::json!({ "role": s.assignment.role.as_str(), "org": s.assignment.org.to_string() });
    crate::record(conn, actor, "staff.added", &id.to_string(), details, now).await?;
    // A reviewer appointed where nominations wait for one: the programs move them on.
    announce(conn, &StaffRolesChanged { person: id }, now).await?;
    Ok((id, new))
}

/// Adds a staff member as [`add`] does and, when the person is new, welcomes them by mail
/// ([`jinguo_mail::StaffWelcome`]: their role and unit by name and how to sign in at
/// `{public_url}/signin`), in the same transaction. Every entry point that onboards people —
/// the admin page, `POST /api/v1/staff`, `jinguo user add` and [`import`] — calls this, so all
/// welcome the same way.
pub async fn onboard(
    conn: &mut Conn<'_>,
    s: &NewStaff,
    by: Grantor,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(Uuid, bool), StaffError> {
    let (id, new) = add(conn, s, by, now).await?;
    if new {
        let mail = jinguo_mail::StaffWelcome {
            recipient: s.name.clone(),
            email: s.email.clone(),
            role: role_label(s.assignment.role).to_owned(),
            unit: unit_name(conn, s.assignment.org).await?,
            link: format!("{}/signin", public_url.trim_end_matches('/')),
        };
        jinguo_mail::notify(conn, id, &mail, jinguo_core::notify::Urgency::Normal, now)
            .await
            .map_err(StaffError::Mail)?;
    }
    Ok((id, new))
}

/// A unit by name as people say it: from its county down (`皋兰县 什川镇 北庄村委会`); a unit
/// above a county by its own name.
pub async fn unit_name(conn: &mut Conn<'_>, org: OrgCode) -> Result<String, StoreError> {
    let mut names = Vec::new();
    let mut at = Some(org);
    while let Some(code) = at {
        names.push(
            orgs::get(conn, code)
                .await?
                .map_or_else(|| code.to_string(), |u| u.name),
        );
        if code.level() <= jinguo_core::org::OrgLevel::County {
            break;
        }
        at = code.parent();
    }
    names.reverse();
    Ok(names.join(" "))
}

/// The CSV columns an import reads: the code (the command line's header) and the Chinese
/// header of the page's template, either accepted.
const COLUMNS: [(&str, &str); 6] = [
    ("email", "邮箱"),
    ("name", "姓名"),
    ("role", "岗位"),
    ("org", "单位代码"),
    ("agency", "联动单位"),
    ("phone", "手机号"),
];

/// The Chinese name of an import column, for pages.
pub fn column_label(column: &str) -> &'static str {
    COLUMNS
        .iter()
        .find(|(c, _)| *c == column)
        .map_or("", |(_, l)| l)
}

/// The template the admin page offers for download: UTF-8 with a byte-order mark (so Excel
/// opens it as UTF-8), the Chinese header row, and one example row at `example_org`.
pub fn csv_template(example_org: OrgCode) -> String {
    let header: Vec<&str> = COLUMNS.iter().map(|(_, l)| *l).collect();
    format!(
        "\u{feff}{}\r\nwangfang@example.cn,王芳,审核员,{},,13800138000\r\n",
        header.join(","),
        example_org.as_str()
    )
}

/// Parses a staff CSV (`email,name,role,org[,agency,phone]`, or the Chinese header of
/// [`csv_template`]; roles by code or Chinese name), all rows or none; refusals name the line
/// and column, in Chinese.
pub fn parse_csv(text: &str) -> Result<Vec<(u64, NewStaff)>, StaffError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader
        .headers()
        .map_err(|_| StaffError::BadRow {
            line: 1,
            column: None,
            message: "表头无法读取，请使用下载的模板".into(),
        })?
        .clone();
    let col = |n: &str| {
        let label = column_label(n);
        header.iter().position(|h| h == n || h == label)
    };
    let (Some(email), Some(name), Some(role), Some(org)) =
        (col("email"), col("name"), col("role"), col("org"))
    else {
        return Err(StaffError::BadRow {
            line: 1,
            column: None,
            message: "表头应包含 邮箱、姓名、岗位、单位代码 四列（联动单位、手机号可不填），或 email,name,role,org".into(),
        });
    };
    let (agency, phone) = (col("agency"), col("phone"));
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| StaffError::BadRow {
            line: e.position().map_or(0, |p| p.line()),
            column: None,
            message: "不是有效的 CSV 行（列数或引号不对）".into(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let bad = |column: &'static str, message: String| StaffError::BadRow {
            line,
            column: Some(column),
            message,
        };
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("");
        let email = parse_email(field(Some(email)))
            .map_err(|_| bad("email", "邮箱格式不正确，例如 wangfang@example.cn".into()))?;
        let name = jinguo_core::text::single_line(field(Some(name)), jinguo_core::text::NAME_MAX)
            .map_err(|e| bad("name", format!("姓名{}", e.message())))?;
        let a = parse_assignment(field(Some(role)), field(Some(org)), Some(field(agency)))
            .map_err(|(f, _)| match f {
                "role" => bad(
                    "role",
                    format!(
                        "岗位应为以下之一：{}",
                        Role::ALL
                            .iter()
                            .map(|r| role_label(*r))
                            .collect::<Vec<_>>()
                            .join("、")
                    ),
                ),
                "org" => bad("org", "单位代码应为 2–12 位数字的统计用区划代码".into()),
                _ => bad(
                    "agency",
                    format!(
                        "联动单位联络员需填写联动单位（{}），其他岗位不填",
                        Agency::ALL
                            .iter()
                            .map(|a| a.as_str())
                            .collect::<Vec<_>>()
                            .join("、")
                    ),
                ),
            })?;
        if let Some(earlier) = seen.insert((email.clone(), a.role, a.org), line) {
            return Err(bad(
                "email",
                format!("与第 {earlier} 行重复：同一人在同一单位的同一岗位"),
            ));
        }
        let phone = jinguo_core::identity::MobilePhone::parse_optional(Some(field(phone)))
            .map_err(|e| bad("phone", e.message().to_owned()))?
            .map(|p| p.as_str().to_owned());
        rows.push((
            line,
            NewStaff {
                email,
                name,
                phone,
                assignment: a,
            },
        ));
    }
    Ok(rows)
}

/// Onboards every row in the caller's transaction (a welcome mail to each new person); a row
/// refused (an org unit missing from the tree, a role the granter may not give) fails the
/// whole file with that row's line.
pub async fn import(
    conn: &mut Conn<'_>,
    rows: &[(u64, NewStaff)],
    by: Grantor,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(usize, usize), StaffError> {
    let (mut people_added, mut roles) = (0, 0);
    for (line, s) in rows {
        match onboard(conn, s, by, public_url, now).await {
            Ok((_, new)) => {
                people_added += usize::from(new);
                roles += 1;
            }
            Err(StaffError::Invalid { field, message }) => {
                return Err(StaffError::BadRow {
                    line: *line,
                    column: Some(field),
                    message,
                });
            }
            Err(StaffError::Forbidden { message }) => {
                return Err(StaffError::BadRow {
                    line: *line,
                    column: Some("role"),
                    message,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok((people_added, roles))
}

/// Puts a case officer on a county's duty roster. The person must be an active case officer
/// whose assignment covers that county.
pub async fn add_shift(
    conn: &mut Conn<'_>,
    email: &str,
    county: OrgCode,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    let invalid = |field, message: String| StaffError::Invalid { field, message };
    if county.level() != jinguo_core::org::OrgLevel::County {
        return Err(invalid(
            "county",
            format!("{county} is not a county-level unit"),
        ));
    }
    if ends_at <= starts_at {
        return Err(invalid("to", "the shift must end after it starts".into()));
    }
    let Some((person, true)) = store_staff::find_by_email(conn, email).await? else {
        return Err(invalid("email", format!("no active staff member {email}")));
    };
    let principal = store_staff::principal(conn, person, now).await?;
    let covers = principal.is_some_and(|p| {
        p.assignments
            .iter()
            .any(|a| a.role == Role::CaseOfficer && county.is_within(&a.org))
    });
    if !covers {
        return Err(invalid(
            "email",
            format!("{email} is not a case officer for {county}"),
        ));
    }
    store_staff::add_shift(
        conn,
        &store_staff::Shift {
            county,
            person,
            starts_at,
            ends_at,
        },
    )
    .await?;
    let details =
        serde_json::json!({ "county": county.to_string(), "from": starts_at, "to": ends_at });
    crate::record(conn, actor, "duty.added", &person.to_string(), details, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            parse_email(" WangFang@Example.CN ").unwrap(),
            "wangfang@example.cn"
        );
        for bad in ["wangfang", "a@b", "a b@c.cn", "@c.cn", "a@@c.cn", "a@.cn"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn liaisons_need_an_agency_and_only_they_have_one() {
        assert!(parse_assignment("agency_liaison", "620122", Some("police")).is_ok());
        assert_eq!(
            parse_assignment("agency_liaison", "620122", None)
                .unwrap_err()
                .0,
            "agency"
        );
        assert_eq!(
            parse_assignment("reviewer", "620122", Some("police"))
                .unwrap_err()
                .0,
            "agency"
        );
        assert_eq!(
            parse_assignment("boss", "620122", None).unwrap_err().0,
            "role"
        );
        assert_eq!(
            parse_assignment("reviewer", "62x", None).unwrap_err().0,
            "org"
        );
    }

    #[test]
    fn csv_rows_are_all_or_nothing_with_line_numbers() {
        let ok = "email,name,role,org\na@x.cn,甲,reviewer,620122\nb@x.cn,乙,admin,620122\n";
        assert_eq!(parse_csv(ok).unwrap().len(), 2);
        let bad = "email,name,role,org\na@x.cn,甲,reviewer,620122\nb@x.cn,乙,boss,620122\n";
        match parse_csv(bad) {
            Err(StaffError::BadRow {
                line,
                column,
                message,
            }) => {
                assert_eq!((line, column), (3, Some("role")));
                assert!(message.starts_with("岗位应为"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_template_imports_as_it_is_downloaded() {
        let t = csv_template(OrgCode::parse("620122100").unwrap());
        assert!(t.starts_with('\u{feff}'));
        let rows = parse_csv(&t).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1.assignment.role, Role::Reviewer);
        assert_eq!(rows[0].1.assignment.org.to_string(), "620122100000");
    }
}
