//! Referrals for tests: the cast of a county's linkage mechanism, a school's report, a policy of
//! seconds-long ladders, and the program's settings from a test configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use jinguo_referrals::{Consent, NewReferral, Reporter, Settings, Victim};
use jinguo_store::Store;
use uuid::Uuid;

use crate::add_staff;

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

pub const VILLAGE: &str = "620122100201";

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

pub async fn cast(store: &Store) -> Cast {
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

pub fn settings(config: &jinguo_config::Config) -> Settings {
    let calendar = Arc::new(config.calendar.load().unwrap());
    let sealer = Arc::new(jinguo_auth::seal::sealer_from(config).unwrap());
    Settings::from_config(config, calendar, sealer).unwrap()
}

/// The same school report as the API takes it (JSON).
pub fn school_report_json(critical: bool) -> serde_json::Value {
    let r = school_report(critical);
    let reporter = r.reporter.expect("a school names its reporter");
    serde_json::json!({
        "village": r.village,
        "source": r.source.as_str(),
        "reporter": {
            "name": reporter.name,
            "phone": reporter.phone,
            "organisation": reporter.organisation,
        },
        "victim": {
            "name": r.victim.name,
            "sex": r.victim.sex,
            "age": r.victim.age,
            "phone": r.victim.phone,
            "address": r.victim.address,
            "id_number": r.victim.id_number,
            "safe_contact": r.victim.safe_contact,
        },
        "children_ages": r.children_ages,
        "relationship": r.relationship,
        "summary": r.summary,
        "answers": r.answers,
        "consent": { "basis": r.consent.basis.as_str(), "note": r.consent.note },
    })
}
