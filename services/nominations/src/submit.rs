//! Submission: validation, eligibility (audited, refusals included), the hold of a flagged
//! household, and the start of village review.

use chrono::{DateTime, Utc};
use jinguo_core::nominations::{self as core, Level, State, Story};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_store::nominations::{self as store, NominationRow, Transition};
use jinguo_store::{Conn, orgs};
use serde::Deserialize;
use uuid::Uuid;

use crate::access::permit;
use crate::eligibility::{hold, reveals_eligibility};
use crate::family::{Family, household_hash, parse_family};
use crate::records::campaign;
use crate::refusal::{Refusal, corrupt, invalid};
use crate::review::enter_level;
use crate::settings::Links;

#[derive(Debug, Clone, Deserialize)]
pub struct Submission {
    pub campaign_id: Uuid,
    pub village: String,
    pub category: String,
    pub channel: core::Channel,
    pub family: Family,
    pub story: String,
}

/// Who submits: the public self-nomination form, or a staff member (who needs
/// `nomination.submit` at the village).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nominator {
    Public,
    Staff(Uuid),
}

impl Nominator {
    pub(crate) fn actor(self) -> String {
        match self {
            Nominator::Public => "public".to_owned(),
            Nominator::Staff(id) => id.to_string(),
        }
    }
}

/// The one entry point for a submission (API and public form): runs [`submit_in`] in its own
/// transaction and, when an eligibility rule refuses, audits the refusal in a transaction of
/// its own (the refused one rolls back), with the rule and no family data.
pub async fn submit(
    store: &jinguo_store::Store,
    s: Submission,
    nominator: Nominator,
    links: &Links,
) -> Result<Uuid, Refusal> {
    let campaign = s.campaign_id;
    let result = store
        .transaction({
            let links = links.clone();
            move |c| {
                let (s, links) = (s.clone(), links.clone());
                Box::pin(async move { submit_in(c, s, nominator, &links, jinguo_bus::now()).await })
            }
        })
        .await;
    if let Err(Refusal::Ineligible {
        rule, household, ..
    }) = &result
    {
        let (rule, household, actor) = (*rule, *household, nominator.actor());
        store
            .transaction(move |c| {
                let actor = actor.clone();
                Box::pin(async move {
                    let details = serde_json::json!({ "campaign": campaign, "rule": rule, "outcome": "refused" });
                    jinguo_auth::record(
                        c,
                        &actor,
                        "nomination.eligibility_checked",
                        &household.to_string(),
                        details,
                        jinguo_bus::now(),
                    )
                    .await
                })
            })
            .await?;
    }
    result
}

/// A nomination's readable reference, told to the family instead of its id: the county's six
/// digits, the campaign's year and the county's sequence in that year (`620122-2026-0042`).
fn reference(county: &str, year: i32, seq: u32) -> String {
    format!("{county}-{year:04}-{seq:04}")
}

/// Submits a nomination in the caller's transaction: validates, checks eligibility, records it
/// and asks the village's reviewers. A household with an incident flag is accepted exactly
/// like any other but held in `eligibility_review` for the county case officers; only they, when
/// they submit themselves, are told why instead.
pub async fn submit_in(
    conn: &mut Conn<'_>,
    s: Submission,
    nominator: Nominator,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<Uuid, Refusal> {
    let (campaign_row, rules) = campaign(conn, s.campaign_id).await?;
    let village =
        OrgCode::parse(&s.village).map_err(|_| invalid("village", "请选择所在的村（社区）"))?;
    if village.level() != OrgLevel::Village {
        return Err(invalid("village", "推荐应落在一个村（社区）"));
    }
    if let Nominator::Staff(person) = nominator {
        permit(conn, person, "nomination.submit", village, now).await?;
    }
    let scope = OrgCode::parse(&campaign_row.scope_org).map_err(|e| corrupt("campaign area", e))?;
    if !village.is_within(&scope) || orgs::get(conn, village).await?.is_none() {
        return Err(invalid("village", "所选村（社区）不在本次评选范围内"));
    }
    if !rules.categories.contains(&s.category) {
        return Err(invalid(
            "category",
            format!("请选择评选类别：{}", rules.categories.join("、")),
        ));
    }
    let story = Story::parse(&s.story).map_err(|m| invalid("story", m))?;
    let today = now.with_timezone(&links.time_zone).date_naive();
    let (family, keys) = parse_family(&s.family, today)?;
    let keys: Vec<String> = keys
        .iter()
        .map(|k| household_hash(&links.household_key, k))
        .collect();
    let found = store::household(conn, &keys, now).await?;
    let household = found.id;
    let (awarded_categories, open_in_campaign) =
        store::household_record(conn, &found.all, s.campaign_id).await?;
    let record = core::HouseholdRecord {
        awarded_categories,
        incident_flag: found.incident_flag,
        open_in_campaign,
    };
    let admission = core::admit(&record, &s.category).map_err(|no| Refusal::Ineligible {
        rule: no.rule(),
        message: no.message(),
        household,
    })?;
    // County case officers who submit are told why, instead of the hold.
    if admission == core::Admission::Held
        && let Nominator::Staff(person) = nominator
        && reveals_eligibility(conn, person, village, now).await?
    {
        let no = core::Ineligible::IncidentFlag;
        return Err(Refusal::Ineligible {
            rule: no.rule(),
            message: no.message(),
            household,
        });
    }
    // Every check is audited with its rule, never the family.
    let rule = match admission {
        core::Admission::Review => "eligible",
        core::Admission::Held => "incident_flag",
    };
    jinguo_auth::record(
        conn,
        &nominator.actor(),
        "nomination.eligibility_checked",
        &household.to_string(),
        serde_json::json!({ "campaign": s.campaign_id, "rule": rule, "outcome": "accepted" }),
        now,
    )
    .await?;
    let state = match admission {
        core::Admission::Review => State::VillageReview,
        core::Admission::Held => State::EligibilityReview,
    };
    let id = Uuid::new_v4();
    let row = NominationRow {
        id,
        campaign_id: s.campaign_id,
        village,
        household_id: household,
        category: s.category,
        channel: serde_json::to_value(s.channel)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        family: serde_json::to_string(&family.record(id, &links.sealer))
            .expect("family serialises"),
        story: story.as_str().to_owned(),
        nominator: nominator.actor(),
        state,
        created_at: now,
    };
    store::insert(conn, &row).await?;
    let county = &village.as_str()[..6];
    let seq = store::next_reference_seq(conn, county, campaign_row.year).await?;
    store::set_reference(conn, id, &reference(county, campaign_row.year, seq)).await?;
    let t = Transition {
        from: state,
        to: state,
        event: "submitted",
        actor: &nominator.actor(),
        reason: None,
    };
    store::transition(conn, id, t, now).await?;
    match admission {
        core::Admission::Review => {
            enter_level(conn, &row, &campaign_row, Level::Village, links, now).await?
        }
        core::Admission::Held => hold(conn, &row, &campaign_row, links, now).await?,
    }
    Ok(id)
}
