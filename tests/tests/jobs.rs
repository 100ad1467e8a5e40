//! Typed jobs on the bus: a message that can never decode into its job, or that no handler of
//! the consumer knows, is a dead letter at its first attempt, not retried.

use jinguo_bus::{Envelope, Job};
use jinguo_store::{Store, dead_letters, outbox};
use jinguo_tests::{Backend, Contents, TestBus, TestDb, Transport};

fn database_for(transport: Transport) -> Backend {
    match transport {
        Transport::RabbitMq => Backend::Postgres,
        Transport::InProcess => Backend::Sqlite,
    }
}

/// The mailer and the nominations worker, with retries far apart: a retry would show as a
/// second attempt only after a minute, so a dead letter now is one that was never retried.
async fn bus_with_workers(db: &TestDb, transport: Transport) -> TestBus {
    let retries = [("JINGUO_MESSAGING__RETRY_DELAYS", "60s,60s")];
    let config = jinguo_tests::test_config(db, &retries);
    let workers = vec![
        jinguo_mail::mailer_worker(&config).unwrap(),
        jinguo_nominations::worker(&config).unwrap(),
    ];
    TestBus::start(db, transport, workers, &retries).await
}

async fn publish(store: &Store, message: Envelope, target: Option<&'static str>) {
    store
        .transaction(move |c| {
            Box::pin(async move {
                match target {
                    Some(t) => outbox::push_to(c, t, &message, jinguo_bus::now()).await,
                    None => outbox::push(c, &[message], jinguo_bus::now()).await,
                }
            })
        })
        .await
        .unwrap();
}

async fn dead_letter_of(store: &Store, id: uuid::Uuid) -> dead_letters::DeadLetter {
    jinguo_tests::eventually(
        "the dead letter",
        std::time::Duration::from_secs(60),
        || async {
            let letters = store
                .read(|c| Box::pin(dead_letters::list(c, false)))
                .await
                .unwrap();
            letters.into_iter().find(|d| d.envelope.id == id)
        },
    )
    .await
}

async fn undecodable_payload_of_a_registered_kind_is_dead_at_once(transport: Transport) {
    let db = TestDb::new(database_for(transport), Contents::Empty).await;
    let bus = bus_with_workers(&db, transport).await;
    let store = &bus.bus.store;

    let mail = jinguo_bus::message(
        jinguo_mail::MailSend::KIND,
        serde_json::json!({ "mail_id": 42 }),
    );
    let reminder = jinguo_bus::message(
        jinguo_nominations::REVIEW_REMINDER,
        serde_json::json!({ "nomination": jinguo_bus::new_id(), "level": "province" }),
    );
    let disabled = jinguo_bus::message(jinguo_auth::staff::DISABLED, serde_json::json!({}));
    for (message, consumer) in [
        (mail, "mailer"),
        (reminder, "nominations"),
        (disabled, "nominations"),
    ] {
        publish(store, message.clone(), None).await;
        let letter = dead_letter_of(store, message.id).await;
        assert_eq!(letter.consumer, consumer);
        assert_eq!(letter.envelope.attempt, 1, "no retry for {}", message.kind);
        assert!(
            letter
                .error
                .starts_with(&format!("{}: undecodable payload", message.kind)),
            "{}",
            letter.error
        );
    }
}

async fn unknown_kind_sent_to_a_consumer_is_dead_at_once(transport: Transport) {
    let db = TestDb::new(database_for(transport), Contents::Empty).await;
    let bus = bus_with_workers(&db, transport).await;
    let message = jinguo_bus::message("mail.unheard_of", serde_json::json!({}));
    publish(&bus.bus.store, message.clone(), Some("mailer")).await;
    let letter = dead_letter_of(&bus.bus.store, message.id).await;
    assert_eq!(letter.consumer, "mailer");
    assert_eq!(letter.envelope.attempt, 1);
    assert_eq!(letter.error, "no handler for mail.unheard_of");
}

jinguo_tests::on_both_transports!(
    undecodable_payload_of_a_registered_kind_is_dead_at_once,
    unknown_kind_sent_to_a_consumer_is_dead_at_once,
);
