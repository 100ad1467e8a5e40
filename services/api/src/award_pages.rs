//! A campaign's award list (表彰名单) and certificates (#13 item 7).
//!
//! - `GET /public/campaigns/{id}/awarded` (no sign-in, rate-limited per address): the families
//!   awarded in the campaign, township by township — the head's name, village and township by
//!   name, category. Nothing else of a family: no ID number, phone, address, id or code.
//! - `GET /admin/campaigns/{id}/awarded` (signed in; the dashboard's permission,
//!   `nomination.view` in the campaign's area): the same list with the award date, each family
//!   linked to its certificate, and the downloads `…/awarded.xlsx` and `…/awarded.csv`
//!   (序号, 家庭, 乡镇, 村, 类别, 获评日期).
//! - `GET /admin/campaigns/{id}/awarded/{nomination_id}/certificate` (the same permission): a
//!   certificate to print on A4 landscape — the campaign, the family, the category as the title
//!   awarded, the date in Chinese and the county federation's name (榆中县妇女联合会); a
//!   Chinese 404 unless that nomination stands awarded in that campaign.
//!
//! A nomination is listed while it stands `awarded`; its award date is the day, in the
//! calendar's time zone, of the history step that made it so (`publicity_ended`).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_nominations::{CampaignSummary, FamilyRecord};
use jinguo_store::awards::{self, AwardedNomination};
use uuid::Uuid;

use crate::dashboard::{Format, Sheet, download, open_campaign};
use crate::extract::Path;
use crate::page::{message, render};
use crate::{ApiError, AppState};

/// The downloads' columns, with their widths in Excel.
const COLUMNS: [(&str, f64); 6] = [
    ("序号", 6.0),
    ("家庭", 14.0),
    ("乡镇", 14.0),
    ("村", 14.0),
    ("类别", 14.0),
    ("获评日期", 14.0),
];

/// One awarded family as the list, the downloads and a certificate show it: names only.
struct Awarded {
    id: Uuid,
    /// Where it is listed (never shown).
    village_code: OrgCode,
    /// The head of the family's name.
    family: String,
    village: String,
    township: String,
    /// The county's name, which names the federation that awards.
    county: String,
    category: String,
    awarded_on: Option<NaiveDate>,
}

impl Awarded {
    fn of(n: AwardedNomination, tz: chrono_tz::Tz) -> Awarded {
        Awarded {
            id: n.id,
            village_code: n.village,
            family: serde_json::from_str::<FamilyRecord>(&n.family)
                .map(|f| f.head_name)
                .unwrap_or_default(),
            village: n.village_name.unwrap_or_default(),
            township: n.township_name.unwrap_or_default(),
            county: n.county_name.unwrap_or_default(),
            category: n.category,
            awarded_on: n.awarded_at.map(|t| t.with_timezone(&tz).date_naive()),
        }
    }

    /// The award date as the list and the downloads write it (2026-12-06).
    fn date(&self) -> String {
        self.awarded_on
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }
}

/// The date in Chinese, as a certificate writes it: 2026年12月6日.
fn chinese_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// The families awarded in campaign `id`, by township, village and family name.
async fn awarded_in(state: &AppState, id: Uuid) -> Result<Vec<Awarded>, Response> {
    let tz = state.config.calendar.time_zone;
    let rows = state
        .store
        .read(move |c| Box::pin(awards::list(c, id)))
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    // By village code (so township by township, in the order of the administrative codes),
    // then by family.
    let mut rows: Vec<Awarded> = rows.into_iter().map(|n| Awarded::of(n, tz)).collect();
    rows.sort_by(|a, b| {
        a.village_code
            .cmp(&b.village_code)
            .then_with(|| a.family.cmp(&b.family))
    });
    Ok(rows)
}

/// The families of one township, for the list.
struct Township {
    code: OrgCode,
    /// Its name; after its county's in a campaign wider than a county (城关镇 is in many).
    name: String,
    families: Vec<Line>,
}

struct Line {
    family: String,
    village: String,
    category: String,
    date: String,
    /// The certificate's page: on the staff's list only (the public one shows no id).
    certificate: Option<String>,
}

#[derive(Template)]
#[template(path = "awards/list.html")]
struct ListPage {
    campaign: String,
    total: usize,
    townships: Vec<Township>,
    /// The staff's list: dates, certificates and downloads.
    staff: bool,
    /// `/admin/campaigns/{id}` (the staff list only).
    base: String,
}

fn list_page(campaign: &CampaignSummary, rows: Vec<Awarded>, staff: Option<Uuid>) -> ListPage {
    let base = staff.map_or_else(String::new, |id| format!("/admin/campaigns/{id}"));
    let total = rows.len();
    let wide = campaign.scope.level() < OrgLevel::County;
    let mut townships: Vec<Township> = Vec::new();
    for a in rows {
        let township = a.village_code.at_level(OrgLevel::Township);
        let line = Line {
            date: a.date(),
            certificate: staff.map(|_| format!("{base}/awarded/{}/certificate", a.id)),
            family: a.family,
            village: a.village,
            category: a.category,
        };
        match townships.last_mut() {
            Some(t) if t.code == township => t.families.push(line),
            _ => townships.push(Township {
                code: township,
                name: if wide {
                    format!("{} {}", a.county, a.township)
                } else {
                    a.township
                },
                families: vec![line],
            }),
        }
    }
    ListPage {
        campaign: campaign.name.clone(),
        total,
        townships,
        staff: staff.is_some(),
        base,
    }
}

/// The answer for a campaign that does not exist.
fn no_such_campaign() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这项评选",
        "没有找到这项评选，请核对链接。".into(),
        Some("如有疑问，请联系所在村（社区）妇联。"),
    )
}

/// `GET /public/campaigns/{id}/awarded`: the award list, for anyone.
pub(crate) async fn public_list(State(state): State<AppState>, Path(id): Path<Uuid>) -> Response {
    let campaign = match state
        .store
        .read(move |c| Box::pin(jinguo_nominations::campaign_summary(c, id)))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return no_such_campaign(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    match awarded_in(&state, id).await {
        Ok(rows) => render(StatusCode::OK, &list_page(&campaign, rows, None)),
        Err(page) => page,
    }
}

/// `GET /admin/campaigns/{id}/awarded`: the award list for staff, with dates, certificates
/// and downloads.
pub(crate) async fn staff_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    let campaign = match open_campaign(&state, &headers, id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    match awarded_in(&state, id).await {
        Ok(rows) => render(StatusCode::OK, &list_page(&campaign, rows, Some(id))),
        Err(page) => page,
    }
}

/// `GET /admin/campaigns/{id}/awarded.xlsx`.
pub(crate) async fn export_xlsx(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    export(&state, &headers, id, Format::Xlsx).await
}

/// `GET /admin/campaigns/{id}/awarded.csv`.
pub(crate) async fn export_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    export(&state, &headers, id, Format::Csv).await
}

/// The award list as a sheet (表彰名单), downloaded as `format`.
async fn export(state: &AppState, headers: &HeaderMap, id: Uuid, format: Format) -> Response {
    let campaign = match open_campaign(state, headers, id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let rows = match awarded_in(state, id).await {
        Ok(rows) => rows,
        Err(page) => return page,
    };
    let sheet = Sheet {
        name: "表彰名单",
        columns: &COLUMNS,
        lines: (1..)
            .zip(rows)
            .map(|(n, a)| {
                let date = a.date();
                vec![
                    n.to_string(),
                    a.family,
                    a.township,
                    a.village,
                    a.category,
                    date,
                ]
            })
            .collect(),
    };
    let title = format!("{}表彰名单", campaign.name);
    download(&sheet, format, &title, "awarded")
}

#[derive(Template)]
#[template(path = "awards/certificate.html")]
struct CertificatePage {
    campaign: String,
    /// The staff's award list, to go back to.
    list: String,
    family: String,
    category: String,
    /// 榆中县妇女联合会.
    federation: String,
    date: String,
}

/// `GET /admin/campaigns/{id}/awarded/{nomination_id}/certificate`: the certificate of one
/// awarded family, to print.
pub(crate) async fn certificate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, nomination)): Path<(Uuid, Uuid)>,
) -> Response {
    let campaign = match open_campaign(&state, &headers, id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let found = state
        .store
        .read(move |c| Box::pin(awards::get(c, id, nomination)))
        .await;
    let a = match found {
        Ok(Some(n)) => Awarded::of(n, state.config.calendar.time_zone),
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "没有这份荣誉证书",
                format!("这户家庭不在“{}”的表彰名单中。", campaign.name),
                Some("证书只为已获评表彰的家庭开具，请从表彰名单进入。"),
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let page = CertificatePage {
        campaign: campaign.name,
        list: format!("/admin/campaigns/{id}/awarded"),
        date: a.awarded_on.map(chinese_date).unwrap_or_default(),
        federation: format!("{}妇女联合会", a.county),
        family: a.family,
        category: a.category,
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_writes_the_date_in_chinese_without_leading_zeros() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(chinese_date(d), "2026年12月6日");
        let d = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
        assert_eq!(chinese_date(d), "2027年1月15日");
    }

    fn awarded(village: &str, county: &str, township: &str, family: &str) -> Awarded {
        Awarded {
            id: Uuid::nil(),
            village_code: OrgCode::parse(village).unwrap(),
            family: family.into(),
            village: "某村".into(),
            township: township.into(),
            county: county.into(),
            category: "最美家庭".into(),
            awarded_on: None,
        }
    }

    #[test]
    fn townships_of_the_same_name_in_two_counties_are_listed_apart_with_their_county() {
        let city = CampaignSummary {
            name: "兰州市最美家庭".into(),
            scope: OrgCode::parse("620100").unwrap(),
            categories: Vec::new(),
        };
        let rows = vec![
            awarded("620122100001", "皋兰县", "城关镇", "张丽"),
            awarded("620122100002", "皋兰县", "城关镇", "王芳"),
            awarded("620123100001", "榆中县", "城关镇", "李秀英"),
        ];
        let page = list_page(&city, rows, None);
        let names: Vec<&str> = page.townships.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["皋兰县 城关镇", "榆中县 城关镇"]);
        assert_eq!(page.townships[0].families.len(), 2);
        assert_eq!(page.total, 3);
        assert!(!page.staff && page.townships[0].families[0].certificate.is_none());
    }
}
