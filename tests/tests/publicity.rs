//! 公示 end to end, on both paths (PostgreSQL + RabbitMQ, and the embedded SQLite + in-process
//! bus): three levels → 公示 on the public page → an objection pauses it → dismissed, it resumes
//! for the time that was left → awarded; a second family objected and upheld → revoked. Each
//! mail once; the public pages never show an ID number, phone or address.

use std::time::Duration;

use jinguo_store::Store;
use jinguo_tests::nominating::{ReviewWorld as World, links_mailed_to, mails_to};
use jinguo_tests::{Transport, api_token};
use serde_json::{Value, json};
use uuid::Uuid;

const HEAD_ID: &str = "620122198001011234";
const OTHER_ID: &str = "620122198202022343";
const ADDRESS: &str = "皋兰县石洞镇魏家庄村三社18号";
const PHONE: &str = "13912345678";
const OTHER_PHONE: &str = "13987654321";
const OBJECTOR_PHONE: &str = "13800001111";

async fn to_publicity(w: &World, n: Uuid) {
    let [v, t, c] = w.reviewers;
    assert_eq!(w.approve(n, "village", v).await, "township_review");
    assert_eq!(w.approve(n, "township", t).await, "county_review");
    assert_eq!(w.approve(n, "county", c).await, "publicity");
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
    let rules = json!({ "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "15s" });
    let mut w = World::start(transport, rules).await;
    let store: Store = w.app.store.clone();
    let [_, _, county_reviewer] = w.reviewers;
    let kept = w.submit("李秀英", HEAD_ID, ADDRESS, PHONE).await;
    let revoked = w.submit("王桂兰", OTHER_ID, ADDRESS, OTHER_PHONE).await;
    to_publicity(&w, kept).await;
    to_publicity(&w, revoked).await;

    // The public page lists both, by name and place, with nothing private.
    let (status, board) = w.page(&format!("/public/campaigns/{}", w.campaign)).await;
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
    assert_eq!(w.state_of(kept).await, "publicity");

    // An objection pauses the 公示; a second joins the same investigation.
    let (status, done) = object(
        &w,
        kept,
        "张三",
        "该家庭与邻居长期有纠纷，事迹与实际情况不符。",
    )
    .await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(w.state_of(kept).await, "under_investigation");
    let (status, _) = object(
        &w,
        kept,
        "李四",
        "我也反映：事迹中照顾婆婆的情况与实际不符。",
    )
    .await;
    assert_eq!(status, 201);
    let (_, board) = w.page(&format!("/public/campaigns/{}", w.campaign)).await;
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
    tokio::time::sleep(Duration::from_secs(16)).await;
    assert_eq!(w.state_of(kept).await, "under_investigation");

    // The county reviewer's page shows both objections with the objectors' phones; GET decides
    // nothing; dismissing resumes the 公示 for the time that was left.
    let (status, page) = w.page(&links[0]).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("张三") && page.contains("李四") && page.contains(OBJECTOR_PHONE),
        "{page}"
    );
    let (status, answer) = w.decide_by_link(&links[0], &page, "dismiss").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(w.state_of(kept).await, "publicity");
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
        left.due_at <= jinguo_bus::now() + chrono::Duration::seconds(15),
        "no more than was left"
    );
    w.state_becomes(kept, "awarded").await;

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
    let (_, board) = w.page(&format!("/public/campaigns/{}", w.campaign)).await;
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

/// An objection in a county without an active reviewer is never a silent wait: the county
/// admins are told, and the reviewer enabled again gets the investigation link.
async fn an_objection_waits_for_a_county_reviewer_and_reaches_the_next_one(transport: Transport) {
    let rules = json!({ "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "1h" });
    let mut w = World::start(transport, rules).await;
    let store: Store = w.app.store.clone();
    let [_, _, county_reviewer] = w.reviewers;
    let n = w.submit("李秀英", HEAD_ID, ADDRESS, PHONE).await;
    to_publicity(&w, n).await;
    let set_active = |active: bool| {
        let store = store.clone();
        async move {
            store
                .transaction(move |c| {
                    Box::pin(async move {
                        jinguo_auth::staff::set_active(
                            c,
                            county_reviewer,
                            active,
                            "test",
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await
                .unwrap()
        }
    };
    assert!(set_active(false).await);
    let (status, _) = object(
        &w,
        n,
        "张三",
        "该家庭与邻居长期有纠纷，事迹与实际情况不符。",
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        w.state_of(n).await,
        "under_investigation",
        "{:?}",
        w.events(n).await
    );
    assert_eq!(
        mails_to(&store, w.admin, "【巾帼】")
            .await
            .iter()
            .filter(|(s, _)| s.contains("无在岗审核员"))
            .count(),
        1,
        "the county admin is told once"
    );
    assert!(
        links_mailed_to(&store, county_reviewer, "【巾帼】公示异议待核查")
            .await
            .is_empty()
    );
    assert!(set_active(true).await);
    let link = jinguo_tests::eventually(
        "the investigation link",
        Duration::from_secs(20),
        || async {
            links_mailed_to(&store, county_reviewer, "【巾帼】公示异议待核查")
                .await
                .into_iter()
                .next()
        },
    )
    .await;
    let (status, page) = w.page(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("张三"));
    let events = w.events(n).await;
    assert!(
        events.contains(&"no_investigator".to_owned())
            && events.contains(&"investigator_appointed".to_owned()),
        "{events:?}"
    );
    w.bus.stop().await;
}

jinguo_tests::on_both_transports!(
    the_publicity_pauses_for_an_objection_and_resumes_for_the_time_left,
    an_objection_waits_for_a_county_reviewer_and_reaches_the_next_one,
);
