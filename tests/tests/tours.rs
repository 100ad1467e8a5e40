//! Lecture tours (巡回宣讲) end to end on both paths (SQLite with the in-process bus; PostgreSQL
//! with RabbitMQ), over the JSON API and the emailed links: volunteers are added (one by one
//! and by CSV, a bad line refusing the whole file), a tour is created and planned by the
//! worker, published (every lecturer mailed her talks with a calendar file that Python's
//! icalendar reads, every host the visit), a lecturer declines a talk through her link and
//! the repair changes exactly that talk (same UID, SEQUENCE 1, a cancelling file for her, the
//! new lecturer and the host told, nobody else), the coordinator takes a lecturer out, the
//! reminder and the attendance request fire from their timers, the host records attendance,
//! and the tour shows the coverage. A coordinator of another county gets 403 throughout.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use chrono::{Days, Utc};
use jinguo_store::Store;
use jinguo_store::mail::OutgoingMail;
use jinguo_tests::nominating::csrf_of;
use jinguo_tests::{Backend, TestApp, TestBus, Transport, add_staff, api_token, eventually};
use serde_json::{Value, json};
use uuid::Uuid;

const COUNTY: &str = "620122000000";
/// 什川镇: nine villages.
const TOWNSHIP: &str = "620122103000";
const WAIT: Duration = Duration::from_secs(60);

/// Sends `body` as JSON with the API token: the status and the answer.
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let r = app
        .client
        .request(method, format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    send(app, reqwest::Method::POST, token, path, body).await
}

async fn mails(store: &Store) -> Vec<OutgoingMail> {
    store
        .read(|c| Box::pin(jinguo_store::mail::recent(c, 2000)))
        .await
        .unwrap()
}

fn to(mails: &[OutgoingMail], person: Uuid, subject: &str) -> Vec<OutgoingMail> {
    mails
        .iter()
        .filter(|m| m.person_id == Some(person) && m.subject.starts_with(subject))
        .cloned()
        .collect()
}

/// Every `/link/…` in a mail's text, in order.
fn links_in(text: &str) -> Vec<String> {
    text.match_indices("/link/")
        .map(|(at, _)| {
            let rest = &text[at..];
            rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())].to_owned()
        })
        .collect()
}

/// One event of a calendar file as Python's icalendar reads it.
#[derive(Debug, Clone, PartialEq)]
struct Read {
    method: String,
    uid: String,
    sequence: u32,
    tz: String,
    start: String,
}

/// Reads a calendar file with Python's icalendar (scripts/test installs it).
fn read_calendar(body: &str) -> Vec<Read> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ics");
    std::fs::write(&path, body).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
for e in cal.walk("VEVENT"):
    start = e.decoded("DTSTART")
    print(cal["METHOD"], e["UID"], int(e["SEQUENCE"]), start.tzinfo, start.strftime("%Y-%m-%d %H:%M"), sep="|")
"#,
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "icalendar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            Read {
                method: f[0].into(),
                uid: f[1].into(),
                sequence: f[2].parse().unwrap(),
                tz: f[3].into(),
                start: f[4].into(),
            }
        })
        .collect()
}

/// The tour's sessions by UID: (lecturer id, date, time, state, sequence).
async fn sessions(app: &TestApp, token: &str, tour: &str) -> HashMap<String, Value> {
    let (status, schedule) = app
        .get_json_as(&format!("/api/v1/tours/{tour}/schedule"), token)
        .await;
    assert_eq!(status, 200, "{schedule}");
    schedule["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["uid"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

fn same_talk(a: &Value, b: &Value) -> bool {
    ["lecturer_id", "date", "time", "state", "sequence"]
        .iter()
        .all(|k| a[k] == b[k])
}

async fn fire_timer(store: &Store, key: String) {
    let moved = store
        .transaction(move |c| {
            Box::pin(async move { jinguo_store::timers::reschedule(c, &key, Utc::now()).await })
        })
        .await
        .unwrap();
    assert!(moved, "the timer was set");
}

async fn plan_tour_end_to_end(transport: Transport) {
    let backend = match transport {
        Transport::RabbitMq => Backend::Postgres,
        Transport::InProcess => Backend::Sqlite,
    };
    let mail_dir = tempfile::tempdir().unwrap();
    let mail_env = mail_dir.path().to_str().unwrap().to_owned();
    let env = [
        ("JINGUO_TOURS__PLAN_TIME_LIMIT_MS", "300"),
        ("JINGUO_MAIL__DIR", mail_env.as_str()),
    ];
    let app = TestApp::spawn_with(backend, jinguo_tests::Contents::Gansu, &env).await;
    let mut bus_env = env.to_vec();
    bus_env.push(("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str()));
    let config = jinguo_tests::test_config(&app.db, &bus_env);
    let workers = vec![
        jinguo_mail::mailer_worker(&config).unwrap(),
        jinguo_tour_program::worker(&config).unwrap(),
    ];
    let amqp = jinguo_tests::amqp_url();
    let mut bus = TestBus::build(
        &app.db,
        (transport == Transport::RabbitMq).then_some(amqp.as_str()),
        workers,
        app.store.clone(),
        &bus_env,
    );
    bus.start_services();
    let store = app.store.clone();

    let coordinator = add_staff(&store, "coord@t.cn", "马协调", "coordinator", "620122").await;
    let token = api_token(&store, coordinator).await;
    let neighbour = add_staff(&store, "next@t.cn", "孙邻县", "coordinator", "620123").await;
    let neighbour_token = api_token(&store, neighbour).await;
    // A host (the village chair) in every village of 什川镇.
    let mut hosts = HashMap::new();
    for i in 1..=9 {
        let village = format!("62012210320{i}");
        let host = add_staff(
            &store,
            &format!("host{i}@t.cn"),
            &format!("村主任{i}"),
            "reviewer",
            &village,
        )
        .await;
        hosts.insert(village, host);
    }

    // Volunteers: three by the API; a CSV with a bad line refuses the whole file.
    let first = Utc::now().date_naive() + Days::new(14);
    let last = first + Days::new(20);
    for (i, village) in ["620122103201", "620122103205", "620122103209"]
        .iter()
        .enumerate()
    {
        let (status, body) = post(
            &app,
            &token,
            "/api/v1/volunteers",
            json!({
                "name": format!("志愿者{}", i + 1), "email": format!("v{i}@t.cn"),
                "phone": "13800000000", "home_village": village,
                "topics": ["家风家教", "法律宣传"], "max_per_day": 2,
            }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = post(
        &app,
        &neighbour_token,
        "/api/v1/volunteers",
        json!({ "name": "越权", "email": "x@t.cn", "home_village": "620122103201",
                "topics": ["家风家教"], "max_per_day": 2 }),
    )
    .await;
    assert_eq!(status, 403, "another county's coordinator: {body}");
    let (status, body) = post(
        &app,
        &token,
        "/api/v1/volunteers",
        json!({ "name": "李四", "email": "l4@t.cn", "home_village": "620122103201",
                "topics": ["跳舞"], "max_per_day": 2 }),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("topics"))
    );
    let header = "姓名,邮箱,手机,居住村代码,宣讲主题,每日最多场次,可宣讲开始日期,可宣讲结束日期,不可宣讲日期";
    let bad = format!(
        "{header}\n王五,w5@t.cn,,620122103202,家风家教,2,,,\n赵六,not-an-email,,620122103203,家风家教,2,,,\n"
    );
    let r = app
        .client
        .post(format!("{}/api/v1/volunteers/import", app.base_url))
        .bearer_auth(&token)
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let refused: Value = r.json().await.unwrap();
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("第 3 行 邮箱"),
        "{refused}"
    );
    let (_, listed) = app
        .get_json_as(&format!("/api/v1/volunteers?county={COUNTY}"), &token)
        .await;
    assert_eq!(
        listed["volunteers"].as_array().unwrap().len(),
        3,
        "nothing of the bad file"
    );
    let good = format!("{header}\n王五,w5@t.cn,,620122103202,家风家教,2,,,{first}\n");
    let r = app
        .client
        .post(format!("{}/api/v1/volunteers/import", app.base_url))
        .bearer_auth(&token)
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // The tour: 什川镇, three weeks from a fortnight on.
    let (status, created) = post(
        &app,
        &token,
        "/api/v1/tours",
        json!({
            "name": "陇原妇女面对面·什川镇", "county": COUNTY, "townships": [TOWNSHIP],
            "from": first, "to": last, "topic": "家风家教", "session_minutes": 90,
            "day_start": "09:00", "day_end": "17:00",
        }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let tour = created["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .get_json_as(&format!("/api/v1/tours/{tour}"), &neighbour_token)
        .await;
    assert_eq!(status, 403, "another county's coordinator may not see it");
    let (status, _) = post(
        &app,
        &neighbour_token,
        &format!("/api/v1/tours/{tour}/plan"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "nor plan it");

    // Planned by the worker.
    let (status, body) = post(
        &app,
        &token,
        &format!("/api/v1/tours/{tour}/plan"),
        json!({}),
    )
    .await;
    assert_eq!((status, body["state"].as_str()), (202, Some("planning")));
    let view = eventually("the worker plans the tour", WAIT, || {
        let (app, token, tour) = (&app, &token, &tour);
        async move {
            let (_, v) = app
                .get_json_as(&format!("/api/v1/tours/{tour}"), token)
                .await;
            (v["state"] == "planned").then_some(v)
        }
    })
    .await;
    assert_eq!(view["villages"], 9);
    assert_eq!(view["covered"], 9, "every village of 什川镇: {view}");
    assert!(view["unassigned"].as_array().unwrap().is_empty());
    let talk = &view["days"][0]["talks"][0];
    assert!(talk["lecturer"].as_str().unwrap().starts_with("志愿者") || talk["lecturer"] == "王五");
    assert!(
        talk["village"].as_str().unwrap().starts_with("什川镇"),
        "{talk}"
    );

    // Published: every lecturer her talks with a calendar file, every host the visit.
    let (status, body) = post(
        &app,
        &token,
        &format!("/api/v1/tours/{tour}/publish"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = sessions(&app, &token, &tour).await;
    assert_eq!(before.len(), 9);
    let (status, _) = put(
        &app,
        &token,
        &format!("/api/v1/tours/{tour}/villages"),
        json!([{ "code": "620122103201" }]),
    )
    .await;
    assert_eq!(status, 409, "published: villages no longer change");
    let all = mails(&store).await;
    let mut lecturers: HashMap<Uuid, Vec<&Value>> = HashMap::new();
    for s in before.values() {
        assert_eq!(s["sequence"], 0);
        let time = s["time"].as_str().unwrap();
        assert_eq!(
            &time[4..5],
            "0",
            "talks start on the ten-minute step: {time}"
        );
        let l: Uuid = s["lecturer_id"].as_str().unwrap().parse().unwrap();
        lecturers.entry(l).or_default().push(s);
    }
    for (lecturer, talks) in &lecturers {
        let sent = to(&all, *lecturer, "【巾帼】宣讲安排");
        assert_eq!(sent.len(), 1, "one mail per lecturer");
        let a = sent[0].attachment.as_ref().expect("a calendar file");
        assert!(a.content_type.starts_with("text/calendar"));
        let events = read_calendar(&a.body);
        assert_eq!(events.len(), talks.len(), "one VEVENT per talk");
        for e in &events {
            assert_eq!(
                (e.method.as_str(), e.sequence, e.tz.as_str()),
                ("PUBLISH", 0, "Asia/Shanghai")
            );
            assert!(
                before.contains_key(&e.uid),
                "the UID is the session's: {}",
                e.uid
            );
        }
        assert_eq!(
            links_in(&sent[0].text_body).len(),
            talks.len(),
            "a decline link per talk"
        );
        assert!(
            !sent[0].text_body.contains(COUNTY) && !sent[0].text_body.contains("6201221032"),
            "names, not codes"
        );
    }
    for (village, host) in &hosts {
        let sent = to(&all, *host, "【巾帼】宣讲到村");
        assert_eq!(sent.len(), 1, "{village}: the host hears of the visit once");
        assert!(!sent[0].text_body.contains(village.as_str()));
    }

    // A lecturer declines her first talk through her link: exactly that talk changes.
    let (&decliner, _) = lecturers.iter().max_by_key(|(_, t)| t.len()).unwrap();
    let mail = &to(&all, decliner, "【巾帼】宣讲安排")[0];
    let link = links_in(&mail.text_body)[0].clone();
    let page = app
        .client
        .get(format!("{}{link}", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("我无法前往这场宣讲"));
    let after_get = sessions(&app, &token, &tour).await;
    assert!(
        before.iter().all(|(u, s)| same_talk(s, &after_get[u])),
        "GET changes nothing"
    );
    let r = app
        .client
        .post(format!("{}{link}", app.base_url))
        .form(&[("csrf", csrf_of(&html)), ("reason", "家中有事".into())])
        .send()
        .await
        .unwrap();
    let (status, text) = (r.status().as_u16(), r.text().await.unwrap());
    assert_eq!(status, 200, "{text}");
    let after = sessions(&app, &token, &tour).await;
    let changed: Vec<&String> = before
        .keys()
        .filter(|u| !same_talk(&before[*u], &after[*u]))
        .collect();
    assert_eq!(changed.len(), 1, "only the declined talk changes");
    let uid = changed[0];
    let moved = &after[uid];
    assert_eq!(moved["sequence"], 1);
    assert_ne!(
        moved["lecturer_id"],
        json!(decliner.to_string()),
        "someone else gives it"
    );
    let all2 = mails(&store).await;
    let cancel = to(&all2, decliner, "【巾帼】宣讲取消");
    assert_eq!(cancel.len(), 1);
    let events = read_calendar(&cancel[0].attachment.as_ref().unwrap().body);
    assert_eq!(
        events
            .iter()
            .map(|e| (e.method.as_str(), e.uid.as_str(), e.sequence))
            .collect::<Vec<_>>(),
        vec![("CANCEL", uid.as_str(), 1)]
    );
    if moved["state"] == "已安排" {
        let new_lecturer: Uuid = moved["lecturer_id"].as_str().unwrap().parse().unwrap();
        let got = to(&all2, new_lecturer, "【巾帼】宣讲安排");
        assert_eq!(
            got.len(),
            to(&all, new_lecturer, "【巾帼】宣讲安排").len() + 1
        );
        let events = read_calendar(&got[0].attachment.as_ref().unwrap().body);
        assert_eq!(
            events
                .iter()
                .map(|e| (e.uid.as_str(), e.sequence))
                .collect::<Vec<_>>(),
            vec![(uid.as_str(), 1)],
            "the same UID, a higher SEQUENCE"
        );
    }
    let village = moved["village_code"].as_str().unwrap();
    assert_eq!(
        to(&all2, hosts[village], "【巾帼】宣讲到村").len(),
        2,
        "the host hears of the change"
    );
    let others_told = hosts
        .iter()
        .filter(|(v, _)| v.as_str() != village)
        .filter(|(_, h)| to(&all2, **h, "【巾帼】").len() != to(&all, **h, "【巾帼】").len())
        .count();
    assert_eq!(others_told, 0, "no other host hears of it");
    // The link decides once.
    let again = app
        .client
        .post(format!("{}{link}", app.base_url))
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409);

    // The coordinator takes a lecturer out: her talks move or are cancelled, no other changes.
    let (&out, _) = lecturers.iter().find(|(l, _)| **l != decliner).unwrap();
    let (status, body) = post(
        &app,
        &neighbour_token,
        &format!("/api/v1/tours/{tour}/removals"),
        json!({ "volunteer": out }),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(
        &app,
        &token,
        &format!("/api/v1/tours/{tour}/removals"),
        json!({ "volunteer": out }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let removed = sessions(&app, &token, &tour).await;
    for (u, s) in &after {
        let hers = s["lecturer_id"] == json!(out.to_string()) && s["state"] == "已安排";
        assert_eq!(
            !same_talk(s, &removed[u]),
            hers,
            "{u}: only her talks change"
        );
        assert_ne!(removed[u]["lecturer_id"], json!(out.to_string()));
    }
    // Her decline links now say where the talk went.
    let old = links_in(&to(&all, out, "【巾帼】宣讲安排")[0].text_body);
    let page = app
        .client
        .get(format!("{}{}", app.base_url, old[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 409);
    assert!(
        page.text().await.unwrap().contains("转交"),
        "superseded, not declinable"
    );

    // The reminder is set for the working day before, at office opening; fired, it reaches
    // the lecturer and the host.
    let (uid, talk) = removed
        .iter()
        .find(|(_, s)| s["state"] == "已安排")
        .unwrap();
    let session: Uuid = talk["session"].as_str().unwrap().parse().unwrap();
    let sequence = talk["sequence"].as_u64().unwrap();
    let key = format!("tour.remind:{session}:{sequence}");
    let k = key.clone();
    let timer = store
        .read(move |c| Box::pin(async move { jinguo_store::timers::get(c, &k).await }))
        .await
        .unwrap()
        .expect("a reminder timer");
    let local = timer.due_at.with_timezone(&chrono_tz::Asia::Shanghai);
    let day: chrono::NaiveDate = talk["date"].as_str().unwrap().parse().unwrap();
    assert!(
        local.date_naive() < day && local.format("%H:%M").to_string() == "09:00",
        "{local}"
    );
    // The working day before, on the shipped calendar with the county's overlays.
    let calendar = config.calendar.load().unwrap();
    let county = jinguo_core::org::OrgCode::parse(COUNTY).unwrap();
    let mut before = day.pred_opt().unwrap();
    while !calendar.is_working_day(before, Some(&county)) {
        before = before.pred_opt().unwrap();
    }
    assert_eq!(local.date_naive(), before, "the working day before {day}");
    fire_timer(&store, key).await;
    let lecturer: Uuid = talk["lecturer_id"].as_str().unwrap().parse().unwrap();
    let host = hosts[talk["village_code"].as_str().unwrap()];
    eventually("the reminder reaches the lecturer", WAIT, || {
        let store = store.clone();
        async move {
            (!to(&mails(&store).await, lecturer, "【巾帼】宣讲提醒").is_empty()).then_some(())
        }
    })
    .await;

    // The talk ends: the host gets her attendance link. Before the day, it refuses; a bad
    // number is refused beside its field; on the day it records, once.
    fire_timer(&store, format!("tour.attendance:{session}:{sequence}")).await;
    let asked = eventually("the host is asked for attendance", WAIT, || {
        let store = store.clone();
        async move {
            let m = to(&mails(&store).await, host, "【巾帼】请记录宣讲情况");
            (!m.is_empty()).then(|| m[0].clone())
        }
    })
    .await;
    let link = links_in(&asked.text_body)[0].clone();
    let html = app
        .client
        .get(format!("{}{link}", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    let submit = |women: &'static str| {
        let (app, link, csrf) = (&app, &link, &csrf);
        async move {
            let r = app
                .client
                .post(format!("{}{link}", app.base_url))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("women", women),
                    ("topic_covered", "yes"),
                    ("note", "反响热烈"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, page) = submit("很多").await;
    assert_eq!(status, 400);
    assert!(
        page.contains("women-error") && page.contains("反响热烈"),
        "beside the field, the note kept"
    );
    let (status, page) = submit("36").await;
    assert_eq!(status, 409, "not before the talk: {page}");
    // The day comes (the session is moved to today, as the clock cannot be).
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    store
        .transaction(move |c| {
            Box::pin(async move {
                let mut s = jinguo_store::tours::session(c, session).await?.unwrap();
                s.day = today;
                jinguo_store::tours::update_session(c, &s).await
            })
        })
        .await
        .unwrap();
    let (status, page) = submit("36").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("36"));
    let (status, _) = submit("40").await;
    assert_eq!(status, 409, "once");
    // The rule behind the link: only a host of the village records (a link whose person is
    // no longer its chair is refused the same way).
    let settings = jinguo_tour_program::Settings::from_config(
        &config,
        std::sync::Arc::new(config.calendar.load().unwrap()),
    )
    .unwrap();
    let record = jinguo_tour_program::parse_record("12", "yes", "").unwrap();
    let refused = store
        .transaction(move |c| {
            let (settings, record) = (settings.clone(), record.clone());
            Box::pin(async move {
                jinguo_tour_program::record_attendance(
                    c,
                    &settings,
                    decliner,
                    session,
                    &record,
                    Utc::now(),
                )
                .await
            })
        })
        .await;
    assert!(
        matches!(refused, Err(jinguo_tour_program::Refusal::Forbidden(_))),
        "{refused:?}"
    );

    // Coverage: the township's villages, one held with its women counted; the map shows it.
    let (_, view) = app
        .get_json_as(&format!("/api/v1/tours/{tour}"), &token)
        .await;
    let row = &view["coverage"][0];
    assert_eq!(
        (row["township"].as_str(), row["villages"].as_u64()),
        (Some("什川镇"), Some(9))
    );
    assert_eq!(
        (row["held"].as_u64(), row["women"].as_u64()),
        (Some(1), Some(36))
    );
    let points = view["points"].as_array().unwrap();
    assert_eq!(points.iter().filter(|p| p["status"] == "已举行").count(), 1);
    let held = &sessions(&app, &token, &tour).await[uid];
    assert_eq!(
        (held["state"].as_str(), held["women"].as_u64()),
        (Some("已举行"), Some(36))
    );
    let ics = app
        .client
        .get(format!("{}/api/v1/tours/{tour}/schedule.ics", app.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(
        ics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let events = read_calendar(&ics.text().await.unwrap());
    assert_eq!(
        events.len(),
        removed.values().filter(|s| s["state"] != "已取消").count()
    );

    bus.stop().await;
}

jinguo_tests::on_both_transports!(plan_tour_end_to_end);

/// The coordinator in a browser that follows no redirects: her session cookie and CSRF value.
struct SignedIn {
    client: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl SignedIn {
    async fn new(app: &TestApp, person: Uuid) -> SignedIn {
        let (cookie, csrf) = jinguo_tests::session(&app.store, person).await;
        SignedIn {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base_url.clone(),
            cookie,
            csrf,
        }
    }

    /// The HTML of a page.
    async fn page(&self, path: &str) -> String {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    }

    /// Posts `form` with the CSRF value.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut body = vec![("csrf", self.csrf.as_str())];
        body.extend_from_slice(form);
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(&body)
            .send()
            .await
            .unwrap()
    }
}

/// A draft tour on SQLite, the tours worker's handler and no bus: plan jobs are delivered by
/// hand, so that a test decides when (and how often) each runs.
struct ByHand {
    app: TestApp,
    draft: jinguo_tests::touring::Draft,
    worker: jinguo_bus::Worker,
    tour: Uuid,
}

impl ByHand {
    async fn new() -> ByHand {
        let limit = [("JINGUO_TOURS__PLAN_TIME_LIMIT_MS", "200")];
        let app = TestApp::spawn_with(Backend::Sqlite, jinguo_tests::Contents::Gansu, &limit).await;
        let draft = jinguo_tests::touring::draft_tour(&app).await;
        let worker =
            jinguo_tour_program::worker(&jinguo_tests::test_config(&app.db, &limit)).unwrap();
        let tour = draft.tour.parse().unwrap();
        ByHand {
            app,
            draft,
            worker,
            tour,
        }
    }

    async fn row(&self) -> jinguo_store::tours::TourRow {
        let tour = self.tour;
        self.app
            .store
            .read(move |c| Box::pin(async move { jinguo_store::tours::tour(c, tour).await }))
            .await
            .unwrap()
            .unwrap()
    }

    /// Asks for a plan as the coordinator does: the request the job will carry.
    async fn ask(&self) -> Uuid {
        let path = format!("/api/v1/tours/{}/plan", self.tour);
        let (status, _) = post(&self.app, &self.draft.token, &path, json!({})).await;
        assert_eq!(status, 202);
        self.row().await.plan_request.unwrap()
    }

    async fn deliver(&self, request: Uuid) {
        use jinguo_bus::Job;
        let job = jinguo_tour_program::PlanTour {
            tour: self.tour,
            request,
        }
        .envelope(Utc::now());
        self.worker
            .handler
            .handle_outside(&self.app.store, &job)
            .await
            .unwrap();
    }
}

/// The plan job runs outside any transaction, so its idempotence is its own: delivered again it
/// finds its request answered and changes nothing; a job for a request superseded by a newer one
/// writes nothing, and the newer one's result is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_job_delivered_again_or_superseded_changes_nothing() {
    let t = ByHand::new().await;
    let row = || t.row();
    let ask = || t.ask();
    let deliver = |request| t.deliver(request);
    // No bus runs: the jobs are delivered by hand.
    let first = ask().await;
    deliver(first).await;
    let planned = row().await;
    assert_eq!(planned.state, jinguo_store::tours::TourState::Planned);
    deliver(first).await;
    let again = row().await;
    assert_eq!(
        (again.plan, again.planned_at),
        (planned.plan.clone(), planned.planned_at),
        "delivered again: nothing changes"
    );

    let stale = first;
    let second = ask().await;
    deliver(stale).await;
    let waiting = row().await;
    assert_eq!(
        waiting.state,
        jinguo_store::tours::TourState::Planning,
        "a superseded job writes nothing"
    );
    deliver(second).await;
    let replanned = row().await;
    assert_eq!(replanned.state, jinguo_store::tours::TourState::Planned);
    assert!(replanned.planned_at > planned.planned_at);
}

/// Before publishing, a day or a lecturer taken out (by API or by the page, one rule behind
/// both) shapes the next plan: a planned tour goes back to draft with its plan dropped, nobody
/// is told anything, and the plan computed afterwards has no talk on that day and none for
/// that lecturer. The tour page lists what was taken out.
#[tokio::test(flavor = "multi_thread")]
async fn a_day_or_a_lecturer_taken_out_before_publishing_shapes_the_next_plan() {
    let t = ByHand::new().await;
    let (app, draft, tour) = (&t.app, &t.draft, t.tour);
    let row = || t.row();
    // A plan asked for and its job delivered: (date, lecturer) of each talk it stored.
    let plan = || async {
        t.deliver(t.ask().await).await;
        let planned = row().await;
        assert_eq!(planned.state, jinguo_store::tours::TourState::Planned);
        let schedule: Value = serde_json::from_str(&planned.plan.unwrap()).unwrap();
        let talks: Vec<(String, String)> = schedule["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let field = |k: &str| s[k].as_str().unwrap().to_owned();
                (field("date"), field("lecturer"))
            })
            .collect();
        assert!(!talks.is_empty());
        talks
    };

    let first = plan().await;
    let day = first[0].0.clone();
    let mails_before = mails(&app.store).await.len();
    let (status, answer) = post(
        app,
        &draft.token,
        &format!("/api/v1/tours/{tour}/removals"),
        json!({ "day": day }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "moved": 0, "cancelled": 0, "replan": true })
    );
    let dropped = row().await;
    assert_eq!(dropped.state, jinguo_store::tours::TourState::Draft);
    assert!(
        dropped.plan.is_none(),
        "the plan without the removal is dropped"
    );
    let second = plan().await;
    assert!(
        second.iter().all(|(d, _)| *d != day),
        "no talk on {day}: {second:?}"
    );

    // The page: the lecturer with most talks taken out, the same rule.
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (_, lecturer) in &second {
        *count.entry(lecturer.as_str()).or_default() += 1;
    }
    let busiest = count
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .unwrap()
        .0
        .to_owned();
    let browser = SignedIn::new(app, draft.coordinator).await;
    let r = browser
        .post(
            &format!("/tours/{tour}/remove"),
            &[("volunteer", busiest.as_str()), ("day", "")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/tours/{tour}?excluded=1#adjust"));
    assert_eq!(row().await.state, jinguo_store::tours::TourState::Draft);
    let page = browser.page(&location).await;
    assert!(
        page.contains("已记下：计算安排时不再安排这位讲师或这一天"),
        "{page}"
    );
    assert!(page.contains("<h3>已去掉</h3>"), "{page}");
    // A tour running into a year whose holidays are not loaded says so; one that does not, not.
    let spec: Value = serde_json::from_str(&row().await.spec).unwrap();
    let year = |k: &str| spec[k].as_str().unwrap()[..4].parse::<i32>().unwrap();
    let missing = jinguo_tests::test_config(&app.db, &[])
        .calendar
        .load()
        .unwrap()
        .missing_years(year("from"), year("to"));
    assert_eq!(
        page.contains("id=\"calendar-note\""),
        !missing.is_empty(),
        "{missing:?}: {page}"
    );
    for y in missing {
        assert!(
            page.contains(&format!("{y}年的节假日和调休安排尚未载入系统")),
            "{page}"
        );
    }
    assert!(
        page.contains(&jinguo_tour_program::day_label(day.parse().unwrap())),
        "{page}"
    );
    let third = plan().await;
    assert!(
        third.iter().all(|(d, l)| *l != busiest && *d != day),
        "{third:?}"
    );
    assert_eq!(
        mails(&app.store).await.len(),
        mails_before,
        "nobody is told before publishing"
    );
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    send(app, reqwest::Method::PUT, token, path, body).await
}

/// Before publishing, the coordinator chooses the villages and their venues, by API and by
/// page, the same rule behind both: inside the tour's township, a venue of the two kinds, a
/// capacity in bounds; another county's coordinator is refused; the tour's page shows them.
async fn villages_and_venues_are_chosen_before_planning(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let draft = jinguo_tests::touring::draft_tour(&app).await;
    let path = format!("/api/v1/tours/{}/villages", draft.tour);
    let chosen = json!([
        { "code": "620122103201" },
        { "code": "620122103202", "venue": "新时代文明实践站", "capacity": 80 },
        { "code": "620122103203", "venue": "妇女之家", "capacity": 40 },
    ]);
    let (status, body) = put(&app, &draft.token, &path, chosen.clone()).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("draft")),
        "{body}"
    );
    let (_, view) = app
        .get_json_as(&format!("/api/v1/tours/{}", draft.tour), &draft.token)
        .await;
    assert_eq!(view["villages"], 3);
    assert_eq!(
        view["without_host"],
        json!([]),
        "every village has its chair"
    );
    // A chair disabled: her village is named as one that hears of nothing.
    let host = draft.hosts["620122103202"];
    app.store
        .transaction(move |c| {
            Box::pin(async move { jinguo_store::staff::set_active(c, host, false).await })
        })
        .await
        .unwrap();
    let (_, view) = app
        .get_json_as(&format!("/api/v1/tours/{}", draft.tour), &draft.token)
        .await;
    assert_eq!(view["without_host"], json!(["什川镇长坡村委会"]));
    let choices = view["village_choices"][0][1].as_array().unwrap();
    let second = choices
        .iter()
        .find(|v| v["code"] == "620122103202")
        .unwrap();
    assert_eq!(
        (
            second["chosen"].as_bool(),
            second["venue"].as_str(),
            second["capacity"].as_u64()
        ),
        (Some(true), Some("新时代文明实践站"), Some(80))
    );

    for (bad, field) in [
        (json!([{ "code": "620122100201" }]), "villages"), // 石洞镇: outside the tour's township
        (
            json!([{ "code": "620122103201", "venue": "礼堂" }]),
            "villages",
        ),
        (
            json!([{ "code": "620122103201", "capacity": 0 }]),
            "villages",
        ),
        (json!([]), "villages"),
    ] {
        let (status, body) = put(&app, &draft.token, &path, bad.clone()).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some(field)),
            "{bad}: {body}"
        );
    }
    let neighbour = add_staff(&app.store, "n@t.cn", "孙邻县", "coordinator", "620123").await;
    let neighbour_token = api_token(&app.store, neighbour).await;
    let (status, _) = put(&app, &neighbour_token, &path, chosen).await;
    assert_eq!(status, 403);

    // The page: the form lists 什川镇's villages with what was chosen, and saves a new choice.
    let browser = SignedIn::new(&app, draft.coordinator).await;
    let page = browser.page(&format!("/tours/{}", draft.tour)).await;
    assert!(
        page.contains("已选 3 个") && page.contains("<legend>什川镇</legend>"),
        "{page}"
    );
    assert!(page.contains("value=\"620122103202\" checked"));
    let form = [
        ("villages_form", "1"),
        ("v", "620122103204"),
        ("venue-620122103204", "新时代文明实践站"),
        ("capacity-620122103204", "60"),
        ("v", "620122103205"),
        ("venue-620122103205", "妇女之家"),
        ("capacity-620122103205", ""),
    ];
    let villages = format!("/tours/{}/villages", draft.tour);
    let r = browser.post(&villages, &form).await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, view) = app
        .get_json_as(&format!("/api/v1/tours/{}", draft.tour), &draft.token)
        .await;
    assert_eq!(view["villages"], 2);
    // Nothing ticked: refused beside the form, nothing changed.
    let r = browser.post(&villages, &[("villages_form", "1")]).await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("id=\"villages-error\""));
    let (_, view) = app
        .get_json_as(&format!("/api/v1/tours/{}", draft.tour), &draft.token)
        .await;
    assert_eq!(view["villages"], 2);
}

jinguo_tests::on_both_backends!(villages_and_venues_are_chosen_before_planning);
