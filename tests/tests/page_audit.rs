//! Every page a person meets, audited in a real Chromium at phone size (390 × 844): no
//! horizontal scrolling, no English in what people read, and no critical or serious WCAG 2.x
//! A/AA violation that axe-core finds. One test walks the pages so one browser serves them all:
//! the public ones, a reviewer's link, a case officer's and a tour coordinator's.

use std::time::Duration;

use jinguo_tests::nominating::{campaign, links_mailed_to, units};
use jinguo_tests::touring::published_tour;
use jinguo_tests::{Backend, Browser, TestApp, add_staff, api_token, eventually, session};

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

    // A lecture tour, signed out: a lecturer's decline page, and a host's attendance page,
    // also refused (the topic question left unanswered).
    let mail_dir = tempfile::tempdir().unwrap();
    let mut touring = published_tour(&app, mail_dir.path().to_str().unwrap()).await;
    let mut decline = None;
    for v in &touring.draft.volunteers {
        decline = links_mailed_to(&app.store, *v, "【巾帼】宣讲安排")
            .await
            .into_iter()
            .next();
        if decline.is_some() {
            break;
        }
    }
    audit(&decline.expect("a lecturer's decline link")).await;
    let (_, schedule) = app
        .get_json_as(
            &format!("/api/v1/tours/{}/schedule", touring.draft.tour),
            &touring.draft.token,
        )
        .await;
    let talk = &schedule["sessions"][0];
    let key = format!("tour.attendance:{}:0", talk["session"].as_str().unwrap());
    app.store
        .transaction(move |c| {
            Box::pin(
                async move { jinguo_store::timers::reschedule(c, &key, chrono::Utc::now()).await },
            )
        })
        .await
        .unwrap();
    let host = touring.draft.hosts[talk["village_code"].as_str().unwrap()];
    let attendance = eventually("the attendance request", Duration::from_secs(30), || {
        let store = &app.store;
        async move {
            links_mailed_to(store, host, "【巾帼】请记录宣讲情况")
                .await
                .into_iter()
                .next()
        }
    })
    .await;
    audit(&attendance).await;
    browser.type_into("#women", "36").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("#topic_covered-error").await;
    let refused_attendance = browser.audit_page().await;
    touring.bus.stop().await;

    // Signed in as a case officer.
    let (cookie, _) = session(&app.store, officer).await;
    browser.set_cookie(&cookie).await;
    for path in ["/me", "/referrals", "/referrals/new"] {
        audit(path).await;
    }

    // Signed in as the county's coordinator: the tour and volunteer pages, the published tour
    // (its tables per day, lecturers, coverage, map and removal form), and both forms refused.
    let tour = touring.draft.tour.clone();
    let coordinator = touring.draft.coordinator;
    let (cookie, _) = session(&app.store, coordinator).await;
    browser.set_cookie(&cookie).await;
    for path in ["/me", "/tours", "/volunteers", &format!("/tours/{tour}")] {
        audit(path).await;
    }
    // A township's coordinator: her 工作台 with the volunteers-only tile, her township's list.
    let township = add_staff(
        &app.store,
        "town@example.cn",
        "镇协调员",
        "coordinator",
        "620122103000",
    )
    .await;
    let (cookie, _) = session(&app.store, township).await;
    browser.set_cookie(&cookie).await;
    for path in ["/me", "/volunteers"] {
        audit(path).await;
    }
    let (cookie, _) = session(&app.store, coordinator).await;
    browser.set_cookie(&cookie).await;
    // A draft tour's page, with its village and venue form open and refused (nothing ticked).
    let draft: serde_json::Value = app
        .client
        .post(format!("{base}/api/v1/tours"))
        .bearer_auth(&touring.draft.token)
        .json(&serde_json::json!({
            "name": "草稿宣讲", "county": "620122000000", "townships": ["620122103000"],
            "from": "2027-03-01", "to": "2027-03-12", "topic": "家风家教",
            "session_minutes": 60, "day_start": "09:00", "day_end": "17:00"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let draft_page = format!("/tours/{}", draft["id"].as_str().unwrap());
    audit(&draft_page).await;
    browser.goto(&format!("{base}{draft_page}")).await;
    browser.click("#villages + details > summary").await;
    browser
        .execute("document.querySelectorAll('input[name=v]').forEach(c => c.checked = false); return true;")
        .await;
    browser
        .click("form[action$=\"/villages#villages\"] button[type=submit]")
        .await;
    browser.wait_for("#villages-error").await;
    let refused_villages = browser.audit_page().await;
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
        refused_villages
            .iter()
            .map(|p| format!("the refused village form: {p}")),
    );
    problems.extend(
        refused_attendance
            .iter()
            .map(|p| format!("the refused attendance record: {p}")),
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
