//! Creating a campaign, and changing it afterwards.

use chrono::{DateTime, Utc};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_core::text::{self, NAME_MAX};
use jinguo_store::nominations::{self as store, CampaignRow};
use jinguo_store::{Conn, orgs};
use serde::Deserialize;
use uuid::Uuid;

use crate::refusal::{Refusal, corrupt, invalid};
use crate::rules::Rules;
use crate::settings::Links;

/// Everything needed to create a campaign.
#[derive(Debug, Clone, Deserialize)]
pub struct NewCampaign {
    pub name: String,
    pub year: i32,
    pub scope_org: String,
    pub rules: Rules,
}

pub async fn create_campaign(
    conn: &mut Conn<'_>,
    c: NewCampaign,
    by: &str,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<Uuid, Refusal> {
    let name = checked_name(&c.name)?;
    let scope = OrgCode::parse(&c.scope_org)
        .map_err(|_| invalid("scope_org", "机构代码应为 2–12 位数字的统计用区划代码"))?;
    if scope.level() > OrgLevel::County {
        return Err(invalid("scope_org", "评选范围应为县（市、区）、市州或全省"));
    }
    if orgs::get(conn, scope).await?.is_none() {
        return Err(invalid("scope_org", "没有这个单位"));
    }
    if !(2000..=2100).contains(&c.year) {
        return Err(invalid("year", "年份应在 2000–2100 之间"));
    }
    check_rules(&c.rules, links, now)?;
    let id = Uuid::new_v4();
    let row = CampaignRow {
        id,
        name,
        year: c.year,
        scope_org: scope.to_string(),
        rules: serde_json::to_string(&c.rules).expect("rules serialise"),
    };
    store::insert_campaign(conn, &row, by, now).await?;
    jinguo_auth::record(
        conn,
        by,
        "campaign.created",
        &id.to_string(),
        serde_json::json!({ "scope": scope }),
        now,
    )
    .await?;
    Ok(id)
}

/// A campaign's name, within bounds.
fn checked_name(name: &str) -> Result<String, Refusal> {
    text::single_line(name, 100).map_err(|e| invalid("name", e.message()))
}

/// The bounds every campaign's rules keep, at creation and at every change.
fn check_rules(rules: &Rules, links: &Links, now: DateTime<Utc>) -> Result<(), Refusal> {
    if rules.categories.is_empty() {
        return Err(invalid("rules.categories", "请至少填写一个评选类别"));
    }
    for category in &rules.categories {
        text::single_line(category, NAME_MAX)
            .map_err(|e| invalid("rules.categories", e.message()))?;
    }
    rules.check(links, now)
}

/// What may change in a campaign once it exists: its name and its rules. Its year and area
/// stay (nominations, references and reviewers' units hang on them).
#[derive(Debug, Clone, Deserialize)]
pub struct CampaignEdit {
    pub name: String,
    pub rules: Rules,
}

/// Changes campaign `id` for `actor`, who must hold `campaign.manage` at its area: the API and
/// the page both call this, so both keep the rule. The bounds are those of creation, and a
/// category that nominations already hold stays (their category would lose its meaning).
/// Changed deadlines, 公示 lengths, quotas and the decide and no-reviewer rules apply to what
/// starts afterwards: a level or 公示 already running keeps the timers it started with.
pub async fn update_campaign(
    conn: &mut Conn<'_>,
    id: Uuid,
    edit: CampaignEdit,
    actor: Uuid,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let Some(current) = campaign_view(conn, id).await? else {
        return Err(Refusal::NotFound("没有这个评选活动".into()));
    };
    crate::access::permit(conn, actor, "campaign.manage", current.scope, now).await?;
    let name = checked_name(&edit.name)?;
    check_rules(&edit.rules, links, now)?;
    let in_use = store::categories_in_use(conn, id).await?;
    if let Some(kept) = in_use.iter().find(|c| !edit.rules.categories.contains(c)) {
        return Err(invalid(
            "rules.categories",
            format!("类别“{kept}”已有推荐，不能删除"),
        ));
    }
    let rules = serde_json::to_string(&edit.rules).expect("rules serialise");
    store::update_campaign(conn, id, &name, &rules).await?;
    jinguo_auth::record(
        conn,
        &actor.to_string(),
        "campaign.updated",
        &id.to_string(),
        serde_json::json!({ "name_changed": name != current.name }),
        now,
    )
    .await?;
    Ok(())
}

/// A campaign as its pages show it: the rules parsed, the area a code.
#[derive(Debug, Clone)]
pub struct CampaignView {
    pub id: Uuid,
    pub name: String,
    pub year: i32,
    pub scope: OrgCode,
    pub rules: Rules,
}

impl TryFrom<CampaignRow> for CampaignView {
    type Error = Refusal;

    fn try_from(c: CampaignRow) -> Result<CampaignView, Refusal> {
        Ok(CampaignView {
            id: c.id,
            scope: OrgCode::parse(&c.scope_org).map_err(|e| corrupt("campaign area", e))?,
            rules: serde_json::from_str(&c.rules).map_err(|e| corrupt("campaign rules", e))?,
            name: c.name,
            year: c.year,
        })
    }
}

/// One campaign with its rules, if it exists.
pub async fn campaign_view(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<CampaignView>, Refusal> {
    store::get_campaign(conn, id)
        .await?
        .map(CampaignView::try_from)
        .transpose()
}

/// The campaigns whose area overlaps one of `areas` (lies within it, or holds it: a village's
/// reviewer takes part in the county's campaign), newest year first.
pub async fn campaigns_overlapping(
    conn: &mut Conn<'_>,
    areas: &[OrgCode],
) -> Result<Vec<CampaignView>, Refusal> {
    let mut out = Vec::new();
    for row in store::all_campaigns(conn).await? {
        let c = CampaignView::try_from(row)?;
        if areas
            .iter()
            .any(|a| c.scope.is_within(a) || a.is_within(&c.scope))
        {
            out.push(c);
        }
    }
    Ok(out)
}
