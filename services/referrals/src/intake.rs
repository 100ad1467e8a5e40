//! Intake: a case comes in — from an officer's form or the API, or from the public
//! self-referral page — gets its case number, its provisional risk from the answers given,
//! the on-duty officer, and the task of taking it, whose ladder starts at once. A recorded
//! incident flags the victim's household (both keys) for the nominations program, which
//! learns nothing else.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use jinguo_core::identity::{HouseholdKey, MobilePhone, ResidentId};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_core::referrals::{ConsentBasis, Source, State};
use jinguo_store::referrals::{self as store, ReferralRow};
use jinguo_store::{Conn, nominations, orgs, staff};
use serde::Deserialize;
use uuid::Uuid;

use crate::access::grant;
use crate::details::{Consent, Incident, Reporter, Victim, place, seal};
use crate::records::record;
use crate::refusal::{Refusal, invalid};
use crate::settings::Settings;
use crate::tasks;

/// The permission that takes cases in.
pub const INTAKE: &str = "referral.intake";

/// A case as an officer (or the API) gives it. Never printed: it holds the victim's data.
#[derive(Clone, Deserialize)]
pub struct NewReferral {
    pub village: String,
    pub source: Source,
    #[serde(default)]
    pub reporter: Option<Reporter>,
    pub victim: Victim,
    #[serde(default)]
    pub children_ages: Vec<u8>,
    pub relationship: String,
    pub summary: String,
    /// Risk questionnaire: question id → yes.
    #[serde(default)]
    pub answers: BTreeMap<String, bool>,
    pub consent: Consent,
}

impl std::fmt::Debug for NewReferral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewReferral([redacted])")
    }
}

/// What the public self-referral page asks (咨询服务): as little as lets someone reach her.
#[derive(Clone, Deserialize)]
pub struct SelfReferral {
    pub village: String,
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// Whether and when it is safe to call or visit.
    #[serde(default)]
    pub safe_contact: String,
    pub summary: String,
}

impl std::fmt::Debug for SelfReferral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SelfReferral([redacted])")
    }
}

/// Takes a case in from staff: `person` must hold the intake permission at its village.
pub async fn intake(
    conn: &mut Conn<'_>,
    settings: &Settings,
    person: Uuid,
    input: &NewReferral,
    now: DateTime<Utc>,
) -> Result<ReferralRow, Refusal> {
    let village = village(conn, &input.village).await?;
    if !jinguo_auth::may(
        conn,
        person,
        INTAKE,
        jinguo_core::auth::Target::Org(village),
        now,
    )
    .await?
    {
        return Err(Refusal::Forbidden(INTAKE));
    }
    create(conn, settings, Some(person), village, input, now).await
}

/// Takes a case in from the public page: a self-referral, given with the person's consent.
pub async fn self_referral(
    conn: &mut Conn<'_>,
    settings: &Settings,
    input: &SelfReferral,
    now: DateTime<Utc>,
) -> Result<ReferralRow, Refusal> {
    let village = village(conn, &input.village).await?;
    let referral = NewReferral {
        village: input.village.clone(),
        source: Source::SelfReport,
        reporter: None,
        victim: Victim {
            name: input.name.clone(),
            sex: "女".into(),
            age: None,
            phone: input.phone.clone(),
            address: String::new(),
            id_number: None,
            safe_contact: input.safe_contact.clone(),
        },
        children_ages: vec![],
        relationship: "未说明".into(),
        summary: input.summary.clone(),
        answers: BTreeMap::new(),
        consent: Consent {
            basis: ConsentBasis::Consent,
            note: "本人通过咨询服务页面提交".into(),
        },
    };
    create(conn, settings, None, village, &referral, now).await
}

/// The village a case is in: a village of the tree, named in the refusal otherwise.
async fn village(conn: &mut Conn<'_>, raw: &str) -> Result<OrgCode, Refusal> {
    let code = OrgCode::parse(raw.trim()).map_err(|_| invalid("village", "请选择村（社区）"))?;
    match orgs::get(conn, code).await? {
        Some(unit) if unit.code.level() == OrgLevel::Village => Ok(code),
        _ => Err(invalid("village", "请选择村（社区）")),
    }
}

async fn create(
    conn: &mut Conn<'_>,
    settings: &Settings,
    by: Option<Uuid>,
    village: OrgCode,
    input: &NewReferral,
    now: DateTime<Utc>,
) -> Result<ReferralRow, Refusal> {
    let today = now.with_timezone(&settings.time_zone).date_naive();
    let victim = Victim::parse(&input.victim, today)?;
    let reporter = match (&input.reporter, input.source) {
        (Some(r), source) => Some(Reporter::parse(r, source.is_mandatory_reporter())?),
        (None, Source::SelfReport) => None,
        (None, _) => return Err(invalid("reporter.name", "请填写报告人")),
    };
    let incident = Incident::parse(&Incident {
        summary: input.summary.clone(),
        relationship: input.relationship.clone(),
        children_ages: input.children_ages.clone(),
        answers: input.answers.clone(),
        consent_note: input.consent.note.clone(),
    })?;
    let grade = if incident.answers.is_empty() {
        None
    } else {
        Some(
            settings
                .policy
                .questionnaire
                .grade(&incident.answers)
                .map_err(|e| invalid("answers", e.to_string()))?,
        )
    };
    let county = village.at_level(OrgLevel::County);
    let case_number = store::next_case_number(conn, county, today.year()).await?;
    let officer = staff::on_duty(conn, county, now).await?.first().copied();
    let id = Uuid::new_v4();
    let r = ReferralRow {
        id,
        case_number,
        county,
        village,
        source: input.source,
        state: State::Intake,
        risk: grade.map(|g| g.level),
        risk_score: grade.map(|g| i32::try_from(g.score).unwrap_or(i32::MAX)),
        consent: input.consent.basis,
        assigned_officer: officer,
        victim_sealed: seal(&settings.sealer, &victim, &place::victim(id)),
        reporter_sealed: reporter
            .as_ref()
            .map(|rep| seal(&settings.sealer, rep, &place::reporter(id))),
        incident_sealed: seal(&settings.sealer, &incident, &place::incident(id)),
        outcome: None,
        created_at: now,
        updated_at: now,
    };
    store::insert(conn, &r).await?;
    if let Some(officer) = officer {
        grant(conn, &r, officer, "assigned", now).await?;
    }
    if let Some(p) = by {
        grant(conn, &r, p, "intake", now).await?;
    }
    record(
        conn,
        settings,
        &r,
        None,
        by,
        "intake",
        serde_json::json!({
            "source": r.source.as_str(),
            "mandatory_reporter": r.source.is_mandatory_reporter(),
            "risk": r.risk.map(|l| l.as_str()),
            "consent": r.consent.as_str(),
        }),
        None,
        now,
    )
    .await?;
    flag_household(conn, settings, &victim, today, now).await?;
    tasks::open_intake(conn, settings, &r, now).await?;
    Ok(r)
}

/// Sets the incident flag of the victim's household through both of its keys, where known.
async fn flag_household(
    conn: &mut Conn<'_>,
    settings: &Settings,
    victim: &Victim,
    today: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let mut keys = Vec::new();
    if let Some(id) = victim
        .id_number
        .as_deref()
        .and_then(|i| ResidentId::parse(i, today).ok())
    {
        keys.push(HouseholdKey::Id(id));
    }
    if let Some(phone) = victim
        .phone
        .as_deref()
        .and_then(|p| MobilePhone::parse(p).ok())
    {
        keys.push(HouseholdKey::Phone(phone));
    }
    if keys.is_empty() {
        return Ok(());
    }
    let hashes: Vec<String> = keys
        .iter()
        .map(|k| jinguo_auth::household_hash(&settings.household_key, k))
        .collect();
    let household = nominations::household(conn, &hashes, now).await?;
    for h in household.all {
        nominations::set_incident_flag(conn, h, true).await?;
    }
    Ok(())
}
