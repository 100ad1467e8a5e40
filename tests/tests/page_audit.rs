//! Every page a person meets, audited in a real Chromium at phone size (390 × 844): no
//! horizontal scrolling, no English in what people read, and no critical or serious WCAG 2.x
//! A/AA violation that axe-core finds. One test walks the pages so one browser serves them all.

use jinguo_tests::{Backend, Browser, TestApp, add_staff, session};

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
    let (cookie, _) = session(&app.store, officer).await;
    browser.set_cookie(&cookie).await;
    for path in ["/me", "/referrals", "/referrals/new"] {
        audit(path).await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
