//! The referrals program end to end on both paths (SQLite with the in-process bus; PostgreSQL
//! with RabbitMQ), ladder steps of seconds: a critical case nobody takes climbs the whole
//! ladder, each step mailed once, the top repeating; the climbing stops the moment someone
//! acknowledges; a protection-order clock warns before its deadline and records the breach
//! after it; a recorded incident flags the household, and nominating it afterwards takes the
//! incident flag's path without revealing it; the database holds no plaintext of a sealed
//! field; a wrong key fails loudly.

use std::collections::BTreeMap;
use std::time::Duration;

use jinguo_core::auth::Agency;
use jinguo_referrals::{Assessment, Refusal, TaskStep};
use jinguo_store::Store;
use jinguo_store::referrals as store;
use jinguo_tests::nominating::mails_to;
use jinguo_tests::referring::{
    VICTIM_ID, VICTIM_NAME, VICTIM_PHONE, VILLAGE, cast, escalation_env, school_report, settings,
};
use jinguo_tests::{
    Backend, Contents, TestBus, TestDb, Transport, add_staff, eventually, test_config,
};
use uuid::Uuid;

async fn timeline(store: &Store, referral: Uuid) -> Vec<store::EventRow> {
    store
        .read(move |c| Box::pin(async move { store::events(c, referral).await }))
        .await
        .unwrap()
}

async fn count_mails(store: &Store, person: Uuid, subject: &str) -> usize {
    mails_to(store, person, subject).await.len()
}

async fn climbs_stops_and_keeps_its_clocks(backend: Backend, transport: Transport) {
    let db = TestDb::new(backend, Contents::Gansu).await;
    let dir = tempfile::tempdir().unwrap();
    let (escalation, mail_dir) = escalation_env(dir.path());
    let extra = [
        ("JINGUO_REFERRALS__ESCALATION_FILE", escalation.as_str()),
        ("JINGUO_MAIL__DIR", mail_dir.as_str()),
    ];
    let config = test_config(&db, &extra);
    let settings = settings(&config);
    let store = db.store().await;
    let cast = cast(&store).await;
    let workers = vec![
        jinguo_mail::mailer_worker(&config).unwrap(),
        jinguo_referrals::worker(&config).unwrap(),
    ];
    let mut bus = TestBus::start(&db, transport, workers, &extra).await;

    // A critical case comes in: the officer on duty is told at once, urgently.
    let (s, officer) = (settings.clone(), cast.officer);
    let case = store
        .transaction(move |c| {
            let s = s.clone();
            Box::pin(async move {
                jinguo_referrals::intake(c, &s, officer, &school_report(true), jinguo_bus::now())
                    .await
            })
        })
        .await
        .unwrap();
    assert_eq!(case.risk, Some(jinguo_core::referrals::RiskLevel::Critical));
    assert!(case.case_number.as_str().starts_with("620122-"));
    let subject = format!("【巾帼】【紧急】案件 {}", case.case_number);
    assert_eq!(count_mails(&store, cast.officer, &subject).await, 1);

    // Nobody takes it: township, county supervisor, city supervisor, then the city again.
    eventually("the ladder reaches the top and repeats", Duration::from_secs(40), || {
        let store = store.clone();
        let subject = subject.clone();
        async move { (count_mails(&store, cast.city_supervisor, &subject).await >= 2).then_some(()) }
    })
    .await;
    for (who, name) in [
        (cast.officer, "officer"),
        (cast.township_reviewer, "township reviewer"),
        (cast.county_supervisor, "county supervisor"),
    ] {
        assert_eq!(
            count_mails(&store, who, &subject).await,
            1,
            "{name}: one mail for its step"
        );
    }
    assert_eq!(
        count_mails(&store, cast.other_officer, &subject).await,
        0,
        "officers off duty are not on the ladder"
    );
    let mail = &mails_to(&store, cast.county_supervisor, &subject).await[0];
    assert!(mail.1.contains("已超过签收期限") && mail.1.contains("/link/"));

    // Each step granted access: the county supervisor may now read and act.
    let (s, sup, id) = (settings.clone(), cast.county_supervisor, case.id);
    store
        .transaction(move |c| {
            let s = s.clone();
            Box::pin(async move {
                let task = store::tasks(c, id).await?[0].id;
                jinguo_referrals::act(
                    c,
                    &s,
                    sup,
                    id,
                    task,
                    TaskStep::Acknowledge,
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await
        .unwrap();
    // The others the ladder reached find their links taken by the supervisor.
    let link = jinguo_tests::nominating::links_mailed_to(&store, cast.township_reviewer, &subject)
        .await
        .remove(0);
    let secret = jinguo_auth::Secret::parse(link.trim_start_matches("/link/")).unwrap();
    let state = store
        .read(move |c| {
            let secret = secret.clone();
            Box::pin(async move {
                jinguo_auth::links::inspect(c, &secret, None, jinguo_bus::now()).await
            })
        })
        .await
        .unwrap();
    assert_eq!(state.name(), "superseded", "{state:?}");
    let at_ack = count_mails(&store, cast.city_supervisor, &subject).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        count_mails(&store, cast.city_supervisor, &subject).await,
        at_ack,
        "the climbing stops the moment a task is acknowledged"
    );
    let events = timeline(&store, case.id).await;
    let steps: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == "escalated")
        .map(|e| e.details["step"].as_u64().unwrap())
        .collect();
    let opened = events.iter().find(|e| e.kind == "escalated").unwrap().at;
    let offsets: Vec<i64> = events
        .iter()
        .filter(|e| e.kind == "escalated")
        .map(|e| (e.at - opened).num_milliseconds())
        .collect();
    // A measurement for the reader, not an assertion: when each step fired after the first
    // (due every 2 s; the lateness is the scheduler's poll and the relay's hop).
    eprintln!("ladder steps fired at ms after step 0: {offsets:?}");
    let expected: Vec<u64> = (0..steps.len() as u64).collect();
    assert_eq!(steps, expected, "each step once, in order");

    // The officer assesses and applies urgently for a protection order: the court's clock runs
    // 6 s, warns at 3 s, and the breach is recorded when nobody decides.
    let (s, officer, id) = (settings.clone(), cast.officer, case.id);
    store
        .transaction(move |c| {
            let s = s.clone();
            Box::pin(async move {
                let mut answers = BTreeMap::new();
                answers.insert("weapon".to_owned(), true);
                let a = Assessment {
                    answers,
                    agencies: vec![Agency::Court, Agency::Police],
                    urgent: true,
                };
                jinguo_referrals::assess(c, &s, officer, id, &a, jinguo_bus::now()).await
            })
        })
        .await
        .unwrap();
    let court_subject = format!("【巾帼】【紧急】案件 {}：签收联动任务", case.case_number);
    assert_eq!(
        count_mails(&store, cast.court, &court_subject).await,
        1,
        "the court's liaison is told at once"
    );
    assert_eq!(
        count_mails(&store, cast.police, &court_subject).await,
        1,
        "so is the police liaison, for the police task only"
    );
    eventually(
        "the protection-order clock warns, then breaches",
        Duration::from_secs(30),
        || {
            let store = store.clone();
            async move {
                let kinds: Vec<String> = timeline(&store, id)
                    .await
                    .into_iter()
                    .map(|e| e.kind)
                    .collect();
                let warned = kinds.iter().position(|k| k == "clock_warned");
                let breached = kinds.iter().position(|k| k == "clock_breached");
                match (warned, breached) {
                    (Some(w), Some(b)) => {
                        assert!(w < b, "the warning comes before the breach");
                        Some(())
                    }
                    _ => None,
                }
            }
        },
    )
    .await;
    let breach = format!(
        "【巾帼】【紧急】案件 {}：人身安全保护令裁定期限已超时",
        case.case_number
    );
    assert_eq!(count_mails(&store, cast.officer, &breach).await, 1);
    assert!(count_mails(&store, cast.county_supervisor, &breach).await == 1);

    // The police liaison may act for the police task, not the court's.
    let (s, police, id) = (settings.clone(), cast.police, case.id);
    let refused = store
        .transaction(move |c| {
            let s = s.clone();
            Box::pin(async move {
                let tasks = store::tasks(c, id).await?;
                let court_task = tasks
                    .iter()
                    .find(|t| t.kind == store::TaskKind::Agency(Agency::Court))
                    .unwrap()
                    .id;
                Ok::<_, Refusal>(
                    jinguo_referrals::act(
                        c,
                        &s,
                        police,
                        id,
                        court_task,
                        TaskStep::Acknowledge,
                        jinguo_bus::now(),
                    )
                    .await
                    .err(),
                )
            })
        })
        .await
        .unwrap();
    assert!(
        matches!(refused, Some(Refusal::Forbidden(_))),
        "{refused:?}"
    );

    // What the case page offers the police liaison is what the program would accept.
    let (s, police, id) = (settings.clone(), cast.police, case.id);
    let view = store
        .transaction(move |c| {
            let s = s.clone();
            Box::pin(async move {
                jinguo_referrals::read_case(c, &s, police, id, "联动任务", jinguo_bus::now()).await
            })
        })
        .await
        .unwrap();
    let offered: Vec<(Option<String>, bool)> = view
        .tasks
        .iter()
        .map(|t| (t.agency.clone(), t.may_act))
        .collect();
    assert!(
        offered.contains(&(Some("公安".into()), true)),
        "{offered:?}"
    );
    assert!(
        offered.contains(&(Some("法院".into()), false)),
        "{offered:?}"
    );
    assert!(!view.may_manage, "a liaison does not manage the case");
    assert!(
        view.reporter.is_none(),
        "only the assigned officer sees the reporter"
    );

    // An officer of the same county who was never on the case cannot read it.
    let (s, other, id) = (settings.clone(), cast.other_officer, case.id);
    let read = store
        .transaction(move |c| {
            let s = s.clone();
            Box::pin(async move {
                Ok::<_, Refusal>(
                    jinguo_referrals::read_case(c, &s, other, id, "案件处置", jinguo_bus::now())
                        .await
                        .err(),
                )
            })
        })
        .await
        .unwrap();
    assert!(matches!(read, Some(Refusal::Forbidden(_))));

    bus.stop().await;
    assert_no_plaintext(
        &db,
        &[VICTIM_NAME, VICTIM_PHONE, VICTIM_ID, "持刀", "陈老师"],
    )
    .await;
}

/// No table of the database holds any of `secrets` in plain text.
pub async fn assert_no_plaintext(db: &TestDb, secrets: &[&str]) {
    let all = db.all_text().await;
    for s in secrets {
        assert!(!all.contains(s), "{s:?} is stored in plain text somewhere");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_critical_case_climbs_the_ladder_on_sqlite_in_process() {
    climbs_stops_and_keeps_its_clocks(Backend::Sqlite, Transport::InProcess).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_critical_case_climbs_the_ladder_on_postgres_rabbitmq() {
    climbs_stops_and_keeps_its_clocks(Backend::Postgres, Transport::RabbitMq).await;
}

/// A recorded incident flags the victim's household through both keys: nominating the family
/// afterwards by her phone alone takes the incident flag's path (held for the county case
/// officers), and what the nominator and reviewers see is an ordinary village review.
#[tokio::test(flavor = "multi_thread")]
async fn an_incident_flags_the_household_and_nominations_learn_nothing_else() {
    let app = jinguo_tests::TestApp::spawn(Backend::Sqlite).await;
    let config = test_config(&app.db, &[]);
    let settings = settings(&config);
    let cast = cast(&app.store).await;
    let (s, officer) = (settings.clone(), cast.officer);
    app.store
        .transaction(move |c| {
            let s = s.clone();
            Box::pin(async move {
                jinguo_referrals::intake(c, &s, officer, &school_report(false), jinguo_bus::now())
                    .await
            })
        })
        .await
        .unwrap();
    let admin = add_staff(&app.store, "admin@t.cn", "县管理员", "admin", "620122").await;
    let token = jinguo_tests::api_token(&app.store, admin).await;
    let campaign = jinguo_tests::nominating::campaign(&app, &token, "2026年最美家庭").await;
    let resp = app
        .client
        .post(format!("{}/api/v1/nominations", app.base_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "campaign_id": campaign,
            "village": VILLAGE,
            "category": "最美家庭",
            "channel": "organization",
            "family": {
                "head_name": "张建国",
                "head_id": VICTIM_PHONE,
                "address": "北庄村三社",
            },
            "story": "这一家人孝老爱亲，邻里和睦，多年来照顾患病的老人，热心村里的公益事务，深受村民好评。".repeat(2),
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["state"], "village_review",
        "the nominator sees an ordinary review: {body}"
    );
    assert!(!body.to_string().contains("eligibility"), "{body}");
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    let held = app
        .store
        .read(move |c| Box::pin(async move { jinguo_store::nominations::get(c, id).await }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        held.state,
        jinguo_core::nominations::State::EligibilityReview,
        "held for the county case officers"
    );
}

/// A sealed field read with a key that did not seal it fails loudly: no empty victim.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_fails_loudly() {
    let db = TestDb::new(Backend::Sqlite, Contents::Gansu).await;
    let config = test_config(&db, &[]);
    let settings = settings(&config);
    let store = db.store().await;
    let cast = cast(&store).await;
    let (s, officer) = (settings.clone(), cast.officer);
    let case = store
        .transaction(move |c| {
            let s = s.clone();
            Box::pin(async move {
                jinguo_referrals::intake(c, &s, officer, &school_report(false), jinguo_bus::now())
                    .await
            })
        })
        .await
        .unwrap();
    let other_key = test_config(
        &db,
        &[
            (
                "JINGUO_CRYPTO__DATA_KEYS",
                "k2:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            ),
            ("JINGUO_CRYPTO__DATA_KEY_CURRENT", "k2"),
        ],
    );
    let wrong = self::settings(&other_key);
    let (id, officer) = (case.id, cast.officer);
    let read = store
        .transaction(move |c| {
            let wrong = wrong.clone();
            Box::pin(async move {
                Ok::<_, Refusal>(
                    jinguo_referrals::read_case(
                        c,
                        &wrong,
                        officer,
                        id,
                        "案件处置",
                        jinguo_bus::now(),
                    )
                    .await
                    .err(),
                )
            })
        })
        .await
        .unwrap();
    match read {
        Some(Refusal::Corrupt { what, problem }) => {
            assert_eq!(what, "victim");
            assert!(
                problem.contains("dev1") && problem.contains("not configured"),
                "{problem}"
            );
        }
        other => panic!("expected a loud failure, got {other:?}"),
    }
}
