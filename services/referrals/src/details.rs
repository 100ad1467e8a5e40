//! What a case holds about people, and how it is kept: three sealed documents per case (the
//! victim, the reporter, the incident), each opening only for its own row and field, and sealed
//! notes on the timeline. None of these types prints its contents (`Debug` is redacted), so a
//! log line or an error can never carry them.

use std::collections::BTreeMap;

use jinguo_auth::seal::Sealer;
use jinguo_core::identity::{MobilePhone, ResidentId};
use jinguo_core::referrals::ConsentBasis;
use jinguo_core::text::{self, ADDRESS_MAX, NAME_MAX};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::refusal::{Refusal, invalid};

macro_rules! redacted {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "([redacted])"))
            }
        }
    )*};
}

/// The person harmed. Kept sealed (`referral.victim:<id>`).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Victim {
    pub name: String,
    /// 女 / 男 / 其他
    pub sex: String,
    pub age: Option<u8>,
    pub phone: Option<String>,
    pub address: String,
    pub id_number: Option<String>,
    /// Whether and when it is safe to call or visit (e.g. 只在工作日白天打电话，不要上门).
    pub safe_contact: String,
}

/// Who reported. Kept sealed (`referral.reporter:<id>`); only the assigned officer reads it.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Reporter {
    pub name: String,
    pub phone: Option<String>,
    /// The school, hospital or village committee of a mandatory reporter.
    #[serde(default)]
    pub organisation: String,
}

/// What happened and what was agreed. Kept sealed (`referral.incident:<id>`).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Incident {
    pub summary: String,
    /// The relationship of the person who used violence to the victim (配偶, 前配偶, 父母, …).
    pub relationship: String,
    #[serde(default)]
    pub children_ages: Vec<u8>,
    #[serde(default)]
    pub answers: BTreeMap<String, bool>,
    /// How consent was recorded, or why it could not be (free text).
    #[serde(default)]
    pub consent_note: String,
}

redacted!(Victim, Reporter, Incident);

/// The most children a case records, and the oldest a child is.
const CHILDREN_MAX: usize = 20;
const CHILD_AGE_MAX: u8 = 17;
/// The longest incident summary.
pub const SUMMARY_MAX: usize = 4000;
/// The longest note on the timeline (a follow-up, a reason).
pub const NOTE_MAX: usize = 2000;

impl Victim {
    /// Checked field by field (the field named in the refusal); what is kept is normalised.
    pub(crate) fn parse(raw: &Victim, today: chrono::NaiveDate) -> Result<Victim, Refusal> {
        let name = text::single_line(&raw.name, NAME_MAX)
            .map_err(|e| invalid("victim.name", e.message()))?;
        let sex = match raw.sex.trim() {
            s @ ("女" | "男" | "其他") => s.to_owned(),
            "" => return Err(invalid("victim.sex", "请选择性别")),
            _ => return Err(invalid("victim.sex", "性别只能是 女、男 或 其他")),
        };
        if raw.age.is_some_and(|a| a > 120) {
            return Err(invalid("victim.age", "年龄应在 0 到 120 之间"));
        }
        let phone = MobilePhone::parse_optional(raw.phone.as_deref())
            .map_err(|e| invalid("victim.phone", e.message()))?
            .map(|p| p.as_str().to_owned());
        let address =
            optional_line(&raw.address, ADDRESS_MAX).map_err(|e| invalid("victim.address", e))?;
        let id_number = match raw.id_number.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) => Some(
                ResidentId::parse(id, today)
                    .map_err(|e| invalid("victim.id_number", e.message()))?
                    .as_str()
                    .to_owned(),
            ),
        };
        let safe_contact =
            optional_text(&raw.safe_contact, 500).map_err(|e| invalid("victim.safe_contact", e))?;
        Ok(Victim {
            name,
            sex,
            age: raw.age,
            phone,
            address,
            id_number,
            safe_contact,
        })
    }
}

impl Reporter {
    pub(crate) fn parse(raw: &Reporter, mandatory: bool) -> Result<Reporter, Refusal> {
        let name = text::single_line(&raw.name, NAME_MAX)
            .map_err(|e| invalid("reporter.name", e.message()))?;
        let phone = MobilePhone::parse_optional(raw.phone.as_deref())
            .map_err(|e| invalid("reporter.phone", e.message()))?
            .map(|p| p.as_str().to_owned());
        let organisation = optional_line(&raw.organisation, 100)
            .map_err(|e| invalid("reporter.organisation", e))?;
        if mandatory && organisation.is_empty() {
            return Err(invalid(
                "reporter.organisation",
                "强制报告单位（学校、医疗机构、村（居）委会）请填写单位名称",
            ));
        }
        Ok(Reporter {
            name,
            phone,
            organisation,
        })
    }
}

impl Incident {
    pub(crate) fn parse(raw: &Incident) -> Result<Incident, Refusal> {
        let summary = text::multi_line(&raw.summary, 1, SUMMARY_MAX)
            .map_err(|e| invalid("summary", e.message()))?;
        let relationship = text::single_line(&raw.relationship, 20)
            .map_err(|e| invalid("relationship", e.message()))?;
        if raw.children_ages.len() > CHILDREN_MAX {
            return Err(invalid("children", "未成年子女最多记录 20 名"));
        }
        if raw.children_ages.iter().any(|a| *a > CHILD_AGE_MAX) {
            return Err(invalid("children", "未成年子女年龄应在 0 到 17 之间"));
        }
        let consent_note =
            optional_text(&raw.consent_note, 500).map_err(|e| invalid("consent.note", e))?;
        Ok(Incident {
            summary,
            relationship,
            children_ages: raw.children_ages.clone(),
            answers: raw.answers.clone(),
            consent_note,
        })
    }
}

fn optional_line(raw: &str, max: usize) -> Result<String, String> {
    if jinguo_core::identity::clean(raw).is_empty() {
        return Ok(String::new());
    }
    text::single_line(raw, max).map_err(|e| e.message().to_owned())
}

fn optional_text(raw: &str, max: usize) -> Result<String, String> {
    if jinguo_core::identity::clean(raw).is_empty() {
        return Ok(String::new());
    }
    text::multi_line(raw, 1, max).map_err(|e| e.message().to_owned())
}

/// A free-text note (a reason, a follow-up), checked; `field` names it in the refusal.
pub(crate) fn note(
    field: &'static str,
    raw: Option<&str>,
    required: bool,
) -> Result<Option<String>, Refusal> {
    match raw.map(jinguo_core::identity::clean) {
        Some(r) if !r.is_empty() => text::multi_line(raw.unwrap_or_default(), 1, NOTE_MAX)
            .map(Some)
            .map_err(|e| invalid(field, e.message())),
        _ if required => Err(invalid(field, "请填写")),
        _ => Ok(None),
    }
}

/// The consent record as the intake gives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consent {
    pub basis: ConsentBasis,
    #[serde(default)]
    pub note: String,
}

/// Where each sealed document of a case lives: the associated data binds it to its row, taken
/// from the store's one registry of sealed places (which key rotation walks), so writer and
/// rotation cannot disagree.
pub(crate) mod place {
    use jinguo_store::sealed::{
        REFERRAL_EVENT_NOTE, REFERRAL_INCIDENT, REFERRAL_REPORTER, REFERRAL_VICTIM,
    };
    use uuid::Uuid;

    pub fn victim(id: Uuid) -> String {
        REFERRAL_VICTIM.associated_data(&id.to_string())
    }
    pub fn reporter(id: Uuid) -> String {
        REFERRAL_REPORTER.associated_data(&id.to_string())
    }
    pub fn incident(id: Uuid) -> String {
        REFERRAL_INCIDENT.associated_data(&id.to_string())
    }
    pub fn note(event: Uuid) -> String {
        REFERRAL_EVENT_NOTE.associated_data(&event.to_string())
    }
}

/// Seals a document for its place.
pub(crate) fn seal<T: Serialize>(sealer: &Sealer, value: &T, place: &str) -> String {
    let json = serde_json::to_string(value).expect("plain structs serialize");
    sealer.seal(&json, place)
}

/// Opens a document sealed for `place`; a value that does not open (a wrong or missing key, an
/// altered row) fails loudly — it is never shown as empty.
pub(crate) fn open<T: for<'de> Deserialize<'de>>(
    sealer: &Sealer,
    sealed: &str,
    place: &str,
    what: &'static str,
) -> Result<T, Refusal> {
    let json = sealer.open(sealed, place).map_err(|e| Refusal::Corrupt {
        what,
        problem: e.to_string(),
    })?;
    serde_json::from_str(&json).map_err(|e| Refusal::Corrupt {
        what,
        problem: format!("not the expected document: {}", e.classify_label()),
    })
}

trait ClassifyLabel {
    fn classify_label(&self) -> &'static str;
}

impl ClassifyLabel for serde_json::Error {
    /// The kind of JSON failure only: its message could quote the plaintext.
    fn classify_label(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        }
    }
}

/// A note's id and sealed text for the timeline.
pub(crate) fn sealed_note(sealer: &Sealer, event: Uuid, note: Option<&str>) -> Option<String> {
    note.map(|n| sealer.seal(n, &place::note(event)))
}
