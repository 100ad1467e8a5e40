//! Deadlines that pass with a level open, on both paths: `escalate` happens exactly once with
//! two schedulers running, and the level above decides on behalf through its emailed link
//! (recorded as such); `return` sends the nomination back to its nominator, mailed once; 催办 by
//! hand mails the reviewers once a day per level, refused the second time; a county admin hands
//! an open task to a named reviewer of its unit (the old link then says so).

use std::time::Duration;

use jinguo_store::Store;
use jinguo_tests::nominating::{ReviewWorld, links_mailed_to, mails_to};
use jinguo_tests::{Transport, add_staff, api_token, session};
use serde_json::json;
use uuid::Uuid;

const ADDRESS: &str = "皋兰县石洞镇魏家庄村三社18号";

fn rules(on_village_deadline: &str) -> serde_json::Value {
    json!({ "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 },
            "publicity": "3d", "deadlines": { "village": { "working_days": 5 } },
            "on_deadline": { "village": on_village_deadline } })
}

/// Makes the village deadline timer of `n` due now, as if five working days had gone by.
async fn deadline_now(w: &ReviewWorld, n: Uuid) {
    let due = w.open_tasks(n, "village").await[0]
        .due_at
        .expect("the village level has a deadline");
    let key = format!("review-deadline:{n}:village:{}", due.timestamp());
    let moved = w
        .app
        .store
        .transaction(move |c| {
            Box::pin(
                async move { jinguo_store::timers::reschedule(c, &key, jinguo_bus::now()).await },
            )
        })
        .await
        .unwrap();
    assert!(moved, "the deadline timer is set when the level opens");
}

async fn a_late_level_escalates_once_and_the_level_above_decides_for_it(transport: Transport) {
    let mut w = ReviewWorld::start(transport, rules("escalate")).await;
    let store: Store = w.app.store.clone();
    let [village_reviewer, township_reviewer, _] = w.reviewers;
    // A second scheduler races the first for every timer.
    let second = w.bus.spawn_service("reminders");
    let n = w
        .submit("李秀英", "620122198001011234", ADDRESS, "13912345678")
        .await;
    deadline_now(&w, n).await;
    let notice = "【巾帼】催办：李秀英家庭的推荐村级审核已逾期";
    let links = jinguo_tests::eventually("the 催办 mail", Duration::from_secs(30), || async {
        let links = links_mailed_to(&store, township_reviewer, notice).await;
        (!links.is_empty()).then_some(links)
    })
    .await;
    // Give a second firing every chance to happen (both schedulers poll twice a second), then
    // count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(links.len(), 1, "one 催办 mail");
    let events = w.events(n).await;
    assert_eq!(
        events.iter().filter(|e| *e == "escalated").count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        w.state_of(n).await,
        "village_review",
        "escalating decides nothing"
    );

    // The township reviewer opens the link (GET decides nothing) and approves for the village.
    let (status, page) = w.page(&links[0]).await;
    assert_eq!(status, 200);
    assert!(page.contains("李秀英"), "{page}");
    assert_eq!(w.state_of(n).await, "village_review");
    let (status, answer) = w.decide_by_link(&links[0], &page, "approve").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(w.state_of(n).await, "township_review");
    let shown = w.shown(n).await;
    let steps = shown["history"].as_array().unwrap();
    let on_behalf = steps
        .iter()
        .position(|h| h["event"] == "decided_on_behalf")
        .expect("recorded as on behalf");
    assert_eq!(steps[on_behalf]["actor"], township_reviewer.to_string());
    assert_eq!(steps[on_behalf + 1]["event"], "village_approve");
    // The village reviewer's own task closed with the level.
    assert!(w.open_tasks(n, "village").await.is_empty());
    assert!(!w.open_tasks(n, "township").await.is_empty());
    let _ = village_reviewer;
    w.bus.stop().await;
    second.abort();
}

async fn a_late_level_returns_to_the_nominator(transport: Transport) {
    let mut w = ReviewWorld::start(transport, rules("return")).await;
    let n = w
        .submit("王桂兰", "620122198202022343", ADDRESS, "13987654321")
        .await;
    deadline_now(&w, n).await;
    w.state_becomes(n, "returned").await;
    let mails = mails_to(&w.app.store, w.admin, "【巾帼】王桂兰家庭的推荐已被退回").await;
    assert_eq!(mails.len(), 1, "the nominator is told once");
    assert!(
        mails[0].1.contains("逾期"),
        "with the reason: {}",
        mails[0].1
    );
    assert!(
        mails[0].1.contains(&format!("/nominations/{n}")),
        "and the page to resubmit from"
    );
    assert!(w.events(n).await.contains(&"deadline_returned".to_owned()));
    w.bus.stop().await;
}

async fn urging_by_hand_is_once_a_day(transport: Transport) {
    let mut w = ReviewWorld::start(transport, rules("flag")).await;
    let [village_reviewer, _, county_reviewer] = w.reviewers;
    let n = w
        .submit("赵秀兰", "620122198001011234", ADDRESS, "13912345678")
        .await;
    let urge = |token: String| {
        let w = &w;
        async move {
            let r = w
                .app
                .client
                .post(format!("{}/api/v1/nominations/{n}/urge", w.app.base_url))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    // A reviewer is not a county admin: refused on the API.
    let (status, _) = urge(api_token(&w.app.store, county_reviewer).await).await;
    assert_eq!(status, 403);
    let (status, body) = urge(w.admin_token.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["urged"], 1);
    let (status, body) = urge(w.admin_token.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("每天最多催办一次"),
        "{body}"
    );
    // An overdue row of the dashboard has the 催办 button for the admin, not for a reviewer.
    w.app
        .db
        .execute(&format!(
            "UPDATE review_tasks SET due_at = '2026-01-05 09:00:00' WHERE nomination_id = '{n}'"
        ))
        .await;
    let dashboard = |person: Uuid| {
        let w = &w;
        async move {
            let (cookie, _) = session(&w.app.store, person).await;
            w.app
                .client
                .get(format!(
                    "{}/admin/campaigns/{}?overdue=1",
                    w.app.base_url, w.campaign
                ))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let admin_sees = dashboard(w.admin).await;
    assert!(
        admin_sees.contains("赵秀兰家庭") && admin_sees.contains(&format!("/nominations/{n}/urge")),
        "{admin_sees}"
    );
    let reviewer_sees = dashboard(county_reviewer).await;
    assert!(
        reviewer_sees.contains("赵秀兰家庭") && !reviewer_sees.contains("/urge"),
        "{reviewer_sees}"
    );
    // The button (as the nomination page's) goes through the same rule.
    let (cookie, csrf) = session(&w.app.store, w.admin).await;
    let page = w
        .app
        .client
        .post(format!("{}/nominations/{n}/urge", w.app.base_url))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 409);
    assert!(page.text().await.unwrap().contains("每天最多催办一次"));
    let mails = mails_to(
        &w.app.store,
        village_reviewer,
        "【巾帼】催办：请尽快完成赵秀兰家庭",
    )
    .await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].1.contains("/tasks/"), "{}", mails[0].1);
    assert!(w.events(n).await.contains(&"urged".to_owned()));
    w.bus.stop().await;
}

async fn an_admin_hands_a_task_to_a_named_reviewer(transport: Transport) {
    let mut w = ReviewWorld::start(transport, rules("flag")).await;
    let store = w.app.store.clone();
    let [village_reviewer, township_reviewer, _] = w.reviewers;
    let n = w
        .submit("孙秀英", "620122198001011234", ADDRESS, "13912345678")
        .await;
    let old_link = links_mailed_to(&store, village_reviewer, "【巾帼】请审核").await[0].clone();
    // Appointed after the level opened: no task of her own yet.
    let newcomer = add_staff(
        &store,
        "v2@example.cn",
        "新审核员",
        "reviewer",
        w.village.as_str(),
    )
    .await;
    let task = w.open_tasks(n, "village").await[0].id;
    // The admin's nomination page offers the unit's other reviewers by name.
    let (cookie, csrf) = session(&store, w.admin).await;
    let page = w
        .app
        .client
        .get(format!("{}/nominations/{n}", w.app.base_url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("转交审核任务") && page.contains("新审核员"),
        "{page}"
    );
    let reassign = |to: Uuid, token: String| {
        let w = &w;
        async move {
            let r = w
                .app
                .client
                .post(format!("{}/api/v1/reviews/{task}/reassign", w.app.base_url))
                .bearer_auth(token)
                .json(&json!({ "reviewer": to }))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    // Only to a reviewer of the task's unit, and only by an admin.
    let (status, body) = reassign(township_reviewer, w.admin_token.clone()).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("reviewer")),
        "{body}"
    );
    // The page's form keeps the same rule, the refusal beside its field.
    let refused = w
        .app
        .client
        .post(format!("{}/nominations/{n}/reassign", w.app.base_url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("task", task.to_string().as_str()),
            ("reviewer", township_reviewer.to_string().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("reviewer-error") && refused.contains("请选择本单位在岗的审核员"),
        "{refused}"
    );
    let (status, _) = reassign(newcomer, api_token(&store, village_reviewer).await).await;
    assert_eq!(status, 403);
    let (status, body) = reassign(newcomer, w.admin_token.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        links_mailed_to(&store, newcomer, "【巾帼】请审核")
            .await
            .len(),
        1
    );
    let open = w.open_tasks(n, "village").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].reviewer, newcomer);
    // The old link says it was handed on, and decides nothing.
    let (status, old) = w.page(&old_link).await;
    assert_eq!(status, 409);
    assert!(
        old.contains("任务已转交") && old.contains("转交给新审核员"),
        "{old}"
    );
    assert!(
        w.events(n)
            .await
            .contains(&"reassigned_by_admin".to_owned())
    );
    assert_eq!(w.approve(n, "village", newcomer).await, "township_review");
    w.bus.stop().await;
}

jinguo_tests::on_both_transports!(
    an_admin_hands_a_task_to_a_named_reviewer,
    a_late_level_escalates_once_and_the_level_above_decides_for_it,
    a_late_level_returns_to_the_nominator,
    urging_by_hand_is_once_a_day,
);
