//! Lecture tours for tests: a coordinator of 皋兰县, hosts in the nine villages of 什川镇, four
//! volunteers, and a tour of 什川镇: a draft, or planned by the tours worker and published.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Days, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{TestApp, TestBus, add_staff, api_token, eventually};

pub const COUNTY: &str = "620122000000";
/// 什川镇: nine villages, 620122103201 to 620122103209.
pub const TOWNSHIP: &str = "620122103000";

/// A draft tour and the people around it.
pub struct Draft {
    pub coordinator: Uuid,
    pub token: String,
    /// Village code → its host.
    pub hosts: HashMap<String, Uuid>,
    pub volunteers: Vec<Uuid>,
    pub tour: String,
}

/// A published tour, and the bus whose tours worker planned it. Stop `bus` when done.
pub struct Touring {
    pub bus: TestBus,
    pub draft: Draft,
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app
        .client
        .post(format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {path}: {status} {body}");
    body
}

/// A coordinator of 皋兰县, a host in each village of 什川镇, four volunteers and a draft tour
/// of 什川镇 from a fortnight on, all made over the API.
pub async fn draft_tour(app: &TestApp) -> Draft {
    let store = &app.store;
    let coordinator = add_staff(store, "tour-coord@t.cn", "马协调", "coordinator", "620122").await;
    let token = api_token(store, coordinator).await;
    let mut hosts = HashMap::new();
    for i in 1..=9 {
        let village = format!("62012210320{i}");
        let (email, name) = (format!("tour-host{i}@t.cn"), format!("村主任{i}"));
        let host = add_staff(store, &email, &name, "reviewer", &village).await;
        hosts.insert(village, host);
    }
    let mut volunteers = Vec::new();
    let homes = [
        "620122103201",
        "620122103204",
        "620122103207",
        "620122103209",
    ];
    for (i, village) in homes.iter().enumerate() {
        let made = post(
            app,
            &token,
            "/api/v1/volunteers",
            json!({
                "name": format!("志愿者{}", i + 1), "email": format!("tour-v{i}@t.cn"),
                "home_village": village, "topics": ["家风家教"], "max_per_day": 2,
            }),
        )
        .await;
        volunteers.push(made["id"].as_str().unwrap().parse().unwrap());
    }
    let first = Utc::now().date_naive() + Days::new(14);
    let created = post(
        app,
        &token,
        "/api/v1/tours",
        json!({
            "name": "陇原妇女面对面·什川镇", "county": COUNTY, "townships": [TOWNSHIP],
            "from": first, "to": first + Days::new(20), "topic": "家风家教",
            "session_minutes": 90, "day_start": "09:00", "day_end": "17:00",
        }),
    )
    .await;
    Draft {
        coordinator,
        token,
        hosts,
        volunteers,
        tour: created["id"].as_str().unwrap().to_owned(),
    }
}

/// The tours worker and the mailer (mail to files in `mail_dir`) on the in-process bus over
/// `app`'s database, and [`draft_tour`]'s tour planned and published.
pub async fn published_tour(app: &TestApp, mail_dir: &str) -> Touring {
    let env = [
        ("JINGUO_TOURS__PLAN_TIME_LIMIT_MS", "300"),
        ("JINGUO_MAIL__DIR", mail_dir),
        ("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str()),
    ];
    let config = crate::test_config(&app.db, &env);
    let workers = vec![
        jinguo_mail::mailer_worker(&config).unwrap(),
        jinguo_tour_program::worker(&config).unwrap(),
    ];
    let mut bus = TestBus::build(&app.db, None, workers, app.store.clone(), &env);
    bus.start_services();
    let draft = draft_tour(app).await;
    let (token, tour) = (&draft.token, &draft.tour);
    post(app, token, &format!("/api/v1/tours/{tour}/plan"), json!({})).await;
    eventually(
        "the worker plans the tour",
        Duration::from_secs(60),
        || async move {
            let (_, v) = app
                .get_json_as(&format!("/api/v1/tours/{tour}"), token)
                .await;
            (v["state"] == "planned").then_some(())
        },
    )
    .await;
    post(
        app,
        token,
        &format!("/api/v1/tours/{tour}/publish"),
        json!({}),
    )
    .await;
    Touring { bus, draft }
}
