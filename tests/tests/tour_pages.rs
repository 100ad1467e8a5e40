//! The coordinator's pages of 巡回宣讲, as a phone user meets them: volunteers added from a
//! form and imported from the page's template (all rows or none, each bad line named), a tour
//! created from a form (a refusal beside its field, everything typed kept), its plan computed
//! by the worker while the page refreshes itself, shown with names (never codes or ids),
//! published, downloaded as a calendar and a workbook; a coordinator of another county is
//! refused, an unknown tour is a Chinese 404, and the 工作台 leads here.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{Datelike, Days, NaiveDate};
use jinguo_tests::page_text::{has_digit_run, has_uuid, text_of};
use jinguo_tests::{Backend, TestApp, TestBus, add_staff, eventually, session, test_config};
use uuid::Uuid;

/// 皋兰县, its 石洞镇 and 什川镇, and villages in them.
const COUNTY: &str = "620122000000";
const SHIDONG: &str = "620122100000";
const SHICHUAN: &str = "620122103000";
const ZHUANGZIPING: &str = "620122100201";
const DONGWAN: &str = "620122100202";
const SHANGCHE: &str = "620122103201";

/// The tours' first day: the Monday at least a fortnight after today in Shanghai, so that the
/// dates stay ahead of the clock whenever the tests run.
static MONDAY: LazyLock<NaiveDate> = LazyLock::new(|| {
    let soon = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        + Days::new(14);
    soon + Days::new(u64::from((7 - soon.weekday().num_days_from_monday()) % 7))
});

/// The day `n` days after [`MONDAY`], as a form sends it.
fn day(n: u64) -> &'static str {
    static DAYS: LazyLock<Vec<String>> = LazyLock::new(|| {
        (0..14)
            .map(|n| (*MONDAY + Days::new(n)).to_string())
            .collect()
    });
    &DAYS[n as usize]
}

fn label(n: u64) -> String {
    jinguo_tour_program::day_label(*MONDAY + Days::new(n))
}

/// A signed-in person with a browser that keeps no cookies and follows no redirects.
struct Coordinator {
    person: Uuid,
    cookie: String,
    csrf: String,
    client: reqwest::Client,
    base: String,
}

impl Coordinator {
    async fn at(app: &TestApp, email: &str, name: &str, org: &str) -> Coordinator {
        let id = add_staff(&app.store, email, name, "coordinator", org).await;
        let (cookie, csrf) = session(&app.store, id).await;
        Coordinator {
            person: id,
            cookie,
            csrf,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base_url.clone(),
        }
    }

    async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self.get_raw(path).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts `form` with the session's CSRF value: status, Location, page.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let mut body = vec![("csrf", self.csrf.as_str())];
        body.extend_from_slice(form);
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(&body)
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), location, r.text().await.unwrap())
    }
}

/// The page shows names only: no org code, no id.
fn assert_names_only(page: &str) {
    let text = text_of(page);
    assert!(
        !has_digit_run(&text, 12),
        "a code in the visible text: {text}"
    );
    assert!(!has_uuid(&text), "an id in the visible text: {text}");
}

/// The CSV header the template has, and rows after it.
fn csv(rows: &[&str]) -> String {
    let mut text = "姓名,邮箱,手机,居住村代码,宣讲主题,每日最多场次,可宣讲开始日期,可宣讲结束日期,不可宣讲日期\n".to_owned();
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    text
}

async fn volunteer_count(app: &TestApp) -> usize {
    let county = jinguo_core::org::OrgCode::parse(COUNTY).unwrap();
    app.store
        .read(move |c| Box::pin(async move { jinguo_store::tours::volunteers_of(c, county).await }))
        .await
        .unwrap()
        .len()
}

/// A volunteer is added from the form (a refusal first, beside its field, with what was typed
/// kept), a CSV with one bad line names it and keeps nothing, the corrected CSV is imported,
/// and the list shows names and villages, never codes.
async fn a_coordinator_registers_volunteers_by_form_and_by_csv(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let me = Coordinator::at(&app, "coord@example.cn", "县协调员", "620122").await;

    let (status, page) = me.get("/volunteers").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("巾帼志愿者 · 皋兰县"), "{page}");
    assert!(page.contains("<optgroup label=\"石洞镇\">"), "{page}");
    assert!(
        page.contains(&format!(
            "<option value=\"{ZHUANGZIPING}\">庄子坪村委会</option>"
        )),
        "villages are offered by name: {page}"
    );
    assert_names_only(&page);

    // No topic ticked: refused beside the topics, everything typed kept.
    let form = [
        ("county", COUNTY),
        ("name", "李梅"),
        ("email", "limei@example.cn"),
        ("phone", ""),
        ("home_village", ZHUANGZIPING),
        ("max_per_day", "3"),
        ("available_from", "2026-12-01"),
        ("available_to", "2027-01-31"),
        ("unavailable", "2026-12-25、2026-12-26"),
    ];
    let (status, _, page) = me.post("/volunteers", &form).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("<title>提交未成功"), "{page}");
    assert!(
        page.contains("id=\"add-topics-error\" role=\"alert\">宣讲主题：请至少选择一个宣讲主题"),
        "{page}"
    );
    assert!(page.contains("value=\"李梅\"") && page.contains("value=\"limei@example.cn\""));
    assert!(page.contains(&format!("<option value=\"{ZHUANGZIPING}\" selected>")));
    assert!(page.contains("value=\"2026-12-25、2026-12-26\""));
    assert_eq!(volunteer_count(&app).await, 0);

    // A date that is not one: beside its field.
    let mut bad = form.to_vec();
    bad.push(("topics", "家风家教"));
    bad.retain(|(k, _)| *k != "unavailable");
    bad.push(("unavailable", "12月25日"));
    let (status, _, page) = me.post("/volunteers", &bad).await;
    assert_eq!(status, 400);
    assert!(
        page.contains(
            "id=\"add-unavailable-error\" role=\"alert\">不能宣讲的日期：“12月25日”不是日期"
        ),
        "{page}"
    );
    assert!(
        page.contains("value=\"家风家教\" checked"),
        "the topic ticked is kept"
    );

    let mut good = form.to_vec();
    good.push(("topics", "家风家教"));
    good.push(("topics", "法律宣传"));
    let (status, location, _) = me.post("/volunteers", &good).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/volunteers?county=620122000000&added="));
    let (_, page) = me.get(&location).await;
    assert!(page.contains("已登记志愿者李梅"), "{page}");
    assert!(page.contains("石洞镇庄子坪村委会"), "{page}");
    assert!(page.contains("家风家教、法律宣传"), "{page}");
    assert!(page.contains("2026-12-25、2026-12-26"), "{page}");
    assert_names_only(&page);
    assert_eq!(volunteer_count(&app).await, 1);

    // The same email again: refused beside it.
    let (status, _, page) = me.post("/volunteers", &good).await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"add-email-error\""), "{page}");

    // The template: its header is the import's.
    let r = me
        .get_raw("/volunteers/template.csv?county=620122000000")
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let template = r.bytes().await.unwrap();
    assert!(
        template.starts_with(b"\xEF\xBB\xBF"),
        "a byte order mark for Excel"
    );
    let template = String::from_utf8(template.to_vec()).unwrap();
    assert!(template.contains("姓名,邮箱,手机,居住村代码"), "{template}");
    let r = me
        .get_raw("/volunteers/villages.csv?county=620122000000")
        .await;
    assert_eq!(r.status(), 200);
    let codes = r.text().await.unwrap();
    assert!(
        codes.contains(&format!("石洞镇,庄子坪村委会,{ZHUANGZIPING}")),
        "{codes}"
    );

    // One bad line (line 3, its email): named, and nothing is imported.
    let bad_csv = csv(&[
        &format!("王芳,wangfang@example.cn,,{DONGWAN},家风家教,2,2026-12-01,2027-01-31,"),
        &format!("赵丽,not-an-email,,{SHANGCHE},家风家教、科学育儿,3,,,"),
    ]);
    let (status, _, page) = me
        .post(
            "/volunteers/import",
            &[("county", COUNTY), ("csv", &bad_csv)],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("第 3 行 邮箱：不是有效的邮箱地址"), "{page}");
    assert!(page.contains("整个文件未导入"), "{page}");
    assert!(page.contains("not-an-email"), "the pasted text is kept");
    assert_eq!(volunteer_count(&app).await, 1, "nothing imported");

    let good_csv = csv(&[
        &format!("王芳,wangfang@example.cn,,{DONGWAN},家风家教,2,2026-12-01,2027-01-31,"),
        &format!("赵丽,zhaoli@example.cn,13800138000,{SHANGCHE},家风家教、科学育儿,3,,,2026-12-10"),
    ]);
    let (status, location, _) = me
        .post(
            "/volunteers/import",
            &[("county", COUNTY), ("csv", &good_csv)],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = me.get(&location).await;
    assert!(page.contains("导入完成：登记志愿者 2 名"), "{page}");
    assert!(page.contains("王芳") && page.contains("赵丽") && page.contains("什川镇上车村委会"));
    assert_names_only(&page);
    assert_eq!(volunteer_count(&app).await, 3);
}

/// The tours worker on the in-process bus over `app`'s database, planning within 300 ms.
fn tours_bus(app: &TestApp) -> TestBus {
    let extra = [
        ("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str()),
        ("JINGUO_TOURS__PLAN_TIME_LIMIT_MS", "300"),
    ];
    let config = test_config(&app.db, &extra);
    let mut bus = TestBus::build(
        &app.db,
        None,
        vec![jinguo_tour_program::worker(&config).expect("tours worker")],
        app.store.clone(),
        &extra,
    );
    bus.start_services();
    bus
}

/// The tour form as sent, with `changes`, over two townships of 皋兰县.
fn tour_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("step", "create"),
        ("name", "2026年冬季皋兰县巡回宣讲"),
        ("county", COUNTY),
        ("townships", SHIDONG),
        ("townships", SHICHUAN),
        ("from", day(0)),
        ("to", day(11)),
        ("topic", "家风家教"),
        ("session_minutes", "60"),
        ("sessions_per_village", "1"),
        ("day_start", "09:00"),
        ("day_end", "17:00"),
    ];
    for &(k, v) in changes {
        let slot = form.iter_mut().find(|(name, _)| *name == k).unwrap();
        slot.1 = v;
    }
    form
}

/// A tour from the form to its published sessions: a refusal kept beside its field, the plan
/// computed by the worker while the page refreshes, shown with names only, published, and
/// downloaded; another county's coordinator is refused, an unknown tour is a 404.
async fn a_coordinator_plans_and_publishes_a_tour_from_the_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let me = Coordinator::at(&app, "coord@example.cn", "县协调员", "620122").await;
    let lines = csv(&[
        &format!("李梅,limei@example.cn,,{ZHUANGZIPING},家风家教,3,2026-12-01,,"),
        &format!("王芳,wangfang@example.cn,,{DONGWAN},家风家教、法律宣传,3,,,2026-12-09"),
        &format!("赵丽,zhaoli@example.cn,,{SHANGCHE},家风家教,3,,,"),
    ]);
    let (status, _, page) = me
        .post("/volunteers/import", &[("county", COUNTY), ("csv", &lines)])
        .await;
    assert_eq!(status, 303, "{page}");

    // The 工作台 leads here.
    let (status, page) = me.get("/me").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<a href=\"/tours\">巡回宣讲</a>")
            && page.contains("<a href=\"/volunteers\">巾帼志愿者</a>"),
        "{page}"
    );

    // The form: the one county preselected, its townships to tick, topics to choose.
    let (status, page) = me.get("/tours").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("还没有宣讲活动"), "{page}");
    assert!(
        page.contains(&format!(
            "<option value=\"{COUNTY}\" selected>皋兰县</option>"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("value=\"{SHIDONG}\"> 石洞镇")),
        "{page}"
    );
    assert!(page.contains("type=\"date\"") && page.contains("type=\"time\""));
    assert!(page.contains("<option value=\"反家庭暴力法\">"));
    assert_names_only(&page);

    // The end before the start: refused beside it, everything kept.
    let (status, _, page) = me.post("/tours", &tour_form(&[("to", "2026-12-01")])).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("id=\"to-error\" role=\"alert\">结束日期：结束日期早于开始日期"),
        "{page}"
    );
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"to-error\""));
    assert!(page.contains("value=\"2026年冬季皋兰县巡回宣讲\""));
    assert!(page.contains(&format!("value=\"{SHICHUAN}\" checked")));
    assert!(page.contains("value=\"2026-12-01\""));

    let (status, location, _) = me.post("/tours", &tour_form(&[])).await;
    assert_eq!(status, 303);
    let id: Uuid = location.trim_start_matches("/tours/").parse().unwrap();
    let (status, page) = me.get(&location).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("皋兰县") && page.contains("状态：<strong>草稿"),
        "{page}"
    );
    assert!(page.contains("计算安排"), "{page}");
    assert!(
        page.contains("<h2 id=\"coverage\">村村有活动</h2>"),
        "{page}"
    );
    assert!(
        page.contains("<th scope=\"row\">石洞镇</th><td class=\"n\">15</td>"),
        "石洞镇's villages and communities: {page}"
    );
    assert_names_only(&page);
    let (_, list) = me.get("/tours").await;
    assert!(list.contains(&format!(
        "href=\"/tours/{id}\">2026年冬季皋兰县巡回宣讲</a>"
    )));

    // Another county's coordinator: a 403 that names nothing of the tour; an unknown tour 404.
    let stranger = Coordinator::at(&app, "yd@example.cn", "永登协调员", "620121").await;
    let (status, page) = stranger.get(&location).await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("没有权限") && !page.contains("皋兰"),
        "{page}"
    );
    let (status, _, _) = stranger.post(&format!("{location}/plan"), &[]).await;
    assert_eq!(status, 403);
    let (status, _) = stranger.get(&format!("{location}/plan.xlsx")).await;
    assert_eq!(status, 403);
    let (status, page) = me.get(&format!("/tours/{}", Uuid::new_v4())).await;
    assert_eq!(status, 404);
    assert!(page.contains("没有这项宣讲"), "{page}");
    let (status, _) = me.get("/tours/not-a-tour").await;
    assert_eq!(status, 400);
    // Publishing before planning: said above the page, not a 500.
    let (status, _, page) = me.post(&format!("{location}/publish"), &[]).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("还没有计算出宣讲安排"), "{page}");

    // Planning: the page refreshes itself until the worker is done.
    let (status, back, _) = me.post(&format!("{location}/plan"), &[]).await;
    assert_eq!((status, back.as_str()), (303, location.as_str()));
    let (_, page) = me.get(&location).await;
    assert!(page.contains("正在计算安排……"), "{page}");
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
    let mut bus = tours_bus(&app);
    let page = eventually("the plan", Duration::from_secs(60), || async {
        let (_, page) = me.get(&location).await;
        (!page.contains("正在计算安排")).then_some(page)
    })
    .await;
    assert!(page.contains("状态：<strong>已计算"), "{page}");
    assert!(!page.contains("http-equiv=\"refresh\""));
    assert!(
        page.contains(">发布</button>") && page.contains(">重新计算</button>"),
        "{page}"
    );
    assert!(page.contains("<table class=\"tour-day\">"), "{page}");
    assert!(page.contains(&label(0)), "{page}");
    assert!(
        page.contains("李梅") && page.contains("王芳") && page.contains("赵丽"),
        "lecturers by name: {page}"
    );
    assert!(
        page.contains("石洞镇庄子坪村委会") || page.contains("石洞镇东湾村委会"),
        "{page}"
    );
    assert!(page.contains("妇女之家"), "{page}");
    assert!(page.contains("公里"), "travel per lecturer: {page}");
    assert!(
        page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox"),
        "the map"
    );
    assert!(page.contains("data-status=\"已安排\""), "{page}");
    assert_names_only(&page);

    let r = me.get_raw(&format!("{location}/plan.xlsx")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let body = r.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
    let rows: Vec<Vec<String>> = book
        .worksheet_range("宣讲安排")
        .unwrap()
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows[0],
        ["日期", "时间", "乡镇村", "场所", "主讲", "状态", "到场人数"]
    );
    assert!(rows.len() > 1, "{rows:?}");
    assert!(
        rows[1..].iter().all(|r| r[5] == "计划" && !r[4].is_empty()),
        "{rows:?}"
    );

    let (status, location_after, _) = me.post(&format!("{location}/publish"), &[]).await;
    assert_eq!(status, 303);
    let (_, page) = me.get(&location_after).await;
    assert!(page.contains("已发布：每位讲师"), "{page}");
    assert!(page.contains("状态：<strong>已发布"), "{page}");
    assert!(page.contains("已安排"), "{page}");
    assert!(page.contains("<h2 id=\"adjust\">调整安排</h2>"), "{page}");
    assert!(
        page.contains(&format!(
            "<option value=\"{}\">{}</option>",
            day(1),
            label(1)
        )),
        "{page}"
    );
    assert_names_only(&page);

    let r = me.get_raw(&format!("{location}/schedule.ics")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar"),
    );
    let ics = r.text().await.unwrap();
    assert!(
        ics.contains("BEGIN:VCALENDAR") && ics.contains("BEGIN:VEVENT"),
        "{ics}"
    );

    // Nothing chosen to remove: refused beside the lecturer's list.
    let (status, _, page) = me
        .post(
            &format!("{location}/remove"),
            &[("volunteer", ""), ("day", "")],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("id=\"remove-volunteer-error\" role=\"alert\">讲师："),
        "{page}"
    );
    // A day taken out: the talks move or are cancelled, and the page says so.
    let (status, adjusted, _) = me
        .post(
            &format!("{location}/remove"),
            &[("volunteer", ""), ("day", day(1))],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = me.get(&adjusted).await;
    assert!(page.contains("已调整："), "{page}");
    assert!(page.contains(&format!("{}（全天）", label(1))), "{page}");
    assert_names_only(&page);

    // A topic nobody gives: every village is left out, each with the reason in words.
    let (status, other, _) = me
        .post(
            "/tours",
            &tour_form(&[
                ("name", "反家暴专题宣讲"),
                ("topic", "反家庭暴力法"),
                ("townships", "620122106000"),
            ]),
        )
        .await;
    assert_eq!(status, 303);
    me.post(&format!("{other}/plan"), &[]).await;
    let page = eventually("the second plan", Duration::from_secs(60), || async {
        let (_, page) = me.get(&other).await;
        (!page.contains("正在计算安排")).then_some(page)
    })
    .await;
    assert!(page.contains("未能安排的村（社区）（"), "{page}");
    assert!(
        page.contains("<li>黑石镇石青村委会：没有能讲这个主题的志愿者</li>"),
        "{page}"
    );
    assert!(page.contains("data-status=\"未覆盖\""), "{page}");
    assert_names_only(&page);

    // A period of a weekend only, weekends not allowed: the plan fails, and the page says why.
    let (status, weekend, _) = me
        .post(
            "/tours",
            &tour_form(&[("name", "周末宣讲"), ("from", day(5)), ("to", day(6))]),
        )
        .await;
    assert_eq!(status, 303);
    me.post(&format!("{weekend}/plan"), &[]).await;
    let page = eventually("the failed plan", Duration::from_secs(60), || async {
        let (_, page) = me.get(&weekend).await;
        (!page.contains("正在计算安排")).then_some(page)
    })
    .await;
    assert!(page.contains("状态：<strong>草稿"), "{page}");
    assert!(
        page.contains("上次计算未能完成：宣讲期间没有可用的日子"),
        "{page}"
    );
    bus.stop().await;
}

/// Without a session every page goes to sign-in; a person with no tour rights gets a Chinese
/// 403 on the list and no tile on the 工作台.
async fn pages_ask_for_sign_in_and_rights(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/tours", "/volunteers", "/volunteers/template.csv"] {
        let r = client
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/signin", "{path}");
    }
    let reviewer = add_staff(&app.store, "rv@example.cn", "审核员", "reviewer", "620122").await;
    let (cookie, csrf) = session(&app.store, reviewer).await;
    let someone = Coordinator {
        person: reviewer,
        cookie,
        csrf,
        client,
        base: app.base_url.clone(),
    };
    let (status, page) = someone.get("/tours").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("您的岗位不负责巡回宣讲"), "{page}");
    let (status, page) = someone.get("/volunteers?county=620122000000").await;
    assert_eq!(status, 403, "{page}");
    let (status, _) = someone.get("/volunteers?county=bogus").await;
    assert_eq!(status, 404);
    let (_, page) = someone.get("/me").await;
    assert!(!page.contains("href=\"/tours\""), "{page}");
}

/// A coordinator of a city chooses the county first; “列出所选县（区）的乡镇” posts the form back
/// with that county's townships to tick and everything typed kept.
async fn a_city_coordinator_chooses_the_county_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let me = Coordinator::at(&app, "city@example.cn", "市协调员", "6201").await;
    let (status, page) = me.get("/tours").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<option value=\"\" selected>请选择县（区）</option>"),
        "{page}"
    );
    assert!(page.contains("<option value=\"620122000000\">皋兰县</option>"));
    assert!(
        !page.contains("name=\"townships\""),
        "no townships before a county"
    );
    let (status, _, page) = me
        .post(
            "/tours",
            &[
                ("step", "pick"),
                ("name", "兰州市巡回宣讲"),
                ("county", COUNTY),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("<option value=\"{COUNTY}\" selected>皋兰县")));
    assert!(
        page.contains(&format!("value=\"{SHIDONG}\"> 石洞镇")),
        "{page}"
    );
    assert!(page.contains("value=\"兰州市巡回宣讲\""));
    assert!(
        !page.contains("class=\"error\""),
        "a step of the form refuses nothing"
    );
    assert_names_only(&page);
}

/// A township's coordinator keeps the volunteers of her township: the 工作台 leads her to
/// 巾帼志愿者 (not to 巡回宣讲, which the county runs), her page lists only the volunteers living
/// in her villages and offers only those villages, she adds one there, a village of another
/// township is refused beside its field, and another township's page, the county's, and the
/// API beyond her township are refused.
async fn a_township_coordinator_keeps_her_townships_volunteers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let county = Coordinator::at(&app, "coord@example.cn", "县协调员", COUNTY).await;
    for (email, name, village) in [
        ("a@example.cn", "石洞志愿者", ZHUANGZIPING),
        ("b@example.cn", "什川志愿者", SHANGCHE),
    ] {
        let (status, _, page) = county
            .post(
                "/volunteers",
                &[
                    ("county", COUNTY),
                    ("name", name),
                    ("email", email),
                    ("home_village", village),
                    ("topics", "家风家教"),
                    ("max_per_day", "2"),
                ],
            )
            .await;
        assert_eq!(status, 303, "{page}");
    }

    let me = Coordinator::at(&app, "town@example.cn", "镇协调员", SHIDONG).await;
    let (_, page) = me.get("/me").await;
    assert!(page.contains("石洞镇的巾帼志愿者"), "{page}");
    assert!(page.contains("href=\"/volunteers\""), "{page}");
    assert!(
        !page.contains("href=\"/tours\""),
        "tours are the county's: {page}"
    );

    let (status, page) = me.get("/volunteers").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("巾帼志愿者 · 石洞镇"), "{page}");
    assert!(page.contains("石洞志愿者"), "{page}");
    assert!(
        !page.contains("什川志愿者"),
        "another township's volunteer: {page}"
    );
    assert!(
        page.contains(&format!("<option value=\"{DONGWAN}\">")),
        "{page}"
    );
    assert!(
        !page.contains(&format!("<option value=\"{SHANGCHE}\"")),
        "{page}"
    );
    assert_names_only(&page);

    let form = |village: &'static str| {
        vec![
            ("county", SHIDONG),
            ("name", "东湾志愿者"),
            ("email", "c@example.cn"),
            ("home_village", village),
            ("topics", "法律宣传"),
            ("max_per_day", "1"),
        ]
    };
    let (status, _, page) = me.post("/volunteers", &form(SHANGCHE)).await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("value=\"东湾志愿者\""),
        "what was typed is kept: {page}"
    );
    assert!(!page.contains("什川志愿者"), "{page}");
    let (status, location, page) = me.post("/volunteers", &form(DONGWAN)).await;
    assert_eq!(status, 303, "{page}");
    assert!(location.starts_with(&format!("/volunteers?county={SHIDONG}&added=")));
    let (_, page) = me.get(&location).await;
    assert!(page.contains("已登记志愿者东湾志愿者"), "{page}");
    assert!(page.contains("石洞镇东湾村委会"), "{page}");

    for other in [SHICHUAN, COUNTY] {
        let (status, page) = me.get(&format!("/volunteers?county={other}")).await;
        assert_eq!(status, 403, "{other}: {page}");
        assert!(!page.contains("什川志愿者"), "{page}");
    }

    // The API keeps the same rule: her township yes, the county no.
    let token = jinguo_tests::api_token(&app.store, me.person).await;
    let api = |unit: &'static str| {
        reqwest::Client::new()
            .get(format!("{}/api/v1/volunteers?county={unit}", app.base_url))
            .bearer_auth(&token)
            .send()
    };
    let r = api(SHIDONG).await.unwrap();
    assert_eq!(r.status(), 200);
    let listed: serde_json::Value = r.json().await.unwrap();
    let names: Vec<&str> = listed["volunteers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["石洞志愿者", "东湾志愿者"]);
    assert_eq!(api(COUNTY).await.unwrap().status(), 403);
}

jinguo_tests::on_both_backends!(
    a_city_coordinator_chooses_the_county_first,
    a_township_coordinator_keeps_her_townships_volunteers,
    a_coordinator_registers_volunteers_by_form_and_by_csv,
    a_coordinator_plans_and_publishes_a_tour_from_the_pages,
    pages_ask_for_sign_in_and_rights,
);
