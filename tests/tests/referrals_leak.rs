//! The leak test: a whole referral run on each path — intake through the API (and a bad one),
//! a self-referral through the public page, the ladder climbing with its mails and links, an
//! assessment with agency tasks and a protection-order clock that warns and breaches, a
//! forbidden read, a dead letter — with a Chinese victim name, her phone and ID number in the
//! data. None of them may appear in any mail, log line (debug level included), HTTP error body,
//! table (outbox, inbox, dead letters and every other), RabbitMQ message body read back from a
//! queue bound to every routing key, or file in the mail directory. The audit chain verifies
//! afterwards, with the refused read in it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jinguo_bus::Job;
use jinguo_store::referrals as store;
use jinguo_tests::nominating::links_mailed_to;
use jinguo_tests::referring::{
    VICTIM_ID, VICTIM_NAME, VICTIM_PHONE, VILLAGE, cast, escalation_env, school_report_json,
};
use jinguo_tests::{
    Backend, Contents, TestApp, TestBus, Transport, amqp_url, api_token, eventually, test_config,
};
use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use uuid::Uuid;

/// What a self-referral types on the public page: also never to leak beyond her own screen.
const SELF_NAME: &str = "刘桂兰";
const SELF_PHONE: &str = "13698765432";

/// Everything written to the log by this test binary, at debug level.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init()
            .expect("the leak test installs the only log subscriber");
        buffer
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the run exposed that must not hold a secret, by where it came from.
#[derive(Default)]
struct Exposed(Vec<(String, String)>);

impl Exposed {
    fn add(&mut self, place: impl Into<String>, text: impl Into<String>) {
        self.0.push((place.into(), text.into()));
    }

    fn assert_clean(&self, secrets: &[&str]) {
        for (place, text) in &self.0 {
            for s in secrets {
                assert!(!text.contains(s), "{s:?} leaked into {place}");
            }
        }
    }
}

/// A queue bound to every routing key of the test's exchange and to its dead-letter exchange:
/// a copy of every message the run publishes, read back at the end.
struct Capture {
    channel: lapin::Channel,
    queue: String,
}

impl Capture {
    async fn bind(prefix: &str) -> Capture {
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .expect("connect to RabbitMQ");
        let channel = conn.create_channel().await.unwrap();
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let names = jinguo_bus::rabbit::Names {
            prefix: prefix.to_owned(),
        };
        channel
            .exchange_declare(
                names.exchange().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .exchange_declare(
                names.dead().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await
            .unwrap();
        let queue = format!("{prefix}.capture");
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        for (exchange, key) in [(names.exchange(), "#"), (names.dead(), "")] {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    exchange.as_str().into(),
                    key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
        }
        std::mem::forget(conn);
        Capture { channel, queue }
    }

    /// Every message body captured, emptying the queue (which is then deleted).
    async fn drain(self) -> Vec<String> {
        let mut bodies = Vec::new();
        while let Some(m) = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            bodies.push(String::from_utf8_lossy(&m.delivery.data).into_owned());
        }
        let _ = self
            .channel
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await;
        bodies
    }
}

async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> (u16, String) {
    let r = app
        .client
        .post(format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn nothing_leaks(backend: Backend, transport: Transport) {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let (escalation, mail_dir) = escalation_env(dir.path());
    let extra = [
        ("JINGUO_REFERRALS__ESCALATION_FILE", escalation.as_str()),
        ("JINGUO_MAIL__DIR", mail_dir.as_str()),
    ];
    let app = TestApp::spawn_with(backend, Contents::Gansu, &extra).await;
    let mut bus_env = extra.to_vec();
    bus_env.push(("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str()));
    let config = test_config(&app.db, &bus_env);
    let url = amqp_url();
    let amqp = (transport == Transport::RabbitMq).then_some(url.as_str());
    let mut bus = TestBus::build(
        &app.db,
        amqp,
        vec![
            jinguo_mail::mailer_worker(&config).unwrap(),
            jinguo_referrals::worker(&config).unwrap(),
            jinguo_nominations::worker(&config).unwrap(),
        ],
        app.store.clone(),
        &bus_env,
    );
    let capture = match transport {
        Transport::RabbitMq => Some(Capture::bind(&bus.prefix).await),
        Transport::InProcess => None,
    };
    bus.start_services();
    let cast = cast(&app.store).await;
    let officer = api_token(&app.store, cast.officer).await;
    let other = api_token(&app.store, cast.other_officer).await;
    let mut exposed = Exposed::default();

    // A bad intake: the refusal names the field and echoes nothing typed.
    let mut bad = school_report_json(true);
    bad["victim"]["phone"] = json!(format!("{VICTIM_NAME}{VICTIM_PHONE}x"));
    let (status, body) = post(&app, "/api/v1/referrals", &officer, &bad).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("victim.phone"), "{body}");
    exposed.add("the 400 body", body);

    // The intake itself: a critical case.
    let (status, body) = post(
        &app,
        "/api/v1/referrals",
        &officer,
        &school_report_json(true),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    exposed.add("the 201 body", body.clone());
    let created: Value = serde_json::from_str(&body).unwrap();
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let number = created["case_number"].as_str().unwrap().to_owned();

    // An uninvolved officer: 403, and the body says nothing of the case.
    let (status, body) = get(&app, &format!("/api/v1/referrals/{id}"), &other).await;
    assert_eq!(status, 403, "{body}");
    exposed.add("the 403 body", body);

    // The public page: the confirmation shows the case number and 12338, nothing typed.
    let form = [
        ("village", VILLAGE),
        ("name", SELF_NAME),
        ("phone", SELF_PHONE),
        ("safe_contact", "晚上不要打电话"),
        ("summary", "丈夫经常打我，我想找人帮忙。"),
        ("step", "submit"),
    ];
    let r = app
        .client
        .post(format!("{}/help", app.base_url))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let page = r.text().await.unwrap();
    assert_eq!(status, 201, "{page}");
    assert!(page.contains("12338") && page.contains("620122-"), "{page}");
    exposed.add("the self-referral confirmation", page);

    // The ladder climbs: every link page a recipient opens shows the number only.
    let subject = format!("【巾帼】【紧急】案件 {number}");
    eventually(
        "the top of the ladder is told twice",
        Duration::from_secs(40),
        || {
            let store = app.store.clone();
            let subject = subject.clone();
            async move {
                (jinguo_tests::nominating::mails_to(&store, cast.city_supervisor, &subject)
                    .await
                    .len()
                    >= 2)
                    .then_some(())
            }
        },
    )
    .await;
    for link in links_mailed_to(&app.store, cast.county_supervisor, &subject).await {
        let page = app
            .client
            .get(format!("{}{link}", app.base_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains(&number), "{page}");
        exposed.add("an acknowledgement link's page", page);
    }

    // The officer reads it (allowed: details in her answer only), then assesses with the
    // court urgently, whose clock warns and breaches within seconds.
    let (status, body) = get(&app, &format!("/api/v1/referrals/{id}"), &officer).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(VICTIM_NAME),
        "the authorised reader sees the victim"
    );
    let (status, body) = post(
        &app,
        &format!("/api/v1/referrals/{id}/assess"),
        &officer,
        &json!({ "answers": { "weapon": true }, "agencies": ["court", "police"], "urgent": true }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    eventually(
        "the protection-order clock breaches",
        Duration::from_secs(30),
        || {
            let store = app.store.clone();
            async move {
                let events = store
                    .read(move |c| Box::pin(async move { store::events(c, id).await }))
                    .await
                    .unwrap();
                events
                    .iter()
                    .any(|e| e.kind == "clock_breached")
                    .then_some(())
            }
        },
    )
    .await;

    // A message that can never succeed: a dead letter, with its error text.
    let ghost = jinguo_referrals::Escalate {
        task: Uuid::new_v4(),
        step: 1,
    };
    app.store
        .transaction(move |c| {
            let ghost = ghost.clone();
            Box::pin(async move { ghost.enqueue(c, jinguo_bus::now()).await })
        })
        .await
        .unwrap();
    jinguo_tests::dead_letters_eventually(&app.store).await;
    jinguo_tests::settle(&app.store).await;
    bus.stop().await;

    // The audit chain verifies, with the refused read in it.
    let (verified, entries) = app
        .store
        .read(|c| {
            Box::pin(async move {
                let v = jinguo_store::audit::verify(c).await?;
                let e = jinguo_store::audit::page(c, 0, 100_000).await?;
                Ok::<_, jinguo_store::StoreError>((v, e))
            })
        })
        .await
        .unwrap();
    assert!(verified.is_ok(), "{verified:?}");
    assert!(
        entries
            .iter()
            .any(|e| e.action == "referral.refused" && e.subject == number),
        "the forbidden read is in the audit log"
    );
    for e in &entries {
        exposed.add(
            format!("audit row {}", e.seq),
            format!("{} {}", e.subject, e.details),
        );
    }

    // Everything stored, mailed, published and logged.
    exposed.add("the database", app.db.all_text().await);
    let mut files = 0;
    for entry in walk(std::path::Path::new(&mail_dir)) {
        files += 1;
        let bytes = std::fs::read(&entry).unwrap();
        exposed.add(entry.display().to_string(), decode_mail(&bytes));
    }
    assert!(files > 0, "the run wrote mails to the mail directory");
    if let Some(capture) = capture {
        let bodies = capture.drain().await;
        assert!(bodies.len() > 5, "the capture queue saw the run's messages");
        for b in bodies {
            exposed.add("a RabbitMQ message", b);
        }
    }
    let log = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(log.contains("DEBUG"), "the log was captured at debug level");
    exposed.add("the log", log);
    exposed.assert_clean(&[
        VICTIM_NAME,
        VICTIM_PHONE,
        VICTIM_ID,
        SELF_NAME,
        SELF_PHONE,
        "持刀",
        "丈夫经常打我",
    ]);
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A stored mail as text, with any base64 or quoted-printable body parts decoded too, so an
/// encoded name cannot slip past the search.
fn decode_mail(bytes: &[u8]) -> String {
    use base64::Engine;
    let raw = String::from_utf8_lossy(bytes).into_owned();
    let mut out = raw.clone();
    for line in raw.lines() {
        let line = line.trim();
        if line.len() >= 8
            && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(line)
        {
            out.push_str(&String::from_utf8_lossy(&decoded));
        }
    }
    // Quoted-printable: soft line breaks joined, =XX decoded.
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let mut qp = Vec::new();
    let b = joined.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'='
            && i + 2 < b.len()
            && let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            qp.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        qp.push(b[i]);
        i += 1;
    }
    out.push_str(&String::from_utf8_lossy(&qp));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_leaks_on_sqlite_in_process() {
    nothing_leaks(Backend::Sqlite, Transport::InProcess).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_leaks_on_postgres_rabbitmq() {
    nothing_leaks(Backend::Postgres, Transport::RabbitMq).await;
}
