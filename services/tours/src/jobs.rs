//! The program's messages as typed jobs, and the worker that handles them. Payloads carry ids.

use jinguo_bus::{HandlerError, Handlers, Job};
use jinguo_store::{BoxFuture, Conn, Store};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::refusal::Refusal;
use crate::rules::Settings;

/// Plan `tour` for the request `request` (a newer request makes this one stale).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanTour {
    pub tour: Uuid,
    pub request: Uuid,
}

impl Job for PlanTour {
    const KIND: &'static str = "tour.plan";
}

/// The working day before a talk (at version `sequence`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReminder {
    pub session: Uuid,
    pub sequence: u32,
}

impl Job for SessionReminder {
    const KIND: &'static str = "tour.remind";
}

/// A talk (at version `sequence`) ended: ask the hosts how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceDue {
    pub session: Uuid,
    pub sequence: u32,
}

impl Job for AttendanceDue {
    const KIND: &'static str = "tour.attendance_due";
}

/// The tours service.
pub struct Tours {
    pub settings: Settings,
}

impl Tours {
    /// Outside any transaction: solving takes seconds, and holding a transaction open that
    /// long would block SQLite's one writer. The result is written in a short transaction
    /// that checks the request is still current, so a redelivery changes nothing.
    fn on_plan<'a>(
        &'a self,
        store: &'a Store,
        job: PlanTour,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            handled(crate::plan::plan_tour(store, &self.settings, job.tour, job.request).await)
        })
    }

    fn on_remind<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: SessionReminder,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(crate::attendance::remind(conn, job.session, job.sequence, now).await)
        })
    }

    fn on_attendance_due<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: AttendanceDue,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(
                crate::attendance::ask_attendance(
                    conn,
                    &self.settings,
                    job.session,
                    job.sequence,
                    now,
                )
                .await,
            )
        })
    }
}

/// A failure that may pass is retried; any other will not pass (a dead letter at once).
fn handled<T>(result: Result<T, Refusal>) -> Result<(), HandlerError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_transient() => Err(HandlerError::transient(jinguo_core::error_chain(&e))),
        Err(e) => Err(HandlerError::permanent(jinguo_core::error_chain(&e))),
    }
}

/// The tours service as a consuming worker, bound to exactly the jobs it handles.
pub fn worker(
    config: &jinguo_config::Config,
) -> Result<jinguo_bus::Worker, jinguo_config::ConfigError> {
    let calendar = std::sync::Arc::new(config.calendar.load()?);
    let service = Tours {
        settings: Settings::from_config(config, calendar)?,
    };
    Ok(Handlers::new(service)
        .on_outside::<PlanTour, _>(Tours::on_plan)
        .on::<SessionReminder, _>(Tours::on_remind)
        .on::<AttendanceDue, _>(Tours::on_attendance_due)
        .worker("tours"))
}
