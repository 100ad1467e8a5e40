//! The award list (表彰名单): the nominations of a campaign that stand `awarded`, each with the
//! names of its village, township and county and when the award was recorded — one query for the
//! whole list, the same for one certificate.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use jinguo_core::nominations::State;
use jinguo_core::org::OrgCode;
use uuid::Uuid;

use crate::error::parse;
use crate::json::utc;
use crate::schema::{nomination_history, nominations, orgs};
use crate::{Conn, StoreError, on_backend};

/// One awarded nomination, as the award list, its exports and a certificate need it.
#[derive(Debug, Clone)]
pub struct AwardedNomination {
    pub id: Uuid,
    pub village: OrgCode,
    /// The names of the village, its township and its county; `None` for a unit not in the
    /// org tree.
    pub village_name: Option<String>,
    pub township_name: Option<String>,
    pub county_name: Option<String>,
    pub category: String,
    /// JSON, read by the nominations program.
    pub family: String,
    /// When the step that made it `awarded` (the end of the county 公示, `publicity_ended`) was
    /// recorded: the newest step of its history into `awarded`.
    pub awarded_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = nominations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct AwardedRecord {
    id: String,
    village_code: String,
    category: String,
    family: String,
}

/// The awarded nominations of `campaign`, by village code (so township by township, in the
/// order of the administrative codes), ties by id.
pub async fn list(
    conn: &mut Conn<'_>,
    campaign: Uuid,
) -> Result<Vec<AwardedNomination>, StoreError> {
    awarded(conn, campaign, None).await
}

/// Nomination `id` when it stands awarded in `campaign`; `None` otherwise (another campaign,
/// another state, no such nomination).
pub async fn get(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    id: Uuid,
) -> Result<Option<AwardedNomination>, StoreError> {
    Ok(awarded(conn, campaign, Some(id)).await?.pop())
}

async fn awarded(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    only: Option<Uuid>,
) -> Result<Vec<AwardedNomination>, StoreError> {
    let (village, township, county) = diesel::alias!(
        orgs as village_org,
        orgs as township_org,
        orgs as county_org
    );
    let awarded = State::Awarded.as_str();
    type Line = (
        AwardedRecord,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<NaiveDateTime>,
    );
    let rows: Vec<Line> = on_backend!(conn, |c| {
        let awarded_at = nomination_history::table
            .filter(nomination_history::nomination_id.eq(nominations::id))
            .filter(nomination_history::to_state.eq(awarded))
            .order(nomination_history::seq.desc())
            .select(nomination_history::at)
            .limit(1)
            .single_value();
        let mut query = nominations::table
            .left_join(village.on(village.field(orgs::code).eq(nominations::village_code)))
            .left_join(
                township.on(township
                    .field(orgs::code)
                    .nullable()
                    .eq(village.field(orgs::parent_code))),
            )
            .left_join(
                county.on(county
                    .field(orgs::code)
                    .nullable()
                    .eq(township.field(orgs::parent_code))),
            )
            .filter(nominations::campaign_id.eq(campaign.to_string()))
            .filter(nominations::state.eq(awarded))
            .select((
                AwardedRecord::as_select(),
                village.field(orgs::name).nullable(),
                township.field(orgs::name).nullable(),
                county.field(orgs::name).nullable(),
                awarded_at,
            ))
            .order((nominations::village_code, nominations::id))
            .into_boxed();
        if let Some(id) = only {
            query = query.filter(nominations::id.eq(id.to_string()));
        }
        query.load(c).await
    })?;
    rows.into_iter()
        .map(
            |(r, village_name, township_name, county_name, awarded_at)| {
                Ok(AwardedNomination {
                    id: parse(&r.id, "id")?,
                    village: parse(&r.village_code, "village code")?,
                    village_name,
                    township_name,
                    county_name,
                    category: r.category,
                    family: r.family,
                    awarded_at: awarded_at.map(utc),
                })
            },
        )
        .collect()
}
