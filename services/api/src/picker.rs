//! The village picker of every form that names a village (intake, the public forms, nominating
//! as the organisation), and the form as it was posted, which the picker and the forms read.
//!
//! It works without JavaScript: a select of the units under the current area; the "下一级"
//! button posts the form back (`step=pick`) to list the units under the one chosen, "返回上一级"
//! (`step=up`) those one level up, never above where the picker starts. Both buttons carry
//! `formnovalidate`, so drilling down never asks for the form's required fields, and a form
//! that includes `templates/picker.html` puts an off-screen default submit button first, so
//! that Enter in a field submits rather than drills down. The form keeps everything typed.
//!
//! A template that includes `picker.html` has `picker: Picker`, `values: Typed` and a method
//! `error_at(field)`.

use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_store::{Conn, StoreError, orgs};

/// A form as it was posted: every field in order, repeated ones (checkboxes) included, so that
/// a refused form is shown again with exactly what was typed.
#[derive(Clone, Default)]
pub(crate) struct Typed(pub Vec<(String, String)>);

impl Typed {
    /// A form from literal pairs (the unit tests' forms).
    #[cfg(test)]
    pub(crate) fn of(pairs: &[(&str, &str)]) -> Typed {
        Typed(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The first value of `key`, or "".
    pub(crate) fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` was sent with `value` (a ticked checkbox).
    pub(crate) fn has(&self, key: &str, value: &str) -> bool {
        self.all(key).any(|v| v == value)
    }

    /// `key` as an optional text: `None` when blank.
    pub(crate) fn optional(&self, key: &str) -> Option<String> {
        let v = self.get(key);
        (!v.trim().is_empty()).then(|| v.to_owned())
    }

    /// Whether the post was a step of the picker (the form again, nothing taken in).
    pub(crate) fn is_picker_step(&self) -> bool {
        matches!(self.get("step"), "pick" | "up")
    }
}

/// What a picker picks. A village picker (`templates/picker.html`, field `village`) goes down
/// to villages, and a village is the only final choice; an area picker
/// (`templates/campaigns/picker.html`, field `scope`) goes down to counties, and the area
/// being looked at is itself a choice (the whole province, city or county).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    Village,
    Area,
}

/// What a picker's template shows.
pub(crate) struct Picker {
    pub area: String,
    /// The names from where the picker starts down to `area`.
    pub trail: Vec<String>,
    /// (code, name) of the units to choose from.
    pub options: Vec<(String, String)>,
    /// "下一级" can go further down.
    pub can_go_down: bool,
    pub can_go_up: bool,
}

impl Pick {
    /// The form field that carries the choice.
    fn field(self) -> &'static str {
        match self {
            Pick::Village => "village",
            Pick::Area => "scope",
        }
    }

    /// Whether the picker may list the units under `unit`.
    fn opens(self, unit: OrgCode) -> bool {
        match self {
            Pick::Village => unit.level() != OrgLevel::Village,
            Pick::Area => unit.level() < OrgLevel::County,
        }
    }

    /// The area the picker lists after a post: `step` is `pick` (down to the unit chosen),
    /// `up`, or anything else (stay). Never outside `root`, never below what it picks.
    pub(crate) fn area(self, root: OrgCode, typed: &Typed) -> OrgCode {
        let area = OrgCode::parse(typed.get("area"))
            .ok()
            .filter(|a| {
                a.is_within(&root) && (self == Pick::Village || a.level() <= OrgLevel::County)
            })
            .unwrap_or(root);
        match typed.get("step") {
            "pick" => OrgCode::parse(typed.get(self.field()))
                .ok()
                .filter(|v| v.is_within(&area) && self.opens(*v))
                .unwrap_or(area),
            "up" => area.parent().filter(|p| p.is_within(&root)).unwrap_or(root),
            _ => area,
        }
    }

    /// The picker starting at `root`, listing the units under `area`.
    pub(crate) async fn picker(
        self,
        conn: &mut Conn<'_>,
        root: OrgCode,
        area: OrgCode,
    ) -> Result<Picker, StoreError> {
        let mut trail = Vec::new();
        let mut at = Some(area);
        while let Some(code) = at.filter(|c| c.is_within(&root)) {
            trail.push(name_of(conn, code).await?);
            at = code.parent();
        }
        trail.reverse();
        let mut options = Vec::new();
        if self == Pick::Area {
            let here = name_of(conn, area).await?;
            let whole = match area.level() {
                OrgLevel::Province => format!("{here}（全省）"),
                OrgLevel::City => format!("{here}（全市州）"),
                _ => here,
            };
            options.push((area.to_string(), whole));
        }
        let units = if area.level() == OrgLevel::Village {
            orgs::get(conn, area).await?.into_iter().collect()
        } else if self.opens(area) {
            orgs::children(conn, area).await?
        } else {
            Vec::new()
        };
        let mut deeper = false;
        for u in units {
            if self == Pick::Area && u.level > OrgLevel::County {
                continue;
            }
            deeper |= self.opens(u.code);
            options.push((u.code.to_string(), u.name));
        }
        Ok(Picker {
            area: area.to_string(),
            trail,
            can_go_down: deeper,
            options,
            can_go_up: area != root,
        })
    }
}

/// A unit's name (its code when it has none).
async fn name_of(conn: &mut Conn<'_>, code: OrgCode) -> Result<String, StoreError> {
    Ok(orgs::get(conn, code)
        .await?
        .map_or_else(|| code.to_string(), |u| u.name))
}
