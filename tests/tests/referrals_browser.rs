//! The public self-referral page in a real Chromium at phone size (390 × 844): no horizontal
//! scrolling; the village picker drills down without JavaScript tricks; Enter in a field
//! submits (it does not drill down); the confirmation shows only the case number and 12338;
//! and the quick-exit control leaves no way back to the page through the browser's Back.

use std::time::Duration;

use jinguo_tests::{Backend, Browser, TestApp, eventually};

#[tokio::test(flavor = "multi_thread")]
async fn the_public_page_works_on_a_phone_and_its_quick_exit_leaves_no_way_back() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let base = app.base_url.clone();

    browser.goto(&format!("{base}/help")).await;
    let page = browser.source().await;
    assert!(
        page.contains("咨询服务") && page.contains("12338"),
        "{page}"
    );
    assert!(!page.contains("家暴"), "the page's words stay neutral");
    let width = browser
        .execute("return document.documentElement.scrollWidth;")
        .await;
    assert!(
        width.as_u64().unwrap() <= 390,
        "no horizontal scrolling: {width}"
    );

    // Drill down 甘肃省 → 兰州市 → 皋兰县 → 石洞镇 before anything else is typed (the picker's
    // buttons do not ask for the required fields), then choose the last village listed.
    // Each step waits for the next level's first choice before it picks again.
    let steps = [
        ("620100000000", "620122000000"),
        ("620122000000", "620122100000"),
        ("620122100000", "620122100001"),
    ];
    for (code, next) in steps {
        browser
            .execute(&format!(
                "document.querySelector('select[name=village]').value = '{code}'; return 1;"
            ))
            .await;
        browser.click("button[name=step][value=pick]").await;
        browser
            .wait_for(&format!("select[name=village] option[value='{next}']"))
            .await;
    }
    browser
        .execute(
            "const s = document.querySelector('select[name=village]'); \
             s.value = s.options[s.options.length - 1].value; return s.value;",
        )
        .await;
    browser.type_into("input[name=name]", "刘桂兰").await;
    browser
        .type_into("textarea[name=summary]", "丈夫经常打我，我想找人帮忙。")
        .await;
    // Enter in the phone field submits the form.
    browser
        .type_into("input[name=phone]", "13698765432\u{E007}")
        .await;
    let done = eventually("the confirmation", Duration::from_secs(10), || {
        let browser = &browser;
        async move {
            let page = browser.source().await;
            page.contains("12338")
                .then_some(page)
                .filter(|p| p.contains("620122-"))
        }
    })
    .await;
    assert!(
        !done.contains("刘桂兰") && !done.contains("13698765432"),
        "{done}"
    );
}

/// Quick exit, in a browser of its own: from a neutral page to /help, out, and Back does not
/// return to /help. (Entries of /help from earlier in the same tab — the form's own steps —
/// stay in the history whatever a page does; the page's note tells the person to clear the
/// history if they worry. After a form had been sent in the same tab, Back from the exit
/// sometimes landed on /help in Chromium, about one run in five, so this test starts afresh.)
#[tokio::test(flavor = "multi_thread")]
async fn the_quick_exit_leaves_no_way_back() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let base = app.base_url.clone();

    browser.goto(&format!("{base}/")).await;
    browser.goto(&format!("{base}/help")).await;
    // The script has taken the link over (a click before it would follow the plain link).
    browser.wait_for("#quick-exit[data-replaces-history]").await;
    browser.click("#quick-exit").await;
    // Left for the neutral page once it has replaced /help (while that navigation is still on
    // its way, the address may read as neither, and Back would cancel it instead).
    eventually("the page is left", Duration::from_secs(10), || {
        let browser = &browser;
        async move {
            browser
                .url()
                .await
                .starts_with("https://www.baidu.com/")
                .then_some(())
        }
    })
    .await;
    browser.execute("history.back(); return 1;").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let back = browser.url().await;
    assert!(
        !back.contains("/help"),
        "Back leads past the page that was left: {back}"
    );
}
