//! Every page a person meets, audited in a real Chromium at phone size (390 × 844): no
//! horizontal scrolling, no English in what people read, and no critical or serious WCAG 2.x
//! A/AA violation that axe-core finds. One test walks the pages so one browser serves them all:
//! the public ones, a reviewer's link, a case officer's and a tour coordinator's.

use std::time::Duration;

use jinguo_tests::nominating::{campaign, links_mailed_to, units};
use jinguo_tests::{
    Backend, Browser, TestApp, TestBus, add_staff, api_token, eventually, session, test_config,
};

#[tokio::test(flavor = "multi_thread")]
async fn pages_pass_the_phone_audit() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let officer = add_staff(
        &app.store,
        "officer@t.cn",
        "李承办",
        "case_officer",
        "620122",
    )
    .await;
    let browser = Browser::start().await;
    let base = app.base_url.clone();
    // The audit finds what it should: a page with an unlabelled image, English sentences and
    // a wide table.
    browser
        .goto(
            "data:text/html;charset=utf-8,<html lang=en><title>t</title><body><img src=x>\
             <p>Please sign in here</p><div style='width:2000px'>宽</div></body></html>",
        )
        .await;
    let found = browser.audit_page().await.join("\n");
    assert!(found.contains("axe: image-alt"), "{found}");
    assert!(
        found.contains("English in the page: Please sign in here"),
        "{found}"
    );
    assert!(found.contains("scrolls horizontally"), "{found}");
    let mut problems = Vec::new();
    let mut audit = async |path: &str| {
        browser.goto(&format!("{base}{path}")).await;
        for p in browser.audit_page().await {
            problems.push(format!("{path}: {p}"));
        }
    };
    for path in ["/", "/signin", "/help", "/no-such-page"] {
        audit(path).await;
    }
    // Signed out: the reviewer's page behind the emailed link, and the same page refused
    // (退回 without a reason).
    let (_, _, village) = units(&app.store).await;
    let admin = add_staff(&app.store, "admin@t.cn", "县管理员", "admin", "620122").await;
    let reviewer = add_staff(
        &app.store,
        "v@t.cn",
        "村审核员",
        "reviewer",
        village.as_str(),
    )
    .await;
    let token = api_token(&app.store, admin).await;
    let campaign = campaign(&app, &token, "2026年皋兰县最美家庭评选").await;
    let submitted = app
        .client
        .post(format!("{base}/api/v1/nominations"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "campaign_id": campaign, "village": village.as_str(), "category": "最美家庭",
            "channel": "organization",
            "family": { "head_name": "李秀英", "head_id": "620122198001011234", "address": "皋兰县某村",
                        "members": [{ "name": "王强", "relation": "丈夫" }] },
            "story": "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院。"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 201);
    // The public 公示 board and award list of the campaign.
    audit(&format!("/public/campaigns/{campaign}")).await;
    audit(&format!("/public/campaigns/{campaign}/awarded")).await;
    let link = eventually("the review mail", Duration::from_secs(10), || {
        let store = &app.store;
        async move {
            links_mailed_to(store, reviewer, "")
                .await
                .into_iter()
                .next()
        }
    })
    .await;
    audit(&link).await;
    browser.click("input[name=decision][value=return]").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("#reason-error").await;
    let refused_review = browser.audit_page().await;

    // Signed in as a case officer.
    let (cookie, _) = session(&app.store, officer).await;
    browser.set_cookie(&cookie).await;
    for path in ["/me", "/referrals", "/referrals/new"] {
        audit(path).await;
    }

    // Signed in as the county's coordinator: the tour and volunteer pages, a tour planned by
    // the worker (its tables per day, lecturers, coverage and map), and both forms refused.
    let coordinator = add_staff(&app.store, "c@t.cn", "县协调员", "coordinator", "620122").await;
    let token = api_token(&app.store, coordinator).await;
    let volunteers = "姓名,邮箱,手机,居住村代码,宣讲主题,每日最多场次,可宣讲开始日期,可宣讲结束日期,不可宣讲日期\n\
        李梅,limei@t.cn,,620122100201,家风家教,3,,,\n\
        王芳,wangfang@t.cn,,620122103201,家风家教、法律宣传,3,,,2026-12-09\n";
    let imported = app
        .client
        .post(format!("{base}/api/v1/volunteers/import"))
        .bearer_auth(&token)
        .body(volunteers)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 201);
    let created: serde_json::Value = app
        .client
        .post(format!("{base}/api/v1/tours"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "name": "2026年冬季皋兰县巡回宣讲", "county": "620122000000",
            "townships": ["620122100000", "620122103000"],
            "from": "2026-12-07", "to": "2026-12-18", "topic": "家风家教",
            "session_minutes": 90, "day_start": "09:00", "day_end": "17:00"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tour = created["id"].as_str().unwrap().to_owned();
    let asked = app
        .client
        .post(format!("{base}/api/v1/tours/{tour}/plan"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    let extra = [("JINGUO_TOURS__PLAN_TIME_LIMIT_MS", "300")];
    let config = test_config(&app.db, &extra);
    let mut bus = TestBus::build(
        &app.db,
        None,
        vec![jinguo_tour_program::worker(&config).unwrap()],
        app.store.clone(),
        &extra,
    );
    bus.start_services();
    eventually("the plan", Duration::from_secs(60), || {
        let (app, token, tour) = (&app, &token, &tour);
        async move {
            let (_, t) = app
                .get_json_as(&format!("/api/v1/tours/{tour}"), token)
                .await;
            (t["state"] == "planned").then_some(())
        }
    })
    .await;
    bus.stop().await;
    let (cookie, _) = session(&app.store, coordinator).await;
    browser.set_cookie(&cookie).await;
    for path in ["/me", "/tours", "/volunteers", &format!("/tours/{tour}")] {
        audit(path).await;
    }
    browser.goto(&format!("{base}/tours")).await;
    browser
        .click("form[action=\"/tours#new\"] p > button[value=create]")
        .await;
    browser.wait_for("#name-error").await;
    let refused_tour = browser.audit_page().await;
    browser.goto(&format!("{base}/volunteers")).await;
    browser
        .click("form[action=\"/volunteers#add\"] > button[type=submit]")
        .await;
    browser.wait_for("#add-name-error").await;
    let refused_volunteer = browser.audit_page().await;
    problems.extend(
        refused_review
            .iter()
            .map(|p| format!("the refused review: {p}")),
    );
    problems.extend(
        refused_tour
            .iter()
            .map(|p| format!("the refused tour: {p}")),
    );
    problems.extend(
        refused_volunteer
            .iter()
            .map(|p| format!("the refused volunteer: {p}")),
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
