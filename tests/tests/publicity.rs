//! 公示 end to end, on both paths (PostgreSQL + RabbitMQ, and the embedded SQLite + in-process
//! bus): three levels → 公示 on the public page → an objection pauses it → dismissed, it resumes
//! for the time that was left → awarded; a second family objected and upheld → revoked. Each
//! mail once; the public pages never show an ID number, phone or address.

use std::time::Duration;

use jinguo_core::org::OrgCode;
use jinguo_store::Store;
use jinguo_tests::nominating::{campaign_with_rules, csrf_of, links_mailed_to, mails_to, units};
use jinguo_tests::{Backend, TestApp, TestBus, Transport, add_staff, api_token};
use serde_json::{Value, json};
use uuid::Uuid;

const HEAD_ID: &str = "620122198001011234";
const OTHER_ID: &str = "620122198202022343";
const ADDRESS: &str = "皋兰县石洞镇魏家庄村三社18号";
const PHONE: &str = "13912345678";
const OTHER_PHONE: &str = "13987654321";
const OBJECTOR_PHONE: &str = "13800001111";

struct World {
    app: TestApp,
    bus: TestBus,
    admin: Uuid,
    admin_token: String,
    /// Village, township and county reviewers.
    reviewers: [Uuid; 3],
    village: OrgCode,
    campaign: String,
}

async fn world(transport: Transport, rules: Value) -> World {
    let backend = match transport {
        Transport::RabbitMq => Backend::Postgres,
        Transport::InProcess => Backend::Sqlite,
    };
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
    let v = add_staff(
        &app.store,
        "v@example.cn",
        "村审核员",
        "reviewer",
        village.as_str(),
    )
    .await;
    let t = add_staff(
        &app.store,
        "t@example.cn",
        "乡镇审核员",
        "reviewer",
        town.as_str(),
    )
    .await;
    let c = add_staff(
        &app.store,
        "c@example.cn",
        "县审核员",
        "reviewer",
        county.as_str(),
    )
    .await;
    let admin_token = api_token(&app.store, admin).await;
    let campaign = campaign_with_rules(&app, &admin_token, "2026年最美家庭", rules).await;
    let url = jinguo_tests::amqp_url();
    let amqp = (transport == Transport::RabbitMq).then_some(url.as_str());
    let config = jinguo_tests::test_config(
        &app.db,
        &[("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str())],
    );
    let mut bus = TestBus::build(
        &app.db,
        amqp,
        vec![jinguo_nominations::worker(&config).unwrap()],
        app.store.clone(),
        &[("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str())],
    );
    bus.start_services();
    World {
        app,
        bus,
        admin,
        admin_token,
        reviewers: [v, t, c],
        village,
        campaign,
    }
}

/// Submits a family (its story holds the address and a phone, which the public must not see).
async fn submit(w: &World, head: &str, head_id: &str, phone: &str) -> Uuid {
    let body = json!({
        "campaign_id": w.campaign, "village": w.village.as_str(), "category": "最美家庭", "channel": "organization",
        "family": { "head_name": head, "head_id": head_id, "address": ADDRESS, "phone": phone,
                    "members": [{ "name": "王强", "relation": "丈夫" }] },
        "story": format!("{head}一家住在{ADDRESS}，联系电话{phone}。二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。")
    });
    let r = w
        .app
        .client
        .post(format!("{}/api/v1/nominations", w.app.base_url))
        .bearer_auth(&w.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, r) = (r.status(), r.json::<Value>().await.unwrap());
    assert_eq!(status, 201, "{r}");
    r["id"].as_str().unwrap().parse().unwrap()
}

/// The reviewer's open task at `level` approved over the API; the state after it.
async fn approve(w: &World, n: Uuid, level: &'static str, reviewer: Uuid) -> String {
    let tasks = w
        .app
        .store
        .read(move |c| Box::pin(async move { jinguo_store::nominations::tasks(c, n, level).await }))
        .await
        .unwrap();
    let task = tasks
        .iter()
        .find(|t| t.reviewer == reviewer && !t.closed)
        .unwrap()
        .id;
    let token = api_token(&w.app.store, reviewer).await;
    let r: Value = w
        .app
        .client
        .post(format!("{}/api/v1/reviews/{task}/decision", w.app.base_url))
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

async fn to_publicity(w: &World, n: Uuid) {
    let [v, t, c] = w.reviewers;
    assert_eq!(approve(w, n, "village", v).await, "township_review");
    assert_eq!(approve(w, n, "township", t).await, "county_review");
    assert_eq!(approve(w, n, "county", c).await, "publicity");
}

async fn state_of(w: &World, n: Uuid) -> String {
    let (_, shown) = w
        .app
        .get_json_as(&format!("/api/v1/nominations/{n}"), &w.admin_token)
        .await;
    shown["state"].as_str().unwrap().to_owned()
}

async fn state_becomes(w: &World, n: Uuid, want: &'static str) {
    jinguo_tests::eventually(want, Duration::from_secs(30), || async {
        (state_of(w, n).await == want).then_some(())
    })
    .await;
}

async fn get_html(app: &TestApp, path: &str) -> (u16, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.base_url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn object(w: &World, n: Uuid, name: &str, reason: &str) -> (u16, String) {
    let r = w
        .app
        .client
        .post(format!(
            "{}/public/campaigns/{}/objections",
            w.app.base_url, w.campaign
        ))
        .form(&[
            ("nomination", n.to_string().as_str()),
            ("village", ""),
            ("name", name),
            ("phone", OBJECTOR_PHONE),
            ("reason", reason),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn assert_nothing_private(html: &str) {
    for private in [
        HEAD_ID,
        OTHER_ID,
        PHONE,
        OTHER_PHONE,
        "139 1234",
        ADDRESS,
        "魏家庄村三社",
        OBJECTOR_PHONE,
        "620122",
    ] {
        assert!(
            !html.contains(private),
            "the public page shows {private}: {html}"
        );
    }
}

async fn the_publicity_pauses_for_an_objection_and_resumes_for_the_time_left(transport: Transport) {
    let rules = json!({ "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "6s" });
    let mut w = world(transport, rules).await;
    let store: Store = w.app.store.clone();
    let [_, _, county_reviewer] = w.reviewers;
    let kept = submit(&w, "李秀英", HEAD_ID, PHONE).await;
    let revoked = submit(&w, "王桂兰", OTHER_ID, OTHER_PHONE).await;
    to_publicity(&w, kept).await;
    to_publicity(&w, revoked).await;

    // The public page lists both, by name and place, with nothing private.
    let (status, board) = get_html(&w.app, &format!("/public/campaigns/{}", w.campaign)).await;
    assert_eq!(status, 200);
    assert!(
        board.contains("李秀英家庭") && board.contains("王桂兰家庭"),
        "{board}"
    );
    assert!(
        board.contains("石洞镇") || board.contains("镇"),
        "township names are shown: {board}"
    );
    assert!(
        board.contains("二十年如一日"),
        "the story's summary is shown"
    );
    assert!(board.contains("公示截止"), "{board}");
    assert_nothing_private(&board);

    // A reason too short is refused beside its field, with what was typed kept.
    let (status, again) = object(&w, kept, "张三", "不属实").await;
    assert_eq!(status, 400, "{again}");
    assert!(
        again.contains("异议理由") && again.contains("reason-1-error"),
        "{again}"
    );
    assert!(
        again.contains("value=\"张三\"") && again.contains(">不属实</textarea>"),
        "{again}"
    );
    assert_eq!(state_of(&w, kept).await, "publicity");

    // An objection pauses the 公示; a second joins the same investigation.
    let (status, done) = object(
        &w,
        kept,
        "张三",
        "该家庭与邻居长期有纠纷，事迹与实际情况不符。",
    )
    .await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(state_of(&w, kept).await, "under_investigation");
    let (status, _) = object(
        &w,
        kept,
        "李四",
        "我也反映：事迹中照顾婆婆的情况与实际不符。",
    )
    .await;
    assert_eq!(status, 201);
    let (_, board) = get_html(&w.app, &format!("/public/campaigns/{}", w.campaign)).await;
    assert!(board.contains("公示暂停"), "{board}");
    assert_nothing_private(&board);
    let links = links_mailed_to(&store, county_reviewer, "【巾帼】公示异议待核查").await;
    assert_eq!(links.len(), 1, "one investigation, one mail");
    let mail = &mails_to(&store, county_reviewer, "【巾帼】公示异议待核查").await[0].1;
    assert!(
        !mail.contains(OBJECTOR_PHONE) && !mail.contains("张三"),
        "the mail holds nothing of the objection: {mail}"
    );

    // The second family is objected to as well (decided below).
    let (status, _) = object(
        &w,
        revoked,
        "赵五",
        "该家庭存在违反村规民约的行为，不宜表彰。",
    )
    .await;
    assert_eq!(status, 201);

    // The clock stops: well past the period's end, it is still under investigation.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(state_of(&w, kept).await, "under_investigation");

    // The county reviewer's page shows both objections with the objectors' phones; GET decides
    // nothing; dismissing resumes the 公示 for the time that was left.
    let (status, page) = get_html(&w.app, &links[0]).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("张三") && page.contains("李四") && page.contains(OBJECTOR_PHONE),
        "{page}"
    );
    let r = w
        .app
        .client
        .post(format!("{}{}", w.app.base_url, links[0]))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("decision", "dismiss"),
            ("reason", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(state_of(&w, kept).await, "publicity");
    let left = store
        .read(move |c| {
            Box::pin(async move {
                jinguo_store::timers::get(c, &format!("publicity:{kept}:publicity")).await
            })
        })
        .await
        .unwrap()
        .expect("the 公示 has its end again");
    assert!(
        left.due_at <= jinguo_bus::now() + chrono::Duration::seconds(6),
        "no more than was left"
    );
    state_becomes(&w, kept, "awarded").await;

    // The second family's objection upheld over the API; a reason is required.
    let token = api_token(&store, county_reviewer).await;
    let uphold = |reason: Option<&'static str>| {
        let (w, token) = (&w, token.clone());
        async move {
            let r = w
                .app
                .client
                .post(format!(
                    "{}/api/v1/nominations/{revoked}/objection",
                    w.app.base_url
                ))
                .bearer_auth(token)
                .json(&json!({ "decision": "uphold", "reason": reason }))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, refused) = uphold(None).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "reason", "{refused}");
    // Someone who is not a county reviewer cannot decide it, on any entry point.
    let admin_says = w
        .app
        .client
        .post(format!(
            "{}/api/v1/nominations/{revoked}/objection",
            w.app.base_url
        ))
        .bearer_auth(&w.admin_token)
        .json(&json!({ "decision": "dismiss" }))
        .send()
        .await
        .unwrap();
    assert_eq!(admin_says.status(), 403);
    let (status, decided) = uphold(Some("经核实，异议属实。")).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["state"], "revoked");
    let (_, board) = get_html(&w.app, &format!("/public/campaigns/{}", w.campaign)).await;
    assert!(
        !board.contains("王桂兰"),
        "a revoked family leaves the board"
    );

    // The history says who did what; the nominator heard each outcome once.
    let (_, shown) = w
        .app
        .get_json_as(&format!("/api/v1/nominations/{kept}"), &w.admin_token)
        .await;
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
            "county_approve",
            "objected",
            "objection_joined",
            "objection_dismissed",
            "publicity_ended"
        ]
    );
    let outcomes = |subject: &'static str| {
        let store = store.clone();
        let admin = w.admin;
        async move { mails_to(&store, admin, subject).await.len() }
    };
    assert_eq!(outcomes("【巾帼】李秀英家庭的推荐已通过县级审核").await, 1);
    assert_eq!(outcomes("【巾帼】李秀英家庭的推荐已获评").await, 1);
    assert_eq!(outcomes("【巾帼】王桂兰家庭的推荐经公示异议核查").await, 1);
    w.bus.stop().await;
}

jinguo_tests::on_both_transports!(
    the_publicity_pauses_for_an_objection_and_resumes_for_the_time_left
);
