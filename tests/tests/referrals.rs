//! The referrals program end to end on both paths (SQLite with the in-process bus; PostgreSQL
//! with RabbitMQ), ladder steps of seconds: a critical case nobody takes climbs the whole
//! ladder, each step mailed once, the top repeating; the climbing stops the moment someone
//! acknowledges; a protection-order clock warns before its deadline and records the breach
//! after it; a recorded incident flags the household, and nominating it afterwards takes the
//! incident flag's path without revealing it; the database holds no plaintext of a sealed
//! field; a wrong key fails loudly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jinguo_core::auth::Agency;
use jinguo_referrals::{
    Assessment, Consent, NewReferral, Refusal, Reporter, Settings, TaskStep, Victim,
};
use jinguo_store::Store;
use jinguo_store::referrals as store;
use jinguo_tests::nominating::mails_to;
use jinguo_tests::{
    Backend, Contents, TestBus, TestDb, Transport, add_staff, eventually, test_config,
};
use uuid::Uuid;

/// A victim name and phone the whole run must never leak.
pub const VICTIM_NAME: &str = "王秀英";
pub const VICTIM_PHONE: &str = "13912345678";
pub const VICTIM_ID: &str = "620122198507150020";

/// Critical in seconds: take within 2 s, the next step every 2 s, the top again every 2 s; the
/// urgent protection-order decision in 6 s, warned 3 s before.
const TEST_ESCALATION: &str = r#"
[levels.low]
clock = "working"
acknowledge = "3d"
act = "10d"
step = "2d"
repeat = "1d"
urgent = false
ladder = ["case_officer@county:on_duty", "supervisor@county"]
agency_ladder = ["agency_liaison@county", "supervisor@county"]

[levels.medium]
clock = "working"
acknowledge = "1d"
act = "5d"
step = "1d"
repeat = "1d"
urgent = false
ladder = ["case_officer@county:on_duty", "reviewer@township", "supervisor@county"]
agency_ladder = ["agency_liaison@county", "supervisor@county"]

[levels.high]
clock = "working"
acknowledge = "4h"
act = "2d"
step = "4h"
repeat = "4h"
urgent = false
ladder = ["case_officer@county:on_duty", "reviewer@township", "supervisor@county"]
agency_ladder = ["agency_liaison@county", "supervisor@county", "supervisor@city"]

[levels.critical]
clock = "wall"
acknowledge = "2s"
act = "1h"
step = "2s"
repeat = "2s"
urgent = true
ladder = ["case_officer@county:on_duty", "reviewer@township", "supervisor@county", "supervisor@city"]
agency_ladder = ["agency_liaison@county", "supervisor@county", "supervisor@city"]

[clocks]
warn_before = "3s"
protection_order_decision = "72h"
protection_order_decision_urgent = "6s"
protection_order_extension_notice = "14d"
shelter_stay = "10d"
warning_letter_visits = ["7d", "30d", "90d"]
"#;

const VILLAGE: &str = "620122100201";

/// The people of the scenario.
pub struct Cast {
    pub officer: Uuid,
    pub other_officer: Uuid,
    pub township_reviewer: Uuid,
    pub county_supervisor: Uuid,
    pub city_supervisor: Uuid,
    pub police: Uuid,
    pub court: Uuid,
}

async fn cast(store: &Store) -> Cast {
    let officer = add_staff(store, "officer@t.cn", "李承办", "case_officer", "620122").await;
    let other_officer = add_staff(store, "other@t.cn", "赵旁人", "case_officer", "620122").await;
    let township_reviewer = add_staff(store, "town@t.cn", "孙乡镇", "reviewer", "620122100").await;
    let county_supervisor = add_staff(store, "sup@t.cn", "周督导", "supervisor", "620122").await;
    let city_supervisor = add_staff(store, "city@t.cn", "吴市督导", "supervisor", "6201").await;
    let police = add_staff(store, "police@t.cn", "郑民警", "agency_liaison", "620122").await;
    let court = add_court_liaison(store).await;
    // The officer is on duty now: new cases reach her first.
    store
        .transaction(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                jinguo_store::staff::add_shift(
                    c,
                    &jinguo_store::staff::Shift {
                        county: jinguo_core::org::OrgCode::parse("620122").unwrap(),
                        person: officer,
                        starts_at: now - chrono::Duration::hours(1),
                        ends_at: now + chrono::Duration::hours(8),
                    },
                )
                .await
            })
        })
        .await
        .unwrap();
    Cast {
        officer,
        other_officer,
        township_reviewer,
        county_supervisor,
        city_supervisor,
        police,
        court,
    }
}

async fn add_court_liaison(store: &Store) -> Uuid {
    use jinguo_auth::staff::{Grantor, NewStaff, parse_assignment};
    let s = NewStaff {
        email: "court@t.cn".into(),
        name: "钱法官".into(),
        phone: None,
        assignment: parse_assignment("agency_liaison", "620122", Some("court")).unwrap(),
    };
    store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::add(c, &s, Grantor::Operator, jinguo_bus::now()).await
            })
        })
        .await
        .unwrap()
        .0
}

/// A case a school reports: the victim with her ID number and phone; `critical` answers a
/// critical question.
pub fn school_report(critical: bool) -> NewReferral {
    let mut answers = BTreeMap::new();
    answers.insert("weapon".to_owned(), critical);
    answers.insert("substance".to_owned(), true);
    NewReferral {
        village: VILLAGE.into(),
        source: jinguo_core::referrals::Source::School,
        reporter: Some(Reporter {
            name: "陈老师".into(),
            phone: Some("13700001111".into()),
            organisation: "什川镇中心小学".into(),
        }),
        victim: Victim {
            name: VICTIM_NAME.into(),
            sex: "女".into(),
            age: Some(41),
            phone: Some(VICTIM_PHONE.into()),
            address: "皋兰县什川镇北庄村三社".into(),
            id_number: Some(VICTIM_ID.into()),
            safe_contact: "只在工作日上午打电话".into(),
        },
        children_ages: vec![9],
        relationship: "配偶".into(),
        summary: "孩子在学校说父亲昨晚持刀威胁母亲，母亲手臂有伤。".into(),
        answers,
        consent: Consent {
            basis: jinguo_core::referrals::ConsentBasis::StatutoryDuty,
            note: "学校依法强制报告".into(),
        },
    }
}

/// The test configuration: seconds-long ladders, and mail written to `mail_dir`.
pub fn escalation_env(dir: &std::path::Path) -> (String, String) {
    let path = dir.join("escalation.toml");
    std::fs::write(&path, TEST_ESCALATION).unwrap();
    let mail = dir.join("mail");
    (
        path.to_str().unwrap().to_owned(),
        mail.to_str().unwrap().to_owned(),
    )
}

fn settings(config: &jinguo_config::Config) -> Settings {
    let calendar = Arc::new(config.calendar.load().unwrap());
    let sealer = Arc::new(
        jinguo_auth::seal::Sealer::from_config(
            &config.crypto.data_keys,
            &config.crypto.data_key_current,
        )
        .unwrap(),
    );
    Settings::from_config(config, calendar, sealer).unwrap()
}

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
