//! The award list (表彰名单, #13 item 7): the public list of the families awarded in a campaign,
//! the staff's list with its xlsx and CSV downloads, and the certificate printed for each
//! awarded family, on both backends.
//!
//! Five families are nominated in two townships of 皋兰县 and reviewed over the API by the
//! reviewers of each level; three of them reach the award (the end of their county 公示 is
//! driven through the program's own step, `publicity_ended`, as its timer would), one is still in
//! 公示 and one was rejected by its village.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use jinguo_core::identity::{MobilePhone, ResidentId};
use jinguo_core::nominations::State;
use jinguo_core::org::OrgCode;
use jinguo_store::orgs;
use jinguo_tests::nominating::campaign;
use jinguo_tests::page_text::has_uuid;
use jinguo_tests::{Backend, TestApp, add_staff, api_token, on_both_backends, session};
use serde_json::{Value, json};
use uuid::Uuid;

/// A valid resident ID number born 1980-01-01, numbered `n`.
fn resident_id(n: u32) -> String {
    let first17 = format!("62012219800101{:03}", n % 1000);
    let check = ResidentId::check_digit(&first17).unwrap();
    format!("{first17}{check}")
}

/// A family as it was submitted: what no public page may show.
struct Submitted {
    id: Uuid,
    head: &'static str,
    head_id: String,
    phone: String,
    address: String,
}

/// A unit by name and code.
struct Unit {
    code: OrgCode,
    name: String,
}

struct World {
    app: TestApp,
    admin: Uuid,
    /// A reviewer of one village: may not see the county's list.
    village_reviewer: Uuid,
    campaign: String,
    /// The first township of 皋兰县 and its first village.
    town_a: Unit,
    village_a: Unit,
    /// The second township and its first village.
    town_b: Unit,
    village_b: Unit,
    /// Awarded: 王芳 and 张丽 (五好家庭) in village A, 李秀英 in village B.
    awarded: Vec<Submitted>,
    /// In county 公示 (赵敏) and rejected by the village (陈红), both in village A.
    in_publicity: Submitted,
    rejected: Submitted,
}

const CAMPAIGN: &str = "2026年皋兰县最美家庭评选";

/// The `index`-th unit directly below `of`.
async fn child(app: &TestApp, of: OrgCode, index: usize) -> Unit {
    let unit = app
        .store
        .read(move |c| Box::pin(orgs::children(c, of)))
        .await
        .unwrap()
        .swap_remove(index);
    Unit {
        code: unit.code,
        name: unit.name,
    }
}

/// Nominates the family of `head` (numbered `n`: its own ID number, phone and address) in
/// `village` for `category`, over the API with `token`.
async fn submit(
    app: &TestApp,
    (campaign, token): (&str, &str),
    village: &Unit,
    (head, n): (&'static str, u32),
    category: &str,
) -> Submitted {
    let head_id = resident_id(n);
    let phone = format!("139{:04}5678", 1000 + n);
    let address = format!("{}幸福路{}号", village.name, 100 + n);
    let r = app
        .client
        .post(format!("{}/api/v1/nominations", app.base_url))
        .bearer_auth(token)
        .json(&json!({
            "campaign_id": campaign, "village": village.code.as_str(), "category": category,
            "channel": "organization",
            "family": { "head_name": head, "head_id": head_id, "address": address, "phone": phone,
                        "members": [{ "name": "王强", "relation": "丈夫" }] },
            "story": "一家人孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    Submitted {
        id,
        head,
        head_id,
        phone,
        address,
    }
}

/// `reviewer` decides their open task of `level` on nomination `id` over the API.
async fn decide(app: &TestApp, id: Uuid, level: &'static str, reviewer: Uuid, decision: Value) {
    let tasks = app
        .store
        .read(move |c| {
            Box::pin(async move { jinguo_store::nominations::tasks(c, id, level).await })
        })
        .await
        .unwrap();
    let task = tasks.iter().find(|t| t.reviewer == reviewer).unwrap().id;
    let token = api_token(&app.store, reviewer).await;
    let r = app
        .client
        .post(format!("{}/api/v1/reviews/{task}/decision", app.base_url))
        .bearer_auth(token)
        .json(&decision)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Ends the county 公示 of nomination `id` with the program's own step (what its timer does):
/// it is awarded.
async fn end_publicity(app: &TestApp, id: Uuid) {
    let config = jinguo_tests::test_config(&app.db, &[]);
    let links = jinguo_nominations::links_from(
        &config,
        Arc::new(config.calendar.load().unwrap()),
        Arc::new(jinguo_nominations::sealer_from(&config).unwrap()),
    );
    let to = app
        .store
        .transaction(move |c| {
            let links = links.clone();
            Box::pin(async move {
                // As the scheduler fires it: the timer goes, its message is handled.
                jinguo_store::timers::cancel(c, &format!("publicity:{id}:publicity")).await?;
                jinguo_nominations::publicity_ended(
                    c,
                    id,
                    State::Publicity,
                    &links,
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await
        .unwrap();
    assert_eq!(to, State::Awarded);
}

/// The campaign with its five families: three awarded, one in 公示, one rejected.
async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let county = OrgCode::parse("620122").unwrap();
    let town_a = child(&app, county, 0).await;
    let town_b = child(&app, county, 1).await;
    let village_a = child(&app, town_a.code, 0).await;
    let village_b = child(&app, town_b.code, 0).await;
    let staff = async |email: &str, role: &str, unit: OrgCode| {
        add_staff(&app.store, email, "工作人员", role, unit.as_str()).await
    };
    let admin = staff("admin@example.cn", "admin", county).await;
    let rv_a = staff("va@example.cn", "reviewer", village_a.code).await;
    let rv_b = staff("vb@example.cn", "reviewer", village_b.code).await;
    let rt_a = staff("ta@example.cn", "reviewer", town_a.code).await;
    let rt_b = staff("tb@example.cn", "reviewer", town_b.code).await;
    let rc = staff("c@example.cn", "reviewer", county).await;
    let token = api_token(&app.store, admin).await;
    let campaign = campaign(&app, &token, CAMPAIGN).await;
    let by = (campaign.as_str(), token.as_str());
    let li = submit(&app, by, &village_b, ("李秀英", 1), "最美家庭").await;
    let wang = submit(&app, by, &village_a, ("王芳", 2), "最美家庭").await;
    let zhang = submit(&app, by, &village_a, ("张丽", 3), "五好家庭").await;
    let zhao = submit(&app, by, &village_a, ("赵敏", 4), "最美家庭").await;
    let chen = submit(&app, by, &village_a, ("陈红", 5), "最美家庭").await;
    let approve = json!({ "decision": "approve" });
    for (n, village, town) in [
        (&li, rv_b, rt_b),
        (&wang, rv_a, rt_a),
        (&zhang, rv_a, rt_a),
        (&zhao, rv_a, rt_a),
    ] {
        decide(&app, n.id, "village", village, approve.clone()).await;
        decide(&app, n.id, "township", town, approve.clone()).await;
        decide(&app, n.id, "county", rc, approve.clone()).await;
    }
    let reject = json!({ "decision": "reject", "reason": "事迹与实际情况不符" });
    decide(&app, chen.id, "village", rv_a, reject).await;
    for n in [&li, &wang, &zhang] {
        end_publicity(&app, n.id).await;
    }
    World {
        app,
        admin,
        village_reviewer: rv_a,
        campaign,
        town_a,
        village_a,
        town_b,
        village_b,
        awarded: vec![li, wang, zhang],
        in_publicity: zhao,
        rejected: chen,
    }
}

impl World {
    /// When nomination `id` was awarded: the `publicity_ended` step of its history.
    async fn awarded_at(&self, id: Uuid) -> DateTime<Utc> {
        let history = self
            .app
            .store
            .read(move |c| Box::pin(jinguo_store::nominations::history(c, id)))
            .await
            .unwrap();
        history
            .iter()
            .find(|h| h.event == "publicity_ended")
            .unwrap()
            .at
    }

    /// GET `path` as `person` (signed in), or signed out with `None`: status and body.
    async fn get(&self, person: Option<Uuid>, path: &str) -> (u16, Vec<u8>) {
        let mut request = self.app.client.get(format!("{}{path}", self.app.base_url));
        if let Some(person) = person {
            request = request.header("cookie", session(&self.app.store, person).await.0);
        }
        let r = request.send().await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    async fn page(&self, person: Option<Uuid>, path: &str) -> String {
        let (status, body) = self.get(person, path).await;
        let html = String::from_utf8(body).unwrap();
        assert_eq!(status, 200, "{path}: {html}");
        html
    }

    /// The staff's award list's path, followed by `rest`.
    fn staff_path(&self, rest: &str) -> String {
        format!("/admin/campaigns/{}/awarded{rest}", self.campaign)
    }
}

/// The runs of `min` or more ASCII digits in `text`: ID numbers, phones, 12-digit codes.
fn digit_runs(text: &str, min: usize) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= min)
        .map(str::to_owned)
        .collect()
}

/// Asserts that `html` shows nothing of `n` but its head's name: neither its ID number nor
/// phone (in full or masked as the family is kept), its address nor its id.
fn shows_no_personal_data(html: &str, n: &Submitted) {
    let today = jinguo_bus::now().date_naive();
    let masked_id = ResidentId::parse(&n.head_id, today).unwrap().masked();
    let masked_phone = MobilePhone::parse(&n.phone).unwrap().masked();
    for secret in [
        n.head_id.as_str(),
        n.phone.as_str(),
        n.address.as_str(),
        masked_id.as_str(),
        masked_phone.as_str(),
        &n.id.to_string(),
    ] {
        assert!(!html.contains(secret), "{secret} shown: {html}");
    }
}

/// `day` as a certificate writes it: 2026年12月6日.
fn in_chinese(day: chrono::NaiveDate) -> String {
    format!("{}年{}月{}日", day.year(), day.month(), day.day())
}

async fn the_public_list_shows_the_awarded_families_by_name_only(backend: Backend) {
    let w = world(backend).await;
    let path = format!("/public/campaigns/{}/awarded", w.campaign);
    let html = w.page(None, &path).await;
    assert!(html.contains(&format!("{CAMPAIGN} 表彰名单")), "{html}");
    assert!(html.contains("共 3 户家庭获评表彰"), "{html}");
    for needle in [
        w.town_a.name.as_str(),
        w.town_b.name.as_str(),
        w.village_a.name.as_str(),
        w.village_b.name.as_str(),
        "最美家庭",
        "五好家庭",
    ] {
        assert!(html.contains(needle), "{needle} missing: {html}");
    }
    // Township by township (in the order of their codes), then by village and family.
    let at = |family: &str| {
        html.find(&format!("{family}家庭"))
            .unwrap_or_else(|| panic!("{family} missing: {html}"))
    };
    assert!(
        at("张丽") < at("王芳") && at("王芳") < at("李秀英"),
        "{html}"
    );
    assert!(html.find(&w.town_a.name) < html.find(&w.town_b.name));
    // Only the awarded: not the one still in 公示, not the rejected one.
    for other in [&w.in_publicity, &w.rejected] {
        assert!(!html.contains(other.head), "{} shown: {html}", other.head);
    }
    // Nothing but names: no ID number, phone or address, no id, no code.
    for n in w.awarded.iter().chain([&w.in_publicity, &w.rejected]) {
        shows_no_personal_data(&html, n);
    }
    assert!(!has_uuid(&html), "an id in the page: {html}");
    assert_eq!(digit_runs(&html, 6), Vec::<String>::new(), "{html}");
    // No certificate links or downloads for the public.
    assert!(!html.contains("certificate") && !html.contains("awarded.csv"));

    // A campaign that does not exist: the Chinese 404 page; a malformed id: the edge's 400.
    let (status, body) = w
        .get(
            None,
            &format!("/public/campaigns/{}/awarded", Uuid::new_v4()),
        )
        .await;
    let html = String::from_utf8(body).unwrap();
    assert_eq!(status, 404);
    assert!(
        html.contains("没有这项评选") && html.contains("lang=\"zh-CN\""),
        "{html}"
    );
    let (status, _) = w.get(None, "/public/campaigns/not-an-id/awarded").await;
    assert_eq!(status, 400);
}

async fn staff_download_the_award_list_as_xlsx_and_csv(backend: Backend) {
    let w = world(backend).await;
    let tz = jinguo_tests::test_config(&w.app.db, &[]).calendar.time_zone;
    let mut expected = vec![vec![
        "序号".to_owned(),
        "家庭".into(),
        "乡镇".into(),
        "村".into(),
        "类别".into(),
        "获评日期".into(),
    ]];
    // 张丽 and 王芳 in township A, then 李秀英 in township B.
    for (n, i, town, village, category) in [
        (1, 2, &w.town_a, &w.village_a, "五好家庭"),
        (2, 1, &w.town_a, &w.village_a, "最美家庭"),
        (3, 0, &w.town_b, &w.village_b, "最美家庭"),
    ] {
        let a = &w.awarded[i];
        let day = w.awarded_at(a.id).await.with_timezone(&tz).date_naive();
        expected.push(vec![
            n.to_string(),
            a.head.to_owned(),
            town.name.clone(),
            village.name.clone(),
            category.to_owned(),
            day.format("%Y-%m-%d").to_string(),
        ]);
    }

    // The staff's page: the same families, each linked to its certificate, and the downloads.
    let html = w.page(Some(w.admin), &w.staff_path("")).await;
    for a in &w.awarded {
        let link = format!(
            "{}\">{}家庭</a>",
            w.staff_path(&format!("/{}/certificate", a.id)),
            a.head
        );
        assert!(html.contains(&link), "{link} missing: {html}");
    }
    assert!(!html.contains(w.in_publicity.head) && !html.contains(w.rejected.head));
    assert!(html.contains(&expected[1][5]), "the award date: {html}");
    assert!(html.contains("awarded.xlsx") && html.contains("awarded.csv"));

    let r = w
        .app
        .client
        .get(format!("{}{}", w.app.base_url, w.staff_path(".csv")))
        .header("cookie", session(&w.app.store, w.admin).await.0)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(headers["cache-control"], "no-store");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains("filename=\"awarded.csv\""),
        "{disposition}"
    );
    let csv = r.bytes().await.unwrap();
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "a byte order mark for Excel"
    );
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(lines, expected, "{text}");

    let (status, body) = w.get(Some(w.admin), &w.staff_path(".xlsx")).await;
    assert_eq!(status, 200);
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
    let range = book.worksheet_range("表彰名单").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows, expected);
}

async fn a_certificate_is_printed_for_an_awarded_family_only(backend: Backend) {
    let w = world(backend).await;
    let tz = jinguo_tests::test_config(&w.app.db, &[]).calendar.time_zone;
    let li = &w.awarded[0];
    let html = w
        .page(
            Some(w.admin),
            &w.staff_path(&format!("/{}/certificate", li.id)),
        )
        .await;
    let day = w.awarded_at(li.id).await.with_timezone(&tz).date_naive();
    for needle in [
        "荣誉证书",
        CAMPAIGN,
        "李秀英家庭",
        "最美家庭",
        "皋兰县妇女联合会",
        &in_chinese(day),
        "class=\"certificate\"",
    ] {
        assert!(html.contains(needle), "{needle} missing: {html}");
    }
    shows_no_personal_data(&html, li);
    // The stylesheet prints it on A4 landscape, without the navigation.
    let css = w.page(None, "/static/jinguo.css").await;
    assert!(css.contains("size: A4 landscape") && css.contains("@media print"));

    // Not awarded (still in 公示, rejected), not a nomination, or awarded in another campaign's
    // address: the Chinese 404.
    let other_campaign = Uuid::new_v4();
    for path in [
        w.staff_path(&format!("/{}/certificate", w.in_publicity.id)),
        w.staff_path(&format!("/{}/certificate", w.rejected.id)),
        w.staff_path(&format!("/{}/certificate", Uuid::new_v4())),
    ] {
        let (status, body) = w.get(Some(w.admin), &path).await;
        let html = String::from_utf8(body).unwrap();
        assert_eq!(status, 404, "{path}: {html}");
        assert!(html.contains("没有这份荣誉证书"), "{html}");
    }
    let (status, body) = w
        .get(
            Some(w.admin),
            &format!(
                "/admin/campaigns/{other_campaign}/awarded/{}/certificate",
                li.id
            ),
        )
        .await;
    assert_eq!(status, 404);
    assert!(String::from_utf8(body).unwrap().contains("没有这项评选"));
}

async fn staff_pages_refuse_who_may_not_view_the_campaign(backend: Backend) {
    let w = world(backend).await;
    let certificate = format!("/{}/certificate", w.awarded[0].id);
    for rest in ["", ".xlsx", ".csv", certificate.as_str()] {
        let path = w.staff_path(rest);
        // A village's reviewer: not the county's list.
        let (status, body) = w.get(Some(w.village_reviewer), &path).await;
        let html = String::from_utf8(body).unwrap();
        assert_eq!(status, 403, "{path}: {html}");
        assert!(
            html.contains("没有权限") && html.contains("皋兰县"),
            "{html}"
        );
        assert!(!html.contains(w.awarded[0].head), "{html}");
        // Signed out: to the sign-in page.
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{}{path}", w.app.base_url))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        assert_eq!(r.headers()["location"], "/signin");
    }
}

on_both_backends!(
    the_public_list_shows_the_awarded_families_by_name_only,
    staff_download_the_award_list_as_xlsx_and_csv,
    a_certificate_is_printed_for_an_awarded_family_only,
    staff_pages_refuse_who_may_not_view_the_campaign,
);
