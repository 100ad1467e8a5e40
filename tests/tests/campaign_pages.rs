//! The coordinator's pages in the browser's place: the start page, the 工作台, the admin status
//! page, and campaigns created from a form, listed and shown with their public link and QR code.

use jinguo_tests::nominating::csrf_of;
use jinguo_tests::{Backend, TestApp, add_staff, session};

/// GET `path` as the holder of `cookie`: status and page.
async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.base_url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The visible text of a page: tags (and their attributes) left out.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether `text` holds a run of `n` or more ASCII digits.
fn has_digit_run(text: &str, n: usize) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= n {
            return true;
        }
    }
    false
}

/// The form as the create page sends it, with `changes` over a valid campaign over 皋兰县.
fn campaign_form(csrf: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        ("csrf", csrf),
        ("step", "submit"),
        ("area", "620122000000"),
        ("scope", "620122000000"),
        ("name", "2026年皋兰县最美家庭评选"),
        ("year", "2026"),
        ("rules.categories", "最美家庭\n五好家庭"),
        ("rules.quotas.village", "2"),
        ("rules.quotas.township", "5"),
        ("rules.quotas.county", "0"),
        ("rules.village_publicity", "3d"),
        ("rules.publicity", "5wd"),
        ("rules.deadlines.village", "10wd"),
        ("rules.deadlines.township", ""),
        ("rules.deadlines.county", "2027-03-31"),
        ("rules.decide", "all"),
        ("rules.no_reviewer", "skip"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in changes {
        let slot = form.iter_mut().find(|(name, _)| name == k).unwrap();
        slot.1 = v.to_string();
    }
    form
}

async fn post_form(app: &TestApp, cookie: &str, form: &[(String, String)]) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/campaigns/new", app.base_url))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn a_county_admin_creates_a_campaign_from_the_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = add_staff(&app.store, "admin@gl.cn", "马主任", "admin", "620122").await;
    let (cookie, _) = session(&app.store, admin).await;

    let (status, form) = page(&app, &cookie, "/campaigns/new").await;
    assert_eq!(status, 200, "{form}");
    assert!(
        form.contains("<main id=\"main\">") && form.contains("皋兰县"),
        "{form}"
    );
    assert!(
        form.contains("<label for=\"rules.quotas.village\">"),
        "{form}"
    );
    let csrf = csrf_of(&form);

    // A bad quota: refused beside it, everything typed kept.
    let refused = post_form(
        &app,
        &cookie,
        &campaign_form(&csrf, &[("rules.quotas.village", "两个")]),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"rules.quotas.village-error\" role=\"alert\""),
        "{html}"
    );
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    assert!(
        html.contains("value=\"两个\""),
        "the bad value is kept: {html}"
    );
    assert!(
        html.contains("value=\"2026年皋兰县最美家庭评选\""),
        "{html}"
    );
    assert!(html.contains("value=\"10wd\"") && html.contains("value=\"2027-03-31\""));
    assert!(html.contains("提交未成功"), "the title says so: {html}");

    // A quota over the program's bound: the program's rule, beside the field.
    let refused = post_form(
        &app,
        &cookie,
        &campaign_form(&csrf, &[("rules.quotas.township", "100001")]),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"rules.quotas.township-error\""),
        "{html}"
    );
    assert!(html.contains("value=\"100001\""), "{html}");

    // No category: refused beside the categories, the rest kept.
    let refused = post_form(
        &app,
        &cookie,
        &campaign_form(&csrf, &[("rules.categories", " \n ")]),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"rules.categories-error\" role=\"alert\""),
        "{html}"
    );
    assert!(html.contains("请至少填写一个评选类别"), "{html}");
    assert!(html.contains("value=\"5wd\""), "{html}");
    assert!(
        html.contains("value=\"all\" checked") && html.contains("value=\"skip\" checked"),
        "the choices are kept: {html}"
    );

    // Corrected: created, and its page follows.
    let created = post_form(&app, &cookie, &campaign_form(&csrf, &[])).await;
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let id = location.strip_prefix("/campaigns/").unwrap().to_owned();

    // The list shows it by name and area name.
    let (status, list) = page(&app, &cookie, "/campaigns").await;
    assert_eq!(status, 200);
    assert!(list.contains("2026年皋兰县最美家庭评选"), "{list}");
    assert!(list.contains(&format!("/campaigns/{id}")), "{list}");
    assert!(!has_digit_run(&text_of(&list), 12), "{list}");

    // Its page: every rule in Chinese, the public link and its QR code, the dashboard.
    let (status, shown) = page(&app, &cookie, &location).await;
    assert_eq!(status, 200, "{shown}");
    let public = format!("{}/nominate/{id}", app.base_url);
    assert!(shown.contains(&format!("href=\"{public}\"")), "{shown}");
    assert!(shown.contains("<svg role=\"img\""), "{shown}");
    assert!(shown.contains(&format!("/admin/campaigns/{id}")), "{shown}");
    for words in [
        "评选范围：皋兰县",
        "最美家庭",
        "五好家庭",
        "2 户",
        "5 户",
        "不限",
        "3天",
        "5个工作日",
        "该级开始后 10 个工作日内",
        "2027年03月31日 前",
        "不设",
        "须该级全部审核员同意",
        "跳过该级",
    ] {
        assert!(shown.contains(words), "{words}: {shown}");
    }

    // The public link works.
    let public_page = app.client.get(&public).send().await.unwrap();
    assert_eq!(public_page.status(), 200);
}

async fn a_person_outside_the_area_gets_a_chinese_403_naming_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = add_staff(&app.store, "admin@gl.cn", "马主任", "admin", "620122").await;
    let (cookie, _) = session(&app.store, admin).await;
    let csrf = csrf_of(&page(&app, &cookie, "/campaigns/new").await.1);
    let created = post_form(&app, &cookie, &campaign_form(&csrf, &[])).await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();

    // An admin of 永登县 (another county of 兰州市).
    let other = add_staff(&app.store, "admin@yd.cn", "李主任", "admin", "620121").await;
    let (other_cookie, _) = session(&app.store, other).await;
    let (status, html) = page(&app, &other_cookie, &location).await;
    assert_eq!(status, 403, "{html}");
    assert!(
        html.contains("皋兰县") && html.contains("没有权限"),
        "{html}"
    );
    let (_, list) = page(&app, &other_cookie, "/campaigns").await;
    assert!(!list.contains("2026年皋兰县最美家庭评选"), "{list}");

    // A village reviewer inside the county takes part and sees it.
    let village = jinguo_tests::nominating::units(&app.store).await.2;
    let reviewer = add_staff(
        &app.store,
        "r@gl.cn",
        "张审核",
        "reviewer",
        &village.to_string(),
    )
    .await;
    let (reviewer_cookie, _) = session(&app.store, reviewer).await;
    assert_eq!(page(&app, &reviewer_cookie, &location).await.0, 200);
    // … but creates nothing.
    assert_eq!(page(&app, &reviewer_cookie, "/campaigns/new").await.0, 403);
}

async fn the_start_page_is_for_people_and_the_status_page_for_admins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = add_staff(&app.store, "admin@gl.cn", "马主任", "admin", "620122").await;
    let (cookie, _) = session(&app.store, admin).await;
    let csrf = csrf_of(&page(&app, &cookie, "/campaigns/new").await.1);
    let created = post_form(&app, &cookie, &campaign_form(&csrf, &[])).await;
    let id = created.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/campaigns/")
        .to_owned();

    let (status, start) = page(&app, "", "/").await;
    assert_eq!(status, 200);
    assert!(
        start.contains("<main id=\"main\">") && start.contains("href=\"/signin\""),
        "{start}"
    );
    assert!(
        start.contains("登录") && start.contains("href=\"/help\""),
        "{start}"
    );
    assert!(
        start.contains(&format!("href=\"/nominate/{id}\"")) && start.contains("2026年皋兰县"),
        "self-nomination by campaign name: {start}"
    );
    for technical in [
        "PostgreSQL",
        "SQLite",
        "RabbitMQ",
        "17718",
        "/readyz",
        "运行状态",
    ] {
        assert!(!start.contains(technical), "{technical}: {start}");
    }

    let (status, status_page) = page(&app, &cookie, "/admin/status").await;
    assert_eq!(status, 200, "{status_page}");
    assert!(
        status_page.contains("17718"),
        "village count: {status_page}"
    );
    assert!(status_page.contains(match backend {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite",
    }));

    let viewer = add_staff(&app.store, "v@gl.cn", "王查看", "viewer", "620122").await;
    let (viewer_cookie, _) = session(&app.store, viewer).await;
    let (status, refused) = page(&app, &viewer_cookie, "/admin/status").await;
    assert_eq!(status, 403);
    assert!(
        refused.contains("没有权限")
            && refused.contains("您现在的岗位：皋兰县 查看者")
            && !refused.contains("17718"),
        "{refused}"
    );
}

async fn the_workbench_names_units_never_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = add_staff(&app.store, "admin@gl.cn", "马主任", "admin", "620122").await;
    let (cookie, _) = session(&app.store, admin).await;
    let csrf = csrf_of(&page(&app, &cookie, "/campaigns/new").await.1);
    post_form(&app, &cookie, &campaign_form(&csrf, &[])).await;

    let (status, me) = page(&app, &cookie, "/me").await;
    assert_eq!(status, 200, "{me}");
    for tile in [
        "待我审核（0）",
        "评选活动",
        "推荐家庭",
        "人员管理",
        "管理员 · 皋兰县",
    ] {
        assert!(me.contains(tile), "{tile}: {me}");
    }
    assert!(me.contains("href=\"/campaigns\""), "{me}");
    assert!(me.contains("2026年皋兰县最美家庭评选"), "{me}");
    assert!(me.contains("管理皋兰县的人员"), "{me}");
    assert!(
        me.contains("href=\"/admin/staff?org=620122000000\""),
        "{me}"
    );
    let text = text_of(&me);
    assert!(!has_digit_run(&text, 12), "no code shown: {text}");

    // A village reviewer: the village's name, no staff tile.
    let village = jinguo_tests::nominating::units(&app.store).await.2;
    let reviewer = add_staff(
        &app.store,
        "r@gl.cn",
        "张审核",
        "reviewer",
        &village.to_string(),
    )
    .await;
    let (reviewer_cookie, _) = session(&app.store, reviewer).await;
    let (_, me) = page(&app, &reviewer_cookie, "/me").await;
    assert!(me.contains("审核员 · "), "{me}");
    assert!(!me.contains("人员管理"), "{me}");
    assert!(me.contains("2026年皋兰县最美家庭评选"), "{me}");
    assert!(!has_digit_run(&text_of(&me), 12), "{me}");
}

jinguo_tests::on_both_backends!(
    a_county_admin_creates_a_campaign_from_the_form,
    a_person_outside_the_area_gets_a_chinese_403_naming_it,
    the_start_page_is_for_people_and_the_status_page_for_admins,
    the_workbench_names_units_never_codes,
);
