//! The mailer against a real SMTP server, and the file mailbox of the embedded default.

use std::time::Duration;

use jinguo_bus::Envelope;
use jinguo_core::notify::{Channel, Person, Urgency};
use jinguo_mail::{Attachment, DeadlineReminder, MAIL_SEND};
use jinguo_store::{Store, StoreError, dead_letters, outbox, people};
use jinguo_tests::{Backend, Contents, SmtpSink, TestApp, TestBus, TestDb, Transport, eventually};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(60);

fn reminder() -> DeadlineReminder {
    DeadlineReminder {
        recipient: "王芳".into(),
        task: "李秀英家庭的最美家庭推荐（村级审核）".into(),
        due: "2026年12月1日（周二）17:30".into(),
        link: "http://127.0.0.1:8080/review/abc".into(),
    }
}

/// Adds a person and notifies them in one transaction; returns the mail id.
async fn notify(store: &Store, email: &str) -> Uuid {
    notify_with(store, email, None).await
}

/// [`notify`], with `attachment` on the mail when there is one.
async fn notify_with(store: &Store, email: &str, attachment: Option<Attachment>) -> Uuid {
    let person = Person {
        id: jinguo_bus::new_id(),
        display_name: "王芳".into(),
        email: email.into(),
        phone: None,
        preferred_channel: Channel::Email,
    };
    let ids = store
        .transaction(move |c| {
            Box::pin(async move {
                people::insert(c, &person, jinguo_bus::now()).await?;
                let (id, email, now) = (person.id, &reminder(), jinguo_bus::now());
                match attachment {
                    Some(a) => {
                        jinguo_mail::notify_attached(c, id, email, a, Urgency::Normal, now).await
                    }
                    None => jinguo_mail::notify(c, id, email, Urgency::Normal, now).await,
                }
                .map_err(|e| StoreError::Task(e.to_string()))
            })
        })
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "email only: one mail");
    ids[0]
}

async fn bus_with_mailer(db: &TestDb, transport: Transport, mail_env: &[(&str, &str)]) -> TestBus {
    let config = jinguo_tests::test_config(db, mail_env);
    let mailer = jinguo_mail::mailer_worker(&config).unwrap();
    TestBus::start(db, transport, vec![mailer], mail_env).await
}

fn database_for(transport: Transport) -> Backend {
    match transport {
        Transport::RabbitMq => Backend::Postgres,
        Transport::InProcess => Backend::Sqlite,
    }
}

async fn smtp_mail_arrives_once_with_both_parts_and_its_message_id(transport: Transport) {
    let sink = SmtpSink::start();
    let url = sink.url();
    let db = TestDb::new(database_for(transport), Contents::Empty).await;
    let bus = bus_with_mailer(&db, transport, &[("JINGUO_MAIL__SMTP_URL", &url)]).await;
    let id = notify(&bus.bus.store, "wangfang@example.cn").await;

    let mails = eventually("the mail at the SMTP server", WAIT, || async {
        let m = sink.mails();
        (!m.is_empty()).then_some(m)
    })
    .await;
    let mail = &mails[0];
    assert_eq!(mail["message_id"], format!("<{id}@jinguo.invalid>"));
    assert_eq!(
        mail["subject"],
        "【巾帼】提醒：李秀英家庭的最美家庭推荐（村级审核）将于2026年12月1日（周二）17:30到期"
    );
    assert_eq!(mail["to"], serde_json::json!(["wangfang@example.cn"]));
    let types: Vec<&str> = mail["content_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(types, ["multipart/alternative", "text/plain", "text/html"]);
    assert_eq!(mail["attachments"], serde_json::json!([]));
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("http://127.0.0.1:8080/review/abc")
    );
    assert!(
        mail["html"]
            .as_str()
            .unwrap()
            .contains("<a href=\"http://127.0.0.1:8080/review/abc\"")
    );

    // The same mail.send message delivered again, and a second message for the same mail:
    // neither sends it again.
    let again = Envelope::new(
        MAIL_SEND,
        serde_json::json!({ "mail_id": id }),
        id,
        jinguo_bus::now(),
    );
    let another = jinguo_bus::message(MAIL_SEND, serde_json::json!({ "mail_id": id }));
    bus.bus
        .store
        .transaction(move |c| {
            Box::pin(async move { outbox::push(c, &[again, another], jinguo_bus::now()).await })
        })
        .await
        .unwrap();
    jinguo_tests::settle(&bus.bus.store).await;
    assert_eq!(sink.mails().len(), 1, "sent once");
    let stored = bus
        .bus
        .store
        .read(|c| Box::pin(jinguo_store::mail::get(c, id)))
        .await
        .unwrap()
        .unwrap();
    assert!(stored.sent_at.is_some());
}

/// A lecture tour mails each lecturer her sessions as an .ics file: the mail arrives once, its
/// plain and HTML parts as before, and the calendar beside them exactly as stored. A mail
/// without attachment sent alongside is still plain multipart/alternative.
async fn smtp_mail_carries_its_calendar_attachment(transport: Transport) {
    let sink = SmtpSink::start();
    let url = sink.url();
    let db = TestDb::new(database_for(transport), Contents::Empty).await;
    let bus = bus_with_mailer(&db, transport, &[("JINGUO_MAIL__SMTP_URL", &url)]).await;
    let calendar = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Jinguo//Tours//ZH\r\n\
                    METHOD:PUBLISH\r\nBEGIN:VEVENT\r\nUID:session-1@jinguo.invalid\r\n\
                    DTSTAMP:20261206T000000Z\r\nDTSTART:20261210T013000Z\r\n\
                    DTEND:20261210T033000Z\r\nSUMMARY:反家暴宣讲（城关镇）\r\n\
                    END:VEVENT\r\nEND:VCALENDAR\r\n";
    let attached = notify_with(
        &bus.bus.store,
        "lecturer@example.cn",
        Some(Attachment {
            filename: "宣讲安排.ics".into(),
            content_type: "text/calendar; charset=UTF-8; method=PUBLISH".into(),
            body: calendar.into(),
        }),
    )
    .await;
    let plain = notify(&bus.bus.store, "wangfang@example.cn").await;

    let mails = eventually("both mails at the SMTP server", WAIT, || async {
        let m = sink.mails();
        (m.len() >= 2).then_some(m)
    })
    .await;
    let by_id = |id: Uuid| {
        let mid = format!("<{id}@jinguo.invalid>");
        let found: Vec<_> = mails.iter().filter(|m| m["message_id"] == mid).collect();
        assert_eq!(found.len(), 1, "{mid} arrived once: {mails:?}");
        found[0]
    };
    let mail = by_id(attached);
    assert_eq!(
        mail["content_types"],
        serde_json::json!([
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "text/calendar"
        ])
    );
    assert!(mail["text"].as_str().unwrap().contains("/review/abc"));
    assert!(mail["html"].as_str().unwrap().contains("/review/abc"));
    let attachments = mail["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0]["filename"], "宣讲安排.ics");
    assert_eq!(attachments[0]["content_type"], "text/calendar");
    assert_eq!(attachments[0]["params"]["method"], "PUBLISH");
    assert_eq!(attachments[0]["body"], calendar);

    let mail = by_id(plain);
    assert_eq!(
        mail["content_types"],
        serde_json::json!(["multipart/alternative", "text/plain", "text/html"])
    );
    assert_eq!(mail["attachments"], serde_json::json!([]));
    jinguo_tests::settle(&bus.bus.store).await;
    assert_eq!(sink.mails().len(), 2, "each sent once");
}

/// While the SMTP server takes its time over a mail, the database is free: on SQLite the mailer
/// used to hold the one write lock for the whole exchange, and every write behind it failed with
/// `database is locked` once `busy_timeout` ran out (a reviewer's decision answered 500). Nor do
/// the other mails wait for it.
async fn a_slow_smtp_server_holds_no_database_lock(transport: Transport) {
    let sink = SmtpSink::start();
    let url = sink.url();
    let db = TestDb::new(database_for(transport), Contents::Empty).await;
    let bus = bus_with_mailer(
        &db,
        transport,
        &[
            ("JINGUO_MAIL__SMTP_URL", &url),
            ("JINGUO_DATABASE__BUSY_TIMEOUT_MS", "500"),
        ],
    )
    .await;
    sink.set_hold(true);
    let id = notify(&bus.bus.store, "wangfang@example.cn").await;
    eventually("the mailer waiting on the server", WAIT, || async {
        sink.holding().then_some(())
    })
    .await;
    // The server has kept the mailer waiting; writes go through meanwhile, well past the
    // busy timeout.
    for n in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        notify(&bus.bus.store, &format!("writer{n}@example.cn")).await;
    }
    assert!(sink.holding(), "still mid-exchange");
    // And the mailer does not wait for one server answer before starting the next mail: all
    // four are at the server at once (on the in-process bus too, where deliveries handled
    // outside a transaction run `messaging.prefetch` at a time).
    eventually(
        "all four recipients given while the first waits",
        WAIT,
        || async { (sink.attempts() >= 4).then_some(()) },
    )
    .await;
    sink.set_hold(false);
    let mails = eventually("the four mails at the SMTP server", WAIT, || async {
        let m = sink.mails();
        (m.len() >= 4).then_some(m)
    })
    .await;
    let held = format!("<{id}@jinguo.invalid>");
    assert!(mails.iter().any(|m| m["message_id"] == held), "{mails:?}");
    jinguo_tests::settle(&bus.bus.store).await;
    assert_eq!(sink.mails().len(), 4, "each sent once");
}

async fn temporary_smtp_failure_is_retried_and_delivers_once(transport: Transport) {
    let sink = SmtpSink::start();
    sink.set_tempfail(true);
    let url = sink.url();
    let db = TestDb::new(database_for(transport), Contents::Empty).await;
    let env = [
        ("JINGUO_MAIL__SMTP_URL", url.as_str()),
        (
            "JINGUO_MESSAGING__RETRY_DELAYS",
            "300ms,300ms,300ms,300ms,300ms,300ms",
        ),
    ];
    let bus = bus_with_mailer(&db, transport, &env).await;
    notify(&bus.bus.store, "wangfang@example.cn").await;
    eventually("a refused attempt", WAIT, || async {
        (sink.attempts() >= 1).then_some(())
    })
    .await;
    sink.set_tempfail(false);
    eventually("the mail delivered", WAIT, || async {
        (!sink.mails().is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sink.mails().len(), 1);
    assert!(
        bus.bus
            .store
            .read(|c| Box::pin(dead_letters::list(c, false)))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn permanent_smtp_rejection_becomes_a_dead_letter(transport: Transport) {
    let sink = SmtpSink::start();
    let url = sink.url();
    let db = TestDb::new(database_for(transport), Contents::Empty).await;
    let bus = bus_with_mailer(&db, transport, &[("JINGUO_MAIL__SMTP_URL", &url)]).await;
    notify(&bus.bus.store, "reject@example.cn").await;
    let letters = jinguo_tests::dead_letters_eventually(&bus.bus.store).await;
    assert_eq!(letters[0].consumer, "mailer");
    assert_eq!(
        letters[0].envelope.attempt, 1,
        "a permanent failure is not retried"
    );
    assert!(letters[0].error.contains("550"), "{}", letters[0].error);
    assert!(sink.mails().is_empty());
}

jinguo_tests::on_both_transports!(
    smtp_mail_arrives_once_with_both_parts_and_its_message_id,
    smtp_mail_carries_its_calendar_attachment,
    a_slow_smtp_server_holds_no_database_lock,
    temporary_smtp_failure_is_retried_and_delivers_once,
    permanent_smtp_rejection_becomes_a_dead_letter,
);

#[tokio::test(flavor = "multi_thread")]
async fn file_mail_is_written_and_listed_in_the_dev_mailbox() {
    let mail_dir = tempfile::tempdir().unwrap();
    let dir = mail_dir.path().to_str().unwrap().to_owned();
    let env = [("JINGUO_MAIL__DIR", dir.as_str())];
    let app = TestApp::spawn_with(Backend::Sqlite, Contents::Empty, &env).await;
    let config = jinguo_tests::test_config(&app.db, &env);
    let mailer = jinguo_mail::mailer_worker(&config).unwrap();
    let mut bus = TestBus::build(&app.db, None, vec![mailer], app.store.clone(), &env);
    bus.start_services();
    let id = notify(&app.store, "wangfang@example.cn").await;
    let file = mail_dir.path().join(format!("{id}.eml"));
    eventually("the .eml file", WAIT, || async {
        file.exists().then_some(())
    })
    .await;
    let raw = std::fs::read_to_string(&file).unwrap();
    assert!(
        raw.contains(&format!("Message-ID: <{id}@jinguo.invalid>")),
        "{raw}"
    );
    assert!(raw.contains("multipart/alternative"));

    let page = app
        .client
        .get(format!("{}/dev/mailbox", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("开发邮箱"));
    assert!(html.contains("李秀英家庭的最美家庭推荐"));
    assert!(
        html.contains("<a href=\"http://127.0.0.1:8080/review/abc\">"),
        "{html}"
    );
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_mailbox_is_404_unless_listening_on_loopback_with_file_mail() {
    let public = TestApp::spawn_with(
        Backend::Sqlite,
        Contents::Empty,
        &[("JINGUO_HTTP__ADDR", "0.0.0.0:0")],
    )
    .await;
    // A page path: the refusal is a Chinese page, not JSON.
    let refused = public
        .client
        .get(format!("{}/dev/mailbox", public.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    assert!(refused.text().await.unwrap().contains("页面不存在"));
    let smtp = TestApp::spawn_with(
        Backend::Sqlite,
        Contents::Empty,
        &[("JINGUO_MAIL__SMTP_URL", "smtp://127.0.0.1:1")],
    )
    .await;
    let refused = smtp
        .client
        .get(format!("{}/dev/mailbox", smtp.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    let local = TestApp::spawn_with(Backend::Sqlite, Contents::Empty, &[]).await;
    let response = local
        .client
        .get(format!("{}/dev/mailbox", local.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
