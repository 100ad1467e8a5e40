//! Wake-ups on commit (`jinguo_store::wakeups`): a transaction that queued an outbox row or a
//! delivery wakes this process's waiters when it commits, and only then — not when it rolls
//! back, not when it queued nothing; an outbox row wakes the relay's queue only, a delivery
//! its own consumer only. In a test binary of its own: the counters are per process (across processes:
//! `wake_across.rs`).

use std::time::Duration;

use jinguo_core::messaging::Envelope;
use jinguo_store::{Queue, StoreError, deliveries, outbox, wakeups};
use jinguo_tests::{Backend, Contents, TestDb};
use uuid::Uuid;

fn message() -> Envelope {
    Envelope::new(
        "test.woken",
        serde_json::json!({}),
        Uuid::new_v4(),
        jinguo_bus::now(),
    )
}

async fn wakes_its_queue_only(backend: Backend) {
    let db = TestDb::new(backend, Contents::Empty).await;
    let store = db.store().await;
    let mut relay = wakeups(Queue::Outbox);
    let mut consumers = wakeups(Queue::Deliveries("someone"));
    let bystander = wakeups(Queue::Deliveries("someone-else"));

    // Rolled back: nobody is woken (the row never existed for anyone to find).
    let rolled_back: Result<(), StoreError> = store
        .transaction(|c| {
            Box::pin(async move {
                outbox::push(c, &[message()], jinguo_bus::now()).await?;
                Err(StoreError::Task("changed my mind".into()))
            })
        })
        .await;
    assert!(rolled_back.is_err());
    assert!(!relay.has_changed().unwrap(), "a rollback wakes nobody");

    // Committed with nothing queued: nobody.
    store
        .transaction(|c| Box::pin(async move { outbox::unsent(c).await.map(|_| ()) }))
        .await
        .unwrap();
    assert!(!relay.has_changed().unwrap() && !consumers.has_changed().unwrap());

    // An outbox row: the relay's queue, not the consumers'.
    store
        .transaction(|c| {
            Box::pin(async move { outbox::push(c, &[message()], jinguo_bus::now()).await })
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), relay.changed())
        .await
        .expect("the relay is woken")
        .unwrap();
    assert!(!consumers.has_changed().unwrap());

    // A delivery: its consumer's, no other's.
    store
        .transaction(|c| {
            Box::pin(async move {
                deliveries::enqueue(c, "someone", &message(), jinguo_bus::now()).await
            })
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), consumers.changed())
        .await
        .expect("the consumer is woken")
        .unwrap();
    assert!(!relay.has_changed().unwrap());
    assert!(
        !bystander.has_changed().unwrap(),
        "only the consumer it is for"
    );
}

/// Both backends, one after the other: the counters are shared by the whole process.
#[tokio::test(flavor = "multi_thread")]
async fn a_commit_that_queued_work_wakes_its_queue_only() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        wakes_its_queue_only(backend).await;
    }
}
