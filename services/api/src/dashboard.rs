//! A campaign's dashboard for the county coordinator (`/admin/campaigns/{id}`): counts per
//! state per township as a table and a server-rendered SVG chart, the list filtered by state,
//! township, overdue and stalled in pages of 50, and the filtered list as xlsx and CSV
//! (`…/export.xlsx`, `…/export.csv`, same query string). Everything shown comes from the
//! program's read models, so a held nomination reads as village review to all but the county
//! case officers.

use askama::Template;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jinguo_core::nominations::State;
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_nominations::{
    CampaignSummary, Cursor, DashboardView, ListQuery, ListScope, ListedRow, TownshipCounts, Window,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::extract::Path;
use crate::page::message;
use crate::review::state_label;
use crate::{ApiError, AppState};

/// Rows on one page of the dashboard.
const PER_PAGE: u64 = 50;

/// The export's columns, in order, with their widths in Excel.
const COLUMNS: [(&str, f64); 9] = [
    ("家庭", 12.0),
    ("村", 12.0),
    ("乡镇", 12.0),
    ("类别", 12.0),
    ("推荐渠道", 12.0),
    ("状态", 12.0),
    ("提交时间", 18.0),
    ("截止时间", 18.0),
    ("逾期/停滞", 18.0),
];

/// The dashboard's query string as typed: every value optional, a bad one ignored (a GET form
/// never answers with an error page).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    org: Option<String>,
    state: Option<String>,
    township: Option<String>,
    overdue: Option<String>,
    stalled: Option<String>,
    page: Option<String>,
    /// Where the page starts (the cursor the page before handed out in its 下一页 link);
    /// `page` then only numbers it.
    after: Option<String>,
}

/// What a checkbox or a JSON flag sends for "yes".
pub(crate) fn flag(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "on" | "true" | "yes"))
}

/// How people name a channel.
pub(crate) fn channel_label(channel: &str) -> &'static str {
    match channel {
        "self" => "本人自荐",
        "others" => "他人推荐",
        "organization" => "组织推荐",
        _ => "其他",
    }
}

/// The dashboard's request after the checks: who asks, about which campaign and area, and
/// what they filter.
struct Opened {
    viewer: Uuid,
    /// The session's form value, for the rows' 催办 buttons.
    csrf: String,
    campaign: CampaignSummary,
    /// The `org` parameter, when it named a unit inside the campaign.
    org: Option<OrgCode>,
    area: OrgCode,
    area_name: String,
    query: ListQuery,
    page: u64,
    after: Option<Cursor>,
}

impl Opened {
    /// Which part of which campaign the list covers, for whom.
    fn scope(&self, id: Uuid) -> ListScope {
        ListScope {
            campaign: id,
            campaign_area: self.campaign.scope,
            area: self.area,
            viewer: self.viewer,
        }
    }

    /// The query string that asks for the same filters (and the page, when given: its cursor
    /// and number).
    fn query_string(&self, page: Option<(Option<Cursor>, u64)>) -> String {
        let mut parts = Vec::new();
        if let Some(org) = self.org {
            parts.push(format!("org={org}"));
        }
        if let Some(s) = self.query.state {
            parts.push(format!("state={}", s.as_str()));
        }
        if let Some(t) = self.query.township {
            parts.push(format!("township={t}"));
        }
        if self.query.overdue {
            parts.push("overdue=1".to_owned());
        }
        if self.query.stalled {
            parts.push("stalled=1".to_owned());
        }
        if let Some((after, p)) = page {
            if let Some(c) = after {
                parts.push(format!("after={c}"));
            }
            parts.push(format!("page={p}"));
        }
        parts.join("&")
    }
}

/// The campaign `id` for a signed-in person holding `nomination.view` in its whole area (what
/// the dashboard and its exports ask, without filters); the page to answer with instead.
pub(crate) async fn open_campaign(
    state: &AppState,
    headers: &HeaderMap,
    id: Uuid,
) -> Result<CampaignSummary, Response> {
    open(state, headers, id, Filters::default())
        .await
        .map(|o| o.campaign)
}

/// Signs in, finds the campaign, settles the area and asks `nomination.view` there; the page
/// to answer with instead when any of it fails.
async fn open(
    state: &AppState,
    headers: &HeaderMap,
    id: Uuid,
    f: Filters,
) -> Result<Opened, Response> {
    let session = match crate::auth::SignedIn::from_headers(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Redirect::to("/signin").into_response()),
        Err(e) => return Err(e.into_response()),
    };
    let campaign = match state
        .store
        .read(move |c| Box::pin(jinguo_nominations::campaign_summary(c, id)))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(message(
                StatusCode::NOT_FOUND,
                "没有这项评选",
                "请核对链接，或从评选活动列表进入。".into(),
                None,
            ));
        }
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    let org = f
        .org
        .as_deref()
        .and_then(|o| OrgCode::parse(o).ok())
        .filter(|o| o.is_within(&campaign.scope));
    let area = org.unwrap_or(campaign.scope);
    let area_name = state
        .store
        .read(move |c| Box::pin(jinguo_store::orgs::get(c, area)))
        .await
        .map_err(|e| ApiError::from(e).into_response())?
        .map(|u| u.name)
        .unwrap_or_default();
    if let Err(e) = crate::auth::require(state, session.person, "nomination.view", area).await {
        return Err(if e.status == StatusCode::FORBIDDEN {
            message(
                StatusCode::FORBIDDEN,
                "没有权限",
                format!("您没有查看{area_name}推荐情况的权限。"),
                Some("如需查看，请联系本级妇联管理员。"),
            )
        } else {
            e.into_response()
        });
    }
    let township = f
        .township
        .as_deref()
        .and_then(|t| OrgCode::parse(t).ok())
        .filter(|t| t.level() == OrgLevel::Township && t.is_within(&area));
    let query = ListQuery {
        state: f.state.as_deref().and_then(|s| s.parse::<State>().ok()),
        township,
        overdue: flag(f.overdue.as_deref()),
        stalled: flag(f.stalled.as_deref()),
    };
    let page = f
        .page
        .as_deref()
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let after = f.after.as_deref().and_then(|a| a.parse::<Cursor>().ok());
    Ok(Opened {
        viewer: session.person,
        csrf: session.csrf.clone(),
        campaign,
        org,
        area,
        area_name,
        query,
        page,
        after,
    })
}

struct StateOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

struct TownshipOption {
    value: String,
    label: String,
    selected: bool,
}

/// One township's line of the count table: a number under each state of the header.
struct CountLine {
    name: String,
    cells: Vec<u64>,
    total: u64,
}

/// One coloured part of a township's bar in the chart.
struct Segment {
    x: u32,
    width: u32,
    fill: &'static str,
    title: String,
}

struct Bar {
    label: String,
    label_y: u32,
    bar_y: u32,
    segments: Vec<Segment>,
}

struct Legend {
    label: &'static str,
    fill: &'static str,
}

struct Line {
    href: String,
    family: String,
    village: String,
    township: String,
    category: String,
    channel: &'static str,
    state: &'static str,
    created: String,
    due: String,
    overdue: bool,
    stalled: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    /// The campaign's page, for the navigation.
    campaign_page: String,
    /// For the 催办 buttons of overdue rows (they post to the nomination's page), shown to
    /// those who manage the campaign.
    csrf: String,
    may_urge: bool,
    campaign: String,
    area_name: String,
    header: Vec<&'static str>,
    lines: Vec<CountLine>,
    totals: Vec<u64>,
    grand_total: u64,
    /// Nominations in the area whose current level has no active reviewer.
    stalled_total: u64,
    chart_height: u32,
    chart_width: u32,
    bars: Vec<Bar>,
    legend: Vec<Legend>,
    org: Option<String>,
    states: Vec<StateOption>,
    townships: Vec<TownshipOption>,
    overdue: bool,
    stalled: bool,
    filtered: bool,
    rows: Vec<Line>,
    total: u64,
    page: u64,
    pages: u64,
    previous: Option<String>,
    next: Option<String>,
    query: String,
    base: String,
}

/// A colour for each state in the chart (contrast against white ≥ 3:1 for graphics).
fn colour(s: State) -> &'static str {
    match s {
        State::EligibilityReview => "#6d4c41",
        State::VillageReview => "#1565c0",
        State::VillagePublicity => "#00838f",
        State::TownshipReview => "#6a1b9a",
        State::CountyReview => "#ad1457",
        State::Publicity => "#ef6c00",
        State::Awarded => "#2e7d32",
        State::Rejected => "#b3261e",
        State::Returned => "#5d4037",
        State::Withdrawn => "#616161",
        State::UnderInvestigation => "#827717",
        State::Revoked => "#37474f",
    }
}

/// Width of the chart's drawing area (its `viewBox`; the SVG itself scales to the page).
const CHART_WIDTH: u32 = 320;

/// The horizontal stacked bar of each township, longest bar the full width.
fn chart(counts: &[TownshipCounts]) -> (Vec<Bar>, u32) {
    let most = counts.iter().map(|t| t.total).max().unwrap_or(0).max(1);
    let mut bars = Vec::with_capacity(counts.len());
    for (i, t) in counts.iter().enumerate() {
        let top = u32::try_from(i).unwrap_or(u32::MAX).saturating_mul(44);
        let mut x = 0u32;
        let mut segments = Vec::new();
        for (s, n) in &t.counts {
            let width = u32::try_from(n * u64::from(CHART_WIDTH) / most).unwrap_or(CHART_WIDTH);
            segments.push(Segment {
                x,
                width: width.max(1),
                fill: colour(*s),
                title: format!("{} {}：{} 份", t.name, state_label(*s), n),
            });
            x += width;
        }
        bars.push(Bar {
            label: format!("{}　共 {} 份", t.name, t.total),
            label_y: top + 14,
            bar_y: top + 20,
            segments,
        });
    }
    let height = u32::try_from(counts.len())
        .unwrap_or(0)
        .saturating_mul(44)
        .max(20);
    (bars, height)
}

fn when(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// What the last column says: 逾期, 停滞, both, or nothing.
fn flags(r: &ListedRow) -> String {
    match (r.overdue, r.stalled) {
        (true, true) => "逾期、停滞".into(),
        (true, false) => "逾期".into(),
        (false, true) => "停滞".into(),
        (false, false) => String::new(),
    }
}

/// `GET /admin/campaigns/{id}`: the dashboard (signed in, `nomination.view` in the area).
pub(crate) async fn page(
    AxumState(state): AxumState<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(f): Query<Filters>,
) -> Response {
    let o = match open(&state, &headers, id, f).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    let (scope, query) = (o.scope(id), o.query.clone());
    // A page reached by its cursor starts there; one asked for by number skips to it.
    let window = Window {
        after: o.after,
        offset: if o.after.is_some() {
            0
        } else {
            (o.page - 1).saturating_mul(PER_PAGE)
        },
        limit: Some(PER_PAGE),
    };
    let loaded = state
        .store
        .read(move |c| {
            let query = query.clone();
            Box::pin(async move {
                jinguo_nominations::campaign_dashboard(c, &scope, &query, window, jinguo_bus::now())
                    .await
            })
        })
        .await;
    let DashboardView {
        counts,
        page: list,
        stalled: stalled_total,
    } = match loaded {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let tz = state.config.calendar.time_zone;
    // 催办 is the county admins'; the others see no button.
    let county = o.area.at_level(OrgLevel::County);
    let may_urge = crate::auth::require(&state, o.viewer, "campaign.manage", county)
        .await
        .is_ok();
    // The table's columns: every state with a nomination, in the order of the workflow.
    let present: Vec<State> = State::ALL
        .into_iter()
        .filter(|s| counts.iter().any(|t| t.counts.iter().any(|(c, _)| c == s)))
        .collect();
    let lines = counts
        .iter()
        .map(|t| CountLine {
            name: t.name.clone(),
            cells: present
                .iter()
                .map(|s| t.counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n))
                .collect(),
            total: t.total,
        })
        .collect::<Vec<_>>();
    let totals = (0..present.len())
        .map(|i| lines.iter().map(|l| l.cells[i]).sum())
        .collect();
    let (bars, chart_height) = chart(&counts);
    let pages = list.total.div_ceil(PER_PAGE).max(1);
    let page_link = |after: Option<Cursor>, p: u64| {
        format!("/admin/campaigns/{id}?{}", o.query_string(Some((after, p))))
    };
    // 下一页 carries the cursor of this page's last row, so the next page costs the same
    // however deep it is; 上一页 asks by number.
    let next = list.next.map(|c| page_link(Some(c), o.page + 1));
    let dashboard = Dashboard {
        csrf: o.csrf.clone(),
        may_urge,
        campaign: o.campaign.name.clone(),
        area_name: o.area_name.clone(),
        header: present.iter().map(|s| state_label(*s)).collect(),
        grand_total: counts.iter().map(|t| t.total).sum(),
        stalled_total,
        lines,
        totals,
        chart_height,
        chart_width: CHART_WIDTH,
        bars,
        legend: present
            .iter()
            .map(|s| Legend {
                label: state_label(*s),
                fill: colour(*s),
            })
            .collect(),
        org: o.org.map(|c| c.to_string()),
        states: State::ALL
            .into_iter()
            .filter(|s| s.public() == *s || present.contains(s))
            .map(|s| StateOption {
                value: s.as_str(),
                label: state_label(s),
                selected: o.query.state == Some(s),
            })
            .collect(),
        townships: counts
            .iter()
            .map(|t| TownshipOption {
                value: t.township.to_string(),
                label: t.name.clone(),
                selected: o.query.township == Some(t.township),
            })
            .collect(),
        overdue: o.query.overdue,
        stalled: o.query.stalled,
        filtered: o.query.state.is_some()
            || o.query.township.is_some()
            || o.query.overdue
            || o.query.stalled,
        rows: list
            .rows
            .iter()
            .map(|r| Line {
                href: format!("/nominations/{}", r.id),
                family: r.family.clone(),
                village: r.village_name.clone(),
                township: r.township_name.clone(),
                category: r.category.clone(),
                channel: channel_label(&r.channel),
                state: state_label(r.state),
                created: when(r.created_at, tz),
                due: r.due_at.map(|d| when(d, tz)).unwrap_or_default(),
                overdue: r.overdue,
                stalled: r.stalled,
            })
            .collect(),
        total: list.total,
        page: o.page,
        pages,
        previous: (o.page > 1).then(|| page_link(None, o.page - 1)),
        next,
        query: o.query_string(None),
        base: format!("/admin/campaigns/{id}"),
        campaign_page: format!("/campaigns/{id}"),
    };
    match dashboard.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The whole filtered list, as the export writes it.
async fn export_rows(state: &AppState, id: Uuid, o: &Opened) -> Result<Vec<ListedRow>, Response> {
    let (scope, query) = (o.scope(id), o.query.clone());
    state
        .store
        .read(move |c| {
            let query = query.clone();
            Box::pin(async move {
                jinguo_nominations::campaign_page(
                    c,
                    &scope,
                    &query,
                    Window::default(),
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await
        .map(|p| p.rows)
        .map_err(|e| ApiError::from(e).into_response())
}

/// One exported line, in the order of [`COLUMNS`].
fn cells(r: &ListedRow, tz: chrono_tz::Tz) -> [String; 9] {
    [
        r.family.clone(),
        r.village_name.clone(),
        r.township_name.clone(),
        r.category.clone(),
        channel_label(&r.channel).to_owned(),
        state_label(r.state).to_owned(),
        when(r.created_at, tz),
        r.due_at.map(|d| when(d, tz)).unwrap_or_default(),
        flags(r),
    ]
}

/// A table to download: its sheet's name, its columns (title and width in Excel) and one line
/// of cells per row, in the order of the columns.
pub(crate) struct Sheet<'a> {
    pub name: &'a str,
    pub columns: &'a [(&'a str, f64)],
    pub lines: Vec<Vec<String>>,
}

/// How a table is downloaded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    Xlsx,
    Csv,
}

/// `sheet` as an Excel workbook or a CSV file (UTF-8 with a byte order mark, so that Excel reads
/// the Chinese), attached as `{title}.{ext}` (`{fallback}.{ext}` for clients without RFC 6266)
/// and not cached.
pub(crate) fn download(sheet: &Sheet<'_>, format: Format, title: &str, fallback: &str) -> Response {
    let written = match format {
        Format::Xlsx => xlsx(sheet).map_err(|e| ApiError::internal(&e)),
        Format::Csv => csv_bytes(sheet).map_err(|e| ApiError::internal(&e)),
    };
    let (content_type, ext) = match format {
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    match written {
        Ok(body) => attachment(body, content_type, &format!("{title}.{ext}"), fallback, ext),
        Err(e) => e.into_response(),
    }
}

/// An attachment named `file` (RFC 6266 `filename*`, with `{fallback}.{ext}` as the plain
/// name).
fn attachment(
    body: Vec<u8>,
    content_type: &'static str,
    file: &str,
    fallback: &str,
    ext: &str,
) -> Response {
    let encoded: String = file
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition =
        format!("attachment; filename=\"{fallback}.{ext}\"; filename*=UTF-8''{encoded}");
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /admin/campaigns/{id}/export.xlsx`: the filtered list as an Excel workbook.
pub(crate) async fn export_xlsx(
    AxumState(state): AxumState<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(f): Query<Filters>,
) -> Response {
    export(&state, &headers, id, f, Format::Xlsx).await
}

/// `GET /admin/campaigns/{id}/export.csv`: the filtered list as CSV.
pub(crate) async fn export_csv(
    AxumState(state): AxumState<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(f): Query<Filters>,
) -> Response {
    export(&state, &headers, id, f, Format::Csv).await
}

/// The whole filtered list (sheet 推荐名单), downloaded as `format`.
async fn export(
    state: &AppState,
    headers: &HeaderMap,
    id: Uuid,
    f: Filters,
    format: Format,
) -> Response {
    let o = match open(state, headers, id, f).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    let rows = match export_rows(state, id, &o).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let tz = state.config.calendar.time_zone;
    let sheet = Sheet {
        name: "推荐名单",
        columns: &COLUMNS,
        lines: rows.iter().map(|r| Vec::from(cells(r, tz))).collect(),
    };
    let title = format!("{}推荐名单", o.campaign.name);
    download(&sheet, format, &title, "nominations")
}

fn xlsx(sheet: &Sheet<'_>) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let ws = book.add_worksheet();
    ws.set_name(sheet.name)?;
    for (col, (title, width)) in (0u16..).zip(sheet.columns) {
        ws.write_string_with_format(0, col, *title, &bold)?;
        ws.set_column_width(col, *width)?;
    }
    for (row, line) in (1u32..).zip(&sheet.lines) {
        for (col, value) in (0u16..).zip(line) {
            ws.write_string(row, col, value)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

fn csv_bytes(sheet: &Sheet<'_>) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(sheet.columns.iter().map(|(title, _)| *title))?;
    for line in &sheet.lines {
        w.write_record(line)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
