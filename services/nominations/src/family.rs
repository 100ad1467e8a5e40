//! The family as submitted and as kept: parsed field by field, known by keyed hashes of its
//! ID number and phone, kept masked (the phone sealed).

use jinguo_auth::seal::Sealer;
use jinguo_core::identity::{HouseholdKey, MobilePhone};
use jinguo_core::text::{self, ADDRESS_MAX, NAME_MAX};
use jinguo_store::nominations::NominationRow;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::refusal::{Refusal, invalid};

/// The family as submitted (the form and the API). What is kept of it is a [`FamilyRecord`]:
/// the ID number never, the phone only sealed.
#[derive(Clone, Serialize, Deserialize)]
pub struct Family {
    pub head_name: String,
    /// The head's ID number or phone: only its keyed hash identifies the household.
    pub head_id: String,
    pub address: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub members: Vec<Member>,
}

/// Never printed: it holds an ID number and a phone.
impl std::fmt::Debug for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Family([redacted])")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub relation: String,
}

/// The family as the nomination row keeps it (JSON in `nominations.family`): names and address
/// for the reviewers, the head's ID number or phone only masked (`6201**********1234`), and
/// the contact phone sealed (opened for the review page only) beside its masked form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FamilyRecord {
    pub head_name: String,
    #[serde(default)]
    pub head_key_masked: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone_masked: Option<String>,
    #[serde(default)]
    pub phone_sealed: Option<String>,
    #[serde(default)]
    pub members: Vec<Member>,
}

impl FamilyRecord {
    /// What the associated data of a nomination's sealed phone is: it opens for that row only.
    pub(crate) fn phone_context(nomination: Uuid) -> String {
        format!("nomination.phone:{nomination}")
    }

    /// The contact phone in full, for the review page; `None` when there is none or it does not
    /// open (a wrong key is logged, not shown).
    pub fn phone(&self, nomination: Uuid, sealer: &Sealer) -> Option<String> {
        let sealed = self.phone_sealed.as_deref()?;
        match sealer.open(sealed, &Self::phone_context(nomination)) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(%nomination, error = %e, "a sealed phone does not open");
                None
            }
        }
    }
}

/// The family's record of a stored nomination (`family` column).
pub fn family_of(n: &NominationRow) -> FamilyRecord {
    serde_json::from_str(&n.family).unwrap_or_default()
}

/// The family checked field by field (Chinese refusals naming the field), with its household
/// keys: the head's ID number or phone, and the contact phone when given.
pub(crate) fn parse_family(
    f: &Family,
    today: chrono::NaiveDate,
) -> Result<(ParsedFamily, Vec<HouseholdKey>), Refusal> {
    let head_name = text::single_line(&f.head_name, NAME_MAX)
        .map_err(|e| invalid("family.head_name", e.message()))?;
    let head_key = HouseholdKey::parse(&f.head_id, today)
        .map_err(|e| invalid("family.head_id", e.message()))?;
    let address = text::single_line(&f.address, ADDRESS_MAX)
        .map_err(|e| invalid("family.address", e.message()))?;
    let phone = MobilePhone::parse_optional(f.phone.as_deref())
        .map_err(|e| invalid("family.phone", e.message()))?;
    let mut members = Vec::new();
    for m in &f.members {
        members.push(Member {
            name: text::single_line(&m.name, NAME_MAX)
                .map_err(|e| invalid("family.members.name", e.message()))?,
            relation: text::single_line(&m.relation, NAME_MAX)
                .map_err(|e| invalid("family.members.relation", e.message()))?,
        });
    }
    let mut keys = vec![head_key.clone()];
    if let Some(p) = &phone
        && head_key.as_str() != p.as_str()
    {
        keys.push(HouseholdKey::Phone(p.clone()));
    }
    Ok((
        ParsedFamily {
            head_name,
            head_key,
            address,
            phone,
            members,
        },
        keys,
    ))
}

pub(crate) struct ParsedFamily {
    head_name: String,
    head_key: HouseholdKey,
    address: String,
    phone: Option<MobilePhone>,
    members: Vec<Member>,
}

impl ParsedFamily {
    /// What is kept: masked keys and the sealed phone (a phone given as the head's key is the
    /// contact phone too).
    pub(crate) fn record(&self, nomination: Uuid, sealer: &Sealer) -> FamilyRecord {
        let phone = self.phone.clone().or(match &self.head_key {
            HouseholdKey::Phone(p) => Some(p.clone()),
            HouseholdKey::Id(_) => None,
        });
        FamilyRecord {
            head_name: self.head_name.clone(),
            head_key_masked: self.head_key.masked(),
            address: self.address.clone(),
            phone_masked: phone.as_ref().map(MobilePhone::masked),
            phone_sealed: phone
                .map(|p| sealer.seal(p.as_str(), &FamilyRecord::phone_context(nomination))),
            members: self.members.clone(),
        }
    }
}

pub(crate) use jinguo_auth::household_hash;
