//! 最美家庭 nominations end to end: submitted over the API, decided by three reviewers through
//! the links in the emails they received, on both backends.

use jinguo_auth::Secret;
use jinguo_core::org::OrgCode;
use jinguo_store::{Store, links, mail, orgs};
use jinguo_tests::{Backend, TestApp};
use serde_json::{Value, json};
use uuid::Uuid;

async fn add_staff(store: &Store, email: &str, name: &str, role: &str, org: &str) -> Uuid {
    jinguo_tests::add_staff(store, email, name, role, org).await
}

async fn token_for(store: &Store, person: Uuid) -> String {
    jinguo_tests::api_token(store, person).await
}

use jinguo_tests::nominating::{csrf_of, units};

/// The review links mailed to `person`, newest first.
async fn links_mailed_to(store: &Store, person: Uuid) -> Vec<String> {
    jinguo_tests::nominating::links_mailed_to(store, person, "【巾帼】请审核").await
}

/// The review links to `address` as the embedded default's mailbox page (/dev/mailbox) shows
/// them: what a reviewer on a development install would click.
async fn links_in_mailbox(app: &TestApp, address: &str) -> Vec<String> {
    let html = app
        .client
        .get(format!("{}/dev/mailbox", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    html.split("<div class=\"mail\">")
        .skip(1)
        .filter(|block| block.contains(&format!("收件人 {address}")) && block.contains("请审核"))
        .filter_map(|block| {
            let at = block.find("href=\"")? + "href=\"".len();
            Some(block[at..].split('"').next()?.to_owned())
        })
        .collect()
}

struct Setup {
    app: TestApp,
    admin_token: String,
    village: OrgCode,
    reviewers: [Uuid; 3],
    second_village_reviewer: Uuid,
    campaign: String,
}

async fn setup(backend: Backend, quota: u32) -> Setup {
    let app = TestApp::spawn(backend).await;
    let (county, town, village) = units(&app.store).await;
    let admin = add_staff(
        &app.store,
        "admin@example.cn",
        "县妇联管理员",
        "admin",
        county.as_str(),
    )
    .await;
    let r_village = add_staff(
        &app.store,
        "v@example.cn",
        "村审核员",
        "reviewer",
        village.as_str(),
    )
    .await;
    let r_village_2 = add_staff(
        &app.store,
        "v2@example.cn",
        "村审核员二",
        "reviewer",
        village.as_str(),
    )
    .await;
    let r_town = add_staff(
        &app.store,
        "t@example.cn",
        "乡镇审核员",
        "reviewer",
        town.as_str(),
    )
    .await;
    let r_county = add_staff(
        &app.store,
        "c@example.cn",
        "县审核员",
        "reviewer",
        county.as_str(),
    )
    .await;
    let admin_token = token_for(&app.store, admin).await;
    let created = app
        .client
        .post(format!("{}/api/v1/campaigns", app.base_url))
        .bearer_auth(&admin_token)
        .json(&json!({
            "name": "2026年皋兰县最美家庭评选", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭", "五好家庭"], "quotas": { "village": quota, "township": quota, "county": quota }, "publicity": "3d" }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let campaign = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Setup {
        app,
        admin_token,
        village,
        reviewers: [r_village, r_town, r_county],
        second_village_reviewer: r_village_2,
        campaign,
    }
}

/// Creates a campaign as the county admin; its JSON answer.
async fn create_campaign(s: &Setup, body: Value) -> Value {
    let r = s
        .app
        .client
        .post(format!("{}/api/v1/campaigns", s.app.base_url))
        .bearer_auth(&s.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

fn submission(s: &Setup, head: &str, head_id: &str) -> Value {
    json!({
        "campaign_id": s.campaign, "village": s.village.as_str(), "category": "最美家庭", "channel": "organization",
        "family": { "head_name": head, "head_id": head_id, "address": "皋兰县某村", "members": [{ "name": "王强", "relation": "丈夫" }] },
        "story": "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。"
    })
}

/// Nomination `id` as the county admin reads it over the API.
async fn shown_of(s: &Setup, id: &str) -> Value {
    s.app
        .get_json_as(&format!("/api/v1/nominations/{id}"), &s.admin_token)
        .await
        .1
}

/// Nomination `id`'s state as the county admin reads it over the API.
async fn state_of(s: &Setup, id: &str) -> String {
    shown_of(s, id).await["state"].as_str().unwrap().to_owned()
}

async fn submit(s: &Setup, body: &Value) -> reqwest::Response {
    s.app
        .client
        .post(format!("{}/api/v1/nominations", s.app.base_url))
        .bearer_auth(&s.admin_token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn nomination_reaches_publicity_through_three_emailed_reviews(backend: Backend) {
    let s = setup(backend, 1).await;
    let response = submit(&s, &submission(&s, "李秀英", "620122198001011234")).await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    for (i, (reviewer, address)) in s
        .reviewers
        .iter()
        .zip(["v@example.cn", "t@example.cn", "c@example.cn"])
        .enumerate()
    {
        let mailed = links_mailed_to(&s.app.store, *reviewer).await;
        assert_eq!(mailed.len(), 1, "one email for level {i}");
        let in_mailbox = links_in_mailbox(&s.app, address).await;
        assert_eq!(in_mailbox.len(), 1, "the mailbox shows it once");
        let url = in_mailbox[0].clone();
        assert_eq!(url, format!("{}{}", s.app.base_url, mailed[0]));
        // A mail scanner (or the reviewer) may open it any number of times: nothing happens.
        let page = browser
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let page_again = browser
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("李秀英家庭") && page.contains("事迹"),
            "{page}"
        );
        // What the reviewer decides from: the family's members, township and village by
        // name, the channel, and the earlier levels' decisions; at county level approving
        // says where it leads.
        assert!(
            page.contains("王强（丈夫）")
                && page.contains("组织推荐")
                && page.contains("<legend>审核意见</legend>"),
            "{page}"
        );
        assert!(
            !page.contains(s.village.as_str()),
            "no unit code on the page"
        );
        let earlier = ["村级审核：通过", "乡镇级审核：通过"];
        for (level, said) in earlier.iter().enumerate() {
            assert_eq!(
                page.contains(said),
                level < i,
                "level {i} shows {said}: {page}"
            );
        }
        assert_eq!(page.contains("通过，进入公示"), i == 2, "{page}");
        assert_eq!(page, page_again);
        let decided = browser
            .post(&url)
            .form(&[
                ("csrf", csrf_of(&page).as_str()),
                ("decision", "approve"),
                ("reason", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status(), 200);
        assert!(decided.text().await.unwrap().contains("审核意见已提交"));
        let again = browser
            .post(&url)
            .form(&[("csrf", csrf_of(&page).as_str()), ("decision", "approve")])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 409, "a link decides once");
        // Opened again, the used link says what was decided, by whom and when.
        let used = browser.get(&url).send().await.unwrap();
        assert_eq!(used.status(), 409);
        let used = used.text().await.unwrap();
        let who = ["村审核员", "乡镇审核员", "县审核员"][i];
        assert!(
            used.contains(&format!("{who}已于"))
                && used.contains("审核：通过")
                && !used.contains("登录链接"),
            "{used}"
        );
        if i == 0 {
            // The second village reviewer's link now says who decided.
            let other = links_mailed_to(&s.app.store, s.second_village_reviewer).await;
            let page = browser
                .get(format!("{}{}", s.app.base_url, other[0]))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 409);
            assert!(page.text().await.unwrap().contains("已由村审核员于"));
        }
    }

    let shown = shown_of(&s, &id).await;
    assert_eq!(shown["state"], "publicity");
    let events: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "submitted",
            "village_approve",
            "township_approve",
            "county_approve"
        ]
    );
    for r in s.reviewers {
        assert_eq!(
            links_mailed_to(&s.app.store, r).await.len(),
            1,
            "each reviewer mailed once"
        );
    }
}

async fn quota_and_validation_errors_name_the_field_and_rule(backend: Backend) {
    let s = setup(backend, 1).await;
    let mut bad = submission(&s, "李秀英", "620122198001011234");
    bad["story"] = json!("太短");
    let r = submit(&s, &bad).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "story");
    let mut bad = submission(&s, "李秀英", "620122198001011234");
    bad["category"] = json!("好司机");
    assert_eq!(
        submit(&s, &bad).await.json::<Value>().await.unwrap()["error"]["field"],
        "category"
    );
    let mut bad = submission(&s, "李秀英", "620122198001011234");
    bad["village"] = json!(s.village.parent().unwrap().as_str());
    let r = submit(&s, &bad).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "village",
        "a township is not a village"
    );
    let mut outside = submission(&s, "李秀英", "620122198001011234");
    outside["village"] = json!("620123100201");
    assert_eq!(
        submit(&s, &outside).await.status(),
        403,
        "outside the submitter's area"
    );

    // Two nominations from one village, quota 1: the second approval is refused.
    let first = submit(&s, &submission(&s, "李秀英", "620122198001011234"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let second = submit(&s, &submission(&s, "马丽", "620122198502023452"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let token = token_for(&s.app.store, s.reviewers[0]).await;
    let task_of = |nomination: String| {
        let store = s.app.store.clone();
        let reviewer = s.reviewers[0];
        async move {
            let id: Uuid = nomination.parse().unwrap();
            let tasks = store
                .read(move |c| {
                    Box::pin(
                        async move { jinguo_store::nominations::tasks(c, id, "village").await },
                    )
                })
                .await
                .unwrap();
            tasks
                .into_iter()
                .find(|t| t.reviewer == reviewer)
                .unwrap()
                .id
        }
    };
    let t1 = task_of(first["id"].as_str().unwrap().to_owned()).await;
    let t2 = task_of(second["id"].as_str().unwrap().to_owned()).await;
    let decide = |task: Uuid| {
        s.app
            .client
            .post(format!("{}/api/v1/reviews/{task}/decision", s.app.base_url))
            .bearer_auth(&token)
            .json(&json!({ "decision": "approve" }))
            .send()
    };
    // Released together: one of them takes the last place.
    let (a, b) = tokio::join!(decide(t1), decide(t2));
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 409],
        "one forwards, the other meets the quota"
    );
    let reject_without_reason = s
        .app
        .client
        .post(format!("{}/api/v1/reviews/{t2}/decision", s.app.base_url))
        .bearer_auth(&token)
        .json(&json!({ "decision": "reject" }))
        .send()
        .await
        .unwrap();
    // Either the task is still open (reason missing → 400) or it was the one that forwarded (409).
    assert!(matches!(reject_without_reason.status().as_u16(), 400 | 409));
}

async fn two_reviewers_released_together_make_one_transition(backend: Backend) {
    let s = setup(backend, 0).await;
    let created = submit(&s, &submission(&s, "李秀英", "620122198001011234"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let tasks = s
        .app
        .store
        .read(move |c| {
            Box::pin(async move { jinguo_store::nominations::tasks(c, id, "village").await })
        })
        .await
        .unwrap();
    assert_eq!(tasks.len(), 2, "both village reviewers have a task");
    let mut calls = Vec::new();
    for t in &tasks {
        let token = token_for(&s.app.store, t.reviewer).await;
        calls.push(
            s.app
                .client
                .post(format!(
                    "{}/api/v1/reviews/{}/decision",
                    s.app.base_url, t.id
                ))
                .bearer_auth(token)
                .json(&json!({ "decision": "approve" })),
        );
    }
    let (a, b) = (calls.remove(0), calls.remove(0));
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let (ba, bb) = (barrier.clone(), barrier.clone());
    let (ra, rb) = tokio::join!(
        async move {
            ba.wait().await;
            a.send().await.unwrap().status().as_u16()
        },
        async move {
            bb.wait().await;
            b.send().await.unwrap().status().as_u16()
        }
    );
    let mut statuses = [ra, rb];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 409],
        "one decides the level, the other finds it decided"
    );
    let history = s
        .app
        .store
        .read(move |c| Box::pin(jinguo_store::nominations::history(c, id)))
        .await
        .unwrap();
    let approvals = history
        .iter()
        .filter(|h| h.event == "village_approve")
        .count();
    assert_eq!(approvals, 1);
    // The township reviewer was asked once.
    assert_eq!(links_mailed_to(&s.app.store, s.reviewers[1]).await.len(), 1);
}

/// 退回 without a reason, from the emailed link and from the task page: the page comes back
/// with the refusal beside the reason field (tied to it for screen readers), 退回 still chosen
/// and what was typed kept; nothing was decided and the link still works.
async fn a_refused_review_keeps_the_choice_beside_the_field(backend: Backend) {
    let s = setup(backend, 0).await;
    let id = submit(&s, &submission(&s, "李秀英", "620122198001011234"))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = links_in_mailbox(&s.app, "v@example.cn").await.remove(0);
    let browser = reqwest::Client::new();
    let page = browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page);
    let return_with = |reason: &'static str| {
        browser
            .post(&url)
            .form(&[
                ("csrf", csrf.as_str()),
                ("decision", "return"),
                ("reason", reason),
            ])
            .send()
    };
    let refused = return_with("  ").await.unwrap();
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(html.contains("<title>提交未成功"), "{html}");
    assert!(
        html.contains("id=\"reason-error\" role=\"alert\">退回或不通过时请填写理由。")
            && html.contains("aria-describedby=\"reason-error\""),
        "{html}"
    );
    assert!(html.contains("value=\"return\" checked"), "{html}");
    assert!(!html.contains("value=\"approve\" checked"), "{html}");
    assert_eq!(state_of(&s, &id).await, "village_review");
    // The same link, now with a reason, decides.
    let decided = return_with("请补充事迹").await.unwrap();
    assert_eq!(decided.status(), 200);
    assert_eq!(state_of(&s, &id).await, "returned");
}

jinguo_tests::on_both_backends!(
    a_refused_review_keeps_the_choice_beside_the_field,
    nomination_reaches_publicity_through_three_emailed_reviews,
    quota_and_validation_errors_name_the_field_and_rule,
    two_reviewers_released_together_make_one_transition,
);

/// The production path: PostgreSQL, RabbitMQ carrying mail.send to the mailer, a real SMTP
/// server; each reviewer acts on the link in the mail the server received.
#[tokio::test(flavor = "multi_thread")]
async fn production_path_postgres_rabbitmq_smtp() {
    let s = setup(Backend::Postgres, 1).await;
    let sink = jinguo_tests::SmtpSink::start();
    let url = sink.url();
    let env = [("JINGUO_MAIL__SMTP_URL", url.as_str())];
    let config = jinguo_tests::test_config(&s.app.db, &env);
    let mailer = jinguo_mail::mailer_worker(&config).unwrap();
    // Every consumer of the deployment, so that what staff changes announce has its consumer.
    let nominations = jinguo_nominations::worker(&config).unwrap();
    let amqp = jinguo_tests::amqp_url();
    let mut bus = jinguo_tests::TestBus::build(
        &s.app.db,
        Some(&amqp),
        vec![mailer, nominations],
        s.app.store.clone(),
        &env,
    );
    bus.start_services();

    let created = submit(&s, &submission(&s, "李秀英", "620122198001011234"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (address, level) in [
        ("v@example.cn", "村级"),
        ("t@example.cn", "乡镇级"),
        ("c@example.cn", "县级"),
    ] {
        let mail = jinguo_tests::eventually(
            &format!("the {level} review mail"),
            std::time::Duration::from_secs(60),
            || async {
                sink.mails().into_iter().find(|m| {
                    m["to"][0] == address && m["subject"].as_str().unwrap().contains(level)
                })
            },
        )
        .await;
        assert_eq!(
            mail["subject"],
            format!("【巾帼】请审核：李秀英家庭（最美家庭·{level}）")
        );
        let text = mail["text"].as_str().unwrap();
        let at = text.find("http://").unwrap();
        let link = text[at..].split_whitespace().next().unwrap().to_owned();
        let page = browser
            .get(&link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let decided = browser
            .post(&link)
            .form(&[("csrf", csrf_of(&page).as_str()), ("decision", "approve")])
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status(), 200, "{level}");
    }
    let shown = shown_of(&s, &id).await;
    assert_eq!(shown["state"], "publicity");
    jinguo_tests::settle(&s.app.store).await;
    let review_mails = sink
        .mails()
        .into_iter()
        .filter(|m| m["subject"].as_str().unwrap().contains("请审核"))
        .count();
    assert_eq!(
        review_mails, 4,
        "village ×2 (two reviewers), township, county: each sent once"
    );
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_level_without_reviewers_is_flagged_and_the_county_admin_told() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (county, _, village) = units(&app.store).await;
    let admin = add_staff(
        &app.store,
        "admin@example.cn",
        "县妇联管理员",
        "admin",
        county.as_str(),
    )
    .await;
    let token = token_for(&app.store, admin).await;
    let campaign: Value = app
        .client
        .post(format!("{}/api/v1/campaigns", app.base_url))
        .bearer_auth(&token)
        .json(&json!({ "name": "评选", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = campaign["id"].as_str().unwrap();
    let body = json!({
        "campaign_id": cid, "village": village.as_str(), "category": "最美家庭", "channel": "self",
        "family": { "head_name": "李秀英", "head_id": "620122198001011234", "address": "某村" },
        "story": "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，是远近闻名的好家庭，值得大家学习。"
    });
    let r = app
        .client
        .post(format!("{}/api/v1/nominations", app.base_url))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let listed: Value = app
        .client
        .get(format!(
            "{}/api/v1/campaigns/{cid}/nominations?state=village_review",
            app.base_url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = listed["nominations"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["stalled"], true);
    let mails = app
        .store
        .read(|c| Box::pin(mail::recent(c, 10)))
        .await
        .unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.person_id == Some(admin) && m.subject.contains("无在岗审核员"))
    );
    let bad = app
        .client
        .get(format!(
            "{}/api/v1/campaigns/{cid}/nominations?state=done",
            app.base_url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // The county dashboard flags it.
    let cookie = Secret::generate();
    let hash = cookie.hash();
    app.store
        .transaction(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                links::insert_session(
                    c,
                    &hash,
                    admin,
                    "csrf",
                    now,
                    now + chrono::Duration::hours(1),
                )
                .await
            })
        })
        .await
        .unwrap();
    let page = app
        .client
        .get(format!("{}/admin/campaigns/{cid}?org=620122", app.base_url))
        .header("cookie", format!("jinguo_session={}", cookie.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("1 份因无在岗审核员而停滞") && html.contains("李秀英"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_in_reviewer_decides_from_the_task_list() {
    let s = setup(Backend::Sqlite, 0).await;
    let created = submit(&s, &submission(&s, "李秀英", "620122198001011234"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    // Signed in (as the sign-in link's POST would do).
    let cookie = Secret::generate();
    let (hash, csrf) = (cookie.hash(), Secret::generate().hash());
    let reviewer = s.reviewers[0];
    let c2 = csrf.clone();
    s.app
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                links::insert_session(
                    c,
                    &hash,
                    reviewer,
                    &c2,
                    now,
                    now + chrono::Duration::hours(1),
                )
                .await
            })
        })
        .await
        .unwrap();
    let header = format!("jinguo_session={}", cookie.expose());
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let me = browser
        .get(format!("{}/me", s.app.base_url))
        .header("cookie", &header)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        me.contains("待我审核") && me.contains("李秀英家庭（最美家庭·村级审核）"),
        "{me}"
    );
    let at = me.find("/tasks/").unwrap();
    let task_path = me[at..].split('"').next().unwrap().to_owned();
    let page = browser
        .get(format!("{}{task_path}", s.app.base_url))
        .header("cookie", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{task_path}\"")));
    let forged = browser
        .post(format!("{}{task_path}", s.app.base_url))
        .header("cookie", &header)
        .form(&[("csrf", "x"), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // 不通过 without a reason: the task page again, the choice kept and the refusal beside
    // the field.
    let refused = browser
        .post(format!("{}{task_path}", s.app.base_url))
        .header("cookie", &header)
        .form(&[
            ("csrf", csrf.as_str()),
            ("decision", "reject"),
            ("reason", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("value=\"reject\" checked") && html.contains("id=\"reason-error\""),
        "{html}"
    );
    assert!(html.contains(&format!("action=\"{task_path}\"")));
    let decided = browser
        .post(format!("{}{task_path}", s.app.base_url))
        .header("cookie", &header)
        .form(&[("csrf", csrf.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 200);
    assert_eq!(state_of(&s, &id).await, "township_review");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_public_self_nomination_form_submits_and_names_what_is_wrong() {
    let s = setup(Backend::Sqlite, 0).await;
    let browser = reqwest::Client::new();
    let url = format!("{}/nominate/{}", s.app.base_url, s.campaign);
    let form = browser.get(&url).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("本人自荐"));
    let story = "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，是远近闻名的好家庭，值得大家学习。";
    let fields = |story: &'static str| {
        vec![
            ("village", s.village.as_str().to_owned()),
            ("category", "最美家庭".to_owned()),
            ("head_name", "李秀英".to_owned()),
            ("head_id", "13800001111".to_owned()),
            ("address", "某村".to_owned()),
            ("phone", "13800001111".to_owned()),
            ("story", story.to_owned()),
        ]
    };
    let short = browser
        .post(&url)
        .form(&fields("太短了"))
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 400);
    assert!(short.text().await.unwrap().contains("家庭事迹："));
    let ok = browser
        .post(&url)
        .form(&fields(story))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    assert!(ok.text().await.unwrap().contains("自荐已提交"));
    // The village reviewers were asked.
    assert_eq!(links_mailed_to(&s.app.store, s.reviewers[0]).await.len(), 1);
    let again = browser
        .post(&url)
        .form(&fields(story))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        422,
        "one open nomination per household per campaign"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_all_rule_every_reviewer_must_approve() {
    let s = setup(Backend::Postgres, 0).await;
    let created = create_campaign(&s, json!({ "name": "全员审核评选", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d", "decide": "all" } })).await;
    let mut body = submission(&s, "李秀英", "620122198001011234");
    body["campaign_id"] = created["id"].clone();
    let n = submit(&s, &body).await.json::<Value>().await.unwrap();
    let id: Uuid = n["id"].as_str().unwrap().parse().unwrap();
    let tasks = s
        .app
        .store
        .read(move |c| {
            Box::pin(async move { jinguo_store::nominations::tasks(c, id, "village").await })
        })
        .await
        .unwrap();
    let state_after = |task: Uuid, reviewer: Uuid| {
        let s = &s;
        async move {
            let token = token_for(&s.app.store, reviewer).await;
            let r: Value = s
                .app
                .client
                .post(format!("{}/api/v1/reviews/{task}/decision", s.app.base_url))
                .bearer_auth(token)
                .json(&json!({ "decision": "approve" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["state"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(
        state_after(tasks[0].id, tasks[0].reviewer).await,
        "village_review",
        "one of two approvals"
    );
    assert_eq!(
        state_after(tasks[1].id, tasks[1].reviewer).await,
        "township_review",
        "both approved"
    );
}

/// 公示 periods end by timer: village 公示 leads on to the township, county 公示 to the award.
#[tokio::test(flavor = "multi_thread")]
async fn publicity_periods_end_by_timer_and_lead_to_the_award() {
    let s = setup(Backend::Sqlite, 0).await;
    let mut bus = jinguo_tests::nominating::nominations_bus(&s.app);
    let created = create_campaign(&s, json!({ "name": "公示评选", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 },
                       "village_publicity": "1s", "publicity": "1s" } })).await;
    let mut body = submission(&s, "李秀英", "620122198001011234");
    body["campaign_id"] = created["id"].clone();
    let id = submit(&s, &body).await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nid: Uuid = id.parse().unwrap();
    let approve = |level: &'static str, reviewer: Uuid| {
        let s = &s;
        async move {
            let tasks = s
                .app
                .store
                .read(move |c| {
                    Box::pin(async move { jinguo_store::nominations::tasks(c, nid, level).await })
                })
                .await
                .unwrap();
            let task = tasks.iter().find(|t| t.reviewer == reviewer).unwrap().id;
            let token = token_for(&s.app.store, reviewer).await;
            let r: Value = s
                .app
                .client
                .post(format!("{}/api/v1/reviews/{task}/decision", s.app.base_url))
                .bearer_auth(token)
                .json(&json!({ "decision": "approve" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["state"].as_str().unwrap().to_owned()
        }
    };
    let state_is = |want: &'static str| {
        let s = &s;
        let id = id.clone();
        async move {
            jinguo_tests::eventually(want, std::time::Duration::from_secs(30), || async {
                let shown: Value = s
                    .app
                    .client
                    .get(format!("{}/api/v1/nominations/{id}", s.app.base_url))
                    .bearer_auth(&s.admin_token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                (shown["state"] == want).then_some(shown)
            })
            .await
        }
    };
    assert_eq!(
        approve("village", s.reviewers[0]).await,
        "village_publicity"
    );
    state_is("township_review").await;
    assert_eq!(approve("township", s.reviewers[1]).await, "county_review");
    assert_eq!(approve("county", s.reviewers[2]).await, "publicity");
    let shown = state_is("awarded").await;
    let events: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "submitted",
            "village_approve",
            "village_publicity_ended",
            "township_approve",
            "county_approve",
            "publicity_ended"
        ]
    );
    bus.stop().await;
}

/// Per-level deadlines count working days on the calendar; reviewers are reminded before them.
#[tokio::test(flavor = "multi_thread")]
async fn level_deadlines_are_in_the_mail_and_reminded() {
    let s = setup(Backend::Sqlite, 0).await;
    let mut bus = jinguo_tests::nominating::nominations_bus(&s.app);
    let created = create_campaign(&s, json!({ "name": "限期评选", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d",
                       "deadlines": { "village": { "working_days": 2 } } } })).await;
    let mut body = submission(&s, "李秀英", "620122198001011234");
    body["campaign_id"] = created["id"].clone();
    assert_eq!(submit(&s, &body).await.status(), 201);

    // The due date: two working days from today, on the calendar (tested against the official
    // dates in the core), at the close of office hours.
    let config = jinguo_tests::test_config(&s.app.db, &[]);
    let calendar = config.calendar.load().unwrap();
    let tz = config.calendar.time_zone;
    let today = jinguo_bus::now().with_timezone(&tz).date_naive();
    let due = calendar.add_working_days(today, 2, Some(&s.village));
    assert!(calendar.is_working_day(due, Some(&s.village)));
    let mails = s
        .app
        .store
        .read(|c| Box::pin(mail::recent(c, 50)))
        .await
        .unwrap();
    let review = mails
        .iter()
        .find(|m| m.person_id == Some(s.reviewers[0]) && m.subject.contains("请审核"))
        .unwrap();
    let expected = format!(
        "{}年{}月{}日",
        chrono::Datelike::year(&due),
        chrono::Datelike::month(&due),
        chrono::Datelike::day(&due)
    );
    assert!(
        review.text_body.contains(&format!("请于 {expected}")),
        "{}",
        review.text_body
    );

    // Two working days away is more than a day: no reminder yet.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let reminders = |store: Store| async move {
        store
            .read(|c| Box::pin(mail::recent(c, 50)))
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.subject.starts_with("【巾帼】提醒"))
            .count()
    };
    assert_eq!(reminders(s.app.store.clone()).await, 0);
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_within_a_day_reminds_the_open_reviewers() {
    let s = setup(Backend::Sqlite, 0).await;
    let mut bus = jinguo_tests::nominating::nominations_bus(&s.app);
    let config = jinguo_tests::test_config(&s.app.db, &[]);
    let today = jinguo_bus::now()
        .with_timezone(&config.calendar.time_zone)
        .date_naive();
    let created = create_campaign(&s, json!({ "name": "当日评选", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d",
                       "deadlines": { "village": { "date": today.to_string() } } } })).await;
    let mut body = submission(&s, "李秀英", "620122198001011234");
    body["campaign_id"] = created["id"].clone();
    assert_eq!(submit(&s, &body).await.status(), 201);
    let store = s.app.store.clone();
    let reminded = jinguo_tests::eventually(
        "reminders to both village reviewers",
        std::time::Duration::from_secs(30),
        || async {
            let mails = store.read(|c| Box::pin(mail::recent(c, 50))).await.unwrap();
            let r: Vec<_> = mails
                .into_iter()
                .filter(|m| m.subject.starts_with("【巾帼】提醒"))
                .collect();
            (r.len() >= 2).then_some(r)
        },
    )
    .await;
    assert!(reminded.iter().any(|m| m.person_id == Some(s.reviewers[0])));
    assert!(
        reminded
            .iter()
            .any(|m| m.person_id == Some(s.second_village_reviewer))
    );
    assert!(
        reminded[0].text_body.contains("/tasks/"),
        "the reminder leads to the task list page"
    );
    // No mailer runs here: mail.send waits in the outbox; give a stray second reminder time.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let count = s
        .app
        .store
        .read(|c| Box::pin(mail::recent(c, 50)))
        .await
        .unwrap()
        .iter()
        .filter(|m| m.subject.starts_with("【巾帼】提醒"))
        .count();
    assert_eq!(count, 2, "reminded once each");
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_returned_nomination_is_resubmitted_and_can_be_withdrawn() {
    let s = setup(Backend::Postgres, 0).await;
    let id = submit(&s, &submission(&s, "李秀英", "620122198001011234"))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nid: Uuid = id.parse().unwrap();
    let tasks = s
        .app
        .store
        .read(move |c| {
            Box::pin(async move { jinguo_store::nominations::tasks(c, nid, "village").await })
        })
        .await
        .unwrap();
    let token = token_for(&s.app.store, tasks[0].reviewer).await;
    let post = |path: String, token: String, body: Value| {
        s.app
            .client
            .post(format!("{}{path}", s.app.base_url))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let returned = post(
        format!("/api/v1/reviews/{}/decision", tasks[0].id),
        token.clone(),
        json!({ "decision": "return" }),
    )
    .await
    .unwrap();
    assert_eq!(returned.status(), 400, "a return needs a reason");
    assert_eq!(
        returned.json::<Value>().await.unwrap()["error"]["field"],
        "reason"
    );
    let returned = post(
        format!("/api/v1/reviews/{}/decision", tasks[0].id),
        token,
        json!({ "decision": "return", "reason": "请补充事迹细节" }),
    )
    .await
    .unwrap();
    assert_eq!(returned.json::<Value>().await.unwrap()["state"], "returned");
    let again = post(format!("/api/v1/nominations/{id}/resubmit"), s.admin_token.clone(), json!({ "story": "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，补充：她还组织了村里的巾帼志愿服务队，帮助留守老人和儿童。" })).await.unwrap();
    assert_eq!(
        again.json::<Value>().await.unwrap()["state"],
        "village_review"
    );
    assert_eq!(
        links_mailed_to(&s.app.store, s.reviewers[0]).await.len(),
        2,
        "asked again"
    );
    let withdrawn = post(
        format!("/api/v1/nominations/{id}/withdraw"),
        s.admin_token.clone(),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(
        withdrawn.json::<Value>().await.unwrap()["state"],
        "withdrawn"
    );
    let twice = post(
        format!("/api/v1/nominations/{id}/withdraw"),
        s.admin_token.clone(),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(twice.status(), 409);
}

/// A reviewer on a phone: opens the link from the mail in a real browser, reads the page,
/// clicks the button. Only the click decides.
#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_decides_in_a_real_browser() {
    let s = setup(Backend::Sqlite, 0).await;
    let id = submit(&s, &submission(&s, "李秀英", "620122198001011234"))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = links_in_mailbox(&s.app, "v@example.cn").await.remove(0);
    let browser = jinguo_tests::Browser::start().await;
    browser.goto(&link).await;
    let page = browser.source().await;
    assert!(
        page.contains("村级审核：李秀英家庭") && page.contains("提交审核意见"),
        "{page}"
    );
    assert_eq!(
        state_of(&s, &id).await,
        "village_review",
        "opening the page decided nothing"
    );
    browser.click("button[type=submit]").await;
    // The form's POST navigates; wait for the answer page.
    jinguo_tests::eventually(
        "the answer page",
        std::time::Duration::from_secs(20),
        || async {
            browser
                .source()
                .await
                .contains("审核意见已提交")
                .then_some(())
        },
    )
    .await;
    assert_eq!(state_of(&s, &id).await, "township_review");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publicity_in_working_days_ends_on_a_working_day() {
    let s = setup(Backend::Sqlite, 0).await;
    let created = create_campaign(&s, json!({ "name": "工作日公示", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "2wd" } })).await;
    let mut body = submission(&s, "李秀英", "620122198001011234");
    body["campaign_id"] = created["id"].clone();
    let id: Uuid = submit(&s, &body).await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for (level, reviewer) in [
        ("village", s.reviewers[0]),
        ("township", s.reviewers[1]),
        ("county", s.reviewers[2]),
    ] {
        let tasks = s
            .app
            .store
            .read(move |c| {
                Box::pin(async move { jinguo_store::nominations::tasks(c, id, level).await })
            })
            .await
            .unwrap();
        let task = tasks.iter().find(|t| t.reviewer == reviewer).unwrap().id;
        let token = token_for(&s.app.store, reviewer).await;
        let r = s
            .app
            .client
            .post(format!("{}/api/v1/reviews/{task}/decision", s.app.base_url))
            .bearer_auth(token)
            .json(&json!({ "decision": "approve" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let key = format!("publicity:{id}:publicity");
    let timer = s
        .app
        .store
        .read(move |c| Box::pin(async move { jinguo_store::timers::get(c, &key).await }))
        .await
        .unwrap()
        .unwrap();
    let config = jinguo_tests::test_config(&s.app.db, &[]);
    let calendar = config.calendar.load().unwrap();
    let local = timer.due_at.with_timezone(&config.calendar.time_zone);
    let today = jinguo_bus::now()
        .with_timezone(&config.calendar.time_zone)
        .date_naive();
    assert_eq!(
        local.date_naive(),
        calendar.add_working_days(today, 2, Some(&s.village))
    );
    assert_eq!(local.time(), config.calendar.office_hours.close);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_county_case_officers_learn_why_a_flagged_household_is_not_eligible() {
    let s = setup(Backend::Postgres, 0).await;
    let first = submit(&s, &submission(&s, "张梅", "620122197703035674"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let id: Uuid = first["id"].as_str().unwrap().parse().unwrap();
    s.app
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let n = jinguo_store::nominations::get(c, id).await?.unwrap();
                jinguo_store::nominations::set_incident_flag(c, n.household_id, true).await
            })
        })
        .await
        .unwrap();
    // Withdrawn, so that the ordinary one-open-nomination rule does not answer first.
    let withdrawn = s
        .app
        .client
        .post(format!(
            "{}/api/v1/nominations/{id}/withdraw",
            s.app.base_url
        ))
        .bearer_auth(&s.admin_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 200);
    let officer = add_staff(
        &s.app.store,
        "officer@example.cn",
        "个案专员",
        "case_officer",
        "620122",
    )
    .await;
    let token = token_for(&s.app.store, officer).await;
    let mut body = submission(&s, "张梅", "620122197703035674");
    body["category"] = json!("五好家庭");
    let r = s
        .app
        .client
        .post(format!("{}/api/v1/nominations", s.app.base_url))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "incident_flag");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("反家暴")
    );
    let neutral = submit(&s, &body).await;
    assert_eq!(
        neutral.status(),
        201,
        "the admin's submission is accepted like any other (and held out of sight)"
    );
    let neutral: Value = neutral.json().await.unwrap();
    assert_eq!(neutral["state"], "village_review");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_level_without_reviewers_can_be_skipped_by_campaign_rule() {
    let s = setup(Backend::Sqlite, 0).await;
    let created = create_campaign(&s, json!({ "name": "跳级评选", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d", "no_reviewer": "skip" } })).await;
    // A second village of the same township: nobody reviews there.
    let town = s.village.parent().unwrap();
    let other = s
        .app
        .store
        .read(move |c| Box::pin(orgs::children(c, town)))
        .await
        .unwrap()[1]
        .code;
    let mut body = submission(&s, "李秀英", "620122198001011234");
    body["campaign_id"] = created["id"].clone();
    body["village"] = json!(other.as_str());
    let id = submit(&s, &body).await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = shown_of(&s, &id).await;
    assert_eq!(shown["state"], "township_review");
    let events: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["submitted", "village_skipped"]);
    assert_eq!(
        links_mailed_to(&s.app.store, s.reviewers[1]).await.len(),
        1,
        "the township reviewer was asked"
    );
}
