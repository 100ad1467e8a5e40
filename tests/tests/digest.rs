//! The daily digest (#13 item 5, and the stalled units of item 1), on both paths (PostgreSQL +
//! RabbitMQ, and the embedded SQLite + in-process bus): the 09:00 tick of the `review_digest`
//! cron job, fired by two schedulers at once, mails each reviewer with open tasks exactly one
//! digest listing exactly those tasks (overdue first and marked, each with its task page), the
//! county admin the units stalled for want of a reviewer with their counts, and nobody else
//! anything. On a day the calendar says is not a working day, nobody gets a digest.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jinguo_core::identity::ResidentId;
use jinguo_core::org::OrgCode;
use jinguo_store::{Store, orgs};
use jinguo_tests::nominating::{mails_to, villages};
use jinguo_tests::{Backend, TestApp, TestBus, Transport, add_staff, api_token};
use serde_json::{Value, json};
use uuid::Uuid;

/// What every digest's subject starts with.
const DIGEST: &str = "【巾帼】";
const SUMMARY: &str = "待办汇总";

/// 09:00 in Shanghai on Monday 30 Nov 2026, an ordinary working day.
const WORKING_MORNING: &str = "2026-11-30T01:00:00Z";
/// 09:00 in Shanghai on Monday 16 Feb 2026, the Spring Festival holiday.
const HOLIDAY_MORNING: &str = "2026-02-16T01:00:00Z";

/// A valid resident ID number born 1980-01-01, numbered `n`.
fn resident_id(n: u32) -> String {
    let first17 = format!("62012219800101{:03}", n % 1000);
    let check = ResidentId::check_digit(&first17).unwrap();
    format!("{first17}{check}")
}

struct World {
    app: TestApp,
    bus: TestBus,
    _mail_dir: tempfile::TempDir,
    admin: Uuid,
    admin_token: String,
    /// Two reviewers of the first village.
    village_reviewers: [Uuid; 2],
    township_reviewer: Uuid,
    county_reviewer: Uuid,
    /// A reviewer of another village, with nothing to review.
    idle_reviewer: Uuid,
    /// The first village (reviewed) and the second (no reviewer: its nominations stall).
    village: OrgCode,
    stalled_village: OrgCode,
    campaign: String,
}

async fn world(transport: Transport) -> World {
    let backend = match transport {
        Transport::RabbitMq => Backend::Postgres,
        Transport::InProcess => Backend::Sqlite,
    };
    let app = TestApp::spawn(backend).await;
    let (county, town, villages) = villages(&app.store).await;
    let (village, stalled_village, idle_village) = (villages[0], villages[1], villages[2]);
    let staff = |email: &'static str, name: &'static str, role: &'static str, org: OrgCode| {
        let store = app.store.clone();
        async move { add_staff(&store, email, name, role, org.as_str()).await }
    };
    let admin = staff("admin@example.cn", "县妇联管理员", "admin", county).await;
    let v1 = staff("v1@example.cn", "村审核员一", "reviewer", village).await;
    let v2 = staff("v2@example.cn", "村审核员二", "reviewer", village).await;
    let t = staff("t@example.cn", "乡镇审核员", "reviewer", town).await;
    let c = staff("c@example.cn", "县审核员", "reviewer", county).await;
    let idle = staff("idle@example.cn", "闲审核员", "reviewer", idle_village).await;
    let admin_token = api_token(&app.store, admin).await;
    let created = app
        .client
        .post(format!("{}/api/v1/campaigns", app.base_url))
        .bearer_auth(&admin_token)
        .json(&json!({
            "name": "2026年皋兰县最美家庭评选", "year": 2026, "scope_org": "620122",
            "rules": { "categories": ["最美家庭", "五好家庭"],
                       "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d",
                       "deadlines": { "village": { "working_days": 5 } } }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let campaign = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = jinguo_tests::amqp_url();
    let amqp = (transport == Transport::RabbitMq).then_some(url.as_str());
    // The mailer writes .eml files into a directory of the test's own.
    let mail_dir = tempfile::tempdir().unwrap();
    let env = [
        ("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str()),
        ("JINGUO_MAIL__DIR", mail_dir.path().to_str().unwrap()),
        ("JINGUO_CRON__JOBS__REVIEW_DIGEST__ENABLED", "true"),
    ];
    let config = jinguo_tests::test_config(&app.db, &env);
    let workers = vec![
        jinguo_nominations::worker(&config).unwrap(),
        jinguo_mail::mailer_worker(&config).unwrap(),
    ];
    let mut bus = TestBus::build(&app.db, amqp, workers, app.store.clone(), &env);
    bus.start_services();
    World {
        app,
        bus,
        _mail_dir: mail_dir,
        admin,
        admin_token,
        village_reviewers: [v1, v2],
        township_reviewer: t,
        county_reviewer: c,
        idle_reviewer: idle,
        village,
        stalled_village,
        campaign,
    }
}

/// Nominates the family of `head` (numbered `n`) in `village`; its id.
async fn submit(w: &World, village: OrgCode, head: &str, n: u32) -> Uuid {
    let r = w
        .app
        .client
        .post(format!("{}/api/v1/nominations", w.app.base_url))
        .bearer_auth(&w.admin_token)
        .json(&json!({
            "campaign_id": w.campaign, "village": village.as_str(), "category": "最美家庭",
            "channel": "organization",
            "family": { "head_name": head, "head_id": resident_id(n), "address": "幸福路1号",
                        "members": [{ "name": "王强", "relation": "丈夫" }] },
            "story": "一家人孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。"
        }))
        .send()
        .await
        .unwrap();
    let (status, body) = (r.status(), r.json::<Value>().await.unwrap());
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

/// The open task of `reviewer` at `level` of nomination `n`.
async fn task_of(store: &Store, n: Uuid, level: &'static str, reviewer: Uuid) -> Uuid {
    let tasks = store
        .read(move |c| Box::pin(async move { jinguo_store::nominations::tasks(c, n, level).await }))
        .await
        .unwrap();
    tasks
        .iter()
        .find(|t| t.reviewer == reviewer && !t.closed)
        .unwrap_or_else(|| panic!("an open {level} task of {reviewer} on {n}"))
        .id
}

/// `reviewer` decides their open village task of `n` over the API.
async fn decide(w: &World, n: Uuid, reviewer: Uuid, decision: Value) {
    let task = task_of(&w.app.store, n, "village", reviewer).await;
    let token = api_token(&w.app.store, reviewer).await;
    let r = w
        .app
        .client
        .post(format!("{}/api/v1/reviews/{task}/decision", w.app.base_url))
        .bearer_auth(token)
        .json(&decision)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// The digests mailed to `person`: the text of each.
async fn digests_to(store: &Store, person: Uuid) -> Vec<String> {
    mails_to(store, person, DIGEST)
        .await
        .into_iter()
        .filter(|(subject, _)| subject.contains(SUMMARY))
        .map(|(_, text)| text)
        .collect()
}

/// The task pages a digest links, in its order.
fn task_links(text: &str, base: &str) -> Vec<String> {
    let prefix = format!("{base}/tasks/");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The `review_digest` cron job as configured.
fn digest_job(bus: &TestBus) -> jinguo_core::cron::CronJob {
    let job = bus
        .bus
        .config
        .cron
        .jobs
        .iter()
        .find(|j| j.name == "review_digest")
        .expect("the review_digest job")
        .clone();
    assert_eq!(job.kind, jinguo_nominations::REVIEW_DIGEST);
    assert!(job.enabled && job.working_days_only);
    job
}

/// Two schedulers race for the same tick: exactly one of them claims it.
async fn fire_twice(bus: &TestBus, tick: DateTime<Utc>) {
    let job = digest_job(bus);
    let (first, second) = (bus.bus.clone(), bus.bus.clone());
    let (a, b) = tokio::join!(
        jinguo_bus::scheduler::fire_tick(&first, &job, tick),
        jinguo_bus::scheduler::fire_tick(&second, &job, tick),
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|won| **won).count(),
        1,
        "one scheduler claims the tick"
    );
}

async fn each_reviewer_gets_one_digest_of_exactly_their_open_tasks(transport: Transport) {
    let w = world(transport).await;
    let [v1, v2] = w.village_reviewers;
    let store = w.app.store.clone();
    // Open at the village for both village reviewers; the village deadline is 5 working days.
    let open = submit(&w, w.village, "王芳", 1).await;
    // Moved on to the township (no deadline there): the village tasks closed.
    let moved = submit(&w, w.village, "李秀英", 2).await;
    decide(&w, moved, v1, json!({ "decision": "approve" })).await;
    // Rejected at the village: nothing open anywhere.
    let rejected = submit(&w, w.village, "赵兰", 3).await;
    decide(
        &w,
        rejected,
        v2,
        json!({ "decision": "reject", "reason": "不符合评选条件" }),
    )
    .await;
    // Open at the village, and v1's task of it is past its deadline.
    let late = submit(&w, w.village, "马丽", 4).await;
    let late_task = task_of(&store, late, "village", v1).await;
    w.app
        .db
        .execute(&format!(
            "UPDATE review_tasks SET due_at = '2026-01-05 09:30:00' WHERE id = '{late_task}'"
        ))
        .await;
    // Two stall at a village without a reviewer.
    submit(&w, w.stalled_village, "孙梅", 5).await;
    submit(&w, w.stalled_village, "周红", 6).await;

    fire_twice(&w.bus, at(WORKING_MORNING)).await;
    jinguo_tests::eventually("the digests", Duration::from_secs(60), || async {
        (!digests_to(&store, w.admin).await.is_empty()
            && !digests_to(&store, w.township_reviewer).await.is_empty())
        .then_some(())
    })
    .await;
    jinguo_tests::settle(&store).await;

    let base = w.app.base_url.as_str();
    let one = |mut digests: Vec<String>, who: &str| {
        assert_eq!(digests.len(), 1, "one digest to {who}: {digests:?}");
        digests.remove(0)
    };
    // v1: the overdue task first and marked, then the one due in 5 working days.
    let text = one(digests_to(&store, v1).await, "v1");
    let want = vec![
        late_task.to_string(),
        task_of(&store, open, "village", v1).await.to_string(),
    ];
    assert_eq!(task_links(&text, base), want, "{text}");
    assert!(
        text.contains("1. 【已逾期】马丽家庭的最美家庭推荐（村级审核，2026年1月5日"),
        "{text}"
    );
    assert!(
        text.contains("王芳家庭的最美家庭推荐（村级审核，"),
        "{text}"
    );
    assert_eq!(text.matches("已逾期").count(), 1, "{text}");
    assert!(!text.contains("李秀英") && !text.contains("赵兰"), "{text}");
    // v2: the same two nominations, its own tasks, none overdue; oldest first.
    let text = one(digests_to(&store, v2).await, "v2");
    let want = vec![
        task_of(&store, open, "village", v2).await.to_string(),
        task_of(&store, late, "village", v2).await.to_string(),
    ];
    assert_eq!(task_links(&text, base), want, "{text}");
    assert!(!text.contains("已逾期"), "{text}");
    assert!(!text.contains("李秀英") && !text.contains("赵兰"), "{text}");
    // The township reviewer: the nomination that moved on, with no deadline.
    let text = one(digests_to(&store, w.township_reviewer).await, "township");
    let want = vec![
        task_of(&store, moved, "township", w.township_reviewer)
            .await
            .to_string(),
    ];
    assert_eq!(task_links(&text, base), want, "{text}");
    assert!(
        text.contains("李秀英家庭的最美家庭推荐（乡镇级审核，无截止时间）"),
        "{text}"
    );
    // Nothing open: nothing mailed.
    for idle in [w.county_reviewer, w.idle_reviewer] {
        assert!(digests_to(&store, idle).await.is_empty());
    }
    // The county admin: the stalled village by name, with its count, and no task.
    let text = one(digests_to(&store, w.admin).await, "admin");
    let name = orgs_name(&store, w.stalled_village).await;
    assert!(text.contains(&format!("- {name}（村级）：2 件")), "{text}");
    assert!(task_links(&text, base).is_empty(), "{text}");
    assert!(!text.contains("孙梅") && !text.contains("周红"), "{text}");
}

async fn orgs_name(store: &Store, code: OrgCode) -> String {
    store
        .read(move |c| Box::pin(orgs::get(c, code)))
        .await
        .unwrap()
        .unwrap()
        .name
}

async fn no_digest_on_a_holiday(transport: Transport) {
    let w = world(transport).await;
    let [v1, _] = w.village_reviewers;
    submit(&w, w.village, "王芳", 1).await;
    submit(&w, w.stalled_village, "孙梅", 5).await;
    fire_twice(&w.bus, at(HOLIDAY_MORNING)).await;
    jinguo_tests::settle(&w.app.store).await;
    for person in [v1, w.admin] {
        assert!(digests_to(&w.app.store, person).await.is_empty());
    }
    // The next working morning it goes out.
    fire_twice(&w.bus, at(WORKING_MORNING)).await;
    jinguo_tests::eventually("v1's digest", Duration::from_secs(60), || async {
        (digests_to(&w.app.store, v1).await.len() == 1).then_some(())
    })
    .await;
}

jinguo_tests::on_both_transports!(
    each_reviewer_gets_one_digest_of_exactly_their_open_tasks,
    no_digest_on_a_holiday,
);
