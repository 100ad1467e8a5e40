//! 最美家庭 nominations, the program: a nomination travels village → township → county review
//! by emailed link, then 公示, then the award.
//!
//! What it guarantees:
//! - every step runs inside the caller's transaction in one shape — lock, decide (the one
//!   transition function in core), record (store), enqueue (outbox) — so a step happens once or
//!   not at all;
//! - every rule is one function that every entry point (API, page, emailed link, message) goes
//!   through: permissions (`access`), eligibility (`submit`), quotas and decisions (`review`);
//! - a household is known only by keyed hashes of its ID number and phone, kept masked, the
//!   phone sealed (`family`);
//! - a household with an incident flag is accepted like any other and held out of everyone's
//!   sight but the county case officers' (`eligibility`, `views`);
//! - a person who may no longer review (disabled, moved) decides nothing, and their open work
//!   passes on (`review::hand_over`, from the `jobs` worker).
//!
//! One module per job: `rules` (campaign rules, bounded), `refusal`, `campaign`, `submit`,
//! `eligibility`, `review`, `publicity`, `objection` (objections during 公示 and their investigation), `board`
//! (the public 公示 pages), `lifecycle` (resubmit, withdraw), `digest` (the daily digest),
//! `jobs` (messages and the worker), `views` (what pages may show), with `access`, `family`, `records` and `settings`
//! serving them.

mod access;
mod board;
mod campaign;
mod deadline;
mod digest;
mod eligibility;
mod family;
mod jobs;
mod lifecycle;
mod objection;
mod outcome;
mod publicity;
mod records;
mod refusal;
mod review;
mod rules;
mod settings;
mod submit;
mod views;

pub use board::{Board, BoardEntry, SUMMARY_CHARS, publicity_board};
pub use campaign::{
    CampaignEdit, CampaignView, NewCampaign, campaign_view, campaigns_overlapping, create_campaign,
    update_campaign,
};
pub use deadline::{REVIEW_DEADLINE, deadline_passed, urge};
pub use digest::{REVIEW_DIGEST, send_digests};
pub use eligibility::{
    CLOSE_REASONS, ELIGIBILITY, EligibilityDecision, decide_eligibility, reveals_eligibility,
};
pub use family::{Family, FamilyRecord, Member, family_of};
pub use jobs::{Nominations, ReviewDeadline, ReviewDigest, worker};
pub use lifecycle::{resubmit, withdraw};
pub use objection::{
    Finding, NewObjection, OBJECTION, OBJECTION_REASON_MAX, OBJECTION_REASON_MIN, ObjectionView,
    investigate, investigation_view, object,
};
pub use publicity::{PUBLICITY_ENDED, publicity_ended};
pub use records::place_of;
pub use refusal::Refusal;
pub use review::{
    Decision, REVIEW, REVIEW_REMINDER, decide, decide_task, hand_over, may_review, reassign_task,
    remind, reviewed_nomination, unit_for,
};
pub use rules::{
    Deadline, DeadlineAction, DeadlineActions, Deadlines, DecideRule, NoReviewer, Quotas, Rules,
};
pub use settings::{Links, links_from, sealer_from};
pub use submit::{Nominator, Submission, submit, submit_in};
pub use views::{
    BadCursor, Cursor, DashboardView, ListPage, ListQuery, ListScope, ListedRow, TownshipCounts,
    Window, campaign_dashboard, campaign_page,
};
pub use views::{
    CampaignSummary, Detail, EligibilityPage, EligibilityView, OpenTask, ReassignChoice,
    ReviewPage, ReviewView, ShownFamily, TaskView, campaign_summary, eligibility_page, is_stalled,
    nomination_detail, open_tasks, reassign_choices, reference_of, review_page, task_view,
    visible_history,
};

#[cfg(test)]
mod tests;
