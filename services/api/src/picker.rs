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

/// What `templates/picker.html` shows.
pub(crate) struct Picker {
    pub area: String,
    /// The names from where the picker starts down to `area`.
    pub trail: Vec<String>,
    /// (code, name) of the units to choose from.
    pub options: Vec<(String, String)>,
    /// The options are villages: the choice is final.
    pub at_villages: bool,
    pub can_go_up: bool,
}

/// The area the picker lists after a post: `step` is `pick` (down to the unit chosen in
/// `village`), `up`, or anything else (stay). Never outside `root`.
pub(crate) fn picked_area(root: OrgCode, typed: &Typed) -> OrgCode {
    let area = OrgCode::parse(typed.get("area"))
        .ok()
        .filter(|a| a.is_within(&root))
        .unwrap_or(root);
    match typed.get("step") {
        "pick" => OrgCode::parse(typed.get("village"))
            .ok()
            .filter(|v| v.is_within(&area) && v.level() != OrgLevel::Village)
            .unwrap_or(area),
        "up" => area.parent().filter(|p| p.is_within(&root)).unwrap_or(root),
        _ => area,
    }
}

/// The picker starting at `root`, listing the units under `area`.
pub(crate) async fn picker(
    conn: &mut Conn<'_>,
    root: OrgCode,
    area: OrgCode,
) -> Result<Picker, StoreError> {
    let mut trail = Vec::new();
    let mut at = Some(area);
    while let Some(code) = at.filter(|c| c.is_within(&root)) {
        trail.push(
            orgs::get(conn, code)
                .await?
                .map_or_else(|| code.to_string(), |u| u.name),
        );
        at = code.parent();
    }
    trail.reverse();
    let units = if area.level() == OrgLevel::Village {
        orgs::get(conn, area).await?.into_iter().collect()
    } else {
        orgs::children(conn, area).await?
    };
    Ok(Picker {
        area: area.to_string(),
        trail,
        at_villages: !units.is_empty() && units.iter().all(|u| u.level == OrgLevel::Village),
        options: units
            .into_iter()
            .map(|u| (u.code.to_string(), u.name))
            .collect(),
        can_go_up: area != root,
    })
}
