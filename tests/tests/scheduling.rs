//! Cron ticks fire exactly once across schedulers; missed ticks follow the policy; working-day
//! jobs skip holidays.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use jinguo_store::{StoreError, cron_ticks, on_backend};
use jinguo_tests::{Backend, Contents, TestBus, TestDb, eventually};

#[derive(QueryableByName)]
struct Payload {
    #[diesel(sql_type = diesel::sql_types::Text)]
    envelope: String,
}

/// The `tick` of every outbox message of `kind`, in order.
async fn sent_ticks(store: &jinguo_store::Store, kind: &str) -> Vec<DateTime<Utc>> {
    let kind = kind.to_owned();
    let rows: Vec<Payload> = store
        .read(move |c| {
            Box::pin(async move {
                let q =
                    diesel::sql_query("SELECT envelope FROM outbox WHERE kind = $1 ORDER BY seq")
                        .bind::<diesel::sql_types::Text, _>(kind);
                on_backend!(c, |c| q.load(c).await).map_err(StoreError::from)
            })
        })
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let e: jinguo_bus::Envelope = serde_json::from_str(&r.envelope).unwrap();
            e.payload["tick"].as_str().unwrap().parse().unwrap()
        })
        .collect()
}

fn backend_db(backend: Backend) -> impl Future<Output = TestDb> {
    TestDb::new(backend, Contents::Empty)
}

async fn every_second_job_fires_once_per_tick_with_two_schedulers(backend: Backend) {
    let db = backend_db(backend).await;
    let env = [
        ("JINGUO_CRON__JOBS__EVERY_SECOND__SCHEDULE", "* * * * * *"),
        ("JINGUO_CRON__JOBS__EVERY_SECOND__KIND", "test.tick"),
    ];
    // No workers: the ticks' messages wait in the outbox, where they are counted.
    let mut bus = TestBus::build(&db, None, vec![], db.store().await, &env);
    let first = bus.spawn_service("reminders");
    let second = bus.spawn_service("reminders");
    let store = bus.bus.store.clone();
    eventually("four ticks", Duration::from_secs(30), || async {
        let fired = store
            .read(|c| Box::pin(async move { cron_ticks::fired(c, "every_second").await }))
            .await
            .unwrap();
        (fired.len() >= 4).then_some(())
    })
    .await;
    bus.stop().await;
    let _ = (first.await, second.await);

    let claimed = store
        .read(|c| Box::pin(async move { cron_ticks::fired(c, "every_second").await }))
        .await
        .unwrap();
    let sent = sent_ticks(&store, "test.tick").await;
    assert_eq!(sent, claimed, "one message per claimed tick, none twice");
    for pair in claimed.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(1),
            "no tick skipped: {claimed:?}"
        );
    }
}

async fn a_tick_missed_while_stopped_fires_once_at_start(backend: Backend) {
    let db = backend_db(backend).await;
    let env = [
        ("JINGUO_CRON__JOBS__HOURLY__SCHEDULE", "0 0 * * * *"),
        ("JINGUO_CRON__JOBS__HOURLY__KIND", "test.hourly"),
        ("JINGUO_CRON__MISSED", "once"),
    ];
    let mut bus = TestBus::build(&db, None, vec![], db.store().await, &env);
    // The job last fired three hours ago; nothing ran since.
    let now = jinguo_bus::now();
    let three_hours_ago =
        DateTime::<Utc>::from_timestamp((now.timestamp() / 3600 - 3) * 3600, 0).unwrap();
    let latest_hour = DateTime::<Utc>::from_timestamp(now.timestamp() / 3600 * 3600, 0).unwrap();
    bus.bus
        .store
        .transaction(move |c| {
            Box::pin(async move {
                cron_ticks::claim(c, "hourly", three_hours_ago, three_hours_ago).await
            })
        })
        .await
        .unwrap();
    let a = bus.spawn_service("reminders");
    let b = bus.spawn_service("reminders");
    let store = bus.bus.store.clone();
    eventually("the missed tick", Duration::from_secs(30), || async {
        (!sent_ticks(&store, "test.hourly").await.is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    bus.stop().await;
    let _ = (a.await, b.await);
    assert_eq!(
        sent_ticks(&store, "test.hourly").await,
        [latest_hour],
        "the latest missed tick, once"
    );
}

async fn skip_policy_drops_missed_ticks(backend: Backend) {
    let db = backend_db(backend).await;
    let env = [
        ("JINGUO_CRON__JOBS__HOURLY__SCHEDULE", "0 0 * * * *"),
        ("JINGUO_CRON__JOBS__HOURLY__KIND", "test.hourly"),
        ("JINGUO_CRON__MISSED", "skip"),
    ];
    let mut bus = TestBus::build(&db, None, vec![], db.store().await, &env);
    let long_ago = jinguo_bus::now() - chrono::Duration::hours(5);
    bus.bus
        .store
        .transaction(move |c| {
            Box::pin(async move { cron_ticks::claim(c, "hourly", long_ago, long_ago).await })
        })
        .await
        .unwrap();
    let s = bus.spawn_service("reminders");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    bus.stop().await;
    let _ = s.await;
    assert!(sent_ticks(&bus.bus.store, "test.hourly").await.is_empty());
}

async fn working_day_jobs_send_only_on_working_days(backend: Backend) {
    let db = backend_db(backend).await;
    let env = [("JINGUO_CRON__JOBS__DAILY_DIGEST__ENABLED", "true")];
    let bus = TestBus::build(&db, None, vec![], db.store().await, &env);
    let job = bus
        .bus
        .config
        .cron
        .jobs
        .iter()
        .find(|j| j.name == "daily_digest")
        .unwrap()
        .clone();
    assert!(job.working_days_only);
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    // 08:00 in Shanghai on: Saturday 28 Nov 2026 (weekend), Saturday 14 Feb 2026 (make-up
    // working day), Monday 16 Feb 2026 (Spring Festival), Monday 30 Nov 2026 (ordinary).
    for tick in [
        "2026-11-28T00:00:00Z",
        "2026-02-14T00:00:00Z",
        "2026-02-16T00:00:00Z",
        "2026-11-30T00:00:00Z",
    ] {
        assert!(
            jinguo_bus::scheduler::fire_tick(&bus.bus, &job, at(tick))
                .await
                .unwrap(),
            "claimed {tick}"
        );
        assert!(
            !jinguo_bus::scheduler::fire_tick(&bus.bus, &job, at(tick))
                .await
                .unwrap(),
            "claimed once {tick}"
        );
    }
    let sent = sent_ticks(&bus.bus.store, "reminder.daily_digest").await;
    assert_eq!(
        sent,
        [at("2026-02-14T00:00:00Z"), at("2026-11-30T00:00:00Z")]
    );
}

jinguo_tests::on_both_backends!(
    every_second_job_fires_once_per_tick_with_two_schedulers,
    a_tick_missed_while_stopped_fires_once_at_start,
    skip_policy_drops_missed_ticks,
    working_day_jobs_send_only_on_working_days,
);
