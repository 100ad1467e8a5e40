//! The coordinator's pages of lecture tours (巡回宣讲) and volunteers (巾帼志愿者).
//!
//! - `/tours`: the tours of the counties where the signed-in person manages tours, and the
//!   新建宣讲 form (the county from a list, its townships as checkboxes, dates and times from
//!   the browser's pickers); `POST /tours` creates a draft and goes to its page.
//! - `/tours/{id}`: the tour by state — a draft asks for a plan, a tour being planned reloads
//!   itself every two seconds, a planned one shows the plan with 重新计算 and 发布, a published
//!   one its sessions and the removal form. The talks show as a table per day and a list per
//!   lecturer with her travel; coverage per township (村村有活动) as a table and a map.
//!   Downloads: the calendar file and the plan as an Excel workbook.
//! - `/volunteers?county=`: the county's volunteers, the add form (the home village from a list
//!   grouped by township, topics as checkboxes) and the CSV import (all rows or none, each bad
//!   line named), with the template and the county's village codes to download.
//!
//! Every step is the program's, run by [`crate::tours::run`]: the same rules and rights as the
//! JSON API. A refusal about a field stands beside it with everything typed kept; a person
//! without rights on the county gets the 403 page that reveals nothing; an unknown tour a
//! Chinese 404. Pages show names, never codes or ids.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate, NaiveTime};
use jinguo_core::org::{OrgCode, OrgLevel, OrgUnit};
use jinguo_store::tours::TourState;
use jinguo_store::{Conn, orgs, people};
use jinguo_tour_program::{
    LineError, NewTour, NewVolunteer, Refusal, Removal, TOPICS, TourLine, TourView, VillageVenue,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::SignedIn;
use crate::dashboard::{Format, Sheet, download};
use crate::extract::{Form, Path};
use crate::page::{Refused, RefusedForm, for_people, message, posted_form, render, signed_in};
use crate::picker::Typed;
use crate::tours::run;
use crate::{ApiError, AppState};

/// The routes of the tour pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tours", get(list).post(create))
        .route("/tours/{id}", get(show))
        .route("/tours/{id}/plan", post(plan))
        .route("/tours/{id}/publish", post(publish))
        .route("/tours/{id}/remove", post(remove))
        .route("/tours/{id}/villages", post(set_villages))
        .route("/tours/{id}/schedule.ics", get(schedule_ics))
        .route("/tours/{id}/plan.xlsx", get(plan_xlsx))
        .route("/volunteers", get(volunteers).post(add_volunteer))
        .route("/volunteers/import", post(import_volunteers))
        .route("/volunteers/template.csv", get(template_csv))
        .route("/volunteers/villages.csv", get(villages_csv))
}

// --- what every page here shares -------------------------------------------------------------

/// The page for a refusal that is not about a field of a form: a 403 that names only the
/// asker's own posts, a 404, a 409 in the program's words; a failure of ours a 5xx with a
/// reference.
async fn refused_page(state: &AppState, person: Uuid, r: Refusal, cannot: &str) -> Response {
    match r {
        Refusal::Forbidden(_) => {
            crate::page::forbidden(
                state,
                person,
                cannot,
                Some("巡回宣讲和巾帼志愿者由所在县（区）妇联的协调员管理；如需开通，请联系县（区）妇联管理员。"),
            )
            .await
        }
        Refusal::NotFound(_) => no_such_tour(),
        Refusal::Conflict(m) => message(StatusCode::CONFLICT, "无法办理", sentence(&m), None),
        Refusal::Invalid { message: m, .. } => message(
            StatusCode::BAD_REQUEST,
            "无法办理",
            sentence(&for_people(&m)),
            None,
        ),
        other => ApiError::from(other).into_response(),
    }
}

/// What a person without rights is told they cannot do on the tour pages.
const CANNOT_TOURS: &str = "您不能查看或管理这项巡回宣讲";
/// … and on the volunteer pages.
const CANNOT_VOLUNTEERS: &str = "您不能管理这个县（区）的巾帼志愿者";

/// `m` ending with a full stop.
fn sentence(m: &str) -> String {
    if m.ends_with(['。', '！', '？']) {
        m.to_owned()
    } else {
        format!("{m}。")
    }
}

fn no_such_tour() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这项宣讲",
        "没有找到这个宣讲活动，请核对链接。".into(),
        Some("可以回到巡回宣讲列表查看您管理的宣讲活动。"),
    )
}

/// A date as typed in a `type=date` field.
fn date_of(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

/// A time as typed in a `type=time` field (`09:00`, or `09:00:00` from some browsers).
fn time_of(raw: &str) -> Option<NaiveTime> {
    let raw = raw.trim();
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
        .ok()
}

/// The villages of `county` that have a place on the map (only those can host or be home to
/// a lecturer), grouped by township: (township, [(code, village)]).
async fn villages_by_township(
    conn: &mut Conn<'_>,
    county: OrgCode,
) -> Result<Vec<(String, Vec<OrgUnit>)>, jinguo_store::StoreError> {
    let townships = orgs::below(conn, county, OrgLevel::Township).await?;
    let villages = orgs::below(conn, county, OrgLevel::Village).await?;
    let mut groups: Vec<(String, Vec<OrgUnit>)> = Vec::new();
    for t in townships {
        let inside: Vec<OrgUnit> = villages
            .iter()
            .filter(|v| v.location.is_some() && v.code.at_level(OrgLevel::Township) == t.code)
            .cloned()
            .collect();
        if !inside.is_empty() {
            groups.push((t.name, inside));
        }
    }
    Ok(groups)
}

// --- /tours ------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "tours/list.html")]
struct ListPage {
    tours: Vec<TourLine>,
    /// The counties where the person manages tours, by name.
    units: String,
    /// (code, name) of those counties, for the form's list.
    counties: Vec<(String, String)>,
    /// The county chosen in the form ("" when none yet).
    county: String,
    county_name: String,
    /// (code, name) of the chosen county's townships.
    townships: Vec<(String, String)>,
    topics: &'static [&'static str],
    csrf: String,
    values: Typed,
    refused: Option<Refused>,
}

impl RefusedForm for ListPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

/// The form's first values: the next Monday for two weeks, mornings and afternoons, 90 minutes.
fn new_tour_defaults(today: NaiveDate) -> Typed {
    let from = today + chrono::Days::new(u64::from(7 - today.weekday().num_days_from_monday()));
    let to = from + chrono::Days::new(11);
    Typed(vec![
        ("from".into(), from.to_string()),
        ("to".into(), to.to_string()),
        ("topic".into(), TOPICS[0].into()),
        ("session_minutes".into(), "90".into()),
        ("sessions_per_village".into(), "1".into()),
        ("day_start".into(), "09:00".into()),
        ("day_end".into(), "17:00".into()),
    ])
}

async fn list_page(
    state: &AppState,
    session: &SignedIn,
    values: Typed,
    refused: Option<Refused>,
) -> Response {
    let person = session.person;
    let wanted = values.get("county").to_owned();
    let loaded = run(state, move |c, _, now| {
        Box::pin(async move {
            let counties = jinguo_tour_program::counties_for(c, person, now).await?;
            let tours = jinguo_tour_program::tours_for(c, person, now).await?;
            let chosen = counties
                .iter()
                .find(|(code, _)| code.as_str() == wanted)
                .or(if counties.len() == 1 {
                    counties.first()
                } else {
                    None
                })
                .cloned();
            let townships = match chosen {
                Some((code, _)) => orgs::below(c, code, OrgLevel::Township).await?,
                None => Vec::new(),
            };
            Ok((counties, tours, chosen, townships))
        })
    })
    .await;
    let (counties, tours, chosen, townships) = match loaded {
        Ok(v) => v,
        Err(e) => return refused_page(state, person, e, CANNOT_TOURS).await,
    };
    if counties.is_empty() {
        return crate::page::forbidden(
            state,
            person,
            "您的岗位不负责巡回宣讲",
            Some("巡回宣讲由县（区）妇联的协调员管理；如需开通，请联系县（区）妇联管理员。"),
        )
        .await;
    }
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    let page = ListPage {
        tours,
        units: counties
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join("、"),
        counties: counties
            .iter()
            .map(|(c, n)| (c.to_string(), n.clone()))
            .collect(),
        county: chosen.as_ref().map(|c| c.0.to_string()).unwrap_or_default(),
        county_name: chosen.map(|c| c.1).unwrap_or_default(),
        townships: townships
            .into_iter()
            .map(|t| (t.code.to_string(), t.name))
            .collect(),
        topics: TOPICS,
        csrf: session.csrf.clone(),
        values,
        refused,
    };
    render(status, &page)
}

/// `GET /tours`: the person's tours and the 新建宣讲 form.
pub(crate) async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let today = jinguo_bus::now()
        .with_timezone(&state.config.calendar.time_zone)
        .date_naive();
    list_page(&state, &session, new_tour_defaults(today), None).await
}

/// The Chinese name of a field of the tour form.
fn tour_label(field: &str) -> &'static str {
    match field {
        "name" => "宣讲名称",
        "county" => "县（区）",
        "townships" => "宣讲范围",
        "from" => "开始日期",
        "to" => "结束日期",
        "topic" => "宣讲主题",
        "session_minutes" => "每场时长",
        "sessions_per_village" => "每村场次",
        "day_start" => "每天开始时间",
        "day_end" => "每天结束时间",
        "villages" => "宣讲村（社区）",
        _ => "填写内容",
    }
}

/// The form as the program's input; what cannot even be read is refused beside its field.
fn new_tour(t: &Typed) -> Result<NewTour, Refused> {
    let date = |field: &'static str| {
        date_of(t.get(field))
            .ok_or_else(|| Refused::at(field, format!("{}：请选择日期", tour_label(field))))
    };
    let number = |field: &'static str, range: &str| {
        t.get(field).trim().parse::<u32>().map_err(|_| {
            Refused::at(
                field,
                format!("{}：请填写 {range} 之间的整数", tour_label(field)),
            )
        })
    };
    let time = |field: &'static str| {
        time_of(t.get(field)).ok_or_else(|| {
            Refused::at(
                field,
                format!("{}：请选择时间，如 09:00", tour_label(field)),
            )
        })
    };
    Ok(NewTour {
        name: t.get("name").to_owned(),
        county: t.get("county").to_owned(),
        townships: t.all("townships").map(str::to_owned).collect(),
        from: date("from")?,
        to: date("to")?,
        weekends: t.has("weekends", "1"),
        topic: t.get("topic").to_owned(),
        session_minutes: number("session_minutes", "15 到 240")?,
        sessions_per_village: number("sessions_per_village", "1 到 10")?,
        day_start: time("day_start")?,
        day_end: time("day_end")?,
        villages: Vec::new(),
    })
}

/// `POST /tours`: a step of the township list (`step=pick`: the form again for the county
/// chosen), or the tour; on success its page.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if typed.is_picker_step() {
        return list_page(&state, &session, typed, None).await;
    }
    let input = match new_tour(&typed) {
        Ok(t) => t,
        Err(refused) => return list_page(&state, &session, typed, Some(refused)).await,
    };
    let person = session.person;
    let created = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::create_tour(c, person, &input, now).await })
    })
    .await;
    let refused = match created {
        Ok(row) => return Redirect::to(&format!("/tours/{}", row.id)).into_response(),
        Err(Refusal::Invalid { field, message }) => Refused {
            field: (field != "villages").then_some(field),
            message: format!("{}：{}", tour_label(field), for_people(&message)),
            status: StatusCode::BAD_REQUEST,
        },
        Err(Refusal::Forbidden(_)) => Refused {
            field: Some("county"),
            message: "县（区）：您不能在这个县（区）创建宣讲活动".into(),
            status: StatusCode::FORBIDDEN,
        },
        Err(other) => return refused_page(&state, person, other, CANNOT_TOURS).await,
    };
    list_page(&state, &session, typed, Some(refused)).await
}

// --- /tours/{id} -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "tours/show.html")]
struct ShowPage {
    view: TourView,
    /// The coverage map (an SVG element, names escaped by the program).
    map: String,
    csrf: String,
    /// What the last step did, said once after its redirect.
    done: Option<String>,
    refused: Option<Refused>,
    /// The removal or village form as typed.
    values: Typed,
    /// How long the worker may take, in seconds, for the planning notice.
    plan_seconds: u64,
    venues: &'static [&'static str],
}

impl RefusedForm for ShowPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }

    fn error_ids(&self) -> Option<&'static str> {
        Some("remove")
    }
}

impl ShowPage {
    /// Whether the village form came back refused: then it shows what was typed.
    fn villages_typed(&self) -> bool {
        self.values.get("villages_form") == "1"
    }

    fn ticked(&self, v: &jinguo_tour_program::VillageChoice) -> bool {
        if self.villages_typed() {
            self.values.all("v").any(|c| c == v.code)
        } else {
            v.chosen
        }
    }

    fn venue_of(&self, v: &jinguo_tour_program::VillageChoice) -> String {
        let typed = self.values.get(&format!("venue-{}", v.code));
        if self.villages_typed() && !typed.is_empty() {
            typed.to_owned()
        } else {
            v.venue.to_owned()
        }
    }

    fn capacity_of(&self, v: &jinguo_tour_program::VillageChoice) -> String {
        if self.villages_typed() {
            self.values.get(&format!("capacity-{}", v.code)).to_owned()
        } else {
            v.capacity.map(|c| c.to_string()).unwrap_or_default()
        }
    }

    fn draft(&self) -> bool {
        self.view.state == TourState::Draft
    }

    fn planning(&self) -> bool {
        self.view.state == TourState::Planning
    }

    fn planned(&self) -> bool {
        self.view.state == TourState::Planned
    }

    fn published(&self) -> bool {
        self.view.state == TourState::Published
    }

    /// How many talks the plan or the sessions hold.
    fn talks(&self) -> usize {
        self.view.days.iter().map(|d| d.talks.len()).sum()
    }
}

#[derive(Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    moved: Option<String>,
    #[serde(default)]
    cancelled: Option<String>,
    #[serde(default)]
    villages: Option<String>,
    #[serde(default)]
    excluded: Option<String>,
}

impl ShowQuery {
    /// What the step before the redirect did, in a sentence.
    fn done(&self) -> Option<String> {
        if let Some(n) = &self.villages {
            return Some(format!(
                "已保存：宣讲 {n} 个村（社区）及其场所，请重新计算安排。"
            ));
        }
        if self.excluded.is_some() {
            return Some("已记下：计算安排时不再安排这位讲师或这一天。请重新计算安排。".into());
        }
        if self.published.is_some() {
            return Some("已发布：每位讲师和每个村（社区）都已收到通知和日历文件，宣讲前一个工作日会收到提醒。".into());
        }
        let count = |v: &Option<String>| v.as_deref().and_then(|n| n.parse::<u32>().ok());
        match (count(&self.moved), count(&self.cancelled)) {
            (Some(0), Some(0)) => Some("已调整：没有受影响的场次。".into()),
            (Some(m), Some(c)) => Some(format!(
                "已调整：{m} 场改由其他讲师承担，{c} 场暂未能安排。受影响的讲师和村（社区）已收到通知。"
            )),
            _ => None,
        }
    }
}

async fn show_page(
    state: &AppState,
    session: &SignedIn,
    id: Uuid,
    done: Option<String>,
    refused: Option<Refused>,
    values: Typed,
) -> Response {
    let person = session.person;
    let loaded = run(state, move |c, s, now| {
        Box::pin(async move { jinguo_tour_program::tour_view(c, s, person, id, now).await })
    })
    .await;
    let view = match loaded {
        Ok(v) => v,
        Err(r) => return refused_page(state, person, r, CANNOT_TOURS).await,
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    let page = ShowPage {
        map: jinguo_tour_program::map_svg(&view.points),
        view,
        csrf: session.csrf.clone(),
        done,
        refused,
        values,
        plan_seconds: state.tours().plan_time_limit.as_secs().max(1),
        venues: jinguo_tour_program::VENUES,
    };
    render(status, &page)
}

/// `GET /tours/{id}`: the tour, its plan or sessions, coverage and map.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    show_page(&state, &session, id, q.done(), None, Typed::default()).await
}

/// A step's refusal: a conflict with the tour's state shown above the tour's page (409),
/// anything else as its own page.
async fn after_step(
    state: &AppState,
    session: &SignedIn,
    id: Uuid,
    r: Refusal,
    values: Typed,
) -> Response {
    match r {
        Refusal::Conflict(m) => {
            show_page(
                state,
                session,
                id,
                None,
                Some(Refused::above(sentence(&m))),
                values,
            )
            .await
        }
        Refusal::Invalid { field, message } => {
            let field = match field {
                "volunteer" => "volunteer",
                "day" => "day",
                _ => {
                    return show_page(
                        state,
                        session,
                        id,
                        None,
                        Some(Refused::above(sentence(&for_people(&message)))),
                        values,
                    )
                    .await;
                }
            };
            let label = if field == "day" { "日期" } else { "讲师" };
            let refused = Refused::at(field, format!("{label}：{}", for_people(&message)));
            show_page(state, session, id, None, Some(refused), values).await
        }
        other => refused_page(state, session.person, other, CANNOT_TOURS).await,
    }
}

/// `POST /tours/{id}/plan`: the worker computes a plan (计算安排, 重新计算); back to the tour.
pub(crate) async fn plan(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, _) = match posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let person = session.person;
    let asked = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::request_plan(c, person, id, now).await })
    })
    .await;
    match asked {
        Ok(_) => Redirect::to(&format!("/tours/{id}")).into_response(),
        Err(r) => after_step(&state, &session, id, r, Typed::default()).await,
    }
}

/// `POST /tours/{id}/publish`: sessions, mails with calendar files, reminders; back to the
/// tour, which says so.
pub(crate) async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, _) = match posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let person = session.person;
    let published = run(&state, move |c, s, now| {
        Box::pin(async move { jinguo_tour_program::publish(c, s, person, id, now).await })
    })
    .await;
    match published {
        Ok(_) => Redirect::to(&format!("/tours/{id}?published=1")).into_response(),
        Err(r) => after_step(&state, &session, id, r, Typed::default()).await,
    }
}

/// The removal form as the program's input.
fn removal_of(t: &Typed) -> Result<Removal, Refused> {
    let volunteer = match t.get("volunteer").trim() {
        "" => None,
        raw => Some(
            raw.parse::<Uuid>()
                .map_err(|_| Refused::at("volunteer", "讲师：请从列表中选择"))?,
        ),
    };
    let day = match t.get("day").trim() {
        "" => None,
        raw => Some(date_of(raw).ok_or_else(|| Refused::at("day", "日期：请从列表中选择"))?),
    };
    Ok(Removal { volunteer, day })
}

/// `POST /tours/{id}/remove`: takes a lecturer, a day, or a lecturer on a day out of the
/// tour; the program repairs a published one and tells the people touched, or leaves them out
/// of the next plan.
pub(crate) async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let removal = match removal_of(&typed) {
        Ok(r) => r,
        Err(refused) => return show_page(&state, &session, id, None, Some(refused), typed).await,
    };
    let person = session.person;
    let repaired = run(&state, move |c, s, now| {
        Box::pin(async move { jinguo_tour_program::remove(c, s, person, id, removal, now).await })
    })
    .await;
    match repaired {
        Ok(r) if r.replan => {
            Redirect::to(&format!("/tours/{id}?excluded=1#adjust")).into_response()
        }
        Ok(r) => Redirect::to(&format!(
            "/tours/{id}?moved={}&cancelled={}#adjust",
            r.moved, r.cancelled
        ))
        .into_response(),
        Err(r) => after_step(&state, &session, id, r, typed).await,
    }
}

/// The village form as the program's input: every ticked village (`v`) with its venue
/// (`venue-<code>`) and capacity (`capacity-<code>`, empty for none).
fn villages_of(t: &Typed) -> Result<Vec<VillageVenue>, Refused> {
    t.all("v")
        .map(|code| {
            let capacity = match t.get(&format!("capacity-{code}")).trim() {
                "" => None,
                raw => Some(
                    raw.parse::<u32>()
                        .map_err(|_| Refused::at("villages", "容纳人数：请填写整数，或留空"))?,
                ),
            };
            Ok(VillageVenue {
                code: code.to_owned(),
                venue: Some(t.get(&format!("venue-{code}")).to_owned()),
                capacity,
            })
        })
        .collect()
}

/// `POST /tours/{id}/villages`: the villages the tour covers, each with its venue and
/// capacity (before publishing; a computed plan is dropped).
pub(crate) async fn set_villages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let villages = match villages_of(&typed) {
        Ok(v) => v,
        Err(refused) => return show_page(&state, &session, id, None, Some(refused), typed).await,
    };
    let person = session.person;
    let set = run(&state, move |c, _, now| {
        Box::pin(
            async move { jinguo_tour_program::set_villages(c, person, id, &villages, now).await },
        )
    })
    .await;
    match set {
        Ok(_) => Redirect::to(&format!(
            "/tours/{id}?villages={}#villages",
            typed.all("v").count()
        ))
        .into_response(),
        Err(Refusal::Invalid { field, message }) => {
            let refused = Refused::at(field, format!("村（社区）：{}", for_people(&message)));
            show_page(&state, &session, id, None, Some(refused), typed).await
        }
        Err(r) => after_step(&state, &session, id, r, typed).await,
    }
}

/// `GET /tours/{id}/schedule.ics`: the talks still on, as one calendar file (the page's twin of
/// the API's).
pub(crate) async fn schedule_ics(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let person = session.person;
    let body = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::schedule_ics(c, person, id, now).await })
    })
    .await;
    match body {
        Ok(body) => crate::tours::calendar_response(body),
        Err(r) => refused_page(&state, person, r, CANNOT_TOURS).await,
    }
}

/// The columns of the plan's workbook (title, width).
const PLAN_COLUMNS: [(&str, f64); 7] = [
    ("日期", 16.0),
    ("时间", 14.0),
    ("乡镇村", 28.0),
    ("场所", 18.0),
    ("主讲", 12.0),
    ("状态", 10.0),
    ("到场人数", 10.0),
];

/// `GET /tours/{id}/plan.xlsx`: the plan (or the sessions, once published) as a workbook.
pub(crate) async fn plan_xlsx(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let person = session.person;
    let loaded = run(&state, move |c, s, now| {
        Box::pin(async move { jinguo_tour_program::tour_view(c, s, person, id, now).await })
    })
    .await;
    let view = match loaded {
        Ok(v) => v,
        Err(r) => return refused_page(&state, person, r, CANNOT_TOURS).await,
    };
    let lines = view
        .days
        .iter()
        .flat_map(|d| &d.talks)
        .map(|t| {
            vec![
                t.date.format("%Y-%m-%d").to_string(),
                t.time.clone(),
                t.village.clone(),
                t.venue.clone(),
                t.lecturer.clone(),
                t.state.to_owned(),
                t.women.map(|w| w.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    let sheet = Sheet {
        name: "宣讲安排",
        columns: &PLAN_COLUMNS,
        lines,
    };
    download(
        &sheet,
        Format::Xlsx,
        &format!("{}宣讲安排", view.name),
        "tour-plan",
    )
}

// --- /volunteers -------------------------------------------------------------------------------

/// A volunteer as the list shows her.
struct VolunteerLine {
    name: String,
    /// "某某镇某某村".
    village: String,
    topics: String,
    max_per_day: u32,
    /// When she can come: "2026-12-01 至 2027-01-31", "不限".
    dates: String,
    /// The days she cannot, joined with 、, or "无".
    unavailable: String,
}

/// One group of the home village list.
struct VillageGroup {
    township: String,
    /// (code, name)
    villages: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "tours/volunteers.html")]
struct VolunteersPage {
    county: String,
    county_name: String,
    /// The other counties where the person manages volunteers: (code, name).
    others: Vec<(String, String)>,
    volunteers: Vec<VolunteerLine>,
    villages: Vec<VillageGroup>,
    topics: &'static [&'static str],
    csrf: String,
    values: Typed,
    refused: Option<Refused>,
    /// The pasted CSV, kept when refused.
    import_text: String,
    /// Each bad line of the last import, in words.
    import_errors: Vec<String>,
    /// What the last step did.
    done: Option<String>,
}

impl RefusedForm for VolunteersPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }

    fn error_ids(&self) -> Option<&'static str> {
        Some("add")
    }
}

impl VolunteersPage {
    fn title(&self) -> &'static str {
        if self.refused.is_some() || !self.import_errors.is_empty() {
            "提交未成功 · 巾帼志愿者"
        } else {
            "巾帼志愿者"
        }
    }
}

/// What the volunteers page shows besides its lists.
#[derive(Default)]
struct Shown {
    values: Typed,
    refused: Option<Refused>,
    import_text: String,
    import_errors: Vec<String>,
    /// The volunteer just added (her name is said if she is in the list).
    added: Option<Uuid>,
    imported: Option<usize>,
}

fn dates_label(from: Option<NaiveDate>, to: Option<NaiveDate>) -> String {
    match (from, to) {
        (None, None) => "不限".into(),
        (Some(f), Some(t)) => format!("{f} 至 {t}"),
        (Some(f), None) => format!("{f} 起"),
        (None, Some(t)) => format!("{t} 前"),
    }
}

/// Where volunteers are kept, from the `county` of a query or a form: a county, or the
/// township of a township's coordinator (the parameter keeps its first name so that links
/// stay valid).
fn volunteer_unit_of(raw: &str) -> Option<OrgCode> {
    OrgCode::parse(raw.trim())
        .ok()
        .filter(|c| matches!(c.level(), OrgLevel::County | OrgLevel::Township))
}

/// The page for a code that is neither a county nor a township.
fn no_such_unit() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这个地区",
        "没有找到这个县（区）或乡镇（街道），请从工作台进入巾帼志愿者页面。".into(),
        None,
    )
}

async fn volunteers_page(
    state: &AppState,
    session: &SignedIn,
    county: Option<OrgCode>,
    shown: Shown,
) -> Response {
    let person = session.person;
    let loaded = run(state, move |c, _, now| {
        Box::pin(async move {
            let counties = jinguo_tour_program::volunteer_scopes(c, person, now).await?;
            let county = match county.or_else(|| counties.first().map(|(code, _)| *code)) {
                Some(code) => code,
                None => {
                    return Err(Refusal::Forbidden(jinguo_tour_program::MANAGE_VOLUNTEERS));
                }
            };
            let rows = jinguo_tour_program::volunteers_of(c, person, county, now).await?;
            let groups = villages_by_township(c, county).await?;
            let mut names = std::collections::HashMap::new();
            for (town, villages) in &groups {
                for v in villages {
                    names.insert(v.code, format!("{town}{}", v.name));
                }
            }
            let mut lines = Vec::new();
            let mut added = None;
            for v in rows {
                let name = people::display_name(c, v.person_id).await?;
                if shown.added == Some(v.person_id) {
                    added = Some(name.clone());
                }
                lines.push(VolunteerLine {
                    village: names.get(&v.home_village).cloned().unwrap_or_default(),
                    topics: v.topics.join("、"),
                    max_per_day: v.max_per_day,
                    dates: dates_label(v.available_from, v.available_to),
                    unavailable: if v.unavailable.is_empty() {
                        "无".into()
                    } else {
                        v.unavailable
                            .iter()
                            .map(NaiveDate::to_string)
                            .collect::<Vec<_>>()
                            .join("、")
                    },
                    name,
                });
            }
            lines.sort_by(|a, b| a.name.cmp(&b.name));
            let county_name = orgs::names(c, &[county])
                .await?
                .remove(&county)
                .unwrap_or_default();
            Ok((county, county_name, counties, lines, groups, added))
        })
    })
    .await;
    let (county, county_name, counties, volunteers, groups, added) = match loaded {
        Ok(v) => v,
        Err(r) => return refused_page(state, person, r, CANNOT_VOLUNTEERS).await,
    };
    let done = match (added, shown.imported) {
        (Some(name), _) => Some(format!(
            "已登记志愿者{name}。她可以被安排到{county_name}的巡回宣讲。"
        )),
        (None, Some(n)) => Some(format!("导入完成：登记志愿者 {n} 名。")),
        _ => None,
    };
    let status = shown.refused.as_ref().map_or(
        if shown.import_errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        |r| r.status,
    );
    let mut values = shown.values;
    if values.get("max_per_day").is_empty() && shown.refused.is_none() {
        values.0.push(("max_per_day".into(), "2".into()));
    }
    let page = VolunteersPage {
        county: county.to_string(),
        county_name,
        others: counties
            .into_iter()
            .filter(|(c, _)| *c != county)
            .map(|(c, n)| (c.to_string(), n))
            .collect(),
        volunteers,
        villages: groups
            .into_iter()
            .map(|(township, villages)| VillageGroup {
                township,
                villages: villages
                    .into_iter()
                    .map(|v| (v.code.to_string(), v.name))
                    .collect(),
            })
            .collect(),
        topics: TOPICS,
        csrf: session.csrf.clone(),
        values,
        refused: shown.refused,
        import_text: shown.import_text,
        import_errors: shown.import_errors,
        done,
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub(crate) struct VolunteersQuery {
    #[serde(default)]
    county: Option<String>,
    #[serde(default)]
    added: Option<String>,
    #[serde(default)]
    imported: Option<String>,
}

/// `GET /volunteers[?county=]`: the county's volunteers (the person's first county when none
/// is named), the add form and the import.
pub(crate) async fn volunteers(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<VolunteersQuery>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let county = match q.county.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(raw) => match volunteer_unit_of(raw) {
            Some(c) => Some(c),
            None => return no_such_unit(),
        },
        None => None,
    };
    let shown = Shown {
        added: q.added.and_then(|a| a.parse().ok()),
        imported: q.imported.and_then(|n| n.parse().ok()),
        ..Shown::default()
    };
    volunteers_page(&state, &session, county, shown).await
}

/// The Chinese name of a field of the volunteer form.
fn volunteer_label(field: &str) -> &'static str {
    match field {
        "name" => "姓名",
        "email" => "邮箱",
        "phone" => "手机号",
        "home_village" => "居住的村（社区）",
        "topics" => "宣讲主题",
        "max_per_day" => "每天最多场次",
        "available_from" => "可宣讲开始日期",
        "available_to" => "可宣讲结束日期",
        "unavailable" => "不能宣讲的日期",
        _ => "填写内容",
    }
}

/// The dates typed as "2026-12-25、2026-12-26" (or separated by commas, semicolons or spaces).
fn dates_typed(raw: &str) -> Result<Vec<NaiveDate>, String> {
    raw.split(['、', ',', '，', ';', '；', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| date_of(d).ok_or_else(|| format!("“{d}”不是日期，请写作 2026-12-25")))
        .collect()
}

/// The add form as the program's input; what cannot even be read is refused beside its field.
fn new_volunteer(t: &Typed) -> Result<NewVolunteer, Refused> {
    let optional_date = |field: &'static str| match t.get(field).trim() {
        "" => Ok(None),
        raw => date_of(raw)
            .map(Some)
            .ok_or_else(|| Refused::at(field, format!("{}：请选择日期", volunteer_label(field)))),
    };
    Ok(NewVolunteer {
        name: t.get("name").to_owned(),
        email: t.get("email").trim().to_owned(),
        phone: t.optional("phone"),
        home_village: t.get("home_village").to_owned(),
        topics: t.all("topics").map(str::to_owned).collect(),
        max_per_day: t
            .get("max_per_day")
            .trim()
            .parse()
            .map_err(|_| Refused::at("max_per_day", "每天最多场次：请填写 1 到 6 之间的整数"))?,
        available_from: optional_date("available_from")?,
        available_to: optional_date("available_to")?,
        unavailable: dates_typed(t.get("unavailable")).map_err(|m| {
            Refused::at(
                "unavailable",
                format!("{}：{m}", volunteer_label("unavailable")),
            )
        })?,
    })
}

/// `POST /volunteers`: adds one volunteer; then the list says who was added.
pub(crate) async fn add_volunteer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let Some(county) = volunteer_unit_of(typed.get("county")) else {
        return no_such_unit();
    };
    let input = match new_volunteer(&typed) {
        Ok(v) => v,
        Err(refused) => {
            let shown = Shown {
                values: typed,
                refused: Some(refused),
                ..Shown::default()
            };
            return volunteers_page(&state, &session, Some(county), shown).await;
        }
    };
    let person = session.person;
    let added = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::add_volunteer(c, person, &input, now).await })
    })
    .await;
    let refused = match added {
        Ok(row) => {
            return Redirect::to(&format!(
                "/volunteers?county={county}&added={}#list",
                row.person_id
            ))
            .into_response();
        }
        Err(Refusal::Invalid { field, message }) => Refused::at(
            field,
            format!("{}：{}", volunteer_label(field), for_people(&message)),
        ),
        Err(Refusal::Forbidden(_)) => Refused {
            field: Some("home_village"),
            message: "居住的村（社区）：您不能为这个村（社区）登记志愿者".into(),
            status: StatusCode::FORBIDDEN,
        },
        Err(other) => return refused_page(&state, person, other, CANNOT_VOLUNTEERS).await,
    };
    let shown = Shown {
        values: typed,
        refused: Some(refused),
        ..Shown::default()
    };
    volunteers_page(&state, &session, Some(county), shown).await
}

/// A bad line of an import, as the page says it: "第 3 行 邮箱：不是有效的邮箱地址".
fn line_said(l: &LineError) -> String {
    let message = if l.message.starts_with("无法读取") {
        "无法读取这一行，请检查逗号和引号".to_owned()
    } else {
        l.message.clone()
    };
    if l.field.is_empty() {
        format!("第 {} 行：{message}", l.line)
    } else {
        format!("第 {} 行 {}：{message}", l.line, l.field)
    }
}

/// `POST /volunteers/import`: the pasted CSV (the template's columns), all rows or none.
pub(crate) async fn import_volunteers(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let Some(county) = volunteer_unit_of(typed.get("county")) else {
        return no_such_unit();
    };
    let text = typed.get("csv").to_owned();
    let person = session.person;
    let body = text.clone();
    let imported = run(&state, move |c, _, now| {
        Box::pin(async move { jinguo_tour_program::import_volunteers(c, person, &body, now).await })
    })
    .await;
    let errors = match imported {
        Ok(n) => {
            return Redirect::to(&format!("/volunteers?county={county}&imported={n}#import"))
                .into_response();
        }
        Err(Refusal::Lines(lines)) => lines.iter().map(line_said).collect(),
        Err(Refusal::Invalid { message, .. }) => vec![sentence(&for_people(&message))],
        Err(other) => return refused_page(&state, person, other, CANNOT_VOLUNTEERS).await,
    };
    let shown = Shown {
        import_text: text,
        import_errors: errors,
        ..Shown::default()
    };
    volunteers_page(&state, &session, Some(county), shown).await
}

#[derive(Deserialize)]
pub(crate) struct CountyQuery {
    #[serde(default)]
    county: Option<String>,
}

/// A CSV download: UTF-8 with a byte order mark (so that Excel reads the Chinese), attached.
fn csv_attachment(body: String, fallback: &str, encoded: &str) -> Response {
    let disposition =
        format!("attachment; filename=\"{fallback}.csv\"; filename*=UTF-8''{encoded}.csv");
    let mut response = format!("\u{feff}{body}").into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `GET /volunteers/template.csv[?county=]`: the import template, its example living in a
/// village of the county.
pub(crate) async fn template_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CountyQuery>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let county = q
        .county
        .as_deref()
        .and_then(volunteer_unit_of)
        .unwrap_or_else(|| OrgCode::parse("620122000000").expect("a county code"));
    let example = state
        .store
        .read(move |c| Box::pin(async move { villages_by_township(c, county).await }))
        .await;
    let example = match example {
        Ok(groups) => groups
            .into_iter()
            .flat_map(|(_, v)| v)
            .next()
            .map(|v| v.code),
        Err(e) => return refused_page(&state, session.person, e.into(), CANNOT_VOLUNTEERS).await,
    };
    let example =
        example.unwrap_or_else(|| OrgCode::parse("620122100201").expect("a village code"));
    csv_attachment(
        jinguo_tour_program::csv_template(example)
            .trim_start_matches('\u{feff}')
            .to_owned(),
        "volunteers-template",
        // 志愿者导入模板
        "%E5%BF%97%E6%84%BF%E8%80%85%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF",
    )
}

/// `GET /volunteers/villages.csv?county=`: the county's villages with their codes, for the
/// import's 居住村代码 column.
pub(crate) async fn villages_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CountyQuery>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let Some(county) = volunteer_unit_of(q.county.as_deref().unwrap_or("")) else {
        return no_such_unit();
    };
    let groups = state
        .store
        .read(move |c| Box::pin(async move { villages_by_township(c, county).await }))
        .await;
    let groups = match groups {
        Ok(g) => g,
        Err(e) => return refused_page(&state, session.person, e.into(), CANNOT_VOLUNTEERS).await,
    };
    let lines = groups
        .into_iter()
        .flat_map(|(town, villages)| {
            villages
                .into_iter()
                .map(move |v| vec![town.clone(), v.name, v.code.to_string()])
        })
        .collect();
    let sheet = Sheet {
        name: "村（社区）代码",
        columns: &[
            ("乡镇（街道）", 16.0),
            ("村（社区）", 20.0),
            ("居住村代码", 16.0),
        ],
        lines,
    };
    download(&sheet, Format::Csv, "村（社区）代码", "villages")
}

// --- the 工作台 tile ---------------------------------------------------------------------------

/// The 宣讲 tile of the workbench: for someone who manages tours, the counties by name (her
/// tile links to 巡回宣讲 and 巾帼志愿者); for a township's coordinator who keeps volunteers
/// only, her townships (the tile links to 巾帼志愿者 alone). `None` for everyone else.
pub(crate) struct Tile {
    pub units: String,
    pub tours: bool,
}

/// The [`Tile`] `person` sees, if any.
pub(crate) async fn tile(state: &AppState, person: Uuid) -> Result<Option<Tile>, Response> {
    let (counties, scopes) = run(state, move |c, _, now| {
        Box::pin(async move {
            let counties = jinguo_tour_program::counties_for(c, person, now).await?;
            let scopes = jinguo_tour_program::volunteer_scopes(c, person, now).await?;
            Ok((counties, scopes))
        })
    })
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    let names = |units: Vec<(OrgCode, String)>| {
        units
            .into_iter()
            .map(|(_, n)| n)
            .collect::<Vec<_>>()
            .join("、")
    };
    Ok(if !counties.is_empty() {
        Some(Tile {
            units: names(counties),
            tours: true,
        })
    } else if !scopes.is_empty() {
        Some(Tile {
            units: names(scopes),
            tours: false,
        })
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_dates_are_read_with_any_separator() {
        assert_eq!(
            dates_typed("2026-12-25、2026-12-26，2026-12-27").unwrap(),
            [
                NaiveDate::from_ymd_opt(2026, 12, 25).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 26).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 27).unwrap(),
            ]
        );
        assert_eq!(dates_typed("  ").unwrap(), []);
        assert_eq!(
            dates_typed("2026-12-25、12月26日").unwrap_err(),
            "“12月26日”不是日期，请写作 2026-12-25"
        );
    }

    #[test]
    fn a_bad_time_is_refused_beside_its_field() {
        let t = Typed::of(&[
            ("from", "2026-12-07"),
            ("to", "2026-12-18"),
            ("session_minutes", "90"),
            ("sessions_per_village", "1"),
            ("day_start", "9点"),
            ("day_end", "17:00:00"),
        ]);
        let r = new_tour(&t).unwrap_err();
        assert_eq!(r.field, Some("day_start"));
        assert_eq!(r.message, "每天开始时间：请选择时间，如 09:00");
    }

    #[test]
    fn the_form_starts_on_the_next_monday() {
        let sunday = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let t = new_tour_defaults(sunday);
        assert_eq!(t.get("from"), "2026-12-07");
        assert_eq!(t.get("to"), "2026-12-18");
        let monday = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(new_tour_defaults(monday).get("from"), "2026-12-14");
    }

    #[test]
    fn a_removal_names_a_lecturer_or_a_day() {
        let Ok(r) = removal_of(&Typed::of(&[("volunteer", ""), ("day", "2026-12-08")])) else {
            panic!("a day alone is a removal");
        };
        assert_eq!(r.volunteer, None);
        assert_eq!(r.day, NaiveDate::from_ymd_opt(2026, 12, 8));
        let r = removal_of(&Typed::of(&[("volunteer", "someone"), ("day", "")])).unwrap_err();
        assert_eq!(r.field, Some("volunteer"));
    }

    #[test]
    fn a_bad_line_is_said_with_its_column() {
        let l = LineError {
            line: 3,
            field: "邮箱",
            message: "不是有效的邮箱地址".into(),
        };
        assert_eq!(line_said(&l), "第 3 行 邮箱：不是有效的邮箱地址");
    }
}
