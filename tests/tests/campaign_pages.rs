//! The coordinator's pages in the browser's place: the start page, the 工作台, the admin status
//! page, and campaigns created from a form, listed and shown with their public link and QR code.

use jinguo_tests::nominating::csrf_of;
use jinguo_tests::page_text::{has_digit_run, text_of};
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
    post_form_to(app, cookie, "/campaigns/new", form).await
}

async fn post_form_to(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(String, String)],
) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{path}", app.base_url))
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
    // … but creates nothing: the 403 names the post they hold.
    let (status, refused) = page(&app, &reviewer_cookie, "/campaigns/new").await;
    assert_eq!(status, 403);
    assert!(refused.contains("您现在的岗位：皋兰县 "), "{refused}");
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
    // The calendar row names the years (this one and the next) whose holidays are not loaded.
    let year =
        chrono::Datelike::year(&chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai));
    let missing = jinguo_tests::test_config(&app.db, &[])
        .calendar
        .load()
        .unwrap()
        .missing_years(year, year + 1);
    assert!(
        status_page.contains("<th scope=\"row\">工作日历</th>"),
        "{status_page}"
    );
    assert_eq!(
        status_page.contains("尚未载入，暂按周一至周五计算"),
        !missing.is_empty(),
        "{missing:?}: {status_page}"
    );
    for y in missing {
        assert!(status_page.contains(&format!("{y}年")), "{status_page}");
    }

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

/// The campaign's name and rules change from the edit form (prefilled with what it holds,
/// year and area shown, not asked) and over `PUT /api/v1/campaigns/{id}`, both through the
/// program's one update step: a bad value is refused beside its field with the input kept, a
/// category that nominations hold stays, and someone without `campaign.manage` there is refused
/// on the page and the API alike.
async fn a_campaign_is_changed_from_its_edit_form_and_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = add_staff(&app.store, "admin@gl.cn", "马主任", "admin", "620122").await;
    let (cookie, _) = session(&app.store, admin).await;
    let csrf = csrf_of(&page(&app, &cookie, "/campaigns/new").await.1);
    let created = post_form(&app, &cookie, &campaign_form(&csrf, &[])).await;
    let at = created.headers()["location"].to_str().unwrap().to_owned();
    let id = at.trim_start_matches("/campaigns/").to_owned();

    let (status, shown) = page(&app, &cookie, &at).await;
    assert_eq!(status, 200);
    assert!(shown.contains(&format!("href=\"{at}/edit\"")), "{shown}");
    let (status, form) = page(&app, &cookie, &format!("{at}/edit")).await;
    assert_eq!(status, 200, "{form}");
    assert!(
        form.contains("修改评选活动")
            && form.contains("2026年 · 评选范围：皋兰县")
            && form.contains("value=\"2026年皋兰县最美家庭评选\"")
            && form.contains("最美家庭\n五好家庭")
            && form.contains("value=\"10wd\"")
            && form.contains("value=\"2027-03-31\"")
            && form.contains("value=\"all\" checked")
            && form.contains("value=\"skip\" checked"),
        "{form}"
    );
    assert!(
        !form.contains("name=\"year\""),
        "the year is not asked again"
    );

    // A bad 公示 length: beside its field, everything typed kept, nothing saved.
    let edit = |changes: &[(&str, &str)]| {
        let mut f = campaign_form(&csrf, changes);
        f.retain(|(k, _)| !matches!(k.as_str(), "year" | "scope" | "area"));
        f
    };
    let path = format!("{at}/edit");
    let refused = post_form_to(
        &app,
        &cookie,
        &path,
        &edit(&[("name", "新名称"), ("rules.publicity", "forever")]),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"rules.publicity-error\" role=\"alert\"")
            && html.contains("value=\"新名称\"")
            && html.contains("value=\"forever\""),
        "{html}"
    );
    let saved = post_form_to(
        &app,
        &cookie,
        &path,
        &edit(&[
            ("name", "2026年皋兰县最美家庭评选（修订）"),
            ("rules.quotas.village", "3"),
        ]),
    )
    .await;
    assert_eq!(saved.status(), 303);
    let (_, shown) = page(&app, &cookie, &at).await;
    assert!(
        shown.contains("2026年皋兰县最美家庭评选（修订）") && shown.contains("<dd>3 户</dd>"),
        "{shown}"
    );

    // A category that a nomination holds stays; over the API, the same rule.
    let village = jinguo_tests::nominating::units(&app.store).await.2;
    let token = jinguo_tests::api_token(&app.store, admin).await;
    let submitted = app
        .client
        .post(format!("{}/api/v1/nominations", app.base_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "campaign_id": id, "village": village.as_str(), "category": "五好家庭", "channel": "organization",
            "family": { "head_name": "李秀英", "head_id": "620122198001011234", "address": "皋兰县某村" },
            "story": "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院。"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 201);
    let refused = post_form_to(
        &app,
        &cookie,
        &path,
        &edit(&[("rules.categories", "最美家庭")]),
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("类别“五好家庭”已有推荐，不能删除")
    );
    let rules = serde_json::json!({ "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d" });
    let put = |token: String, body: serde_json::Value| {
        app.client
            .put(format!("{}/api/v1/campaigns/{id}", app.base_url))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let r = put(
        token.clone(),
        serde_json::json!({ "name": "x", "rules": rules }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["field"],
        "rules.categories"
    );
    let mut kept = rules.clone();
    kept["categories"] = serde_json::json!(["最美家庭", "五好家庭", "文明家庭"]);
    let r = put(
        token.clone(),
        serde_json::json!({ "name": "API 改名", "rules": kept }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let (_, shown) = page(&app, &cookie, &at).await;
    assert!(
        shown.contains("API 改名") && shown.contains("文明家庭"),
        "{shown}"
    );

    // A village reviewer sees the campaign but may not change it: no link, a 403 page naming
    // their post, and a 403 from the API.
    let reviewer = add_staff(
        &app.store,
        "r@gl.cn",
        "李审核",
        "reviewer",
        village.as_str(),
    )
    .await;
    let (r_cookie, _) = session(&app.store, reviewer).await;
    let (_, shown) = page(&app, &r_cookie, &at).await;
    assert!(!shown.contains("/edit\""), "{shown}");
    let (status, html) = page(&app, &r_cookie, &path).await;
    assert_eq!(status, 403);
    assert!(
        html.contains("皋兰县妇联的管理员岗位") && html.contains("您现在的岗位："),
        "{html}"
    );
    let r_token = jinguo_tests::api_token(&app.store, reviewer).await;
    let r = put(
        r_token,
        serde_json::json!({ "name": "越权", "rules": kept }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
}

jinguo_tests::on_both_backends!(
    a_campaign_is_changed_from_its_edit_form_and_the_api,
    a_county_admin_creates_a_campaign_from_the_form,
    a_person_outside_the_area_gets_a_chinese_403_naming_it,
    the_start_page_is_for_people_and_the_status_page_for_admins,
    the_workbench_names_units_never_codes,
);
