//! The program's messages, as typed jobs, and the worker that handles them.

use chrono::{DateTime, Utc};
use jinguo_auth::staff::{StaffDisabled, StaffEnabled, StaffRolesChanged};
use jinguo_bus::{HandlerError, Handlers, Job};
use jinguo_core::nominations::{Level, State};
use jinguo_store::{BoxFuture, Conn};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::deadline::{REVIEW_DEADLINE, deadline_passed};
use crate::digest::{REVIEW_DIGEST, send_digests};
use crate::publicity::{PUBLICITY_ENDED, publicity_ended};
use crate::refusal::Refusal;
use crate::review::{REVIEW_REMINDER, hand_over, remind, resume_stalled};
use crate::settings::{Links, links_from, sealer_from};

/// A 公示 of `nomination` ended: its timer fired. `state` is the 公示 it was in when the timer
/// was set (village or final); a nomination that moved on since is left alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicityEnded {
    pub nomination: Uuid,
    pub state: State,
}

impl Job for PublicityEnded {
    const KIND: &'static str = PUBLICITY_ENDED;
}

/// The deadline `due` of `level` is a day away: remind the reviewers with open tasks there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewReminder {
    pub nomination: Uuid,
    pub level: Level,
    pub due: DateTime<Utc>,
}

impl Job for ReviewReminder {
    const KIND: &'static str = REVIEW_REMINDER;
}

/// The deadline `due` of `level` passed: the campaign's rule for a late level applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewDeadline {
    pub nomination: Uuid,
    pub level: Level,
    pub due: DateTime<Utc>,
}

impl Job for ReviewDeadline {
    const KIND: &'static str = REVIEW_DEADLINE;
}

/// A working day's 09:00 came: the cron job `review_digest` fired `tick` (the scheduler's
/// payload, `{"job": name, "tick": tick}`). The daily digest goes out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewDigest {
    pub job: String,
    pub tick: DateTime<Utc>,
}

impl Job for ReviewDigest {
    const KIND: &'static str = REVIEW_DIGEST;
}

/// The nominations service: it ends 公示 periods when their timers fire, reminds reviewers
/// before deadlines and acts when one passes (flag, return, escalate), sends the daily digest,
/// hands a disabled or reassigned reviewer's open tasks on, and moves levels stalled for want of a reviewer once one is appointed, given the role or enabled again.
pub struct Nominations {
    pub links: Links,
}

impl Nominations {
    fn on_publicity_ended<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: PublicityEnded,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(publicity_ended(conn, job.nomination, job.state, &self.links, now).await)
        })
    }

    fn on_review_reminder<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: ReviewReminder,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(remind(conn, job.nomination, job.level, &self.links, now).await)
        })
    }

    fn on_review_deadline<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: ReviewDeadline,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(
                deadline_passed(conn, job.nomination, job.level, job.due, &self.links, now).await,
            )
        })
    }

    /// Exactly once per tick with no machinery of its own: the scheduler claims each tick once
    /// across schedulers (a unique cron_ticks row, in the transaction that enqueues this
    /// message), and the bus records the message in the inbox in the same transaction as the
    /// mails composed here, so a redelivered message finds its inbox row and does nothing.
    fn on_review_digest<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: ReviewDigest,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            tracing::debug!(job = %job.job, tick = %job.tick, "daily digest");
            handled(send_digests(conn, &self.links, jinguo_bus::now()).await)
        })
    }

    fn on_staff_disabled<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: StaffDisabled,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            handled(hand_over(conn, job.person, &self.links, jinguo_bus::now()).await)
        })
    }

    /// Roles given, taken or moved: open work the person may no longer do moves on, and levels
    /// stalled where they now review move again.
    fn on_roles_changed<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: StaffRolesChanged,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let now = jinguo_bus::now();
            handled(hand_over(conn, job.person, &self.links, now).await)?;
            handled(resume_stalled(conn, job.person, &self.links, now).await)
        })
    }

    fn on_staff_enabled<'a>(
        &'a self,
        conn: &'a mut Conn<'_>,
        job: StaffEnabled,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            handled(resume_stalled(conn, job.person, &self.links, jinguo_bus::now()).await)
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

/// The nominations service as a consuming worker, bound to exactly the jobs it handles.
pub fn worker(
    config: &jinguo_config::Config,
) -> Result<jinguo_bus::Worker, jinguo_config::ConfigError> {
    let calendar = std::sync::Arc::new(config.calendar.load()?);
    let sealer = std::sync::Arc::new(sealer_from(config)?);
    let service = Nominations {
        links: links_from(config, calendar, sealer),
    };
    Ok(Handlers::new(service)
        .on::<PublicityEnded, _>(Nominations::on_publicity_ended)
        .on::<ReviewReminder, _>(Nominations::on_review_reminder)
        .on::<ReviewDeadline, _>(Nominations::on_review_deadline)
        .on::<ReviewDigest, _>(Nominations::on_review_digest)
        .on::<StaffDisabled, _>(Nominations::on_staff_disabled)
        .on::<StaffRolesChanged, _>(Nominations::on_roles_changed)
        .on::<StaffEnabled, _>(Nominations::on_staff_enabled)
        .worker("nominations"))
}

#[cfg(test)]
mod tests {
    use jinguo_bus::Envelope;

    use super::*;

    /// What timers and outbox rows of earlier releases hold still decodes.
    #[test]
    fn stored_payloads_decode() {
        let id = Uuid::from_u128(7);
        let at: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        let stored = |kind: &str, payload| Envelope::new(kind, payload, Uuid::from_u128(1), at);
        let ended = stored(
            "nomination.publicity_ended",
            serde_json::json!({ "nomination": id, "state": "village_publicity" }),
        );
        assert_eq!(
            PublicityEnded::decode(&ended).unwrap(),
            PublicityEnded {
                nomination: id,
                state: State::VillagePublicity
            }
        );
        let reminder = stored(
            "nomination.review_reminder",
            serde_json::json!({ "nomination": id, "level": "township", "due": at }),
        );
        assert_eq!(
            ReviewReminder::decode(&reminder).unwrap(),
            ReviewReminder {
                nomination: id,
                level: Level::Township,
                due: at
            }
        );
        let late = stored(
            "nomination.review_deadline",
            serde_json::json!({ "nomination": id, "level": "village", "due": at }),
        );
        assert_eq!(
            ReviewDeadline::decode(&late).unwrap(),
            ReviewDeadline {
                nomination: id,
                level: Level::Village,
                due: at
            }
        );
        let digest = stored(
            "nomination.review_digest",
            serde_json::json!({ "job": "review_digest", "tick": at }),
        );
        assert_eq!(
            ReviewDigest::decode(&digest).unwrap(),
            ReviewDigest {
                job: "review_digest".into(),
                tick: at
            }
        );
        let disabled = stored("staff.disabled", serde_json::json!({ "person": id }));
        assert_eq!(StaffDisabled::decode(&disabled).unwrap().person, id);
        let moved = stored("staff.roles_changed", serde_json::json!({ "person": id }));
        assert_eq!(StaffRolesChanged::decode(&moved).unwrap().person, id);
    }

    #[test]
    fn a_state_that_does_not_exist_is_permanent() {
        let e = Envelope::new(
            PUBLICITY_ENDED,
            serde_json::json!({ "nomination": Uuid::from_u128(7), "state": "limbo" }),
            Uuid::from_u128(1),
            Utc::now(),
        );
        assert!(PublicityEnded::decode(&e).unwrap_err().permanent);
    }
}
