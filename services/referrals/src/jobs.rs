//! The program's messages, as typed jobs, and the worker that handles them: ladder steps and
//! legal clocks, all fired by timers. Payloads carry ids only.

use jinguo_bus::{HandlerError, Handlers, Job};
use jinguo_store::{BoxFuture, Conn};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::refusal::Refusal;
use crate::settings::Settings;

/// Step `step` of task `task`'s ladder is due (nobody acknowledged in time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalate {
    pub task: Uuid,
    pub step: usize,
}

impl Job for Escalate {
    const KIND: &'static str = "referral.escalate";
}

/// An agency task's time to act ran out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActDue {
    pub task: Uuid,
}

impl Job for ActDue {
    const KIND: &'static str = "referral.act_due";
}

/// A legal clock's warning time came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockWarn {
    pub clock: Uuid,
}

impl Job for ClockWarn {
    const KIND: &'static str = "referral.clock_warn";
}

/// A legal clock's deadline came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockDue {
    pub clock: Uuid,
}

impl Job for ClockDue {
    const KIND: &'static str = "referral.clock_due";
}

/// The referrals service.
pub struct Referrals {
    pub settings: Settings,
}

impl Referrals {
    fn on_escalate<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: Escalate,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(crate::ladder::escalate(conn, &self.settings, job.task, job.step, now).await)
        })
    }

    fn on_act_due<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: ActDue,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(crate::tasks::act_due(conn, &self.settings, job.task, now).await)
        })
    }

    fn on_clock_warn<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: ClockWarn,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(crate::clocks::warn(conn, &self.settings, job.clock, now).await)
        })
    }

    fn on_clock_due<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: ClockDue,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(crate::clocks::due(conn, &self.settings, job.clock, now).await)
        })
    }
}

/// A failure that may pass is retried; any other will not pass (a dead letter at once). The
/// error text names what failed, never a case's data (refusals carry none).
fn handled<T>(result: Result<T, Refusal>) -> Result<(), HandlerError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_transient() => Err(HandlerError::transient(jinguo_core::error_chain(&e))),
        Err(e) => Err(HandlerError::permanent(jinguo_core::error_chain(&e))),
    }
}

/// The referrals service as a consuming worker, bound to exactly the jobs it handles.
pub fn worker(
    config: &jinguo_config::Config,
) -> Result<jinguo_bus::Worker, jinguo_config::ConfigError> {
    let calendar = std::sync::Arc::new(config.calendar.load()?);
    let sealer = std::sync::Arc::new(jinguo_auth::seal::sealer_from(config)?);
    let service = Referrals {
        settings: Settings::from_config(config, calendar, sealer)?,
    };
    Ok(Handlers::new(service)
        .on::<Escalate, _>(Referrals::on_escalate)
        .on::<ActDue, _>(Referrals::on_act_due)
        .on::<ClockWarn, _>(Referrals::on_clock_warn)
        .on::<ClockDue, _>(Referrals::on_clock_due)
        .worker("referrals"))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use jinguo_bus::Envelope;

    use super::*;

    /// What timers hold decodes, and carries ids only.
    #[test]
    fn stored_payloads_decode_and_hold_ids_only() {
        let id = Uuid::from_u128(7);
        let at: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        let e = Escalate { task: id, step: 2 }.envelope(at);
        assert_eq!(e.kind, "referral.escalate");
        assert_eq!(
            e.payload,
            serde_json::json!({ "task": id, "step": 2 }),
            "ids and numbers only"
        );
        let stored = Envelope::new(
            "referral.clock_due",
            serde_json::json!({ "clock": id }),
            Uuid::from_u128(1),
            at,
        );
        assert_eq!(ClockDue::decode(&stored).unwrap().clock, id);
    }
}
