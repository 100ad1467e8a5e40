//! Wake-ups across processes (PostgreSQL): a commit that queued work notifies, and a relay in
//! another process that listens is woken at once. A test binary of its own, apart from
//! `wake.rs`, whose per-process counters this test's commit would bump.

use std::time::Duration;

use jinguo_core::messaging::Envelope;
use jinguo_store::{Queue, deliveries, listen_for_wakeups, outbox, wakeups};
use jinguo_tests::{Backend, Contents, TestDb};
use uuid::Uuid;

/// A relay in another process (`jinguo run relay`, in-process bus on PostgreSQL) that would poll
/// only once a minute relays a message committed here within seconds: the commit's NOTIFY
/// wakes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_relay_in_another_process_is_woken_by_the_commit() {
    let db = TestDb::new(Backend::Postgres, Contents::Empty).await;
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("relay.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut relay = std::process::Command::new(jinguo_tests::jinguo_bin())
        .args(["run", "relay"])
        .current_dir(dir.path())
        .env_clear()
        .env("JINGUO_DATABASE__URL", db.url())
        .env("JINGUO_MESSAGING__POLL_INTERVAL_MS", "60000")
        .stderr(log)
        .spawn()
        .unwrap();
    // Stops the relay however the test ends.
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _kill = Kill(&mut relay);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    jinguo_tests::eventually("the relay waits", Duration::from_secs(30), || async {
        log().contains("relay started").then_some(())
    })
    .await;
    // Past its first look at the outbox: from now on only a wake-up (or a minute) moves it.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // This process listens too: the relay's deliveries for the mailer must wake the mailer
    // here, and no other consumer. (On connecting the listener wakes every consumer once.)
    let mut mailer = wakeups(Queue::Deliveries("mailer"));
    let mut other = wakeups(Queue::Deliveries("nominations"));
    let url = db.url();
    let listening = tokio::spawn(async move { listen_for_wakeups(&url).await });
    for w in [&mut mailer, &mut other] {
        tokio::time::timeout(Duration::from_secs(10), w.changed())
            .await
            .expect("woken once on connecting")
            .unwrap();
    }

    let mail = Envelope::new(
        "mail.send",
        serde_json::json!({ "mail_id": Uuid::new_v4() }),
        Uuid::new_v4(),
        jinguo_bus::now(),
    );
    store
        .transaction(move |c| {
            let mail = mail.clone();
            Box::pin(async move { outbox::push(c, &[mail], jinguo_bus::now()).await })
        })
        .await
        .unwrap();
    jinguo_tests::eventually(
        "relayed by the other process",
        Duration::from_secs(10),
        || {
            let store = store.clone();
            async move {
                let waiting = store
                    .read(|c| Box::pin(deliveries::waiting(c, "mailer")))
                    .await
                    .unwrap();
                (waiting == 1).then_some(())
            }
        },
    )
    .await;
    tokio::time::timeout(Duration::from_secs(10), mailer.changed())
        .await
        .expect("the mailer is woken by the other process's deliveries")
        .unwrap();
    assert!(!other.has_changed().unwrap(), "no other consumer is woken");
    listening.abort();
}
