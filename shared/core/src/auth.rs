//! Who may do what where: roles assigned on the org tree, a permission table (data, not code
//! branches), and the one decision every endpoint and page asks for.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::org::OrgCode;

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err(format!(
                        "{s:?} is not one of: {}",
                        [$($text),*].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// What a staff member is, at an org unit and everything under it.
    Role {
        Admin = "admin",
        Reviewer = "reviewer",
        Coordinator = "coordinator",
        CaseOfficer = "case_officer",
        AgencyLiaison = "agency_liaison",
        Supervisor = "supervisor",
        Viewer = "viewer",
    }
);

named_enum!(
    /// The agencies of the anti-domestic-violence linkage mechanism, one list for the project.
    Agency {
        Police = "police",
        Court = "court",
        Procuratorate = "procuratorate",
        CivilAffairs = "civil_affairs",
        Justice = "justice",
        Health = "health",
        Education = "education",
        Federation = "federation",
    }
);

named_enum!(
    /// How far a permission reaches from the assignment's org unit.
    Scope {
        /// The unit and everything below it.
        Subtree = "subtree",
        /// That unit only (a reviewer reviews at the level of its own unit).
        Unit = "unit",
        /// Only cases the person is assigned to (or named on), inside the subtree.
        Assigned = "assigned",
    }
);

/// A role at an org unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub role: Role,
    pub org: OrgCode,
    pub agency: Option<Agency>,
}

/// One row of the permission table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub role: Role,
    pub action: String,
    pub scope: Scope,
}

/// Emergency access to one case, granted for a short time with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    pub case: String,
    pub expires_at: DateTime<Utc>,
}

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Principal {
    pub person: Uuid,
    pub active: bool,
    pub assignments: Vec<Assignment>,
    pub break_glass: Vec<BreakGlass>,
}

/// What the action is on.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Org(OrgCode),
    /// A case (a referral) in `org`, with the people assigned to or named on it.
    Case {
        id: &'a str,
        org: OrgCode,
        assigned: &'a [Uuid],
    },
}

impl Target<'_> {
    fn org(&self) -> OrgCode {
        match self {
            Target::Org(o) | Target::Case { org: o, .. } => *o,
        }
    }
}

/// The action that break-glass access opens on a case.
pub const BREAK_GLASS_ACTION: &str = "referral.read";

/// May `who` do `action` on `target`? The one decision every endpoint and page asks for.
pub fn authorize(
    who: &Principal,
    action: &str,
    target: Target<'_>,
    table: &[Permission],
    now: DateTime<Utc>,
) -> bool {
    if !who.active {
        return false;
    }
    let org = target.org();
    let by_role = who.assignments.iter().any(|a| {
        table
            .iter()
            .filter(|p| p.role == a.role && p.action == action)
            .any(|p| match p.scope {
                Scope::Subtree => org.is_within(&a.org),
                Scope::Unit => org == a.org,
                Scope::Assigned => match target {
                    Target::Case { assigned, .. } => {
                        org.is_within(&a.org) && assigned.contains(&who.person)
                    }
                    Target::Org(_) => false,
                },
            })
    });
    by_role
        || (action == BREAK_GLASS_ACTION
            && matches!(target, Target::Case { id, .. }
                if who.break_glass.iter().any(|g| g.case == id && g.expires_at > now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> OrgCode {
        OrgCode::parse(s).unwrap()
    }

    fn table() -> Vec<Permission> {
        let p = |role, action: &str, scope| Permission {
            role,
            action: action.into(),
            scope,
        };
        vec![
            p(Role::Admin, "staff.manage", Scope::Subtree),
            p(Role::Reviewer, "nomination.review", Scope::Unit),
            p(Role::CaseOfficer, "referral.read", Scope::Assigned),
        ]
    }

    fn who(role: Role, org: &str) -> Principal {
        Principal {
            person: Uuid::from_u128(7),
            active: true,
            assignments: vec![Assignment {
                role,
                org: code(org),
                agency: None,
            }],
            break_glass: vec![],
        }
    }

    #[test]
    fn subtree_unit_and_assigned_scopes() {
        let now = Utc::now();
        let t = table();
        let admin = who(Role::Admin, "620122");
        assert!(authorize(
            &admin,
            "staff.manage",
            Target::Org(code("620122100201")),
            &t,
            now
        ));
        assert!(!authorize(
            &admin,
            "staff.manage",
            Target::Org(code("620123")),
            &t,
            now
        ));
        let reviewer = who(Role::Reviewer, "620122100");
        assert!(authorize(
            &reviewer,
            "nomination.review",
            Target::Org(code("620122100")),
            &t,
            now
        ));
        assert!(!authorize(
            &reviewer,
            "nomination.review",
            Target::Org(code("620122100201")),
            &t,
            now
        ));
        let officer = who(Role::CaseOfficer, "620122");
        let mine = [Uuid::from_u128(7)];
        let theirs = [Uuid::from_u128(8)];
        let case = |assigned| Target::Case {
            id: "C1",
            org: code("620122100201"),
            assigned,
        };
        assert!(authorize(&officer, "referral.read", case(&mine), &t, now));
        assert!(!authorize(
            &officer,
            "referral.read",
            case(&theirs),
            &t,
            now
        ));
        assert!(
            !authorize(&admin, "referral.read", case(&mine), &t, now),
            "admins do not read cases"
        );
    }

    #[test]
    fn inactive_people_may_do_nothing() {
        let mut admin = who(Role::Admin, "620122");
        admin.active = false;
        assert!(!authorize(
            &admin,
            "staff.manage",
            Target::Org(code("620122")),
            &table(),
            Utc::now()
        ));
    }

    #[test]
    fn break_glass_opens_one_case_for_a_while() {
        let now = Utc::now();
        let mut admin = who(Role::Admin, "620122");
        admin.break_glass.push(BreakGlass {
            case: "C1".into(),
            expires_at: now + chrono::Duration::minutes(30),
        });
        let nobody: [Uuid; 0] = [];
        let case = |id| Target::Case {
            id,
            org: code("620122100201"),
            assigned: &nobody,
        };
        assert!(authorize(
            &admin,
            "referral.read",
            case("C1"),
            &table(),
            now
        ));
        assert!(!authorize(
            &admin,
            "referral.read",
            case("C2"),
            &table(),
            now
        ));
        assert!(!authorize(
            &admin,
            "referral.read",
            case("C1"),
            &table(),
            now + chrono::Duration::hours(1)
        ));
        assert!(!authorize(
            &admin,
            "referral.manage",
            case("C1"),
            &table(),
            now
        ));
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        assert!("police".parse::<Agency>().is_ok());
        assert!(
            "army"
                .parse::<Agency>()
                .unwrap_err()
                .contains("police, court")
        );
    }
}
