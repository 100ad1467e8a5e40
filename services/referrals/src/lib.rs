//! 反家暴联动机制, the program: a domestic-violence referral is taken in, its risk graded, the
//! agencies (police, court, civil affairs, justice, health, education, the federation) given
//! tasks with deadlines set by the risk level, and the chain climbed when nobody acknowledges.
//!
//! What it guarantees:
//! - every victim, reporter and incident field, and every free-text note, is sealed at rest
//!   (`details`, with `jinguo_auth::seal`), bound to its row and field; a value that does not
//!   open fails loudly;
//! - nothing sensitive leaves the program except to an authorised reader's page: mails carry
//!   the case number, what is asked and a link (`ladder`, `clocks`); messages and timers carry
//!   ids; the audit log and timeline details carry codes; no type holding data prints it;
//! - one rule decides who reads a case (`access`: the assigned officer, liaisons with a task,
//!   people a ladder step reached, supervisors named on it, break-glass holders), and every
//!   read is audited with reader and reason;
//! - every step runs in the caller's transaction through the one transition function in core
//!   (`jinguo_core::referrals::next`, `next_task`): it happens once or not at all;
//! - ladder steps and legal clocks are timers with their own keys, so each fires once on
//!   either transport and survives restarts; acknowledging stops that task's climbing;
//! - a recorded incident flags the victim's household through both keys; the nominations
//!   program learns nothing else.
//!
//! One module per job: `rules` (the policy files), `refusal`, `intake`, `lifecycle` (assess,
//! follow up, close, reopen), `tasks`, `ladder`, `clocks`, `jobs`, `views`, with `access`,
//! `details`, `records` and `settings` serving them.

mod access;
mod break_glass;
mod clocks;
mod details;
mod intake;
mod jobs;
mod ladder;
mod lifecycle;
mod records;
mod refusal;
mod rules;
mod settings;
mod tasks;
mod views;

pub use access::{READ, may_read, record_refusal};
pub use break_glass::{BREAK_GLASS, break_glass};
pub use clocks::{
    FOLLOW_UP_VISIT, PROTECTION_ORDER_DECISION, PROTECTION_ORDER_EXPIRY, SHELTER_STAY, clock_label,
};
pub use details::{Consent, Incident, Reporter, Victim};
pub use intake::{INTAKE, NewReferral, SelfReferral, intake, self_referral};
pub use jobs::{ActDue, ClockDue, ClockWarn, Escalate, Referrals, worker};
pub use ladder::{ACKNOWLEDGE, asked, escalate};
pub use lifecycle::{Assessment, MANAGE, assess, close, follow_up, reopen};
pub use refusal::Refusal;
pub use rules::{ClockKind, LevelPolicy, Policy, PolicyError};
pub use settings::Settings;
pub use tasks::{Completion, TaskStep, act};
pub use views::{
    CaseLine, CaseView, ClockLine, DEFAULT_REASON, Found, LinkView, READ_REASONS, TaskLine,
    TimelineLine, find, link_view, my_cases, read_case,
};
