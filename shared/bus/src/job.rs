//! Typed jobs: a message kind and its payload as one Rust type, so that producer and consumer
//! cannot disagree on a name or a field without the compiler saying so.
//!
//! A [`Job`] is its own payload (a serde struct) with a `KIND`, the routing key. A producer
//! [`enqueues`](Job::enqueue) it inside its transaction, or hands its [`envelope`](Job::envelope)
//! to a timer; a consumer registers one typed function per job in [`Handlers`], which decodes
//! the payload and dispatches by kind. The wire format stays an [`Envelope`] with a JSON
//! payload, so what a job writes is what a stored row of an earlier release holds.
//!
//! Guarantees: a worker built from [`Handlers`] is bound to exactly the kinds it handles; a
//! message of a kind it does not handle, or whose payload does not decode as that kind's job,
//! can never succeed and is a permanent failure (a dead letter at once, no retries).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use jinguo_store::{BoxFuture, Conn, Store, StoreError, outbox};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::{Envelope, Handler, HandlerError, Worker, new_id};

/// A message kind with its typed payload. Implement it on the payload struct:
///
/// ```ignore
/// #[derive(Serialize, Deserialize)]
/// pub struct MailSend { pub mail_id: Uuid }
/// impl Job for MailSend { const KIND: &'static str = "mail.send"; }
/// ```
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The dotted kind, also the routing key. Never change it: stored messages carry it.
    const KIND: &'static str;

    /// This job as a new message starting a chain, with a fresh id: what a timer holds
    /// (`jinguo_store::timers::schedule`).
    fn envelope(&self, now: DateTime<Utc>) -> Envelope {
        self.envelope_with_id(new_id(), now)
    }

    /// Like [`Job::envelope`], with a given id: a job that exists once per record (a mail) takes
    /// the record's id, so that the inbox deduplicates on it.
    fn envelope_with_id(&self, id: Uuid, now: DateTime<Utc>) -> Envelope {
        // A derived struct with named fields always serializes to a JSON object.
        let payload = serde_json::to_value(self).expect("a job payload serializes to JSON");
        Envelope::new(Self::KIND, payload, id, now)
    }

    /// Writes this job into the outbox inside the caller's transaction: it is sent exactly when
    /// the caller's changes commit. Returns the message id.
    fn enqueue<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Uuid, StoreError>> {
        let message = self.envelope(now);
        Box::pin(async move {
            outbox::push(conn, std::slice::from_ref(&message), now).await?;
            Ok(message.id)
        })
    }

    /// Reads this job back from `message`. A wrong kind or a payload that does not decode is
    /// permanent: no retry can make it succeed.
    fn decode(message: &Envelope) -> Result<Self, HandlerError> {
        if message.kind != Self::KIND {
            return Err(HandlerError::permanent(format!(
                "expected a {} message, got {}",
                Self::KIND,
                message.kind
            )));
        }
        Self::deserialize(&message.payload).map_err(|e| {
            HandlerError::permanent(format!("{}: undecodable payload: {e}", Self::KIND))
        })
    }
}

/// A handler inside the message's transaction, with the job's type erased.
type InTransactionFn<C> = dyn for<'a, 'c> Fn(&'a C, &'a mut Conn<'c>, &'a Envelope) -> BoxFuture<'a, Result<(), HandlerError>>
    + Send
    + Sync;

/// A handler outside any transaction, with the job's type erased.
type OutsideFn<C> = dyn for<'a> Fn(&'a C, &'a Store, &'a Envelope) -> BoxFuture<'a, Result<(), HandlerError>>
    + Send
    + Sync;

/// One registered handler: decode, then call the typed function.
enum Route<C> {
    /// Inside the message's inbox transaction.
    InTransaction(Box<InTransactionFn<C>>),
    /// With no transaction open (see [`Handler::handle_outside`]).
    Outside(Box<OutsideFn<C>>),
}

/// A consumer's typed handlers, one per job kind, sharing a context `C` (configuration,
/// transports). It is the [`Handler`] of the worker [`Handlers::worker`] builds: it dispatches
/// each message by kind to the function registered with [`Handlers::on`] or
/// [`Handlers::on_outside`], with the payload decoded.
pub struct Handlers<C> {
    context: C,
    routes: BTreeMap<&'static str, Route<C>>,
}

/// What a handler gets when the payload does not decode.
fn refused<'a>(e: HandlerError) -> BoxFuture<'a, Result<(), HandlerError>> {
    Box::pin(std::future::ready(Err(e)))
}

impl<C: Send + Sync + 'static> Handlers<C> {
    pub fn new(context: C) -> Handlers<C> {
        Handlers {
            context,
            routes: BTreeMap::new(),
        }
    }

    /// Handles job `J` with `handler`, which runs inside the message's inbox transaction (its
    /// changes through `conn` commit with the inbox row, or not at all).
    ///
    /// # Panics
    /// When `J::KIND` is registered already: two handlers for one kind is a programming error.
    pub fn on<J, F>(self, handler: F) -> Handlers<C>
    where
        J: Job,
        F: for<'a, 'c> Fn(&'a C, &'a mut Conn<'c>, J) -> BoxFuture<'a, Result<(), HandlerError>>
            + Send
            + Sync
            + 'static,
    {
        self.route::<J>(Route::InTransaction(Box::new(
            move |context, conn, message| match J::decode(message) {
                Ok(job) => handler(context, conn, job),
                Err(e) => refused(e),
            },
        )))
    }

    /// Handles job `J` with `handler` outside any transaction: for an effect outside the
    /// database, which must then be idempotent by itself (see [`Handler::handle_outside`]).
    ///
    /// # Panics
    /// When `J::KIND` is registered already.
    pub fn on_outside<J, F>(self, handler: F) -> Handlers<C>
    where
        J: Job,
        F: for<'a> Fn(&'a C, &'a Store, J) -> BoxFuture<'a, Result<(), HandlerError>>
            + Send
            + Sync
            + 'static,
    {
        self.route::<J>(Route::Outside(Box::new(
            move |context, store, message| match J::decode(message) {
                Ok(job) => handler(context, store, job),
                Err(e) => refused(e),
            },
        )))
    }

    fn route<J: Job>(mut self, route: Route<C>) -> Handlers<C> {
        assert!(
            self.routes.insert(J::KIND, route).is_none(),
            "two handlers for {}",
            J::KIND
        );
        self
    }

    /// The kinds registered, in order.
    pub fn kinds(&self) -> Vec<String> {
        self.routes.keys().map(|k| k.to_string()).collect()
    }

    /// A consuming service named `name`, bound to exactly the registered kinds.
    pub fn worker(self, name: impl Into<String>) -> Worker {
        Worker {
            name: name.into(),
            bindings: self.kinds(),
            handler: Arc::new(self),
        }
    }
}

fn no_handler<'a>(kind: &str) -> BoxFuture<'a, Result<(), HandlerError>> {
    refused(HandlerError::permanent(format!("no handler for {kind}")))
}

impl<C: Send + Sync + 'static> Handler for Handlers<C> {
    fn handle<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        message: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        match self.routes.get(message.kind.as_str()) {
            Some(Route::InTransaction(route)) => route(&self.context, conn, message),
            // Only reached if a transport ignored `outside`, a bug: a dead letter for an
            // operator to replay, not an effect run where it must not be.
            Some(Route::Outside(_)) | None => no_handler(&message.kind),
        }
    }

    fn outside(&self, message: &Envelope) -> bool {
        matches!(
            self.routes.get(message.kind.as_str()),
            Some(Route::Outside(_))
        )
    }

    fn handle_outside<'a>(
        &'a self,
        store: &'a Store,
        message: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        match self.routes.get(message.kind.as_str()) {
            Some(Route::Outside(route)) => route(&self.context, store, message),
            Some(Route::InTransaction(_)) | None => no_handler(&message.kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Reminded {
        nomination: Uuid,
        level: String,
    }

    impl Job for Reminded {
        const KIND: &'static str = "test.reminded";
    }

    fn at() -> DateTime<Utc> {
        "2026-12-01T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn envelope_carries_kind_and_payload_fields_by_name() {
        let job = Reminded {
            nomination: Uuid::from_u128(7),
            level: "village".into(),
        };
        let e = job.envelope_with_id(Uuid::from_u128(1), at());
        assert_eq!(e.kind, "test.reminded");
        assert_eq!(e.id, Uuid::from_u128(1));
        assert_eq!(e.correlation_id, e.id);
        assert_eq!(
            e.payload,
            serde_json::json!({ "nomination": Uuid::from_u128(7), "level": "village" })
        );
        assert_eq!(Reminded::decode(&e).unwrap(), job);
        assert_ne!(job.envelope(at()).id, job.envelope(at()).id, "fresh ids");
    }

    #[test]
    fn undecodable_payload_is_permanent() {
        let e = Envelope::new(
            Reminded::KIND,
            serde_json::json!({ "nomination": "not a uuid", "level": "village" }),
            Uuid::from_u128(1),
            at(),
        );
        let error = Reminded::decode(&e).unwrap_err();
        assert!(error.permanent);
        assert!(
            error
                .message
                .starts_with("test.reminded: undecodable payload"),
            "{}",
            error.message
        );
        let missing = Envelope {
            payload: serde_json::json!({}),
            ..e
        };
        assert!(Reminded::decode(&missing).unwrap_err().permanent);
    }

    #[test]
    fn another_kind_is_permanent() {
        let e = Envelope::new(
            "test.other",
            serde_json::json!({ "nomination": Uuid::from_u128(7), "level": "village" }),
            Uuid::from_u128(1),
            at(),
        );
        assert!(Reminded::decode(&e).unwrap_err().permanent);
    }

    fn reminded<'a>(
        _: &'a (),
        _: &'a mut Conn<'_>,
        _: Reminded,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async { Ok(()) })
    }

    #[test]
    fn worker_is_bound_to_exactly_its_kinds() {
        let w = Handlers::new(()).on::<Reminded, _>(reminded).worker("test");
        assert_eq!(w.name, "test");
        assert_eq!(w.bindings, ["test.reminded"]);
    }

    #[derive(Serialize, Deserialize)]
    struct Sent {
        mail: Uuid,
    }

    impl Job for Sent {
        const KIND: &'static str = "test.sent";
    }

    fn sent<'a>(_: &'a (), _: &'a Store, _: Sent) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async { Ok(()) })
    }

    #[test]
    fn a_job_registered_outside_is_handled_outside_and_only_there() {
        let w = Handlers::new(())
            .on::<Reminded, _>(reminded)
            .on_outside::<Sent, _>(sent)
            .worker("test");
        assert_eq!(w.bindings, ["test.reminded", "test.sent"]);
        let outside = Sent { mail: Uuid::nil() }.envelope(at());
        let inside = Reminded {
            nomination: Uuid::nil(),
            level: "village".into(),
        }
        .envelope(at());
        assert!(w.handler.outside(&outside));
        assert!(!w.handler.outside(&inside));
    }

    #[test]
    #[should_panic(expected = "two handlers for test.reminded")]
    fn one_handler_per_kind() {
        let _ = Handlers::new(())
            .on::<Reminded, _>(reminded)
            .on::<Reminded, _>(reminded);
    }
}
